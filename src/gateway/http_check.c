/* see pawl/http_check.h */
#include "pawl/http_check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static void refuse(struct pawl_http_verdict *v, enum pawl_reason r, const char *fmt, ...)
    PAWL_PRINTF(3, 4);
static void refuse(struct pawl_http_verdict *v, enum pawl_reason r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
    v->reason = r;
}

/* RFC 9110 tchar, by a table over ASCII (the check runs on every header
 * name of every request). */
static bool is_tchar(unsigned char c)
{
    static const unsigned char tab[128] = {
        /* 0x00-0x1f: controls */
        ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
        ['-'] = 1, ['.'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
        ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
        ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
        ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
        ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['^'] = 1, ['_'] = 1,
        ['`'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
        ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
        ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
        ['x'] = 1, ['y'] = 1, ['z'] = 1, ['|'] = 1, ['~'] = 1,
    };
    return c < 128 && tab[c];
}

static bool is_token(pawl_str s)
{
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (!is_tchar((unsigned char)s.p[i]))
            return false;
    return true;
}

pawl_str pawl_http_bearer(pawl_str auth)
{
    pawl_str none = {"", 0}, scheme = {auth.p, 7};
    if (auth.n <= 7 || !pawl__str_ieq_cstr(scheme, "bearer "))
        return none;
    pawl_str t = {auth.p + 7, auth.n - 7};
    while (t.n > 0 && t.p[0] == ' ') {
        t.p++;
        t.n--;
    }
    return t;
}

bool pawl_http_method_ok(pawl_str m)
{
    return is_token(m) && m.n <= 16;
}

/* field-value: visible bytes, SP, HTAB and obs-text; no CTL. Leading
 * whitespace is how obs-fold shows through a parser that keeps it. The
 * first bad byte is found eight bytes at a time, then told apart. */
static const char *value_problem(pawl_str v)
{
    if (v.n > 0 && (v.p[0] == ' ' || v.p[0] == '\t'))
        return "starts with whitespace (obs-fold)";
    const unsigned char *p = (const unsigned char *)v.p;
    size_t i = pawl__ctl_scan(v.p, v.n, true);
    while (i < v.n && p[i] == '\t') /* the one control byte a value may hold */
        i += 1 + pawl__ctl_scan(v.p + i + 1, v.n - i - 1, true);
    if (i == v.n)
        return NULL;
    if (p[i] == '\0')
        return "holds a NUL byte";
    if (p[i] == '\r' || p[i] == '\n')
        return "holds CR or LF (obs-fold or injection)";
    return "holds a control byte";
}

/* origin-form: "/" then visible ASCII, no '#' (a fragment never travels). */
static const char *target_problem(pawl_str t)
{
    if (t.n == 0)
        return "is empty";
    if (t.p[0] != '/')
        return t.n == 1 && t.p[0] == '*' ? "is '*' (asterisk-form)"
               : memchr(t.p, ':', t.n) != NULL
                   ? "is not origin-form (absolute-form or authority-form)"
                   : "does not start with '/'";
    for (size_t i = 0; i < t.n; i++) {
        unsigned char c = (unsigned char)t.p[i];
        if (c <= 0x20 || c >= 0x7f)
            return "holds a control, space or non-ASCII byte";
        if (c == '#')
            return "holds a fragment ('#')";
    }
    return NULL;
}

/* 1*DIGIT, no sign, no spaces, no list; at most 18 digits. */
static bool parse_length(pawl_str v, uint64_t *out)
{
    uint64_t n = 0;
    if (v.n == 0 || v.n > 18)
        return false;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = n;
    return true;
}

struct seen {
    int content_length, transfer_encoding, host, authorization;
};

static bool cgi_eq(const char *a, const char *b, size_t n);

/* Headers with which a client asks the application for another method or
 * path than the request line's (Express's method-override, Symfony's and
 * IIS's URL rewriting): pawld decides on the request line, so an upstream
 * that honoured one would act on what was not decided on. Compared as CGI
 * does ('_' for '-'). */
static bool overrides(pawl_str name)
{
    static const char *const names[] = {"x-http-method-override", "x-http-method",
                                        "x-method-override", "x-original-url", "x-rewrite-url"};
    if (name.n < 13 || (name.p[0] | 0x20) != 'x')
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name.n == strlen(names[i]) && cgi_eq(name.p, names[i], name.n))
            return true;
    return false;
}

static bool check_framing_header(const struct pawl_http_header *hd, const struct pawl_http_limits *lim,
                                 struct seen *s, struct pawl_http_verdict *out)
{
    if (pawl__str_ieq_cstr(hd->name, "content-length")) {
        if (++s->content_length > 1) {
            refuse(out, PAWL_R_BAD_REQUEST, "Content-Length appears more than once");
            return false;
        }
        if (!parse_length(hd->value, &out->content_length)) {
            refuse(out, PAWL_R_BAD_REQUEST, "Content-Length '%.*s' is not a decimal number",
                   (int)(hd->value.n > 32 ? 32 : hd->value.n), hd->value.p);
            return false;
        }
        if (out->content_length > lim->max_body_bytes) {
            refuse(out, PAWL_R_BODY_TOO_LARGE, "Content-Length %llu is over the limit of %llu",
                   (unsigned long long)out->content_length,
                   (unsigned long long)lim->max_body_bytes);
            return false;
        }
    } else if (pawl__str_ieq_cstr(hd->name, "transfer-encoding")) {
        if (++s->transfer_encoding > 1 || !pawl__str_ieq_cstr(hd->value, "chunked")) {
            refuse(out, PAWL_R_BAD_REQUEST,
                   "Transfer-Encoding must be one 'chunked' header, got '%.*s'",
                   (int)(hd->value.n > 32 ? 32 : hd->value.n), hd->value.p);
            return false;
        }
    } else if (pawl__str_ieq_cstr(hd->name, "upgrade")) {
        /* h2c and WebSocket upgrades would let a client talk past the checks */
        refuse(out, PAWL_R_BAD_REQUEST, "protocol upgrades (Upgrade: %.*s) are not supported",
               (int)(hd->value.n > 32 ? 32 : hd->value.n), hd->value.p);
        return false;
    } else if (overrides(hd->name)) {
        refuse(out, PAWL_R_BAD_REQUEST, "%.*s would have the upstream act on another method or path "
               "than the one decided on", (int)hd->name.n, hd->name.p);
        return false;
    } else if (pawl__str_ieq_cstr(hd->name, "host")) {
        if (++s->host > 1) {
            refuse(out, PAWL_R_BAD_REQUEST, "Host appears more than once");
            return false;
        }
        out->host = hd->value;
    } else if (pawl__str_ieq_cstr(hd->name, "authorization")) {
        if (++s->authorization > 1) {
            refuse(out, PAWL_R_BAD_REQUEST, "Authorization appears more than once");
            return false;
        }
        out->authorization = hd->value;
    }
    return true;
}

static bool check_headers(const struct pawl_http_head *h, const struct pawl_http_limits *lim,
                          struct seen *s, struct pawl_http_verdict *out)
{
    size_t total = h->target.n;
    if (h->nheaders > lim->max_headers) {
        refuse(out, PAWL_R_HEADERS_TOO_LARGE, "%zu headers, the limit is %zu", h->nheaders,
               lim->max_headers);
        return false;
    }
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct pawl_http_header *hd = &h->headers[i];
        const char *why;
        int nl = (int)(hd->name.n > 40 ? 40 : hd->name.n);
        if (!is_token(hd->name)) {
            refuse(out, PAWL_R_BAD_REQUEST, "header %zu: name '%.*s' is not a token", i + 1, nl,
                   hd->name.p);
            return false;
        }
        if (hd->name.n + hd->value.n > lim->max_header_bytes) {
            refuse(out, PAWL_R_HEADERS_TOO_LARGE, "header %.*s: %zu bytes, the limit is %zu", nl,
                   hd->name.p, hd->name.n + hd->value.n, lim->max_header_bytes);
            return false;
        }
        total += hd->name.n + hd->value.n;
        if (total > lim->max_head_bytes) {
            refuse(out, PAWL_R_HEADERS_TOO_LARGE, "request head over %zu bytes",
                   lim->max_head_bytes);
            return false;
        }
        if ((why = value_problem(hd->value)) != NULL) {
            refuse(out, PAWL_R_BAD_REQUEST, "header %.*s: value %s", nl, hd->name.p, why);
            return false;
        }
        if (!check_framing_header(hd, lim, s, out))
            return false;
    }
    return true;
}

void pawl_http_check(const struct pawl_http_head *h, const struct pawl_http_limits *lim,
                     struct pawl_http_verdict *out)
{
    static const struct pawl_http_limits def = PAWL_HTTP_LIMITS_DEFAULT;
    struct seen s = {0, 0, 0, 0};
    const char *why;
    memset(out, 0, sizeof *out);
    out->reason = PAWL_R_ALLOWED;
    if (lim == NULL)
        lim = &def;
    if (h->version_minor != 0 && h->version_minor != 1) {
        refuse(out, PAWL_R_BAD_REQUEST, "HTTP/1.%d is not HTTP/1.0 or HTTP/1.1", h->version_minor);
        return;
    }
    if (!pawl_http_method_ok(h->method)) {
        refuse(out, PAWL_R_BAD_REQUEST, "the method is not a token of at most 16 bytes");
        return;
    }
    if ((why = target_problem(h->target)) != NULL) {
        refuse(out, PAWL_R_BAD_REQUEST, "the request target %s", why);
        return;
    }
    if (h->target.n > lim->max_head_bytes) {
        refuse(out, PAWL_R_HEADERS_TOO_LARGE, "the request target is over %zu bytes",
               lim->max_head_bytes);
        return;
    }
    if (!check_headers(h, lim, &s, out))
        return;
    if (s.content_length > 0 && s.transfer_encoding > 0) {
        refuse(out, PAWL_R_BAD_REQUEST, "both Content-Length and Transfer-Encoding");
        return;
    }
    if (s.transfer_encoding > 0 && h->version_minor == 0) {
        refuse(out, PAWL_R_BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request");
        return;
    }
    if (s.host == 0 && h->version_minor == 1) {
        refuse(out, PAWL_R_BAD_REQUEST, "an HTTP/1.1 request without Host");
        return;
    }
    out->framing = s.transfer_encoding ? PAWL_HTTP_CHUNKED
                   : s.content_length  ? PAWL_HTTP_LENGTH
                                       : PAWL_HTTP_NO_BODY;
}

/* Header names compared as CGI-style upstreams see them: case-insensitive,
 * and '_' the same as '-' (X_Pawl_Principal becomes HTTP_X_PAWL_PRINCIPAL,
 * just as X-Pawl-Principal does). n bytes of a against b. */
static bool cgi_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = a[i] == '_' ? '-' : tolower((unsigned char)a[i]);
        int y = b[i] == '_' ? '-' : tolower((unsigned char)b[i]);
        if (x != y)
            return false;
    }
    return true;
}

bool pawl_http_name_eq(pawl_str a, pawl_str b)
{
    return a.n == b.n && cgi_eq(a.p, b.p, a.n);
}

bool pawl_http_is_reserved(pawl_str name, pawl_str identity_header)
{
    static const char *const prefix[] = {"x-pawl-", "x-forwarded-"};
    static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "te",
                                      "trailer", "upgrade", "transfer-encoding", "forwarded",
                                      "x-real-ip", "content-length", "expect"};
    if (identity_header.n > 0 && name.n == identity_header.n &&
        cgi_eq(name.p, identity_header.p, name.n))
        return true;
    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
        if (name.n >= strlen(prefix[i]) && cgi_eq(name.p, prefix[i], strlen(prefix[i])))
            return true;
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (name.n == strlen(hop[i]) && cgi_eq(name.p, hop[i], name.n))
            return true;
    return false;
}
