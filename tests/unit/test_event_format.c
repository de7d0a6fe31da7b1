/* pawl_event_format against pawl_event_decision: for every kind of decision
 * the two must describe the same event (equal JSON), the direct one must be
 * one line of ASCII, and a buffer that is too small gives 0, never a
 * truncated line. */
#include "helper_common.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pawl/event.h"
#include "util.h"

static char route_id[] = "unlock", route_path[] = "/api/v1/vehicles/{vin}/commands/door.unlock";
static struct pawl_route route = {.id = route_id, .path = route_path};

static void same(const struct pawl_event_req *rq, const struct pawl_decision *d)
{
    char line[8192];
    size_t n = pawl_event_format(rq, d, line, sizeof line);
    assert_true(n > 0);
    assert_int_equal(strlen(line), n);
    for (size_t i = 0; i < n; i++)
        assert_true((unsigned char)line[i] >= 0x20 && (unsigned char)line[i] <= 0x7f);
    json_error_t err;
    json_t *fast = json_loadb(line, n, JSON_REJECT_DUPLICATES, &err);
    if (fast == NULL)
        fail_msg("not JSON: %s: %s", err.text, line);
    json_t *http = json_pack("{s:s%, s:{s:s%}}", "http_method", rq->method.p, rq->method.n, "url",
                             "path", rq->path.p, rq->path.n);
    if (rq->user_agent.n > 0)
        json_object_set_new(http, "user_agent", json_stringn(rq->user_agent.p, rq->user_agent.n));
    json_t *base = json_pack("{s:{s:s, s:i}, s:o, s:{s:s}}", "src_endpoint", "ip", rq->src_ip,
                             "port", rq->src_port, "http_request", http, "dst_endpoint", "svc_name",
                             rq->svc_name);
    json_t *ref = pawl_event_decision(base, rq->time_ms, rq->method, d);
    if (!json_equal(fast, ref)) {
        char *a = json_dumps(ref, JSON_COMPACT | JSON_SORT_KEYS), *b = json_dumps(fast, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("differ:\nref  %s\nfast %s", a, b);
    }
    for (size_t cap = 0; cap <= n; cap++) /* up to one byte short of the NUL */
        assert_int_equal(pawl_event_format(rq, d, line, cap), 0);
    json_decref(fast);
    json_decref(ref);
    json_decref(base);
}

static void test_allowed_and_denied(void **state)
{
    (void)state;
    struct pawl_event_req rq = {1763800000123, PAWL_STR("POST"),
                                PAWL_STR("/api/v1/vehicles/1HGCM82633A004352/commands/door.unlock"),
                                PAWL_STR("app/1.0 (caf\xc3\xa9; \xf0\x9f\x9a\x97)"), "198.51.100.7", 51234,
                                "public"};
    struct pawl_decision d;
    memset(&d, 0, sizeof d);
    d.reason = PAWL_R_ALLOWED;
    d.status = 200;
    d.route = &route;
    d.authenticated = true;
    snprintf(d.principal.uid, sizeof d.principal.uid, "u-1042");
    snprintf(d.principal.org, sizeof d.principal.org, "acme \"fleet\"");
    snprintf(d.principal.session, sizeof d.principal.session, "t-1");
    snprintf(d.principal.roles[0], sizeof d.principal.roles[0], "owner");
    snprintf(d.principal.roles[1], sizeof d.principal.roles[1], "driver");
    d.principal.nroles = 2;
    snprintf(d.vin, sizeof d.vin, "1HGCM82633A004352");
    same(&rq, &d);
    snprintf(d.principal.roles[1], sizeof d.principal.roles[1], "admin"); /* Admin */
    d.principal.org[0] = d.principal.session[0] = '\0';
    same(&rq, &d);
    d.principal.via = PAWL_AUTH_CERT; /* Service */
    d.principal.roles[1][0] = '\0';
    d.principal.nroles = 1;
    same(&rq, &d);
    d.reason = PAWL_R_RATE_LIMITED;
    d.status = 429;
    d.retry_after_s = 7;
    snprintf(d.detail, sizeof d.detail, "vehicle+command rate limit exceeded;\tretry \\ after 7 s\n");
    same(&rq, &d);
    d.authenticated = false;
    d.route = NULL;
    d.vin[0] = '\0';
    d.reason = PAWL_R_UNAUTHENTICATED;
    d.status = 401;
    rq.method = PAWL_STR("BREW");
    rq.user_agent = PAWL_STR("");
    same(&rq, &d);
    rq.method = PAWL_STR("PATCH");
    same(&rq, &d);
}

/* Bytes that are not UTF-8 (a client's User-Agent) become U+FFFD: the
 * line stays valid JSON and ASCII. Overlong forms and surrogates too. */
static void test_not_utf8(void **state)
{
    (void)state;
    struct pawl_event_req rq = {1, PAWL_STR("GET"), PAWL_STR("/x"),
                                PAWL_STR("a\xff b\xc0\xaf c\xed\xa0\x80 d\xe2\x82"), "::1", 1, NULL};
    struct pawl_decision d;
    char line[2048];
    memset(&d, 0, sizeof d);
    d.reason = PAWL_R_ROUTE_NOT_FOUND;
    d.status = 404;
    assert_true(pawl_event_format(&rq, &d, line, sizeof line) > 0);
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    const char *ua = json_string_value(json_object_get(json_object_get(j, "http_request"), "user_agent"));
    assert_string_equal(ua, "a\xef\xbf\xbd b\xef\xbf\xbd\xef\xbf\xbd c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd d\xef\xbf\xbd\xef\xbf\xbd");
    assert_null(json_object_get(j, "dst_endpoint"));
    json_decref(j);
}

/* The appender the formatter (and pawld's heads) write with. */
static void test_out(void **state)
{
    (void)state;
    char b[64];
    struct pawl__out o = {b, 0, sizeof b, false};
    pawl__out_u64(&o, 0);
    pawl__out_put(&o, " ", 1);
    pawl__out_u64(&o, UINT64_MAX);
    pawl__out_put(&o, " ", 1);
    pawl__out_i64(&o, INT64_MIN);
    pawl__out_put(&o, " ", 1);
    pawl__out_i64(&o, -7);
    pawl__out_cstr(&o, " x");
    pawl__out_hex(&o, 0);
    pawl__out_put(&o, " ", 1);
    pawl__out_hex(&o, 0x1f0a);
    assert_true(pawl__out_nul(&o));
    assert_string_equal(b, "0 18446744073709551615 -9223372036854775808 -7 x0 1f0a");
    /* what does not fit is not written, and nothing after it either */
    char s[8];
    struct pawl__out t = {s, 0, sizeof s, false};
    pawl__out_cstr(&t, "1234567");
    assert_false(t.full);
    pawl__out_cstr(&t, "8");
    pawl__out_cstr(&t, "");
    assert_true(t.full);
    assert_int_equal(t.len, 7);
    assert_false(pawl__out_nul(&t));
    struct pawl__out z = {s, 0, 0, false};
    pawl__out_u64(&z, 1);
    assert_false(pawl__out_nul(&z));
}

/* The escaper for log lines: every prefix it leaves in a buffer that is
 * too small is itself the inside of a valid JSON string, and the plain
 * bytes before a cut are kept. */
static void test_json_esc(void **state)
{
    (void)state;
    static const char in[] = "plain \"q\" back\\slash\n\x01 \xc3\xa9 \xf0\x9f\x9a\x97 bad\xff"
                             " and a plain tail of some forty bytes";
    static const char want[] = "plain \\\"q\\\" back\\\\slash\\n\\u0001 \\u00e9 "
                               "\\ud83d\\ude97 bad\\ufffd and a plain tail of some forty bytes";
    char b[256];
    struct pawl__out o = {b, 0, sizeof b, false};
    pawl__json_esc(&o, in, sizeof in - 1);
    assert_true(pawl__out_nul(&o));
    assert_string_equal(b, want);
    for (size_t cap = 0; cap <= sizeof want; cap++) {
        char q[260];
        struct pawl__out t = {b, 0, cap, false};
        pawl__json_esc(&t, in, sizeof in - 1);
        assert_int_equal(t.full, cap < sizeof want); /* want and its NUL */
        if (cap == 0)
            continue;
        (void)pawl__out_nul(&t);
        assert_true(strncmp(b, want, t.len) == 0); /* a prefix */
        /* cut by the end of the buffer, or before an escape (12 bytes at most) */
        assert_true(t.len + 1 + 12 >= cap);
        snprintf(q, sizeof q, "\"%s\"", b);
        json_error_t err;
        json_t *j = json_loads(q, JSON_DECODE_ANY, &err);
        if (j == NULL)
            fail_msg("cap %zu: not a JSON string: %s: %s", cap, err.text, q);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_and_denied),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_out),
        cmocka_unit_test(test_json_esc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
