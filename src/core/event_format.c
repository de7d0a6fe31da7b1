/* see pawl/event.h: pawl_event_format, the API Activity line of a decision
 * written straight into a buffer, for front ends that decide per request
 * (pawld) and cannot afford a JSON tree per event. The content is that of
 * pawl_event_decision over the equivalent base object; test_engine checks
 * the two agree field for field. */
#include "pawl/event.h"
#include "util.h"

#include <string.h>

/* One UTF-8 sequence at s (n bytes left): its code point and length, or
 * U+FFFD and 1 for a byte that does not start a valid, shortest sequence. */
static unsigned utf8(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0], need = c >= 0xf0 && c < 0xf5 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
    unsigned cp = need == 3 ? c & 7 : need == 2 ? c & 15 : c & 31;
    *len = 1;
    if (need == 0 || c >= 0xf5 || n <= need)
        return 0xfffd;
    for (unsigned i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0xfffd;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0xfffd;
    *len = need + 1;
    return cp;
}

/* see util.h */
void pawl__json_esc(struct pawl__out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) { /* plain bytes: as many as fit */
            size_t room = o->full || o->cap <= o->len ? 0 : o->cap - o->len - 1;
            if (run - i > room) {
                pawl__out_put(o, s + i, room);
                o->full = true;
                return;
            }
            pawl__out_put(o, s + i, run - i);
            i = run;
            continue;
        }
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc) {
            pawl__out_cstr(o, esc);
            i++;
            continue;
        }
        size_t len = 1;
        unsigned cp = c < 0x80 ? c : utf8((const unsigned char *)s + i, n - i, &len);
        i += len;
        if (cp >= 0x10000) { /* a surrogate pair */
            cp -= 0x10000;
            unsigned hi = 0xd800 + (cp >> 10), lo = 0xdc00 + (cp & 0x3ff);
            char u[13] = {'\\', 'u', hex[hi >> 12], hex[hi >> 8 & 15], hex[hi >> 4 & 15], hex[hi & 15],
                          '\\', 'u', hex[lo >> 12], hex[lo >> 8 & 15], hex[lo >> 4 & 15], hex[lo & 15]};
            pawl__out_put(o, u, 12);
        } else {
            char u[7] = {'\\', 'u', hex[cp >> 12], hex[cp >> 8 & 15], hex[cp >> 4 & 15], hex[cp & 15]};
            pawl__out_put(o, u, 6);
        }
    }
}

static void str(struct pawl__out *o, const char *s, size_t n)
{
    pawl__out_put(o, "\"", 1);
    pawl__json_esc(o, s, n);
    pawl__out_put(o, "\"", 1);
}

static void cstr(struct pawl__out *o, const char *s)
{
    str(o, s, strlen(s));
}

static void actor(struct pawl__out *o, const struct pawl_decision *dec)
{
    const struct pawl_principal *p = &dec->principal;
    bool admin = false;
    for (unsigned i = 0; i < p->nroles; i++)
        admin |= strcmp(p->roles[i], "admin") == 0;
    pawl__out_cstr(o, ",\"actor\":{\"user\":{\"uid\":");
    cstr(o, p->uid);
    pawl__out_cstr(o, ",\"type\":");
    cstr(o, admin ? "Admin" : p->via == PAWL_AUTH_CERT ? "Service" : "User");
    pawl__out_cstr(o, ",\"groups\":[");
    for (unsigned i = 0; i < p->nroles; i++) {
        pawl__out_cstr(o, i ? ",{\"name\":" : "{\"name\":");
        cstr(o, p->roles[i]);
        pawl__out_cstr(o, "}");
    }
    pawl__out_cstr(o, "]");
    if (p->org[0]) {
        pawl__out_cstr(o, ",\"org\":{\"uid\":");
        cstr(o, p->org);
        pawl__out_cstr(o, "}");
    }
    pawl__out_cstr(o, "}");
    if (p->session[0]) {
        pawl__out_cstr(o, ",\"session\":{\"uid\":");
        cstr(o, p->session);
        pawl__out_cstr(o, "}");
    }
    pawl__out_cstr(o, "}");
}

static void request(struct pawl__out *o, const struct pawl_event_req *rq)
{
    pawl__out_cstr(o, ",\"src_endpoint\":{\"ip\":");
    cstr(o, rq->src_ip ? rq->src_ip : "");
    if (rq->src_port > 0) { /* unknown behind an ext-authz gateway */
        pawl__out_cstr(o, ",\"port\":");
        pawl__out_i64(o, rq->src_port);
    }
    pawl__out_cstr(o, "}");
    pawl__out_cstr(o, ",\"http_request\":{\"http_method\":");
    str(o, rq->method.p, rq->method.n);
    pawl__out_cstr(o, ",\"url\":{\"path\":");
    str(o, rq->path.p, rq->path.n);
    pawl__out_cstr(o, "}");
    if (rq->user_agent.n > 0) {
        pawl__out_cstr(o, ",\"user_agent\":");
        str(o, rq->user_agent.p, rq->user_agent.n);
    }
    pawl__out_cstr(o, "}");
    if (rq->svc_name) {
        pawl__out_cstr(o, ",\"dst_endpoint\":{\"svc_name\":");
        cstr(o, rq->svc_name);
        pawl__out_cstr(o, "}");
    }
}

/* "METHOD /route/path", cut as snprintf into the same buffer would cut it
 * (pawl_event_decision does). */
static void operation(struct pawl__out *o, pawl_str method, const char *path)
{
    char op[PAWL_PATH_MAX + 32];
    size_t n = method.n < sizeof op - 1 ? method.n : sizeof op - 1, pl = strlen(path);
    memcpy(op, method.p, n);
    if (n < sizeof op - 1)
        op[n++] = ' ';
    pl = pl < sizeof op - 1 - n ? pl : sizeof op - 1 - n;
    memcpy(op + n, path, pl);
    str(o, op, n + pl);
}

size_t pawl_event_format(const struct pawl_event_req *rq, const struct pawl_decision *dec,
                         char *buf, size_t cap)
{
    struct pawl__out o = {buf, 0, cap, false};
    int act = pawl__activity_id(rq->method);
    bool allowed = dec->reason == PAWL_R_ALLOWED;
    char why[sizeof dec->detail + 64];
    pawl__out_cstr(&o, "{\"class_uid\":6003,\"category_uid\":6,\"time\":");
    pawl__out_i64(&o, rq->time_ms);
    pawl__out_cstr(&o, ",\"metadata\":{\"version\":\"1.3.0\",\"product\":{\"name\":\"pawl\"}}");
    request(&o, rq);
    pawl__out_cstr(&o, ",\"activity_id\":");
    pawl__out_i64(&o, act);
    pawl__out_cstr(&o, ",\"type_uid\":");
    pawl__out_i64(&o, 600300 + act);
    pawl__out_cstr(&o, ",\"severity_id\":1,\"http_response\":{\"code\":");
    pawl__out_i64(&o, dec->status);
    pawl__out_cstr(&o, dec->status < 400 ? "},\"status_id\":1" : "},\"status_id\":2");
    pawl__out_cstr(&o, allowed ? ",\"action_id\":1" : ",\"action_id\":2");
    pawl__out_cstr(&o, ",\"disposition\":");
    cstr(&o, pawl_reason_name(dec->reason));
    pawl__out_cstr(&o, ",\"status_detail\":");
    cstr(&o, pawl_decision_why(dec, why, sizeof why));
    if (dec->authenticated)
        actor(&o, dec);
    else
        pawl__out_cstr(&o, ",\"actor\":{}"); /* as pawl_event_decision leaves it: no claimed identity */
    if (dec->route) {
        pawl__out_cstr(&o, ",\"api\":{\"operation\":");
        operation(&o, rq->method, dec->route->path);
        pawl__out_cstr(&o, "}");
    }
    if (dec->vin[0]) {
        pawl__out_cstr(&o, ",\"resources\":[{\"type\":\"vehicle\",\"uid\":");
        cstr(&o, dec->vin);
        pawl__out_cstr(&o, "}]");
    }
    pawl__out_cstr(&o, "}");
    return pawl__out_nul(&o) ? o.len : 0;
}
