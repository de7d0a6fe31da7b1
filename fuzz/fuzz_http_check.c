/* libFuzzer driver for pawld's request-head checks (pawl/http_check.h).
 * The input is split into lines: the first is "METHOD TARGET", each other
 * "name:value" (split at the first ':'; values may hold any byte but LF).
 * A refusal always says why; an accepted head never holds a control byte
 * in a value, two framing headers, a framing header that is not exactly
 * decimal or "chunked", or a target that is not origin-form. */
#include <stdlib.h>
#include <string.h>

#include "pawl/http_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 128

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is(pawl_str s, const char *name)
{
    size_t n = strlen(name);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != name[i])
            return 0;
    return 1;
}

static void check_accepted(const struct pawl_http_head *h, const struct pawl_http_verdict *v)
{
    int cl = 0, te = 0;
    if (h->target.n == 0 || h->target.p[0] != '/')
        abort();
    for (size_t i = 0; i < h->nheaders; i++) {
        pawl_str val = h->headers[i].value;
        for (size_t j = 0; j < val.n; j++)
            if (val.p[j] == '\0' || val.p[j] == '\r' || val.p[j] == '\n')
                abort();
        cl += is(h->headers[i].name, "content-length");
        te += is(h->headers[i].name, "transfer-encoding");
        if (is(h->headers[i].name, "transfer-encoding") && !is(val, "chunked"))
            abort();
    }
    if (cl > 1 || te > 1 || (cl && te) ||
        (v->framing == PAWL_HTTP_CHUNKED) != (te == 1) ||
        (v->framing == PAWL_HTTP_LENGTH) != (cl == 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pawl_http_header hs[MAXH];
    struct pawl_http_head h = {{0, 0}, {0, 0}, 1, hs, 0};
    const char *p = (const char *)data, *end = p + size;
    const char *nl = memchr(p, '\n', size);
    const char *line_end = nl ? nl : end;
    const char *sp = memchr(p, ' ', (size_t)(line_end - p));
    if (size > 0)
        h.version_minor = (data[0] & 1) ? 1 : 0;
    h.method.p = p;
    h.method.n = sp ? (size_t)(sp - p) : (size_t)(line_end - p);
    h.target.p = sp ? sp + 1 : line_end;
    h.target.n = (size_t)(line_end - h.target.p);
    for (p = nl ? nl + 1 : end; p < end && h.nheaders < MAXH;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        struct pawl_http_header *hd = &hs[h.nheaders++];
        hd->name.p = p;
        hd->name.n = colon ? (size_t)(colon - p) : (size_t)(line_end - p);
        hd->value.p = colon ? colon + 1 : line_end;
        hd->value.n = (size_t)(line_end - hd->value.p);
        p = nl ? nl + 1 : end;
    }
    struct pawl_http_verdict v;
    pawl_http_check(&h, NULL, &v);
    if (v.reason == PAWL_R_ALLOWED)
        check_accepted(&h, &v);
    else if (v.detail[0] == '\0' ||
             (v.reason != PAWL_R_BAD_REQUEST && v.reason != PAWL_R_HEADERS_TOO_LARGE &&
              v.reason != PAWL_R_BODY_TOO_LARGE))
        abort();
    return 0;
}
