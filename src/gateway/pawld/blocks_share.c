/* detect.redis: the blocks the detectors set (detect.block) held by every
 * pawld instance that names the same Redis (a block held only where its
 * detector fired, and a balancer sent the blocked principal to another
 * instance; decision 0018).
 *
 * The instances tell each other what they did to a block through a Redis
 * stream, PREFIX "log": one entry per block set or extended (kind, exact
 * subject, detector, for how long from the entry's time) and per block
 * lifted on an admin listener, with the telling instance's id. A thread of
 * each instance, every 100 ms, appends what its own detectors and admins
 * did (kept until Redis took it) and reads every entry appended since its
 * last read, its own included, applying them in the stream's order, so that
 * every instance ends with what the stream says, even when a lift and an
 * extension crossed (review 15). At start it reads the whole stream before
 * the workers serve. Times travel as durations: an entry's end is its id's
 * time (Redis's clock) plus its duration, converted with the offset between
 * Redis's clock and this instance's, read at each sync; entries older than
 * the longest block_for seen are trimmed by Redis's clock. No request waits
 * for Redis. */
#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/detect.h"
#include "pawld.h"

#define DEFAULT_PREFIX "pawl:blocks:"
#define SYNC_MS 100
#define READ_COUNT 256 /* entries per XREAD */
#define READS_PER_SYNC 64 /* at start: until the end */

struct pawld_blocks_share {
    struct pawld_server_state *srv;
    struct pawld_redis_conn k;
    struct pawld_ticker ticker;
    char stream[160];
    char id[17];      /* this instance's, in each entry it adds */
    char last[48];    /* the last entry read ("0-0": none yet) */
    struct pawld_block_clock clock; /* Redis's at the last sync, this instance's lead, and keep_ms:
                                     * entries older are trimmed (the longest block_for seen) */
    struct pawld_block_event batch[PAWLD_BLOCK_OUTBOX];
    bool told[PAWLD_BLOCK_OUTBOX];
    struct pawld_ratelog warned, refused_warned;
    atomic_ullong ok, failed, told_n, learnt, refused;
    struct pawld_windows *windows; /* detect.windows shared; NULL when local */
    struct pawld_stream_reader stuck;
};

static void fail(struct pawld_blocks_share *s, const char *why)
{
    char esc[900];
    uint64_t skipped;
    atomic_fetch_add(&s->failed, 1);
    pawld_redis_conn_fail(&s->k, why);
    if (pawld_ratelog_take(&s->warned, pawld_wall_ms(), &skipped))
        pawld_log(s->srv->sinks, "error", "\"msg\":\"detect.redis: cannot share the blocks: each "
                  "instance holds its own until Redis answers (its own are told then)%s\",\"why\":\"%s\","
                  "\"not_logged_before\":%llu", s->windows ? "; the detectors judge this instance's "
                  "requests alone" : "", pawld_json_escape(why, esc, sizeof esc),
                  (unsigned long long)skipped);
}

/* Redis's clock, and how far this instance's is ahead of it: 0, or -1
 * with why. */
static int clocks(struct pawld_blocks_share *s, char *why, size_t wn)
{
    redisReply *rep = redisCommand(s->k.ctx, "TIME");
    int rc = pawl_redis_time_ms(rep, &s->clock.redis_now_ms);
    if (rc == 0)
        s->clock.skew_ms = pawld_wall_ms() - s->clock.redis_now_ms;
    else
        pawld_redis_say(s->k.ctx, rep, "TIME (the shared blocks)", why, wn);
    freeReplyObject(rep);
    return rc;
}

/* Appends the outbox's events to the stream, one pipelined XADD each, the
 * first trimming entries older than keep_ms by Redis's clock: 0, or -1
 * with why (those Redis did not take stay in the outbox). */
static int tell(struct pawld_blocks_share *s, char *why, size_t wn)
{
    size_t n = pawld_detect_outbox(s->srv, s->batch, PAWLD_BLOCK_OUTBOX);
    if (n == 0)
        return 0;
    char minid[32], dur[24];
    snprintf(minid, sizeof minid, "%lld", (long long)(s->clock.redis_now_ms - s->clock.keep_ms));
    int64_t now = pawld_wall_ms();
    size_t sent = 0; /* the entries appended, in order; sets that have ended are not (review 16) */
    size_t which[PAWLD_BLOCK_OUTBOX];
    for (size_t i = 0; i < n; i++) {
        const struct pawld_block_event *e = &s->batch[i];
        int64_t left = e->op == PAWLD_BLOCK_SET ? e->until_ms - now : 0;
        s->told[i] = e->op == PAWLD_BLOCK_SET && left <= 0; /* nothing left to tell */
        if (s->told[i])
            continue;
        which[sent++] = i;
        snprintf(dur, sizeof dur, "%lld", (long long)left);
        const char *argv[] = { "XADD", s->stream, "MINID", "~", minid, "*", "op",
                               e->op == PAWLD_BLOCK_SET ? "block" : "lift", "kind",
                               e->kind == PAWL_BLOCK_PRINCIPAL ? "principal" : "address", "subject",
                               e->subject, "detector", e->detector, "for", dur, "from", s->id };
        size_t lens[sizeof argv / sizeof argv[0]];
        for (size_t j = 0; j < sizeof argv / sizeof argv[0]; j++)
            lens[j] = strlen(argv[j]);
        lens[11] = e->subject_len;
        redisAppendCommandArgv(s->k.ctx, (int)(sizeof argv / sizeof argv[0]), argv, lens);
    }
    int rc = 0;
    size_t took = 0;
    for (size_t k = 0; k < sent; k++) {
        size_t i = which[k];
        redisReply *rep = NULL;
        bool broken = s->k.ctx->err != 0 || redisGetReply(s->k.ctx, (void **)&rep) != REDIS_OK;
        s->told[i] = !broken && rep != NULL && rep->type == REDIS_REPLY_STRING;
        took += s->told[i];
        if (!s->told[i] && rc == 0) { /* OOM, NOPERM: said once; the entry waits */
            pawld_redis_say(s->k.ctx, rep, "XADD (the shared blocks)", why, wn);
            rc = -1;
        }
        freeReplyObject(rep);
    }
    pawld_detect_outbox_sent(s->srv, s->batch, s->told, n);
    atomic_fetch_add(&s->told_n, took);
    return rc;
}

/* The stream's ids were pushed ahead of Redis's clock by an entry someone
 * else added (every later entry would be refused, and none trimmed:
 * review 17): deleted by the first instance to see it, and read again from
 * its start. The instances keep the blocks they hold; one started later
 * learns only those set since. */
static void restart(struct pawld_blocks_share *s)
{
    char esc[900], why[700];
    int rc = pawld_stream_restart(s->k.ctx, s->stream, why, sizeof why);
    if (rc >= 0) {
        snprintf(s->last, sizeof s->last, "0-0");
        snprintf(why, sizeof why, "%s: its ids are ahead of Redis's clock (an entry someone else added): %s",
                 s->stream, rc > 0 ? "deleted, the instances start it again" : "started again by another");
    }
    pawld_log(s->srv->sinks, "error", "\"msg\":\"detect.redis: %s\"", pawld_json_escape(why, esc, sizeof esc));
}

/* An entry that is not one pawld writes: counted, and logged (rate-limited). */
static void refuse(struct pawld_blocks_share *s, const char *id)
{
    uint64_t skipped;
    char esc[600];
    atomic_fetch_add(&s->refused, 1);
    if (pawld_ratelog_take(&s->refused_warned, pawld_wall_ms(), &skipped))
        pawld_log(s->srv->sinks, "error", "\"msg\":\"detect.redis: an entry of the stream is not one "
                  "pawld writes: ignored\",\"id\":\"%s\",\"not_logged_before\":%llu",
                  pawld_json_escape(id, esc, sizeof esc), (unsigned long long)skipped);
}

/* Applies an entry, this instance's own included (read back in the
 * stream's order: every instance ends with what the stream says); logs
 * what another's changed here. */
static void apply(struct pawld_blocks_share *s, const char *id, const redisReply *fv)
{
    struct pawld_block_event e;
    const redisReply *from = pawl_redis_field(fv, "from");
    char esc[600], src[40];
    if (!pawld_block_entry(&s->clock, id, fv, &e)) {
        refuse(s, id);
        return;
    }
    int rc = pawld_detect_apply(s->srv, &e);
    const char *kn = e.kind == PAWL_BLOCK_PRINCIPAL ? "principal" : "address";
    bool mine = from != NULL && strcmp(from->str, s->id) == 0;
    pawld_json_escape(from ? from->str : "", src, sizeof src);
    pawld_json_escape(e.subject, esc, sizeof esc);
    if (rc == 1 && !mine)
        atomic_fetch_add(&s->learnt, 1);
    if (rc < 0)
        pawld_log(s->srv->sinks, "error", "\"msg\":\"cannot hold a block another pawld set: the block "
                  "list is full (detect.max_blocks)\",\"%s\":\"%s\"", kn, esc);
    else if (rc == 1 && !mine) /* extensions are not said, as for this instance's own */
        pawld_log(s->srv->sinks, e.op == PAWLD_BLOCK_SET ? "warn" : "info",
                  "\"msg\":\"%s by another pawld (detect.redis)\",\"%s\":\"%s\",\"detector\":\"%s\","
                  "\"from\":\"%s\"", e.op == PAWLD_BLOCK_SET ? "blocked" : "block lifted", kn, esc,
                  e.detector, src);
}

static void read_entry(void *arg, const char *id, const redisReply *fv)
{
    if (fv == NULL)
        refuse(arg, "(not an entry)");
    else
        apply(arg, id, fv);
}

static void read_ahead(void *arg, uint64_t ms)
{
    (void)ms;
    restart(arg);
}

/* Reads the entries added since the last read (all of them when all):
 * 0, or -1 with why. */
static int learn(struct pawld_blocks_share *s, bool all, char *why, size_t wn)
{
    uint64_t ms;
    if (pawld_stream_ahead(s->last, s->clock.redis_now_ms, &ms)) /* another instance started it again */
        snprintf(s->last, sizeof s->last, "0-0");
    char esc[900];
    int sk = pawld_stream_unstick(&s->stuck, s->k.ctx, s->stream, s->last, sizeof s->last, why, wn);
    if (sk > 0) /* no reader took it: it would have stopped the sharing for good (review 17) */
        refuse(s, s->last);
    if (sk < 0) /* the reads go on */
        pawld_log(s->srv->sinks, "error", "\"msg\":\"detect.redis: %s\"", pawld_json_escape(why, esc, sizeof esc));
    struct pawld_stream_reading rd = { s->stream, "XREAD (the shared blocks)", s->last, sizeof s->last, &s->stuck,
                                       READ_COUNT, all ? -1 : READS_PER_SYNC, read_entry, read_ahead, s };
    return pawld_stream_read(s->k.ctx, &rd, s->clock.redis_now_ms, why, wn);
}

/* One sync: the clocks, what this instance did, what the stream says; the
 * detectors' events with them (judged here alone when Redis cannot be
 * asked). On the way out (the ticker stopping) Redis is tried even in the
 * back-off: a block not told by then is lost with the process. */
static void sync_once(void *arg, bool last)
{
    struct pawld_blocks_share *s = arg;
    struct pawld_server_state *srv = s->srv;
    char why[700], why2[700];
    bool all = strcmp(s->last, "0-0") == 0; /* the first read: to the end, before serving */
    if (last)
        s->k.retry_ms = 0;
    if (pawld_redis_conn_waiting(&s->k)) { /* the back-off: said when it began; the outbox waits */
        if (s->windows != NULL)
            pawld_windows_sync(s->windows, NULL, &s->clock, last, why, sizeof why);
        return;
    }
    pthread_mutex_lock(&srv->lock); /* a reload may lengthen block_for: keep the longest seen */
    int64_t bf = srv->world->cfg->detect.block_for_ms;
    pthread_mutex_unlock(&srv->lock);
    if (bf > s->clock.keep_ms)
        s->clock.keep_ms = bf;
    int rc = pawld_redis_conn_get(&s->k, why, sizeof why) == NULL || clocks(s, why, sizeof why) != 0 ? -1 : 0;
    bool timed = rc == 0;
    if (timed && tell(s, why, sizeof why) != 0) /* a refused XADD does not stop the learning (review 15) */
        rc = -1;
    if (timed && s->k.ctx->err == 0 && learn(s, all, rc == 0 ? why : why2, sizeof why) != 0)
        rc = -1;
    bool up = timed && s->k.ctx->err == 0 && rc == 0;
    if (s->windows != NULL && pawld_windows_sync(s->windows, up ? s->k.ctx : NULL, &s->clock, last,
                                                 why, sizeof why) != 0)
        rc = -1;
    if (rc != 0) {
        fail(s, why);
        return;
    }
    atomic_fetch_add(&s->ok, 1);
}

int pawld_blocks_share_start(struct pawld_server_state *srv, char *err, size_t n)
{
    const struct pawld_config *c = srv->world->cfg;
    if (!c->detect.redis.on || srv->detect == NULL)
        return 0;
    struct pawld_blocks_share *s = calloc(1, sizeof *s);
    unsigned char rnd[8];
    if (s == NULL || pawld_redis_conn_init(&s->k, &c->detect.redis, srv->world->dir) != 0 ||
        RAND_bytes(rnd, sizeof rnd) != 1) {
        snprintf(err, n, "detect.redis: out of memory");
        free(s);
        return -1;
    }
    s->srv = srv;
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
    snprintf(s->stream, sizeof s->stream, "%slog", c->detect.redis.prefix ? c->detect.redis.prefix : DEFAULT_PREFIX);
    snprintf(s->last, sizeof s->last, "0-0"); /* the whole stream: every live block */
    if (c->detect.windows > 0 &&
        (s->windows = pawld_windows_new(srv, c->detect.redis.prefix ? c->detect.redis.prefix : DEFAULT_PREFIX,
                                        s->id)) == NULL) {
        snprintf(err, n, "detect.windows: out of memory");
        pawld_redis_conn_free(&s->k);
        free(s);
        return -1;
    }
    srv->blocks_share = s;
    sync_once(s, false); /* the live blocks, before the workers serve */
    if (pawld_ticker_start(&s->ticker, SYNC_MS, sync_once, s) != 0) {
        snprintf(err, n, "detect.redis: cannot start its thread");
        return -1;
    }
    return 0;
}

void pawld_blocks_share_stop(struct pawld_server_state *srv)
{
    struct pawld_blocks_share *s = srv->blocks_share;
    if (s == NULL)
        return;
    pawld_ticker_stop(&s->ticker);
    pawld_redis_conn_free(&s->k);
    pawld_windows_free(s->windows);
    free(s);
    srv->blocks_share = NULL;
}

void pawld_blocks_share_stats(struct pawld_server_state *srv, struct pawld_block_sync_stats *out)
{
    struct pawld_blocks_share *s = srv->blocks_share;
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return;
    out->on = true;
    out->ok = atomic_load(&s->ok);
    out->failed = atomic_load(&s->failed);
    out->told = atomic_load(&s->told_n);
    out->learnt = atomic_load(&s->learnt);
    out->unsent = pawld_detect_unsent(srv);
    out->refused = atomic_load(&s->refused);
    if (s->windows != NULL)
        pawld_windows_stats(s->windows, out);
}

int pawld_blocks_share_probe(const struct pawld_world *wd, char *why, size_t n)
{
    const struct pawld_redis *r = &wd->cfg->detect.redis;
    redisContext *ctx = pawld_redis_connect(r, wd->dir, why, n);
    if (ctx == NULL)
        return -1;
    char stream[160];
    snprintf(stream, sizeof stream, "%slog", r->prefix ? r->prefix : DEFAULT_PREFIX);
    /* what a sync does: XREAD of the stream (nothing new), TIME, XADD to
     * a probe key beside it */
    char probe[160];
    snprintf(probe, sizeof probe, "%sprobe", r->prefix ? r->prefix : DEFAULT_PREFIX);
    redisReply *rep = redisCommand(ctx, "XREAD COUNT 1 STREAMS %s $", stream);
    int rc = rep != NULL && (rep->type == REDIS_REPLY_NIL || rep->type == REDIS_REPLY_ARRAY) ? 0 : -1;
    if (rc != 0)
        pawld_redis_say(ctx, rep, "XREAD (pawld shares the blocks through a stream)", why, n);
    freeReplyObject(rep);
    if (rc == 0) {
        rep = redisCommand(ctx, "TIME");
        rc = rep != NULL && rep->type == REDIS_REPLY_ARRAY ? 0 : -1;
        if (rc != 0)
            pawld_redis_say(ctx, rep, "TIME (pawld reads Redis's clock)", why, n);
        freeReplyObject(rep);
    }
    if (rc == 0) {
        rep = redisCommand(ctx, "XADD %s MAXLEN 1 * probe 1", probe);
        rc = rep != NULL && rep->type == REDIS_REPLY_STRING ? 0 : -1;
        if (rc != 0)
            pawld_redis_say(ctx, rep, "XADD (pawld shares the blocks through a stream)", why, n);
        freeReplyObject(rep);
    }
    if (rc == 0 && wd->cfg->detect.windows > 0) { /* the claims of findings */
        rep = redisCommand(ctx, "SET %s-claim 1 PX 1000", probe);
        rc = rep != NULL && rep->type == REDIS_REPLY_STATUS ? 0 : -1;
        if (rc != 0)
            pawld_redis_say(ctx, rep, "SET (detect.windows: shared claims each finding)", why, n);
        freeReplyObject(rep);
    }
    redisFree(ctx);
    return rc;
}
