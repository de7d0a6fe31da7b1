/* see blocks.h */
#include "blocks.h"

#include <stdlib.h>

static _Thread_local struct {
    void *p[PAWL_GW_SPARE_BLOCKS];
    size_t n;
} spare;

void *pawl_gw_block_alloc(size_t n, size_t *cap)
{
    if (n > PAWL_GW_BLOCK) {
        *cap = n;
        return malloc(n);
    }
    *cap = PAWL_GW_BLOCK;
    return spare.n > 0 ? spare.p[--spare.n] : malloc(PAWL_GW_BLOCK);
}

void pawl_gw_block_free(void *p, size_t cap)
{
    if (p != NULL && cap == PAWL_GW_BLOCK && spare.n < PAWL_GW_SPARE_BLOCKS)
        spare.p[spare.n++] = p;
    else
        free(p);
}

void pawl_gw_blocks_release(void)
{
    while (spare.n > 0)
        free(spare.p[--spare.n]);
}
