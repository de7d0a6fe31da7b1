/* pawld's metrics (src/gateway/metrics.h): per-worker counters merged and
 * rendered in the Prometheus text format, checked line by line. */
#include "helper_common.h"

#include <stdio.h>
#include <string.h>

#include "metrics.h"

static void has(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("missing line: %s\n--- in:\n%s", line, text);
}

static void test_record_merge_render(void **state)
{
    (void)state;
    static const char *const ids[] = {"status", "un\"lock"};
    struct pawld_metrics w1, w2;
    static char out[16384];
    assert_int_equal(pawld_metrics_init(&w1, 2), PAWL_OK);
    assert_int_equal(pawld_metrics_init(&w2, 2), PAWL_OK);
    pawld_metrics_record(&w1, 0, PAWL_R_ALLOWED, 20);      /* <= 25 us */
    pawld_metrics_record(&w1, 0, PAWL_R_ALLOWED, 30);      /* <= 50 us */
    pawld_metrics_record(&w2, 0, PAWL_R_ALLOWED, 2000000); /* +Inf */
    pawld_metrics_record(&w2, 1, PAWL_R_NOT_YOUR_VEHICLE, 100);
    pawld_metrics_record(&w2, -1, PAWL_R_ROUTE_NOT_FOUND, 5);
    w2.upstream_timeouts = 3;
    w1.rate_limited[PAWL_RL_VIN_COMMAND - 1] = 1;
    w2.rate_limited[PAWL_RL_VIN_COMMAND - 1] = 1;
    pawld_metrics_add(&w1, &w2);
    w1.findings[0] = 5; /* process-wide: set, not added */
    size_t n = pawld_metrics_render(&w1, ids, out + 1, sizeof out - 1);
    out[0] = '\n';
    assert_true(n > 0);
    assert_int_equal(n, strlen(out + 1));
    has(out, "# TYPE pawld_requests_total counter");
    has(out, "pawld_requests_total{route=\"status\",decision=\"allow\",reason=\"allowed\"} 3");
    has(out, "pawld_requests_total{route=\"un\\\"lock\",decision=\"deny\",reason=\"not_your_vehicle\"} 1");
    has(out, "pawld_requests_total{route=\"\",decision=\"deny\",reason=\"route_not_found\"} 1");
    has(out, "pawld_request_duration_seconds_bucket{route=\"status\",le=\"2.5e-05\"} 1");
    has(out, "pawld_request_duration_seconds_bucket{route=\"status\",le=\"5e-05\"} 2");
    has(out, "pawld_request_duration_seconds_bucket{route=\"status\",le=\"1\"} 2");
    has(out, "pawld_request_duration_seconds_bucket{route=\"status\",le=\"+Inf\"} 3");
    has(out, "pawld_request_duration_seconds_sum{route=\"status\"} 2.000050");
    has(out, "pawld_request_duration_seconds_count{route=\"status\"} 3");
    has(out, "pawld_request_duration_seconds_bucket{route=\"un\\\"lock\",le=\"0.0001\"} 1");
    has(out, "pawld_upstream_timeouts_total 3");
    /* which limit refused, which detector found: every label, 0 included */
    has(out, "pawld_rate_limited_total{limit=\"vin_command\"} 2");
    has(out, "pawld_rate_limited_total{limit=\"principal\"} 0");
    has(out, "pawld_rate_limited_total{limit=\"global\"} 0");
    char line[128];
    snprintf(line, sizeof line, "pawld_detector_findings_total{detector=\"%s\"} 5", pawl_detector_name(0));
    has(out, line);
    snprintf(line, sizeof line, "pawld_detector_findings_total{detector=\"%s\"} 0",
             pawl_detector_name(PAWL_DETECTORS - 1));
    has(out, line);
    /* nothing for a route without requests */
    assert_null(strstr(out, "reason=\"rate_limited\""));
    /* too small a buffer: 0, never a cut text */
    assert_int_equal(pawld_metrics_render(&w1, ids, out, 100), 0);
    pawld_metrics_free(&w1);
    pawld_metrics_free(&w2);
}

/* Certificate and CRL dates: one gauge each, a HELP and TYPE once per
 * metric, names from the configuration escaped; none without TLS. */
static void test_cert_dates(void **state)
{
    (void)state;
    static char out[16384];
    struct pawld_metrics m;
    const struct pawld_cert_date d[] = {
        {"listener", "public", "server", 1800000000},
        {"listener", "public", "crl", 1797000000},
        {"upstream", "b\"ack", "ca", 1900000000},
        {"listener", "inner", "client_ca", 1850000000},
        {"listener", "inner", "crl", 1797100000},
    };
    assert_int_equal(pawld_metrics_init(&m, 0), PAWL_OK);
    assert_true(pawld_metrics_render(&m, NULL, out, sizeof out) > 0);
    assert_null(strstr(out, "timestamp_seconds"));
    m.certs = d;
    m.ncerts = sizeof d / sizeof d[0];
    out[0] = '\n';
    assert_true(pawld_metrics_render(&m, NULL, out + 1, sizeof out - 1) > 0);
    has(out, "# TYPE pawld_certificate_expiry_timestamp_seconds gauge");
    has(out, "pawld_certificate_expiry_timestamp_seconds{of=\"listener\",name=\"public\",certificate=\"server\"} 1800000000");
    has(out, "pawld_certificate_expiry_timestamp_seconds{of=\"upstream\",name=\"b\\\"ack\",certificate=\"ca\"} 1900000000");
    has(out, "pawld_certificate_expiry_timestamp_seconds{of=\"listener\",name=\"inner\",certificate=\"client_ca\"} 1850000000");
    has(out, "# TYPE pawld_crl_next_update_timestamp_seconds gauge");
    has(out, "pawld_crl_next_update_timestamp_seconds{of=\"listener\",name=\"public\"} 1797000000");
    has(out, "pawld_crl_next_update_timestamp_seconds{of=\"listener\",name=\"inner\"} 1797100000");
    const char *first = strstr(out, "# TYPE pawld_crl_next_update_timestamp_seconds");
    assert_null(strstr(first + 1, "# TYPE pawld_crl_next_update_timestamp_seconds")); /* once */
    assert_null(strstr(out, "certificate=\"crl\""));
    pawld_metrics_free(&m);
}

/* rate_limits.redis's and detect.redis's series: only when on, with their
 * values. */
static void test_shared_state(void **state)
{
    (void)state;
    static char out[16384];
    struct pawld_metrics m;
    assert_int_equal(pawld_metrics_init(&m, 0), PAWL_OK);
    out[0] = '\n';
    assert_true(pawld_metrics_render(&m, NULL, out + 1, sizeof out - 1) > 0);
    assert_null(strstr(out, "pawld_rate_limit_"));
    assert_null(strstr(out, "pawld_block"));
    m.rl_sync = (struct pawld_rl_sync_stats){ .on = true, .shared = true, .ok = 12, .failed = 3, .unshared = 40 };
    m.block_sync = (struct pawld_block_sync_stats){ .on = true, .ok = 7, .failed = 1, .told = 5, .learnt = 2, .unsent = 9,
                                                  .refused = 4 };
    assert_true(pawld_metrics_render(&m, NULL, out + 1, sizeof out - 1) > 0);
    has(out, "# TYPE pawld_rate_limit_shared gauge");
    has(out, "pawld_rate_limit_shared 1");
    has(out, "pawld_rate_limit_syncs_total{result=\"ok\"} 12");
    has(out, "pawld_rate_limit_syncs_total{result=\"failed\"} 3");
    has(out, "pawld_rate_limit_unshared_total 40");
    has(out, "pawld_block_syncs_total{result=\"ok\"} 7");
    has(out, "pawld_block_syncs_total{result=\"failed\"} 1");
    has(out, "pawld_blocks_shared_total{direction=\"told\"} 5");
    has(out, "pawld_blocks_shared_total{direction=\"learnt\"} 2");
    has(out, "pawld_blocks_unshared_total 9");
    has(out, "pawld_block_entries_refused_total 4");
    m.rl_sync.shared = false;
    assert_true(pawld_metrics_render(&m, NULL, out + 1, sizeof out - 1) > 0);
    has(out, "pawld_rate_limit_shared 0");
    pawld_metrics_free(&m);
}

/* A reload that changes the routes: no counter goes back (review: the
 * process-wide ones, the JWT cache's and the unmatched requests' restarted
 * at zero); a route that stays keeps its counts under its new index. */
static void test_carry_over_reload(void **state)
{
    struct pawld_metrics old, fresh;
    (void)state;
    assert_int_equal(pawld_metrics_init(&old, 2), PAWL_OK); /* a, b */
    pawld_metrics_record(&old, 0, PAWL_R_ALLOWED, 10);
    pawld_metrics_record(&old, 1, PAWL_R_ALLOWED, 10);
    pawld_metrics_record(&old, 1, PAWL_R_RATE_LIMITED, 10);
    pawld_metrics_record(&old, -1, PAWL_R_ROUTE_NOT_FOUND, 10);
    old.upstream_errors = 3;
    old.jwt_cache_hits = 4;
    old.unrecorded = 1;
    assert_int_equal(pawld_metrics_init(&fresh, 2), PAWL_OK); /* b, c */
    long map[2] = { -1, 0 };
    pawld_metrics_carry(&fresh, &old, map);
    assert_int_equal(fresh.nroutes, 2);
    assert_int_equal(fresh.routes[0].by_reason[PAWL_R_ALLOWED], 1); /* b, now first */
    assert_int_equal(fresh.routes[0].by_reason[PAWL_R_RATE_LIMITED], 1);
    assert_int_equal(fresh.routes[1].by_reason[PAWL_R_ALLOWED], 0); /* c: new */
    assert_int_equal(fresh.routes[2].by_reason[PAWL_R_ROUTE_NOT_FOUND], 1); /* unmatched */
    assert_int_equal(fresh.upstream_errors, 3);
    assert_int_equal(fresh.jwt_cache_hits, 4);
    assert_int_equal(fresh.unrecorded, 1);
    pawld_metrics_free(&old);
    pawld_metrics_free(&fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_merge_render),
        cmocka_unit_test(test_carry_over_reload),
        cmocka_unit_test(test_cert_dates),
        cmocka_unit_test(test_shared_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
