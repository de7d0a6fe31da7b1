/* see metrics.h */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t bounds[PAWLD_LAT_BUCKETS] = PAWLD_LAT_BOUNDS;

pawl_err pawld_metrics_init(struct pawld_metrics *m, size_t nroutes)
{
    memset(m, 0, sizeof *m);
    m->routes = calloc(nroutes + 1, sizeof *m->routes);
    if (m->routes == NULL)
        return PAWL_ENOMEM;
    m->nroutes = nroutes;
    return PAWL_OK;
}

void pawld_metrics_free(struct pawld_metrics *m)
{
    free(m->routes);
    memset(m, 0, sizeof *m);
}

void pawld_metrics_record(struct pawld_metrics *m, long route, enum pawl_reason r,
                          uint64_t latency_us)
{
    struct pawld_route_metrics *rm =
        &m->routes[route >= 0 && (size_t)route < m->nroutes ? (size_t)route : m->nroutes];
    size_t b = 0;
    while (b < PAWLD_LAT_BUCKETS && latency_us > bounds[b])
        b++;
    rm->by_reason[r < PAWL_R__COUNT ? r : PAWL_R_BAD_REQUEST]++;
    rm->lat[b]++;
    rm->lat_sum_us += latency_us;
}

void pawld_metrics_carry(struct pawld_metrics *dst, const struct pawld_metrics *src, const long *map)
{
    struct pawld_route_metrics *routes = dst->routes;
    size_t n = dst->nroutes;
    *dst = *src; /* every process-wide counter */
    dst->routes = routes;
    dst->nroutes = n;
    routes[n] = src->routes[src->nroutes];
    for (size_t i = 0; map != NULL && i < src->nroutes; i++)
        if (map[i] >= 0 && (size_t)map[i] < n)
            routes[map[i]] = src->routes[i];
}

void pawld_metrics_add(struct pawld_metrics *dst, const struct pawld_metrics *src)
{
    for (size_t i = 0; i <= dst->nroutes && i <= src->nroutes; i++) {
        for (size_t r = 0; r < PAWL_R__COUNT; r++)
            dst->routes[i].by_reason[r] += src->routes[i].by_reason[r];
        for (size_t b = 0; b <= PAWLD_LAT_BUCKETS; b++)
            dst->routes[i].lat[b] += src->routes[i].lat[b];
        dst->routes[i].lat_sum_us += src->routes[i].lat_sum_us;
    }
    dst->upstream_errors += src->upstream_errors;
    dst->upstream_timeouts += src->upstream_timeouts;
    dst->client_timeouts += src->client_timeouts;
    dst->connections_refused += src->connections_refused;
    dst->unrecorded += src->unrecorded;
    dst->jwt_cache_hits += src->jwt_cache_hits;
    dst->jwt_cache_misses += src->jwt_cache_misses;
    for (size_t i = 0; i < PAWL_RL_LIMITS; i++)
        dst->rate_limited[i] += src->rate_limited[i];
}

struct out {
    char *p;
    size_t n, cap;
    bool full;
};

static void emit(struct out *o, const char *fmt, ...) PAWL_PRINTF(2, 3);
static void emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    if (o->full)
        return;
    va_start(ap, fmt);
    int w = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= o->cap - o->n)
        o->full = true;
    else
        o->n += (size_t)w;
}

/* A label value: '\', '"' and newline escaped (the text format's rule). */
static void label(struct out *o, const char *s)
{
    for (; *s && !o->full; s++) {
        if (*s == '\\' || *s == '"')
            emit(o, "\\%c", *s);
        else if (*s == '\n')
            emit(o, "\\n");
        else
            emit(o, "%c", *s);
    }
}

static void route_label(struct out *o, const char *const *ids, size_t nroutes, size_t i)
{
    emit(o, "route=\"");
    label(o, i < nroutes ? ids[i] : "");
    emit(o, "\"");
}

static void render_requests(struct out *o, const struct pawld_metrics *m, const char *const *ids)
{
    emit(o, "# HELP pawld_requests_total Requests decided, by route, decision and reason "
            "(route \"\" when no route matched).\n# TYPE pawld_requests_total counter\n");
    for (size_t i = 0; i <= m->nroutes; i++)
        for (size_t r = 0; r < PAWL_R__COUNT; r++) {
            if (m->routes[i].by_reason[r] == 0)
                continue;
            emit(o, "pawld_requests_total{");
            route_label(o, ids, m->nroutes, i);
            emit(o, ",decision=\"%s\",reason=\"%s\"} %llu\n",
                 r == PAWL_R_ALLOWED ? "allow" : "deny", pawl_reason_name((enum pawl_reason)r),
                 (unsigned long long)m->routes[i].by_reason[r]);
        }
}

static void render_latency(struct out *o, const struct pawld_metrics *m, const char *const *ids)
{
    emit(o, "# HELP pawld_request_duration_seconds Time pawld spent on a request, by route.\n"
            "# TYPE pawld_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->nroutes; i++) {
        const struct pawld_route_metrics *rm = &m->routes[i];
        uint64_t cum = 0;
        for (size_t b = 0; b <= PAWLD_LAT_BUCKETS; b++)
            cum += rm->lat[b];
        if (cum == 0)
            continue;
        cum = 0;
        for (size_t b = 0; b <= PAWLD_LAT_BUCKETS; b++) {
            cum += rm->lat[b];
            emit(o, "pawld_request_duration_seconds_bucket{");
            route_label(o, ids, m->nroutes, i);
            if (b < PAWLD_LAT_BUCKETS)
                emit(o, ",le=\"%g\"} %llu\n", (double)bounds[b] / 1e6, (unsigned long long)cum);
            else
                emit(o, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        emit(o, "pawld_request_duration_seconds_sum{");
        route_label(o, ids, m->nroutes, i);
        emit(o, "} %.6f\npawld_request_duration_seconds_count{", (double)rm->lat_sum_us / 1e6);
        route_label(o, ids, m->nroutes, i);
        emit(o, "} %llu\n", (unsigned long long)cum);
    }
}

/* Which rate limit refused, which detector found: every label value, 0
 * included (a fixed, small set). */
static void render_by_kind(struct out *o, const struct pawld_metrics *m)
{
    emit(o, "# HELP pawld_rate_limited_total Requests refused by a rate limit, by the limit "
            "(docs/policy.md).\n# TYPE pawld_rate_limited_total counter\n");
    for (unsigned i = 0; i < PAWL_RL_LIMITS; i++)
        emit(o, "pawld_rate_limited_total{limit=\"%s\"} %llu\n",
             pawl_rl_limit_name((enum pawl_rl_limit)(i + 1)), (unsigned long long)m->rate_limited[i]);
    emit(o, "# HELP pawld_detector_findings_total Findings of the inline detectors, by detector "
            "(docs/detection.md; repeats within the cooldown not counted).\n"
            "# TYPE pawld_detector_findings_total counter\n");
    for (unsigned i = 0; i < PAWL_DETECTORS && pawl_detector_name(i) != NULL; i++)
        emit(o, "pawld_detector_findings_total{detector=\"%s\"} %llu\n", pawl_detector_name(i),
             (unsigned long long)m->findings[i]);
}

/* The end of each certificate's and CRL's validity, as Unix seconds: alert
 * on `pawld_certificate_expiry_timestamp_seconds - time() < 14 * 86400`
 * (docs/gateway.md). Names come from the configuration: escaped. */
static void render_cert_dates(struct out *o, const struct pawld_metrics *m)
{
    for (int crl = 0; crl < 2; crl++) {
        bool any = false;
        for (size_t i = 0; i < m->ncerts; i++) {
            const struct pawld_cert_date *d = &m->certs[i];
            if ((strcmp(d->which, "crl") == 0) != crl)
                continue;
            if (!any)
                emit(o, crl ? "# HELP pawld_crl_next_update_timestamp_seconds When a listener's CRL "
                              "is due to be replaced: after it every client certificate is refused.\n"
                              "# TYPE pawld_crl_next_update_timestamp_seconds gauge\n"
                            : "# HELP pawld_certificate_expiry_timestamp_seconds When a certificate "
                              "expires (a bundle: its earliest).\n"
                              "# TYPE pawld_certificate_expiry_timestamp_seconds gauge\n");
            any = true;
            emit(o, crl ? "pawld_crl_next_update_timestamp_seconds{of=\"%s\",name=\""
                        : "pawld_certificate_expiry_timestamp_seconds{of=\"%s\",name=\"", d->of);
            label(o, d->name);
            if (!crl)
                emit(o, "\",certificate=\"%s", d->which);
            emit(o, "\"} %lld\n", (long long)d->until);
        }
    }
}

/* rate_limits.redis's and detect.redis's series, when they are on. */
static void render_shared(struct out *o, const struct pawld_metrics *m)
{
    if (m->rl_sync.on)
        emit(o,
             "# HELP pawld_rate_limit_shared 1 while the rate limits are shared through "
             "rate_limits.redis (the seed is Redis's), 0 while this instance limits alone.\n"
             "# TYPE pawld_rate_limit_shared gauge\npawld_rate_limit_shared %d\n"
             "# HELP pawld_rate_limit_syncs_total Syncs with rate_limits.redis, by result.\n"
             "# TYPE pawld_rate_limit_syncs_total counter\npawld_rate_limit_syncs_total{result=\"ok\"} %llu\n"
             "pawld_rate_limit_syncs_total{result=\"failed\"} %llu\n"
             "# HELP pawld_rate_limit_unshared_total Charges not told to the other instances (a "
             "failed sync, or more keys than the journal holds between two syncs).\n"
             "# TYPE pawld_rate_limit_unshared_total counter\npawld_rate_limit_unshared_total %llu\n",
             m->rl_sync.shared ? 1 : 0, (unsigned long long)m->rl_sync.ok,
             (unsigned long long)m->rl_sync.failed, (unsigned long long)m->rl_sync.unshared);
    if (m->block_sync.on)
        emit(o,
             "# HELP pawld_block_syncs_total Syncs with detect.redis, by result.\n"
             "# TYPE pawld_block_syncs_total counter\npawld_block_syncs_total{result=\"ok\"} %llu\n"
             "pawld_block_syncs_total{result=\"failed\"} %llu\n"
             "# HELP pawld_blocks_shared_total Blocks set, extended or lifted, told to the other "
             "instances or learnt from them (detect.redis).\n"
             "# TYPE pawld_blocks_shared_total counter\npawld_blocks_shared_total{direction=\"told\"} %llu\n"
             "pawld_blocks_shared_total{direction=\"learnt\"} %llu\n"
             "# HELP pawld_blocks_unshared_total Blocks that could not be queued for the other "
             "instances (the queue full during an outage, a subject too long) or applied here (the block "
             "list full).\n"
             "# TYPE pawld_blocks_unshared_total counter\npawld_blocks_unshared_total %llu\n"
             "# HELP pawld_block_entries_refused_total Entries of the detect.redis stream that pawld "
             "does not write (an unknown op, kind or detector, a duration or time out of bounds), "
             "ignored: someone else writes to the stream.\n"
             "# TYPE pawld_block_entries_refused_total counter\npawld_block_entries_refused_total %llu\n",
             (unsigned long long)m->block_sync.ok, (unsigned long long)m->block_sync.failed,
             (unsigned long long)m->block_sync.told, (unsigned long long)m->block_sync.learnt,
             (unsigned long long)m->block_sync.unsent, (unsigned long long)m->block_sync.refused);
    const struct pawld_block_sync_stats *b = &m->block_sync;
    if (b->on && b->windows)
        emit(o,
             "# HELP pawld_detect_events_shared_total Requests the detectors judge, told to the other "
             "instances or read from the stream (detect.windows: shared).\n"
             "# TYPE pawld_detect_events_shared_total counter\n"
             "pawld_detect_events_shared_total{direction=\"told\"} %llu\n"
             "pawld_detect_events_shared_total{direction=\"read\"} %llu\n"
             "# HELP pawld_detect_events_late_total Events read after the time they belong to was judged "
             "(an instance or Redis slower than the 300 ms horizon): judged out of order.\n"
             "# TYPE pawld_detect_events_late_total counter\npawld_detect_events_late_total %llu\n"
             "# HELP pawld_detect_events_refused_total Events of the stream that are not pawld's, or "
             "found no room, ignored.\n"
             "# TYPE pawld_detect_events_refused_total counter\npawld_detect_events_refused_total %llu\n"
             "# HELP pawld_detect_events_alone_total Requests judged by this instance alone: Redis could "
             "not be told, or the sync was behind.\n"
             "# TYPE pawld_detect_events_alone_total counter\npawld_detect_events_alone_total %llu\n"
             "# HELP pawld_detect_findings_elsewhere_total Findings this instance raised that another "
             "instance claimed and wrote.\n"
             "# TYPE pawld_detect_findings_elsewhere_total counter\npawld_detect_findings_elsewhere_total %llu\n",
             (unsigned long long)b->ev_told, (unsigned long long)b->ev_read, (unsigned long long)b->ev_late,
             (unsigned long long)b->ev_refused, (unsigned long long)b->ev_alone,
             (unsigned long long)b->found_elsewhere);
}

size_t pawld_metrics_render(const struct pawld_metrics *m, const char *const *route_ids,
                            char *out, size_t cap)
{
    struct out o = {out, 0, cap, cap == 0};
    render_requests(&o, m, route_ids);
    render_latency(&o, m, route_ids);
    render_by_kind(&o, m);
    render_cert_dates(&o, m);
    render_shared(&o, m);
    emit(&o,
         "# HELP pawld_upstream_errors_total Upstream connections or responses that failed.\n"
         "# TYPE pawld_upstream_errors_total counter\npawld_upstream_errors_total %llu\n"
         "# HELP pawld_upstream_timeouts_total Upstream responses that timed out.\n"
         "# TYPE pawld_upstream_timeouts_total counter\npawld_upstream_timeouts_total %llu\n"
         "# HELP pawld_client_timeouts_total Client connections cut at a header, body or "
         "idle timeout.\n"
         "# TYPE pawld_client_timeouts_total counter\npawld_client_timeouts_total %llu\n"
         "# HELP pawld_jwt_cache_hits_total Bearer tokens found in the verified-token cache.\n"
         "# TYPE pawld_jwt_cache_hits_total counter\npawld_jwt_cache_hits_total %llu\n"
         "# HELP pawld_jwt_cache_misses_total Bearer tokens verified by signature.\n"
         "# TYPE pawld_jwt_cache_misses_total counter\npawld_jwt_cache_misses_total %llu\n"
         "# HELP pawld_connections_refused_total Connections closed at once: a worker held "
         "max_connections.\n"
         "# TYPE pawld_connections_refused_total counter\npawld_connections_refused_total %llu\n"
         "# HELP pawld_detector_untracked_total Principals' and addresses' events the detectors "
         "could not judge: their tables were full.\n"
         "# TYPE pawld_detector_untracked_total counter\npawld_detector_untracked_total %llu\n"
         "# HELP pawld_unrecorded_total Decisions answered 503 instead because the audit trail or "
         "the OCSF stream could not be written (they are in neither; pawld_requests_total counts "
         "them as decided).\n"
         "# TYPE pawld_unrecorded_total counter\npawld_unrecorded_total %llu\n"
         "# HELP pawld_telemetry_total Vehicle-link telemetry lines, applied to the twin or "
         "refused (implausible, malformed).\n"
         "# TYPE pawld_telemetry_total counter\npawld_telemetry_total{result=\"applied\"} %llu\n"
         "pawld_telemetry_total{result=\"refused\"} %llu\n"
         "# HELP pawld_configurations_loaded Configurations in memory: the running one, and "
         "older ones that requests or connections begun under them still use.\n"
         "# TYPE pawld_configurations_loaded gauge\npawld_configurations_loaded %llu\n"
         "# HELP pawld_reloads_total Reloads (SIGHUP or a changed file), by result: refused ones "
         "leave the previous configuration serving (the log says why).\n"
         "# TYPE pawld_reloads_total counter\npawld_reloads_total{result=\"ok\"} %llu\n"
         "pawld_reloads_total{result=\"refused\"} %llu\n",
         (unsigned long long)m->upstream_errors, (unsigned long long)m->upstream_timeouts,
         (unsigned long long)m->client_timeouts, (unsigned long long)m->jwt_cache_hits,
         (unsigned long long)m->jwt_cache_misses, (unsigned long long)m->connections_refused,
         (unsigned long long)m->detector_untracked, (unsigned long long)m->unrecorded,
         (unsigned long long)m->telemetry_applied, (unsigned long long)m->telemetry_refused,
         (unsigned long long)m->configurations, (unsigned long long)m->reloads_ok,
         (unsigned long long)m->reloads_refused);
    if (o.full)
        return 0;
    return o.n;
}
