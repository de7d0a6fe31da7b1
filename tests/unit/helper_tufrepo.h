/* helper_tufrepo.h: an in-memory TUF repository for the client's tests, in
 * the manner of the conformance suite's RepositorySimulator. Every role has
 * Ed25519 keys; publishing bumps a role's version, signs it with the role's
 * signers and serves it under the names the client asks for. The fetcher
 * records every request and enforces the client's size bound; the store is
 * the client's trusted metadata, in memory. Failures abort the test. */
#ifndef PAWL_HELPER_TUFREPO_H
#define PAWL_HELPER_TUFREPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pawl/tuf.h"

#define TREPO_NOW 1700000000 /* 2023-11-14: the clock the tests run on */

struct trepo;

/* Root, timestamp, snapshot and targets v1 (one key each), published. */
struct trepo *trepo_new(bool consistent_snapshot);
void trepo_free(struct trepo *r);

/* The editable signed part of role (top-level or delegated). */
json_t *trepo_signed(struct trepo *r, const char *role);

/* A new key for role, added to root (top-level roles) or to the delegator's
 * delegations, and made a signer of role. Returns the key's index. */
int trepo_add_key(struct trepo *r, const char *role);
/* Key k signs role, or no longer does (it stays listed). */
void trepo_add_signer(struct trepo *r, const char *role, int k);
void trepo_remove_signer(struct trepo *r, const char *role, int k);
/* Removes key k from role's keyids in root (top-level roles). */
void trepo_remove_key(struct trepo *r, const char *role, int k);

/* Delegates `name` from targets role `from` for the space-separated path
 * patterns (or, with hash_prefixes, path hash prefixes), with one new key. */
void trepo_delegate(struct trepo *r, const char *from, const char *name, bool terminating,
                    const char *patterns, bool hash_prefixes);
/* Succinct hash bins of `from`: 2^bits roles prefix-XX, one shared key. */
void trepo_delegate_bins(struct trepo *r, const char *from, const char *prefix, int bits);

/* Adds an artifact to role's targets (sha256 and sha512) and serves it. */
void trepo_add_target(struct trepo *r, const char *role, const char *path, const void *data,
                      size_t n);

/* Sets (custom non-NULL, reference stolen) or removes the "custom" value of
 * target path in role's targets. Publish the role afterwards. */
void trepo_set_target_custom(struct trepo *r, const char *role, const char *path,
                             json_t *custom);
/* Sets or removes (custom NULL) the top-level "custom" field of role's
 * signed part (Uptane's Director puts the vehicle identifier there). */
void trepo_set_custom(struct trepo *r, const char *role, json_t *custom);

/* Bumps the version of each role named in the space-separated list, in
 * order, refreshes snapshot and timestamp meta, signs and serves them. With
 * meta_hashes set, snapshot and timestamp list lengths and hashes. */
void trepo_publish(struct trepo *r, const char *roles);
void trepo_set_meta_hashes(struct trepo *r, bool on);

/* The served bytes of a name ("timestamp.json", "2.root.json", "targets/a"),
 * to read or replace (tampering). */
const uint8_t *trepo_served(struct trepo *r, const char *name, size_t *n);
void trepo_serve(struct trepo *r, const char *name, const void *data, size_t n);
void trepo_unserve(struct trepo *r, const char *name);

/* The client side. */
struct pawl_tuf_fetcher trepo_fetcher(struct trepo *r);
struct pawl_tuf_store trepo_store(struct trepo *r);
/* The requests since the last call, space separated ("1.root.json ..."). */
const char *trepo_requests(struct trepo *r);
/* The client's stored copy of name, NULL if none. */
const uint8_t *trepo_stored(struct trepo *r, const char *name, size_t *n);
/* The version in the client's stored name, 0 if none. */
int64_t trepo_stored_version(struct trepo *r, const char *name);
/* Saves 1.root.json (or the given root version) as the client's root. */
void trepo_client_init(struct trepo *r, int64_t root_version);
/* A new updater over the repository at TREPO_NOW (now: 0) or `now`. */
struct pawl_tuf_updater *trepo_updater(struct trepo *r, int64_t now);
/* refresh on a new updater; returns its result (and frees it). */
int trepo_refresh(struct trepo *r, int64_t now);

#endif
