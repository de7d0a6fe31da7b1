/* see strpool.h */
#include "strpool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void pawl__strpool_init(struct pawl__strpool *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->seed = pawl__seed();
}

void pawl__strpool_free(struct pawl__strpool *sp)
{
    free(sp->bytes);
    free(sp->slots);
    memset(sp, 0, sizeof *sp);
}

const char *pawl__strpool_get(const struct pawl__strpool *sp, uint32_t id)
{
    return id ? sp->bytes + id - 1 : "";
}

static bool same(const struct pawl__strpool *sp, uint32_t id, pawl_str s)
{
    const char *x = sp->bytes + id - 1;
    return strnlen(x, s.n + 1) == s.n && memcmp(x, s.p, s.n) == 0;
}

uint32_t pawl__strpool_find(const struct pawl__strpool *sp, pawl_str s)
{
    if (sp->nslots == 0)
        return 0;
    size_t mask = sp->nslots - 1;
    for (size_t i = pawl__hash64(sp->seed, s.p, s.n) & mask;; i = (i + 1) & mask) {
        uint32_t id = sp->slots[i];
        if (id == 0)
            return 0;
        if (same(sp, id, s))
            return id;
    }
}

static bool grow_slots(struct pawl__strpool *sp)
{
    size_t ns = sp->nslots ? sp->nslots * 2 : 1024;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < sp->nslots; i++) {
        uint32_t id = sp->slots[i];
        if (id == 0)
            continue;
        const char *x = sp->bytes + id - 1;
        size_t j = pawl__hash64(sp->seed, x, strlen(x)) & (ns - 1);
        while (slots[j])
            j = (j + 1) & (ns - 1);
        slots[j] = id;
    }
    free(sp->slots);
    sp->slots = slots;
    sp->nslots = ns;
    return true;
}

uint32_t pawl__strpool_intern(struct pawl__strpool *sp, pawl_str s)
{
    uint32_t id = pawl__strpool_find(sp, s);
    if (id)
        return id;
    if (memchr(s.p, '\0', s.n) || sp->n + s.n + 1 >= UINT32_MAX)
        return 0;
    if ((sp->count + 1) * 2 > sp->nslots && !grow_slots(sp))
        return 0;
    if (sp->n + s.n + 1 > sp->cap) {
        size_t nc = sp->cap ? sp->cap * 2 : 4096;
        while (nc < sp->n + s.n + 1)
            nc *= 2;
        char *nb = realloc(sp->bytes, nc);
        if (nb == NULL)
            return 0;
        sp->bytes = nb;
        sp->cap = nc;
    }
    memcpy(sp->bytes + sp->n, s.p, s.n);
    sp->bytes[sp->n + s.n] = '\0';
    id = (uint32_t)sp->n + 1;
    sp->n += s.n + 1;
    size_t mask = sp->nslots - 1, i = pawl__hash64(sp->seed, s.p, s.n) & mask;
    while (sp->slots[i])
        i = (i + 1) & mask;
    sp->slots[i] = id;
    sp->count++;
    return id;
}
