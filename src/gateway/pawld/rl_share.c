/* rate_limits.redis: the policy's rate limits held by every pawld instance
 * that names the same Redis, not by each alone (behind a balancer, each
 * instance had let through the whole limit: n instances, n times the
 * limit; decision 0018).
 *
 * No request waits for Redis. Each instance decides on its own limiter as
 * before, and journals what it charged (per key: how many requests, when
 * the first was, the limit's interval). A thread of its own, every
 * rate_limits.sync, tells Redis those charges and learns from its answer
 * what every instance has charged each of those keys: a script adds them to
 * the key's shared theoretical arrival time (GCRA, as the local limiter
 * keeps one; PUSH_LUA says how) and answers how far ahead of Redis's clock
 * it now is. The local key is raised to that, plus what this instance
 * charged since. Over time each key lets
 * through its limit across the instances; between two syncs each instance
 * may let through what its own limiter allows (see docs/gateway.md).
 *
 * The keys are the limiter's 64-bit keys, which hash the principal, route
 * and vehicle under a secret seed. The instances share the seed through
 * Redis (PREFIX "seed", set by the first and checked on every sync), so that
 * they derive the same keys. An instance that cannot get it keeps its own
 * random seed and limits alone until it can; then its workers build new
 * engines with the shared seed. */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/ratelimit.h"
#include "pawld.h"

#define DEFAULT_PREFIX "pawl:rl:"
#define CHUNK 256          /* keys per script call */
#define ARGS (5 + 4 * CHUNK) /* EVAL, script, count, seed key; keys; seed; 3 numbers a key */
#define JOURNAL_KEYS 65536 /* keys journalled between two syncs; more are not told */

/* KEYS[1] the seed, KEYS[2..] the charged keys; ARGV[1] the seed this
 * instance uses (set when there is none), then per key: the work of the
 * charges since the last sync (count x interval), how long ago the first of
 * them was, and what this instance's own TAT for the key owes (µs, as
 * durations: the clocks need not agree). A key holds "TAT BUSY": its GCRA
 * TAT and when the stretch of work that ends there began (Redis's clock).
 * Answers {seed} when the seed differs, else {seed, debt...}: each key's
 * TAT minus Redis's clock.
 *
 * Charges that began within the stored stretch queue behind it: TAT +
 * work. Ones that began before it may have drained before its work
 * arrived, so they add only what is left after the time between their
 * first and the stretch's start (review 15: adding all of it refused a
 * client within its limit). A stored TAT before the first charge ends the
 * stretch: a new one begins there. Each step stays at or below the TAT of
 * every instance's charges in their order, so the sharing never refuses a
 * client within its limit, and charges made during one stretch add up in
 * full (an earlier version that added only what each instance's charges
 * owed alone let three instances through at 2.4 times the limit). The
 * result is at least the instance's own TAT, so a Redis that lost its data
 * is refilled from what the instances know (its stretch then begins now).
 * A key whose TAT is not ahead is not stored; one that is expires a second
 * after it. Numbers stay below 2^53 (µs since 1970 are about 2^51). */
#define PUSH_LUA                                                                             \
    "local s = redis.call('get', KEYS[1]) "                                                  \
    "if not s then redis.call('set', KEYS[1], ARGV[1]) s = ARGV[1] end "                     \
    "if s ~= ARGV[1] then return {s} end "                                                   \
    "local t = redis.call('time') "                                                          \
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "                                 \
    "local out = {s} "                                                                       \
    "for i = 2, #KEYS do "                                                                   \
    "  local a = 3 * i - 4 "                                                                 \
    "  local work, first = tonumber(ARGV[a]), now - tonumber(ARGV[a + 1]) "                  \
    "  local own = now + tonumber(ARGV[a + 2]) "                                             \
    "  local tat, busy = 0, 0 "                                                              \
    "  local v = redis.call('get', KEYS[i]) "                                                \
    "  if v then "                                                                           \
    "    local x, y = string.match(v, '^(%d+) (%d+)$') "                                     \
    "    tat, busy = tonumber(x) or 0, tonumber(y) or 0 "                                    \
    "  end "                                                                                 \
    "  if tat < first then tat, busy = first, first end "                                    \
    "  if first >= busy then tat = tat + work "                                              \
    "  elseif work > busy - first then tat = tat + work - (busy - first) end "               \
    "  if tat < own then tat, busy = own, now end "                                          \
    "  if tat > now then "                                                                   \
    "    redis.call('set', KEYS[i], string.format('%.0f %.0f', tat, busy), 'px', "           \
    "               math.floor((tat - now) / 1000) + 1000) "                                 \
    "  end "                                                                                 \
    "  out[i] = tat - now "                                                                  \
    "end "                                                                                   \
    "return out"

struct pawld_rl_share {
    struct pawld_server_state *srv;
    struct pawld_redis_conn k;
    struct pawld_ticker ticker;
    char seed_hex[17];
    bool seeded; /* seed_hex is the one in Redis, and the limiter's */
    struct pawl_rl_journal *spare; /* the journal being told */
    struct pawld_ratelog warned;
    atomic_ullong ok, failed, unshared;
};

static void warn(struct pawld_rl_share *s, const char *msg, const char *why)
{
    char esc[900];
    uint64_t skipped;
    if (pawld_ratelog_take(&s->warned, pawld_wall_ms(), &skipped))
        pawld_log(s->srv->sinks, "error", "\"msg\":\"rate_limits.redis: %s\",\"why\":\"%s\","
                  "\"not_logged_before\":%llu", msg, pawld_json_escape(why, esc, sizeof esc),
                  (unsigned long long)skipped);
}

/* The charges being told, from the from-th key on, are not told: each
 * instance limited them alone (told later, they would count as charges made
 * then). */
static void drop_spare(struct pawld_rl_share *s, size_t from)
{
    size_t n;
    const struct pawl_rl_charge *ch = pawl_rl_journal_charges(s->spare, &n);
    uint64_t lost = 0;
    for (size_t i = from; i < n; i++)
        lost += ch[i].count;
    atomic_fetch_add(&s->unshared, lost);
    pawl_rl_journal_clear(s->spare);
}

/* After a failure (the spare's keys from the from-th on not told): the
 * connection goes, and none is tried again for a second (or ten timeouts). */
static void fail(struct pawld_rl_share *s, size_t from, const char *why)
{
    drop_spare(s, from);
    atomic_fetch_add(&s->failed, 1);
    pawld_redis_conn_fail(&s->k, why);
    warn(s, s->seeded ? "cannot share the rate limits: each instance limits alone until Redis answers"
                      : "cannot get the shared seed: this instance limits alone until Redis answers",
         why);
}

/* The limiter's keys follow the seed: the journal's charges were keyed with
 * the old one, and the workers build new engines (engine.c derives the keys). */
static void adopt_seed(struct pawld_rl_share *s, const char *hex)
{
    struct pawld_server_state *srv = s->srv;
    uint64_t seed = strtoull(hex, NULL, 16);
    pthread_mutex_lock(&srv->rl_lock);
    srv->rl_backend.seed = seed;
    pawl_rl_journal_clear(srv->rl_journal);
    srv->rl_sharing = true;
    pthread_mutex_unlock(&srv->rl_lock);
    atomic_fetch_add(&srv->rl_seed_gen, 1);
    bool was = s->seeded;
    snprintf(s->seed_hex, sizeof s->seed_hex, "%s", hex);
    s->seeded = true;
    pawl_rl_journal_clear(s->spare);
    pawld_workers_wake(srv); /* those started: the others build their engines with it */
    pawld_log(srv->sinks, "info", "\"msg\":\"rate_limits.redis: %s\"",
              was ? "another instance set a new seed in Redis (Redis lost the old one?): this one "
                    "uses it now; the limits start afresh"
                  : "rate limits are shared with the pawld instances using this Redis");
}

/* One script call for charges c[0..n): 0, or -1 with why. An answer with
 * another seed adopts it (1). */
static int push(struct pawld_rl_share *s, const struct pawl_rl_charge *c, size_t n, char *why, size_t wn)
{
    const char *argv[ARGS]; /* review 16: one short, written past when a chunk was full */
    size_t lens[ARGS];
    char keys[CHUNK + 1][160], nums[3 * CHUNK][24], nkeys[16];
    int64_t own[CHUNK];
    struct pawld_server_state *srv = s->srv;
    const char *prefix = s->k.r.prefix ? s->k.r.prefix : DEFAULT_PREFIX;
    size_t a = 0;
    argv[a++] = "EVAL";
    argv[a++] = PUSH_LUA;
    snprintf(nkeys, sizeof nkeys, "%zu", n + 1);
    argv[a++] = nkeys;
    snprintf(keys[0], sizeof keys[0], "%sseed", prefix);
    argv[a++] = keys[0];
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i + 1], sizeof keys[i + 1], "%s%016" PRIx64, prefix, c[i].key);
        argv[a++] = keys[i + 1];
    }
    argv[a++] = s->seed_hex;
    pthread_mutex_lock(&srv->rl_lock);
    for (size_t i = 0; i < n; i++)
        own[i] = pawl_ratelimit_tat(srv->rl, c[i].key);
    pthread_mutex_unlock(&srv->rl_lock);
    int64_t at = pawld_wall_ms() * 1000;
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[3 * i], sizeof nums[0], "%" PRId64, (int64_t)c[i].count * c[i].interval_us);
        snprintf(nums[3 * i + 1], sizeof nums[0], "%" PRId64, at > c[i].first_us ? at - c[i].first_us : 0);
        snprintf(nums[3 * i + 2], sizeof nums[0], "%" PRId64, own[i] > at ? own[i] - at : 0);
        for (size_t k = 0; k < 3; k++)
            argv[a++] = nums[3 * i + k];
    }
    if (a > ARGS)
        abort(); /* cannot happen: n <= CHUNK */
    for (size_t i = 0; i < a; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = redisCommandArgv(s->k.ctx, (int)a, argv, lens);
    char seed[17], bad[300];
    int64_t debt[CHUNK];
    int rc = pawl_rl_reply(rep, s->seeded ? s->seed_hex : NULL, n, seed, debt, bad, sizeof bad);
    if (rc < 0 && (rep == NULL || rep->type == REDIS_REPLY_ERROR)) {
        pawld_redis_say(s->k.ctx, rep, "EVAL (the shared rate limits)", why, wn);
    } else if (rc < 0) {
        snprintf(why, wn, "EVAL (the shared rate limits): %s", bad);
    } else if (rc > 0) {
        adopt_seed(s, seed);
    } else {
        /* the answer is relative to Redis's clock when the script ran,
         * between at and now: from at, so that a round trip does not add
         * to the debt at every sync (review 16) */
        int64_t now = pawld_wall_ms() * 1000;
        pthread_mutex_lock(&srv->rl_lock);
        for (size_t i = 0; i < n; i++) {
            if (debt[i] == INT64_MIN)
                continue;
            /* what was charged here since the journals were swapped owes
             * on top (not in Redis yet) */
            const struct pawl_rl_charge *since = pawl_rl_journal_find(srv->rl_journal, c[i].key);
            int64_t owed = since && since->tat_us > now ? since->tat_us - now : 0;
            pawl_ratelimit_raise(srv->rl, c[i].key, at + debt[i] + owed, now);
        }
        pthread_mutex_unlock(&srv->rl_lock);
    }
    freeReplyObject(rep);
    return rc;
}

/* One sync: the charges journalled since the last are taken (and dropped
 * while Redis cannot be asked), the seed got when there is none, then the
 * charges told and learnt in chunks. */
static void sync_once(void *arg, bool last)
{
    struct pawld_rl_share *s = arg;
    (void)last; /* the charges of a stopping instance are told as any others */
    struct pawld_server_state *srv = s->srv;
    char why[700];
    if (s->seeded) {
        pthread_mutex_lock(&srv->rl_lock);
        struct pawl_rl_journal *told = srv->rl_journal;
        srv->rl_journal = s->spare;
        s->spare = told;
        uint64_t dropped = srv->rl_unjournalled;
        srv->rl_unjournalled = 0;
        pthread_mutex_unlock(&srv->rl_lock);
        atomic_fetch_add(&s->unshared, dropped);
    }
    if (pawld_redis_conn_waiting(&s->k)) {
        drop_spare(s, 0); /* the back-off: said when it began */
        return;
    }
    if (pawld_redis_conn_get(&s->k, why, sizeof why) == NULL) {
        fail(s, 0, why);
        return;
    }
    if (!s->seeded) {
        if (push(s, NULL, 0, why, sizeof why) < 0)
            fail(s, 0, why);
        return;
    }
    size_t n;
    const struct pawl_rl_charge *ch = pawl_rl_journal_charges(s->spare, &n);
    for (size_t i = 0; i < n || i == 0; i += CHUNK) { /* with nothing charged, the seed is checked */
        int rc = push(s, ch + i, n - i < CHUNK ? n - i : CHUNK, why, sizeof why);
        if (rc < 0) {
            fail(s, i, why);
            return;
        }
        if (rc > 0) /* a new seed: the rest was keyed with the old one */
            return;
    }
    pawl_rl_journal_clear(s->spare);
    atomic_fetch_add(&s->ok, 1);
}

int pawld_rl_share_start(struct pawld_server_state *srv, char *err, size_t n)
{
    const struct pawld_config *c = srv->world->cfg;
    if (!c->rl_redis.on)
        return 0;
    struct pawld_rl_share *s = calloc(1, sizeof *s);
    unsigned char rnd[8];
    if (s == NULL || pawld_redis_conn_init(&s->k, &c->rl_redis, srv->world->dir) != 0 ||
        pawl_rl_journal_new(JOURNAL_KEYS, &s->spare) != PAWL_OK ||
        pawl_rl_journal_new(JOURNAL_KEYS, &srv->rl_journal) != PAWL_OK || RAND_bytes(rnd, 8) != 1) {
        snprintf(err, n, "rate_limits.redis: out of memory");
        if (s != NULL) {
            pawld_redis_conn_free(&s->k);
            pawl_rl_journal_free(s->spare);
        }
        free(s);
        return -1;
    }
    s->srv = srv;
    for (size_t i = 0; i < 8; i++)
        snprintf(s->seed_hex + 2 * i, 3, "%02x", rnd[i]);
    srv->rl_share = s;
    sync_once(s, false); /* the seed, before the workers build their engines */
    if (pawld_ticker_start(&s->ticker, c->rl_sync_ms, sync_once, s) != 0) {
        snprintf(err, n, "rate_limits.redis: cannot start its thread");
        return -1;
    }
    return 0;
}

void pawld_rl_share_stop(struct pawld_server_state *srv)
{
    struct pawld_rl_share *s = srv->rl_share;
    if (s == NULL)
        return;
    pawld_ticker_stop(&s->ticker);
    pawld_redis_conn_free(&s->k);
    pawl_rl_journal_free(s->spare);
    pawl_rl_journal_free(srv->rl_journal);
    srv->rl_journal = NULL;
    free(s);
    srv->rl_share = NULL;
}

void pawld_rl_share_stats(struct pawld_server_state *srv, struct pawld_rl_sync_stats *out)
{
    struct pawld_rl_share *s = srv->rl_share;
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return;
    out->on = true;
    pthread_mutex_lock(&srv->rl_lock);
    out->shared = srv->rl_sharing;
    out->unshared = srv->rl_unjournalled;
    pthread_mutex_unlock(&srv->rl_lock);
    out->ok = atomic_load(&s->ok);
    out->failed = atomic_load(&s->failed);
    out->unshared += atomic_load(&s->unshared);
}

int pawld_rl_share_probe(const struct pawld_world *wd, char *why, size_t n)
{
    const struct pawld_redis *r = &wd->cfg->rl_redis;
    char what[600], seed[160], probe[160];
    redisContext *ctx = pawld_redis_connect(r, wd->dir, what, sizeof what);
    if (ctx == NULL)
        return snprintf(why, n, "%s: each pawld instance applies the rate limits alone until it answers",
                        what), -1;
    /* what the sync's script does, on a probe key: read the seed, read the
     * clock, set a key with a lifetime (ACLs apply inside scripts) */
    snprintf(seed, sizeof seed, "%sseed", r->prefix ? r->prefix : DEFAULT_PREFIX);
    snprintf(probe, sizeof probe, "%sprobe", r->prefix ? r->prefix : DEFAULT_PREFIX);
    redisReply *rep = redisCommand(ctx, "EVAL %s 2 %s %s", "local s = redis.call('get', KEYS[1]) "
                                   "redis.call('time') redis.call('set', KEYS[2], '0', 'px', 1000) "
                                   "return s or ''", seed, probe);
    int rc = rep != NULL && rep->type == REDIS_REPLY_STRING ? 0 : -1;
    if (rc != 0) {
        pawld_redis_say(ctx, rep, "EVAL (pawld shares the rate limits with a script)", what, sizeof what);
        snprintf(why, n, "%s: each pawld instance applies the rate limits alone until it may", what);
    } else if (pawld_redis_may_evict(ctx, what, sizeof what)) { /* review 14 */
        snprintf(why, n, "%s: Redis may evict the shared counts, forgiving whom they held, or the seed, "
                 "starting every count afresh (set maxmemory-policy noeviction)", what);
        rc = -1;
    }
    freeReplyObject(rep);
    redisFree(ctx);
    return rc;
}
