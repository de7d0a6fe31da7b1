/* pawl/jwt.h: JWT bearer-token identity (RFC 7515 compact JWS, RFC 7517 JWKS,
 * RFC 7519 claims). No I/O: the caller reads the JWKS document and the
 * Authorization header; this module returns decisions with reason codes.
 *
 * Accepted: compact JWS (header.payload.signature), strict base64url without
 * padding, at most PAWL_JWT_TOKEN_MAX bytes, alg RS256 (RSASSA-PKCS1-v1_5 with
 * SHA-256, RSA >= 2048 bits), ES256 (P-256, signature raw r||s, 64 bytes) or
 * EdDSA (Ed25519), signed by a key of the configured JWKS chosen by `kid`.
 * Nothing else: no `none`, no HMAC, no key carried or referenced by the token
 * (jku, x5u, jwk, x5c), no `crit` extensions. See docs/identity-jwt.md.
 *
 * Threads: a JWKS is immutable after parsing and may be shared by any number
 * of threads. A verifier is NOT thread-safe (its cache and counters are
 * updated on every call): a front end keeps one verifier per thread. */
#ifndef PAWL_JWT_H
#define PAWL_JWT_H

#include "pawl/common.h"
#include "pawl/identity.h"
#include "pawl/reason.h"

#define PAWL_JWT_TOKEN_MAX 8192          /* bytes of a compact token */
#define PAWL_JWKS_DOC_MAX (1024 * 1024)  /* bytes of a JWKS document */
#define PAWL_JWKS_KEYS_MAX 64            /* keys in one JWKS */
#define PAWL_JWT_KID_MAX 128             /* bytes of a kid, NUL included */
#define PAWL_JWT_LEEWAY_MAX_MS 3600000   /* clock skew allowed at most (1 h) */
#define PAWL_JWT_CACHE_MAX (1u << 18)    /* cache entries at most */
#define PAWL_JWT_ROLES_IN_TOKEN_MAX 64   /* roles array length at most */

/* A parsed, validated set of public verification keys. Opaque. */
struct pawl_jwks;

/* Parse a JWKS document (RFC 7517: {"keys": [ ... ]}) of n bytes (json need
 * not be NUL-terminated). `where` labels diagnostics (a file name, say); may
 * be NULL. Every key MUST:
 *  - have kty "RSA" (n, e; modulus 2048..8192 bits, odd; e odd, 3..2^64),
 *    "EC" with crv "P-256" (x, y of 32 bytes each; the point must be a valid
 *    point on the curve) or "OKP" with crv "Ed25519" (x of 32 bytes);
 *  - have a non-empty string `kid`, shorter than PAWL_JWT_KID_MAX, unique in
 *    the document;
 *  - if it has `alg`, have the one alg its kty allows (RS256, ES256, EdDSA);
 *  - if it has `use`, have use "sig";
 *  - carry no private material (d, p, q, dp, dq, qi, oth, k).
 * kty "oct" (HMAC secrets), other kty or crv, an empty key set, more than
 * PAWL_JWKS_KEYS_MAX keys, a document over PAWL_JWKS_DOC_MAX bytes and
 * duplicate JSON member names are rejected. Other members (x5c, key_ops, ...)
 * are ignored: they never make a key more trusted.
 * Returns PAWL_OK and *out (free with pawl_jwks_free), or PAWL_EPARSE (not
 * JSON; d has line/col), PAWL_ELIMIT (a size or count bound), PAWL_EINVAL (a
 * key broke a rule; d names the key index and kid), PAWL_ENOMEM, in which
 * case *out is NULL. d may be NULL. */
PAWL_MUST_CHECK pawl_err pawl_jwks_parse(const char *json, size_t n, const char *where,
                                         struct pawl_jwks **out, struct pawl_diag *d);
/* Number of keys in a parsed JWKS. */
size_t pawl_jwks_count(const struct pawl_jwks *ks);
/* NULL is a no-op. */
void pawl_jwks_free(struct pawl_jwks *ks);

/* What a verified token must also say. The verifier copies the strings. */
struct pawl_jwt_rules {
    const char *issuer;        /* `iss` must equal this; NULL = not checked */
    const char *audience;      /* `aud` (string or array) must hold it; NULL = not checked */
    int64_t leeway_ms;         /* clock skew allowed on exp and nbf, 0..PAWL_JWT_LEEWAY_MAX_MS */
    const char *roles_claim;   /* top-level claim with the roles; NULL = "roles" */
    const char *org_claim;     /* top-level claim with the org; NULL = "org" */
    pawl_role_lookup_fn role_lookup; /* NULL: role_mask stays 0 */
    void *role_ctx;            /* passed to role_lookup */
};

struct pawl_jwt_verifier;

/* Create a verifier. `keys` is borrowed and MUST outlive the verifier.
 * cache_entries: verified-token cache size (0 disables the cache; rounded up
 * to a multiple of 8; at most PAWL_JWT_CACHE_MAX; each entry is 256 bytes,
 * all allocated here, plus a heap copy of its token while cached; a
 * principal whose strings need more than 216 bytes adds their length on the
 * heap too).
 * Returns PAWL_EINVAL for an empty issuer/audience/claim name or a leeway out
 * of range, PAWL_ELIMIT for too many cache entries, PAWL_ENOMEM; *out is then
 * NULL. */
PAWL_MUST_CHECK pawl_err pawl_jwt_verifier_new(const struct pawl_jwt_rules *rules,
                                               const struct pawl_jwks *keys,
                                               size_t cache_entries,
                                               struct pawl_jwt_verifier **out);
/* NULL is a no-op. */
void pawl_jwt_verifier_free(struct pawl_jwt_verifier *v);

/* Verify the n bytes of `token` (the compact JWS, without "Bearer ") at time
 * now_ms (Unix epoch milliseconds). v and out MUST NOT be NULL; token may be
 * NULL only when n == 0. Returns PAWL_R_ALLOWED and fills *out
 * (via = PAWL_AUTH_JWT, uid = sub, org = org claim or "", session = jti or
 * "", roles = PAWL_MAX_ROLES of the roles claim's names, those role_lookup
 * knows first (in token order), then the others, role_mask = OR of
 * role_lookup over all of them, exp_ms, nbf_ms). On any other result *out is
 * zeroed (never partly filled) and d (may be NULL) says why. Checks, in order
 * (the first failure is the result):
 *  1. n == 0: UNAUTHENTICATED. n > PAWL_JWT_TOKEN_MAX, not three parts, bad
 *     base64url, header not a JSON object (duplicate names count as bad):
 *     TOKEN_MALFORMED.
 *  2. header alg missing or not a string: TOKEN_MALFORMED; alg not RS256,
 *     ES256 or EdDSA (none, HS256, ...): TOKEN_ALG_FORBIDDEN; jku, x5u, jwk or
 *     x5c present: TOKEN_EMBEDDED_KEY; crit present or kid not a string:
 *     TOKEN_MALFORMED.
 *  3. kid missing, not in the JWKS, or naming a key of another kty:
 *     TOKEN_KEY_UNKNOWN.
 *  4. signature invalid (ES256 signature not 64 bytes included):
 *     TOKEN_BAD_SIGNATURE.
 *  5. payload not a JSON object; sub missing, empty, not a string or >=
 *     PAWL_ID_MAX bytes; exp missing; exp, nbf or iat not a number in
 *     [0, 253402300799] seconds (fractions allowed); jti or org claim not a
 *     string < PAWL_ID_MAX; roles claim not an array of at most
 *     PAWL_JWT_ROLES_IN_TOKEN_MAX strings each < PAWL_ROLE_MAX bytes:
 *     TOKEN_MALFORMED.
 *  6. issuer rule set and iss missing or different: TOKEN_WRONG_ISSUER.
 *  7. audience rule set and aud (string, or array of strings) without it:
 *     TOKEN_WRONG_AUDIENCE.
 *  8. now_ms > exp_ms + leeway: TOKEN_EXPIRED (exp is rounded down to ms).
 *  9. now_ms < nbf_ms - leeway: TOKEN_NOT_YET_VALID (nbf rounded up to ms).
 * An internal failure (out of memory) returns DEPENDENCY_UNAVAILABLE (fail
 * closed, never cached).
 * A claim check of step 5-7 that fails is reported before an expired token:
 * all time-independent checks come first, so cached and fresh answers agree.
 * Cache: results of steps 4-7 are cached with a copy of the token (8-way
 * sets, LRU within a set; the set and a 32-bit tag come from a keyed hash of
 * the token's length and last 64 bytes); a hit needs the token byte for byte,
 * so a repeated token costs one short hash, one lookup and one comparison,
 * and steps 8-9 are re-checked on every hit, so the cache never extends a
 * token's validity. */
PAWL_MUST_CHECK enum pawl_reason pawl_jwt_verify(struct pawl_jwt_verifier *v, const char *token,
                                                 size_t n, int64_t now_ms,
                                                 struct pawl_principal *out,
                                                 struct pawl_diag *d);

/* Where a token of n bytes goes in the cache: a keyed hash of its length
 * and tail. Computed once, it serves the hints and the verify below. */
struct pawl_jwt_spot {
    uint64_t x;
    size_t n;
};
struct pawl_jwt_spot pawl_jwt_spot(const struct pawl_jwt_verifier *v, const char *token, size_t n);

/* pawl_jwt_verify with the token's spot already computed. A spot of another
 * token costs a cache miss, never a wrong answer: a hit needs the token's
 * bytes. */
PAWL_MUST_CHECK enum pawl_reason pawl_jwt_verify_at(struct pawl_jwt_verifier *v, const char *token,
                                                    size_t n, struct pawl_jwt_spot sp,
                                                    int64_t now_ms, struct pawl_principal *out,
                                                    struct pawl_diag *d);

/* A hint, no effect on results: start loading what verifying the token at
 * spot sp will read from the cache, so that a verify a little later does
 * not wait for memory. Step 1 its set's lines; step 2 (and later), once
 * those have had time to arrive, the matching entry and its copy of the
 * token. */
void pawl_jwt_prefetch(const struct pawl_jwt_verifier *v, struct pawl_jwt_spot sp, int step);

/* A hint, no effect on results: pawl_key_of(uid).h of the principal that the
 * cached entry at spot sp names (0: none, or a refusal), so that a caller can
 * start loading what the principal keys (its grants, its rate-limit buckets)
 * before the token is compared; reads the set's lines (step 1 loads them).
 * Only verify says whose token it is: the entry may be another token's. */
uint64_t pawl_jwt_principal_hint(const struct pawl_jwt_verifier *v, struct pawl_jwt_spot sp);

struct pawl_jwt_stats {
    uint64_t hits;          /* tokens answered from the cache */
    uint64_t misses;        /* cache lookups that found nothing */
    uint64_t verifications; /* signature checks performed */
    uint64_t evictions;     /* cache entries replaced */
};

/* Counters since creation. */
void pawl_jwt_verifier_stats(const struct pawl_jwt_verifier *v, struct pawl_jwt_stats *out);

#endif
