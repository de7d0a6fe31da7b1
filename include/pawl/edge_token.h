/* pawl/edge_token.h: command tokens, verified by the vehicle (libpawl-edge).
 *
 * Implements docs/formats/command-token.md (version 1) on the vehicle side: a
 * COSE_Sign (tag 98) message whose payload is a CWT claims set, signed by
 * parties that do not share a server (the backend's command authority and the
 * owner's phone). The vehicle checks it in the contract's order and reports
 * the first failing check as a reason code.
 *
 * Portable C99. Nothing here allocates, does I/O or keeps global state: the
 * caller owns the trust policy, the work area, the crypto back end and the
 * replay store. Sizes are compile-time bounds, checked with _Static_assert in
 * token.c. NULL is never a valid argument unless a comment says so.
 *
 * Thread safety: functions are reentrant; a verifier may be shared between
 * threads if its store's admit() is (the file store locks). */
#ifndef PAWL_EDGE_TOKEN_H
#define PAWL_EDGE_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define PAWL_EDGE_MUST_CHECK __attribute__((warn_unused_result))
#else
#define PAWL_EDGE_MUST_CHECK
#endif

/* ---- bounds ---------------------------------------------------------------- */

#define PAWL_EDGE_TOKEN_MAX 4096u  /* a longer message is malformed */
#define PAWL_EDGE_MAX_DEPTH 8u     /* deeper nesting is malformed */
#define PAWL_EDGE_MAX_SIGS 8u      /* more signatures is malformed */
#define PAWL_EDGE_MAX_KEYS 16u     /* trusted keys per vehicle */
#define PAWL_EDGE_MAX_ROLES 8u     /* distinct signer roles */
#define PAWL_EDGE_ROLE_MAX 31u     /* bytes of a role name */
#define PAWL_EDGE_MAX_RULES 32u    /* require[] entries, "*" included */
#define PAWL_EDGE_MAX_STATIONARY 16u
#define PAWL_EDGE_CMD_MAX 63u      /* bytes of a command name in the trust policy */
#define PAWL_EDGE_VIN_LEN 17u
#define PAWL_EDGE_KID_LEN 8u
#define PAWL_EDGE_CTI_LEN 16u
#define PAWL_EDGE_SIG_LEN 64u      /* Ed25519 and ES256 r||s */
#define PAWL_EDGE_PUB_MAX 65u      /* raw public key: Ed25519 32, P-256 uncompressed 65 */

/* The bytes signed (Sig_structure) are built in the work area: its fixed
 * prefix, the sign_protected bstr and the payload. */
#define PAWL_EDGE_WORK_SIZE (PAWL_EDGE_TOKEN_MAX + 32u)

/* COSE algorithm identifiers (RFC 9053). */
#define PAWL_EDGE_ALG_EDDSA (-8)
#define PAWL_EDGE_ALG_ES256 (-7)

/* ---- reasons --------------------------------------------------------------- */

/* In the contract's check order. STORE_ERROR is not a verdict about the
 * token: the replay store could not be read or written, so the vehicle
 * refuses to act (fail closed) and the caller reports an I/O error. */
enum pawl_edge_reason {
    PAWL_EDGE_OK = 0,
    PAWL_EDGE_MALFORMED,
    PAWL_EDGE_UNSUPPORTED_ALG,
    PAWL_EDGE_UNKNOWN_KEY,
    PAWL_EDGE_DUPLICATE_SIGNER,
    PAWL_EDGE_BAD_SIGNATURE,
    PAWL_EDGE_MISSING_SIGNER,
    PAWL_EDGE_WRONG_VEHICLE,
    PAWL_EDGE_EXPIRED,
    PAWL_EDGE_NOT_YET_VALID,
    PAWL_EDGE_LIFETIME_TOO_LONG,
    PAWL_EDGE_REPLAY,
    PAWL_EDGE_STALE_SEQUENCE,
    PAWL_EDGE_UNSAFE_STATE,
    PAWL_EDGE_STORE_ERROR
};

/* The contract's code: "ok", "malformed", ..., "unsafe_state"; and
 * "store_error". Never NULL. */
const char *pawl_edge_reason_str(enum pawl_edge_reason r);

/* ---- trust policy ---------------------------------------------------------- */

/* One trusted signer. kid = first 8 bytes of SHA-256 over the key's DER
 * SubjectPublicKeyInfo. `handle` is whatever the crypto back end needs to
 * verify with this key (the OpenSSL back end: an EVP_PKEY *); `pub` holds the
 * raw public key for back ends that take bytes. */
struct pawl_edge_key {
    uint8_t kid[PAWL_EDGE_KID_LEN];
    int alg;        /* PAWL_EDGE_ALG_EDDSA or PAWL_EDGE_ALG_ES256 */
    unsigned role;  /* index into pawl_edge_trust.roles */
    uint8_t pub[PAWL_EDGE_PUB_MAX];
    uint8_t pub_len;
    const void *handle;
};

/* Signer roles a command needs: require[cmd], or require["*"] for commands
 * not listed. A command with neither is refused (missing_signer). */
struct pawl_edge_rule {
    char cmd[PAWL_EDGE_CMD_MAX + 1]; /* "*" is the default rule */
    uint8_t cmd_len;
    uint32_t roles;                  /* bit i = roles[i] */
};

struct pawl_edge_trust {
    char vin[PAWL_EDGE_VIN_LEN + 1];
    uint32_t skew_s;         /* default 30 */
    uint32_t max_lifetime_s; /* default 120 */
    unsigned nkeys, nroles, nrules, nstationary;
    struct pawl_edge_key keys[PAWL_EDGE_MAX_KEYS];
    char roles[PAWL_EDGE_MAX_ROLES][PAWL_EDGE_ROLE_MAX + 1];
    struct pawl_edge_rule rules[PAWL_EDGE_MAX_RULES];
    struct pawl_edge_rule stationary[PAWL_EDGE_MAX_STATIONARY]; /* roles unused */
};

/* ---- back ends ------------------------------------------------------------- */

/* Verifies one signature: Ed25519 over msg, or ES256 (SHA-256 of msg, P-256,
 * sig = 64-byte big-endian r||s). Returns true only for a valid signature. */
struct pawl_edge_crypto {
    bool (*verify)(void *ctx, const struct pawl_edge_key *key, const uint8_t *msg, size_t n,
                   const uint8_t *sig, size_t sig_len);
    void *ctx;
};

enum pawl_edge_admit {
    PAWL_EDGE_ADMIT_FRESH = 0, /* not seen, seq newer (and recorded if asked) */
    PAWL_EDGE_ADMIT_REPLAY,    /* cti accepted within the window */
    PAWL_EDGE_ADMIT_STALE      /* seq <= the last accepted seq */
};

/* Replay state. admit() is one atomic step: it looks cti up (seen at time t
 * with now < t + window, or t > now, counts as seen), compares seq with the
 * last accepted one, and when the token is fresh and `record` is true, makes
 * (cti, seq, now) durable before it returns. Returns 0, or -1 when the state
 * could not be read or written (the token is then refused). */
struct pawl_edge_store {
    int (*admit)(void *ctx, const uint8_t cti[PAWL_EDGE_CTI_LEN], uint64_t seq, uint64_t now,
                 uint64_t window, bool record, enum pawl_edge_admit *out);
    void *ctx;
};

/* The vehicle's own state, as its sensors report it. */
struct pawl_edge_state {
    bool speed_known;
    float speed_kmh; /* Vehicle.Speed */
};

struct pawl_edge_verifier {
    const struct pawl_edge_trust *trust;
    struct pawl_edge_crypto crypto;
    struct pawl_edge_store store;
};

/* ---- parsed token ---------------------------------------------------------- */

/* A byte range inside the caller's token buffer. */
struct pawl_edge_bytes {
    const uint8_t *p;
    size_t n;
};

struct pawl_edge_sig {
    int64_t alg;                     /* any integer; checked in step 2 */
    const uint8_t *kid;              /* PAWL_EDGE_KID_LEN bytes */
    struct pawl_edge_bytes prot;     /* sign_protected bstr contents */
    struct pawl_edge_bytes sig;      /* signature bstr contents */
};

/* Claims point into the token buffer, which must outlive this struct. */
struct pawl_edge_token {
    struct pawl_edge_bytes iss, sub, aud, cmd;
    struct pawl_edge_bytes args;     /* the encoded args map, n = 0 when absent */
    struct pawl_edge_bytes payload;  /* payload bstr contents (the claims map) */
    struct pawl_edge_bytes sigs_at;  /* the signatures array, header included */
    uint64_t exp, iat, seq;
    const uint8_t *cti;              /* PAWL_EDGE_CTI_LEN bytes */
    unsigned nsigs;
    struct pawl_edge_sig sigs[PAWL_EDGE_MAX_SIGS];
};

/* Step 1 alone: structure and claims per the contract, with deterministic
 * encoding required (shortest heads, definite lengths, map keys strictly
 * ascending), no tags but the outer 98, nesting at most 8 per encoded item.
 * On failure returns PAWL_EDGE_MALFORMED and sets *where (when not NULL) to
 * a static description of the first problem. */
PAWL_EDGE_MUST_CHECK enum pawl_edge_reason
pawl_edge_token_parse(const uint8_t *buf, size_t n, struct pawl_edge_token *out,
                      const char **where);

/* Scratch space for one verification; caller-owned, no alignment needed. */
struct pawl_edge_work {
    uint8_t buf[PAWL_EDGE_WORK_SIZE];
};

/* Everything the vehicle reports after a verification. tok is filled as far
 * as parsing got (tok_ok tells whether cmd and seq are meaningful). */
struct pawl_edge_result {
    enum pawl_edge_reason reason;
    bool tok_ok;
    struct pawl_edge_token tok;
    const char *detail; /* static text on malformed, else NULL */
};

/* Runs checks 1 to 10 of the contract in order; on accept, the store has
 * recorded cti and seq durably before this returns. Returns the reason (also
 * in out->reason). `now` is UNIX seconds from the vehicle's clock. */
PAWL_EDGE_MUST_CHECK enum pawl_edge_reason
pawl_edge_token_verify(const struct pawl_edge_verifier *v, const uint8_t *buf, size_t n,
                       uint64_t now, const struct pawl_edge_state *state,
                       struct pawl_edge_work *work, struct pawl_edge_result *out);

/* Builds the bytes a signature covers, ["Signature", h'', prot, h'', payload],
 * into dst (capacity cap); returns their length, or 0 when they do not fit
 * or a string is over 65535 bytes. The issuing side signs the same bytes. */
size_t pawl_edge_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                               size_t payload_len, uint8_t *dst, size_t cap);

/* ---- in-memory replay store -------------------------------------------------- */

/* A bounded store in caller memory, for tests, benchmarks and ECUs that keep
 * replay state in their own non-volatile RAM. Fresh entries go into the
 * oldest or expired slot; when every slot still lies inside the window,
 * admit() fails (-1) rather than forget a token that could be replayed. */
struct pawl_edge_mem_entry {
    uint8_t cti[PAWL_EDGE_CTI_LEN];
    uint64_t at;
    bool used;
};

struct pawl_edge_mem_store {
    struct pawl_edge_mem_entry *slots;
    size_t nslots;
    uint64_t last_seq;
    bool has_seq;
};

void pawl_edge_mem_store_init(struct pawl_edge_mem_store *s, struct pawl_edge_mem_entry *slots,
                              size_t nslots);
/* A pawl_edge_store over s. */
struct pawl_edge_store pawl_edge_mem_store(struct pawl_edge_mem_store *s);

#endif
