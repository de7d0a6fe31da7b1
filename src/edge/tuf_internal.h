/* tuf_internal.h: the parts of the TUF client that do no I/O. Metadata
 * parsing and schema checks, canonical JSON, signature thresholds, hashes
 * (tuf_meta.c, tuf_cjson.c) and the trusted set, the specification's state
 * machine over root, timestamp, snapshot and targets (tuf_trusted.c).
 * Every function that can fail writes "what: detail" to err (errn bytes)
 * and returns -1. */
#ifndef PAWL_TUF_INTERNAL_H
#define PAWL_TUF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha2.h>

#include "pawl/tuf.h"

#define TUF_ERR(err, errn, ...) pawl__tuf_fail((err), (errn), __VA_ARGS__)
int pawl__tuf_fail(char *err, size_t errn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum tuf_type { TUF_ROOT, TUF_TIMESTAMP, TUF_SNAPSHOT, TUF_TARGETS };
const char *pawl__tuf_type_name(enum tuf_type t);

/* One parsed metadata document whose schema has been checked in full:
 * later code reads its fields without checking types again. */
struct tuf_md {
    json_t *doc;     /* owned */
    json_t *signed_; /* borrowed from doc */
    enum tuf_type type;
    int64_t version;
    int64_t expires;  /* seconds since the epoch */
    uint8_t *canon;   /* canonical JSON of "signed", made on first verify */
    size_t canon_len; /* (owned) */
    size_t raw_len;   /* bytes parsed; the canonical "signed" is never longer */
};

/* A growable byte buffer. */
struct tuf_buf {
    uint8_t *p;
    size_t n, cap;
};
int pawl__tuf_buf_put(struct tuf_buf *b, const void *p, size_t n);
/* Makes room for cap bytes in one allocation (instead of doubling up to
 * them, which leaves a trail of freed smaller blocks on the heap). */
int pawl__tuf_buf_reserve(struct tuf_buf *b, size_t cap);
void pawl__tuf_buf_free(struct tuf_buf *b);

/* The canonical JSON form (securesystemslib's encode_canonical, the form
 * TUF signs): object keys sorted by bytes, no whitespace, strings with only
 * '\' and '"' escaped, integers only. A real number is an error. */
int pawl__tuf_cjson(json_t *v, struct tuf_buf *out, char *err, size_t errn);

/* Parses n bytes as metadata of type want. `what` names the document in
 * errors ("timestamp", "delegated role 'a'"). Duplicate object keys,
 * numbers beyond 64 bits, a wrong type anywhere the specification gives
 * one, a version below 1, an expiry that is not YYYY-MM-DDTHH:MM:SSZ,
 * repeated signature keyids and a threshold below 1 are errors. */
int pawl__tuf_parse(const uint8_t *data, size_t n, enum tuf_type want, const char *what,
                    struct tuf_md *md, char *err, size_t errn);
void pawl__tuf_md_clear(struct tuf_md *md);
void pawl__tuf_md_move(struct tuf_md *dst, struct tuf_md *src);

/* The keys and threshold that may sign one role. */
struct tuf_role {
    const json_t *keys;   /* keyid -> key object */
    const json_t *keyids; /* array of strings, unique */
    int64_t threshold;
};

/* The role `name` as root defines it (root, timestamp, snapshot, targets). */
void pawl__tuf_root_role(const struct tuf_md *root, const char *name, struct tuf_role *r);

/* The role `name` as a targets document delegates it: an explicit
 * delegation or a bin of succinct_roles. PAWL_TUF_NOTFOUND if none. */
int pawl__tuf_delegated_role(const struct tuf_md *parent, const char *name, struct tuf_role *r);

/* Whether sighex (hex) is key k's signature of msg (tuf_keys.c). Keys of
 * a type or scheme pawl does not verify, RSA keys under 2048 bits and
 * malformed keys or signatures give false. */
bool pawl__tuf_sig_ok(const json_t *k, const char *sighex, const uint8_t *msg, size_t n);

/* Whether a threshold of r's distinct keys signed md. Signatures by keys
 * not in r, of unknown key types, or that do not verify, count for nothing.
 * Returns 0, or -1 with "<what>: N of M signatures ..." in err. */
int pawl__tuf_verify(const struct tuf_role *r, struct tuf_md *md, const char *what, char *err,
                     size_t errn);

bool pawl__tuf_expired(const struct tuf_md *md, int64_t now);

/* An entry of a timestamp's or snapshot's "meta". */
struct tuf_metafile {
    int64_t version;
    int64_t length;       /* -1 when not given */
    const json_t *hashes; /* NULL when not given */
};
/* PAWL_TUF_NOTFOUND when md's meta has no entry `fname`. */
int pawl__tuf_metafile(const struct tuf_md *md, const char *fname, struct tuf_metafile *mf);

/* Checks data against an optional length (-1: none) and optional hashes
 * (alg -> lowercase hex). Unknown algorithms fail. */
int pawl__tuf_check_data(const json_t *hashes, int64_t length, const uint8_t *data, size_t n,
                         const char *what, char *err, size_t errn);

/* Incremental hashing for a target's hashes (no heap). */
union tuf_hash_ctx {
    struct sha256_ctx sha256;
    struct sha512_ctx sha512;
};
struct tuf_hasher {
    size_t n;
    const struct nettle_hash *alg[PAWL_TUF_MAX_HASHES];
    union tuf_hash_ctx ctx[PAWL_TUF_MAX_HASHES];
    uint64_t total;
};
int pawl__tuf_hasher_init(struct tuf_hasher *h, const struct pawl_tuf_target *t, char *err,
                          size_t errn);
void pawl__tuf_hasher_update(struct tuf_hasher *h, const uint8_t *p, size_t n);
/* Compares length and digests with t. */
int pawl__tuf_hasher_finish(struct tuf_hasher *h, const struct pawl_tuf_target *t, char *err,
                            size_t errn);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void pawl__tuf_hex(const uint8_t *p, size_t n, char *out);

/* A delegation path pattern against a target path (and a TAP 4 mapping's
 * paths): part by part between '/', the same number of parts, each matched
 * with shell wildcards (fnmatch, no escapes). Parts of 1024 bytes or more
 * never match. */
bool pawl__tuf_path_matches(const char *pattern, const char *path);

/* Fills t from entry `path` of a targets document's "targets". */
int pawl__tuf_target_info(const struct tuf_md *targets, const char *path,
                          struct pawl_tuf_target *t);

/* The delegations of targets md that apply to path, in order: calls fn for
 * each (role name, terminating). fn returning nonzero stops the walk. */
void pawl__tuf_roles_for_target(const struct tuf_md *md, const char *path,
                                int (*fn)(void *ctx, const char *role, bool terminating),
                                void *ctx);

/* Files: a new temporary file in dir (its name in tmp); fsync fd, close
 * it, rename tmp to path and fsync dir (tmp is removed if that fails). */
int pawl__tuf_make_temp(const char *dir, char *tmp, size_t cap);
int pawl__tuf_commit_temp(int fd, const char *tmp, const char *path, const char *dir);

/* The trusted set (specification 5.3 to 5.6): what the client trusts now.
 * Each update checks the new document fully before it replaces anything. */
struct tuf_deleg {
    char *name;
    const struct tuf_md *parent; /* trusted as delegated by this document */
    struct tuf_md md;
};
struct tuf_trusted {
    struct tuf_md root, timestamp, snapshot, targets;
    bool has_timestamp, has_snapshot, has_targets;
    struct tuf_deleg **deleg; /* each allocated alone: md pointers stay valid */
    size_t ndeleg, cap;
    int64_t now; /* 0: time(NULL) */
};

int pawl__tuf_trusted_init(struct tuf_trusted *ts, const uint8_t *root, size_t n, int64_t now,
                           char *err, size_t errn);
void pawl__tuf_trusted_free(struct tuf_trusted *ts);
int pawl__tuf_update_root(struct tuf_trusted *ts, const uint8_t *data, size_t n, char *err,
                          size_t errn);
/* After the last root: fails when the trusted root has expired. */
int pawl__tuf_check_final_root(struct tuf_trusted *ts, char *err, size_t errn);
/* 1 when data has the trusted timestamp's version (kept, nothing to save). */
int pawl__tuf_update_timestamp(struct tuf_trusted *ts, const uint8_t *data, size_t n, char *err,
                               size_t errn);
/* trusted: the bytes come from the local store (no length/hash check). */
int pawl__tuf_update_snapshot(struct tuf_trusted *ts, const uint8_t *data, size_t n,
                              bool trusted, char *err, size_t errn);
/* parent: the trusted document delegating to role, NULL for top-level
 * targets (which root delegates). A role reached through two delegators
 * is verified, and trusted, once per delegator. */
int pawl__tuf_update_targets(struct tuf_trusted *ts, const uint8_t *data, size_t n,
                             const char *role, const struct tuf_md *parent, char *err,
                             size_t errn);
/* The trusted targets document of role as parent delegates it, or NULL. */
struct tuf_md *pawl__tuf_trusted_role(struct tuf_trusted *ts, const char *role,
                                      const struct tuf_md *parent);
int64_t pawl__tuf_now(const struct tuf_trusted *ts);

#endif
