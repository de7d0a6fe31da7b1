/* see util.h and pawl/common.h */
#define _DEFAULT_SOURCE 1 /* MADV_HUGEPAGE: the build's _POSIX_C_SOURCE alone hides it */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <openssl/rand.h>

#if defined(__linux__) && !defined(MADV_HUGEPAGE)
#error "MADV_HUGEPAGE is hidden: the large tables would silently get 4 KiB pages"
#endif

const char *pawl_err_str(pawl_err e)
{
    switch (e) {
    case PAWL_OK: return "ok";
    case PAWL_ENOMEM: return "out of memory";
    case PAWL_EPARSE: return "parse error";
    case PAWL_ELIMIT: return "limit exceeded";
    case PAWL_EINVAL: return "invalid";
    case PAWL_ECRYPTO: return "cryptographic failure";
    case PAWL_ENOTFOUND: return "not found";
    case PAWL_EIO: return "I/O error";
    }
    return "unknown error";
}

void pawl__diagf(struct pawl_diag *d, const char *where, unsigned line, unsigned col,
                 const char *fmt, ...)
{
    if (d == NULL)
        return;
    snprintf(d->where, sizeof d->where, "%s", where ? where : "");
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
}

size_t pawl_diag_format(const struct pawl_diag *d, char *buf, size_t n)
{
    int r;
    if (n == 0)
        return 0;
    if (d->line && d->col)
        r = snprintf(buf, n, "%s:%u:%u: %s", d->where, d->line, d->col, d->msg);
    else if (d->line)
        r = snprintf(buf, n, "%s:%u: %s", d->where, d->line, d->msg);
    else
        r = snprintf(buf, n, "%s: %s", d->where, d->msg);
    if (r < 0)
        return 0;
    return (size_t)r < n ? (size_t)r : n - 1;
}

pawl_err pawl__parse_i64(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0, lim;
    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n)
        return PAWL_EPARSE;
    lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned dgt = (unsigned)(unsigned char)s[i] - '0';
        if (dgt > 9)
            return PAWL_EPARSE;
        if (v > (lim - dgt) / 10)
            return PAWL_ELIMIT;
        v = v * 10 + dgt;
    }
    int64_t r = neg ? (v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    if (r < min || r > max)
        return PAWL_ELIMIT;
    *out = r;
    return PAWL_OK;
}

static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

pawl_err pawl__b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outn)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    if (n % 4 == 1)
        return PAWL_EPARSE;
    if ((n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
        return PAWL_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val((unsigned char)in[i]);
        if (v < 0)
            return PAWL_EPARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, or two encodings would decode the same. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return PAWL_EPARSE;
    *outn = o;
    return PAWL_OK;
}

size_t pawl__b64url_encode(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

void pawl__hex(const uint8_t *in, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[in[i] >> 4];
        out[2 * i + 1] = h[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void pawl__out_u64(struct pawl__out *o, uint64_t v)
{
    char b[20];
    size_t i = sizeof b;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    pawl__out_put(o, b + i, sizeof b - i);
}

void pawl__out_i64(struct pawl__out *o, int64_t v)
{
    if (v < 0) {
        pawl__out_put(o, "-", 1);
        pawl__out_u64(o, -(uint64_t)v); /* well defined for INT64_MIN too */
    } else {
        pawl__out_u64(o, (uint64_t)v);
    }
}

void pawl__out_hex(struct pawl__out *o, uint64_t v)
{
    static const char h[] = "0123456789abcdef";
    char b[16];
    size_t i = sizeof b;
    do {
        b[--i] = h[v & 15];
        v >>= 4;
    } while (v != 0);
    pawl__out_put(o, b + i, sizeof b - i);
}

bool pawl__out_nul(struct pawl__out *o)
{
    if (o->cap > o->len)
        o->p[o->len] = '\0';
    return !o->full && o->cap > o->len;
}

size_t pawl__ctl_scan(const char *p, size_t n, bool del)
{
    /* (x - 0x20..20) & ~x & 0x80..80 is non-zero exactly when some byte of
     * x is below 0x20, and the same on x ^ 0x7f..7f with 0x01..01 when some
     * byte is 0x7f; only then are the bytes looked at one by one */
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t below = (x - 0x20 * ones) & ~x, y = x ^ 0x7f * ones, is_del = (y - ones) & ~y;
        if ((below | (del ? is_del : 0)) & highs)
            break;
    }
    while (i < n && (unsigned char)p[i] >= 0x20 && (!del || p[i] != 0x7f))
        i++;
    return i;
}

pawl_err pawl__unhex(const char *in, size_t inlen, uint8_t *out, size_t n)
{
    if (inlen != 2 * n)
        return PAWL_EPARSE;
    for (size_t i = 0; i < n; i++) {
        int hi = pawl__hexval((unsigned char)in[2 * i]), lo = pawl__hexval((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PAWL_EPARSE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return PAWL_OK;
}

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n); /* little-endian hosts; the value only feeds a table index */
    return v;
}

uint64_t pawl__hash64(uint64_t seed, const void *data, size_t n)
{
    const uint8_t *p = data;
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    uint64_t h = seed ^ mix(seed ^ k0, (uint64_t)n ^ k1);
    while (n >= 16) {
        h = mix(load_le(p, 8) ^ k1 ^ h, load_le(p + 8, 8) ^ k0);
        p += 16;
        n -= 16;
    }
    if (n > 8)
        h = mix(load_le(p, 8) ^ k1 ^ h, load_le(p + 8, n - 8) ^ k0);
    else if (n > 0)
        h = mix(load_le(p, n) ^ k1 ^ h, k0);
    return mix(h ^ k0, h ^ k1);
}

pawl_key pawl_key_of(pawl_str s)
{
    return (pawl_key){ s, pawl__hash64(pawl__seed(), s.p, s.n) };
}

uint64_t pawl__seed(void)
{
    static uint64_t seed;
    static bool have;
    if (!have) {
        if (RAND_bytes((unsigned char *)&seed, sizeof seed) != 1)
            abort(); /* no entropy: a predictable table seed is not acceptable */
        have = true;
    }
    return seed;
}

bool pawl__ct_eq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

char *pawl__strndup(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r == NULL)
        return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

void *pawl__table_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;
    if (posix_memalign(&p, bytes >= huge ? huge : 64, bytes ? bytes : 1) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= huge)
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint; failure is harmless */
#endif
    memset(p, 0, bytes);
    return p;
}

bool pawl__grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first)
{
    void *arr, *na;
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : first;
    if (nc <= n || nc > SIZE_MAX / elem)
        return false;
    memcpy(&arr, arrp, sizeof arr); /* arrp points at a T *, not a void * */
    if ((na = realloc(arr, nc * elem)) == NULL)
        return false;
    memcpy(arrp, &na, sizeof na);
    *cap = nc;
    return true;
}

/* see util.h */
void pawl__clean_copy(char *out, size_t cap, pawl_str in)
{
    size_t o = 0;
    for (size_t i = 0, len; i < in.n; i += len) {
        len = pawl__utf8_seq((const uint8_t *)in.p + i, in.n - i);
        bool ok = len > 0 && (unsigned char)in.p[i] >= 0x20 && in.p[i] != 0x7f;
        len = len ? len : 1;
        if (o + (ok ? len : 1) >= cap)
            break;
        if (ok)
            memcpy(out + o, in.p + i, len);
        else
            out[o] = '?';
        o += ok ? len : 1;
    }
    out[o] = '\0';
}
