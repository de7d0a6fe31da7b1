/* Unit tests for pawl/jwt.h: real keys and signatures (helper_jwt.h), every
 * reject path, the cache, and the Wycheproof vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_jwt.h"
#include "helper_wycheproof.h"
#include "jwt_internal.h"
#include "pawl/jwt.h"
#include "util.h"

#define ISS "https://idp.example"
#define AUD "pawl-gw"
#define LEEWAY 30000
#define T0 1700000000           /* seconds; tokens are valid around now = T0 */
#define NOW ((int64_t)T0 * 1000)

static const char *const algs[] = { "RS256", "ES256", "EdDSA" };
static const char *const kids[] = { "rsa-1", "ec-1", "ed-1" };

struct fx {
    EVP_PKEY *keys[3];  /* in the JWKS, by algs[] */
    EVP_PKEY *stranger; /* a P-256 key not in the JWKS */
    struct pawl_jwks *jwks;
    struct pawl_jwt_verifier *v;      /* with a cache */
    struct pawl_jwt_verifier *nocache;
};
static struct fx F;

static uint32_t role_lookup(void *ctx, const char *name, size_t n)
{
    (void)ctx;
    if (n == 5 && memcmp(name, "owner", 5) == 0)
        return 1u << 0;
    if (n == 6 && memcmp(name, "dealer", 6) == 0)
        return 1u << 3;
    return 0;
}

static const struct pawl_jwt_rules rules = {
    .issuer = ISS, .audience = AUD, .leeway_ms = LEEWAY, .role_lookup = role_lookup,
};

static int setup(void **state)
{
    static char buf[16384];
    struct pawl_diag d = { 0 };
    (void)state;
    for (int i = 0; i < 3; i++)
        if ((F.keys[i] = th_key_new(algs[i])) == NULL)
            return -1;
    F.stranger = th_key_new("ES256");
    int n = th_jwks_json(F.keys, algs, kids, 3, buf, sizeof buf);
    if (n < 0 || pawl_jwks_parse(buf, (size_t)n, "test", &F.jwks, &d) != PAWL_OK) {
        fprintf(stderr, "%s\n", d.msg);
        return -1;
    }
    if (pawl_jwt_verifier_new(&rules, F.jwks, 64, &F.v) != PAWL_OK ||
        pawl_jwt_verifier_new(&rules, F.jwks, 0, &F.nocache) != PAWL_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pawl_jwt_verifier_free(F.v);
    pawl_jwt_verifier_free(F.nocache);
    pawl_jwks_free(F.jwks);
    for (int i = 0; i < 3; i++)
        EVP_PKEY_free(F.keys[i]);
    EVP_PKEY_free(F.stranger);
    return 0;
}

/* A standard payload with overridable pieces. */
static const char *payload(const char *extra)
{
    static char p[4096];
    snprintf(p, sizeof p,
             "{\"sub\":\"user-42\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%d,"
             "\"iat\":%d,\"jti\":\"s-1\",\"org\":\"dealer-7\",\"roles\":[\"owner\",\"dealer\","
             "\"viewer\"]%s%s}",
             T0 + 600, T0, extra ? "," : "", extra ? extra : "");
    return p;
}

static enum pawl_reason verify_with(struct pawl_jwt_verifier *v, const char *tok, int64_t now,
                                    struct pawl_principal *p)
{
    struct pawl_diag d = { 0 };
    enum pawl_reason r = pawl_jwt_verify(v, tok, strlen(tok), now, p, &d);
    if (r != PAWL_R_ALLOWED)
        assert_true(d.msg[0] != '\0'); /* every rejection says why */
    return r;
}

/* Verify with both verifiers (uncached once, cached twice): the same answer,
 * principal and message, byte for byte, whatever *out held before. */
static enum pawl_reason verify(const char *tok, int64_t now)
{
    struct pawl_principal p[3];
    struct pawl_diag d[3];
    struct pawl_jwt_verifier *by[3] = { F.nocache, F.v, F.v };
    enum pawl_reason r[3];
    for (int i = 0; i < 3; i++) {
        memset(&p[i], 0x5a + i, sizeof p[i]);
        memset(&d[i], 0, sizeof d[i]);
        r[i] = pawl_jwt_verify(by[i], tok, strlen(tok), now, &p[i], &d[i]);
    }
    for (int i = 1; i < 3; i++) {
        assert_int_equal(r[i], r[0]);
        assert_memory_equal(&p[i], &p[0], sizeof p[0]);
        assert_string_equal(d[i].msg, d[0].msg);
    }
    if (r[0] != PAWL_R_ALLOWED) {
        static const struct pawl_principal zero;
        assert_true(d[0].msg[0] != '\0'); /* every rejection says why */
        assert_memory_equal(&p[0], &zero, sizeof p[0]); /* never partly filled */
    }
    return r[0];
}

static const char *sign(int key, const char *alg, const char *kid, const char *extra_hdr,
                        const char *pl)
{
    static char tok[4096];
    assert_true(th_jwt_sign(key < 0 ? NULL : key == 3 ? F.stranger : F.keys[key], alg, kid,
                            extra_hdr, pl, tok, sizeof tok) > 0);
    return tok;
}

static const char *good(int i, const char *extra_claims)
{
    return sign(i, algs[i], kids[i], NULL, payload(extra_claims));
}

/* ---- accepted tokens ---------------------------------------------------- */

static void accepts_each_alg(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        struct pawl_principal p;
        struct pawl_diag d = { 0 };
        const char *t = good(i, NULL);
        assert_int_equal(pawl_jwt_verify(F.nocache, t, strlen(t), NOW, &p, &d), PAWL_R_ALLOWED);
        assert_int_equal(p.via, PAWL_AUTH_JWT);
        assert_string_equal(p.uid, "user-42");
        assert_string_equal(p.org, "dealer-7");
        assert_string_equal(p.session, "s-1");
        assert_int_equal(p.nroles, 3);
        assert_string_equal(p.roles[0], "owner");
        assert_string_equal(p.roles[2], "viewer");
        assert_int_equal(p.role_mask, (1u << 0) | (1u << 3));
        assert_int_equal(p.exp_ms, ((int64_t)T0 + 600) * 1000);
        assert_int_equal(p.nbf_ms, 0);
    }
}

static void custom_claim_names_and_role_cap(void **state)
{
    struct pawl_jwt_rules r = { .roles_claim = "grp", .org_claim = "tenant" };
    struct pawl_jwt_verifier *v;
    struct pawl_principal p;
    (void)state;
    assert_int_equal(pawl_jwt_verifier_new(&r, F.jwks, 8, &v), PAWL_OK);
    const char *t = good(2, "\"tenant\":\"t9\",\"grp\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
                            "\"h\",\"i\",\"j\"]");
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_ALLOWED);
    assert_string_equal(p.org, "t9");
    assert_int_equal(p.nroles, PAWL_MAX_ROLES); /* more are ignored */
    assert_string_equal(p.roles[7], "h");
    assert_int_equal(p.role_mask, 0);           /* no lookup configured */
    pawl_jwt_verifier_free(v);
    /* the roles kept are first those the policy knows (review finding: with
     * eight unknown roles first, the identity upstream named none that allowed) */
    t = sign(2, "EdDSA", "ed-1", NULL,
             "{\"sub\":\"u\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000600,\"roles\":[\"a\","
             "\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"dealer\",\"i\",\"owner\"]}");
    assert_int_equal(verify_with(F.nocache, t, NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(p.nroles, PAWL_MAX_ROLES);
    assert_string_equal(p.roles[0], "dealer");
    assert_string_equal(p.roles[1], "owner");
    assert_string_equal(p.roles[2], "a");
    assert_string_equal(p.roles[7], "f");
    assert_int_equal(p.role_mask, (1u << 0) | (1u << 3));
}

static void aud_array_and_rules_unset(void **state)
{
    struct pawl_jwt_rules r = { 0 };
    struct pawl_jwt_verifier *v;
    struct pawl_principal p;
    (void)state;
    const char *pl = "{\"sub\":\"u\",\"exp\":1700000600,\"aud\":[\"other\",\"" AUD "\"],"
                     "\"iss\":\"" ISS "\"}";
    assert_int_equal(verify(sign(1, "ES256", "ec-1", NULL, pl), NOW), PAWL_R_ALLOWED);
    pl = "{\"sub\":\"u\",\"exp\":1700000600,\"aud\":[\"other\",\"x\"],\"iss\":\"" ISS "\"}";
    assert_int_equal(verify(sign(1, "ES256", "ec-1", NULL, pl), NOW), PAWL_R_TOKEN_WRONG_AUDIENCE);
    /* With no issuer/audience rule, neither claim is needed. */
    assert_int_equal(pawl_jwt_verifier_new(&r, F.jwks, 0, &v), PAWL_OK);
    pl = "{\"sub\":\"u\",\"exp\":1700000600}";
    assert_int_equal(verify_with(v, sign(1, "ES256", "ec-1", NULL, pl), NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(p.nroles, 0);
    assert_string_equal(p.org, "");
    pawl_jwt_verifier_free(v);
}

/* ---- structure, header, key, signature ---------------------------------- */

static void structure_rejects(void **state)
{
    struct pawl_principal p;
    struct pawl_diag d = { 0 };
    char t[PAWL_JWT_TOKEN_MAX + 2];
    (void)state;
    assert_int_equal(pawl_jwt_verify(F.v, "", 0, NOW, &p, &d), PAWL_R_UNAUTHENTICATED);
    memset(t, 'a', sizeof t);
    assert_int_equal(pawl_jwt_verify(F.v, t, PAWL_JWT_TOKEN_MAX + 1, NOW, &p, &d),
                     PAWL_R_TOKEN_MALFORMED);
    assert_int_equal(verify("abc.def", NOW), PAWL_R_TOKEN_MALFORMED);
    assert_int_equal(verify("a.b.c.d", NOW), PAWL_R_TOKEN_MALFORMED);
    const char *g = good(1, NULL);
    snprintf(t, sizeof t, "%s.", g); /* four parts */
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
    snprintf(t, sizeof t, "%s", g);
    t[strlen(t) - 1] = '='; /* padding */
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
    snprintf(t, sizeof t, "%s", g);
    t[3] = '+'; /* base64, not base64url */
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
    snprintf(t, sizeof t, " %s", g);
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
    /* Header valid base64url but not a JSON object; duplicate members. */
    assert_true(th_jwt_make("[\"ES256\"]", payload(NULL), F.keys[1], "ES256", t, sizeof t) > 0);
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
    assert_true(th_jwt_make("{\"alg\":\"ES256\",\"kid\":\"ec-1\",\"alg\":\"none\"}", payload(NULL),
                            F.keys[1], "ES256", t, sizeof t) > 0);
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
    /* A NUL inside the given length is not base64url. */
    g = good(1, NULL);
    assert_int_equal(pawl_jwt_verify(F.nocache, g, strlen(g) + 1, NOW, &p, &d),
                     PAWL_R_TOKEN_MALFORMED);
}

static void alg_rejects(void **state)
{
    char t[4096];
    (void)state;
    const char *pl = payload(NULL);
    assert_int_equal(verify(sign(-1, "none", "ec-1", NULL, pl), NOW), PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_int_equal(verify(sign(1, "HS256", "ec-1", NULL, pl), NOW), PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_int_equal(verify(sign(1, "HS384", "ec-1", NULL, pl), NOW), PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_int_equal(verify(sign(1, "HS512", "ec-1", NULL, pl), NOW), PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_int_equal(verify(sign(0, "PS256", "rsa-1", NULL, pl), NOW), PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_int_equal(verify(sign(0, "RS512", "rsa-1", NULL, pl), NOW), PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_int_equal(verify(sign(1, "es256", "ec-1", NULL, pl), NOW), PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_true(th_jwt_make("{\"kid\":\"ec-1\"}", pl, F.keys[1], "ES256", t, sizeof t) > 0);
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
    assert_true(th_jwt_make("{\"alg\":7,\"kid\":\"ec-1\"}", pl, F.keys[1], "ES256", t, sizeof t) > 0);
    assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_MALFORMED);
}

static void embedded_key_and_crit_rejects(void **state)
{
    static const char *const members[] = {
        "\"jku\":\"https://evil.example/jwks\"", "\"x5u\":\"https://evil.example/c.pem\"",
        "\"jwk\":{\"kty\":\"EC\"}", "\"x5c\":[\"MIIB\"]",
    };
    (void)state;
    for (size_t i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            assert_int_equal(verify(sign(k, algs[k], kids[k], members[i], payload(NULL)), NOW),
                             PAWL_R_TOKEN_EMBEDDED_KEY);
    assert_int_equal(verify(sign(2, "EdDSA", "ed-1", "\"crit\":[\"b64\"],\"b64\":false",
                                 payload(NULL)), NOW),
                     PAWL_R_TOKEN_MALFORMED);
}

static void key_rejects(void **state)
{
    (void)state;
    const char *pl = payload(NULL);
    assert_int_equal(verify(sign(1, "ES256", NULL, NULL, pl), NOW), PAWL_R_TOKEN_KEY_UNKNOWN);
    assert_int_equal(verify(sign(1, "ES256", "ec-2", NULL, pl), NOW), PAWL_R_TOKEN_KEY_UNKNOWN);
    /* kid of the EC key under alg EdDSA, signed by the Ed25519 key. */
    assert_int_equal(verify(sign(2, "EdDSA", "ec-1", NULL, pl), NOW), PAWL_R_TOKEN_KEY_UNKNOWN);
    assert_int_equal(verify(sign(1, "ES256", "rsa-1", NULL, pl), NOW), PAWL_R_TOKEN_KEY_UNKNOWN);
    assert_int_equal(verify(sign(1, "ES256", "ec-1", "\"kid\":5", pl), NOW), PAWL_R_TOKEN_MALFORMED);
}

static void signature_rejects(void **state)
{
    char t[4096], other[4096];
    (void)state;
    ERR_clear_error();
    for (int k = 0; k < 3; k++) {
        /* Tampered signature: flip one bit of the first signature byte. */
        snprintf(t, sizeof t, "%s", good(k, NULL));
        char *s = strrchr(t, '.') + 1;
        *s = *s == 'A' ? 'Q' : 'A';
        assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_BAD_SIGNATURE);
        /* Tampered payload: another payload with the first token's signature. */
        snprintf(t, sizeof t, "%s", good(k, NULL));
        snprintf(other, sizeof other, "%s", good(k, "\"roles2\":1"));
        char *dot = strrchr(other, '.');
        snprintf(dot, sizeof other - (size_t)(dot - other), "%s", strrchr(t, '.'));
        assert_int_equal(verify(other, NOW), PAWL_R_TOKEN_BAD_SIGNATURE);
        /* Signature stripped. */
        *(strrchr(t, '.') + 1) = '\0';
        assert_int_equal(verify(t, NOW), PAWL_R_TOKEN_BAD_SIGNATURE);
    }
    /* Right kid, wrong key. */
    assert_int_equal(verify(sign(3, "ES256", "ec-1", NULL, payload(NULL)), NOW),
                     PAWL_R_TOKEN_BAD_SIGNATURE);
    /* Rejections leave nothing on OpenSSL's error queue (TLS code reads it). */
    assert_int_equal(ERR_peek_error(), 0);
}

static void es256_signature_length(void **state)
{
    unsigned char sig[80], der[80];
    const unsigned char msg[] = "header.payload";
    size_t dn = sizeof der;
    (void)state;
    assert_int_equal(th_sign_raw(F.keys[1], "ES256", msg, sizeof msg, sig, sizeof sig), 64);
    assert_int_equal(pawl__jwt_sig_verify(PAWL__ALG_ES256, F.keys[1], msg, sizeof msg, sig, 64),
                     PAWL_OK);
    assert_int_equal(pawl__jwt_sig_verify(PAWL__ALG_ES256, F.keys[1], msg, sizeof msg, sig, 63),
                     PAWL_ECRYPTO);
    sig[64] = 0;
    assert_int_equal(pawl__jwt_sig_verify(PAWL__ALG_ES256, F.keys[1], msg, sizeof msg, sig, 65),
                     PAWL_ECRYPTO);
    /* The DER form OpenSSL produces is not the JWS form. */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit_ex(c, NULL, "SHA256", NULL, NULL, F.keys[1], NULL), 1);
    assert_int_equal(EVP_DigestSign(c, der, &dn, msg, sizeof msg), 1);
    EVP_MD_CTX_free(c);
    assert_int_equal(pawl__jwt_sig_verify(PAWL__ALG_ES256, F.keys[1], msg, sizeof msg, der, dn),
                     PAWL_ECRYPTO);
    /* A key of the wrong type for the alg never verifies. */
    assert_int_equal(pawl__jwt_sig_verify(PAWL__ALG_EDDSA, F.keys[1], msg, sizeof msg, sig, 64),
                     PAWL_ECRYPTO);
}

/* ---- claims ------------------------------------------------------------- */

static const char *signed_payload(const char *pl)
{
    return sign(2, "EdDSA", "ed-1", NULL, pl);
}

static void claim_rejects(void **state)
{
    static const char *const malformed[] = {
        "[1]",
        "{\"exp\":1700000600}",
        "{\"sub\":\"\",\"exp\":1700000600}",
        "{\"sub\":7,\"exp\":1700000600}",
        "{\"sub\":\"u\"}",
        "{\"sub\":\"u\",\"exp\":\"1700000600\"}",
        "{\"sub\":\"u\",\"exp\":-1}",
        "{\"sub\":\"u\",\"exp\":1e300}",
        "{\"sub\":\"u\",\"exp\":253402300800}",
        "{\"sub\":\"u\",\"exp\":true}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"nbf\":\"x\"}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"iat\":null}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"jti\":5}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"org\":[\"a\"]}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"roles\":\"owner\"}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"roles\":[\"owner\",3]}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"roles\":[\"0123456789012345678901234567890123\"]}",
        "{\"sub\":\"u\",\"sub\":\"admin\",\"exp\":1700000600}",
        "{\"sub\":\"u\",\"exp\":1700000600} x",
        "{\"sub\":\"u\",\"exp\":1700000600,\"iss\":\"" ISS "\",\"aud\":7}",
        "{\"sub\":\"u\",\"exp\":1700000600,\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\",7]}",
    };
    char pl[512], big[PAWL_ID_MAX + 1];
    (void)state;
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        print_message("payload %zu\n", i);
        assert_int_equal(verify(signed_payload(malformed[i]), NOW), PAWL_R_TOKEN_MALFORMED);
    }
    memset(big, 'u', PAWL_ID_MAX);
    big[PAWL_ID_MAX - 1] = '\0'; /* 127 bytes: fits */
    snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"exp\":1700000600,\"iss\":\"" ISS "\",\"aud\":\"" AUD
             "\"}", big);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_ALLOWED);
    big[PAWL_ID_MAX - 1] = 'u';
    big[PAWL_ID_MAX] = '\0'; /* 128 bytes: does not */
    snprintf(pl, sizeof pl, "{\"sub\":\"%s\",\"exp\":1700000600,\"iss\":\"" ISS "\",\"aud\":\"" AUD
             "\"}", big);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_TOKEN_MALFORMED);
}

static void issuer_and_audience_rejects(void **state)
{
    (void)state;
    const char *e = "\"exp\":1700000600,\"sub\":\"u\"";
    char pl[512];
    snprintf(pl, sizeof pl, "{%s,\"aud\":\"" AUD "\"}", e);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_TOKEN_WRONG_ISSUER);
    snprintf(pl, sizeof pl, "{%s,\"iss\":\"https://idp.example.evil\",\"aud\":\"" AUD "\"}", e);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_TOKEN_WRONG_ISSUER);
    snprintf(pl, sizeof pl, "{%s,\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\"}", e);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_TOKEN_WRONG_ISSUER);
    snprintf(pl, sizeof pl, "{%s,\"iss\":\"" ISS "\"}", e);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_TOKEN_WRONG_AUDIENCE);
    snprintf(pl, sizeof pl, "{%s,\"iss\":\"" ISS "\",\"aud\":\"pawl\"}", e);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_TOKEN_WRONG_AUDIENCE);
    snprintf(pl, sizeof pl, "{%s,\"iss\":\"" ISS "\",\"aud\":[]}", e);
    assert_int_equal(verify(signed_payload(pl), NOW), PAWL_R_TOKEN_WRONG_AUDIENCE);
}

/* ---- time --------------------------------------------------------------- */

static const char *timed(const char *exp, const char *nbf)
{
    static char pl[512];
    snprintf(pl, sizeof pl, "{\"sub\":\"u\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
             "\"exp\":%s%s%s}", exp, nbf ? ",\"nbf\":" : "", nbf ? nbf : "");
    return signed_payload(pl);
}

static void leeway_boundaries(void **state)
{
    (void)state;
    const char *t = timed("1700000000", NULL);
    assert_int_equal(verify(t, NOW + LEEWAY), PAWL_R_ALLOWED);
    assert_int_equal(verify(t, NOW + LEEWAY + 1), PAWL_R_TOKEN_EXPIRED);
    t = timed("1700001000", "1700000000");
    assert_int_equal(verify(t, NOW - LEEWAY), PAWL_R_ALLOWED);
    assert_int_equal(verify(t, NOW - LEEWAY - 1), PAWL_R_TOKEN_NOT_YET_VALID);
    /* Fractions: exp rounds down, nbf rounds up, to the millisecond. */
    t = timed("1700000000.0005", NULL);
    assert_int_equal(verify(t, NOW + LEEWAY), PAWL_R_ALLOWED);
    assert_int_equal(verify(t, NOW + LEEWAY + 1), PAWL_R_TOKEN_EXPIRED);
    t = timed("1700001000", "1699999999.9995");
    assert_int_equal(verify(t, NOW - LEEWAY), PAWL_R_ALLOWED);
    assert_int_equal(verify(t, NOW - LEEWAY - 1), PAWL_R_TOKEN_NOT_YET_VALID);
    /* Time checks come after issuer checks (so cached results stay exact). */
    assert_int_equal(verify(timed("1", NULL), NOW), PAWL_R_TOKEN_EXPIRED);
}

static void leeway_zero(void **state)
{
    struct pawl_jwt_rules r = rules;
    struct pawl_jwt_verifier *v;
    struct pawl_principal p;
    (void)state;
    r.leeway_ms = 0;
    assert_int_equal(pawl_jwt_verifier_new(&r, F.jwks, 4, &v), PAWL_OK);
    const char *t = timed("1700000000", "1699999999");
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(p.nbf_ms, NOW - 1000);
    assert_int_equal(verify_with(v, t, NOW + 1, &p), PAWL_R_TOKEN_EXPIRED);
    assert_int_equal(verify_with(v, t, NOW - 1001, &p), PAWL_R_TOKEN_NOT_YET_VALID);
    pawl_jwt_verifier_free(v);
}

/* ---- cache -------------------------------------------------------------- */

static struct pawl_jwt_verifier *fresh(size_t entries)
{
    struct pawl_jwt_verifier *v;
    assert_int_equal(pawl_jwt_verifier_new(&rules, F.jwks, entries, &v), PAWL_OK);
    return v;
}

static struct pawl_jwt_stats stats(const struct pawl_jwt_verifier *v)
{
    struct pawl_jwt_stats s;
    pawl_jwt_verifier_stats(v, &s);
    return s;
}

static void cache_serves_repeats(void **state)
{
    struct pawl_jwt_verifier *v = fresh(16);
    struct pawl_principal p;
    (void)state;
    const char *t = good(0, NULL);
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(stats(v).verifications, 1);
    assert_int_equal(stats(v).misses, 1);
    for (int i = 0; i < 10; i++) {
        memset(&p, 0xff, sizeof p);
        assert_int_equal(verify_with(v, t, NOW + i, &p), PAWL_R_ALLOWED);
        assert_string_equal(p.uid, "user-42");
        assert_int_equal(p.role_mask, (1u << 0) | (1u << 3));
    }
    assert_int_equal(stats(v).verifications, 1);
    assert_int_equal(stats(v).hits, 10);
    pawl_jwt_verifier_free(v);
    /* Without a cache, every call checks the signature. */
    v = fresh(0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(stats(v).verifications, 3);
    assert_int_equal(stats(v).hits, 0);
    pawl_jwt_verifier_free(v);
}

static void cache_never_extends_validity(void **state)
{
    struct pawl_jwt_verifier *v = fresh(16);
    struct pawl_principal p;
    (void)state;
    const char *t = timed("1700000000", "1699999999");
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(verify_with(v, t, NOW + LEEWAY + 1, &p), PAWL_R_TOKEN_EXPIRED);
    assert_int_equal(verify_with(v, t, NOW - 1000 - LEEWAY - 1, &p), PAWL_R_TOKEN_NOT_YET_VALID);
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(stats(v).verifications, 1);
    assert_int_equal(stats(v).hits, 3);
    /* A token first seen expired is cached so, and still expired later. */
    t = timed("1600000000", NULL);
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_TOKEN_EXPIRED);
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_TOKEN_EXPIRED);
    assert_int_equal(stats(v).verifications, 2);
    pawl_jwt_verifier_free(v);
}

static void cache_keeps_bad_signatures_bad(void **state)
{
    struct pawl_jwt_verifier *v = fresh(16);
    struct pawl_principal p;
    struct pawl_diag d1 = { 0 }, d2 = { 0 };
    char t[4096];
    (void)state;
    snprintf(t, sizeof t, "%s", good(1, NULL));
    char *s = strrchr(t, '.') + 1;
    *s = *s == 'A' ? 'Q' : 'A';
    assert_int_equal(pawl_jwt_verify(v, t, strlen(t), NOW, &p, &d1), PAWL_R_TOKEN_BAD_SIGNATURE);
    for (int i = 0; i < 5; i++)
        assert_int_equal(pawl_jwt_verify(v, t, strlen(t), NOW, &p, &d2),
                         PAWL_R_TOKEN_BAD_SIGNATURE);
    assert_string_equal(d1.msg, d2.msg);
    assert_int_equal(stats(v).verifications, 1);
    assert_int_equal(stats(v).hits, 5);
    /* Failures before the signature are not cached (cheap, and would let
     * garbage evict good entries); they are still rejected every time. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(verify_with(v, sign(-1, "none", "ec-1", NULL, payload(NULL)), NOW, &p),
                         PAWL_R_TOKEN_ALG_FORBIDDEN);
    assert_int_equal(stats(v).hits, 5);
    assert_int_equal(stats(v).verifications, 1);
    pawl_jwt_verifier_free(v);
}

/* Refusals are what anyone can send, as many as they like: 7 KiB forgeries
 * (a known kid, a large payload, a signature that fails) are cached, but
 * each holds a digest of its token, not a copy (review finding: 441 MiB of
 * copies for 65,536 forgeries). The heap is glibc's (under ASan its
 * allocator is not counted here, and the test shows nothing). */
static void cache_refusals_hold_no_copy(void **state)
{
    enum { N = 2048 };
    static char t[PAWL_JWT_TOKEN_MAX];
    struct pawl_jwt_verifier *v = fresh(N);
    struct pawl_principal p;
    (void)state;
    const char *g = good(2, NULL), *hdr_end = strchr(g, '.'), *sig = strrchr(g, '.') + 1;
    size_t at = (size_t)(hdr_end - g) + 1, sig_n = strlen(sig);
    memcpy(t, g, at);
    memset(t + at, 'A', 7000); /* 5,250 zero bytes: decodes; never parsed, the signature fails first */
    at += 7000;
    t[at++] = '.';
    memcpy(t + at, sig, sig_n + 1);
    assert_true(at + sig_n < PAWL_JWT_TOKEN_MAX);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 4; k++) /* in the tail the cache hashes: each its own spot */
            t[at + sig_n - 12 + k] = b64[(i >> (6 * k)) & 63];
        assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_TOKEN_BAD_SIGNATURE);
    }
    size_t grew = mallinfo2().uordblks - before.uordblks;
    assert_true(grew < (size_t)N * 512); /* copies would take about 7 KiB each */
    assert_int_equal(stats(v).verifications, N);
    /* the last one again: a hit, by its digest */
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_TOKEN_BAD_SIGNATURE);
    assert_int_equal(stats(v).verifications, N);
    assert_int_equal(stats(v).hits, 1);
    /* the same signature and length on another payload is not that token */
    t[at - 2] = 'B';
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_TOKEN_BAD_SIGNATURE);
    assert_int_equal(stats(v).verifications, N + 1);
    pawl_jwt_verifier_free(v);
}

/* A flood of forgeries cannot push the allowed tokens out of the cache:
 * refusals hold at most two ways of a set and then replace each other
 * (review finding: refused tokens evicted good ones, and each good one then
 * cost a signature check when it came back). One set of eight ways here. */
static void cache_refusals_leave_allowed_ways(void **state)
{
    enum { GOOD = 6, FORGED = 500 };
    static char toks[GOOD][1024], t[1024];
    char pl[256];
    struct pawl_jwt_verifier *v = fresh(8);
    struct pawl_principal p;
    (void)state;
    for (int i = 0; i < GOOD; i++) {
        snprintf(pl, sizeof pl, "{\"sub\":\"keep-%d\",\"exp\":1700000600,\"iss\":\"" ISS
                 "\",\"aud\":\"" AUD "\"}", i);
        assert_true(th_jwt_sign(F.keys[2], "EdDSA", "ed-1", NULL, pl, toks[i], sizeof toks[i]) > 0);
        assert_int_equal(verify_with(v, toks[i], NOW, &p), PAWL_R_ALLOWED);
    }
    snprintf(t, sizeof t, "%s", toks[0]);
    size_t n = strlen(t);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < FORGED; i++) {
        for (int k = 0; k < 3; k++) /* the signature's tail: each forgery its own */
            t[n - 8 + k] = b64[((i + 1) >> (6 * k)) & 63];
        assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_TOKEN_BAD_SIGNATURE);
    }
    assert_int_equal(stats(v).verifications, GOOD + FORGED);
    for (int i = 0; i < GOOD; i++) {
        assert_int_equal(verify_with(v, toks[i], NOW, &p), PAWL_R_ALLOWED);
        char want[16];
        snprintf(want, sizeof want, "keep-%d", i);
        assert_string_equal(p.uid, want);
    }
    assert_int_equal(stats(v).verifications, GOOD + FORGED); /* all six were hits */
    /* the latest forgery is still answered from the cache */
    assert_int_equal(verify_with(v, t, NOW, &p), PAWL_R_TOKEN_BAD_SIGNATURE);
    assert_int_equal(stats(v).verifications, GOOD + FORGED);
    /* and an allowed token still takes the oldest way, whatever it holds */
    snprintf(pl, sizeof pl, "{\"sub\":\"new\",\"exp\":1700000600,\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}");
    assert_true(th_jwt_sign(F.keys[2], "EdDSA", "ed-1", NULL, pl, toks[0], sizeof toks[0]) > 0);
    assert_int_equal(verify_with(v, toks[0], NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(verify_with(v, toks[0], NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(stats(v).verifications, GOOD + FORGED + 1);
    pawl_jwt_verifier_free(v);
}

/* The set is chosen by the token's tail (its signature): a forgery that
 * copies a good token's signature onto another payload lands in the same set
 * and must still be told apart, every time, in either order. */
static void cache_same_signature_other_payload(void **state)
{
    struct pawl_jwt_verifier *v = fresh(8);
    struct pawl_principal p;
    char good_tok[4096], forged[4096];
    (void)state;
    snprintf(good_tok, sizeof good_tok, "%s", good(2, NULL));
    snprintf(forged, sizeof forged, "%s", good_tok);
    char *dot = strchr(forged, '.') + 1; /* one payload byte changes; the signature stays */
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    for (int round = 0; round < 3; round++) {
        assert_int_equal(verify_with(v, forged, NOW, &p), PAWL_R_TOKEN_BAD_SIGNATURE);
        assert_int_equal(verify_with(v, good_tok, NOW, &p), PAWL_R_ALLOWED);
        assert_string_equal(p.uid, "user-42");
    }
    assert_int_equal(stats(v).verifications, 2); /* one each; then both from the cache */
    assert_int_equal(stats(v).hits, 4);
    /* given the good token's spot, the forgery still misses and is refused,
     * and the good token given a wrong spot is still itself */
    struct pawl_diag d;
    struct pawl_jwt_spot good_spot = pawl_jwt_spot(v, good_tok, strlen(good_tok));
    struct pawl_jwt_spot wrong = { good_spot.x ^ 0x5555555555555555ull, good_spot.n };
    assert_int_equal(pawl_jwt_verify_at(v, forged, strlen(forged), good_spot, NOW, &p, &d),
                     PAWL_R_TOKEN_BAD_SIGNATURE);
    assert_int_equal(pawl_jwt_verify_at(v, good_tok, strlen(good_tok), wrong, NOW, &p, &d),
                     PAWL_R_ALLOWED);
    assert_string_equal(p.uid, "user-42");
    pawl_jwt_verifier_free(v);
}

/* A principal too long for an entry's text (every id near PAWL_ID_MAX, all
 * roles near PAWL_ROLE_MAX) is cached whole, and an answer from the cache is
 * byte for byte the fresh one (verify() compares them). */
static void cache_packs_long_principals(void **state)
{
    char id[PAWL_ID_MAX], role[PAWL_ROLE_MAX], claims[2048];
    struct pawl_principal p;
    struct pawl_diag d;
    (void)state;
    memset(id, 'i', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    memset(role, 'r', sizeof role - 1);
    role[sizeof role - 1] = '\0';
    int n = snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"org\":\"%s\",\"jti\":\"%s\","
                     "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%d,\"roles\":[", id, id, id, T0 + 600);
    for (int i = 0; i < PAWL_MAX_ROLES; i++) {
        role[0] = (char)('a' + i);
        n += snprintf(claims + n, sizeof claims - (size_t)n, "%s\"%s\"", i ? "," : "", role);
    }
    snprintf(claims + n, sizeof claims - (size_t)n, "]}");
    const char *t = sign(2, "EdDSA", "ed-1", NULL, claims);
    assert_int_equal(verify(t, NOW), PAWL_R_ALLOWED);
    assert_int_equal(pawl_jwt_verify(F.v, t, strlen(t), NOW, &p, &d), PAWL_R_ALLOWED);
    assert_string_equal(p.uid, id);
    assert_string_equal(p.session, id);
    assert_int_equal(p.nroles, PAWL_MAX_ROLES);
    role[0] = 'h';
    assert_string_equal(p.roles[7], role);
    /* and short ones next to it still fit */
    assert_int_equal(verify(good(2, NULL), NOW), PAWL_R_ALLOWED);
}

/* One set of 8 ways: the least recently used token is the one replaced, and
 * the prefetch hint (however called) changes no answer. */
static void cache_lru_within_a_set(void **state)
{
    enum { N = 9 };
    static char toks[N][1024];
    struct pawl_jwt_verifier *v = fresh(8);
    struct pawl_principal p;
    char pl[256];
    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(pl, sizeof pl, "{\"sub\":\"lru-%d\",\"exp\":1700000600,\"iss\":\"" ISS
                 "\",\"aud\":\"" AUD "\"}", i);
        assert_true(th_jwt_sign(F.keys[2], "EdDSA", "ed-1", NULL, pl, toks[i], sizeof toks[i]) > 0);
    }
    for (int step = 1; step <= 3; step++) {
        pawl_jwt_prefetch(v, pawl_jwt_spot(v, NULL, 0), step);
        pawl_jwt_prefetch(v, pawl_jwt_spot(v, toks[0], PAWL_JWT_TOKEN_MAX + 1), step);
    }
    for (int i = 0; i < 8; i++) {
        struct pawl_jwt_spot sp = pawl_jwt_spot(v, toks[i], strlen(toks[i]));
        for (int step = 1; step <= 3; step++)
            pawl_jwt_prefetch(v, sp, step);
        assert_true(pawl_jwt_principal_hint(v, sp) == 0); /* not cached yet */
        assert_int_equal(verify_with(v, toks[i], NOW, &p), PAWL_R_ALLOWED);
        /* now cached: the hint names its principal */
        assert_true(pawl_jwt_principal_hint(v, sp) == pawl_key_of((pawl_str){ p.uid, strlen(p.uid) }).h);
    }
    assert_int_equal(verify_with(v, toks[0], NOW, &p), PAWL_R_ALLOWED); /* 1 is now the oldest */
    assert_int_equal(stats(v).verifications, 8);
    assert_int_equal(stats(v).evictions, 0);
    assert_int_equal(verify_with(v, toks[8], NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(stats(v).evictions, 1);
    assert_true(pawl_jwt_principal_hint(v, pawl_jwt_spot(v, toks[1], strlen(toks[1]))) == 0);
    assert_true(pawl_jwt_principal_hint(v, pawl_jwt_spot(v, NULL, 0)) == 0);
    for (int i = 0; i < N; i++) {
        if (i == 1)
            continue;
        for (int step = 1; step <= 3; step++)
            pawl_jwt_prefetch(v, pawl_jwt_spot(v, toks[i], strlen(toks[i])), step);
        assert_int_equal(verify_with(v, toks[i], NOW, &p), PAWL_R_ALLOWED);
        char want[16];
        snprintf(want, sizeof want, "lru-%d", i);
        assert_string_equal(p.uid, want);
    }
    assert_int_equal(stats(v).verifications, 9); /* all eight kept were hits */
    assert_int_equal(verify_with(v, toks[1], NOW, &p), PAWL_R_ALLOWED);
    assert_int_equal(stats(v).verifications, 10);
    assert_string_equal(p.uid, "lru-1");
    pawl_jwt_verifier_free(v);
    /* a cached refusal (signature good, audience wrong) names no principal */
    v = fresh(8);
    assert_true(th_jwt_sign(F.keys[2], "EdDSA", "ed-1", NULL,
                            "{\"sub\":\"lru-x\",\"exp\":1700000600,\"iss\":\"" ISS "\",\"aud\":\"other\"}",
                            toks[0], sizeof toks[0]) > 0);
    assert_int_equal(verify_with(v, toks[0], NOW, &p), PAWL_R_TOKEN_WRONG_AUDIENCE);
    assert_int_equal(verify_with(v, toks[0], NOW, &p), PAWL_R_TOKEN_WRONG_AUDIENCE);
    assert_int_equal(stats(v).verifications, 1); /* the refusal was cached */
    assert_true(pawl_jwt_principal_hint(v, pawl_jwt_spot(v, toks[0], strlen(toks[0]))) == 0);
    pawl_jwt_verifier_free(v);
    v = fresh(0); /* no cache: the hint has nothing to load */
    for (int step = 1; step <= 3; step++)
        pawl_jwt_prefetch(v, pawl_jwt_spot(v, toks[0], strlen(toks[0])), step);
    assert_true(pawl_jwt_principal_hint(v, pawl_jwt_spot(v, toks[0], strlen(toks[0]))) == 0);
    assert_int_equal(verify_with(v, toks[0], NOW, &p), PAWL_R_TOKEN_WRONG_AUDIENCE);
    pawl_jwt_verifier_free(v);
}

/* Many distinct tokens through a small cache: each answer is its own. */
static void cache_no_collisions(void **state)
{
    enum { N = 40 };
    static char toks[N][1024];
    struct pawl_jwt_verifier *v = fresh(8);
    struct pawl_principal p;
    char pl[256], want[32];
    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(pl, sizeof pl, "{\"sub\":\"user-%d\",\"exp\":1700000600,\"iss\":\"" ISS
                 "\",\"aud\":\"" AUD "\"}", i);
        assert_true(th_jwt_sign(F.keys[2], "EdDSA", "ed-1", NULL, pl, toks[i], sizeof toks[i]) > 0);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            assert_int_equal(verify_with(v, toks[i], NOW, &p), PAWL_R_ALLOWED);
            snprintf(want, sizeof want, "user-%d", i);
            assert_string_equal(p.uid, want);
        }
    struct pawl_jwt_stats s = stats(v);
    assert_int_equal(s.hits + s.misses, 3 * N);
    assert_int_equal(s.verifications, s.misses);
    assert_true(s.evictions > 0);
    /* A token and the same token one byte longer are different keys. */
    pawl_jwt_verifier_free(v);
    v = fresh(8);
    size_t n = strlen(toks[0]);
    assert_int_equal(verify_with(v, toks[0], NOW, &p), PAWL_R_ALLOWED);
    struct pawl_diag d;
    memcpy(toks[1], toks[0], n);
    memcpy(toks[1] + n, "A", 2);
    assert_int_equal(pawl_jwt_verify(v, toks[1], n + 1, NOW, &p, &d), PAWL_R_TOKEN_BAD_SIGNATURE);
    assert_int_equal(pawl_jwt_verify(v, toks[0], n, NOW, &p, &d), PAWL_R_ALLOWED);
    pawl_jwt_verifier_free(v);
}

static void verifier_new_checks(void **state)
{
    struct pawl_jwt_verifier *v = (void *)1;
    struct pawl_jwt_rules r = rules;
    (void)state;
    r.leeway_ms = -1;
    assert_int_equal(pawl_jwt_verifier_new(&r, F.jwks, 0, &v), PAWL_EINVAL);
    assert_null(v);
    r.leeway_ms = PAWL_JWT_LEEWAY_MAX_MS + 1;
    assert_int_equal(pawl_jwt_verifier_new(&r, F.jwks, 0, &v), PAWL_EINVAL);
    r = rules;
    r.issuer = "";
    assert_int_equal(pawl_jwt_verifier_new(&r, F.jwks, 0, &v), PAWL_EINVAL);
    r = rules;
    r.roles_claim = "";
    assert_int_equal(pawl_jwt_verifier_new(&r, F.jwks, 0, &v), PAWL_EINVAL);
    assert_int_equal(pawl_jwt_verifier_new(&rules, F.jwks, PAWL_JWT_CACHE_MAX + 1, &v),
                     PAWL_ELIMIT);
    assert_int_equal(pawl_jwt_verifier_new(&rules, NULL, 0, &v), PAWL_EINVAL);
    assert_int_equal(pawl_jwt_verifier_new(&rules, F.jwks, PAWL_JWT_CACHE_MAX, &v), PAWL_OK);
    pawl_jwt_verifier_free(v);
    pawl_jwt_verifier_free(NULL);
}

/* ---- JWKS ------------------------------------------------------------- */

static pawl_err jwks_try(const char *doc, struct pawl_diag *d)
{
    struct pawl_jwks *ks = (void *)1;
    memset(d, 0, sizeof *d);
    pawl_err e = pawl_jwks_parse(doc, strlen(doc), "keys.json", &ks, d);
    if (e == PAWL_OK)
        pawl_jwks_free(ks);
    else
        assert_null(ks);
    return e;
}

/* {"keys":[<jwk of key i with its closing brace replaced by extra}]} */
static char *jwks_with(int key, const char *alg, const char *kid, const char *extra)
{
    static char doc[8192];
    char jwk[4096];
    assert_true(th_jwk_json(F.keys[key], alg, kid, jwk, sizeof jwk) > 0);
    jwk[strlen(jwk) - 1] = '\0';
    snprintf(doc, sizeof doc, "{\"keys\":[%s%s%s}]}", jwk, extra ? "," : "", extra ? extra : "");
    return doc;
}

static void expect_jwks(const char *doc, pawl_err want, const char *msg_part)
{
    struct pawl_diag d;
    assert_int_equal(jwks_try(doc, &d), want);
    if (want != PAWL_OK) {
        print_message("diag: %s: %s\n", d.where, d.msg);
        assert_string_equal(d.where, "keys.json");
        assert_non_null(strstr(d.msg, msg_part));
    }
}

static void jwks_accepts(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        expect_jwks(jwks_with(k, algs[k], kids[k], NULL), PAWL_OK, NULL);
        expect_jwks(jwks_with(k, NULL, kids[k], NULL), PAWL_OK, NULL);
    }
    assert_int_equal(pawl_jwks_count(F.jwks), 3);
}

static void jwks_key_rejects(void **state)
{
    (void)state;
    expect_jwks(jwks_with(1, NULL, "k", "\"d\":\"AAAA\""), PAWL_EINVAL, "private key member \"d\"");
    expect_jwks(jwks_with(2, NULL, "k", "\"d\":\"AAAA\""), PAWL_EINVAL, "kid \"k\"");
    expect_jwks(jwks_with(0, NULL, "k", "\"p\":\"AAAA\""), PAWL_EINVAL, "\"p\"");
    expect_jwks(jwks_with(0, NULL, "k", "\"qi\":\"AAAA\""), PAWL_EINVAL, "\"qi\"");
    expect_jwks(jwks_with(0, "ES256", "k", NULL), PAWL_EINVAL, "alg");
    char *doc = jwks_with(2, "EdDSA", "k", NULL);
    memcpy(strstr(doc, "\"use\":\"sig\"") + 7, "enc", 3);
    expect_jwks(doc, PAWL_EINVAL, "use");
    expect_jwks(jwks_with(1, NULL, "", NULL), PAWL_EINVAL, "kid");
    expect_jwks("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}]}", PAWL_EINVAL,
                "private key member \"k\"");
    expect_jwks("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\"}]}", PAWL_EINVAL, "HMAC");
    expect_jwks("{\"keys\":[{\"kty\":\"DSA\",\"kid\":\"h\"}]}", PAWL_EINVAL, "unsupported kty");
    expect_jwks("{\"keys\":[{\"kid\":\"h\"}]}", PAWL_EINVAL, "kty");
    expect_jwks("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"h\",\"x\":\"AA\",\"y\":\"AA\"}]}",
                PAWL_EINVAL, "crv");
    expect_jwks("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"h\",\"x\":\"AA\"}]}",
                PAWL_EINVAL, "crv");
    expect_jwks("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"h\",\"x\":\"AAAA\"}]}",
                PAWL_EINVAL, "32 bytes");
    expect_jwks("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"h\",\"x\":\"A=\"}]}",
                PAWL_EINVAL, "base64url");
    expect_jwks("{\"keys\":[7]}", PAWL_EINVAL, "key 0");
    char kid[PAWL_JWT_KID_MAX + 1];
    memset(kid, 'k', PAWL_JWT_KID_MAX);
    kid[PAWL_JWT_KID_MAX - 1] = '\0';
    expect_jwks(jwks_with(2, NULL, kid, NULL), PAWL_OK, NULL);
    kid[PAWL_JWT_KID_MAX - 1] = 'k';
    kid[PAWL_JWT_KID_MAX] = '\0';
    expect_jwks(jwks_with(2, NULL, kid, NULL), PAWL_EINVAL, "kid longer");
    /* An even RSA exponent (e = 2, "Ag"). */
    doc = jwks_with(0, NULL, "k", NULL);
    memcpy(strstr(doc, "\"e\":\"AQAB\""), "\"e\":\"Ag\"  ", 10);
    expect_jwks(doc, PAWL_EINVAL, "exponent");
    assert_int_equal(ERR_peek_error(), 0);
}

static void jwks_weak_and_broken_keys(void **state)
{
    char doc[4096], jwk[3000], x[64], y[64];
    uint8_t raw[32];
    (void)state;
    EVP_PKEY *small = EVP_RSA_gen(1024);
    assert_non_null(small);
    assert_true(th_jwk_json(small, "RS256", "small", jwk, sizeof jwk) > 0);
    EVP_PKEY_free(small);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", jwk);
    expect_jwks(doc, PAWL_EINVAL, "1024 bits");
    /* A point that is not on P-256. */
    memset(raw, 1, sizeof raw);
    pawl__b64url_encode(raw, 32, x);
    memset(raw, 2, sizeof raw);
    pawl__b64url_encode(raw, 32, y);
    snprintf(doc, sizeof doc,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bad\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             x, y);
    expect_jwks(doc, PAWL_EINVAL, "not a valid point");
    /* A real key's y with one bit flipped. */
    assert_true(th_jwk_json(F.keys[1], NULL, "flip", jwk, sizeof jwk) > 0);
    char *yy = strstr(jwk, "\"y\":\"") + 5;
    yy[10] = yy[10] == 'A' ? 'B' : 'A';
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", jwk);
    expect_jwks(doc, PAWL_EINVAL, "not a valid point");
    /* Short coordinates (leading zero byte dropped) are refused. */
    snprintf(doc, sizeof doc,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"s\",\"x\":\"%.42s\",\"y\":\"%s\"}]}",
             x, y);
    expect_jwks(doc, PAWL_EINVAL, "32 bytes");
}

static void jwks_document_rejects(void **state)
{
    char one[4096], *doc;
    struct pawl_diag d;
    (void)state;
    expect_jwks("{\"keys\":[", PAWL_EPARSE, "not valid JSON");
    assert_int_equal(jwks_try("{\n\"keys\": [}", &d), PAWL_EPARSE);
    assert_int_equal(d.line, 2);
    expect_jwks("[]", PAWL_EINVAL, "object");
    expect_jwks("{\"keys\":{}}", PAWL_EINVAL, "\"keys\" array");
    expect_jwks("{\"keys\":[]}", PAWL_EINVAL, "empty");
    expect_jwks("{\"keys\":[],\"keys\":[]}", PAWL_EPARSE, "duplicate");
    /* Duplicate kid. */
    assert_true(th_jwk_json(F.keys[2], NULL, "same", one, sizeof one) > 0);
    doc = malloc(PAWL_JWKS_DOC_MAX + 2);
    assert_non_null(doc);
    snprintf(doc, 16384, "{\"keys\":[%s,%s]}", one, one);
    expect_jwks(doc, PAWL_EINVAL, "key 1 (kid \"same\"): duplicate kid");
    /* 64 keys pass, 65 do not. */
    size_t o = (size_t)snprintf(doc, 32, "{\"keys\":[");
    for (int i = 0; i < PAWL_JWKS_KEYS_MAX + 1; i++) {
        char kid[16];
        snprintf(kid, sizeof kid, "k%d", i);
        if (i == PAWL_JWKS_KEYS_MAX) {
            memcpy(doc + o, "]}", 3);
            expect_jwks(doc, PAWL_OK, NULL);
            doc[o] = ',';
            o++;
        } else if (i > 0) {
            doc[o++] = ',';
        }
        int n = th_jwk_json(F.keys[2], NULL, kid, doc + o, 4096);
        assert_true(n > 0);
        o += (size_t)n;
    }
    memcpy(doc + o, "]}", 3);
    expect_jwks(doc, PAWL_ELIMIT, "65 keys");
    /* Over 1 MiB, whatever it holds. */
    memset(doc, ' ', PAWL_JWKS_DOC_MAX + 1);
    doc[PAWL_JWKS_DOC_MAX + 1] = '\0';
    expect_jwks(doc, PAWL_ELIMIT, "at most");
    free(doc);
}

/* ---- Wycheproof ------------------------------------------------------- */

/* Each group's key also goes through our own JWKS parser when it has a JWK
 * (they are all valid keys) and must equal the DER SubjectPublicKeyInfo. */
static void jwk_matches(void *ctx, json_t *g, EVP_PKEY *k)
{
    (void)ctx;
    json_t *jwk = json_object_get(g, "publicKeyJwk");
    if (jwk == NULL)
        return;
    struct pawl_jwks *ks;
    struct pawl_diag d;
    json_t *set = json_pack("{s:[O]}", "keys", jwk);
    char *doc = json_dumps(set, 0);
    json_decref(set);
    assert_int_equal(pawl_jwks_parse(doc, strlen(doc), "wycheproof", &ks, &d), PAWL_OK);
    assert_int_equal(EVP_PKEY_eq(ks->keys[0].pkey, k), 1);
    pawl_jwks_free(ks);
    free(doc);
}

static bool jwt_verify(void *ctx, EVP_PKEY *k, const uint8_t *msg, size_t mn, const uint8_t *sig,
                       size_t sn)
{
    const enum pawl__jwt_alg *alg = ctx;
    return pawl__jwt_sig_verify(*alg, k, msg, mn, sig, sn) == PAWL_OK;
}

static void run_vectors(const char *file, enum pawl__jwt_alg alg)
{
    th_wycheproof_run(file, jwk_matches, jwt_verify, &alg);
}

static void wycheproof_ed25519(void **state)
{
    (void)state;
    run_vectors("ed25519_test.json", PAWL__ALG_EDDSA);
}

static void wycheproof_ecdsa_p256_p1363(void **state)
{
    (void)state;
    run_vectors("ecdsa_secp256r1_sha256_p1363_test.json", PAWL__ALG_ES256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_each_alg),
        cmocka_unit_test(custom_claim_names_and_role_cap),
        cmocka_unit_test(aud_array_and_rules_unset),
        cmocka_unit_test(structure_rejects),
        cmocka_unit_test(alg_rejects),
        cmocka_unit_test(embedded_key_and_crit_rejects),
        cmocka_unit_test(key_rejects),
        cmocka_unit_test(signature_rejects),
        cmocka_unit_test(es256_signature_length),
        cmocka_unit_test(claim_rejects),
        cmocka_unit_test(issuer_and_audience_rejects),
        cmocka_unit_test(leeway_boundaries),
        cmocka_unit_test(leeway_zero),
        cmocka_unit_test(cache_serves_repeats),
        cmocka_unit_test(cache_never_extends_validity),
        cmocka_unit_test(cache_keeps_bad_signatures_bad),
        cmocka_unit_test(cache_no_collisions),
        cmocka_unit_test(cache_lru_within_a_set),
        cmocka_unit_test(cache_packs_long_principals),
        cmocka_unit_test(cache_same_signature_other_payload),
        cmocka_unit_test(cache_refusals_hold_no_copy),
        cmocka_unit_test(cache_refusals_leave_allowed_ways),
        cmocka_unit_test(verifier_new_checks),
        cmocka_unit_test(jwks_accepts),
        cmocka_unit_test(jwks_key_rejects),
        cmocka_unit_test(jwks_weak_and_broken_keys),
        cmocka_unit_test(jwks_document_rejects),
        cmocka_unit_test(wycheproof_ed25519),
        cmocka_unit_test(wycheproof_ecdsa_p256_p1363),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
