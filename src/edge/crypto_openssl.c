/* see pawl/edge_host.h */
#include "pawl/edge_host.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

/* One DER INTEGER from a 32-byte big-endian unsigned value. */
static size_t der_int(uint8_t *o, const uint8_t *v)
{
    size_t i = 0, k = 2;
    while (i < 31 && v[i] == 0)
        i++;
    bool pad = (v[i] & 0x80) != 0;
    o[0] = 0x02;
    o[1] = (uint8_t)(32 - i + pad);
    if (pad)
        o[k++] = 0;
    memcpy(o + k, v + i, 32 - i);
    return k + 32 - i;
}

size_t pawl_edge_p1363_to_der(const uint8_t sig[64], uint8_t der[72])
{
    size_t k = 2;
    k += der_int(der + k, sig);
    k += der_int(der + k, sig + 32);
    der[0] = 0x30;
    der[1] = (uint8_t)(k - 2);
    return k;
}

int pawl_edge_openssl_alg(EVP_PKEY *key)
{
    char group[32];
    if (EVP_PKEY_is_a(key, "ED25519"))
        return PAWL_EDGE_ALG_EDDSA;
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       NULL) == 1 &&
        strcmp(group, "prime256v1") == 0)
        return PAWL_EDGE_ALG_ES256;
    return 0;
}

bool pawl_edge_openssl_verify(int64_t alg, EVP_PKEY *key, const uint8_t *msg, size_t n,
                              const uint8_t *sig, size_t sig_len)
{
    uint8_t der[72];
    if (key == NULL || alg == 0 || pawl_edge_openssl_alg(key) != alg ||
        sig_len != PAWL_EDGE_SIG_LEN)
        return false;
    if (alg == PAWL_EDGE_ALG_ES256) {
        sig_len = pawl_edge_p1363_to_der(sig, der);
        sig = der;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return false;
    /* Failures must not leave entries on the thread's error queue, which a
     * TLS stack in the same thread reads. */
    ERR_set_mark();
    bool ok = EVP_DigestVerifyInit_ex(c, NULL, alg == PAWL_EDGE_ALG_ES256 ? "SHA256" : NULL,
                                      NULL, NULL, key, NULL) == 1 &&
              EVP_DigestVerify(c, sig, sig_len, msg, n) == 1;
    ERR_pop_to_mark();
    EVP_MD_CTX_free(c);
    return ok;
}

static bool backend_verify(void *ctx, const struct pawl_edge_key *key, const uint8_t *msg,
                           size_t n, const uint8_t *sig, size_t sig_len)
{
    (void)ctx;
    /* The handle is only read; OpenSSL's verify API takes it non-const. */
    EVP_PKEY *pk = (EVP_PKEY *)(uintptr_t)key->handle;
    return pawl_edge_openssl_verify(key->alg, pk, msg, n, sig, sig_len);
}

struct pawl_edge_crypto pawl_edge_openssl_crypto(void)
{
    struct pawl_edge_crypto c = { backend_verify, NULL };
    return c;
}

int pawl_edge_openssl_kid(EVP_PKEY *key, uint8_t kid[PAWL_EDGE_KID_LEN])
{
    unsigned char *der = NULL;
    uint8_t h[SHA256_DIGEST_LENGTH];
    int n = i2d_PUBKEY(key, &der);
    if (n <= 0)
        return -1;
    bool ok = EVP_Digest(der, (size_t)n, h, NULL, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    if (!ok)
        return -1;
    memcpy(kid, h, PAWL_EDGE_KID_LEN);
    return 0;
}
