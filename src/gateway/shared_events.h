/* shared_events.h: the detectors' input shared by pawld instances
 * (detect.redis with shared windows; decision 0019). Each instance packs
 * the events it would have fed its detectors into batches, one Redis
 * stream entry per sync; every instance reads every batch, its own
 * included, and feeds the events in one order, the same everywhere: by
 * time (Redis's clock), then by entry id, then by position, once the time
 * is old enough that every instance's batch for it has arrived. So each
 * instance's detectors see the whole fleet's traffic, in the same order.
 * No I/O; batches are untrusted input (anyone who may write the stream). */
#ifndef PAWL_GW_SHARED_EVENTS_H
#define PAWL_GW_SHARED_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/discover.h"

#define PAWLD_EVENT_MAX 8192 /* bytes one packed event may take: a longer one is not shared */
#define PAWLD_EVENTS_VERSION 1
#define PAWLD_EVENTS_BATCH_MAX (4u << 20) /* bytes of one batch: a larger one is refused */

/* Appends e, with time_ms (Redis's clock) as its time, to out[*n..cap);
 * a batch begins with the version byte (pawld_events_begin). true, or
 * false when it does not fit or is not an event the detectors take (then
 * nothing is written). Only the members pawld feeds travel: time, method,
 * path, principal, address, user type, roles, status. */
void pawld_events_begin(uint8_t *out, size_t *n);
bool pawld_event_pack(const struct pawl_api_event *e, int64_t time_ms, uint8_t *out, size_t cap, size_t *n);

/* An event fed from the merge: its batch's entry id, its position in it,
 * and the instance that told it. */
struct pawld_event_origin {
    const char *entry; /* "MS-SEQ" */
    uint32_t index;
    const char *from;
};
typedef void (*pawld_event_feed)(void *ctx, const struct pawl_api_event *e, const struct pawld_event_origin *o);

struct pawld_merge_stats {
    uint64_t added, refused, late, dropped; /* events: read; not events; behind the last cutoff fed; no room */
};

struct pawld_merge;
/* A merge holding at most max_events events not yet fed. NULL: no memory. */
struct pawld_merge *pawld_merge_new(size_t max_events);
void pawld_merge_free(struct pawld_merge *m);
/* A batch read from the stream: entry is its id ("MS-SEQ", the order),
 * from who told it (at most 16 bytes), p[0..n) its bytes. An event that
 * is not one (pawl_api_event_check's checks, a time more than 5 s ahead of
 * now_ms or an hour behind it) is refused and counted; bytes that
 * do not frame events end the batch there (-1 with why), and a batch over
 * PAWLD_EVENTS_BATCH_MAX is refused whole. Events behind
 * the last cutoff fed are kept and fed at the next take (counted late);
 * those beyond max_events are dropped and counted. 0, or -1 with why. */
int pawld_merge_add(struct pawld_merge *m, const char *entry, const char *from, const uint8_t *p, size_t n,
                    int64_t now_ms, char *why, size_t wn);
/* Feeds every event at or before cutoff_ms (INT64_MAX: every one held),
 * in time, entry, position order; returns how many. Events added later
 * with a time at or before what was judged count as late. */
size_t pawld_merge_take(struct pawld_merge *m, int64_t cutoff_ms, pawld_event_feed feed, void *ctx);
/* Events held, not fed yet. */
size_t pawld_merge_pending(const struct pawld_merge *m);
void pawld_merge_stats(const struct pawld_merge *m, struct pawld_merge_stats *out);

#endif
