/* libFuzzer driver for pawl_decide: arbitrary method, path and bearer token
 * through the whole pipeline (a fixed policy, grants, twin and JWKS), with
 * the security properties checked on every answer:
 *
 *   - the reason is a known one and the status is the reason's status;
 *   - an allow names a route and an authenticated principal; when the route
 *     names a vehicle, that vehicle is the path's segment the route names,
 *     and the principal holds a grant on it valid at the decision's time;
 *   - an allow of a stationary-only command saw Vehicle.Speed == 0,
 *     reported within the last 60 s.
 *
 * Input: byte 0 picks the token (0-3: a valid token of alice, bob, dealer d1
 * of org dealer-1, d1 of org dealer-2; 4: none; else the bytes after the
 * first newline), byte 1 the method (GET, POST, DELETE, or the bytes up to
 * the first space), byte 2 the time (seconds after T0), then the path. The
 * engine, with its rate limiter and token cache, lives across inputs, whose
 * times jump back and forth: the principal limit (a microsecond per request,
 * 1,000 s of burst) is spent only after some 7 * 10^8 allows, so allows stay
 * reachable at every time; unlock's per-vehicle limit is spent early, and its
 * denies are fuzzed from then on. */
#include "../tests/unit/helper_jwt.c"
#include "pawl/engine.h"
#include "pawl/grants.h"
#include "pawl/jwt.h"
#include "pawl/path.h"
#include "pawl/twin.h"

#include <stdlib.h>
#include <string.h>

#define T0 INT64_C(1763800000000)
#define V1 "1HGCM82633A004352"
#define V2 "5YJ3E1EA7KF317000"

static const char policy_yaml[] =
    "version: 1\n"
    "jwt: {issuer: iss, audience: aud, cache_entries: 64}\n"
    "roles: {owner: [read, control], dealer: [read, admin]}\n"
    "rate_limits: {principal: {rate: 1000000, per: 1s, burst: 1000000000}}\n" /* see above */
    "twin: {max_age_s: 60}\n"
    "routes:\n"
    "  - {id: status, path: '/v/{vin}/status', methods: [GET], capability: read, roles: [owner, dealer], vehicle: vin}\n"
    "  - {id: unlock, path: '/v/{vin}/unlock', methods: [POST], capability: control, roles: [owner], vehicle: vin,\n"
    "     stationary_only: true, rate_limits: {vin_command: {rate: 2, per: 1m, burst: 2}}}\n"
    "  - {id: swap, path: '/swap/{from}/to/{vin}', methods: [POST], capability: control, roles: [owner],\n"
    "     vehicle: vin, stationary_only: true}\n"
    "  - {id: keys, path: '/dealer/{vin}/keys', methods: [GET], capability: admin, roles: [dealer], vehicle: vin}\n"
    "  - {id: fleet, path: '/fleet/{org}/list', methods: [GET], capability: read, roles: [owner, dealer]}\n";

static const char grants_jsonl[] =
    "{\"principal\":\"alice\",\"vin\":\"" V1 "\",\"role\":\"owner\",\"since\":0}\n"
    "{\"principal\":\"alice\",\"vin\":\"" V2 "\",\"role\":\"owner\",\"since\":0,\"until\":1763800100000}\n"
    "{\"principal\":\"bob\",\"vin\":\"" V2 "\",\"role\":\"owner\",\"since\":1763800200000}\n"
    "{\"principal\":\"d1\",\"vin\":\"" V1 "\",\"role\":\"dealer\",\"since\":1763790000000,"
    "\"until\":1763800150000,\"org\":\"dealer-1\"}\n";

static struct pawl_policy *policy;
static struct pawl_grants *grants;
static struct pawl_twin *twin;
static struct pawl_engine *engine;
static uint16_t speed;
static char tok[4][2048];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sign_for(int i, const char *sub, const char *roles, const char *org, EVP_PKEY *key)
{
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"iss\",\"aud\":\"aud\",\"sub\":\"%s\",\"roles\":%s%s%s%s,\"exp\":%lld}", sub, roles,
             org ? ",\"org\":\"" : "", org ? org : "", org ? "\"" : "", (long long)(T0 / 1000 + 86400));
    if (th_jwt_sign(key, "EdDSA", "k1", NULL, payload, tok[i], sizeof tok[i]) < 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct pawl_diag d = { .line = 0 };
    struct pawl_jwks *jwks;
    char jwks_json[2048];
    const char *alg = "EdDSA", *kid = "k1";
    EVP_PKEY *key = th_key_new("EdDSA");
    int n = th_jwks_json(&key, &alg, &kid, 1, jwks_json, sizeof jwks_json);
    if (n < 0 || pawl_jwks_parse(jwks_json, (size_t)n, "jwks", &jwks, &d) != PAWL_OK ||
        pawl_policy_load(policy_yaml, sizeof policy_yaml - 1, "policy", &policy, &d) != PAWL_OK ||
        pawl_grants_new(policy->max_delegation_ms, &grants) != PAWL_OK ||
        pawl_grants_load(grants, grants_jsonl, sizeof grants_jsonl - 1, "grants", &d) != PAWL_OK ||
        pawl_twin_new(16, &twin) != PAWL_OK) {
        fprintf(stderr, "fuzz_decide: fixture: %s:%u: %s\n", d.where, d.line, d.msg);
        abort();
    }
    speed = pawl_twin_signal(twin, PAWL_STR("Vehicle.Speed"));
    if (pawl_twin_set(twin, PAWL_STR(V1), speed, 0, T0) != PAWL_OK ||
        pawl_twin_set(twin, PAWL_STR(V2), speed, 30, T0) != PAWL_OK ||
        pawl_engine_new(policy, jwks, grants, twin, &engine) != PAWL_OK)
        abort();
    sign_for(0, "alice", "[\"owner\"]", NULL, key);
    sign_for(1, "bob", "[\"owner\"]", NULL, key);
    sign_for(2, "d1", "[\"dealer\"]", "dealer-1", key);
    sign_for(3, "d1", "[\"dealer\"]", "dealer-2", key);
    EVP_PKEY_free(key); /* jwks, policy, grants, twin and engine live as long as the process */
    return 0;
}

/* The principal holds a grant on vin that is valid at t. */
static bool holds_grant(const char *uid, const char *vin, int64_t t)
{
    uint32_t it = 0;
    for (const struct pawl_grant *g;
         (g = pawl_grants_next(grants, (pawl_str){ uid, strlen(uid) }, (pawl_str){ vin, 17 }, &it)) != NULL;)
        if (g->since_ms <= t && t < g->until_ms)
            return true;
    return false;
}

static void check_allow(const struct pawl_request *rq, const struct pawl_decision *dec)
{
    struct pawl_path path;
    struct pawl_diag d;
    const struct pawl_route *rt = dec->route;
    if (rt == NULL || !dec->authenticated || dec->principal.uid[0] == '\0' ||
        pawl_path_normalize(rq->path.p, rq->path.n, &path, &d) != PAWL_OK)
        abort();
    if (rt->vehicle_seg < 0)
        return;
    pawl_str seg = path.seg[rt->vehicle_seg];
    if (strlen(dec->vin) != 17 || seg.n != 17 || memcmp(seg.p, dec->vin, 17) != 0)
        abort(); /* the vehicle decided on is not the one the route names */
    if (!holds_grant(dec->principal.uid, dec->vin, rq->time_ms))
        abort(); /* allowed without a grant */
    double v;
    int64_t ts;
    if (rt->nconds > 0 && (!pawl_twin_get(twin, (pawl_str){ dec->vin, 17 }, speed, &v, &ts) ||
                           v != 0 || rq->time_ms - ts > 60000))
        abort(); /* a stationary-only command allowed while moving, unknown or stale */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = { "GET", "POST", "DELETE" };
    struct pawl_request rq;
    struct pawl_decision dec;
    if (size < 3)
        return 0;
    const char *p = (const char *)data + 3, *end = (const char *)data + size;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    memset(&rq, 0, sizeof rq);
    rq.time_ms = T0 + (int64_t)data[2] * 1000;
    if (data[1] < 3) {
        rq.method = (pawl_str){ methods[data[1]], strlen(methods[data[1]]) };
    } else {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if (sp == NULL)
            return 0;
        rq.method = (pawl_str){ p, (size_t)(sp - p) };
        p = sp + 1;
    }
    if (nl == NULL || nl < p)
        nl = end;
    rq.path = (pawl_str){ p, (size_t)(nl - p) };
    if (data[0] < 4)
        rq.bearer = (pawl_str){ tok[data[0]], strlen(tok[data[0]]) };
    else if (data[0] > 4 && nl < end)
        rq.bearer = (pawl_str){ nl + 1, (size_t)(end - nl - 1) };
    enum pawl_reason r = pawl_decide(engine, &rq, &dec);
    if (r != dec.reason || (unsigned)r >= PAWL_R__COUNT || dec.status != pawl_reason_status(r))
        abort();
    if (r == PAWL_R_ALLOWED)
        check_allow(&rq, &dec);
    return 0;
}
