/* see pawl/ratelimit.h */
#include "pawl/ratelimit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 8

struct slot {
    uint64_t key; /* 0 = never used */
    int64_t tat;  /* microseconds */
};

struct pawl_ratelimit {
    struct slot *slots;   /* nbuckets * WAYS, 64-byte aligned */
    size_t nbuckets;      /* power of two */
    struct pawl_rl_stats st;
};

pawl_err pawl_ratelimit_new(size_t max_keys, struct pawl_ratelimit **out)
{
    struct pawl_ratelimit *rl = calloc(1, sizeof *rl);
    size_t nb = 1;
    if (rl == NULL)
        return PAWL_ENOMEM;
    /* Half-full buckets on average keep live evictions rare at max_keys. */
    while (nb * WAYS < max_keys * 2)
        nb *= 2;
    if ((rl->slots = pawl__table_alloc(nb * WAYS * sizeof(struct slot))) == NULL) {
        free(rl);
        return PAWL_ENOMEM;
    }
    rl->nbuckets = nb;
    rl->st.slots = nb * WAYS;
    *out = rl;
    return PAWL_OK;
}

void pawl_ratelimit_free(struct pawl_ratelimit *rl)
{
    if (rl == NULL)
        return;
    free(rl->slots);
    free(rl);
}

size_t pawl_ratelimit_memory(const struct pawl_ratelimit *rl)
{
    return sizeof *rl + rl->nbuckets * WAYS * sizeof(struct slot);
}

void pawl_ratelimit_stats(const struct pawl_ratelimit *rl, struct pawl_rl_stats *out)
{
    *out = rl->st;
}

/* The bucket of key (already remapped from 0). */
static struct slot *bucket(const struct pawl_ratelimit *rl, uint64_t key)
{
    return &rl->slots[(key & (rl->nbuckets - 1)) * WAYS];
}

void pawl_ratelimit_prefetch(const struct pawl_ratelimit *rl, uint64_t key)
{
    const struct slot *b = bucket(rl, key ? key : 1);
    __builtin_prefetch(b);
    __builtin_prefetch(b + WAYS / 2);
}

/* The slot holding key, or NULL. Key 0 is remapped so that 0 means empty. */
static struct slot *find(struct pawl_ratelimit *rl, uint64_t key)
{
    struct slot *b = bucket(rl, key);
    for (int i = 0; i < WAYS; i++)
        if (b[i].key == key)
            return &b[i];
    return NULL;
}

/* A slot for a new key: an empty or idle one, else the one closest to idle. */
static struct slot *claim(struct pawl_ratelimit *rl, uint64_t key, int64_t now)
{
    struct slot *b = bucket(rl, key), *victim = &b[0];
    for (int i = 0; i < WAYS; i++) {
        if (b[i].key == 0 || b[i].tat <= now)
            return &b[i];
        if (b[i].tat < victim->tat)
            victim = &b[i];
    }
    rl->st.evicted_live++;
    return victim;
}

bool pawl_ratelimit_check(struct pawl_ratelimit *rl, const struct pawl_rl_check *c, unsigned n,
                          int64_t now_us, int64_t *retry_after_us, unsigned *which)
{
    int64_t newtat[8];
    uint64_t key[8];
    struct slot *s[8];
    if (n > 8)
        n = 8; /* the decision path checks at most four buckets */
    rl->st.checks++;
    /* The buckets are random cache misses: start them all before the first probe. */
    for (unsigned i = 0; i < n; i++) {
        key[i] = c[i].key ? c[i].key : 1; /* 0 marks an empty slot */
        const struct slot *b = bucket(rl, key[i]);
        if (c[i].rate.interval_us != 0) { /* an unset limit reads nothing */
            __builtin_prefetch(b);
            __builtin_prefetch(b + WAYS / 2);
        }
    }
    bool ok = true;
    for (unsigned i = 0; i < n; i++) {
        const struct pawl_rate *r = &c[i].rate;
        if (r->interval_us == 0) {
            s[i] = NULL;
            continue;
        }
        s[i] = find(rl, key[i]);
        int64_t tat = s[i] && s[i]->tat > now_us ? s[i]->tat : now_us;
        newtat[i] = tat + r->interval_us;
        int64_t wait = newtat[i] - now_us - r->burst * r->interval_us;
        /* Report the longest wait, so that a client that waits it is not refused again. */
        if (wait > 0 && (ok || wait > *retry_after_us)) {
            *retry_after_us = wait;
            *which = i;
            ok = false;
        }
    }
    if (!ok) {
        rl->st.denied++;
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (c[i].rate.interval_us == 0)
            continue;
        struct slot *t = s[i] && s[i]->key == key[i] ? s[i] : claim(rl, key[i], now_us);
        t->key = key[i];
        t->tat = newtat[i];
    }
    return true;
}

void pawl_ratelimit_raise(struct pawl_ratelimit *rl, uint64_t key, int64_t tat_us, int64_t now_us)
{
    key = key ? key : 1;
    if (tat_us <= now_us)
        return;
    struct slot *s = find(rl, key);
    if (s == NULL) {
        s = claim(rl, key, now_us);
        s->key = key;
        s->tat = tat_us;
    } else if (s->tat < tat_us) {
        s->tat = tat_us;
    }
}

int64_t pawl_ratelimit_tat(const struct pawl_ratelimit *rl, uint64_t key)
{
    const struct slot *b = bucket(rl, key ? key : 1);
    for (int i = 0; i < WAYS; i++)
        if (b[i].key == (key ? key : 1))
            return b[i].tat;
    return 0;
}

/* An open-addressed index (linear probing, at most half full) over a dense
 * array of charges: adding is O(1), listing and clearing O(keys). */
struct pawl_rl_journal {
    uint32_t *index; /* 0 empty, else 1 + the charge's position */
    size_t mask;
    struct pawl_rl_charge *charges;
    uint32_t *slot_of; /* each charge's index slot, for clearing */
    size_t n, max;
};

pawl_err pawl_rl_journal_new(size_t max_keys, struct pawl_rl_journal **out)
{
    struct pawl_rl_journal *j = calloc(1, sizeof *j);
    size_t cap = 2;
    if (max_keys == 0 || max_keys > UINT32_MAX / 4) {
        free(j);
        return PAWL_EINVAL;
    }
    while (cap < max_keys * 2)
        cap *= 2;
    if (j == NULL || (j->index = calloc(cap, sizeof *j->index)) == NULL ||
        (j->charges = calloc(max_keys, sizeof *j->charges)) == NULL ||
        (j->slot_of = calloc(max_keys, sizeof *j->slot_of)) == NULL) {
        pawl_rl_journal_free(j);
        return PAWL_ENOMEM;
    }
    j->mask = cap - 1;
    j->max = max_keys;
    *out = j;
    return PAWL_OK;
}

void pawl_rl_journal_free(struct pawl_rl_journal *j)
{
    if (j == NULL)
        return;
    free(j->index);
    free(j->charges);
    free(j->slot_of);
    free(j);
}

/* The index slot that holds key, or the empty one where it would go. */
static uint32_t *journal_slot(const struct pawl_rl_journal *j, uint64_t key)
{
    size_t i = (size_t)(key ^ (key >> 29)) & j->mask;
    while (j->index[i] != 0 && j->charges[j->index[i] - 1].key != key)
        i = (i + 1) & j->mask;
    return &j->index[i];
}

unsigned pawl_rl_journal_add(struct pawl_rl_journal *j, const struct pawl_rl_check *c, unsigned n,
                             int64_t now_us)
{
    unsigned dropped = 0;
    for (unsigned i = 0; i < n; i++) {
        if (c[i].rate.interval_us <= 0)
            continue;
        uint64_t key = c[i].key ? c[i].key : 1; /* as the limiter keys it */
        uint32_t *at = journal_slot(j, key);
        if (*at == 0 && j->n == j->max) {
            dropped++;
            continue;
        }
        if (*at == 0) {
            j->charges[j->n] = (struct pawl_rl_charge){ key, 0, now_us, 0, 0 };
            j->slot_of[j->n] = (uint32_t)(at - j->index);
            *at = (uint32_t)++j->n;
        }
        struct pawl_rl_charge *ch = &j->charges[*at - 1];
        ch->interval_us = c[i].rate.interval_us; /* the newest, should a reload change it */
        ch->tat_us = (ch->tat_us > now_us ? ch->tat_us : now_us) + ch->interval_us;
        if (ch->count < UINT32_MAX)
            ch->count++;
    }
    return dropped;
}

const struct pawl_rl_charge *pawl_rl_journal_charges(const struct pawl_rl_journal *j, size_t *n)
{
    *n = j->n;
    return j->charges;
}

const struct pawl_rl_charge *pawl_rl_journal_find(const struct pawl_rl_journal *j, uint64_t key)
{
    uint32_t at = *journal_slot(j, key ? key : 1);
    return at ? &j->charges[at - 1] : NULL;
}

void pawl_rl_journal_clear(struct pawl_rl_journal *j)
{
    for (size_t i = 0; i < j->n; i++) /* not by probing: a cleared slot would cut the chains */
        j->index[j->slot_of[i]] = 0;
    j->n = 0;
}
