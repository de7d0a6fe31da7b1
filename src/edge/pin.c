/* see pawl/edge_pin.h
 *
 * The portable half: parsing, formatting and matching of pin sets. No
 * OpenSSL here (the Cortex-M build has none); hashing certificates is in
 * pin_openssl.c. */
#include "pawl/edge_pin.h"

#include <string.h>

_Static_assert(PAWL_EDGE_PIN_B64_LEN == 4u * ((PAWL_EDGE_PIN_HASH_LEN + 2u) / 3u),
               "a pin is the padded base64 of one SHA-256");
_Static_assert(PAWL_EDGE_PIN_HASH_LEN % 3u == 2u,
               "32 bytes: 43 data characters, one '=', 2 unused bits");
_Static_assert(sizeof PAWL_EDGE_PIN_PREFIX_STR - 1u == PAWL_EDGE_PIN_PREFIX_LEN, "prefix length");
_Static_assert(PAWL_EDGE_MAX_PINS >= 2u, "room for a backup pin");

#define B64_DATA (PAWL_EDGE_PIN_B64_LEN - 1u) /* characters before the '=' */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a standard base64 character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Why byte c cannot stand where a base64 character belongs. */
static const char *bad_byte_msg(unsigned char c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
        return "whitespace is not allowed in a pin set (curl accepts none either)";
    if (c == '\0')
        return "NUL byte in a pin set";
    if (c == '-' || c == '_')
        return "base64url character: pins use standard base64 ('+', '/')";
    return "not a base64 character";
}

static enum pawl_edge_pin_result fail(struct pawl_edge_pin_error *err, enum pawl_edge_pin_result r,
                                      size_t offset, const char *msg)
{
    if (err != NULL) {
        err->offset = offset;
        err->msg = msg;
    }
    return r;
}

/* The "sha256//" of the entry s[at, end). */
static enum pawl_edge_pin_result parse_prefix(const char *s, size_t at, size_t end,
                                              struct pawl_edge_pin_error *err)
{
    for (size_t i = 0; i < PAWL_EDGE_PIN_PREFIX_LEN; i++) {
        if (at + i == end)
            return fail(err, PAWL_EDGE_PIN_PREFIX, at + i,
                        "entry ends inside \"sha256//\"");
        unsigned char c = (unsigned char)s[at + i];
        if (c != (unsigned char)PAWL_EDGE_PIN_PREFIX_STR[i]) {
            if (c <= ' ')
                return fail(err, PAWL_EDGE_PIN_CHAR, at + i, bad_byte_msg(c));
            return fail(err, PAWL_EDGE_PIN_PREFIX, at + i,
                        "expected \"sha256//\" (file paths and other hashes are not accepted)");
        }
    }
    return PAWL_EDGE_PIN_OK;
}

/* Every byte of the base64 body s[at, end) is an alphabet character, or the
 * one '=' in the last place. */
static enum pawl_edge_pin_result scan_body(const char *s, size_t at, size_t end,
                                           struct pawl_edge_pin_error *err)
{
    for (size_t i = at; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            if (i - at != B64_DATA)
                return fail(err, PAWL_EDGE_PIN_PADDING, i,
                            "'=' may only be the 44th base64 character of a pin");
        } else if (b64_value(c) < 0) {
            return fail(err, PAWL_EDGE_PIN_CHAR, i, bad_byte_msg(c));
        }
    }
    size_t len = end - at;
    if (len == B64_DATA)
        return fail(err, PAWL_EDGE_PIN_PADDING, end, "missing '=' padding after 43 characters");
    /* 44 characters without the '=' would be 33 bytes. */
    if (len != PAWL_EDGE_PIN_B64_LEN || s[end - 1] != '=')
        return fail(err, PAWL_EDGE_PIN_LENGTH, at,
                    "a pin is 44 base64 characters (32 bytes of SHA-256)");
    return PAWL_EDGE_PIN_OK;
}

/* Decodes a body that scan_body accepted: 43 characters, 256 bits and 2
 * unused bits that must be zero (else two spellings would mean one pin). */
static enum pawl_edge_pin_result decode_body(const char *s, size_t at,
                                             uint8_t out[PAWL_EDGE_PIN_HASH_LEN],
                                             struct pawl_edge_pin_error *err)
{
    uint32_t acc = 0;
    unsigned bits = 0, k = 0;
    for (size_t i = 0; i < B64_DATA; i++) {
        acc = (acc << 6) | (uint32_t)b64_value((unsigned char)s[at + i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    if (acc != 0)
        return fail(err, PAWL_EDGE_PIN_PADDING, at + B64_DATA - 1,
                    "non-canonical base64: the last character's unused bits are not zero");
    return PAWL_EDGE_PIN_OK;
}

static enum pawl_edge_pin_result parse_entry(const char *s, size_t at, size_t end,
                                             uint8_t out[PAWL_EDGE_PIN_HASH_LEN],
                                             struct pawl_edge_pin_error *err)
{
    enum pawl_edge_pin_result r;
    if (at == end)
        return fail(err, PAWL_EDGE_PIN_EMPTY, at,
                    "empty entry (a leading, trailing or doubled ';')");
    if ((r = parse_prefix(s, at, end, err)) != PAWL_EDGE_PIN_OK)
        return r;
    at += PAWL_EDGE_PIN_PREFIX_LEN;
    if ((r = scan_body(s, at, end, err)) != PAWL_EDGE_PIN_OK)
        return r;
    return decode_body(s, at, out, err);
}

enum pawl_edge_pin_result pawl_edge_pin_parse(const char *s, size_t n, unsigned flags,
                                              struct pawl_edge_pinset *out,
                                              struct pawl_edge_pin_error *err)
{
    enum pawl_edge_pin_result r;
    uint8_t pin[PAWL_EDGE_PIN_HASH_LEN];
    unsigned count = 0;
    size_t at = 0;

    memset(out, 0, sizeof *out);
    if (n == 0)
        return fail(err, PAWL_EDGE_PIN_EMPTY, 0, "empty pin set");
    for (;;) {
        const char *semi = memchr(s + at, ';', n - at);
        size_t end = semi != NULL ? (size_t)(semi - s) : n;
        if ((r = parse_entry(s, at, end, pin, err)) != PAWL_EDGE_PIN_OK)
            goto out;
        r = count == PAWL_EDGE_MAX_PINS ? PAWL_EDGE_PIN_TOO_MANY : PAWL_EDGE_PIN_OK;
        for (unsigned i = 0; i < count && r == PAWL_EDGE_PIN_OK; i++)
            if (memcmp(out->sha256[i], pin, sizeof pin) == 0)
                r = PAWL_EDGE_PIN_DUPLICATE;
        if (r != PAWL_EDGE_PIN_OK) {
            fail(err, r, at, r == PAWL_EDGE_PIN_DUPLICATE
                                 ? "the same pin twice: a backup pin must be another key"
                                 : "more than PAWL_EDGE_MAX_PINS (8) pins");
            goto out;
        }
        memcpy(out->sha256[count++], pin, sizeof pin);
        if (end == n)
            break;
        at = end + 1;
    }
    if (count < 2 && !(flags & PAWL_EDGE_PIN_ALLOW_SINGLE)) {
        r = fail(err, PAWL_EDGE_PIN_NO_BACKUP, n,
                 "one pin and no backup: add the pin of a second, offline key");
        goto out;
    }
    out->n = count;
    return PAWL_EDGE_PIN_OK;
out:
    memset(out, 0, sizeof *out);
    return r;
}

void pawl_edge_pin_format_one(const uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN],
                              char dst[PAWL_EDGE_PIN_STR_LEN + 1])
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t k = PAWL_EDGE_PIN_PREFIX_LEN;

    memcpy(dst, PAWL_EDGE_PIN_PREFIX_STR, PAWL_EDGE_PIN_PREFIX_LEN);
    for (size_t i = 0; i < PAWL_EDGE_PIN_HASH_LEN; i++) {
        acc = (acc << 8) | sha256[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            dst[k++] = b64[(acc >> bits) & 63u];
        }
        acc &= (1u << bits) - 1u;
    }
    dst[k++] = b64[(acc << (6u - bits)) & 63u]; /* 4 bits left, 2 zero bits after */
    dst[k++] = '=';
    dst[k] = '\0';
}

size_t pawl_edge_pin_format(const struct pawl_edge_pinset *set, char *dst, size_t cap)
{
    size_t need, k = 0;

    if (cap > 0)
        dst[0] = '\0';
    if (set->n == 0 || set->n > PAWL_EDGE_MAX_PINS)
        return 0;
    need = set->n * (PAWL_EDGE_PIN_STR_LEN + 1u); /* separators and the NUL */
    if (cap < need)
        return 0;
    for (unsigned i = 0; i < set->n; i++) {
        if (i > 0)
            dst[k++] = ';';
        pawl_edge_pin_format_one(set->sha256[i], dst + k);
        k += PAWL_EDGE_PIN_STR_LEN;
    }
    return k;
}

bool pawl_edge_pin_match_digest(const struct pawl_edge_pinset *set,
                                const uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN])
{
    if (set->n > PAWL_EDGE_MAX_PINS)
        return false;
    for (unsigned i = 0; i < set->n; i++)
        if (memcmp(set->sha256[i], sha256, PAWL_EDGE_PIN_HASH_LEN) == 0)
            return true;
    return false;
}

const char *pawl_edge_pin_result_str(enum pawl_edge_pin_result r)
{
    switch (r) {
    case PAWL_EDGE_PIN_OK: return "ok";
    case PAWL_EDGE_PIN_EMPTY: return "empty";
    case PAWL_EDGE_PIN_PREFIX: return "prefix";
    case PAWL_EDGE_PIN_CHAR: return "char";
    case PAWL_EDGE_PIN_LENGTH: return "length";
    case PAWL_EDGE_PIN_PADDING: return "padding";
    case PAWL_EDGE_PIN_TOO_MANY: return "too_many";
    case PAWL_EDGE_PIN_DUPLICATE: return "duplicate";
    case PAWL_EDGE_PIN_NO_BACKUP: return "no_backup";
    case PAWL_EDGE_PIN_MISMATCH: return "mismatch";
    case PAWL_EDGE_PIN_NO_CHAIN: return "no_chain";
    case PAWL_EDGE_PIN_CRYPTO: return "crypto";
    }
    return "crypto";
}
