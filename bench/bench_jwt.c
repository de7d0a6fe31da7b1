/* Prints JWT verification figures: cache hit path (per token size) and
 * uncached signature checks per alg. Never passes or fails on time.
 * Run: cmake --build build --target bench_jwt && ./build/bench_jwt */
#include "helper_jwt.c"
#include "jwt_internal.h"

#include <stdio.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double ns_per_verify(struct pawl_jwt_verifier *v, const char *tok, int n)
{
    struct pawl_principal p;
    size_t len = strlen(tok);
    double t = now_s();
    for (int i = 0; i < n; i++)
        if (pawl_jwt_verify(v, tok, len, INT64_C(1700000000000), &p, NULL) != PAWL_R_ALLOWED)
            abort();
    return (now_s() - t) / n * 1e9;
}

int main(void)
{
    static const char *const algs[] = { "RS256", "ES256", "EdDSA" };
    static const char *const kids[] = { "rsa-1", "ec-1", "ed-1" };
    struct pawl_jwt_rules r = { .issuer = "https://idp.example", .audience = "pawl-gw" };
    EVP_PKEY *keys[3];
    char doc[8192], tok[4096], pl[2048];
    struct pawl_jwks *ks;
    struct pawl_jwt_verifier *cached, *uncached;
    struct pawl_diag d;
    for (int i = 0; i < 3; i++)
        keys[i] = th_key_new(algs[i]);
    if (th_jwks_json(keys, algs, kids, 3, doc, sizeof doc) < 0 ||
        pawl_jwks_parse(doc, strlen(doc), "bench", &ks, &d) != PAWL_OK ||
        pawl_jwt_verifier_new(&r, ks, 4096, &cached) != PAWL_OK ||
        pawl_jwt_verifier_new(&r, ks, 0, &uncached) != PAWL_OK)
        return 1;
    for (int i = 0; i < 3; i++) {
        snprintf(pl, sizeof pl, "{\"sub\":\"user-42\",\"iss\":\"https://idp.example\",\"aud\":"
                 "\"pawl-gw\",\"exp\":4102444800,\"jti\":\"0123456789abcdef\",\"roles\":"
                 "[\"owner\",\"dealer\"]}");
        if (th_jwt_sign(keys[i], algs[i], kids[i], NULL, pl, tok, sizeof tok) < 0)
            return 1;
        printf("%-6s token %4zu bytes: uncached %8.0f ns/verify, cache hit %6.0f ns/verify\n",
               algs[i], strlen(tok), ns_per_verify(uncached, tok, 2000),
               ns_per_verify(cached, tok, 1000000));
    }
    struct pawl_jwt_stats s;
    pawl_jwt_verifier_stats(cached, &s);
    printf("cached verifier: hits %llu misses %llu verifications %llu\n",
           (unsigned long long)s.hits, (unsigned long long)s.misses,
           (unsigned long long)s.verifications);
    pawl_jwt_verifier_free(cached);
    pawl_jwt_verifier_free(uncached);
    pawl_jwks_free(ks);
    for (int i = 0; i < 3; i++)
        EVP_PKEY_free(keys[i]);
    return 0;
}
