/* see pawl/edge_pin_openssl.h
 *
 * The host half of pinning: SPKI hashing with libcrypto, the verify callback
 * and its pin set in SSL_CTX ex_data with libssl. Every function brackets its
 * OpenSSL calls with ERR_set_mark/ERR_pop_to_mark, so a refused chain leaves
 * the caller's error queue as it found it. */
#include "pawl/edge_pin_openssl.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

int pawl_edge_pin_spki_digest(const uint8_t *spki_der, size_t n,
                              uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN])
{
    unsigned int len = 0;
    int rc = 0;

    ERR_set_mark();
    if (EVP_Digest(spki_der, n, sha256, &len, EVP_sha256(), NULL) != 1 ||
        len != PAWL_EDGE_PIN_HASH_LEN)
        rc = -1;
    ERR_pop_to_mark();
    return rc;
}

int pawl_edge_pin_cert_digest(const X509 *cert, uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN])
{
    const X509_PUBKEY *pk;
    unsigned char *der = NULL;
    int len, rc = -1;

    ERR_set_mark();
    pk = X509_get_X509_PUBKEY(cert);
    if (pk == NULL || (len = i2d_X509_PUBKEY(pk, &der)) <= 0)
        goto out;
    rc = pawl_edge_pin_spki_digest(der, (size_t)len, sha256);
out:
    OPENSSL_free(der);
    ERR_pop_to_mark();
    return rc;
}

int pawl_edge_pin_from_spki(const uint8_t *spki_der, size_t n, char dst[PAWL_EDGE_PIN_STR_LEN + 1])
{
    uint8_t d[PAWL_EDGE_PIN_HASH_LEN];

    dst[0] = '\0';
    if (pawl_edge_pin_spki_digest(spki_der, n, d) != 0)
        return -1;
    pawl_edge_pin_format_one(d, dst);
    return 0;
}

int pawl_edge_pin_from_cert(const X509 *cert, char dst[PAWL_EDGE_PIN_STR_LEN + 1])
{
    uint8_t d[PAWL_EDGE_PIN_HASH_LEN];

    dst[0] = '\0';
    if (pawl_edge_pin_cert_digest(cert, d) != 0)
        return -1;
    pawl_edge_pin_format_one(d, dst);
    return 0;
}

bool pawl_edge_pin_match_spki(const struct pawl_edge_pinset *set, const uint8_t *spki_der, size_t n)
{
    uint8_t d[PAWL_EDGE_PIN_HASH_LEN];

    return pawl_edge_pin_spki_digest(spki_der, n, d) == 0 && pawl_edge_pin_match_digest(set, d);
}

enum pawl_edge_pin_result pawl_edge_pin_check_chain(const struct pawl_edge_pinset *set,
                                                    const STACK_OF(X509) *chain)
{
    uint8_t d[PAWL_EDGE_PIN_HASH_LEN];
    int n = chain != NULL ? sk_X509_num(chain) : 0;
    bool hit = false;

    if (n <= 0)
        return PAWL_EDGE_PIN_NO_CHAIN;
    /* Hash every certificate before deciding, so that a key we cannot
     * encode refuses the chain wherever it sits, not only before a match. */
    for (int i = 0; i < n; i++) {
        if (pawl_edge_pin_cert_digest(sk_X509_value(chain, i), d) != 0)
            return PAWL_EDGE_PIN_CRYPTO;
        if (pawl_edge_pin_match_digest(set, d))
            hit = true;
    }
    return hit ? PAWL_EDGE_PIN_OK : PAWL_EDGE_PIN_MISMATCH;
}

/* ---- SSL_CTX ex_data ----------------------------------------------------- */

static CRYPTO_ONCE pin_once = CRYPTO_ONCE_STATIC_INIT;
static int pin_idx_value = -1;

static void pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    OPENSSL_free(ptr);
}

static void pin_idx_init(void)
{
    pin_idx_value = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, pin_free);
}

/* The ex_data index of our copy of the pin set, or -1. */
static int pin_idx(void)
{
    if (!CRYPTO_THREAD_run_once(&pin_once, pin_idx_init))
        return -1;
    return pin_idx_value;
}

int pawl_edge_pin_attach(SSL_CTX *ctx, const struct pawl_edge_pinset *set)
{
    struct pawl_edge_pinset *copy = NULL, *old;
    int idx, rc = -1;

    if (set->n == 0 || set->n > PAWL_EDGE_MAX_PINS)
        return -1;
    ERR_set_mark();
    if ((idx = pin_idx()) < 0 || (copy = OPENSSL_malloc(sizeof *copy)) == NULL)
        goto out;
    memcpy(copy, set, sizeof *copy);
    old = SSL_CTX_get_ex_data(ctx, idx);
    if (!SSL_CTX_set_ex_data(ctx, idx, copy))
        goto out;
    OPENSSL_free(old);
    copy = NULL;
    SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx) | SSL_VERIFY_PEER,
                       pawl_edge_pin_verify_cb);
    rc = 0;
out:
    OPENSSL_free(copy);
    ERR_pop_to_mark();
    return rc;
}

/* The pin set attached to the SSL_CTX of the connection being verified. */
static const struct pawl_edge_pinset *pins_of(X509_STORE_CTX *store_ctx)
{
    int sidx = SSL_get_ex_data_X509_STORE_CTX_idx(), idx = pin_idx();
    SSL *ssl;

    if (sidx < 0 || idx < 0)
        return NULL;
    ssl = X509_STORE_CTX_get_ex_data(store_ctx, sidx);
    if (ssl == NULL)
        return NULL;
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), idx);
}

int pawl_edge_pin_verify_cb(int preverify_ok, X509_STORE_CTX *store_ctx)
{
    const struct pawl_edge_pinset *set;
    enum pawl_edge_pin_result r = PAWL_EDGE_PIN_NO_CHAIN;

    /* OpenSSL's verdict stands while it walks the chain; pins only add a
     * condition, once the leaf (depth 0) is reached with the chain verified. */
    if (!preverify_ok)
        return 0;
    if (X509_STORE_CTX_get_error_depth(store_ctx) != 0)
        return 1;
    ERR_set_mark();
    if ((set = pins_of(store_ctx)) != NULL)
        r = pawl_edge_pin_check_chain(set, X509_STORE_CTX_get0_chain(store_ctx));
    ERR_pop_to_mark();
    if (r == PAWL_EDGE_PIN_OK)
        return 1;
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}
