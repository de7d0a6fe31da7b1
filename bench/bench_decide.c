/* bench_decide: decisions per second of the whole core pipeline on one core,
 * with p50/p99 latency, and memory per 1,000,000 rate-limit keys and per
 * 100,000 twins. Prints figures; never passes or fails on time.
 *
 * Mix: 1,000 routes (a third of them control commands with a stationary-only
 * condition), 100,000 grants over 10,000 principals, cached EdDSA JWTs (one per
 * principal), 100,000 vehicles in the twin, 1,000,000+ distinct rate-limit keys
 * warmed before measuring; 90% of requests touch the caller's own vehicle, 10%
 * someone else's (denied not_your_vehicle).
 *
 * Requests reach pawl_decide() as a gateway has them: just read and parsed,
 * so in the CPU cache. Each batch of BATCH requests is first copied into a
 * small arena (not timed, like the front end's read), then decided (timed):
 * without it every token would come cold from a 10 MB table of tokens, a
 * memory wait no gateway has.
 *
 *   bench_decide [--quick]      (--quick: smaller sizes, for the test suite) */
#include "helper_jwt.c"

#include "pawl/engine.h"
#include "pawl/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sizes {
    int routes, principals, vins_per_principal, requests, warm;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * 4;
}

static void vin_of(int i, char out[18])
{
    /* 17 characters of the VIN alphabet, unique per i */
    snprintf(out, 18, "WVWZZZ1JZ%08d", i);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_decide: %s\n", what);
    exit(1);
}

static char *policy_yaml(int routes)
{
    size_t cap = (size_t)routes * 300 + 4096, n = 0;
    char *y = malloc(cap);
    n += (size_t)snprintf(y + n, cap - n,
                          "version: 1\njwt: {issuer: https://id.bench, audience: bench, cache_entries: 65536}\n"
                          "roles: {owner: [read, control, pii]}\n"
                          "rate_limits:\n  principal: {rate: 100000, per: 1s}\n"
                          "  global: {control: {rate: 100000000, per: 100s}}\n  max_keys: 4000000\n"
                          "twin: {max_age_s: 60, max_vehicles: 200000}\nroutes:\n");
    for (int i = 0; i < routes; i++) {
        bool control = i % 3 == 0;
        n += (size_t)snprintf(y + n, cap - n,
                              "  - {id: r%d, path: '/api/v%d/svc%d/vehicles/{vin}/%s%d', methods: [%s], "
                              "capability: %s, roles: [owner], vehicle: vin%s, "
                              "rate_limits: {principal_route: {rate: 1000, per: 1s}, vin_command: {rate: 1000, per: 1s}}}\n",
                              i, i % 4, i / 4, control ? "commands/c" : "data/d", i,
                              control ? "POST" : "GET", control ? "control" : "read",
                              control ? ", stationary_only: true" : "");
    }
    return y;
}

struct world {
    struct pawl_policy *policy;
    struct pawl_jwks *jwks;
    struct pawl_grants *grants;
    struct pawl_twin *twin;
    struct pawl_engine *engine;
    char **tokens;
    size_t *token_len;
};

static void build(struct world *w, const struct sizes *z, int64_t t0)
{
    struct pawl_diag d;
    char *y = policy_yaml(z->routes);
    if (pawl_policy_load(y, strlen(y), "bench", &w->policy, &d) != PAWL_OK)
        die(d.msg);
    free(y);
    EVP_PKEY *key = th_key_new("EdDSA");
    const char *alg = "EdDSA", *kid = "k1";
    char jwks[4096], payload[512], line[256], vin[18];
    int n = th_jwks_json(&key, &alg, &kid, 1, jwks, sizeof jwks);
    if (n < 0 || pawl_jwks_parse(jwks, (size_t)n, "bench", &w->jwks, &d) != PAWL_OK)
        die("jwks");
    if (pawl_grants_new(86400000, &w->grants) != PAWL_OK ||
        pawl_twin_new(200000, &w->twin) != PAWL_OK)
        die("oom");
    uint16_t speed = pawl_twin_signal(w->twin, PAWL_STR("Vehicle.Speed"));
    w->tokens = calloc((size_t)z->principals, sizeof *w->tokens);
    w->token_len = calloc((size_t)z->principals, sizeof *w->token_len);
    for (int p = 0; p < z->principals; p++) {
        snprintf(payload, sizeof payload,
                 "{\"iss\":\"https://id.bench\",\"aud\":\"bench\",\"sub\":\"p-%d\",\"roles\":[\"owner\"],"
                 "\"exp\":%lld}", p, (long long)(t0 / 1000 + 86400));
        w->tokens[p] = malloc(1024);
        int tl = th_jwt_sign(key, "EdDSA", "k1", NULL, payload, w->tokens[p], 1024);
        if (tl < 0)
            die("sign");
        w->token_len[p] = (size_t)tl;
        for (int v = 0; v < z->vins_per_principal; v++) {
            vin_of(p * z->vins_per_principal + v, vin);
            int ln = snprintf(line, sizeof line,
                              "{\"principal\":\"p-%d\",\"vin\":\"%s\",\"role\":\"owner\",\"since\":0}", p, vin);
            if (pawl_grants_add_line(w->grants, line, (size_t)ln, "bench", 1, &d) != PAWL_OK)
                die(d.msg);
            if (pawl_twin_set(w->twin, (pawl_str){ vin, 17 }, speed, 0, t0) != PAWL_OK)
                die("twin");
        }
    }
    EVP_PKEY_free(key);
    if (pawl_engine_new(w->policy, w->jwks, w->grants, w->twin, &w->engine) != PAWL_OK)
        die("engine");
}

struct req {
    char path[96];
    size_t path_len;   /* a front end gets lengths from its HTTP parser */
    const char *method;
    int principal;
};

static struct req *make_requests(const struct sizes *z, int count, unsigned seed, bool distinct)
{
    struct req *r = calloc((size_t)count, sizeof *r);
    int nv = z->principals * z->vins_per_principal;
    char vin[18];
    for (int i = 0; i < count; i++) {
        seed = seed * 1103515245u + 12345u;
        int p = (int)((seed >> 8) % (unsigned)z->principals);
        int v = p * z->vins_per_principal + (int)((seed >> 4) % (unsigned)z->vins_per_principal);
        int route = (int)((seed >> 12) % (unsigned)z->routes);
        if (distinct) { /* warm-up: walk every (vehicle, route) pair once */
            v = i % nv;
            p = v / z->vins_per_principal;
            route = (i / nv) % z->routes;
        } else if ((seed >> 20) % 10 == 0) {
            v = (v + z->vins_per_principal * 7) % nv; /* someone else's vehicle */
        }
        vin_of(v, vin);
        bool control = route % 3 == 0;
        snprintf(r[i].path, sizeof r[i].path, "/api/v%d/svc%d/vehicles/%s/%s%d", route % 4,
                 route / 4, vin, control ? "commands/c" : "data/d", route);
        r[i].path_len = strlen(r[i].path);
        r[i].method = control ? "POST" : "GET";
        r[i].principal = p;
    }
    return r;
}

#define BATCH 256
#define TOKEN_ROOM 1024

/* The requests of one batch as a front end holds them after reading. */
struct arena {
    struct pawl_request rq[BATCH];
    char path[BATCH][96];
    char token[BATCH][TOKEN_ROOM];
};

static void fill(struct pawl_request *rq, const struct world *w, const struct req *r, int64_t t)
{
    memset(rq, 0, sizeof *rq);
    rq->method = (pawl_str){ r->method, r->method[0] == 'P' ? 4u : 3u };
    rq->path = (pawl_str){ r->path, r->path_len };
    rq->bearer = (pawl_str){ w->tokens[r->principal], w->token_len[r->principal] };
    rq->time_ms = t;
}

/* Requests [from, from + n) into a, as read off the network at time t. */
static void receive(struct arena *a, const struct world *w, const struct req *r, int n, int64_t t)
{
    for (int i = 0; i < n; i++) {
        fill(&a->rq[i], w, &r[i], t);
        memcpy(a->path[i], r[i].path, r[i].path_len);
        memcpy(a->token[i], a->rq[i].bearer.p, a->rq[i].bearer.n);
        a->rq[i].path.p = a->path[i];
        a->rq[i].bearer.p = a->token[i];
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report_memory(const struct world *w, const struct sizes *z)
{
    struct pawl_jwt_stats js;
    pawl_engine_jwt_stats(w->engine, &js);
    printf("token cache: %llu hits, %llu misses, %llu signature checks, %llu evictions\n",
           (unsigned long long)js.hits, (unsigned long long)js.misses,
           (unsigned long long)js.verifications, (unsigned long long)js.evictions);
    const struct pawl_ratelimit *rl = pawl_engine_ratelimit(w->engine);
    struct pawl_rl_stats rs;
    pawl_ratelimit_stats(rl, &rs);
    printf("rate limiter: %zu slots, %.1f MiB, i.e. %.1f MiB per 1,000,000 keys (%llu live evictions)\n",
           rs.slots, (double)pawl_ratelimit_memory(rl) / 1048576.0,
           (double)pawl_ratelimit_memory(rl) / 1048576.0 * 1e6 / ((double)rs.slots / 2),
           (unsigned long long)rs.evicted_live);
    int nveh = z->principals * z->vins_per_principal;
    printf("twin: %d vehicles, %.1f MiB, i.e. %.1f MiB per 100,000 twins (1 signal each)\n", nveh,
           (double)pawl_twin_memory(w->twin) / 1048576.0,
           (double)pawl_twin_memory(w->twin) / 1048576.0 * 100000.0 / nveh);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    struct sizes z = quick ? (struct sizes){ 100, 1000, 10, 200000, 100000 }
                           : (struct sizes){ 1000, 10000, 10, 2000000, 1000000 };
    int64_t t0 = 1763800000000;
    struct world w;
    struct pawl_decision dec;
    struct pawl_request rq;
    memset(&w, 0, sizeof w);

    long rss0 = rss_kb();
    build(&w, &z, t0);
    printf("bench_decide%s: %d routes, %zu grants, %d principals (cached EdDSA JWTs), %d vehicles in the twin\n",
           quick ? " --quick" : "", z.routes, pawl_grants_count(w.grants), z.principals,
           z.principals * z.vins_per_principal);

    /* Warm up: every principal's token into the cache, and >= 1M distinct rate-limit keys. */
    struct req *warm = make_requests(&z, z.warm, 1, true);
    for (int i = 0; i < z.warm; i++) {
        fill(&rq, &w, &warm[i], t0 + 1000);
        pawl_decide(w.engine, &rq, &dec);
    }
    free(warm);

    struct req *reqs = make_requests(&z, z.requests, 7, false);
    uint64_t *lat = malloc((size_t)z.requests * sizeof *lat);
    struct arena *ar = malloc(sizeof *ar);
    struct pawl_engine_stats st0, st1;
    pawl_engine_stats(w.engine, &st0);
    double el = 0;
    for (int i = 0; i < z.requests; i += BATCH) {
        int n = z.requests - i < BATCH ? z.requests - i : BATCH;
        receive(ar, &w, &reqs[i], n, t0 + 2000 + i / 1000);
        double start = now_s();
        for (int k = 0; k < n; k++)
            pawl_decide(w.engine, &ar->rq[k], &dec);
        el += now_s() - start;
    }
    pawl_engine_stats(w.engine, &st1);
    for (int i = 0; i < z.requests; i += BATCH) { /* second pass: per-decision latency */
        int n = z.requests - i < BATCH ? z.requests - i : BATCH;
        receive(ar, &w, &reqs[i], n, t0 + 2000 + (z.requests + i) / 1000);
        for (int k = 0; k < n; k++) {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            pawl_decide(w.engine, &ar->rq[k], &dec);
            clock_gettime(CLOCK_MONOTONIC, &b);
            lat[i + k] = (uint64_t)((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
        }
    }
    free(ar);
    qsort(lat, (size_t)z.requests, sizeof *lat, cmp_u64);
    uint64_t allowed = st1.allowed - st0.allowed, n = st1.decisions - st0.decisions;
    printf("decisions/s (one core): %.0f  (%d decisions in %.3f s; %.1f%% allowed)\n",
           z.requests / el, z.requests, el, 100.0 * (double)allowed / (double)n);
    printf("latency per decision: p50 %llu ns, p99 %llu ns, p99.9 %llu ns (clock_gettime per call)\n",
           (unsigned long long)lat[z.requests / 2], (unsigned long long)lat[z.requests * 99 / 100],
           (unsigned long long)lat[(size_t)z.requests * 999 / 1000]);
    for (int i = 0; i < PAWL_R__COUNT; i++)
        if (st1.by_reason[i] - st0.by_reason[i])
            printf("  %-22s %llu\n", pawl_reason_name((enum pawl_reason)i),
                   (unsigned long long)(st1.by_reason[i] - st0.by_reason[i]));
    report_memory(&w, &z);
    printf("process RSS growth: %.1f MiB\n", (double)(rss_kb() - rss0) / 1024.0);
    free(lat);
    free(reqs);
    for (int p = 0; p < z.principals; p++)
        free(w.tokens[p]);
    free(w.tokens);
    free(w.token_len);
    pawl_engine_free(w.engine);
    pawl_twin_free(w.twin);
    pawl_grants_free(w.grants);
    pawl_jwks_free(w.jwks);
    pawl_policy_free(w.policy);
    return 0;
}
