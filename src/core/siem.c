/* see pawl/siem.h */
#include "pawl/siem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *p;
    size_t n, cap;
    bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->n + n >= o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* header: escape \ and |; extension: escape \ and =, line breaks as \n */
static void esc(struct out *o, const char *s, bool header)
{
    for (; *s; s++) {
        if (*s == '\\' || (header ? *s == '|' : *s == '='))
            put(o, "\\", 1);
        if (*s == '\r' || *s == '\n') {
            if (!header)
                put(o, "\\n", 2);
            else
                put(o, " ", 1);
            continue;
        }
        put(o, s, 1);
    }
}

static void ext(struct out *o, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    puts_(o, " ");
    puts_(o, key);
    puts_(o, "=");
    esc(o, value, false);
}

size_t pawl_cef(const struct pawl_finding *f, const char *uid, char *out, size_t cap)
{
    static const int sev[7] = {0, 2, 4, 6, 8, 9, 10};
    struct out o = {out, 0, cap, cap == 0};
    char num[32], vinbuf[PAWL_FINDING_MAX_VINS * (PAWL_VIN_LEN + 1) + 1] = "";
    struct out vins = {vinbuf, 0, sizeof vinbuf, false};
    if (cap > 0)
        out[0] = '\0';
    puts_(&o, "CEF:0|pawl|pawl|1|");
    esc(&o, f->detector, true);
    puts_(&o, "|");
    esc(&o, f->title, true);
    snprintf(num, sizeof num, "|%d|", sev[f->severity >= 1 && f->severity <= 6 ? f->severity : 1]);
    puts_(&o, num);
    snprintf(num, sizeof num, "rt=%lld", (long long)f->time_ms);
    puts_(&o, num);
    ext(&o, "suser", f->principal);
    ext(&o, "src", f->src_ip);
    for (unsigned i = 0; i < f->nvins && i < PAWL_FINDING_MAX_VINS; i++) {
        if (i > 0)
            puts_(&vins, ",");
        puts_(&vins, f->vins[i]);
    }
    if (vinbuf[0]) {
        puts_(&o, " cs1Label=vehicles");
        ext(&o, "cs1", vinbuf);
    }
    puts_(&o, " cs2Label=owasp");
    ext(&o, "cs2", f->owasp_uid);
    snprintf(num, sizeof num, " cn1Label=related cn1=%llu", (unsigned long long)f->related);
    puts_(&o, num);
    ext(&o, "externalId", uid);
    return o.full ? 0 : o.n;
}

/* printable ASCII without spaces, at most max bytes; "-" when empty */
static void token(struct out *o, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && s[n] && n < max; n++) {
        char c = s[n] > 32 && s[n] < 127 ? s[n] : '?';
        put(o, &c, 1);
    }
    if (n == 0)
        put(o, "-", 1);
}

/* days since 1970-01-01 -> civil date */
static void civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

size_t pawl_syslog_frame(const struct pawl_finding *f, const char *host, const char *msgid,
                         const char *msg, size_t msglen, char *out, size_t cap)
{
    char head[512], stamp[40];
    struct out h = {head, 0, sizeof head, false};
    int64_t ms = f->time_ms > 0 ? f->time_ms : 0, days = ms / 86400000;
    int64_t rest = ms % 86400000;
    int y;
    unsigned mo, d;
    civil(days, &y, &mo, &d);
    int sev = 7 - (f->severity >= 1 && f->severity <= 6 ? f->severity : 1); /* OCSF 6 -> 1 alert */
    snprintf(stamp, sizeof stamp, "<%d>1 %04d-%02u-%02uT%02d:%02d:%02d.%03dZ ", 10 * 8 + sev, y, mo, d,
             (int)(rest / 3600000), (int)(rest / 60000 % 60), (int)(rest / 1000 % 60), (int)(rest % 1000));
    puts_(&h, stamp);
    token(&h, host, 255);
    puts_(&h, " pawl - ");
    token(&h, msgid, 32);
    puts_(&h, " - ");
    if (h.full)
        return 0;
    int k = snprintf(out, cap, "%zu ", h.n + msglen);
    if (k < 0 || (size_t)k + h.n + msglen >= cap)
        return 0;
    memcpy(out + k, head, h.n);
    memcpy(out + k + h.n, msg, msglen);
    out[(size_t)k + h.n + msglen] = '\0';
    return (size_t)k + h.n + msglen;
}
