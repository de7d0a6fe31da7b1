/* The decision pipeline end to end, and its OCSF events. Real keys, real
 * signatures; each reason code is produced by the input that should cause it. */
#include "helper_common.h"
#include "helper_jwt.h"
#include "pawl/engine.h"
#include "pawl/event.h"
#include "pawl/jwt.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1763800000000LL
#define V1 "1HGCM82633A004352"
#define V2 "5YJ3E1EA7KF317000"
#define V3 "WVWZZZ1JZXW000001"

static const char policy_yaml[] =
    "version: 1\n"
    "jwt: {issuer: iss, audience: aud, leeway_s: 5}\n"
    "roles: {owner: [read, control, pii], dealer: [read, admin], service: [read, ota]}\n"
    "clients:\n"
    "  - {subject: 'CN=ota,O=OEM', principal: svc-ota, roles: [service]}\n"
    "rate_limits:\n"
    "  principal: {rate: 1000, per: 1s}\n"
    "routes:\n"
    "  - {id: status, path: '/v/{vin}/status', methods: [GET], capability: read, roles: [owner, dealer], vehicle: vin}\n"
    "  - {id: odo, path: '/v/{vin}/odometer', methods: [GET], capability: read, roles: [owner], vehicle: vin,\n"
    "     fail_open: true, conditions: [{signal: Vehicle.Speed, op: ge, value: 0}]}\n"
    "  - {id: unlock, path: '/v/{vin}/unlock', methods: [POST], capability: control, roles: [owner], vehicle: vin,\n"
    "     stationary_only: true, rate_limits: {vin_command: {rate: 1, per: 1m, burst: 2}}}\n"
    "  - {id: start, path: '/v/{vin}/start', methods: [POST], capability: control, roles: [owner], vehicle: vin, step_up: true}\n"
    "  - {id: keys, path: '/dealer/{vin}/keys', methods: [GET], capability: admin, roles: [dealer], vehicle: vin}\n"
    "  - {id: ota, path: /ota, methods: [POST], capability: ota, roles: [service]}\n"
    "  - {id: swap, path: '/swap/{from}/to/{vin}', methods: [POST], capability: control, roles: [owner],\n"
    "     vehicle: vin, stationary_only: true, rate_limits: {vin_command: {rate: 1, per: 1m, burst: 1}}}\n";

static const char grants_jsonl[] =
    "{\"principal\":\"alice\",\"vin\":\"" V1 "\",\"role\":\"owner\",\"since\":0}\n"
    "{\"principal\":\"alice\",\"vin\":\"" V2 "\",\"role\":\"owner\",\"since\":0}\n"
    "{\"principal\":\"alice\",\"vin\":\"" V3 "\",\"role\":\"owner\",\"since\":0,\"until\":1763700000000}\n"
    "{\"principal\":\"bob\",\"vin\":\"" V2 "\",\"role\":\"owner\",\"since\":1763900000000}\n"
    "{\"principal\":\"d1\",\"vin\":\"" V1 "\",\"role\":\"dealer\",\"since\":1763790000000,\"until\":1763850000000,\"org\":\"dealer-1\"}\n";

struct fx {
    EVP_PKEY *key;
    struct pawl_policy *p;
    struct pawl_jwks *jwks;
    struct pawl_grants *g;
    struct pawl_twin *t;
    struct pawl_engine *e;
    char tok[4][2048]; /* alice, bob, d1 (org dealer-1), d1 with org dealer-2 */
};

static void sign_for(struct fx *f, int i, const char *sub, const char *roles, const char *org)
{
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"iss\",\"aud\":\"aud\",\"sub\":\"%s\",\"roles\":%s%s%s%s,\"exp\":%lld,\"jti\":\"j-%s\"}",
             sub, roles, org ? ",\"org\":\"" : "", org ? org : "", org ? "\"" : "",
             (long long)(T0 / 1000 + 2 * 86400), sub);
    assert_true(th_jwt_sign(f->key, "EdDSA", "k1", NULL, payload, f->tok[i], sizeof f->tok[i]) > 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct pawl_diag d;
    char jwks[2048];
    const char *alg = "EdDSA", *kid = "k1";
    f->key = th_key_new("EdDSA");
    int n = th_jwks_json(&f->key, &alg, &kid, 1, jwks, sizeof jwks);
    assert_true(n > 0);
    if (pawl_policy_load(policy_yaml, sizeof policy_yaml - 1, "t", &f->p, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_int_equal(pawl_jwks_parse(jwks, (size_t)n, "jwks", &f->jwks, &d), PAWL_OK);
    assert_int_equal(pawl_grants_new(f->p->max_delegation_ms, &f->g), PAWL_OK);
    if (pawl_grants_load(f->g, grants_jsonl, sizeof grants_jsonl - 1, "g", &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_int_equal(pawl_twin_new(100, &f->t), PAWL_OK);
    assert_int_equal(pawl_engine_new(f->p, f->jwks, f->g, f->t, &f->e), PAWL_OK);
    sign_for(f, 0, "alice", "[\"owner\"]", NULL);
    sign_for(f, 1, "bob", "[\"owner\"]", NULL);
    sign_for(f, 2, "d1", "[\"dealer\"]", "dealer-1");
    sign_for(f, 3, "d1", "[\"dealer\"]", "dealer-2");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    pawl_engine_free(f->e);
    pawl_twin_free(f->t);
    pawl_grants_free(f->g);
    pawl_jwks_free(f->jwks);
    pawl_policy_free(f->p);
    EVP_PKEY_free(f->key);
    free(f);
    return 0;
}

static void speed(struct fx *f, const char *vin, double v, int64_t t)
{
    uint16_t sig = pawl_twin_signal(f->t, PAWL_STR("Vehicle.Speed"));
    assert_int_equal(pawl_twin_set(f->t, (pawl_str){ vin, 17 }, sig, v, t), PAWL_OK);
}

static enum pawl_reason ask(struct fx *f, const char *m, const char *path, int tok, int64_t t,
                            struct pawl_decision *dec)
{
    struct pawl_request rq = { .method = { m, strlen(m) }, .path = { path, strlen(path) }, .time_ms = t };
    if (tok >= 0)
        rq.bearer = (pawl_str){ f->tok[tok], strlen(f->tok[tok]) };
    return pawl_decide(f->e, &rq, dec);
}

#define EXPECT(f, m, path, tok, t, want)                                                   \
    do {                                                                                    \
        struct pawl_decision d_;                                                            \
        enum pawl_reason r_ = ask(f, m, path, tok, t, &d_);                                 \
        if (r_ != (want))                                                                   \
            fail_msg("%s %s: got %s (%s), want %s", m, path, pawl_reason_name(r_), d_.detail, \
                     pawl_reason_name(want));                                               \
    } while (0)

static void test_read_and_object_level(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    assert_int_equal(ask(f, "GET", "/v/" V1 "/status", 0, T0, &d), PAWL_R_ALLOWED);
    assert_int_equal(d.status, 200);
    assert_string_equal(d.principal.uid, "alice");
    assert_string_equal(d.vin, V1);
    assert_string_equal(d.route->id, "status");
    EXPECT(f, "GET", "/v/" V1 "/status", 1, T0, PAWL_R_NOT_YOUR_VEHICLE);  /* bob: not his */
    EXPECT(f, "GET", "/v/" V2 "/status", 1, T0, PAWL_R_GRANT_NOT_YET_VALID);
    EXPECT(f, "GET", "/v/" V3 "/status", 0, T0, PAWL_R_GRANT_EXPIRED);
    EXPECT(f, "GET", "/v/1HGCM82633A00435/status", 0, T0, PAWL_R_BAD_VIN);
    EXPECT(f, "GET", "/v/1hgcm82633a004352/status", 0, T0, PAWL_R_BAD_VIN);
    EXPECT(f, "GET", "/v/" V1 "/status", -1, T0, PAWL_R_UNAUTHENTICATED);
    EXPECT(f, "GET", "/v/" V1 "/status", 0, T0 + 3 * 86400000LL, PAWL_R_TOKEN_EXPIRED);
    assert_int_equal(ask(f, "GET", "/v/" V1 "/status", 1, T0, &d), PAWL_R_NOT_YOUR_VEHICLE);
    assert_int_equal(d.status, 403);
}

static void test_roles_and_orgs(void **state)
{
    struct fx *f = *state;
    EXPECT(f, "GET", "/dealer/" V1 "/keys", 2, T0, PAWL_R_ALLOWED);       /* own org, in window */
    EXPECT(f, "GET", "/dealer/" V1 "/keys", 3, T0, PAWL_R_ORG_MISMATCH);  /* same account, other org */
    EXPECT(f, "GET", "/dealer/" V1 "/keys", 2, 1763860000000, PAWL_R_GRANT_EXPIRED);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 2, T0, PAWL_R_FORBIDDEN_ROLE); /* dealers never unlock */
    EXPECT(f, "GET", "/dealer/" V1 "/keys", 0, T0, PAWL_R_FORBIDDEN_ROLE); /* owners are not dealers */
}

/* With several refused grants, the reason does not depend on their order. */
static void test_grant_reason_order(void **state)
{
    struct fx *f = *state;
    const char *lines[2] = {
        "{\"principal\":\"d1\",\"vin\":\"" V2 "\",\"role\":\"dealer\",\"since\":1763700000000,\"until\":1763710000000,\"org\":\"dealer-1\"}",
        "{\"principal\":\"d1\",\"vin\":\"" V2 "\",\"role\":\"dealer\",\"since\":1763790000000,\"until\":1763850000000,\"org\":\"dealer-9\"}",
    };
    for (int order = 0; order < 2; order++) {
        struct pawl_grants *g;
        struct pawl_engine *e;
        struct pawl_diag d;
        struct pawl_decision dec;
        assert_int_equal(pawl_grants_new(f->p->max_delegation_ms, &g), PAWL_OK);
        for (int i = 0; i < 2; i++) {
            const char *l = lines[order ? 1 - i : i];
            assert_int_equal(pawl_grants_add_line(g, l, strlen(l), "g", 1, &d), PAWL_OK);
        }
        assert_int_equal(pawl_engine_new(f->p, f->jwks, g, f->t, &e), PAWL_OK);
        struct pawl_request rq = { .method = PAWL_STR("GET"), .path = PAWL_STR("/v/" V2 "/status"),
                                   .time_ms = T0, .bearer = { f->tok[2], strlen(f->tok[2]) } };
        assert_int_equal(pawl_decide(e, &rq, &dec), PAWL_R_ORG_MISMATCH);
        assert_non_null(strstr(dec.detail, "dealer-9"));
        pawl_engine_free(e);
        pawl_grants_free(g);
    }
}

static void test_routing_reasons(void **state)
{
    struct fx *f = *state;
    EXPECT(f, "GET", "/v/" V1 "/../admin", 0, T0, PAWL_R_BAD_PATH);
    EXPECT(f, "GET", "/v/" V1 "%2fstatus", 0, T0, PAWL_R_BAD_PATH);
    EXPECT(f, "GET", "/x", 0, T0, PAWL_R_ROUTE_NOT_FOUND);
    EXPECT(f, "DELETE", "/v/" V1 "/status", 0, T0, PAWL_R_METHOD_NOT_ALLOWED);
    EXPECT(f, "get", "/v/" V1 "/status", 0, T0, PAWL_R_METHOD_NOT_ALLOWED);
}

static void test_twin_context(void **state)
{
    struct fx *f = *state;
    const int64_t M = 61000; /* one vin_command slot per minute: space the attempts */
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0, PAWL_R_VEHICLE_STATE_UNKNOWN);
    speed(f, V1, 50, T0 + M);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + M + 1000, PAWL_R_UNSAFE_VEHICLE_STATE);
    speed(f, V1, 0, T0 + 2 * M);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 2 * M + 1000, PAWL_R_ALLOWED);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 3 * M + 30001, PAWL_R_VEHICLE_STATE_STALE);
    speed(f, V1, 0, T0 + 6 * M);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 5 * M, PAWL_R_VEHICLE_STATE_STALE); /* from the future */
    /* fail_open read route: no state is fine, a failing condition is not */
    EXPECT(f, "GET", "/v/" V2 "/odometer", 0, T0 + 6 * M, PAWL_R_ALLOWED);
    speed(f, V2, -1, T0 + 6 * M);
    EXPECT(f, "GET", "/v/" V2 "/odometer", 0, T0 + 6 * M, PAWL_R_UNSAFE_VEHICLE_STATE);
}

/* A route whose vehicle is not the first VIN in its path: the grant, the
 * vehicle's state and its rate limit are all those of the vehicle named. */
static void test_vehicle_is_the_named_segment(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    speed(f, V1, 0, T0);
    speed(f, V2, 0, T0);
    speed(f, V3, 50, T0); /* and alice's grant on V3 has ended */
    assert_int_equal(ask(f, "POST", "/swap/" V3 "/to/" V1, 0, T0 + 1000, &d), PAWL_R_ALLOWED);
    assert_string_equal(d.vin, V1);
    EXPECT(f, "POST", "/swap/" V2 "/to/" V1, 0, T0 + 1000, PAWL_R_RATE_LIMITED); /* V1's budget */
    EXPECT(f, "POST", "/swap/" V1 "/to/" V2, 0, T0 + 1000, PAWL_R_ALLOWED);      /* V2's own */
    EXPECT(f, "POST", "/swap/" V1 "/to/" V3, 0, T0 + 1000, PAWL_R_GRANT_EXPIRED);
    EXPECT(f, "POST", "/swap/" V1 "/to/" V2, 1, T0 + 1000, PAWL_R_GRANT_NOT_YET_VALID);
    EXPECT(f, "POST", "/swap/x/to/" V2, 1, T0 + 1000, PAWL_R_GRANT_NOT_YET_VALID);
    EXPECT(f, "POST", "/swap/" V1 "/to/x", 0, T0 + 1000, PAWL_R_BAD_VIN);
}

static void test_rate_limit(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    speed(f, V1, 0, T0 + 100000);
    /* A denied request must not consume budget: bob is refused first. */
    for (int i = 0; i < 5; i++)
        EXPECT(f, "POST", "/v/" V1 "/unlock", 1, T0 + 100000, PAWL_R_NOT_YOUR_VEHICLE);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_ALLOWED);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_ALLOWED);
    assert_int_equal(ask(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, &d), PAWL_R_RATE_LIMITED);
    assert_int_equal(d.status, 429);
    assert_int_equal(d.retry_after_s, 60);
    assert_non_null(strstr(d.detail, "vehicle+command"));
    assert_int_equal(d.rate_limit, PAWL_RL_VIN_COMMAND); /* for /metrics: which limit */
    assert_string_equal(pawl_rl_limit_name(d.rate_limit), "vin_command");
    assert_null(pawl_rl_limit_name(PAWL_RL_NONE));
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 160000 - 1000, PAWL_R_RATE_LIMITED);
    speed(f, V1, 0, T0 + 160000);
    assert_int_equal(ask(f, "POST", "/v/" V1 "/unlock", 0, T0 + 160000, &d), PAWL_R_ALLOWED);
    assert_int_equal(d.rate_limit, PAWL_RL_NONE); /* not left from the last decision */
}

static bool shared_check(void *ctx, const struct pawl_rl_check *c, unsigned n, int64_t now_us,
                         int64_t *retry_after_us, unsigned *which)
{
    return pawl_ratelimit_check(ctx, c, n, now_us, retry_after_us, which);
}

/* Two engines (two threads of a front end) over one external limiter: the
 * budget is shared, whichever engine a request reaches. */
static void test_shared_rate_limit(void **state)
{
    struct fx *f = *state;
    struct pawl_engine *e1, *e2, *own = f->e;
    struct pawl_ratelimit *rl;
    assert_int_equal(pawl_ratelimit_new(1000, &rl), PAWL_OK);
    struct pawl_rl_backend b = {shared_check, rl, 0x1234};
    assert_int_equal(pawl_engine_new_shared(f->p, f->jwks, f->g, f->t, &b, &e1), PAWL_OK);
    assert_int_equal(pawl_engine_new_shared(f->p, f->jwks, f->g, f->t, &b, &e2), PAWL_OK);
    assert_null(pawl_engine_ratelimit(e1)); /* no limiter of its own */
    speed(f, V1, 0, T0 + 100000);
    f->e = e1;
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_ALLOWED);
    f->e = e2;
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_ALLOWED);
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_RATE_LIMITED);
    f->e = e1;
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_RATE_LIMITED);
    f->e = own;
    pawl_engine_free(e1);
    pawl_engine_free(e2);
    pawl_ratelimit_free(rl);
}

static bool record_principal_key(void *ctx, const struct pawl_rl_check *c, unsigned n,
                                 int64_t now_us, int64_t *retry_after_us, unsigned *which)
{
    (void)n, (void)now_us, (void)retry_after_us, (void)which;
    *(uint64_t *)ctx = c[0].key;
    return true;
}

/* The keys an external limiter sees come from its seed alone: engines in
 * other processes (another process seed) that share the limiter and its
 * seed must derive the same keys. So an engine given this process's seed
 * and one given another seed key the same caller differently. */
static void test_external_limiter_keys_follow_its_seed(void **state)
{
    struct fx *f = *state;
    uint64_t with_own = 0, with_other = 0;
    struct pawl_rl_backend own = {record_principal_key, &with_own, pawl__seed()};
    struct pawl_rl_backend other = {record_principal_key, &with_other, pawl__seed() ^ 0x1234};
    struct pawl_engine *e_own, *e_other, *keep = f->e;
    assert_int_equal(pawl_engine_new_shared(f->p, f->jwks, f->g, f->t, &own, &e_own), PAWL_OK);
    assert_int_equal(pawl_engine_new_shared(f->p, f->jwks, f->g, f->t, &other, &e_other), PAWL_OK);
    speed(f, V1, 0, T0 + 100000);
    f->e = e_own;
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_ALLOWED);
    f->e = e_other;
    EXPECT(f, "POST", "/v/" V1 "/unlock", 0, T0 + 100000, PAWL_R_ALLOWED);
    f->e = keep;
    assert_true(with_own != 0 && with_other != 0);
    assert_true(with_own != with_other);
    pawl_engine_free(e_own);
    pawl_engine_free(e_other);
}

struct step_up_calls {
    unsigned n;
    bool answer;
};

static bool step_up_cb(void *ctx)
{
    struct step_up_calls *s = ctx;
    s->n++;
    return s->answer;
}

static void test_step_up_and_certs(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    EXPECT(f, "POST", "/v/" V1 "/start", 0, T0, PAWL_R_STEP_UP_REQUIRED);
    struct pawl_request rq = { .method = PAWL_STR("POST"), .path = PAWL_STR("/v/" V1 "/start"),
                               .time_ms = T0, .step_up_verified = true };
    rq.bearer = (pawl_str){ f->tok[0], strlen(f->tok[0]) };
    assert_int_equal(pawl_decide(f->e, &rq, &d), PAWL_R_ALLOWED);
    /* step_up_check: asked only on a step-up route once all else passed */
    struct step_up_calls calls = { 0, false };
    rq.step_up_verified = false;
    rq.step_up_check = step_up_cb;
    rq.step_up_ctx = &calls;
    assert_int_equal(pawl_decide(f->e, &rq, &d), PAWL_R_STEP_UP_REQUIRED);
    assert_int_equal(calls.n, 1);
    calls.answer = true;
    assert_int_equal(pawl_decide(f->e, &rq, &d), PAWL_R_ALLOWED);
    assert_int_equal(calls.n, 2);
    rq.bearer = (pawl_str){ "", 0 }; /* unauthenticated: never asked */
    assert_int_equal(pawl_decide(f->e, &rq, &d), PAWL_R_UNAUTHENTICATED);
    rq.bearer = (pawl_str){ f->tok[1], strlen(f->tok[1]) }; /* bob: not his car, never asked */
    assert_int_equal(pawl_decide(f->e, &rq, &d), PAWL_R_NOT_YOUR_VEHICLE);
    rq.bearer = (pawl_str){ f->tok[0], strlen(f->tok[0]) };
    rq.path = PAWL_STR("/v/" V1 "/status"); /* not a step-up route: never asked */
    rq.method = PAWL_STR("GET");
    assert_int_equal(pawl_decide(f->e, &rq, &d), PAWL_R_ALLOWED);
    assert_int_equal(calls.n, 2);
    struct pawl_request cert = { .method = PAWL_STR("POST"), .path = PAWL_STR("/ota"), .time_ms = T0,
                                 .cert_subject = PAWL_STR("CN=ota,O=OEM") };
    assert_int_equal(pawl_decide(f->e, &cert, &d), PAWL_R_ALLOWED);
    assert_int_equal(d.principal.via, PAWL_AUTH_CERT);
    assert_string_equal(d.principal.uid, "svc-ota");
    cert.cert_subject = PAWL_STR("CN=ota,O=Evil");
    assert_int_equal(pawl_decide(f->e, &cert, &d), PAWL_R_CERT_UNKNOWN);
    struct pawl_engine_stats st;
    pawl_engine_stats(f->e, &st);
    assert_true(st.decisions >= 3 && st.by_reason[PAWL_R_CERT_UNKNOWN] == 1);
}

static json_t *path_get(json_t *o, const char *a, const char *b, const char *c)
{
    o = json_object_get(o, a);
    if (b)
        o = json_object_get(o, b);
    if (c)
        o = json_object_get(o, c);
    return o;
}

static void test_event_out(void **state)
{
    struct fx *f = *state;
    char line[4096];
    struct pawl_event_in ev;
    struct pawl_decision d;
    struct pawl_diag dg;
    int n = snprintf(line, sizeof line,
                     "{\"time\":%lld,\"http_request\":{\"http_method\":\"GET\",\"url\":{\"path\":\"/v/" V1
                     "/status\"},\"http_headers\":[{\"name\":\"authorization\",\"value\":\"Bearer %s\"}]},"
                     "\"actor\":{\"user\":{\"uid\":\"claimed-admin\"}},\"unknown_field\":{\"kept\":true}}",
                     T0, f->tok[0]);
    assert_int_equal(pawl_event_parse(line, (size_t)n, "in", 1, &ev, &dg), PAWL_OK);
    assert_int_equal(pawl_decide(f->e, &ev.rq, &d), PAWL_R_ALLOWED);
    json_t *o = pawl_event_decision(ev.root, ev.rq.time_ms, ev.rq.method, &d);
    char *s = pawl_event_dump(o, NULL);
    assert_null(strstr(s, f->tok[0]));                    /* the token never reaches a log */
    assert_null(strstr(s, "claimed-admin"));              /* an unverified identity is dropped */
    assert_int_equal(json_integer_value(json_object_get(o, "class_uid")), 6003);
    assert_int_equal(json_integer_value(json_object_get(o, "category_uid")), 6);
    assert_int_equal(json_integer_value(json_object_get(o, "activity_id")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "type_uid")), 600302);
    assert_int_equal(json_integer_value(json_object_get(o, "time")), T0);
    assert_int_equal(json_integer_value(json_object_get(o, "action_id")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "status_id")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "disposition")), "allowed");
    assert_string_equal(json_string_value(path_get(o, "metadata", "version", NULL)), "1.3.0");
    assert_string_equal(json_string_value(path_get(o, "actor", "user", "uid")), "alice");
    assert_string_equal(json_string_value(path_get(o, "actor", "user", "type")), "User");
    assert_string_equal(json_string_value(json_object_get(json_array_get(path_get(o, "actor", "user", "groups"), 0), "name")), "owner");
    assert_string_equal(json_string_value(path_get(o, "actor", "session", "uid")), "j-alice");
    assert_string_equal(json_string_value(path_get(o, "api", "operation", NULL)), "GET /v/{vin}/status");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "resources"), 0), "uid")), V1);
    assert_true(json_is_true(path_get(o, "unknown_field", "kept", NULL)));
    free(s);
    json_decref(o);
    pawl_event_in_free(&ev);
    /* a denial: action 2, its status, no actor.user when unauthenticated */
    n = snprintf(line, sizeof line, "{\"time\":%lld,\"http_request\":{\"http_method\":\"POST\",\"url\":{\"path\":\"/v/" V1 "/unlock\"}}}", T0);
    assert_int_equal(pawl_event_parse(line, (size_t)n, "in", 2, &ev, &dg), PAWL_OK);
    assert_int_equal(pawl_decide(f->e, &ev.rq, &d), PAWL_R_UNAUTHENTICATED);
    o = pawl_event_decision(ev.root, ev.rq.time_ms, ev.rq.method, &d);
    assert_int_equal(json_integer_value(json_object_get(o, "action_id")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "status_id")), 2);
    assert_int_equal(json_integer_value(path_get(o, "http_response", "code", NULL)), 401);
    assert_int_equal(json_integer_value(json_object_get(o, "type_uid")), 600301);
    assert_null(path_get(o, "actor", "user", NULL));
    json_decref(o);
    pawl_event_in_free(&ev);
}

static void bad_event(const char *line, const char *msg)
{
    struct pawl_event_in ev;
    struct pawl_diag d = { 0 };
    if (pawl_event_parse(line, strlen(line), "stdin", 9, &ev, &d) == PAWL_OK)
        fail_msg("accepted %s", line);
    if (strstr(th_diag(&d), msg) == NULL || strncmp(th_diag(&d), "stdin:9", 7) != 0)
        fail_msg("got '%s', want '%s'", th_diag(&d), msg);
    pawl_event_in_free(&ev);
}

static void test_event_in_rejects(void **state)
{
    (void)state;
    bad_event("{\"time\":1,\"class_uid\":2004,\"http_request\":{\"http_method\":\"GET\",\"url\":{\"path\":\"/\"}}}", "class_uid");
    bad_event("{\"http_request\":{\"http_method\":\"GET\",\"url\":{\"path\":\"/\"}}}", "time:");
    bad_event("{\"time\":1,\"http_request\":{\"url\":{\"path\":\"/\"}}}", "http_method");
    bad_event("{\"time\":1,\"http_request\":{\"http_method\":\"GET\"}}", "url.path");
    bad_event("{\"time\":1,\"http_request\":{\"http_method\":\"GET\",\"url\":{\"path\":\"/\"},"
              "\"http_headers\":[{\"name\":\"Authorization\",\"value\":\"Bearer a\"},{\"name\":\"AUTHORIZATION\",\"value\":\"Bearer b\"}]}}",
              "more than one Authorization");
    bad_event("{\"time\":1,\"time\":2}", "invalid JSON");
    bad_event("[]", "JSON object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_and_object_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_limiter_keys_follow_its_seed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_roles_and_orgs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant_reason_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twin_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vehicle_is_the_named_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_up_and_certs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_out, setup, teardown),
        cmocka_unit_test(test_event_in_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
