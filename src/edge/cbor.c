/* see cbor.h */
#include "cbor.h"

#include <string.h>

#include "pawl/edge_token.h"

bool pawl__cbor_head(struct pawl__cbor *c, unsigned *major, uint64_t *arg)
{
    if (c->p >= c->end)
        return false;
    uint8_t ib = *c->p++;
    unsigned ai = ib & 0x1fu;
    *major = ib >> 5;
    if (ai < 24) {
        *arg = ai;
    } else if (ai <= 27) {
        size_t len = (size_t)1 << (ai - 24);
        if ((size_t)(c->end - c->p) < len)
            return false;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++)
            v = v << 8 | c->p[i];
        c->p += len;
        /* Floats (major 7, 2/4/8 bytes) are values, not arguments: their
         * shortest form is about the value (see pawl__cbor_skip). */
        static const uint64_t min[] = { 24, 0x100, 0x10000, 0x100000000u };
        if (!(*major == PAWL__CBOR_SIMPLE && ai > 24) && v < min[ai - 24])
            return false;
        *arg = v;
    } else {
        return false; /* 28-30 reserved, 31 indefinite */
    }
    if (*major == PAWL__CBOR_BSTR || *major == PAWL__CBOR_TSTR)
        return *arg <= (uint64_t)(c->end - c->p);
    return true;
}

bool pawl__float_single_to_half(uint32_t u, uint16_t *h)
{
    uint16_t sign = (uint16_t)(u >> 16 & 0x8000u);
    uint32_t ef = u >> 23 & 0xffu, m = u & 0x7fffffu;
    int e = (int)ef - 127;
    if (ef == 0xff || (ef != 0 && e >= -14 && e <= 15)) {
        if ((m & 0x1fffu) != 0)
            return false;
        *h = (uint16_t)(sign | (ef == 0xff ? 0x7c00u : (uint32_t)(e + 15) << 10) | m >> 13);
        return true;
    }
    if (ef == 0 && m == 0) {
        *h = sign;
        return true;
    }
    if (ef != 0 && e >= -24 && e < -14) { /* a half subnormal */
        uint32_t full = m | 0x800000u;
        unsigned shift = (unsigned)(-1 - e);
        if ((full & ((UINT32_C(1) << shift) - 1)) != 0)
            return false;
        *h = (uint16_t)(sign | full >> shift);
        return true;
    }
    return false;
}

bool pawl__float_double_to_single(uint64_t u, uint32_t *f)
{
    uint32_t sign = (uint32_t)(u >> 32) & 0x80000000u;
    uint64_t ef = u >> 52 & 0x7ffu, m = u & UINT64_C(0xfffffffffffff);
    int e = (int)ef - 1023;
    if (ef == 0x7ff || (ef != 0 && e >= -126 && e <= 127)) {
        if ((m & 0x1fffffffu) != 0)
            return false;
        *f = sign | (ef == 0x7ff ? 0x7f800000u : (uint32_t)(e + 127) << 23) | (uint32_t)(m >> 29);
        return true;
    }
    if (ef == 0 && m == 0) {
        *f = sign;
        return true;
    }
    if (ef != 0 && e >= -149 && e < -126) { /* a single subnormal */
        uint64_t full = m | UINT64_C(1) << 52;
        unsigned shift = (unsigned)(-97 - e);
        if ((full & ((UINT64_C(1) << shift) - 1)) != 0)
            return false;
        *f = sign | (uint32_t)(full >> shift);
        return true;
    }
    return false;
}

/* A float head of `len` value bytes carrying `bits`: shortest exact only. */
static bool float_shortest(size_t len, uint64_t bits)
{
    uint32_t single;
    uint16_t half;
    if (len == 4)
        return !pawl__float_single_to_half((uint32_t)bits, &half);
    if (len == 8)
        return !pawl__float_double_to_single(bits, &single);
    return true;
}

bool pawl__utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        size_t len;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            len = 2, cp = b & 0x1fu, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3, cp = b & 0x0fu, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4, cp = b & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* RFC 8949 §4.2.1: keys sorted by their encoded bytes, shorter first on a
 * common prefix. Strictly ascending also rules out duplicates. */
static bool key_after(const uint8_t *prev, size_t pn, const uint8_t *cur, size_t cn)
{
    int d = memcmp(prev, cur, pn < cn ? pn : cn);
    return d < 0 || (d == 0 && pn < cn);
}

static bool skip_map(struct pawl__cbor *c, uint64_t count, unsigned level)
{
    const uint8_t *prev = NULL;
    size_t pn = 0;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *k = c->p;
        if (!pawl__cbor_skip(c, level + 1))
            return false;
        size_t kn = (size_t)(c->p - k);
        if (prev != NULL && !key_after(prev, pn, k, kn))
            return false;
        prev = k, pn = kn;
        if (!pawl__cbor_skip(c, level + 1))
            return false;
    }
    return true;
}

bool pawl__cbor_skip(struct pawl__cbor *c, unsigned level)
{
    unsigned major;
    uint64_t arg;
    const uint8_t *start = c->p;
    if (!pawl__cbor_head(c, &major, &arg))
        return false;
    switch (major) {
    case PAWL__CBOR_UINT:
    case PAWL__CBOR_NINT:
        return true;
    case PAWL__CBOR_TSTR:
        if (!pawl__utf8_valid(c->p, (size_t)arg))
            return false;
        /* fall through */
    case PAWL__CBOR_BSTR:
        c->p += arg;
        return true;
    case PAWL__CBOR_ARRAY:
    case PAWL__CBOR_MAP:
        if (level > PAWL_EDGE_MAX_DEPTH)
            return false;
        /* Each entry takes at least one byte: a count beyond what is left
         * is refused before any loop runs. */
        if (arg > (uint64_t)(c->end - c->p))
            return false;
        if (major == PAWL__CBOR_MAP)
            return skip_map(c, arg, level);
        for (uint64_t i = 0; i < arg; i++)
            if (!pawl__cbor_skip(c, level + 1))
                return false;
        return true;
    case PAWL__CBOR_SIMPLE:
        /* false, true, null, or a half/single/double float */
        if (c->p - start == 1)
            return arg >= 20 && arg <= 22;
        return c->p - start >= 3 && float_shortest((size_t)(c->p - start) - 1, arg);
    default:
        return false; /* tags */
    }
}

bool pawl__cbor_string(struct pawl__cbor *c, unsigned major, const uint8_t **p, size_t *n)
{
    unsigned m;
    uint64_t arg;
    if (!pawl__cbor_head(c, &m, &arg) || m != major)
        return false;
    if (m == PAWL__CBOR_TSTR && !pawl__utf8_valid(c->p, (size_t)arg))
        return false;
    *p = c->p;
    *n = (size_t)arg;
    c->p += arg;
    return true;
}

bool pawl__cbor_uint(struct pawl__cbor *c, uint64_t *v)
{
    unsigned m;
    return pawl__cbor_head(c, &m, v) && m == PAWL__CBOR_UINT;
}

bool pawl__cbor_int(struct pawl__cbor *c, int64_t *v)
{
    unsigned m;
    uint64_t arg;
    if (!pawl__cbor_head(c, &m, &arg) || (m != PAWL__CBOR_UINT && m != PAWL__CBOR_NINT) ||
        arg > (uint64_t)INT64_MAX)
        return false;
    *v = m == PAWL__CBOR_UINT ? (int64_t)arg : -1 - (int64_t)arg;
    return true;
}

bool pawl__cbor_container(struct pawl__cbor *c, unsigned major, uint64_t *count)
{
    unsigned m;
    return pawl__cbor_head(c, &m, count) && m == major;
}
