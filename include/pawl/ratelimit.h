/* pawl/ratelimit.h: GCRA rate limiting with bounded memory.
 *
 * Each key holds one 64-bit theoretical arrival time (TAT). A check is O(1):
 * one bucket of 8 slots (two cache lines) per key. A key whose TAT is in the
 * past is indistinguishable from an absent key, so its slot is reused freely:
 * idle keys cost nothing and need no sweeper. When a bucket is full of live
 * keys, the key closest to being idle is evicted (counted in stats). */
#ifndef PAWL_RATELIMIT_H
#define PAWL_RATELIMIT_H

#include "pawl/common.h"
#include "pawl/policy.h"

struct pawl_ratelimit;

/* One bucket to check: key (a 64-bit hash of what is limited) and its limit. */
struct pawl_rl_check {
    uint64_t key;
    struct pawl_rate rate;
};

struct pawl_rl_stats {
    uint64_t checks, denied, evicted_live;
    size_t slots;
};

/* Room for at least max_keys live keys. */
PAWL_MUST_CHECK pawl_err pawl_ratelimit_new(size_t max_keys, struct pawl_ratelimit **out);
void pawl_ratelimit_free(struct pawl_ratelimit *rl);

/* Check n buckets at now_us. All pass: each is charged one request and true is
 * returned. Any fails: nothing is charged; *which and *retry_after_us name
 * the refusing bucket with the longest wait (after it, every bucket passes). Limits with interval_us == 0 pass. */
PAWL_MUST_CHECK bool pawl_ratelimit_check(struct pawl_ratelimit *rl, const struct pawl_rl_check *c,
                                          unsigned n, int64_t now_us, int64_t *retry_after_us,
                                          unsigned *which);
/* A hint, no effect on results: start loading key's bucket into the CPU
 * cache, so that a check a little later does not wait for memory. */
void pawl_ratelimit_prefetch(const struct pawl_ratelimit *rl, uint64_t key);
void pawl_ratelimit_stats(const struct pawl_ratelimit *rl, struct pawl_rl_stats *out);
/* Bytes of memory held. */
size_t pawl_ratelimit_memory(const struct pawl_ratelimit *rl);

/* Makes key's TAT at least tat_us: what other processes sharing the limit
 * charged to it (pawld's rate_limits.redis). A tat_us at or before now_us
 * (nothing owed) changes nothing. An absent key takes a slot as a charge
 * does, evicting as pawl_ratelimit_check would. */
void pawl_ratelimit_raise(struct pawl_ratelimit *rl, uint64_t key, int64_t tat_us, int64_t now_us);
/* key's TAT, or 0 when it holds none. */
int64_t pawl_ratelimit_tat(const struct pawl_ratelimit *rl, uint64_t key);

/* The charges one process made since it last told the others: per key, how
 * many requests were charged, when the first was, the TAT those charges
 * alone give (GCRA from an idle key: each charge at its time, one interval
 * each), and the limit's interval. Bounded: a key that finds no room is not
 * journalled. */
struct pawl_rl_charge {
    uint64_t key;
    int64_t interval_us;
    int64_t first_us;
    int64_t tat_us;
    uint32_t count;
};

struct pawl_rl_journal;

/* Room for max_keys keys. */
PAWL_MUST_CHECK pawl_err pawl_rl_journal_new(size_t max_keys, struct pawl_rl_journal **out);
void pawl_rl_journal_free(struct pawl_rl_journal *j);
/* Records one charge at now_us to each of c[0..n) whose limit is set
 * (interval_us > 0), as pawl_ratelimit_check made when it passed. Returns
 * how many found no room. */
unsigned pawl_rl_journal_add(struct pawl_rl_journal *j, const struct pawl_rl_check *c, unsigned n,
                             int64_t now_us);
/* The journalled charges, in the order their keys were first charged. */
const struct pawl_rl_charge *pawl_rl_journal_charges(const struct pawl_rl_journal *j, size_t *n);
/* key's entry, or NULL when none. */
const struct pawl_rl_charge *pawl_rl_journal_find(const struct pawl_rl_journal *j, uint64_t key);
void pawl_rl_journal_clear(struct pawl_rl_journal *j);

#endif
