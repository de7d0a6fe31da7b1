/* see pawl/event.h: pawl_event_format, the API Activity line of a decision
 * written straight into a buffer, for front ends that decide per request
 * (pawld) and cannot afford a JSON tree per event. The content is that of
 * pawl_event_decision over the equivalent base object; test_engine checks
 * the two agree field for field. */
#include "pawl/event.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *p;
    size_t len, cap;
    bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->len + n >= o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void lit(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void fmt(struct out *o, const char *f, ...) PAWL_PRINTF(2, 3);
static void fmt(struct out *o, const char *f, ...)
{
    char b[64];
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(b, sizeof b, f, ap);
    va_end(ap);
    put(o, b, n > 0 && (size_t)n < sizeof b ? (size_t)n : 0);
}

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

/* A JSON string, ASCII only (as json_dumps with JSON_ENSURE_ASCII writes it). */
static void str(struct out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    lit(o, "\"");
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            put(o, s + i, run - i);
            i = run;
            continue;
        }
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc) {
            lit(o, esc);
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
            put(o, u, 12);
        } else {
            char u[7] = {'\\', 'u', hex[cp >> 12], hex[cp >> 8 & 15], hex[cp >> 4 & 15], hex[cp & 15]};
            put(o, u, 6);
        }
    }
    lit(o, "\"");
}

static void cstr(struct out *o, const char *s)
{
    str(o, s, strlen(s));
}

static void actor(struct out *o, const struct pawl_decision *dec)
{
    const struct pawl_principal *p = &dec->principal;
    bool admin = false;
    for (unsigned i = 0; i < p->nroles; i++)
        admin |= strcmp(p->roles[i], "admin") == 0;
    lit(o, ",\"actor\":{\"user\":{\"uid\":");
    cstr(o, p->uid);
    lit(o, ",\"type\":");
    cstr(o, admin ? "Admin" : p->via == PAWL_AUTH_CERT ? "Service" : "User");
    lit(o, ",\"groups\":[");
    for (unsigned i = 0; i < p->nroles; i++) {
        lit(o, i ? ",{\"name\":" : "{\"name\":");
        cstr(o, p->roles[i]);
        lit(o, "}");
    }
    lit(o, "]");
    if (p->org[0]) {
        lit(o, ",\"org\":{\"uid\":");
        cstr(o, p->org);
        lit(o, "}");
    }
    lit(o, "}");
    if (p->session[0]) {
        lit(o, ",\"session\":{\"uid\":");
        cstr(o, p->session);
        lit(o, "}");
    }
    lit(o, "}");
}

static void request(struct out *o, const struct pawl_event_req *rq)
{
    lit(o, ",\"src_endpoint\":{\"ip\":");
    cstr(o, rq->src_ip ? rq->src_ip : "");
    if (rq->src_port > 0) /* unknown behind an ext-authz gateway */
        fmt(o, ",\"port\":%d", rq->src_port);
    lit(o, "}");
    lit(o, ",\"http_request\":{\"http_method\":");
    str(o, rq->method.p, rq->method.n);
    lit(o, ",\"url\":{\"path\":");
    str(o, rq->path.p, rq->path.n);
    lit(o, "}");
    if (rq->user_agent.n > 0) {
        lit(o, ",\"user_agent\":");
        str(o, rq->user_agent.p, rq->user_agent.n);
    }
    lit(o, "}");
    if (rq->svc_name) {
        lit(o, ",\"dst_endpoint\":{\"svc_name\":");
        cstr(o, rq->svc_name);
        lit(o, "}");
    }
}

size_t pawl_event_format(const struct pawl_event_req *rq, const struct pawl_decision *dec,
                         char *buf, size_t cap)
{
    struct out o = {buf, 0, cap, false};
    int act = pawl__activity_id(rq->method);
    bool allowed = dec->reason == PAWL_R_ALLOWED;
    char why[sizeof dec->detail + 64];
    fmt(&o, "{\"class_uid\":6003,\"category_uid\":6,\"time\":%lld", (long long)rq->time_ms);
    lit(&o, ",\"metadata\":{\"version\":\"1.3.0\",\"product\":{\"name\":\"pawl\"}}");
    request(&o, rq);
    fmt(&o, ",\"activity_id\":%d,\"type_uid\":%d,\"severity_id\":1", act, 600300 + act);
    fmt(&o, ",\"http_response\":{\"code\":%d},\"status_id\":%d,\"action_id\":%d", dec->status,
        dec->status < 400 ? 1 : 2, allowed ? 1 : 2);
    lit(&o, ",\"disposition\":");
    cstr(&o, pawl_reason_name(dec->reason));
    lit(&o, ",\"status_detail\":");
    cstr(&o, pawl_decision_why(dec, why, sizeof why));
    if (dec->authenticated)
        actor(&o, dec);
    else
        lit(&o, ",\"actor\":{}"); /* as pawl_event_decision leaves it: no claimed identity */
    if (dec->route) {
        lit(&o, ",\"api\":{\"operation\":");
        char op[PAWL_PATH_MAX + 32];
        int n = snprintf(op, sizeof op, "%.*s %s", (int)rq->method.n, rq->method.p, dec->route->path);
        str(&o, op, n > 0 && (size_t)n < sizeof op ? (size_t)n : strlen(op));
        lit(&o, "}");
    }
    if (dec->vin[0]) {
        lit(&o, ",\"resources\":[{\"type\":\"vehicle\",\"uid\":");
        cstr(&o, dec->vin);
        lit(&o, "}]");
    }
    lit(&o, "}");
    if (o.full)
        return 0;
    buf[o.len] = '\0';
    return o.len;
}
