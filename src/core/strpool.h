/* Internal: an interning pool. Each distinct string gets a stable id > 0. */
#ifndef PAWL_STRPOOL_H
#define PAWL_STRPOOL_H

#include "pawl/common.h"

struct pawl__strpool {
    char *bytes;        /* NUL-separated strings; id = offset + 1 */
    size_t n, cap;
    uint32_t *slots;    /* open addressing: id or 0 */
    size_t nslots, count;
    uint64_t seed;
};

void pawl__strpool_init(struct pawl__strpool *sp);
void pawl__strpool_free(struct pawl__strpool *sp);
/* Id of s, adding it if absent; 0 on allocation failure. */
uint32_t pawl__strpool_intern(struct pawl__strpool *sp, pawl_str s);
/* Id of s, or 0 when absent. */
uint32_t pawl__strpool_find(const struct pawl__strpool *sp, pawl_str s);
const char *pawl__strpool_get(const struct pawl__strpool *sp, uint32_t id);

#endif
