/* metrics.h: pawld's counters and latency histograms, kept per worker
 * without locks, merged and rendered in the Prometheus text exposition
 * format (version 0.0.4) for the admin listener's /metrics. No I/O. */
#ifndef PAWLD_METRICS_H
#define PAWLD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"
#include "pawl/detect.h"
#include "pawl/engine.h"
#include "pawl/reason.h"

/* Upper bounds of the latency buckets, in microseconds; +Inf follows. */
#define PAWLD_LAT_BOUNDS {25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000}
#define PAWLD_LAT_BUCKETS 12

struct pawld_route_metrics {
    uint64_t by_reason[PAWL_R__COUNT];
    uint64_t lat[PAWLD_LAT_BUCKETS + 1]; /* per bucket, not cumulative */
    uint64_t lat_sum_us;
};

/* When a certificate (or the earliest of a bundle) or a CRL stops being
 * valid, from the running configuration: a server certificate past it is
 * refused by clients, a CRL past its next update makes pawld refuse every
 * client certificate. */
struct pawld_cert_date {
    const char *of;    /* "listener", "upstream" or "vehicle_link" */
    const char *name;  /* the listener's or upstream's name, or the broker's host */
    const char *which; /* "server", "client_ca", "crl", "ca", "client" */
    int64_t until;     /* Unix seconds: notAfter, or the CRL's nextUpdate */
};

/* rate_limits.redis: whether on, whether shared (the seed is Redis's),
 * syncs by result, charges not told. */
struct pawld_rl_sync_stats {
    bool on, shared;
    uint64_t ok, failed, unshared;
};

/* detect.redis: whether on, syncs by result, changes told and learnt,
 * changes not shared, entries of the stream refused. */
struct pawld_block_sync_stats {
    bool on;
    uint64_t ok, failed, told, learnt, unsent, refused;
    /* detect.windows shared: events told and read, read after their time
     * was fed, refused (not events, or no room), judged alone (Redis not
     * told, or the buffer full); findings another instance wrote */
    bool windows;
    uint64_t ev_told, ev_read, ev_late, ev_refused, ev_alone, found_elsewhere;
};

struct pawld_metrics {
    size_t nroutes;                     /* policy routes; index nroutes: no route matched */
    struct pawld_route_metrics *routes; /* nroutes + 1 */
    uint64_t upstream_errors, upstream_timeouts, client_timeouts;
    uint64_t jwt_cache_hits, jwt_cache_misses;
    uint64_t connections_refused;
    uint64_t unrecorded; /* decisions refused (503) because their records could not be written */
    uint64_t telemetry_applied, telemetry_refused; /* process-wide; set by the renderer's caller */
    uint64_t detector_untracked;                   /* process-wide; set by the renderer's caller */
    uint64_t configurations;                       /* gauge, likewise: loaded, not yet freed */
    uint64_t reloads_ok, reloads_refused;          /* process-wide, likewise */
    uint64_t rate_limited[PAWL_RL_LIMITS];         /* by the limit that refused (PAWL_RL_* - 1) */
    uint64_t findings[PAWL_DETECTORS];             /* process-wide, likewise: by detector */
    const struct pawld_cert_date *certs;           /* the running configuration's, likewise */
    size_t ncerts;
    struct pawld_rl_sync_stats rl_sync;       /* process-wide, likewise; rendered only when on */
    struct pawld_block_sync_stats block_sync; /* likewise */
};

PAWL_MUST_CHECK pawl_err pawld_metrics_init(struct pawld_metrics *m, size_t nroutes);
void pawld_metrics_free(struct pawld_metrics *m);

/* One decided request: route index (-1: none matched), its reason and how
 * long pawld took, in microseconds. */
void pawld_metrics_record(struct pawld_metrics *m, long route, enum pawl_reason r,
                          uint64_t latency_us);

/* dst, fresh for a reloaded policy, takes over src's counts so that no
 * counter goes back: the process-wide ones, the unmatched requests', and
 * route i's as route map[i] of dst (-1: the route is gone, and its counts
 * with it). map may be NULL (no route's counts carried). */
void pawld_metrics_carry(struct pawld_metrics *dst, const struct pawld_metrics *src, const long *map);

/* dst += src (same number of routes). */
void pawld_metrics_add(struct pawld_metrics *dst, const struct pawld_metrics *src);

/* Renders m; route_ids[i] names route i. Returns the length written
 * (NUL-terminated), or 0 when cap is too small. */
size_t pawld_metrics_render(const struct pawld_metrics *m, const char *const *route_ids,
                            char *out, size_t cap);

#endif
