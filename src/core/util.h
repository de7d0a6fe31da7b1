/* Internal helpers shared by the core modules (pawl__ prefix: not public). */
#ifndef PAWL_UTIL_H
#define PAWL_UTIL_H

#include "pawl/common.h"
#include <stdarg.h>
#include <string.h>

/* Fill a diagnostic; d may be NULL. */
void pawl__diagf(struct pawl_diag *d, const char *where, unsigned line, unsigned col,
                 const char *fmt, ...) PAWL_PRINTF(5, 6);

/* Bounded decimal parse of s[0..n) into [min, max]; rejects signs other than a
 * leading '-', spaces, empty input and overflow. */
PAWL_MUST_CHECK pawl_err pawl__parse_i64(const char *s, size_t n, int64_t min, int64_t max,
                                         int64_t *out);

/* OCSF activity_id of an HTTP method: 1 POST, 2 GET/HEAD, 3 PUT/PATCH,
 * 4 DELETE, 99 other (event.c, event_format.c). */
int pawl__activity_id(pawl_str m);

/* Strict base64url (RFC 4648 section 5) without padding. Rejects '=', '+',
 * '/', whitespace and non-zero trailing bits. *outn receives the length. */
PAWL_MUST_CHECK pawl_err pawl__b64url_decode(const char *in, size_t n, uint8_t *out,
                                             size_t cap, size_t *outn);
/* Encode n bytes; out must hold ((n + 2) / 3) * 4 + 1 bytes. Returns length. */
size_t pawl__b64url_encode(const uint8_t *in, size_t n, char *out);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void pawl__hex(const uint8_t *in, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
static inline int pawl__hexval(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}
/* Strict lower/upper-case hex decode of exactly 2*n chars. */
PAWL_MUST_CHECK pawl_err pawl__unhex(const char *in, size_t inlen, uint8_t *out, size_t n);

/* Seeded 64-bit hash for in-memory tables. Not a MAC: it spreads keys and, with
 * a random per-process seed, resists hash flooding. */
uint64_t pawl__hash64(uint64_t seed, const void *data, size_t n);
/* A per-process random seed (from the OS RNG at first use). */
uint64_t pawl__seed(void);

/* Constant-time comparison. */
bool pawl__ct_eq(const void *a, const void *b, size_t n);

/* Make room for element n of a growable array: *(T **)arrp holding *cap
 * elements of elem bytes grows to `first`, then doubles. False on
 * allocation failure or overflow (the array is then unchanged). */
PAWL_MUST_CHECK bool pawl__grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first);

/* Zeroed memory for a large table that is probed at random (rate limiter,
 * token cache): 2 MiB-aligned and hinted for huge pages when big enough, since
 * TLB misses would otherwise dominate each probe. Free with free(). */
void *pawl__table_alloc(size_t bytes);

/* Text appended to a fixed buffer without printf (request heads and
 * event lines are written per request). Once something does not fit, full
 * is set and nothing more is appended; len always leaves one byte free for
 * a terminating NUL, which pawl__out_nul writes. */
struct pawl__out {
    char *p;
    size_t len, cap;
    bool full;
};
static inline void pawl__out_put(struct pawl__out *o, const char *s, size_t n)
{
    if (o->full || n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}
static inline void pawl__out_cstr(struct pawl__out *o, const char *s)
{
    pawl__out_put(o, s, strlen(s));
}
static inline void pawl__out_str(struct pawl__out *o, pawl_str s)
{
    pawl__out_put(o, s.p, s.n);
}
/* Decimal (signed and unsigned) and lower-case hex, no leading zeros. */
void pawl__out_u64(struct pawl__out *o, uint64_t v);
void pawl__out_i64(struct pawl__out *o, int64_t v);
void pawl__out_hex(struct pawl__out *o, uint64_t v);
/* NUL-terminates what was written; false if anything did not fit. */
bool pawl__out_nul(struct pawl__out *o);
/* s[0..n) as the inside of a JSON string, ASCII only (as json_dumps with
 * JSON_ENSURE_ASCII writes it): invalid UTF-8 becomes \ufffd. Output that
 * does not fit is cut (o->full) before an escape, never inside one, so what
 * was written stays valid JSON (event_format.c). */
void pawl__json_esc(struct pawl__out *o, const char *s, size_t n);

/* The offset of the first control byte in p[0..n) (below 0x20, or 0x7f
 * too when del), or n. Eight bytes at a time; for bodies and header values
 * that are checked on every request. */
size_t pawl__ctl_scan(const char *p, size_t n, bool del);

/* Bounded string duplication; NULL on allocation failure. */
char *pawl__strndup(const char *s, size_t n);

/* The next '/'-separated segment of path: the one after position *i (a
 * '/'; start with 0 on a path that begins with '/'), with *i moved to the
 * '/' that ends it. false at the end of the path. */
static inline bool pawl__next_segment(pawl_str path, size_t *i, pawl_str *seg)
{
    if (*i >= path.n)
        return false;
    size_t j = *i + 1;
    while (j < path.n && path.p[j] != '/')
        j++;
    *seg = (pawl_str){path.p + *i + 1, j - *i - 1};
    *i = j;
    return true;
}

static inline bool pawl__str_eq(pawl_str a, const char *lit)
{
    size_t i = 0;
    for (; i < a.n; i++)
        if (lit[i] != a.p[i] || lit[i] == '\0')
            return false;
    return lit[i] == '\0';
}

/* ASCII case-insensitive equality (HTTP header names, tokens). */
static inline bool pawl__str_ieq(pawl_str a, pawl_str b)
{
    if (a.n != b.n)
        return false;
    for (size_t i = 0; i < a.n; i++) {
        char x = a.p[i], y = b.p[i];
        x = x >= 'A' && x <= 'Z' ? (char)(x - 'A' + 'a') : x;
        y = y >= 'A' && y <= 'Z' ? (char)(y - 'A' + 'a') : y;
        if (x != y)
            return false;
    }
    return true;
}

static inline bool pawl__str_ieq_cstr(pawl_str a, const char *s)
{
    pawl_str b = {s, strlen(s)};
    return pawl__str_ieq(a, b);
}

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 when it
 * is invalid (overlong, surrogate, beyond U+10FFFF, truncated). */
size_t pawl__utf8_seq(const uint8_t *s, size_t n);

/* in as text fit for logs and findings: valid UTF-8 kept, control bytes
 * and invalid sequences as '?'; cut to cap - 1 bytes on a character
 * boundary; always terminated. */
void pawl__clean_copy(char *out, size_t cap, pawl_str in);

/* pawl__hash64 of s with a fixed seed, never 0: keys of the detectors'
 * tables and HyperLogLog values (sketch.c). */
uint64_t pawl__sketch_hash(pawl_str s);
/* HyperLogLog over 2^bits one-byte registers: add a hash; count the
 * distinct values of a, or of the union of a and b (b may be NULL). */
void pawl__hll_add(uint8_t *reg, unsigned bits, uint64_t h);
double pawl__hll_count(const uint8_t *a, const uint8_t *b, unsigned bits);

#endif
