/* The verified-token cache when a refused token's digest cannot be made
 * (EVP_Digest fails, as it may when memory runs out; linked with
 * -Wl,--wrap=EVP_Digest): the refusal is answered uncached and the way it
 * would have taken is left as it was. Before (review finding), the evicted
 * entry's spilled strings were freed twice, and the entry was lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "helper_jwt.h"
#include "pawl/jwt.h"

#define T0 1700000000
#define NOW ((int64_t)T0 * 1000)

static bool digest_fails;

int __real_EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
                      const EVP_MD *type, ENGINE *impl);
int __wrap_EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
                      const EVP_MD *type, ENGINE *impl);
int __wrap_EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
                      const EVP_MD *type, ENGINE *impl)
{
    return digest_fails ? 0 : __real_EVP_Digest(data, count, md, size, type, impl);
}

static void test_refusal_without_digest(void **state)
{
    (void)state;
    static char toks[8][4096], jwks[8192], pl[2048], uid[128];
    const char *alg = "EdDSA", *kid = "k1";
    EVP_PKEY *key = th_key_new("EdDSA");
    struct pawl_jwks *keys;
    struct pawl_jwt_verifier *v;
    struct pawl_diag d = {0};
    struct pawl_principal p;
    struct pawl_jwt_stats st;
    int n = th_jwks_json(&key, &alg, &kid, 1, jwks, sizeof jwks);
    assert_true(n > 0);
    assert_int_equal(pawl_jwks_parse(jwks, (size_t)n, "t", &keys, &d), PAWL_OK);
    struct pawl_jwt_rules rules = {0};
    assert_int_equal(pawl_jwt_verifier_new(&rules, keys, 8, &v), PAWL_OK); /* one set of 8 ways */
    /* eight allowed tokens whose principals spill out of their entries */
    for (int i = 0; i < 8; i++) {
        memset(uid, 'a' + i, 120);
        uid[120] = '\0';
        snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"exp\":%d,\"roles\":[\"%030d\",\"%030d\",\"%030d\","
                 "\"%030d\"]}", uid, T0 + 600, i, i + 1, i + 2, i + 3); /* 120 + 4 * 31 bytes: spilled */
        assert_true(th_jwt_sign(key, "EdDSA", "k1", NULL, pl, toks[i], sizeof toks[i]) > 0);
        assert_int_equal(pawl_jwt_verify(v, toks[i], strlen(toks[i]), NOW, &p, &d), PAWL_R_ALLOWED);
    }
    /* a forgery (one signature byte changed) while digests fail */
    char forged[4096];
    snprintf(forged, sizeof forged, "%s", toks[0]);
    char *sig = strrchr(forged, '.') + 2;
    *sig = *sig == 'A' ? 'B' : 'A';
    digest_fails = true;
    for (int k = 0; k < 2; k++)
        assert_int_equal(pawl_jwt_verify(v, forged, strlen(forged), NOW, &p, &d), PAWL_R_TOKEN_BAD_SIGNATURE);
    digest_fails = false;
    /* all eight are still cached, whole */
    pawl_jwt_verifier_stats(v, &st);
    uint64_t verified = st.verifications;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pawl_jwt_verify(v, toks[i], strlen(toks[i]), NOW, &p, &d), PAWL_R_ALLOWED);
        assert_int_equal(p.uid[0], 'a' + i);
        assert_int_equal(strlen(p.uid), 120);
        assert_int_equal(p.nroles, 4);
    }
    pawl_jwt_verifier_stats(v, &st);
    assert_int_equal(st.verifications, verified);
    pawl_jwt_verifier_free(v);
    pawl_jwks_free(keys);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusal_without_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
