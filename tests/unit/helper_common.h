/* Shared test helpers: cmocka plus files from the source tree. */
#ifndef PAWL_HELPER_COMMON_H
#define PAWL_HELPER_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pawl/common.h"

/* Read $PAWL_SRC/rel (NUL-terminated, malloc'd); fails the test when missing. */
char *th_read_src(const char *rel, size_t *len);
/* The text of the file at path into out (at most cap - 1 bytes, NUL-
 * terminated); "" when it does not exist (an anchor not written yet). */
void th_read_text(const char *path, char *out, size_t cap);
/* "where:line:col: msg" of a diagnostic, in a static buffer. */
const char *th_diag(const struct pawl_diag *d);
/* The first m bytes of needle in hay[0..n), or NULL (memmem is not POSIX). */
uint8_t *th_find(uint8_t *hay, size_t n, const void *needle, size_t m);

/* An in-memory file for the save and load functions that move bytes
 * through callbacks (pawl_detector_save, pawl_blocklist_load, ...):
 * th_put appends (-1 past cap), th_take reads on from at (-1 past n). */
struct th_buf {
    unsigned char *p;
    size_t n, cap, at;
};
int th_put(void *ctx, const void *p, size_t n);
int th_take(void *ctx, void *p, size_t n);

#endif
