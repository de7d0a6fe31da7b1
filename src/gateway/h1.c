/* see h1.h */
#include "h1.h"
#include "blocks.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct pawld_h1 *r, enum pawl_reason why, const char *fmt, ...) PAWL_PRINTF(3, 4);
static int fail(struct pawld_h1 *r, enum pawl_reason why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    r->reason = why;
    r->state = PAWLD_H1_ERROR;
    return -1;
}

/* Appends to the head copy; the whole head stays within max_head_bytes. */
static int keep(struct pawld_h1 *r, const char *at, size_t n)
{
    if (r->used + n > r->lim->max_head_bytes + 64)
        return fail(r, PAWL_R_HEADERS_TOO_LARGE, "request head over %zu bytes",
                    r->lim->max_head_bytes);
    if (r->cap == 0) {
        if ((r->buf = pawl_gw_block_alloc(n, &r->cap)) == NULL)
            return fail(r, PAWL_R_DEPENDENCY_UNAVAILABLE, "out of memory reading the head");
    } else if (r->used + n > r->cap) {
        size_t cap = r->cap;
        while (cap < r->used + n)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (b == NULL)
            return fail(r, PAWL_R_DEPENDENCY_UNAVAILABLE, "out of memory reading the head");
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->used, at, n);
    r->used += n;
    return 0;
}

static struct pawld_h1 *of(http_parser *p)
{
    return p->data;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct pawld_h1 *r = of(p);
    if (r->target_len == 0)
        r->target_off = r->used;
    r->target_len += n;
    return keep(r, at, n);
}

/* The header arrays exist only while a request has headers: an idle
 * kept-alive connection holds no reader at all (pawld frees it). Both come in one
 * block (blocks.h). They are not zeroed: an entry is written in full before
 * it is read (on_header_field, pawld_h1_head), and clearing max_headers
 * entries per request showed in the profile. */
static bool header_arrays(struct pawld_h1 *r)
{
    size_t n = r->lim->max_headers ? r->lim->max_headers : 1;
    char *p = pawl_gw_block_alloc(n * (sizeof *r->hdr + sizeof *r->view), &r->arrays_cap);
    if (p == NULL)
        return false;
    r->hdr = (struct pawld_h1_hdr *)(void *)p;
    r->view = (struct pawl_http_header *)(void *)(p + n * sizeof *r->hdr);
    return true;
}

static void free_arrays(struct pawld_h1 *r)
{
    pawl_gw_block_free(r->hdr, r->arrays_cap);
    pawl_gw_block_free(r->buf, r->cap);
    r->hdr = NULL;
    r->view = NULL;
    r->buf = NULL;
    r->cap = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct pawld_h1 *r = of(p);
    if (r->hdr == NULL && !header_arrays(r))
        return fail(r, PAWL_R_DEPENDENCY_UNAVAILABLE, "out of memory reading the head");
    if (r->in_value || r->nhdr == 0) {
        if (r->nhdr == r->lim->max_headers)
            return fail(r, PAWL_R_HEADERS_TOO_LARGE, "more than %zu headers",
                        r->lim->max_headers);
        r->hdr[r->nhdr].name_off = r->used;
        r->hdr[r->nhdr].name_len = 0;
        r->hdr[r->nhdr].value_off = 0;
        r->hdr[r->nhdr].value_len = 0;
        r->nhdr++;
        r->in_value = false;
    }
    r->hdr[r->nhdr - 1].name_len += n;
    return keep(r, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct pawld_h1 *r = of(p);
    struct pawld_h1_hdr *h = &r->hdr[r->nhdr - 1];
    if (!r->in_value) {
        h->value_off = r->used;
        r->in_value = true;
    }
    h->value_len += n;
    return keep(r, at, n);
}

static int on_headers_complete(http_parser *p)
{
    struct pawld_h1 *r = of(p);
    r->state = PAWLD_H1_HEAD;
    http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct pawld_h1 *r = of(p);
    r->body_bytes += n;
    if (r->body_bytes > r->lim->max_body_bytes)
        return fail(r, PAWL_R_BODY_TOO_LARGE, "body over %llu bytes",
                    (unsigned long long)r->lim->max_body_bytes);
    return r->on_body ? r->on_body(r->ctx, at, n) : 0;
}

static int on_message_complete(http_parser *p)
{
    struct pawld_h1 *r = of(p);
    r->state = PAWLD_H1_DONE;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

int pawld_h1_init(struct pawld_h1 *r, const struct pawl_http_limits *lim,
                  int (*body)(void *ctx, const char *p, size_t n), void *ctx)
{
    memset(r, 0, sizeof *r);
    r->lim = lim;
    r->on_body = body;
    r->ctx = ctx;
    http_parser_init(&r->parser, HTTP_REQUEST);
    r->parser.data = r;
    r->line_start = true; /* the first line may not start with whitespace either */
    return 0;
}

bool pawld_h1_idle(const struct pawld_h1 *r)
{
    return r->state == PAWLD_H1_HEAD_WAIT && r->used == 0 && r->head_bytes == 0;
}

void pawld_h1_free(struct pawld_h1 *r)
{
    free_arrays(r);
    memset(r, 0, sizeof *r);
}

/* Scans the head's raw bytes up to the blank line that ends it: a line
 * that starts with SP or HTAB is obs-fold (or whitespace before the request
 * line) and refused, and so is a CR that is not right before an LF (which
 * http-parser, built without strict mode, takes for a line end: "\r\n\rX"
 * would end the head). Empty lines before the request line (which
 * http-parser skips) do not end the head. Counts the head's bytes. Only a
 * line's first bytes and its CRs matter, so the rest is skipped with
 * memchr. NULL, or why the head is refused. */
static const char *scan_head(struct pawld_h1 *r, const char *p, size_t n)
{
    static const char bare_cr[] = "a CR in the head is not followed by LF";
    size_t i = 0;
    while (i < n && !r->head_end) {
        char c = p[i];
        if (r->cr_at_start || r->cr_pending) {
            if (c != '\n')
                return bare_cr;
            r->head_bytes++, i++;
            r->head_end = r->cr_at_start && r->seen_content;
            r->cr_at_start = r->cr_pending = false;
            r->line_start = true;
            continue;
        }
        if (r->line_start) {
            if (c == ' ' || c == '\t')
                return "a header line starts with whitespace (obs-fold)";
            if (c == '\r' || c == '\n') {
                r->head_bytes++, i++;
                if (c == '\r')
                    r->cr_at_start = true;
                else
                    r->head_end = r->seen_content;
                continue;
            }
        }
        /* within a line: up to and including its LF; a CR only right before it */
        const char *lf = memchr(p + i, '\n', n - i);
        size_t end = lf ? (size_t)(lf - p) + 1 : n;
        const char *cr = memchr(p + i, '\r', end - i);
        if (cr != NULL) {
            size_t k = (size_t)(cr - p);
            if (lf != NULL ? k != end - 2 : k != n - 1)
                return bare_cr;
            if (lf == NULL) { /* the LF comes with the next bytes */
                end = n;
                r->cr_pending = true;
            }
        }
        r->head_bytes += end - i;
        r->seen_content = true;
        r->line_start = lf != NULL;
        i = end;
    }
    return NULL;
}

static size_t feed_head(struct pawld_h1 *r, const char *p, size_t n)
{
    const char *why = scan_head(r, p, n);
    if (why != NULL) {
        fail(r, PAWL_R_BAD_REQUEST, "%s", why);
        return 0;
    }
    if (r->head_bytes > r->lim->max_head_bytes + 64) {
        fail(r, PAWL_R_HEADERS_TOO_LARGE, "request head over %zu bytes", r->lim->max_head_bytes);
        return 0;
    }
    return n;
}

/* The raw framing of a chunked body: see h1.h. */
enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER, CK_TRAILER_LINE,
       CK_TRAILER_LF, CK_END_LF, CK_DONE };
#define CK_EXT_MAX 1024

/* A byte of a chunk size line before its CR: hex digits, then an optional
 * extension (after ';' or whitespace) without control bytes. */
static const char *size_byte(struct pawld_chunk_scan *r, unsigned char c, bool ctl)
{
    if (r->ck == CK_EXT) {
        if (c == '\r')
            r->ck = CK_SIZE_LF;
        else if (ctl)
            return "a chunk extension has a control byte";
        else if (++r->ext > CK_EXT_MAX)
            return "a chunk extension is over 1024 bytes";
        return NULL;
    }
    int v = pawl__hexval(c);
    if (v >= 0) {
        if (r->left >> 59) /* http-parser refuses it too */
            return "a chunk size is too large";
        r->left = r->left * 16 + (unsigned)v;
        r->ext = 1; /* a digit seen */
        return NULL;
    }
    if (r->ext == 0)
        return "a chunk size line does not start with hex digits";
    if (c == '\r')
        r->ck = CK_SIZE_LF;
    else if (c == ';' || c == ' ' || c == '\t')
        r->ck = CK_EXT;
    else
        return "a chunk size line has bytes after its size";
    r->ext = 0;
    return NULL;
}

/* A byte of the trailer section: lines that neither start with whitespace
 * nor hold a control byte, each ended by CRLF, then an empty line. */
static const char *trailer_byte(struct pawld_chunk_scan *r, unsigned char c, bool ctl)
{
    switch (r->ck) {
    case CK_TRAILER:
        if (c == '\r')
            r->ck = CK_END_LF;
        else if (c == ' ' || c == '\t' || ctl)
            return "a trailer line starts with whitespace or a control byte";
        else
            r->ck = CK_TRAILER_LINE;
        return NULL;
    case CK_TRAILER_LINE:
        if (c == '\r')
            r->ck = CK_TRAILER_LF;
        else if (ctl)
            return "a trailer line has a control byte";
        return NULL;
    default: /* CK_TRAILER_LF, CK_END_LF */
        if (c != '\n')
            return "a trailer line does not end in CRLF";
        r->ck = r->ck == CK_END_LF ? CK_DONE : CK_TRAILER;
        return NULL;
    }
}

const char *pawld_chunk_scan(struct pawld_chunk_scan *r, const char *p, size_t n)
{
    const char *why = NULL;
    size_t i = 0;
    if (r->head_lf && n > 0) { /* the head's last byte, which scan_head has seen */
        r->head_lf = false;
        i = p[0] == '\n';
    }
    for (; i < n && r->ck != CK_DONE && why == NULL; i++) {
        unsigned char c = (unsigned char)p[i];
        bool ctl = (c < 0x20 && c != '\t') || c == 0x7f;
        switch (r->ck) {
        case CK_SIZE:
        case CK_EXT:
            why = size_byte(r, c, ctl);
            break;
        case CK_SIZE_LF:
            if (c != '\n')
                return "a chunk size line does not end in CRLF";
            r->ck = r->left == 0 ? CK_TRAILER : CK_DATA;
            break;
        case CK_DATA: {
            size_t take = n - i < r->left ? n - i : (size_t)r->left;
            r->left -= take;
            i += take - 1;
            if (r->left == 0)
                r->ck = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
        case CK_DATA_LF:
            if (c != (r->ck == CK_DATA_CR ? '\r' : '\n'))
                return "chunk data is not followed by CRLF";
            if (r->ck++ == CK_DATA_LF)
                r->ck = CK_SIZE; /* left and ext are 0 */
            break;
        default:
            why = trailer_byte(r, c, ctl);
        }
    }
    return why;
}

size_t pawld_h1_feed(struct pawld_h1 *r, const char *p, size_t n)
{
    if (r->state == PAWLD_H1_ERROR || r->state == PAWLD_H1_HEAD || r->state == PAWLD_H1_DONE)
        return 0;
    if (r->state == PAWLD_H1_HEAD_WAIT && feed_head(r, p, n) == 0 && n > 0)
        return 0;
    if (r->state == PAWLD_H1_BODY && (r->parser.flags & F_CHUNKED)) {
        const char *why = pawld_chunk_scan(&r->ck, p, n); /* before any of it reaches on_body */
        if (why != NULL) {
            fail(r, PAWL_R_BAD_REQUEST, "%s", why);
            return 0;
        }
    }
    size_t done = http_parser_execute(&r->parser, &settings, p, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->state == PAWLD_H1_ERROR)
        return done;
    if (e == HPE_PAUSED)
        return done;
    if (e != HPE_OK) {
        fail(r, PAWL_R_BAD_REQUEST, "HTTP parse error %s: %s", http_errno_name(e),
             http_errno_description(e));
        return done;
    }
    if (r->parser.upgrade) {
        fail(r, PAWL_R_BAD_REQUEST, "protocol upgrades are not supported");
        return done;
    }
    return done;
}

void pawld_h1_head(struct pawld_h1 *r, struct pawl_http_head *h)
{
    const char *m = http_method_str((enum http_method)r->parser.method);
    for (size_t i = 0; i < r->nhdr; i++) {
        r->view[i].name.p = r->buf + r->hdr[i].name_off;
        r->view[i].name.n = r->hdr[i].name_len;
        r->view[i].value.p = r->hdr[i].value_len ? r->buf + r->hdr[i].value_off : "";
        r->view[i].value.n = r->hdr[i].value_len;
    }
    h->method.p = m;
    h->method.n = strlen(m);
    h->target.p = r->target_len ? r->buf + r->target_off : "";
    h->target.n = r->target_len;
    h->version_minor = r->parser.http_major == 1 ? r->parser.http_minor : -1;
    h->headers = r->view;
    h->nheaders = r->nhdr;
}

bool pawld_h1_keep_alive(const struct pawld_h1 *r)
{
    return r->state != PAWLD_H1_ERROR && http_should_keep_alive(&r->parser) != 0;
}

void pawld_h1_resume(struct pawld_h1 *r)
{
    if (r->state != PAWLD_H1_HEAD)
        return;
    r->state = PAWLD_H1_BODY;
    r->ck.head_lf = true;
    http_parser_pause(&r->parser, 0);
}

void pawld_h1_next(struct pawld_h1 *r)
{
    if (r->state != PAWLD_H1_DONE)
        return;
    r->state = PAWLD_H1_HEAD_WAIT;
    r->used = r->target_len = r->target_off = r->nhdr = r->head_bytes = 0;
    r->body_bytes = 0;
    r->in_value = false;
    r->line_start = true;
    r->cr_at_start = r->cr_pending = r->seen_content = r->head_end = false;
    memset(&r->ck, 0, sizeof r->ck); /* CK_SIZE */
    http_parser_pause(&r->parser, 0);
}
