/* see pawl/blocklist.h: open addressing with linear probing; removal
 * shifts the entries that follow back, so there are no tombstones. */
#include "pawl/blocklist.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pawl_blocklist {
    struct pawl_block *slots;
    size_t cap, max, used;
};

static const char MAGIC[8] = {'P', 'A', 'W', 'L', 'B', 'L', 'K', '1'};

pawl_err pawl_blocklist_new(size_t max, struct pawl_blocklist **out)
{
    if (max == 0 || max > (1u << 24))
        return PAWL_EINVAL;
    struct pawl_blocklist *bl = calloc(1, sizeof *bl);
    if (bl == NULL)
        return PAWL_ENOMEM;
    bl->max = max;
    bl->cap = 16;
    while (bl->cap < 2 * max)
        bl->cap *= 2;
    if ((bl->slots = calloc(bl->cap, sizeof *bl->slots)) == NULL) {
        free(bl);
        return PAWL_ENOMEM;
    }
    *out = bl;
    return PAWL_OK;
}

void pawl_blocklist_free(struct pawl_blocklist *bl)
{
    if (bl == NULL)
        return;
    free(bl->slots);
    free(bl);
}

static uint64_t key_of(enum pawl_block_kind kind, pawl_str subject)
{
    uint64_t k = pawl__hash64(0x626c6f636bULL + (uint64_t)kind, subject.p, subject.n);
    return k ? k : 1;
}

/* The slot holding key, or the free slot where it would go. */
static size_t slot_of(const struct pawl_blocklist *bl, uint64_t key)
{
    size_t i = key & (bl->cap - 1);
    while (bl->slots[i].key != 0 && bl->slots[i].key != key)
        i = (i + 1) & (bl->cap - 1);
    return i;
}

/* A block holds until its end. Its start is not a condition: a clock stepped
 * back (NTP correcting a host that started with a wrong time) put blocks made
 * before the step "in the future", and they went unenforced, unlisted and
 * unsaved until the clock caught up (review). */
static bool live(const struct pawl_block *b, int64_t now)
{
    return b->key != 0 && now < b->until_ms;
}

/* Frees slot i and moves back the entries of its probe run that would no
 * longer be found. */
static void erase(struct pawl_blocklist *bl, size_t i)
{
    size_t mask = bl->cap - 1, j = i;
    for (;;) {
        bl->slots[i].key = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (bl->slots[j].key == 0) {
                bl->used--;
                return;
            }
            size_t home = bl->slots[j].key & mask; /* stays if home is in (i, j] */
            if (!(i <= j ? (i < home && home <= j) : (i < home || home <= j)))
                break;
        }
        bl->slots[i] = bl->slots[j];
        i = j;
    }
}

static void purge(struct pawl_blocklist *bl, int64_t now)
{
    for (size_t i = 0; i < bl->cap;) {
        if (bl->slots[i].key != 0 && bl->slots[i].until_ms <= now)
            erase(bl, i); /* slot i may now hold another entry: look again */
        else
            i++;
    }
}

pawl_err pawl_blocklist_add(struct pawl_blocklist *bl, enum pawl_block_kind kind, pawl_str subject,
                            const char *detector, int64_t now_ms, int64_t until_ms)
{
    if (subject.n == 0 || until_ms <= now_ms)
        return PAWL_EINVAL;
    uint64_t key = key_of(kind, subject);
    size_t i = slot_of(bl, key);
    struct pawl_block *b = &bl->slots[i];
    if (b->key == key && b->until_ms > now_ms) { /* live: extended */
        if (until_ms > b->until_ms)
            b->until_ms = until_ms;
        b->count++;
        snprintf(b->detector, sizeof b->detector, "%s", detector);
        return PAWL_OK;
    }
    if (b->key == 0 && bl->used == bl->max) {
        purge(bl, now_ms);
        if (bl->used == bl->max)
            return PAWL_ELIMIT;
        b = &bl->slots[slot_of(bl, key)];
    }
    if (b->key == 0)
        bl->used++;
    memset(b, 0, sizeof *b);
    b->key = key;
    b->since_ms = now_ms;
    b->until_ms = until_ms;
    b->kind = (uint32_t)kind;
    b->count = 1;
    snprintf(b->detector, sizeof b->detector, "%s", detector);
    pawl__clean_copy(b->subject, sizeof b->subject, subject);
    return PAWL_OK;
}

const struct pawl_block *pawl_blocklist_find(const struct pawl_blocklist *bl, enum pawl_block_kind kind,
                                             pawl_str subject, int64_t now_ms)
{
    if (bl->used == 0 || subject.n == 0)
        return NULL;
    const struct pawl_block *b = &bl->slots[slot_of(bl, key_of(kind, subject))];
    return live(b, now_ms) ? b : NULL;
}

bool pawl_blocklist_remove(struct pawl_blocklist *bl, enum pawl_block_kind kind, pawl_str subject,
                           int64_t now_ms)
{
    if (subject.n == 0)
        return false;
    size_t i = slot_of(bl, key_of(kind, subject));
    if (bl->slots[i].key == 0)
        return false;
    bool was_live = live(&bl->slots[i], now_ms);
    erase(bl, i);
    return was_live;
}

const struct pawl_block *pawl_blocklist_next(const struct pawl_blocklist *bl, size_t *it, int64_t now_ms)
{
    if (bl->used == 0) /* the common case: no walk over an empty table (pawld saves it every minute) */
        return NULL;
    while (*it < bl->cap) {
        const struct pawl_block *b = &bl->slots[(*it)++];
        if (live(b, now_ms))
            return b;
    }
    return NULL;
}

size_t pawl_blocklist_live(const struct pawl_blocklist *bl, int64_t now_ms)
{
    size_t n = 0, it = 0;
    while (pawl_blocklist_next(bl, &it, now_ms) != NULL)
        n++;
    return n;
}

pawl_err pawl_blocklist_save(const struct pawl_blocklist *bl, int64_t now_ms,
                             int (*write)(void *ctx, const void *p, size_t n), void *ctx)
{
    uint64_t n = pawl_blocklist_live(bl, now_ms);
    if (write(ctx, MAGIC, sizeof MAGIC) != 0 || write(ctx, &n, sizeof n) != 0)
        return PAWL_EIO;
    size_t it = 0;
    const struct pawl_block *b;
    while ((b = pawl_blocklist_next(bl, &it, now_ms)) != NULL)
        if (write(ctx, b, sizeof *b) != 0)
            return PAWL_EIO;
    return PAWL_OK;
}

static bool entry_ok(const struct pawl_block *b)
{
    return b->key != 0 && (b->kind == PAWL_BLOCK_PRINCIPAL || b->kind == PAWL_BLOCK_ADDRESS) &&
           b->since_ms < b->until_ms && b->subject[0] != '\0' &&
           memchr(b->subject, '\0', sizeof b->subject) != NULL &&
           memchr(b->detector, '\0', sizeof b->detector) != NULL;
}

pawl_err pawl_blocklist_load(struct pawl_blocklist *bl, int (*read)(void *ctx, void *p, size_t n), void *ctx,
                             const char *where, struct pawl_diag *d)
{
    char magic[sizeof MAGIC];
    uint64_t n;
    if (read(ctx, magic, sizeof magic) != 0 || memcmp(magic, MAGIC, sizeof MAGIC) != 0 ||
        read(ctx, &n, sizeof n) != 0) {
        pawl__diagf(d, where, 0, 0, "no block list of pawl here");
        return PAWL_EINVAL;
    }
    if (n > bl->max) {
        pawl__diagf(d, where, 0, 0, "%llu blocks, more than the limit of %zu", (unsigned long long)n, bl->max);
        return PAWL_ELIMIT;
    }
    struct pawl_block *fresh = calloc(bl->cap, sizeof *fresh);
    if (fresh == NULL)
        return PAWL_ENOMEM;
    struct pawl_blocklist tmp = {fresh, bl->cap, bl->max, 0};
    for (uint64_t k = 0; k < n; k++) {
        struct pawl_block b;
        size_t i;
        if (read(ctx, &b, sizeof b) != 0 || !entry_ok(&b) || tmp.slots[i = slot_of(&tmp, b.key)].key != 0) {
            pawl__diagf(d, where, 0, 0, "block list truncated or damaged (entry %llu)", (unsigned long long)k);
            free(fresh);
            return PAWL_EINVAL;
        }
        tmp.slots[i] = b;
        tmp.used++;
    }
    free(bl->slots);
    bl->slots = tmp.slots;
    bl->used = tmp.used;
    return PAWL_OK;
}
