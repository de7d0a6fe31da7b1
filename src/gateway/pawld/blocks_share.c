/* detect.redis: the blocks the detectors set (detect.block) held by every
 * pawld instance that names the same Redis (a block held only where its
 * detector fired, and a balancer sent the blocked principal to another
 * instance; decision 0018).
 *
 * The instances tell each other what they did to a block through a Redis
 * stream, PREFIX "log": one entry per block set or extended (kind, exact
 * subject, detector, until: wall-clock ms) and per block lifted on an
 * admin listener, with the telling instance's id. A thread of each
 * instance, every 100 ms, appends what its own detectors and admins did
 * (kept until Redis took it: a block is never lost to an outage, only told
 * late) and reads what the others appended since its last read; at start it
 * reads the whole stream, so a new or restarted instance holds every live
 * block. Entries older than the longest block are trimmed as entries are
 * added (XADD MINID). No request waits for Redis. */
#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "pawld.h"

#define DEFAULT_PREFIX "pawl:blocks:"
#define SYNC_MS 100
#define READ_COUNT 256 /* entries per XREAD */
#define READS_PER_SYNC 64

struct pawld_blocks_share {
    struct pawld_server_state *srv;
    struct pawld_redis_conn k;
    struct pawld_ticker ticker;
    char stream[160];
    char id[17];      /* this instance's, in each entry it adds */
    char last[48];    /* the last entry read ("0-0": none yet) */
    int64_t keep_ms;  /* entries older than this are trimmed */
    struct pawld_block_event batch[PAWLD_BLOCK_OUTBOX];
    struct pawld_ratelog warned;
    atomic_ullong ok, failed, told, learnt, unsent;
};

static void fail(struct pawld_blocks_share *s, const char *why)
{
    char esc[900];
    uint64_t skipped;
    atomic_fetch_add(&s->failed, 1);
    pawld_redis_conn_fail(&s->k);
    if (pawld_ratelog_take(&s->warned, pawld_wall_ms(), &skipped))
        pawld_log(s->srv->sinks, "error", "\"msg\":\"detect.redis: cannot share the blocks: each "
                  "instance holds its own until Redis answers (its own are told then)\",\"why\":\"%s\","
                  "\"not_logged_before\":%llu", pawld_json_escape(why, esc, sizeof esc),
                  (unsigned long long)skipped);
}

/* Appends the outbox's events to the stream, one pipelined XADD each: 0,
 * or -1 with why (those Redis did not take stay in the outbox). */
static int tell(struct pawld_blocks_share *s, char *why, size_t wn)
{
    uint64_t unsent;
    size_t n = pawld_detect_outbox(s->srv, s->batch, PAWLD_BLOCK_OUTBOX, &unsent);
    atomic_store(&s->unsent, unsent);
    if (n == 0)
        return 0;
    char minid[32], until[24];
    snprintf(minid, sizeof minid, "%lld", (long long)(pawld_wall_ms() - s->keep_ms));
    for (size_t i = 0; i < n; i++) {
        const struct pawld_block_event *e = &s->batch[i];
        snprintf(until, sizeof until, "%lld", (long long)e->until_ms);
        const char *argv[] = { "XADD", s->stream, "MINID", "~", minid, "*", "op",
                               e->op == PAWLD_BLOCK_SET ? "block" : "lift", "kind",
                               e->kind == PAWL_BLOCK_PRINCIPAL ? "principal" : "address", "subject",
                               e->subject, "detector", e->detector, "until", until, "from", s->id };
        size_t lens[sizeof argv / sizeof argv[0]];
        for (size_t j = 0; j < sizeof argv / sizeof argv[0]; j++)
            lens[j] = strlen(argv[j]);
        lens[11] = e->subject_len;
        redisAppendCommandArgv(s->k.ctx, (int)(sizeof argv / sizeof argv[0]), argv, lens);
    }
    size_t took = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(s->k.ctx, (void **)&rep) != REDIS_OK || rep == NULL || rep->type != REDIS_REPLY_STRING) {
            if (rc == 0)
                pawld_redis_say(s->k.ctx, rep, "XADD (the shared blocks)", why, wn);
            rc = -1;
        } else if (rc == 0) {
            took++;
        }
        freeReplyObject(rep);
        if (s->k.ctx->err != 0)
            break; /* no more replies on a broken connection */
    }
    pawld_detect_outbox_sent(s->srv, took);
    atomic_fetch_add(&s->told, took);
    return rc;
}

/* The value of field in an entry's field-value array, or NULL. */
static const redisReply *field(const redisReply *fv, const char *name)
{
    for (size_t i = 0; i + 1 < fv->elements; i += 2)
        if (fv->element[i]->type == REDIS_REPLY_STRING && strcmp(fv->element[i]->str, name) == 0 &&
            fv->element[i + 1]->type == REDIS_REPLY_STRING)
            return fv->element[i + 1];
    return NULL;
}

/* Applies another instance's entry; entries of this one, and malformed
 * ones, are skipped. */
static void apply(struct pawld_blocks_share *s, const redisReply *fv)
{
    const redisReply *op = field(fv, "op"), *kind = field(fv, "kind"), *subject = field(fv, "subject"),
                     *det = field(fv, "detector"), *until = field(fv, "until"), *from = field(fv, "from");
    struct pawld_block_event e = { 0 };
    if (op == NULL || kind == NULL || subject == NULL || from == NULL || strcmp(from->str, s->id) == 0 ||
        subject->len == 0 || subject->len >= sizeof e.subject)
        return;
    e.op = strcmp(op->str, "lift") == 0 ? PAWLD_BLOCK_LIFT : PAWLD_BLOCK_SET;
    e.kind = strcmp(kind->str, "address") == 0 ? PAWL_BLOCK_ADDRESS : PAWL_BLOCK_PRINCIPAL;
    memcpy(e.subject, subject->str, subject->len);
    e.subject_len = subject->len;
    snprintf(e.detector, sizeof e.detector, "%s", det ? det->str : "");
    e.until_ms = until ? strtoll(until->str, NULL, 10) : 0;
    int rc = e.op == PAWLD_BLOCK_SET && e.until_ms <= 0 ? 0 : pawld_detect_apply(s->srv, &e);
    char esc[600];
    const char *kn = e.kind == PAWL_BLOCK_PRINCIPAL ? "principal" : "address";
    if (rc > 0)
        atomic_fetch_add(&s->learnt, 1);
    if (rc < 0)
        pawld_log(s->srv->sinks, "error", "\"msg\":\"cannot hold a block another pawld set: the block "
                  "list is full (detect.max_blocks)\",\"%s\":\"%s\"", kn,
                  pawld_json_escape(e.subject, esc, sizeof esc));
    else if (rc == 1 && e.op == PAWLD_BLOCK_SET) /* extensions are not said, as for this instance's own */
        pawld_log(s->srv->sinks, "warn", "\"msg\":\"blocked by another pawld (detect.redis)\",\"%s\":\"%s\","
                  "\"detector\":\"%s\",\"until\":%lld", kn, pawld_json_escape(e.subject, esc, sizeof esc),
                  e.detector, (long long)e.until_ms);
    else if (rc == 1)
        pawld_log(s->srv->sinks, "info", "\"msg\":\"block lifted by another pawld (detect.redis)\",\"%s\":\"%s\"",
                  kn, pawld_json_escape(e.subject, esc, sizeof esc));
}

/* Reads the entries added since the last read: 0, or -1 with why. */
static int learn(struct pawld_blocks_share *s, char *why, size_t wn)
{
    for (int round = 0; round < READS_PER_SYNC; round++) {
        redisReply *rep = redisCommand(s->k.ctx, "XREAD COUNT %d STREAMS %s %s", READ_COUNT, s->stream, s->last);
        if (rep != NULL && rep->type == REDIS_REPLY_NIL) { /* nothing new */
            freeReplyObject(rep);
            return 0;
        }
        const redisReply *entries = NULL;
        if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
            rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2)
            entries = rep->element[0]->element[1];
        if (entries == NULL || entries->type != REDIS_REPLY_ARRAY) {
            pawld_redis_say(s->k.ctx, rep, "XREAD (the shared blocks)", why, wn);
            freeReplyObject(rep);
            return -1;
        }
        for (size_t i = 0; i < entries->elements; i++) {
            const redisReply *en = entries->element[i];
            if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 || en->element[0]->type != REDIS_REPLY_STRING)
                continue;
            snprintf(s->last, sizeof s->last, "%s", en->element[0]->str);
            if (en->element[1]->type == REDIS_REPLY_ARRAY)
                apply(s, en->element[1]);
        }
        size_t got = entries->elements;
        freeReplyObject(rep);
        if (got < READ_COUNT)
            return 0;
    }
    return 0; /* the rest at the next sync */
}

static void sync_once(void *arg)
{
    struct pawld_blocks_share *s = arg;
    char why[700];
    if (s->k.ctx == NULL && (int64_t)(pawld_now_ns() / 1000000u) < s->k.retry_ms)
        return; /* the back-off: said when it began; the outbox waits */
    if (pawld_redis_conn_get(&s->k, why, sizeof why) == NULL || tell(s, why, sizeof why) != 0 ||
        learn(s, why, sizeof why) != 0) {
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
    s->keep_ms = c->detect.block_for_ms;
    srv->blocks_share = s;
    sync_once(s); /* the live blocks, before the workers serve */
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
    free(s);
    srv->blocks_share = NULL;
}

void pawld_blocks_share_stats(struct pawld_server_state *srv, struct pawld_blocks_share_stats *out)
{
    struct pawld_blocks_share *s = srv->blocks_share;
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return;
    out->on = true;
    out->ok = atomic_load(&s->ok);
    out->failed = atomic_load(&s->failed);
    out->told = atomic_load(&s->told);
    out->learnt = atomic_load(&s->learnt);
    out->unsent = atomic_load(&s->unsent);
}

int pawld_blocks_share_probe(const struct pawld_world *wd, char *why, size_t n)
{
    const struct pawld_redis *r = &wd->cfg->detect.redis;
    redisContext *ctx = pawld_redis_connect(r, wd->dir, why, n);
    if (ctx == NULL)
        return -1;
    char stream[160];
    snprintf(stream, sizeof stream, "%slog", r->prefix ? r->prefix : DEFAULT_PREFIX);
    /* what a sync does: XREAD of the stream (nothing new), XADD to a
     * probe key beside it */
    char probe[160];
    snprintf(probe, sizeof probe, "%sprobe", r->prefix ? r->prefix : DEFAULT_PREFIX);
    redisReply *rep = redisCommand(ctx, "XREAD COUNT 1 STREAMS %s $", stream);
    int rc = rep != NULL && (rep->type == REDIS_REPLY_NIL || rep->type == REDIS_REPLY_ARRAY) ? 0 : -1;
    if (rc != 0)
        pawld_redis_say(ctx, rep, "XREAD (pawld shares the blocks through a stream)", why, n);
    freeReplyObject(rep);
    if (rc == 0) {
        rep = redisCommand(ctx, "XADD %s MAXLEN 1 * probe 1", probe);
        rc = rep != NULL && rep->type == REDIS_REPLY_STRING ? 0 : -1;
        if (rc != 0)
            pawld_redis_say(ctx, rep, "XADD (pawld shares the blocks through a stream)", why, n);
        freeReplyObject(rep);
    }
    redisFree(ctx);
    return rc;
}
