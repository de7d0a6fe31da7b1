/* pawl/token.h: issuing command tokens (the backend and the owner's phone).
 *
 * Builds the tokens of docs/formats/command-token.md byte for byte: a CWT
 * claims set in deterministic CBOR, wrapped in COSE_Sign (tag 98) with one
 * signature per signer. Signing goes through a pawl_signer so that the key
 * can live outside the process (a PKCS#11 vault); pawl_signer_openssl wraps
 * an in-memory EVP_PKEY. The verifying side is pawl/edge_token.h. */
#ifndef PAWL_TOKEN_H
#define PAWL_TOKEN_H

#include <jansson.h>
#include <openssl/evp.h>

#include "pawl/common.h"
#include "pawl/edge_token.h"

#define PAWL_TOKEN_MAX_MAP 64 /* entries per args map or array */

/* The claims; strings are NUL-terminated UTF-8. args, when not NULL, is a
 * JSON object (an empty one is encoded too): strings, integers, reals
 * (encoded as the shortest float that holds the value exactly), true,
 * false, null, arrays and objects. */
struct pawl_token_claims {
    const char *iss, *sub, *aud, *cmd;
    uint64_t exp, iat, seq;
    uint8_t cti[PAWL_EDGE_CTI_LEN];
    const json_t *args;
};

/* Encodes the claims map deterministically (RFC 8949 §4.2.1: shortest
 * heads, keys sorted, args keys too). Refuses, with a diag, missing iss, sub,
 * aud or cmd, an aud that is not 17 bytes, an empty cmd, text that is not
 * UTF-8, args that are not an object or nest deeper than the vehicle reads. */
PAWL_MUST_CHECK pawl_err pawl_token_claims_encode(const struct pawl_token_claims *c, uint8_t *out,
                                                  size_t cap, size_t *n, struct pawl_diag *d);

/* Something that signs: Ed25519 (alg -8) over msg, or ES256 (alg -7) over
 * SHA-256(msg), writing 64 bytes (r||s for ES256). Returns 0 or -1. */
struct pawl_signer {
    int alg;
    uint8_t kid[PAWL_EDGE_KID_LEN];
    int (*sign)(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[PAWL_EDGE_SIG_LEN]);
    void *ctx;
};

/* A signer over a private key (Ed25519 or P-256); the key must outlive it. */
PAWL_MUST_CHECK pawl_err pawl_signer_openssl(EVP_PKEY *key, struct pawl_signer *s);

/* A new token over `payload` (the encoded claims) with one signature. */
PAWL_MUST_CHECK pawl_err pawl_token_sign(const uint8_t *payload, size_t n,
                                         const struct pawl_signer *s, uint8_t *out, size_t cap,
                                         size_t *outn, struct pawl_diag *d);

/* tok with one more signature, by s, appended. Refuses a malformed token, a
 * signer whose kid already signed, and more than PAWL_EDGE_MAX_SIGS. Does not
 * check the existing signatures: the vehicle does. */
PAWL_MUST_CHECK pawl_err pawl_token_cosign(const uint8_t *tok, size_t n,
                                           const struct pawl_signer *s, uint8_t *out, size_t cap,
                                           size_t *outn, struct pawl_diag *d);

#endif
