/* pawl/common.h: error codes, strings as (pointer, length), diagnostics.
 *
 * Every function that can fail returns a pawl_err (0 = PAWL_OK) and is marked
 * PAWL_MUST_CHECK so that a caller cannot ignore a failed verification. */
#ifndef PAWL_COMMON_H
#define PAWL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PAWL_MUST_CHECK __attribute__((warn_unused_result))
#define PAWL_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum pawl_err {
    PAWL_OK = 0,
    PAWL_ENOMEM,    /* allocation failed */
    PAWL_EPARSE,    /* malformed input; a pawl_diag says what and where */
    PAWL_ELIMIT,    /* input exceeds a documented bound (size, depth, count) */
    PAWL_EINVAL,    /* well-formed but semantically invalid input */
    PAWL_ECRYPTO,   /* a signature or key operation failed */
    PAWL_ENOTFOUND, /* the thing asked for does not exist */
    PAWL_EIO        /* only front ends (CLI, gateway) do I/O */
} pawl_err;

/* Static English name of an error code; never NULL. */
const char *pawl_err_str(pawl_err e);

/* A string that is not necessarily NUL-terminated. */
typedef struct pawl_str {
    const char *p;
    size_t n;
} pawl_str;

#define PAWL_STR(lit) ((pawl_str){ (lit), sizeof(lit) - 1 })

/* A string with its hash (keyed with the process's secret seed), computed
 * once by whoever looks it up in several tables: a decision hashes its VIN
 * and its caller once, and the twin, the grants and the rate limiter all
 * use those hashes. */
typedef struct pawl_key {
    pawl_str s;
    uint64_t h;
} pawl_key;
pawl_key pawl_key_of(pawl_str s);

/* Where and why an input was rejected. `where` is a file name or a label such
 * as "request line 12"; line and col are 1-based, 0 when unknown. */
struct pawl_diag {
    char where[256];
    unsigned line;
    unsigned col;
    char msg[320];
};

/* Render as "where:line:col: msg" (line/col omitted when 0). Always
 * NUL-terminates when n > 0; returns the number of bytes written. */
size_t pawl_diag_format(const struct pawl_diag *d, char *buf, size_t n);

#endif
