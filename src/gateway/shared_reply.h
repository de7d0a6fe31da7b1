/* shared_reply.h: what pawld reads back from the Redis its instances share
 * (detect.redis, rate_limits.redis), checked as untrusted input: anyone who
 * may write the keys writes these answers, and a bad one must be refused
 * with a reason, never trusted, never a crash (fuzz/fuzz_shared_reply.c).
 * No I/O: the callers in src/gateway/pawld/ send the commands. */
#ifndef PAWL_GW_SHARED_REPLY_H
#define PAWL_GW_SHARED_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/blocklist.h"

struct redisReply;

/* detect.redis: a block set or lifted, as the instances tell each other. */
enum pawld_block_op { PAWLD_BLOCK_SET = 1, PAWLD_BLOCK_LIFT = 2 };
struct pawld_block_event {
    enum pawld_block_op op;
    enum pawl_block_kind kind;
    char subject[256]; /* exact, not cleaned; subject_len bytes */
    size_t subject_len;
    char detector[PAWL_BLOCK_DETECTOR_MAX];
    int64_t until_ms; /* PAWLD_BLOCK_SET: wall clock */
};
#define PAWLD_BLOCK_MAX_FOR_MS (30 * 86400000LL) /* block_for's bound: an entry asking longer is refused */

/* The clocks an entry is read against: Redis's at the last sync, this
 * instance's lead over it, and how long entries are kept (raised to the
 * longest duration an accepted entry asks). */
struct pawld_block_clock {
    int64_t redis_now_ms;
    int64_t skew_ms;
    int64_t keep_ms;
};

/* TIME's answer (seconds, microseconds; digits only) in ms: 0, or -1. */
int pawl_redis_time_ms(const struct redisReply *rep, int64_t *ms);

/* A stream entry id, "MS-SEQ" (digits only, each part up to 19): true with
 * its parts. */
bool pawld_stream_id(const char *s, uint64_t *ms, uint64_t *seq);

/* The value of field name in a stream entry's field-value array (a string),
 * or NULL. */
const struct redisReply *pawl_redis_field(const struct redisReply *fv, const char *name);

/* XREAD of one stream: 1 with its entries' array in *entries, 0 when there
 * is nothing new (nil), -1 when the answer has another shape. */
int pawl_xread_entries(const struct redisReply *rep, const struct redisReply **entries);

/* One of the entries: true with its id (a string shorter than id_max) and
 * its field-value array; false when it is not an entry. */
bool pawl_stream_entry(const struct redisReply *en, size_t id_max, const char **id,
                       const struct redisReply **fv);

/* A detect.redis entry into e: true when it is one pawld writes (the exact
 * op and kind, a subject, for a block a known detector and a duration in
 * whole ms up to PAWLD_BLOCK_MAX_FOR_MS, from an id whose time is neither
 * ahead of Redis's clock by more than a minute nor older than twice the
 * bound). A block ends at the id's time plus its duration, on this
 * instance's clock. */
bool pawld_block_entry(struct pawld_block_clock *c, const char *id, const struct redisReply *fv,
                       struct pawld_block_event *e);

/* hiredis 0.14's reader allocates an array's declared length before its
 * elements arrive: one line "*700000000" costs 5.6 GB. This bounds what a
 * reader takes (a longer array is an out-of-memory error of the reader);
 * pawld's answers hold at most a few hundred elements. */
#define PAWL_REDIS_MAX_ELEMENTS 65536
struct redisReader;
void pawl_redis_reader_bound(struct redisReader *r);

#define PAWL_RL_MAX_DEBT_US (366LL * 86400 * 1000000) /* a year: more is not a limiter's */

/* The rate-limit script's answer for n keys: {seed} or {seed, debt x n}.
 * 1 when its seed (16 hex digits, into seed[17]) differs from want (or
 * want is NULL); 0 with debts[0..n) in µs, each key's TAT minus Redis's
 * clock (INT64_MIN: none for that key, an answer that is not an integer);
 * -1 with why for any other shape or a debt beyond PAWL_RL_MAX_DEBT_US
 * either way. */
int pawl_rl_reply(const struct redisReply *rep, const char *want, size_t n, char seed[17],
                  int64_t *debts, char *why, size_t wn);

#endif
