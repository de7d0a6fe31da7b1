/* vault_sign.c: the signer interfaces of command tokens, OTA metadata and
 * the audit trail, over a key in a PKCS#11 vault (vault.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

#include "pawl/audit.h"
#include "pawl/edge_host.h"
#include "pawl/ota.h"
#include "pawl/token.h"
#include "vault.h"

int pawl_vault_is_uri(const char *s)
{
    return s != NULL && strncmp(s, "pkcs11:", 7) == 0;
}

static int token_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[PAWL_EDGE_SIG_LEN])
{
    char err[300];
    return pawl_vault_sign(ctx, msg, n, sig, err, sizeof err);
}

int pawl_vault_token_signer(struct pawl_vault_key *k, struct pawl_signer *s)
{
    memset(s, 0, sizeof *s);
    s->alg = pawl_edge_openssl_alg(pawl_vault_public(k));
    if (s->alg == 0 || pawl_edge_openssl_kid(pawl_vault_public(k), s->kid) != 0)
        return -1;
    s->sign = token_sign;
    s->ctx = k;
    return 0;
}

/* *siglen is the capacity on entry. ECDSA signatures go out as DER. */
static int ota_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t *sig, size_t *siglen)
{
    struct pawl_vault_key *k = ctx;
    uint8_t raw[64];
    char err[300];
    if (pawl_vault_sign(k, msg, n, raw, err, sizeof err) != 0)
        return -1;
    if (pawl_vault_key_type(k) == PAWL_VAULT_ED25519) {
        if (*siglen < 64)
            return -1;
        memcpy(sig, raw, 64);
        *siglen = 64;
        return 0;
    }
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    int len = -1;
    if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL;
        len = i2d_ECDSA_SIG(es, NULL);
        unsigned char *p = sig;
        len = len > 0 && (size_t)len <= *siglen ? i2d_ECDSA_SIG(es, &p) : -1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    if (len <= 0)
        return -1;
    *siglen = (size_t)len;
    return 0;
}

static void ota_release(void *ctx)
{
    pawl_vault_close(ctx);
}

int pawl_vault_ota_signer(struct pawl_vault_key *k, struct pawl_ota_signer *s, struct pawl_diag *d)
{
    json_t *pub = NULL;
    memset(s, 0, sizeof *s);
    bool ed = pawl_vault_key_type(k) == PAWL_VAULT_ED25519;
    if (pawl_ota_key_from_pkey(pawl_vault_public(k), &pub, d) != PAWL_OK ||
        pawl_ota_keyid(pub, s->keyid, d) != PAWL_OK) {
        json_decref(pub);
        pawl_vault_close(k);
        memset(s, 0, sizeof *s);
        return -1;
    }
    s->keytype = ed ? "ed25519" : "ecdsa";
    s->scheme = ed ? "ed25519" : "ecdsa-sha2-nistp256";
    s->public_key = pub;
    s->sign = ota_sign;
    s->release = ota_release;
    s->ctx = k;
    return 0;
}

pawl_err pawl_vault_audit_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    char err[300];
    if (pawl_vault_key_type(ctx) != PAWL_VAULT_ED25519)
        return PAWL_ECRYPTO;
    return pawl_vault_sign(ctx, msg, n, sig, err, sizeof err) == 0 ? PAWL_OK : PAWL_ECRYPTO;
}
