/* pawl/ota.h: the OEM side of TUF 1.0 (The Update Framework): keys,
 * signatures and the metadata of a repository (root, targets, delegated
 * targets roles and succinct hash bins, snapshot, timestamp), in the exact
 * formats python-tuf writes and every TUF 1.0 client (pawl/tuf.h among
 * them) reads.
 *
 * Metadata is built as jansson objects (the "signed" part of a document)
 * and serialized by pawl_ota_sign, which signs the canonical JSON of
 * "signed" (securesystemslib's form). Signing goes through a
 * pawl_ota_signer so that a key can live outside the process (a PKCS#11
 * vault); pawl_ota_signer_openssl wraps an in-memory private key. No I/O,
 * no global state.
 *
 * Errors: every function that can fail returns a pawl_err and, when d is
 * not NULL, fills d with what and where ("root: role 'snapshot' ..."). On
 * failure, outputs are untouched (out pointers stay NULL) unless noted.
 * NULL policy: arguments are never NULL unless the comment says so. */
#ifndef PAWL_OTA_H
#define PAWL_OTA_H

#include <jansson.h>
#include <openssl/evp.h>

#include "pawl/common.h"

#define PAWL_OTA_SPEC_VERSION "1.0.31"
#define PAWL_OTA_KEYID_LEN 64      /* lowercase hex SHA-256 */
#define PAWL_OTA_SIG_MAX 1024      /* bytes of one raw signature (RSA up to 8192 bits) */
#define PAWL_OTA_MAX_SIGNERS 64    /* signatures on one document */
#define PAWL_OTA_RSA_MIN_BITS 2048
#define PAWL_OTA_RSA_MAX_BITS 8192
#define PAWL_OTA_NAME_MAX 255      /* bytes of a role name and of its file name */
#define PAWL_OTA_PATH_MAX 1024     /* bytes of a target path */
#define PAWL_OTA_MAX_BIT_LENGTH 32 /* succinct hash bins: 2^32 bins at most */
#define PAWL_OTA_EXPIRES_LEN 21    /* "YYYY-MM-DDTHH:MM:SSZ" and a NUL */

/* ---- keys and signers ------------------------------------------------------ */

/* Something that signs TUF metadata with one key.
 *
 * keytype/scheme: "ed25519"/"ed25519", "ecdsa"/"ecdsa-sha2-nistp256" or
 * "rsa"/"rsassa-pss-sha256" (static strings).
 * public_key: the TUF key object {"keytype", "scheme", "keyval":
 * {"public"}} (owned; released by pawl_ota_signer_clear).
 * keyid: lowercase hex SHA-256 of the canonical JSON of public_key, NUL
 * terminated (pawl_ota_keyid).
 * sign: writes the raw signature of msg (Ed25519 over msg; DER ECDSA over
 * SHA-256(msg); RSASSA-PSS with SHA-256, MGF1-SHA256, salt length 32) to
 * sig. *siglen is the capacity on entry (PAWL_OTA_SIG_MAX) and the length
 * on return. Returns 0, or -1 on any failure.
 * release: called with ctx by pawl_ota_signer_clear; may be NULL.
 *
 * A vault implements sign, sets keytype, scheme and public_key
 * (pawl_ota_key_from_pkey over its public key) and fills keyid with
 * pawl_ota_keyid. */
struct pawl_ota_signer {
    const char *keytype, *scheme;
    char keyid[PAWL_OTA_KEYID_LEN + 1];
    json_t *public_key;
    int (*sign)(void *ctx, const uint8_t *msg, size_t n, uint8_t *sig, size_t *siglen);
    void (*release)(void *ctx);
    void *ctx;
};

/* The TUF key object of a public (or private: only its public half is
 * used) key: Ed25519 (keyval.public = 64 hex digits of the raw key), EC
 * P-256 or RSA of PAWL_OTA_RSA_MIN_BITS..PAWL_OTA_RSA_MAX_BITS bits
 * (keyval.public = PEM SubjectPublicKeyInfo with a final newline). Refuses
 * other key types, curves and sizes (PAWL_EINVAL). *out is new (decref). */
PAWL_MUST_CHECK pawl_err pawl_ota_key_from_pkey(EVP_PKEY *key, json_t **out,
                                                struct pawl_diag *d);

/* keyid of a TUF key object: lowercase hex SHA-256 of its canonical JSON,
 * NUL terminated. Refuses an object without string keytype, scheme and
 * keyval.public. */
PAWL_MUST_CHECK pawl_err pawl_ota_keyid(const json_t *key, char out[PAWL_OTA_KEYID_LEN + 1],
                                        struct pawl_diag *d);

/* A signer over an OpenSSL private key (the kinds pawl_ota_key_from_pkey
 * accepts, with their private half; a public key alone is refused). The
 * signer holds its own reference to key. Release with
 * pawl_ota_signer_clear. On failure *s is zeroed. */
PAWL_MUST_CHECK pawl_err pawl_ota_signer_openssl(EVP_PKEY *key, struct pawl_ota_signer *s,
                                                 struct pawl_diag *d);

/* Releases public_key and ctx (through release) and zeroes *s. s may be
 * NULL or already cleared. */
void pawl_ota_signer_clear(struct pawl_ota_signer *s);

/* ---- documents ---------------------------------------------------------------- */

/* The canonical JSON of v (sorted keys, no whitespace, only '\' and '"'
 * escaped, integers only; a real number is refused), malloc'd, not NUL
 * terminated. This is what signatures cover. */
PAWL_MUST_CHECK pawl_err pawl_ota_canonical(const json_t *v, uint8_t **out, size_t *n,
                                            struct pawl_diag *d);

/* Signs the canonical JSON of signed_ with every signer, in order, and
 * serializes {"signatures": [{"keyid", "sig": hex}...], "signed": signed_}
 * as JSON with sorted keys and an indent of 1, ending in a newline. *out is
 * malloc'd (free()), NUL terminated, *outn bytes without the NUL. Refuses
 * 0 or more than PAWL_OTA_MAX_SIGNERS signers, a keyid twice, a signer
 * that fails, and a signed_ that is not an object. signed_ is not changed. */
PAWL_MUST_CHECK pawl_err pawl_ota_sign(const json_t *signed_,
                                       const struct pawl_ota_signer *const *signers,
                                       size_t nsigners, char **out, size_t *outn,
                                       struct pawl_diag *d);

/* "YYYY-MM-DDTHH:MM:SSZ" of unix time t (UTC), years 1970..9999. */
PAWL_MUST_CHECK pawl_err pawl_ota_expires(int64_t t, char out[PAWL_OTA_EXPIRES_LEN],
                                          struct pawl_diag *d);

/* Sets "version" and "expires" (unix time) of a signed object. */
PAWL_MUST_CHECK pawl_err pawl_ota_set_version(json_t *signed_, int64_t version, int64_t expires,
                                              struct pawl_diag *d);

/* ---- root ------------------------------------------------------------------------ */

/* A new root: _type "root", spec_version PAWL_OTA_SPEC_VERSION, version
 * (>= 1), expires, consistent_snapshot, no keys, and the roles root,
 * timestamp, snapshot and targets each with no keyids and threshold 1. */
PAWL_MUST_CHECK pawl_err pawl_ota_root_new(int64_t version, int64_t expires,
                                           bool consistent_snapshot, json_t **out,
                                           struct pawl_diag *d);

/* ---- roles that delegate: root and targets ----------------------------------------
 *
 * `delegator` is the signed object of a root (role: root, timestamp,
 * snapshot or targets) or of a targets role (role: the name of one of its
 * delegations; NULL for its succinct_roles). */

/* Adds key (a TUF key object, copied) to delegator's "keys" and its keyid
 * to role's keyids. Refuses a key the role already lists. */
PAWL_MUST_CHECK pawl_err pawl_ota_add_key(json_t *delegator, const char *role, const json_t *key,
                                          struct pawl_diag *d);

/* Removes keyid from role's keyids, and the key from "keys" once no role
 * of delegator lists it. Refuses a keyid the role does not list and
 * removing a key below the role's threshold. */
PAWL_MUST_CHECK pawl_err pawl_ota_remove_key(json_t *delegator, const char *role,
                                             const char *keyid, struct pawl_diag *d);

/* Sets role's threshold; refuses a threshold below 1 or above the number of
 * keyids the role lists. */
PAWL_MUST_CHECK pawl_err pawl_ota_set_threshold(json_t *delegator, const char *role,
                                                int64_t threshold, struct pawl_diag *d);

/* The role's keyids (array, borrowed) and threshold; PAWL_ENOTFOUND when
 * delegator has no such role. */
PAWL_MUST_CHECK pawl_err pawl_ota_role_keys(const json_t *delegator, const char *role,
                                            const json_t **keyids, int64_t *threshold,
                                            struct pawl_diag *d);

/* ---- targets ---------------------------------------------------------------------- */

/* A new targets document: _type "targets", spec_version, version, expires,
 * an empty "targets" map and no delegations. */
PAWL_MUST_CHECK pawl_err pawl_ota_targets_new(int64_t version, int64_t expires, json_t **out,
                                              struct pawl_diag *d);

/* Streaming hashes of a target file: {length, hashes: {sha256, sha512}}. */
struct pawl_ota_hasher {
    EVP_MD_CTX *sha256, *sha512;
    uint64_t length;
};
PAWL_MUST_CHECK pawl_err pawl_ota_hasher_init(struct pawl_ota_hasher *h, struct pawl_diag *d);
PAWL_MUST_CHECK pawl_err pawl_ota_hasher_update(struct pawl_ota_hasher *h, const void *p,
                                                size_t n, struct pawl_diag *d);
/* The target's file info {"length", "hashes": {"sha256", "sha512"}} plus
 * "custom": custom (copied) when custom is not NULL; the raw digests when
 * sha256/sha512 are not NULL. Frees h's contexts in every case
 * (pawl_ota_hasher_free is then a no-op). */
PAWL_MUST_CHECK pawl_err pawl_ota_hasher_final(struct pawl_ota_hasher *h, const json_t *custom,
                                               json_t **info, uint8_t sha256[32],
                                               uint8_t sha512[64], struct pawl_diag *d);
void pawl_ota_hasher_free(struct pawl_ota_hasher *h);

/* The file info of n bytes in one call (see pawl_ota_hasher_final). */
PAWL_MUST_CHECK pawl_err pawl_ota_file_info(const void *data, size_t n, const json_t *custom,
                                            json_t **info, struct pawl_diag *d);

/* Whether path is a target path pawl writes: 1..PAWL_OTA_PATH_MAX bytes of
 * UTF-8, parts between '/' that are not empty, "." or "..", no leading or
 * trailing '/', no control characters and no '\'. */
PAWL_MUST_CHECK pawl_err pawl_ota_check_target_path(const char *path, struct pawl_diag *d);

/* Sets targets[path] = info (copied), replacing an existing entry. */
PAWL_MUST_CHECK pawl_err pawl_ota_targets_add(json_t *targets, const char *path,
                                              const json_t *info, struct pawl_diag *d);

/* ---- delegations ---------------------------------------------------------------- */

/* Whether name may name a delegated role: 1..PAWL_OTA_NAME_MAX bytes, not
 * root, timestamp, snapshot or targets, no control characters. */
PAWL_MUST_CHECK pawl_err pawl_ota_check_role_name(const char *name, struct pawl_diag *d);

/* An explicit delegation. Exactly one of paths (shell patterns matched part
 * by part between '/') and hash_prefixes (lowercase hex, 1..64 digits, of
 * SHA-256(target path)) has a count above 0. */
struct pawl_ota_delegation {
    const char *name;
    int64_t threshold;
    const char *const *paths;
    size_t npaths;
    const char *const *hash_prefixes;
    size_t nprefixes;
    bool terminating;
};

/* Appends the delegation to targets' delegations.roles (created as needed),
 * with the keys (TUF key objects, copied; 1..PAWL_OTA_MAX_SIGNERS of them,
 * threshold <= nkeys) in delegations.keys. Refuses a name that is taken
 * (also by a hash bin), a targets role that already has succinct_roles
 * (TUF allows one or the other), and the checks above. */
PAWL_MUST_CHECK pawl_err pawl_ota_delegate(json_t *targets, const struct pawl_ota_delegation *del,
                                           const json_t *const *keys, size_t nkeys,
                                           struct pawl_diag *d);

/* Sets targets' delegations.succinct_roles = {keyids, threshold,
 * bit_length (1..PAWL_OTA_MAX_BIT_LENGTH), name_prefix} and the keys.
 * Refuses a targets role that has explicit delegations or succinct_roles
 * already, and a bin name that would be taken or not a role name. */
PAWL_MUST_CHECK pawl_err pawl_ota_delegate_bins(json_t *targets, const char *name_prefix,
                                                unsigned bit_length, const json_t *const *keys,
                                                size_t nkeys, int64_t threshold,
                                                struct pawl_diag *d);

/* The hash bin of a target path: the first 4 bytes of SHA-256(path),
 * big-endian, shifted right by 32 - bit_length. */
uint32_t pawl_ota_bin_index(const char *path, unsigned bit_length);

/* The name of bin `index`: name_prefix "-" lowercase hex index, zero padded
 * to the number of hex digits of 2^bit_length - 1. */
PAWL_MUST_CHECK pawl_err pawl_ota_bin_name(const char *name_prefix, unsigned bit_length,
                                           uint32_t index, char *out, size_t cap,
                                           struct pawl_diag *d);

/* Whether an explicit delegation (an element of delegations.roles) covers
 * path: its paths (shell patterns part by part, as python-tuf matches) or
 * its path_hash_prefixes. */
bool pawl_ota_delegation_covers(const json_t *role, const char *path);

/* The metadata file name of a role: "NAME.json" or, when version > 0,
 * "VERSION.NAME.json", with NAME percent-encoded like Python's
 * urllib.parse.quote(name, safe=""). Refuses a name longer than
 * PAWL_OTA_NAME_MAX bytes once encoded and an out too small. */
PAWL_MUST_CHECK pawl_err pawl_ota_role_filename(const char *role, int64_t version, char *out,
                                                size_t cap, struct pawl_diag *d);

/* ---- snapshot and timestamp ------------------------------------------------------ */

/* A new snapshot with an empty "meta" map. */
PAWL_MUST_CHECK pawl_err pawl_ota_snapshot_new(int64_t version, int64_t expires, json_t **out,
                                               struct pawl_diag *d);

/* Sets meta[fname] of a snapshot or timestamp to {"version"} and, when
 * data is not NULL, "length": n and "hashes": {"sha256"} of data. fname is
 * "targets.json", "NAME.json" for a delegated role (not percent-encoded,
 * as the specification keys it) or, in a timestamp, "snapshot.json". */
PAWL_MUST_CHECK pawl_err pawl_ota_meta_set(json_t *signed_, const char *fname, int64_t version,
                                           const void *data, size_t n, struct pawl_diag *d);

/* A new timestamp whose meta names snapshot.json: version, length and
 * sha256 of the snapshot's bytes. */
PAWL_MUST_CHECK pawl_err pawl_ota_timestamp_new(int64_t version, int64_t expires,
                                                int64_t snapshot_version, const void *snapshot,
                                                size_t n, json_t **out, struct pawl_diag *d);

#endif
