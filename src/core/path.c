/* see pawl/path.h */
#include "pawl/path.h"
#include "util.h"

/* 1 = allowed raw in a segment (RFC 3986 pchar minus ';' and '%', which are
 * handled separately). Bytes >= 0x80 are checked as UTF-8 after decoding. */
static const uint8_t pchar[256] = {
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['.'] = 1,
    ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1,
    ['*'] = 1, ['+'] = 1, [','] = 1, ['='] = 1, [':'] = 1, ['@'] = 1,
};

static pawl_err reject(struct pawl_diag *d, size_t off, const char *why)
{
    pawl__diagf(d, "path", 0, (unsigned)off + 1, "%s", why);
    return PAWL_EPARSE;
}

size_t pawl__utf8_seq(const uint8_t *s, size_t n)
{
    uint32_t cp;
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0; /* continuation byte, 0xc0/0xc1 (overlong) or > 0xf4 */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static pawl_err check_utf8(const char *seg, size_t n, size_t seg_off, struct pawl_diag *d)
{
    const uint8_t *s = (const uint8_t *)seg;
    for (size_t i = 0; i < n;) {
        size_t l = pawl__utf8_seq(s + i, n - i);
        if (l == 0)
            return reject(d, seg_off, "invalid or overlong UTF-8 in segment");
        i += l;
    }
    return PAWL_OK;
}

/* Decode one percent escape at raw[i] ('%'), refusing encodings that would
 * change the path's structure downstream. */
static pawl_err decode_pct(const char *raw, size_t n, size_t i, uint8_t *out, struct pawl_diag *d)
{
    int hi, lo;
    if (i + 2 >= n)
        return reject(d, i, "truncated percent escape");
    hi = pawl__hexval((unsigned char)raw[i + 1]);
    lo = pawl__hexval((unsigned char)raw[i + 2]);
    if (hi < 0 || lo < 0)
        return reject(d, i, "malformed percent escape");
    *out = (uint8_t)(hi << 4 | lo);
    switch (*out) {
    case '/': return reject(d, i, "percent-encoded '/' in path");
    case '\\': return reject(d, i, "percent-encoded backslash in path");
    case '.': return reject(d, i, "percent-encoded '.' in path");
    case ';': return reject(d, i, "percent-encoded ';' in path");
    case '%': return reject(d, i, "percent-encoded '%' (double encoding) in path");
    case 0: return reject(d, i, "percent-encoded NUL in path");
    default: break;
    }
    if (*out < 0x20 || *out == 0x7f)
        return reject(d, i, "percent-encoded control character in path");
    return PAWL_OK;
}

static pawl_err raw_byte_ok(unsigned char c, size_t i, struct pawl_diag *d)
{
    if (c == '\\')
        return reject(d, i, "backslash in path");
    if (c == ';')
        return reject(d, i, "';' path parameter in path");
    if (c == '#')
        return reject(d, i, "fragment '#' in path");
    if (c < 0x20 || c == 0x7f)
        return reject(d, i, "control character in path");
    if (c < 0x80)
        return reject(d, i, "character not allowed in a path segment");
    return PAWL_OK;
}

/* high: the segment holds a byte >= 0x80 (raw or decoded), so it needs the
 * UTF-8 check; plain ASCII segments, nearly all of them, skip it. */
static pawl_err end_segment(struct pawl_path *out, size_t start, size_t o, size_t seg_off,
                            bool high, struct pawl_diag *d)
{
    pawl_str s = { out->buf + start, o - start };
    pawl_err e;
    if (s.n == 0)
        return reject(d, seg_off, "empty path segment ('//' or trailing '/')");
    /* Only raw dots can get here: encoded ones were refused while decoding. */
    if ((s.n == 1 && s.p[0] == '.') || (s.n == 2 && s.p[0] == '.' && s.p[1] == '.'))
        return reject(d, seg_off, "'.' or '..' segment in path");
    if (high && (e = check_utf8(s.p, s.n, seg_off, d)) != PAWL_OK)
        return e;
    if (out->nseg == PAWL_PATH_MAX_SEGS) {
        pawl__diagf(d, "path", 0, (unsigned)seg_off + 1, "more than %d path segments",
                    PAWL_PATH_MAX_SEGS);
        return PAWL_ELIMIT;
    }
    out->seg[out->nseg++] = s;
    return PAWL_OK;
}

pawl_err pawl_path_normalize(const char *raw, size_t n, struct pawl_path *out, struct pawl_diag *d)
{
    size_t i, o = 0, start = 0, seg_off = 0;
    pawl_err e;
    out->nseg = 0;
    const char *q = n > 0 ? memchr(raw, '?', n) : NULL;
    if (q != NULL)
        n = (size_t)(q - raw);
    out->raw_len = n;
    if (n == 0 || raw[0] != '/')
        return reject(d, 0, "path must start with '/'");
    if (n > PAWL_PATH_MAX) {
        pawl__diagf(d, "path", 0, 0, "path longer than %d bytes", PAWL_PATH_MAX);
        return PAWL_ELIMIT;
    }
    if (n == 1)
        return PAWL_OK; /* "/" */
    bool high = false;
    for (i = 1, seg_off = 1; i <= n; i++) {
        while (i < n && pchar[(unsigned char)raw[i]]) /* the common case: plain bytes */
            out->buf[o++] = raw[i++];
        unsigned char c = i < n ? (unsigned char)raw[i] : '/';
        if (c == '/') {
            if ((e = end_segment(out, start, o, seg_off - 1, high, d)) != PAWL_OK)
                return e;
            start = o;
            seg_off = i + 1;
            high = false;
        } else if (c == '%') {
            uint8_t b;
            if ((e = decode_pct(raw, n, i, &b, d)) != PAWL_OK)
                return e;
            out->buf[o++] = (char)b;
            high |= b >= 0x80;
            i += 2;
        } else {
            high |= c >= 0x80;
            if ((e = raw_byte_ok(c, i, d)) != PAWL_OK)
                return e;
            out->buf[o++] = (char)c;
        }
    }
    return PAWL_OK;
}
