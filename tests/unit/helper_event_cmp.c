/* see helper_event_cmp.h */
#include "helper_event_cmp.h"

#include <string.h>

static bool same(pawl_str a, pawl_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

const char *th_event_diff(const struct pawl_api_event *a, const struct pawl_api_event *b)
{
    if (a->time_ms != b->time_ms)
        return "time";
    if (a->status != b->status)
        return "status";
    if (a->resp_len != b->resp_len)
        return "resp_len";
    if (a->nroles != b->nroles)
        return "nroles";
    const struct {
        const char *name;
        pawl_str x, y;
    } s[] = {{"method", a->method, b->method}, {"path", a->path, b->path},
             {"principal", a->principal, b->principal}, {"src_ip", a->src_ip, b->src_ip},
             {"country", a->country, b->country}, {"session", a->session, b->session},
             {"user_type", a->user_type, b->user_type}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (!same(s[i].x, s[i].y))
            return s[i].name;
    for (unsigned i = 0; i < a->nroles; i++)
        if (!same(a->roles[i], b->roles[i]))
            return "roles";
    return NULL;
}
