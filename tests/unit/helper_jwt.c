/* see helper_jwt.h */
#include "helper_jwt.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

EVP_PKEY *th_key_new(const char *alg)
{
    if (strcmp(alg, "RS256") == 0)
        return EVP_RSA_gen(2048);
    if (strcmp(alg, "ES256") == 0)
        return EVP_EC_gen("P-256");
    if (strcmp(alg, "EdDSA") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return NULL;
}

/* base64url of a BIGNUM parameter; pad = fixed width in bytes, 0 = minimal. */
static int b64_bn(EVP_PKEY *key, const char *name, int pad, char *out, size_t cap)
{
    BIGNUM *bn = NULL;
    unsigned char b[1024];
    int n = -1;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        return -1;
    int len = pad ? pad : BN_num_bytes(bn);
    if (len <= (int)sizeof b && BN_bn2binpad(bn, b, len) == len &&
        ((size_t)len + 2) / 3 * 4 + 1 <= cap)
        n = (int)pawl__b64url_encode(b, (size_t)len, out);
    BN_free(bn);
    return n;
}

static int key_members(EVP_PKEY *key, char *buf, size_t cap)
{
    char a[1400], b[1400];
    if (EVP_PKEY_is_a(key, "RSA")) {
        if (b64_bn(key, OSSL_PKEY_PARAM_RSA_N, 0, a, sizeof a) < 0 ||
            b64_bn(key, OSSL_PKEY_PARAM_RSA_E, 0, b, sizeof b) < 0)
            return -1;
        return snprintf(buf, cap, "\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", a, b);
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        if (b64_bn(key, OSSL_PKEY_PARAM_EC_PUB_X, 32, a, sizeof a) < 0 ||
            b64_bn(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32, b, sizeof b) < 0)
            return -1;
        return snprintf(buf, cap, "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"", a,
                        b);
    }
    unsigned char raw[32];
    size_t rn = sizeof raw;
    if (!EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_get_raw_public_key(key, raw, &rn) != 1)
        return -1;
    pawl__b64url_encode(raw, rn, a);
    return snprintf(buf, cap, "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", a);
}

int th_jwk_json(EVP_PKEY *key, const char *alg, const char *kid, char *buf, size_t cap)
{
    char m[3000];
    int n = key_members(key, m, sizeof m);
    if (n < 0 || (size_t)n >= sizeof m)
        return -1;
    if (alg)
        n = snprintf(buf, cap, "{%s,\"kid\":\"%s\",\"use\":\"sig\",\"alg\":\"%s\"}", m, kid, alg);
    else
        n = snprintf(buf, cap, "{%s,\"kid\":\"%s\",\"use\":\"sig\"}", m, kid);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int th_jwks_json(EVP_PKEY *const *keys, const char *const *algs, const char *const *kids,
                 size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap < 16)
        return -1;
    memcpy(buf, "{\"keys\":[", 9);
    o = 9;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf[o++] = ',';
        int k = th_jwk_json(keys[i], algs ? algs[i] : NULL, kids[i], buf + o, cap - o - 3);
        if (k < 0)
            return -1;
        o += (size_t)k;
    }
    memcpy(buf + o, "]}", 3);
    return (int)o + 2;
}

/* ES256: OpenSSL signs DER; JWS wants r||s, each left-padded to 32 bytes. */
static int der_to_raw(const unsigned char *der, size_t n, unsigned char *sig, size_t cap)
{
    const BIGNUM *r, *s;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)n);
    int ok = -1;
    if (es == NULL || cap < 64)
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32)
        ok = 64;
out:
    ECDSA_SIG_free(es);
    return ok;
}

int th_sign_raw(EVP_PKEY *key, const char *alg, const unsigned char *msg, size_t n,
                unsigned char *sig, size_t cap)
{
    unsigned char tmp[1100];
    size_t sn = sizeof tmp;
    const char *md = strcmp(alg, "EdDSA") == 0 ? NULL : "SHA256";
    int ret = -1;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestSignInit_ex(c, NULL, md, NULL, NULL, key, NULL) != 1 ||
        EVP_DigestSign(c, tmp, &sn, msg, n) != 1)
        goto out;
    if (strcmp(alg, "ES256") == 0)
        ret = der_to_raw(tmp, sn, sig, cap);
    else if (sn <= cap) {
        memcpy(sig, tmp, sn);
        ret = (int)sn;
    }
out:
    EVP_MD_CTX_free(c);
    return ret;
}

int th_jwt_make(const char *header_json, const char *payload_json, EVP_PKEY *key,
                const char *sign_alg, char *out, size_t cap)
{
    size_t hn = strlen(header_json), pn = strlen(payload_json);
    unsigned char sig[1100];
    int sn = 0;
    if ((hn + 2) / 3 * 4 + (pn + 2) / 3 * 4 + 2 >= cap)
        return -1;
    size_t o = pawl__b64url_encode((const unsigned char *)header_json, hn, out);
    out[o++] = '.';
    o += pawl__b64url_encode((const unsigned char *)payload_json, pn, out + o);
    if (sign_alg != NULL) {
        sn = th_sign_raw(key, sign_alg, (const unsigned char *)out, o, sig, sizeof sig);
        if (sn < 0)
            return -1;
    }
    if (o + 1 + ((size_t)sn + 2) / 3 * 4 + 1 > cap)
        return -1;
    out[o++] = '.';
    o += pawl__b64url_encode(sig, (size_t)sn, out + o);
    return (int)o;
}

int th_jwt_sign(EVP_PKEY *key, const char *alg, const char *kid,
                const char *extra_header_json_members, const char *payload_json, char *out,
                size_t cap)
{
    char hdr[1024];
    const char *ex = extra_header_json_members;
    int n = snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\"%s%s%s%s%s}", alg,
                     kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "", ex ? "," : "",
                     ex ? ex : "");
    if (n < 0 || (size_t)n >= sizeof hdr)
        return -1;
    bool real = strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0 ||
                strcmp(alg, "EdDSA") == 0;
    /* A forbidden alg still gets a real signature when a key is given, so a
     * test shows the alg is refused for what it says, not for a bad signature. */
    const char *sign_alg = real ? alg : NULL;
    if (key != NULL && !real)
        sign_alg = EVP_PKEY_is_a(key, "RSA") ? "RS256"
                   : EVP_PKEY_is_a(key, "EC") ? "ES256"
                                              : "EdDSA";
    return th_jwt_make(hdr, payload_json, key, sign_alg, out, cap);
}
