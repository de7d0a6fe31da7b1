/* detect.windows shared: every pawld instance's detectors judge the whole
 * fleet's requests, not each its own share (decision 0019). Without it a
 * principal whose requests a balancer spread over n instances had to do n
 * times as much before any detector fired.
 *
 * The workers pack the events they decide (detect.c); at each sync of
 * detect.redis (blocks_share.c's thread, every 100 ms) this instance
 * appends its batch to the stream PREFIX "events" as one entry, reads every
 * entry appended since, its own included, into a merge (shared_events.c),
 * and feeds the detectors every event older than the horizon, in the order
 * of time, entry id and position: the same events in the same order at
 * every instance. So every instance raises the same findings; each is
 * written once, by the instance that claims it first in Redis (SET NX on the
 * raising event and detector), and every instance sets its block.
 *
 * When Redis cannot be asked, the events are judged here alone, at once,
 * as with local windows: a Redis outage never blinds the detectors. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "pawld.h"
#include "shared_events.h"
#include "shared_reply.h"

#define HORIZON_MS 300      /* two syncs and a margin: every instance's batch for a time is in by then */
#define KEEP_MS 60000       /* entries older are trimmed */
#define READ_COUNT 16       /* entries per XREAD (each up to PAWLD_EVENTS_BATCH_MAX bytes) */
#define READS_PER_SYNC 64
#define MERGE_MAX 262144    /* events held before the horizon (review 17: a million took a sort of 100 ms) */
#define CLAIM_MS 60000      /* how long a finding's claim lasts: past the horizon at every instance */
#define UNSURE 16           /* batches whose XADD answer was lost, judged here alone */
#define CLAIMS 256          /* claims sent at once */

struct pawld_windows {
    struct pawld_server_state *srv;
    char stream[160], prefix[140];
    char id[17];
    char last[48];                 /* the last entry read; "" before the first sync */
    struct pawld_stream_reader stuck;
    struct pawld_merge *merge;     /* every instance's events, before the horizon */
    struct pawld_found found[CLAIMS];
    int64_t skew_ms;               /* this clock less Redis's, at the last sync that read it */
    uint64_t batch;                /* this instance's batches so far: each entry's "n" */
    uint64_t unsure[UNSURE];       /* batches judged alone whose XADD may have run: skipped when read */
    size_t nunsure;
    uint64_t bad_batches;
    struct pawld_ratelog warned;
    atomic_ullong told, alone, elsewhere, read, late, refused; /* for /metrics (another thread) */
};

struct pawld_windows *pawld_windows_new(struct pawld_server_state *srv, const char *prefix, const char *id)
{
    struct pawld_windows *w = calloc(1, sizeof *w);
    if (w == NULL || (w->merge = pawld_merge_new(MERGE_MAX)) == NULL) {
        free(w);
        return NULL;
    }
    w->srv = srv;
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix);
    snprintf(w->stream, sizeof w->stream, "%sevents", prefix);
    snprintf(w->id, sizeof w->id, "%s", id);
    return w;
}

void pawld_windows_free(struct pawld_windows *w)
{
    if (w == NULL)
        return;
    pawld_merge_free(w->merge);
    free(w);
}

/* What the stream does that pawld did not: logged (rate-limited). */
static void say(struct pawld_windows *w, const char *level, const char *why)
{
    char esc[900];
    uint64_t skipped;
    if (pawld_ratelog_take(&w->warned, pawld_wall_ms(), &skipped))
        pawld_log(w->srv->sinks, level, "\"msg\":\"detect.windows: %s\",\"not_logged_before\":%llu",
                  pawld_json_escape(why, esc, sizeof esc), (unsigned long long)skipped);
}

struct feeding {
    struct pawld_windows *w;
    redisContext *ctx; /* where findings are claimed; NULL: written unclaimed */
};

static void claim_and_write(struct pawld_windows *w, redisContext *ctx);

static void feed_one(void *arg, const struct pawl_api_event *e, const struct pawld_event_origin *o)
{
    struct feeding *f = arg;
    if (pawld_detect_feed_merged(f->w->srv, e, o) >= CLAIMS) /* claimed as they come (review 17) */
        claim_and_write(f->w, f->ctx);
}

/* Feeds the merge up to cutoff. */
static void take(struct pawld_windows *w, redisContext *ctx, int64_t cutoff)
{
    struct feeding f = { w, ctx };
    pawld_merge_take(w->merge, cutoff, feed_one, &f);
    claim_and_write(w, ctx);
}

/* This instance's batch, judged here alone (Redis did not take it), in
 * its order, after what the merge holds up to now (review 17: time went
 * back). */
static void alone(struct pawld_windows *w, const uint8_t *b, size_t n)
{
    char why[200];
    int64_t now = pawld_wall_ms() - w->skew_ms;
    take(w, NULL, now);
    struct pawld_merge *m = pawld_merge_new(MERGE_MAX);
    if (m == NULL)
        return;
    (void)pawld_merge_add(m, "0-0", w->id, b, n, now, why, sizeof why);
    struct feeding f = { w, NULL };
    atomic_fetch_add(&w->alone, pawld_merge_take(m, INT64_MAX, feed_one, &f));
    claim_and_write(w, NULL);
    pawld_merge_free(m);
}

/* The stream was deleted or lost (a Redis that lost its data), or its ids
 * were pushed ahead of Redis's clock by an entry someone else added (then
 * it is deleted, by the first instance to see it: no entry after it could
 * be trimmed, review 17): read on from the horizon before ms (this
 * instance's newest), or before Redis's clock. */
static void restart(struct pawld_windows *w, redisContext *ctx, const struct pawld_block_clock *ck, uint64_t ms)
{
    char why[700];
    if (ms > (uint64_t)ck->redis_now_ms + 60000) {
        int rc = pawld_stream_restart(ctx, w->stream, why, sizeof why);
        if (rc < 0) { /* read on: the entries after it are still there */
            say(w, "error", why);
            return;
        }
        snprintf(why, sizeof why, "%s: its ids are ahead of Redis's clock (an entry someone else added): %s",
                 w->stream, rc > 0 ? "deleted, the instances start it again" : "started again by another");
        say(w, "error", why);
        ms = (uint64_t)ck->redis_now_ms;
    }
    snprintf(w->last, sizeof w->last, "%llu-0", (unsigned long long)(ms > HORIZON_MS ? ms - HORIZON_MS : 0));
}

/* XADD of this instance's batch: 0; 1 when it went into a stream whose ids
 * are ahead of Redis's clock (deleted: to be judged alone, review 18); or
 * -1 with why (*unsure: the command may have run). */
static int tell(struct pawld_windows *w, redisContext *ctx, const struct pawld_block_clock *ck, const uint8_t *b,
                size_t n, bool *unsure, char *why, size_t wn)
{
    char minid[32], nonce[24];
    snprintf(minid, sizeof minid, "%lld", (long long)(ck->redis_now_ms - KEEP_MS));
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)++w->batch);
    const char *argv[] = { "XADD", w->stream, "MINID", "~", minid, "*", "from", w->id, "n", nonce, "b",
                           (const char *)b };
    size_t lens[] = { 4, strlen(w->stream), 5, 1, strlen(minid), 1, 4, strlen(w->id), 1, strlen(nonce), 1, n };
    redisReply *rep = redisCommandArgv(ctx, 12, argv, lens);
    uint64_t ms, seq, lms, lseq;
    int rc = rep != NULL && rep->type == REDIS_REPLY_STRING && pawld_stream_id(rep->str, &ms, &seq) ? 0 : -1;
    *unsure = rep == NULL;
    if (rc != 0)
        pawld_redis_say(ctx, rep, "XADD (the detectors' events)", why, wn);
    else if (ms > (uint64_t)ck->redis_now_ms + 60000)
        rc = 1;
    if (rc >= 0 && (rc > 0 || !pawld_stream_id(w->last, &lms, &lseq) || ms < lms || (ms == lms && seq <= lseq)))
        restart(w, ctx, ck, ms); /* ahead of the clock, or behind what was read */
    freeReplyObject(rep);
    return rc;
}

/* Whether an entry of this instance's is a batch it judged alone. */
static bool judged(struct pawld_windows *w, const redisReply *fv)
{
    const redisReply *from = pawl_redis_field(fv, "from"), *n = pawl_redis_field(fv, "n");
    if (from == NULL || n == NULL || strcmp(from->str, w->id) != 0)
        return false;
    uint64_t v = strtoull(n->str, NULL, 10);
    for (size_t i = 0; i < w->nunsure; i++)
        if (w->unsure[i] == v) {
            w->unsure[i] = w->unsure[--w->nunsure];
            return true;
        }
    return false;
}

/* One entry read into the merge. */
static void add(struct pawld_windows *w, const char *id, const redisReply *fv, const struct pawld_block_clock *ck)
{
    char bad[300];
    const redisReply *from = pawl_redis_field(fv, "from"), *b = pawl_redis_field(fv, "b");
    if (judged(w, fv))
        return; /* its XADD's answer was lost, and it was judged here alone (review 17) */
    if (from == NULL || b == NULL) {
        snprintf(bad, sizeof bad, "entry %s: not a batch (no from or b)", id);
    } else if (pawld_merge_add(w->merge, id, from->str, (const uint8_t *)b->str, b->len, ck->redis_now_ms, bad,
                               sizeof bad) == 0) {
        return;
    }
    w->bad_batches++; /* the events before what did not frame are kept */
    say(w, "error", bad);
}

struct reading {
    struct pawld_windows *w;
    redisContext *ctx;
    const struct pawld_block_clock *ck;
};

static void read_entry(void *arg, const char *id, const redisReply *fv)
{
    struct reading *r = arg;
    if (fv == NULL)
        r->w->bad_batches++;
    else
        add(r->w, id, fv, r->ck);
}

static void read_ahead(void *arg, uint64_t ms)
{
    struct reading *r = arg;
    restart(r->w, r->ctx, r->ck, ms);
}

/* Reads the entries appended since the last read into the merge: 0, or -1
 * with why. */
static int learn(struct pawld_windows *w, redisContext *ctx, const struct pawld_block_clock *ck, char *why,
                 size_t wn)
{
    uint64_t ms;
    /* read past a forged id, and the stream started again by another */
    if (pawld_stream_ahead(w->last, ck->redis_now_ms, &ms))
        snprintf(w->last, sizeof w->last, "%lld-0", (long long)(ck->redis_now_ms - HORIZON_MS));
    int sk = pawld_stream_unstick(&w->stuck, ctx, w->stream, w->last, sizeof w->last, why, wn);
    if (sk != 0) /* skipped, and counted; or the check failed: the reads go on */
        say(w, "error", why);
    w->bad_batches += sk > 0;
    struct reading r = { w, ctx, ck };
    struct pawld_stream_reading rd = { w->stream, "XREAD (the detectors' events)", w->last, sizeof w->last,
                                       &w->stuck, READ_COUNT, READS_PER_SYNC, read_entry, read_ahead, &r };
    return pawld_stream_read(ctx, &rd, ck->redis_now_ms, why, wn);
}

/* The findings of merged events: each claimed in Redis (the first instance
 * to claim it writes it; the claims of a chunk go out together) or, with no
 * Redis to ask, written. */
static void claim_and_write(struct pawld_windows *w, redisContext *ctx)
{
    size_t n;
    char key[300];
    while ((n = pawld_detect_found(w->srv, w->found, CLAIMS)) > 0) {
        bool asked = ctx != NULL && ctx->err == 0;
        for (size_t i = 0; asked && i < n; i++) {
            snprintf(key, sizeof key, "%sfound:%s", w->prefix, w->found[i].claim);
            redisAppendCommand(ctx, "SET %s %s NX PX %d", key, w->id, CLAIM_MS);
        }
        for (size_t i = 0; i < n; i++) {
            redisReply *rep = NULL;
            if (asked && (ctx->err != 0 || redisGetReply(ctx, (void **)&rep) != REDIS_OK))
                rep = NULL;
            bool lost = rep != NULL && rep->type == REDIS_REPLY_NIL; /* an error: written (twice, not never) */
            freeReplyObject(rep);
            if (lost)
                atomic_fetch_add(&w->elsewhere, 1);
            else
                pawld_detect_write(w->srv, &w->found[i].f);
        }
    }
}

/* A batch judged alone whose XADD may have run: skipped if read back (the
 * oldest of UNSURE is forgotten). */
static void remember_unsure(struct pawld_windows *w, uint64_t batch)
{
    if (w->nunsure == UNSURE)
        memmove(w->unsure, w->unsure + 1, (--w->nunsure) * sizeof *w->unsure);
    w->unsure[w->nunsure++] = batch;
}

/* The merge's counts, for /metrics. */
static void publish(struct pawld_windows *w)
{
    struct pawld_merge_stats m;
    pawld_merge_stats(w->merge, &m);
    atomic_store(&w->read, m.added);
    atomic_store(&w->late, m.late);
    atomic_store(&w->refused, m.refused + m.dropped + w->bad_batches);
}

int pawld_windows_sync(struct pawld_windows *w, redisContext *ctx, const struct pawld_block_clock *ck, bool last,
                       char *why, size_t wn)
{
    size_t n, count;
    bool unsure = false;
    if (ctx != NULL)
        w->skew_ms = ck->skew_ms;
    const uint8_t *b = pawld_detect_events_take(w->srv, w->skew_ms, &n, &count);
    int told = 0;
    if (ctx != NULL && w->last[0] == '\0') /* the first sync: entries from the horizon on */
        snprintf(w->last, sizeof w->last, "%lld-0", (long long)(ck->redis_now_ms - HORIZON_MS));
    if (ctx != NULL && count > 0)
        told = tell(w, ctx, ck, b, n, &unsure, why, wn);
    /* Redis cannot be asked, the XADD failed, or its stream is being
     * deleted: what was read, then this instance's own, judged here */
    if (ctx == NULL || told != 0) {
        if (told < 0 && unsure) /* perhaps told after all: skipped if read back */
            remember_unsure(w, w->batch);
        alone(w, b, n);
        publish(w);
        return told < 0 ? -1 : 0;
    }
    atomic_fetch_add(&w->told, count);
    int rc = learn(w, ctx, ck, why, wn);
    if (rc == 0 || last) /* else what is held waits: for the next sync, or judged alone if Redis stays away */
        take(w, rc == 0 ? ctx : NULL, last ? INT64_MAX : ck->redis_now_ms - HORIZON_MS);
    publish(w);
    return rc;
}

void pawld_windows_stats(struct pawld_windows *w, struct pawld_block_sync_stats *out)
{
    out->windows = true;
    out->ev_told = atomic_load(&w->told);
    out->ev_read = atomic_load(&w->read);
    out->ev_late = atomic_load(&w->late);
    out->ev_refused = atomic_load(&w->refused);
    out->ev_alone = atomic_load(&w->alone) + pawld_detect_fed_here(w->srv);
    out->found_elsewhere = atomic_load(&w->elsewhere);
}
