/* pawl/path.h: request-path normalization.
 *
 * pawl never guesses what an ambiguous path means to the upstream: it rejects
 * it. Accepted paths are split into percent-decoded segments that the router
 * matches case-sensitively. Rejected (each with its own message and offset):
 *   - a path that does not start with '/', or contains '#'
 *   - empty segments ("//", a trailing '/'), "." and ".." segments
 *   - a raw backslash, ';' (path parameters), control bytes, ASCII outside
 *     RFC 3986 pchar (space, '"', '<', '>', '{', '}', '|', '^', '`', '[', ']');
 *     raw bytes >= 0x80 are accepted only as valid UTF-8
 *   - percent-encoded '/', '\', '.', ';', '%' (double encoding), NUL or other
 *     control bytes; malformed percent escapes
 *   - invalid UTF-8 after decoding: overlong forms, surrogates, > U+10FFFF,
 *     truncated sequences
 * A '?' ends the path (the query is not part of it). */
#ifndef PAWL_PATH_H
#define PAWL_PATH_H

#include "pawl/common.h"

#define PAWL_PATH_MAX 4096    /* bytes of raw path accepted */
#define PAWL_PATH_MAX_SEGS 64 /* segments accepted */

struct pawl_path {
    pawl_str seg[PAWL_PATH_MAX_SEGS]; /* point into buf */
    unsigned nseg;
    size_t raw_len;                   /* bytes of the input that formed the path */
    char buf[PAWL_PATH_MAX];          /* decoded segment bytes */
};

/* Normalize raw[0..n). On failure returns PAWL_EPARSE or PAWL_ELIMIT and fills
 * d (where = "path", col = 1-based byte offset of the offending byte). */
PAWL_MUST_CHECK pawl_err pawl_path_normalize(const char *raw, size_t n, struct pawl_path *out,
                                             struct pawl_diag *d);

#endif
