/* Policy loading (strict, with file:line:column) and the route matcher. */
#include "helper_common.h"
#include "pawl/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pawl_policy *load_ok(const char *y)
{
    struct pawl_policy *p = NULL;
    struct pawl_diag d = { 0 };
    if (pawl_policy_load(y, strlen(y), "t.yaml", &p, &d) != PAWL_OK)
        fail_msg("policy rejected: %s", th_diag(&d));
    return p;
}

/* The load must fail with exactly this "t.yaml:L:C:" prefix and message part. */
static void load_fails(const char *y, const char *where, const char *msg)
{
    struct pawl_policy *p = NULL;
    struct pawl_diag d = { 0 };
    if (pawl_policy_load(y, strlen(y), "t.yaml", &p, &d) == PAWL_OK) {
        pawl_policy_free(p);
        fail_msg("policy accepted, expected '%s'", msg);
    }
    const char *got = th_diag(&d);
    if (strncmp(got, where, strlen(where)) != 0 || strstr(got, msg) == NULL)
        fail_msg("got '%s', expected '%s ... %s'", got, where, msg);
}

#define HDR "version: 1\nroles:\n  owner: [read, control]\n  dealer: [read, admin]\n"

static void test_example_loads(void **s)
{
    (void)s;
    size_t n;
    char *y = th_read_src("examples/policy.yaml", &n);
    struct pawl_policy *p = NULL;
    struct pawl_diag d = { 0 };
    if (pawl_policy_load(y, n, "examples/policy.yaml", &p, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_true(p->nroutes >= 8);
    assert_string_equal(p->jwt_issuer, "https://id.example-oem.com");
    assert_int_equal(p->jwt_leeway_ms, 30000);
    const struct pawl_route *unlock = NULL;
    for (size_t i = 0; i < p->nroutes; i++)
        if (strcmp(p->routes[i].id, "door-unlock") == 0)
            unlock = &p->routes[i];
    assert_non_null(unlock);
    assert_int_equal(unlock->cap, PAWL_CAP_CONTROL);
    assert_int_equal(unlock->vehicle_seg, 3);
    assert_int_equal(unlock->nconds, 1); /* stationary_only */
    assert_string_equal(unlock->conds[0].signal, "Vehicle.Speed");
    assert_int_equal(unlock->rl_vin_command.interval_us, 10000000); /* 6 per minute */
    assert_int_equal(unlock->rl_vin_command.burst, 2);
    pawl_policy_free(p);
    free(y);
}

static void test_errors_have_positions(void **s)
{
    (void)s;
    load_fails(HDR "routes:\n  - id: a\n    path: /x\n    methods: [GET]\n    capability: read\n"
                   "    roles: [owner]\n    colour: blue\n",
               "t.yaml:11:5:", "unknown key 'colour' in a route");
    load_fails(HDR "routes:\n  - id: a\n    path: /x\n    methods: [FETCH]\n    capability: read\n    roles: [owner]\n",
               "t.yaml:8:15:", "unknown method");
    load_fails(HDR "routes:\n  - id: a\n    path: /x\n    methods: [GET]\n    capability: drive\n    roles: [owner]\n",
               "t.yaml:9:17:", "capability must be one of");
    load_fails(HDR "routes:\n  - id: a\n    path: /x\n    methods: [GET]\n    capability: read\n    roles: [king]\n",
               "t.yaml:10:13:", "unknown role 'king'");
    load_fails("version: 2\n", "t.yaml:1:10:", "unsupported policy version");
    load_fails("version: 1\nversion: 1\n", "t.yaml:2:1:", "duplicate key 'version'");
    load_fails("version: [1\n", "t.yaml:", "YAML syntax");
    load_fails(HDR "rate_limits:\n  principal: {rate: 10, per: 1 minute}\n", "t.yaml:6:30:", "duration");
    load_fails(HDR "rate_limits:\n  principal: {rate: -1, per: 1m}\n", "t.yaml:6:21:", "integer from 1");
    load_fails(HDR "jwt:\n  leeway_s: 99999\n", "t.yaml:6:13:", "integer from 0 to 600");
    load_fails(HDR "routes: []\n", "t.yaml:1:1:", "defines no routes");
    load_fails(HDR "rate_limits:\n  principal: {rate: 1, per: 365d, burst: 1000000000}\n", "t.yaml:6:14:",
               "at most 366 days");
}

static void test_route_semantics_rejected(void **s)
{
    (void)s;
    const char *r = "routes:\n  - id: a\n    path: /v/{vin}/x\n    methods: [POST]\n"
                    "    capability: control\n    roles: [owner]\n";
    char y[2048];
    snprintf(y, sizeof y, HDR "%s    vehicle: id\n", r);
    load_fails(y, "t.yaml:6:5:", "vehicle parameter '{id}' is not in the path");
    snprintf(y, sizeof y, HDR "%s    stationary_only: true\n", r);
    load_fails(y, "t.yaml:6:5:", "need 'vehicle:'");
    snprintf(y, sizeof y, HDR "%s    rate_limits: {vin_command: {rate: 1, per: 1m}}\n", r);
    load_fails(y, "t.yaml:6:5:", "vin_command needs 'vehicle:'");
    snprintf(y, sizeof y, HDR "%s    vehicle: vin\n    conditions: [{signal: Vehicles.Speed}]\n", r);
    load_fails(y, "t.yaml:12:27:", "signal must be a VSS path");
    snprintf(y, sizeof y, HDR "%s    vehicle: vin\n    fail_open: true\n", r);
    load_fails(y, "t.yaml:12:16:", "fail_open is only allowed on read routes");
    snprintf(y, sizeof y, HDR "%s  - id: b\n    path: /v/{id}/x\n    methods: [POST]\n"
                              "    capability: control\n    roles: [owner]\n", r);
    load_fails(y, "t.yaml:11:5:", "route 'b': conflicts with route 'a'");
    snprintf(y, sizeof y, HDR "%s  - id: a\n    path: /w\n    methods: [GET]\n    capability: read\n    roles: [owner]\n", r);
    load_fails(y, "t.yaml:11:5:", "duplicate route id 'a'");
    load_fails(HDR "routes:\n  - {id: a, path: /v/../x, methods: [GET], capability: read, roles: [owner]}\n",
               "t.yaml:6:5:", "bad literal segment");
    load_fails(HDR "routes:\n  - {id: a, path: '/v/{v-in}', methods: [GET], capability: read, roles: [owner]}\n",
               "t.yaml:6:5:", "bad parameter segment");
    /* which {vin} would the grant check, which one the upstream bind? */
    load_fails(HDR "routes:\n  - {id: a, path: '/v/{vin}/share/{vin}', methods: [GET], capability: read, "
                   "roles: [owner], vehicle: vin}\n",
               "t.yaml:6:5:", "names the parameter '{vin}' twice");
    load_fails(HDR "routes:\n  - {id: a, path: '/v/{id}/x/{id}', methods: [GET], capability: read, roles: [owner]}\n",
               "t.yaml:6:5:", "names the parameter '{id}' twice");
}

static void test_dangerous_yaml(void **s)
{
    (void)s;
    load_fails("a: &x [1, 2]\nb: *x\n", "t.yaml:1:4:", "anchors");
    load_fails("version: 1\n--- \nversion: 1\n", "t.yaml:2:1:", "more than one YAML document");
    load_fails("version: !!str 1\n", "t.yaml:1:10:", "tags");
    char deep[200] = "a: ";
    for (int i = 0; i < 40; i++)
        deep[3 + i] = '[';
    deep[43] = '\0';
    load_fails(deep, "t.yaml:1:", "nesting too deep");
}

static const struct pawl_route *match(const struct pawl_policy *p, const char *path, const char *m,
                                      enum pawl_match want)
{
    struct pawl_path np;
    struct pawl_diag d;
    const struct pawl_route *r = NULL;
    assert_int_equal(pawl_path_normalize(path, strlen(path), &np, &d), PAWL_OK);
    enum pawl_match got = pawl_policy_match(p, &np, pawl_method_parse((pawl_str){ m, strlen(m) }), &r);
    if (got != want)
        fail_msg("%s %s: match %d, want %d", m, path, got, want);
    return r;
}

static void test_matcher(void **s)
{
    (void)s;
    struct pawl_policy *p = load_ok(
        HDR "routes:\n"
        "  - {id: cmd, path: '/v/{vin}/commands/{cmd}', methods: [POST], capability: control, roles: [owner], vehicle: vin}\n"
        "  - {id: unlock, path: '/v/{vin}/commands/door.unlock', methods: [POST], capability: control, roles: [owner], vehicle: vin}\n"
        "  - {id: mine, path: /v/mine/status, methods: [GET], capability: read, roles: [owner]}\n"
        "  - {id: status, path: '/v/{vin}/status', methods: [GET, HEAD], capability: read, roles: [owner], vehicle: vin}\n"
        "  - {id: deep, path: '/v/{vin}/x/y', methods: [GET], capability: read, roles: [owner]}\n"
        "  - {id: root, path: /, methods: [GET], capability: read, roles: [owner]}\n");
    assert_string_equal(match(p, "/v/AB/commands/door.unlock", "POST", PAWL_MATCH_OK)->id, "unlock");
    assert_string_equal(match(p, "/v/AB/commands/horn", "POST", PAWL_MATCH_OK)->id, "cmd");
    assert_string_equal(match(p, "/v/mine/status", "GET", PAWL_MATCH_OK)->id, "mine");
    assert_string_equal(match(p, "/v/AB/status", "HEAD", PAWL_MATCH_OK)->id, "status");
    /* literal 'mine' wins, but a path it cannot finish falls back to {vin} */
    assert_string_equal(match(p, "/v/mine/x/y", "GET", PAWL_MATCH_OK)->id, "deep");
    assert_string_equal(match(p, "/", "GET", PAWL_MATCH_OK)->id, "root");
    match(p, "/v/AB/status", "POST", PAWL_MATCH_BAD_METHOD);
    match(p, "/v/AB/status", "BREW", PAWL_MATCH_BAD_METHOD);
    match(p, "/v/AB/Status", "GET", PAWL_MATCH_NO_ROUTE);   /* case-sensitive */
    match(p, "/V/AB/status", "GET", PAWL_MATCH_NO_ROUTE);
    match(p, "/v/AB", "GET", PAWL_MATCH_NO_ROUTE);
    match(p, "/v/AB/status/extra", "GET", PAWL_MATCH_NO_ROUTE);
    pawl_policy_free(p);
}

static void test_thousand_routes(void **s)
{
    (void)s;
    size_t cap = 400000, n = 0;
    char *y = malloc(cap);
    n += (size_t)snprintf(y + n, cap - n, HDR "routes:\n");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(y + n, cap - n,
                              "  - {id: r%d, path: '/api/v%d/svc%d/{vin}/op%d', methods: [GET], "
                              "capability: read, roles: [owner], vehicle: vin}\n",
                              i, i % 3, i / 3, i);
    struct pawl_policy *p = load_ok(y);
    assert_int_equal(p->nroutes, 1000);
    assert_string_equal(match(p, "/api/v0/svc333/ABC/op999", "GET", PAWL_MATCH_OK)->id, "r999");
    assert_string_equal(match(p, "/api/v0/svc0/ABC/op0", "GET", PAWL_MATCH_OK)->id, "r0");
    match(p, "/api/v0/svc0/ABC/op1", "GET", PAWL_MATCH_NO_ROUTE);
    /* Every route by its own path; the same literals under another parent, a
     * literal's prefix or extension, and another route's last segment miss. */
    char path[96], want[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(path, sizeof path, "/api/v%d/svc%d/ABC/op%d", i % 3, i / 3, i);
        snprintf(want, sizeof want, "r%d", i);
        assert_string_equal(match(p, path, "GET", PAWL_MATCH_OK)->id, want);
        snprintf(path, sizeof path, "/api/v%d/svc%d/ABC/op%d", (i + 1) % 3, i / 3, i);
        match(p, path, "GET", PAWL_MATCH_NO_ROUTE);
        snprintf(path, sizeof path, "/api/v%d/svc%d0/ABC/op%d", i % 3, i / 3, i);
        match(p, path, "GET", PAWL_MATCH_NO_ROUTE);
        snprintf(path, sizeof path, "/api/v%d/svc%d/ABC/op%d", i % 3, i / 3, (i + 3) % 1000);
        match(p, path, "GET", PAWL_MATCH_NO_ROUTE);
        snprintf(path, sizeof path, "/api/v%d/svc%d/ABC/op", i % 3, i / 3);
        match(p, path, "GET", PAWL_MATCH_NO_ROUTE);
    }
    pawl_policy_free(p);
    free(y);
}

static void test_client_identity(void **s)
{
    (void)s;
    struct pawl_policy *p = load_ok(
        HDR "clients:\n"
        "  - {spki_sha256: 'sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', principal: tool-1, org: d-17, roles: [dealer]}\n"
        "  - {subject: 'CN=svc,O=OEM', principal: svc, roles: [owner]}\n"
        "routes:\n  - {id: r, path: /x, methods: [GET], capability: read, roles: [owner]}\n");
    uint8_t spki[32];
    for (int i = 0; i < 32; i++)
        spki[i] = (uint8_t)i;
    struct pawl_principal pr;
    assert_true(pawl_policy_client_identity(p, spki, (pawl_str){ "", 0 }, &pr));
    assert_string_equal(pr.uid, "tool-1");
    assert_string_equal(pr.org, "d-17");
    assert_int_equal(pr.nroles, 1);
    assert_string_equal(pr.roles[0], "dealer");
    assert_true(pawl_policy_client_identity(p, NULL, PAWL_STR("CN=svc,O=OEM"), &pr));
    assert_string_equal(pr.uid, "svc");
    spki[0] = 1;
    assert_false(pawl_policy_client_identity(p, spki, PAWL_STR("CN=svc,O=OEMX"), &pr));
    pawl_policy_free(p);
    load_fails(HDR "clients:\n  - {spki_sha256: 'sha256//AAEC', principal: x, roles: [owner]}\n",
               "t.yaml:6:19:", "spki_sha256 must be");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_loads), cmocka_unit_test(test_errors_have_positions),
        cmocka_unit_test(test_route_semantics_rejected), cmocka_unit_test(test_dangerous_yaml),
        cmocka_unit_test(test_matcher), cmocka_unit_test(test_thousand_routes),
        cmocka_unit_test(test_client_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
