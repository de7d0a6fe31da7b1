/* Test helpers for JWT/JWKS: real keys, real signatures (OpenSSL), no fixed
 * fake values. Shared by the unit tests, benchmarks and data generators.
 * Every function returns -1 (or NULL) on failure, including a buffer that is
 * too small; on success the length written (NUL not counted). */
#ifndef PAWL_HELPER_JWT_H
#define PAWL_HELPER_JWT_H

#include <stddef.h>
#include <openssl/evp.h>

/* A fresh key pair for "RS256" (RSA 2048), "ES256" (P-256) or "EdDSA"
 * (Ed25519); NULL for anything else. Free with EVP_PKEY_free. */
EVP_PKEY *th_key_new(const char *alg);

/* The public JWK of key as a JSON object: kty, crv, key members, "kid" and
 * "use":"sig"; "alg" too when alg is not NULL. */
int th_jwk_json(EVP_PKEY *key, const char *alg, const char *kid, char *buf, size_t cap);

/* {"keys":[...]} from n keys (algs[i] may be NULL: no "alg" member). */
int th_jwks_json(EVP_PKEY *const *keys, const char *const *algs, const char *const *kids,
                 size_t n, char *buf, size_t cap);

/* A compact JWS with header {"alg":alg,"typ":"JWT","kid":kid[,extra]} (kid
 * NULL: no kid member; extra: more header members, e.g. "\"jku\":\"http://x\"")
 * over payload_json, signed with key under alg (RS256, ES256 as raw r||s,
 * EdDSA). For any other alg ("none", "HS256", ...) the header says that alg
 * and, when key is NULL, the signature part is empty. */
int th_jwt_sign(EVP_PKEY *key, const char *alg, const char *kid,
                const char *extra_header_json_members, const char *payload_json, char *out,
                size_t cap);

/* Lower level: header and payload given as JSON text, signed with key under
 * sign_alg (NULL: empty signature). */
int th_jwt_make(const char *header_json, const char *payload_json, EVP_PKEY *key,
                const char *sign_alg, char *out, size_t cap);

/* Raw JWS signature of msg (ES256: r||s, 64 bytes). Returns its length. */
int th_sign_raw(EVP_PKEY *key, const char *alg, const unsigned char *msg, size_t n,
                unsigned char *sig, size_t cap);

#endif
