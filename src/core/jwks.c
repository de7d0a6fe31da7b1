/* see pawl/jwt.h: JWKS parsing into OpenSSL public keys */
#include "jwt_internal.h"
#include "util.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RSA_BITS_MIN 2048
#define RSA_BITS_MAX 8192
#define KEY_BYTES_MAX (RSA_BITS_MAX / 8 + 1) /* one leading zero tolerated */

/* Context for one key's diagnostics. */
struct keyctx {
    struct pawl_diag *d;
    const char *where;
    size_t idx;
    char kid[64]; /* printable form, for messages */
};

static void key_fail(struct keyctx *k, const char *fmt, ...) PAWL_PRINTF(2, 3);
static void key_fail(struct keyctx *k, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (k->kid[0])
        pawl__diagf(k->d, k->where, 0, 0, "key %zu (kid \"%s\"): %s", k->idx, k->kid, why);
    else
        pawl__diagf(k->d, k->where, 0, 0, "key %zu: %s", k->idx, why);
}

enum pawl__jwt_alg pawl__jwt_alg_from(const char *s, size_t n)
{
    pawl_str a = { s, n };
    if (pawl__str_eq(a, "RS256"))
        return PAWL__ALG_RS256;
    if (pawl__str_eq(a, "ES256"))
        return PAWL__ALG_ES256;
    if (pawl__str_eq(a, "EdDSA"))
        return PAWL__ALG_EDDSA;
    return PAWL__ALG_NONE;
}

const struct pawl__jwk *pawl__jwks_find(const struct pawl_jwks *ks, const char *kid, size_t n)
{
    for (size_t i = 0; i < ks->n; i++)
        if (ks->keys[i].kid_len == n && memcmp(ks->keys[i].kid, kid, n) == 0)
            return &ks->keys[i];
    return NULL;
}

void pawl__jwt_printable(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i = 0;
    if (cap == 0)
        return;
    for (; i < n && i < 48 && i + 1 < cap; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
    dst[i] = '\0';
}

/* Decode a required base64url string member into buf. */
static pawl_err b64_member(struct keyctx *k, json_t *key, const char *name, uint8_t *buf,
                           size_t cap, size_t *outn)
{
    json_t *m = json_object_get(key, name);
    if (!json_is_string(m)) {
        key_fail(k, "member \"%s\" missing or not a string", name);
        return PAWL_EINVAL;
    }
    if (pawl__b64url_decode(json_string_value(m), json_string_length(m), buf, cap, outn) !=
        PAWL_OK) {
        key_fail(k, "member \"%s\" is not strict base64url or is too long", name);
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/* OpenSSL's own public-key validation (EC: on curve, not infinity, order). */
static bool public_ok(EVP_PKEY *pk)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    bool ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static pawl_err rsa_numbers_ok(struct keyctx *k, const BIGNUM *n, const BIGNUM *e)
{
    int bits = BN_num_bits(n);
    if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX) {
        key_fail(k, "RSA modulus has %d bits; %d to %d required", bits, RSA_BITS_MIN,
                 RSA_BITS_MAX);
        return PAWL_EINVAL;
    }
    if (!BN_is_odd(n)) {
        key_fail(k, "RSA modulus is even");
        return PAWL_EINVAL;
    }
    if (!BN_is_odd(e) || BN_num_bits(e) < 2 || BN_num_bits(e) > 64) {
        key_fail(k, "RSA exponent must be odd, at least 3 and at most 64 bits");
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

static pawl_err build_rsa(struct keyctx *k, json_t *key, EVP_PKEY **pk)
{
    uint8_t nb[KEY_BYTES_MAX], eb[16];
    size_t nn, en;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    pawl_err err = b64_member(k, key, "n", nb, sizeof nb, &nn);
    if (err == PAWL_OK)
        err = b64_member(k, key, "e", eb, sizeof eb, &en);
    if (err != PAWL_OK)
        goto out;
    err = PAWL_ENOMEM;
    n = BN_bin2bn(nb, (int)nn, NULL);
    e = BN_bin2bn(eb, (int)en, NULL);
    if (n == NULL || e == NULL)
        goto out;
    err = rsa_numbers_ok(k, n, e);
    if (err != PAWL_OK)
        goto out;
    err = PAWL_ENOMEM;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto out;
    err = PAWL_EINVAL;
    *pk = fromdata("RSA", params);
    if (*pk == NULL)
        key_fail(k, "OpenSSL rejected the RSA key");
    else
        err = PAWL_OK;
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return err;
}

static pawl_err build_ec(struct keyctx *k, json_t *key, EVP_PKEY **pk)
{
    uint8_t pt[65], x[33], y[33];
    size_t xn, yn;
    char group[] = "prime256v1";
    pawl_err err = b64_member(k, key, "x", x, sizeof x, &xn);
    if (err == PAWL_OK)
        err = b64_member(k, key, "y", y, sizeof y, &yn);
    if (err != PAWL_OK)
        return err;
    /* RFC 7518 6.2.1.2: coordinates are full length, exactly 32 bytes. */
    if (xn != 32 || yn != 32) {
        key_fail(k, "EC coordinates must be 32 bytes each (got %zu and %zu)", xn, yn);
        return PAWL_EINVAL;
    }
    pt[0] = 0x04;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt),
        OSSL_PARAM_construct_end(),
    };
    *pk = fromdata("EC", params);
    if (*pk == NULL || !public_ok(*pk)) {
        EVP_PKEY_free(*pk);
        *pk = NULL;
        key_fail(k, "EC point is not a valid point on P-256");
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

static pawl_err build_okp(struct keyctx *k, json_t *key, EVP_PKEY **pk)
{
    uint8_t x[33];
    size_t xn;
    pawl_err err = b64_member(k, key, "x", x, sizeof x, &xn);
    if (err != PAWL_OK)
        return err;
    if (xn != 32) {
        key_fail(k, "Ed25519 public key must be 32 bytes (got %zu)", xn);
        return PAWL_EINVAL;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, x, 32),
        OSSL_PARAM_construct_end(),
    };
    *pk = fromdata("ED25519", params);
    if (*pk == NULL) {
        key_fail(k, "OpenSSL rejected the Ed25519 key");
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

/* Which alg a key may serve, from kty and crv; PAWL__ALG_NONE if unsupported. */
static enum pawl__jwt_alg key_alg(struct keyctx *k, json_t *key)
{
    const char *kty = json_string_value(json_object_get(key, "kty"));
    const char *crv = json_string_value(json_object_get(key, "crv"));
    if (kty == NULL) {
        key_fail(k, "member \"kty\" missing or not a string");
        return PAWL__ALG_NONE;
    }
    if (strcmp(kty, "RSA") == 0)
        return PAWL__ALG_RS256;
    if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0)
        return PAWL__ALG_ES256;
    if (strcmp(kty, "OKP") == 0 && crv != NULL && strcmp(crv, "Ed25519") == 0)
        return PAWL__ALG_EDDSA;
    if (strcmp(kty, "oct") == 0)
        key_fail(k, "kty \"oct\" (shared HMAC secret) is not accepted; use RSA, EC or OKP");
    else if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0)
        key_fail(k, "unsupported crv for kty \"%s\" (EC needs P-256, OKP needs Ed25519)", kty);
    else
        key_fail(k, "unsupported kty (RSA, EC P-256 and OKP Ed25519 are accepted)");
    return PAWL__ALG_NONE;
}

/* Checked first: a secret in a JWKS file is the thing to report. */
static pawl_err key_public_only(struct keyctx *k, json_t *key)
{
    static const char *const priv[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
        if (json_object_get(key, priv[i]) != NULL) {
            key_fail(k, "private key member \"%s\" present; a JWKS must hold public keys only",
                     priv[i]);
            return PAWL_EINVAL;
        }
    return PAWL_OK;
}

/* use and alg. */
static pawl_err key_rules(struct keyctx *k, json_t *key, enum pawl__jwt_alg alg,
                          struct pawl__jwk *out)
{
    static const char *const algname[] = { "", "RS256", "ES256", "EdDSA" };
    json_t *use = json_object_get(key, "use");
    json_t *jalg = json_object_get(key, "alg");
    if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0)) {
        key_fail(k, "\"use\" must be \"sig\"");
        return PAWL_EINVAL;
    }
    if (jalg != NULL && !(json_is_string(jalg) &&
                          pawl__jwt_alg_from(json_string_value(jalg),
                                             json_string_length(jalg)) == alg)) {
        key_fail(k, "\"alg\" does not fit the key type (this key allows only %s)", algname[alg]);
        return PAWL_EINVAL;
    }
    out->alg = alg;
    return PAWL_OK;
}

static pawl_err key_kid(struct keyctx *k, json_t *key, const struct pawl_jwks *ks,
                        struct pawl__jwk *out)
{
    json_t *kid = json_object_get(key, "kid");
    if (!json_is_string(kid) || json_string_length(kid) == 0) {
        key_fail(k, "member \"kid\" missing, empty or not a string");
        return PAWL_EINVAL;
    }
    const char *s = json_string_value(kid);
    size_t n = json_string_length(kid);
    pawl__jwt_printable(k->kid, sizeof k->kid, s, n);
    if (n >= PAWL_JWT_KID_MAX) {
        key_fail(k, "kid longer than %d bytes", PAWL_JWT_KID_MAX - 1);
        return PAWL_EINVAL;
    }
    if (pawl__jwks_find(ks, s, n) != NULL) {
        key_fail(k, "duplicate kid");
        return PAWL_EINVAL;
    }
    memcpy(out->kid, s, n);
    out->kid[n] = '\0';
    out->kid_len = n;
    return PAWL_OK;
}

static pawl_err parse_key(struct keyctx *k, json_t *key, const struct pawl_jwks *ks,
                          struct pawl__jwk *out)
{
    if (!json_is_object(key)) {
        key_fail(k, "not a JSON object");
        return PAWL_EINVAL;
    }
    pawl_err err = key_kid(k, key, ks, out);
    if (err == PAWL_OK)
        err = key_public_only(k, key);
    if (err != PAWL_OK)
        return err;
    enum pawl__jwt_alg alg = key_alg(k, key);
    if (alg == PAWL__ALG_NONE)
        return PAWL_EINVAL;
    err = key_rules(k, key, alg, out);
    if (err != PAWL_OK)
        return err;
    if (alg == PAWL__ALG_RS256)
        return build_rsa(k, key, &out->pkey);
    if (alg == PAWL__ALG_ES256)
        return build_ec(k, key, &out->pkey);
    return build_okp(k, key, &out->pkey);
}

static pawl_err parse_keys(json_t *root, const char *where, struct pawl_jwks *ks,
                           struct pawl_diag *d)
{
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        pawl__diagf(d, where, 0, 0, "a JWKS is an object with a \"keys\" array");
        return PAWL_EINVAL;
    }
    if (json_array_size(keys) == 0) {
        pawl__diagf(d, where, 0, 0, "the \"keys\" array is empty");
        return PAWL_EINVAL;
    }
    if (json_array_size(keys) > PAWL_JWKS_KEYS_MAX) {
        pawl__diagf(d, where, 0, 0, "%zu keys; at most %d allowed", json_array_size(keys),
                    PAWL_JWKS_KEYS_MAX);
        return PAWL_ELIMIT;
    }
    for (size_t i = 0; i < json_array_size(keys); i++) {
        struct keyctx k = { .d = d, .where = where, .idx = i };
        pawl_err err = parse_key(&k, json_array_get(keys, i), ks, &ks->keys[i]);
        if (err != PAWL_OK)
            return err;
        ks->n = i + 1;
    }
    return PAWL_OK;
}

pawl_err pawl_jwks_parse(const char *json, size_t n, const char *where, struct pawl_jwks **out,
                         struct pawl_diag *d)
{
    json_error_t je;
    json_t *root = NULL;
    struct pawl_jwks *ks = NULL;
    pawl_err err = PAWL_ELIMIT;
    *out = NULL;
    ERR_set_mark(); /* key rejections must not linger on the error queue */
    if (n > PAWL_JWKS_DOC_MAX) {
        pawl__diagf(d, where, 0, 0, "JWKS is %zu bytes; at most %d allowed", n, PAWL_JWKS_DOC_MAX);
        goto out;
    }
    err = PAWL_EPARSE;
    root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        pawl__diagf(d, where, je.line > 0 ? (unsigned)je.line : 0,
                    je.column > 0 ? (unsigned)je.column : 0, "JWKS is not valid JSON: %s",
                    je.text);
        goto out;
    }
    err = PAWL_ENOMEM;
    ks = calloc(1, sizeof *ks);
    if (ks == NULL)
        goto out;
    err = json_is_object(root) ? parse_keys(root, where, ks, d) : PAWL_EINVAL;
    if (!json_is_object(root))
        pawl__diagf(d, where, 0, 0, "a JWKS is a JSON object");
    if (err == PAWL_OK) {
        *out = ks;
        ks = NULL;
    }
out:
    ERR_pop_to_mark();
    pawl_jwks_free(ks);
    json_decref(root);
    return err;
}

size_t pawl_jwks_count(const struct pawl_jwks *ks)
{
    return ks ? ks->n : 0;
}

void pawl_jwks_free(struct pawl_jwks *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < PAWL_JWKS_KEYS_MAX; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    free(ks);
}
