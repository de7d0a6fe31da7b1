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
#define READ_COUNT 16       /* entries per XREAD (each up to PAWLD_EVENTS_BUF bytes) */
#define READS_PER_SYNC 64
#define MERGE_MAX 1000000   /* events held before the horizon */
#define CLAIM_MS 60000      /* how long a finding's claim lasts: past the horizon at every instance */

struct pawld_windows {
    struct pawld_server_state *srv;
    char stream[160], prefix[140];
    char id[17];
    char last[48];                 /* the last entry read; "" before the first sync */
    struct pawld_merge *merge;     /* every instance's events, before the horizon */
    struct pawld_found found[PAWLD_FOUND_MAX];
    int64_t skew_ms;               /* this clock less Redis's, at the last sync that read it */
    uint64_t bad_batches;
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

static void feed_one(void *ctx, const struct pawl_api_event *e, const struct pawld_event_origin *o)
{
    pawld_detect_feed_merged(ctx, e, o);
}

/* This instance's batch, judged here alone (Redis did not take it), in
 * its order. */
static void alone(struct pawld_windows *w, const uint8_t *b, size_t n)
{
    char why[200];
    struct pawld_merge *m = pawld_merge_new(MERGE_MAX);
    if (m == NULL)
        return;
    /* an entry id of its own: no claim is asked for what no other instance saw */
    (void)pawld_merge_add(m, "0-0", w->id, b, n, pawld_wall_ms() - w->skew_ms, why, sizeof why);
    atomic_fetch_add(&w->alone, pawld_merge_take(m, INT64_MAX, feed_one, w->srv));
    pawld_merge_free(m);
}

/* XADD of this instance's batch: 0, or -1 with why. */
static int tell(struct pawld_windows *w, redisContext *ctx, const struct pawld_block_clock *ck, const uint8_t *b,
                size_t n, char *why, size_t wn)
{
    char minid[32];
    snprintf(minid, sizeof minid, "%lld", (long long)(ck->redis_now_ms - KEEP_MS));
    const char *argv[] = { "XADD", w->stream, "MINID", "~", minid, "*", "from", w->id, "b", (const char *)b };
    size_t lens[] = { 4, strlen(w->stream), 5, 1, strlen(minid), 1, 4, strlen(w->id), 1, n };
    redisReply *rep = redisCommandArgv(ctx, 10, argv, lens);
    int rc = rep != NULL && rep->type == REDIS_REPLY_STRING ? 0 : -1;
    if (rc != 0)
        pawld_redis_say(ctx, rep, "XADD (the detectors' events)", why, wn);
    freeReplyObject(rep);
    return rc;
}

/* Reads the entries appended since the last read into the merge: 0, or -1
 * with why. */
static int learn(struct pawld_windows *w, redisContext *ctx, const struct pawld_block_clock *ck, char *why,
                 size_t wn)
{
    char bad[300];
    for (int round = 0; round < READS_PER_SYNC; round++) {
        redisReply *rep = redisCommand(ctx, "XREAD COUNT %d STREAMS %s %s", READ_COUNT, w->stream, w->last);
        const redisReply *entries, *fv;
        const char *id;
        int got = pawl_xread_entries(rep, &entries);
        if (got <= 0) {
            if (got < 0)
                pawld_redis_say(ctx, rep, "XREAD (the detectors' events)", why, wn);
            freeReplyObject(rep);
            return got;
        }
        for (size_t i = 0; i < entries->elements; i++) {
            if (!pawl_stream_entry(entries->element[i], sizeof w->last, &id, &fv)) {
                w->bad_batches++;
                continue;
            }
            snprintf(w->last, sizeof w->last, "%s", id);
            const redisReply *from = pawl_redis_field(fv, "from"), *b = pawl_redis_field(fv, "b");
            if (from == NULL || b == NULL ||
                pawld_merge_add(w->merge, id, from->str, (const uint8_t *)b->str, b->len, ck->redis_now_ms, bad,
                                sizeof bad) != 0)
                w->bad_batches++; /* the events before what did not frame are kept */
        }
        size_t n = entries->elements;
        freeReplyObject(rep);
        if (n < READ_COUNT)
            return 0;
    }
    return 0; /* the rest at the next sync */
}

/* The findings of merged events: each claimed in Redis (the first instance
 * to claim it writes it) or, with no Redis to ask, written. */
static void claim_and_write(struct pawld_windows *w, redisContext *ctx)
{
    size_t n;
    char key[300];
    while ((n = pawld_detect_found(w->srv, w->found, PAWLD_FOUND_MAX)) > 0) {
        for (size_t i = 0; i < n; i++) {
            int won = 1;
            if (ctx != NULL && ctx->err == 0) {
                snprintf(key, sizeof key, "%sfound:%s", w->prefix, w->found[i].claim);
                redisReply *rep = redisCommand(ctx, "SET %s %s NX PX %d", key, w->id, CLAIM_MS);
                won = rep != NULL && rep->type == REDIS_REPLY_NIL ? 0 : 1; /* an error: written (twice, not never) */
                freeReplyObject(rep);
            }
            if (won)
                pawld_detect_write(w->srv, &w->found[i].f);
            else
                atomic_fetch_add(&w->elsewhere, 1);
        }
    }
}

int pawld_windows_sync(struct pawld_windows *w, redisContext *ctx, const struct pawld_block_clock *ck, bool last,
                       char *why, size_t wn)
{
    size_t n, count;
    if (ctx != NULL)
        w->skew_ms = ck->skew_ms;
    const uint8_t *b = pawld_detect_events_take(w->srv, w->skew_ms, &n, &count);
    int rc = 0;
    if (ctx != NULL && w->last[0] == '\0') /* the first sync: entries from the horizon on */
        snprintf(w->last, sizeof w->last, "%lld-0", (long long)(ck->redis_now_ms - HORIZON_MS));
    if (ctx == NULL || (count > 0 && tell(w, ctx, ck, b, n, why, wn) != 0)) {
        alone(w, b, n);
        rc = ctx == NULL ? 0 : -1;
    } else {
        atomic_fetch_add(&w->told, count);
    }
    if (ctx != NULL && rc == 0 && learn(w, ctx, ck, why, wn) != 0)
        rc = -1;
    /* without Redis (or after it failed), what was read is fed now */
    bool now = last || ctx == NULL || rc != 0;
    pawld_merge_take(w->merge, now ? INT64_MAX : ck->redis_now_ms - HORIZON_MS, feed_one, w->srv);
    claim_and_write(w, ctx != NULL && rc == 0 ? ctx : NULL);
    struct pawld_merge_stats m;
    pawld_merge_stats(w->merge, &m);
    atomic_store(&w->read, m.added);
    atomic_store(&w->late, m.late);
    atomic_store(&w->refused, m.refused + m.dropped + w->bad_batches);
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
