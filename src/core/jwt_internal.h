/* Internals shared by jwks.c, jwt.c and their tests (pawl__ prefix: not public). */
#ifndef PAWL_JWT_INTERNAL_H
#define PAWL_JWT_INTERNAL_H

#include "pawl/jwt.h"
#include <openssl/evp.h>

enum pawl__jwt_alg { PAWL__ALG_NONE = 0, PAWL__ALG_RS256, PAWL__ALG_ES256, PAWL__ALG_EDDSA };

struct pawl__jwk {
    char kid[PAWL_JWT_KID_MAX];
    size_t kid_len;
    enum pawl__jwt_alg alg; /* the one alg this key's kty allows */
    EVP_PKEY *pkey;
};

struct pawl_jwks {
    size_t n;
    struct pawl__jwk keys[PAWL_JWKS_KEYS_MAX];
};

/* "RS256" -> PAWL__ALG_RS256 ...; PAWL__ALG_NONE for anything else. */
enum pawl__jwt_alg pawl__jwt_alg_from(const char *s, size_t n);

/* The key with this kid, or NULL. */
const struct pawl__jwk *pawl__jwks_find(const struct pawl_jwks *ks, const char *kid, size_t n);

/* Verify a JWS signature over msg with key. ES256 takes the raw 64-byte r||s
 * form. Returns PAWL_OK only for a valid signature; PAWL_ECRYPTO for an
 * invalid one (wrong length included); PAWL_ENOMEM. */
PAWL_MUST_CHECK pawl_err pawl__jwt_sig_verify(enum pawl__jwt_alg alg, EVP_PKEY *key,
                                              const uint8_t *msg, size_t msgn,
                                              const uint8_t *sig, size_t sign);

/* Copy s[0..n) into dst for a diagnostic: at most 48 bytes, bytes outside
 * printable ASCII replaced by '?', so attacker text cannot forge log lines. */
void pawl__jwt_printable(char *dst, size_t cap, const char *s, size_t n);

#endif
