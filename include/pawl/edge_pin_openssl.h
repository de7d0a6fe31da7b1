/* pawl/edge_pin_openssl.h: certificate pinning in the vehicle's TLS client
 * (libpawl-edge, host half: OpenSSL 3, libssl and libcrypto).
 *
 * Pinning is checked in addition to the CA verification OpenSSL does, never
 * instead of it: a chain is accepted only when OpenSSL verified it against the
 * client's trust store (and host name, when the caller set one with
 * SSL_set1_host) AND at least one certificate of the verified chain has a
 * SubjectPublicKeyInfo whose SHA-256 is in the pin set. Any certificate of the
 * chain may match, leaf, intermediate or root (HPKP semantics, RFC 7469
 * section 2.6). The chain is the one OpenSSL built and verified, not the list
 * the server sent: a pinned certificate the server merely appends does not
 * count.
 *
 * Use with OpenSSL (the vehicle's TLS client):
 *
 *     struct pawl_edge_pinset pins;
 *     struct pawl_edge_pin_error e;
 *     if (pawl_edge_pin_parse(cfg, cfg_len, 0, &pins, &e) != PAWL_EDGE_PIN_OK)
 *         fail(e.offset, e.msg);
 *     SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
 *     SSL_CTX_load_verify_file(ctx, "backend-ca.pem");
 *     if (pawl_edge_pin_attach(ctx, &pins) != 0)   // also sets SSL_VERIFY_PEER
 *         fail(...);
 *     SSL *ssl = SSL_new(ctx);
 *     SSL_set1_host(ssl, "telematics.example.com");
 *     ...SSL_connect(ssl) fails when no pin matches; SSL_get_verify_result()
 *     is then X509_V_ERR_APPLICATION_VERIFICATION.
 *
 * A caller with its own verify callback attaches as above, then installs its
 * callback with SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, own_cb) and returns
 * pawl_edge_pin_verify_cb(preverify_ok, store_ctx) from it, or 0.
 *
 * TLS stacks that hand over the verified chain instead (mbedTLS ports, a
 * custom X509_verify_cert caller) call pawl_edge_pin_check_chain after their
 * own verification succeeded.
 *
 * Resumed sessions are not verified again (OpenSSL's rule): a new pin set
 * needs a new SSL_CTX, or SSL_CTX_flush_sessions, so no session from the
 * old one is resumed.
 *
 * NULL is never a valid argument unless a comment says so. Functions leave
 * nothing on OpenSSL's error queue. All but pawl_edge_pin_attach are
 * reentrant; handshakes on many threads may share one pinned SSL_CTX. */
#ifndef PAWL_EDGE_PIN_OPENSSL_H
#define PAWL_EDGE_PIN_OPENSSL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pawl/edge_pin.h"

/* The pin of a DER SubjectPublicKeyInfo (n bytes): SHA-256 into sha256.
 * Returns 0, or -1 when hashing failed. */
PAWL_EDGE_MUST_CHECK int pawl_edge_pin_spki_digest(const uint8_t *spki_der, size_t n,
                                                   uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN]);

/* The pin of a certificate's public key, as in
 *   openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
 *   openssl dgst -sha256 -binary
 * Returns 0, or -1 when the key cannot be encoded or hashed. */
PAWL_EDGE_MUST_CHECK int pawl_edge_pin_cert_digest(const X509 *cert,
                                                   uint8_t sha256[PAWL_EDGE_PIN_HASH_LEN]);

/* The same as text, "sha256//<base64>" and a NUL, for configuration files,
 * the CLI and logs. Return 0, or -1 (dst is then ""). For a backup key that
 * has no certificate yet, pass i2d_PUBKEY's output to the _spki form. */
PAWL_EDGE_MUST_CHECK int pawl_edge_pin_from_spki(const uint8_t *spki_der, size_t n,
                                                 char dst[PAWL_EDGE_PIN_STR_LEN + 1]);
PAWL_EDGE_MUST_CHECK int pawl_edge_pin_from_cert(const X509 *cert,
                                                 char dst[PAWL_EDGE_PIN_STR_LEN + 1]);

/* True when SHA-256(spki_der) is in the set; false on a hashing failure. */
PAWL_EDGE_MUST_CHECK bool pawl_edge_pin_match_spki(const struct pawl_edge_pinset *set,
                                                   const uint8_t *spki_der, size_t n);

/* For a chain that the caller's TLS stack has ALREADY verified (any order;
 * chain may be NULL): PAWL_EDGE_PIN_OK when some certificate's key is
 * pinned, else MISMATCH, NO_CHAIN (chain NULL or empty) or CRYPTO (a key
 * could not be encoded; the chain is then refused, not skipped). Never call
 * it on an unverified chain: it checks pins only. */
PAWL_EDGE_MUST_CHECK enum pawl_edge_pin_result
pawl_edge_pin_check_chain(const struct pawl_edge_pinset *set, const STACK_OF(X509) *chain);

/* Stores a copy of *set in ctx (freed with ctx; a second attach replaces the
 * first) and sets SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER,
 * pawl_edge_pin_verify_cb): with SSL_VERIFY_NONE a failed verification would
 * not stop the handshake. Call it before ctx is shared between threads.
 * Returns 0, or -1 when set->n is 0 or above PAWL_EDGE_MAX_PINS or memory ran
 * out (ctx is then unchanged). */
PAWL_EDGE_MUST_CHECK int pawl_edge_pin_attach(SSL_CTX *ctx, const struct pawl_edge_pinset *set);

/* A verify callback for SSL_CTX_set_verify / SSL_set_verify. Returns
 * preverify_ok unchanged while OpenSSL walks the chain, so it never turns a
 * failed verification into a success. At depth 0, once OpenSSL has verified
 * the chain (preverify_ok = 1), it checks the verified chain against the pin
 * set attached to the connection's SSL_CTX, and on MISMATCH, NO_CHAIN or
 * CRYPTO sets X509_V_ERR_APPLICATION_VERIFICATION and returns 0, which fails
 * the handshake under SSL_VERIFY_PEER. With no pin set attached it fails
 * closed in the same way. */
int pawl_edge_pin_verify_cb(int preverify_ok, X509_STORE_CTX *store_ctx);

#endif
