/* pawl/edge_host.h: the host half of libpawl-edge (OpenSSL 3, jansson).
 *
 * The portable verifier (pawl/edge_token.h) takes its crypto and its trust
 * policy from the caller. On a Linux telematics unit, in the CLI and in
 * tests, this file supplies both: an OpenSSL back end and a loader for the
 * contract's JSON trust file (docs/formats/command-token.md, "Trust policy"). */
#ifndef PAWL_EDGE_HOST_H
#define PAWL_EDGE_HOST_H

#include <openssl/evp.h>

#include "pawl/edge_token.h"

/* A back end whose keys carry an EVP_PKEY * in pawl_edge_key.handle. */
struct pawl_edge_crypto pawl_edge_openssl_crypto(void);

/* Ed25519 over msg (alg -8) or ES256 (alg -7: SHA-256, P-256, 64-byte
 * big-endian r||s). True only for a valid signature of the right key type.
 * Leaves nothing on OpenSSL's error queue. */
PAWL_EDGE_MUST_CHECK bool pawl_edge_openssl_verify(int64_t alg, EVP_PKEY *key,
                                                   const uint8_t *msg, size_t n,
                                                   const uint8_t *sig, size_t sig_len);

/* r||s (two 32-byte big-endian integers) as a DER ECDSA-Sig-Value, the form
 * OpenSSL verifies; returns the DER length (at most 72). */
size_t pawl_edge_p1363_to_der(const uint8_t sig[64], uint8_t der[72]);

/* The token kid of a key: first 8 bytes of SHA-256 over its DER SPKI.
 * Returns 0, or -1 when the key cannot be encoded. */
PAWL_EDGE_MUST_CHECK int pawl_edge_openssl_kid(EVP_PKEY *key, uint8_t kid[PAWL_EDGE_KID_LEN]);

/* The COSE alg for a key: -8 for Ed25519, -7 for EC P-256, 0 for anything
 * else (not usable for command tokens). */
int pawl_edge_openssl_alg(EVP_PKEY *key);

/* Loads a trust policy from JSON (n bytes; `where` names the source in
 * errors). Strict: unknown keys, a VIN that is not 17 characters of the VIN
 * alphabet, an alg that does not match its key, a key listed twice, more
 * than the bounds of edge_token.h, are errors. skew_s and max_lifetime_s
 * default to 30 and 120. On success the keys hold EVP_PKEY handles: release
 * them with pawl_edge_trust_release. On failure returns -1 with "where:
 * line:col: what" in err, and nothing to release. */
PAWL_EDGE_MUST_CHECK int pawl_edge_trust_load(const char *json, size_t n, const char *where,
                                              struct pawl_edge_trust *t, char *err,
                                              size_t errn);

/* Frees the key handles of a loaded policy; safe on a zeroed struct. */
void pawl_edge_trust_release(struct pawl_edge_trust *t);

#endif
