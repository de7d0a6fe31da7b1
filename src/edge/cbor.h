/* Strict, bounded CBOR reading for libpawl-edge (internal).
 *
 * Only what command tokens need, and only in the deterministic form of RFC
 * 8949 §4.2.1: shortest heads, definite lengths, map keys in strictly
 * ascending bytewise order (so no duplicates), valid UTF-8 in text strings,
 * no tags (the caller reads the one outer tag itself), simple values false,
 * true and null, and floats in their shortest exact width. Nothing allocates; recursion is bounded by
 * PAWL_EDGE_MAX_DEPTH. Every function returns false on the first violation
 * and then leaves the cursor where it stopped. */
#ifndef PAWL_EDGE_CBOR_H
#define PAWL_EDGE_CBOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
    PAWL__CBOR_UINT = 0,
    PAWL__CBOR_NINT = 1,
    PAWL__CBOR_BSTR = 2,
    PAWL__CBOR_TSTR = 3,
    PAWL__CBOR_ARRAY = 4,
    PAWL__CBOR_MAP = 5,
    PAWL__CBOR_TAG = 6,
    PAWL__CBOR_SIMPLE = 7
};

struct pawl__cbor {
    const uint8_t *p, *end;
};

/* One head: major type and argument (the value, length or count). Rejects
 * reserved and indefinite forms and non-shortest arguments; for strings,
 * also that the content fits in what is left. */
bool pawl__cbor_head(struct pawl__cbor *c, unsigned *major, uint64_t *arg);

/* Checks one complete item at nesting level `level` (1 = top) and moves
 * past it. Containers deeper than PAWL_EDGE_MAX_DEPTH are refused. */
bool pawl__cbor_skip(struct pawl__cbor *c, unsigned level);

/* A byte or text string of the given major type; points into the input. */
bool pawl__cbor_string(struct pawl__cbor *c, unsigned major, const uint8_t **p, size_t *n);

/* An unsigned integer (major 0). */
bool pawl__cbor_uint(struct pawl__cbor *c, uint64_t *v);

/* An integer (major 0 or 1) that fits int64_t. */
bool pawl__cbor_int(struct pawl__cbor *c, int64_t *v);

/* A container head (array or map) of the given major type; *count entries. */
bool pawl__cbor_container(struct pawl__cbor *c, unsigned major, uint64_t *count);

/* Exact narrowing of IEEE 754 floats, on bits (no FPU needed): true and the
 * narrower bits when the value (infinities and NaN payloads included) fits.
 * Deterministic encoding uses the shortest float that holds a value. */
bool pawl__float_single_to_half(uint32_t single, uint16_t *half);
bool pawl__float_double_to_single(uint64_t dbl, uint32_t *single);

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool pawl__utf8_valid(const uint8_t *p, size_t n);

#endif
