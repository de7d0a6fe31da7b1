/* pawl/audit.h: the tamper-evident audit trail (hash chain + signed checkpoints).
 *
 * The core formats and verifies record lines; it never touches files. The
 * line format is a contract, documented byte for byte in docs/audit.md:
 *
 *   {"seq":S,"time":T,"kind":"K","prev":"<64 hex>","body":<JSON>,"hash":"<64 hex>"}\n
 *
 * hash = SHA-256 over the line from its first byte up to, not including,
 * `,"hash":`. seq 0 is the genesis record (it names the Ed25519 public key);
 * every later record's prev is the hash of the record before it. A
 * "checkpoint" record signs (covers, head) with the Ed25519 key.
 *
 * NULL policy: every pointer argument must be non-NULL unless said otherwise.
 * Functions returning pawl_err leave their outputs unspecified on failure,
 * except where a rollback is promised. */
#ifndef PAWL_AUDIT_H
#define PAWL_AUDIT_H

#include "pawl/common.h"
#include <openssl/types.h>

#define PAWL_AUDIT_FORMAT_ID "pawl-audit-1"
#define PAWL_AUDIT_HASH_LEN 32
#define PAWL_AUDIT_KEY_LEN 32                     /* raw Ed25519 public key */
#define PAWL_AUDIT_SIG_LEN 64                     /* raw Ed25519 signature */
#define PAWL_AUDIT_KIND_MAX 32                    /* kind: [a-z_]{1,32} */
#define PAWL_AUDIT_BODY_MAX (1024u * 1024u)       /* bytes of a body, compact form */
#define PAWL_AUDIT_OVERHEAD 256u                  /* envelope bytes around the body, bound */
#define PAWL_AUDIT_LINE_MAX (PAWL_AUDIT_BODY_MAX + PAWL_AUDIT_OVERHEAD) /* '\n' included */
#define PAWL_AUDIT_DEFAULT_EVERY_N 1000u
#define PAWL_AUDIT_DEFAULT_EVERY_MS 10000

/* Signs msg[0..n) with Ed25519 into sig. Lets a PKCS#11 vault or a separate
 * signing process hold the private key. Returns PAWL_OK or PAWL_ECRYPTO. */
typedef pawl_err (*pawl_audit_sign_fn)(void *ctx, const uint8_t *msg, size_t n,
                                       uint8_t sig[PAWL_AUDIT_SIG_LEN]);

/* The default signer: ctx is an EVP_PKEY * holding an Ed25519 private key. */
PAWL_MUST_CHECK pawl_err pawl_audit_sign_evp(void *ctx, const uint8_t *msg, size_t n,
                                             uint8_t sig[PAWL_AUDIT_SIG_LEN]);

/* Raw 32-byte public key of an Ed25519 EVP_PKEY (private or public).
 * PAWL_EINVAL when the key is not Ed25519. */
PAWL_MUST_CHECK pawl_err pawl_audit_evp_public(const EVP_PKEY *pkey,
                                               uint8_t pub[PAWL_AUDIT_KEY_LEN]);

/* A growable output buffer with a hard maximum. Lines are appended; the
 * caller writes b->p[0..b->len) out and resets len to 0. */
struct pawl_audit_buf {
    char *p;
    size_t len, cap, max;
};

/* max: bound on b->len; growing past it fails with PAWL_ELIMIT. Two full
 * lines (a record and its checkpoint) need 2 * PAWL_AUDIT_LINE_MAX. */
void pawl_audit_buf_init(struct pawl_audit_buf *b, size_t max);
void pawl_audit_buf_free(struct pawl_audit_buf *b);

/* The chain writer. The caller owns it (no heap); treat fields as read-only. */
struct pawl_audit_writer {
    uint64_t seq;                         /* seq of the next record */
    uint8_t head[PAWL_AUDIT_HASH_LEN];    /* hash of the last record written */
    uint64_t since_checkpoint;            /* records (genesis included) not yet signed */
    int64_t last_checkpoint_ms;           /* record time of the last checkpoint (or genesis) */
    unsigned every_n;
    int64_t every_ms;                     /* < 0: no time-based checkpoints */
    pawl_audit_sign_fn sign;
    void *sign_ctx;
    uint8_t pub[PAWL_AUDIT_KEY_LEN];
};

/* every_n 0 -> PAWL_AUDIT_DEFAULT_EVERY_N; every_ms 0 -> PAWL_AUDIT_DEFAULT_EVERY_MS,
 * every_ms < 0 disables time-based checkpoints. pub is the signer's public key
 * (it goes into the genesis record). sign_ctx may be NULL if sign accepts it. */
PAWL_MUST_CHECK pawl_err pawl_audit_writer_init(struct pawl_audit_writer *w,
                                                const uint8_t pub[PAWL_AUDIT_KEY_LEN],
                                                unsigned every_n, int64_t every_ms,
                                                pawl_audit_sign_fn sign, void *sign_ctx);

/* Append the genesis record (seq 0) to out. Only on a fresh writer. */
PAWL_MUST_CHECK pawl_err pawl_audit_genesis(struct pawl_audit_writer *w, int64_t time_ms,
                                            struct pawl_audit_buf *out, struct pawl_diag *d);

/* Where the checkpoint line (if any) landed in out. */
struct pawl_audit_emit {
    bool checkpoint;      /* a checkpoint line was appended */
    size_t cp_off, cp_len; /* its offset in out->p and length ('\n' included) */
};

/* Append one record of `kind` ([a-z_]{1,32}, not "genesis" or "checkpoint")
 * whose body is body[0..n), a JSON object (duplicate keys refused, at most
 * PAWL_AUDIT_BODY_MAX bytes before and after re-serialisation). The body is
 * re-serialised compactly. If a checkpoint is due (every_n records or every_ms
 * of record time since the last one), a checkpoint line follows. time_ms >= 0.
 * On failure the writer and out are left exactly as they were. emit may be NULL.
 * Errors: PAWL_EPARSE (body not JSON), PAWL_EINVAL (kind, time, not an object),
 * PAWL_ELIMIT (size), PAWL_ECRYPTO (signer), PAWL_ENOMEM; d says why. */
PAWL_MUST_CHECK pawl_err pawl_audit_append(struct pawl_audit_writer *w, int64_t time_ms,
                                           const char *kind, const char *body, size_t n,
                                           struct pawl_audit_buf *out,
                                           struct pawl_audit_emit *emit, struct pawl_diag *d);

/* pawl_audit_append for a body that is already the compact serialisation
 * of a JSON object made by jansson (json_dumpb with JSON_COMPACT, as
 * pawl_event_dump writes it): it is not parsed again, only checked to be
 * one object on one line ('{' ... '}', no control bytes, at most
 * PAWL_AUDIT_BODY_MAX bytes). For producers that built the object
 * themselves (pawld's decisions); anything read from outside goes through
 * pawl_audit_append. */
PAWL_MUST_CHECK pawl_err pawl_audit_append_dumped(struct pawl_audit_writer *w, int64_t time_ms,
                                                  const char *kind, const char *body, size_t n,
                                                  struct pawl_audit_buf *out,
                                                  struct pawl_audit_emit *emit,
                                                  struct pawl_diag *d);

/* pawl_audit_append with kind "decision"; body is the OCSF event object. */
PAWL_MUST_CHECK pawl_err pawl_audit_append_decision(struct pawl_audit_writer *w,
                                                    int64_t time_ms, const char *ocsf,
                                                    size_t n, struct pawl_audit_buf *out,
                                                    struct pawl_audit_emit *emit,
                                                    struct pawl_diag *d);

/* Append a checkpoint now if any record is unsigned (used on close); a no-op
 * otherwise (emit->checkpoint false). Same rollback promise as append. */
PAWL_MUST_CHECK pawl_err pawl_audit_checkpoint(struct pawl_audit_writer *w, int64_t time_ms,
                                               struct pawl_audit_buf *out,
                                               struct pawl_audit_emit *emit,
                                               struct pawl_diag *d);

/* What is wrong with the first bad record. */
enum pawl_audit_fault {
    PAWL_AUDIT_OK = 0,
    PAWL_AUDIT_FORMAT,     /* not a record line: JSON or envelope format error */
    PAWL_AUDIT_HASH,       /* hash does not match the line: the record was altered */
    PAWL_AUDIT_SEQ,        /* seq gap or repeat: records deleted, duplicated, reordered */
    PAWL_AUDIT_PREV,       /* prev is not the previous record's hash: deleted/inserted/reordered */
    PAWL_AUDIT_GENESIS,    /* first record is not a genesis, or a genesis later on */
    PAWL_AUDIT_KEY,        /* genesis names another key than the verifier's */
    PAWL_AUDIT_SIGNATURE,  /* checkpoint signature does not verify */
    PAWL_AUDIT_CHECKPOINT, /* checkpoint covers/head do not match the chain */
    PAWL_AUDIT_EMPTY,      /* no record at all */
};

/* Short static name ("hash", "seq", ...); never NULL. */
const char *pawl_audit_fault_name(enum pawl_audit_fault f);

struct pawl_audit_report {
    enum pawl_audit_fault fault;
    uint64_t line;      /* 1-based line of the first bad record; 0 for EMPTY */
    bool seq_known;     /* false when the line did not parse far enough */
    uint64_t seq;
    char what[256];     /* English, e.g. "hash mismatch: record altered" */
};

/* The streaming verifier. Caller-owned; free with pawl_audit_verifier_free. */
struct pawl_audit_verifier {
    EVP_PKEY *pkey;
    uint8_t pub[PAWL_AUDIT_KEY_LEN];
    uint64_t records;                 /* good records so far */
    uint64_t next_seq;
    uint8_t head[PAWL_AUDIT_HASH_LEN];
    bool have_checkpoint;
    uint64_t last_checkpoint_seq;
    int64_t last_checkpoint_ms;       /* time of the last checkpoint, else of genesis */
    uint64_t unsigned_tail;           /* records after the last checkpoint (or all) */
    uint64_t last_seq;                /* seq of the last good record */
    bool last_is_checkpoint;
    struct pawl_audit_report bad;     /* first failure; sticky */
};

PAWL_MUST_CHECK pawl_err pawl_audit_verifier_init(struct pawl_audit_verifier *v,
                                                  const uint8_t pub[PAWL_AUDIT_KEY_LEN]);
void pawl_audit_verifier_free(struct pawl_audit_verifier *v);

/* Feed one line without its '\n'. Returns PAWL_OK, or PAWL_EINVAL once a
 * record is bad (v->bad says where and why); later calls return PAWL_EINVAL
 * without looking at the line. */
PAWL_MUST_CHECK pawl_err pawl_audit_verify_line(struct pawl_audit_verifier *v, const char *line,
                                                size_t n, uint64_t lineno);

/* End of input. PAWL_EINVAL if a line was bad or there was no record. */
PAWL_MUST_CHECK pawl_err pawl_audit_verify_finish(struct pawl_audit_verifier *v);

/* Check one checkpoint line on its own (the anchor file): envelope, hash,
 * covers == seq - 1, head == prev, signature. *seq receives its seq. r may be
 * NULL. PAWL_EINVAL when bad. */
PAWL_MUST_CHECK pawl_err pawl_audit_check_checkpoint(struct pawl_audit_verifier *v,
                                                     const char *line, size_t n,
                                                     uint64_t *seq,
                                                     struct pawl_audit_report *r);

/* Continue a chain: restore w (initialised with the same public key) from a
 * verifier that has been fed a whole log from genesis and finished OK. */
PAWL_MUST_CHECK pawl_err pawl_audit_writer_resume(struct pawl_audit_writer *w,
                                                  const struct pawl_audit_verifier *v);

#endif
