/* pawl/tuf.h: a TUF 1.0 client (The Update Framework, specification
 * section 5, "Detailed client workflow") for libpawl-edge.
 *
 * The client trusts nothing it fetched until the keys of the right role
 * have signed it: root rotates through every intermediate version, the
 * timestamp, snapshot and targets are checked for version, length, hashes
 * and expiry, and delegations are walked in the specification's order
 * (pre-order, depth first, terminating roles, path patterns and succinct
 * hash bins). Keys: ed25519, ecdsa (P-256, PEM SPKI; scheme
 * ecdsa-sha2-nistp256) and rsa (PEM; rsassa-pss-sha256). Hashes: sha256
 * and sha512.
 *
 * I/O goes through two small interfaces so that a vehicle can bring its
 * own: a fetcher (plain HTTP in pawl_tuf_http_fetcher, HTTP(S) by libcurl in
 * pawl_tuf_curl_fetcher) and a store
 * for trusted metadata (a directory in pawl_tuf_dir_store). Bad input never
 * changes the trusted state: a document is checked in full before it
 * replaces the one it updates, and only then written to the store.
 *
 * Errors: functions return 0 on success, PAWL_TUF_NOTFOUND where noted,
 * or -1, with "what: detail" in the updater's error buffer
 * (pawl_tuf_error). */
#ifndef PAWL_TUF_H
#define PAWL_TUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAWL_TUF_NOTFOUND (-2) /* the fetcher or store has no such item */

/* Default upper bounds, in bytes, of each download whose length the
 * metadata does not give (python-tuf's defaults). */
#define PAWL_TUF_ROOT_MAX ((uint64_t)512000)
#define PAWL_TUF_TIMESTAMP_MAX ((uint64_t)16384)
#define PAWL_TUF_SNAPSHOT_MAX ((uint64_t)2000000)
#define PAWL_TUF_TARGETS_MAX ((uint64_t)5000000)
#define PAWL_TUF_MAX_ROOT_ROTATIONS 256u
#define PAWL_TUF_MAX_DELEGATIONS 32u

/* Receives a download's bytes in order; nonzero stops the transfer. */
typedef int (*pawl_tuf_sink_fn)(void *sctx, const uint8_t *p, size_t n);

/* The transport. fetch() streams the body of `url` to sink and must stop,
 * with an error, once more than `max` bytes arrived. Returns 0,
 * PAWL_TUF_NOTFOUND when the server says the item does not exist (HTTP 403
 * or 404), or -1 with a message in err. */
struct pawl_tuf_fetcher {
    int (*fetch)(void *ctx, const char *url, uint64_t max, pawl_tuf_sink_fn sink, void *sctx,
                 char *err, size_t errn);
    void *ctx;
};

/* The trusted metadata store: `name` is a file name such as "root.json"
 * (delegated role names are percent-encoded, so it never holds a '/').
 * load() returns a malloc'd copy in *data (the caller frees it),
 * PAWL_TUF_NOTFOUND, or -1 (also when the item exceeds max). save()
 * replaces the item atomically: after a crash the old or the new bytes are
 * there, never a mix. */
struct pawl_tuf_store {
    int (*load)(void *ctx, const char *name, uint64_t max, uint8_t **data, size_t *n, char *err,
                size_t errn);
    int (*save)(void *ctx, const char *name, const uint8_t *data, size_t n, char *err,
                size_t errn);
    void *ctx;
};

struct pawl_tuf_config {
    const char *metadata_url; /* base URL of the metadata; a '/' is added if missing */
    const char *targets_url;  /* base URL of the targets (may be NULL if never downloading) */
    uint64_t root_max, timestamp_max, snapshot_max, targets_max; /* 0: the defaults above */
    unsigned max_root_rotations;                                  /* 0: default */
    unsigned max_delegations;                                     /* 0: default */
    int64_t now; /* seconds since the epoch for expiry checks; 0: time(NULL) at each check */
};

/* One target as the trusted metadata describes it. Strings point into the
 * updater's metadata and stay valid until the next refresh or free. */
#define PAWL_TUF_MAX_HASHES 4
struct pawl_tuf_target {
    const char *path;
    uint64_t length;
    size_t nhashes;
    struct {
        const char *alg; /* as named in the metadata; unknown ones fail verification */
        const char *hex;
    } hashes[PAWL_TUF_MAX_HASHES];
    const void *custom; /* the target's "custom" value (a jansson json_t *), or NULL */
};

struct pawl_tuf_updater;

/* A new updater over a store that already holds a trusted root.json (see
 * pawl_tuf_init_root). Copies the config strings. NULL on out of memory. */
struct pawl_tuf_updater *pawl_tuf_new(const struct pawl_tuf_config *cfg,
                                      const struct pawl_tuf_fetcher *f,
                                      const struct pawl_tuf_store *s);
void pawl_tuf_free(struct pawl_tuf_updater *u);

/* The last error, "" if none. */
const char *pawl_tuf_error(const struct pawl_tuf_updater *u);

/* Checks that `root` (n bytes) is a root document signed by a threshold of
 * its own root keys and saves it as the store's root.json. Returns 0 or -1
 * with a message in err. */
int pawl_tuf_init_root(const struct pawl_tuf_store *s, const uint8_t *root, size_t n, char *err,
                       size_t errn);

/* The client workflow: root (every intermediate version), timestamp,
 * snapshot, top-level targets. 0 or -1. A second call on the same updater
 * refreshes again. */
int pawl_tuf_refresh(struct pawl_tuf_updater *u);

/* Looks `path` up through the delegations (refreshing first if this
 * updater has not). 0 with *t filled, PAWL_TUF_NOTFOUND when no trusted
 * role lists it, -1 on an error (which leaves the trusted state as it was). */
int pawl_tuf_find_target(struct pawl_tuf_updater *u, const char *path, struct pawl_tuf_target *t);

/* Calls fn for each target the top-level targets role itself lists (not
 * its delegations), in the document's order, after a successful refresh;
 * fn returning nonzero stops the walk and is returned. -1 if this updater
 * has no trusted targets. *delegates tells whether targets delegates. */
int pawl_tuf_top_targets(struct pawl_tuf_updater *u,
                         int (*fn)(void *ctx, const struct pawl_tuf_target *t), void *ctx,
                         bool *delegates);

/* The "custom" value of the trusted top-level targets' signed part (a
 * jansson json_t *; Uptane's Director puts the vehicle identifier there),
 * or NULL when it has none or this updater has no trusted targets. */
const void *pawl_tuf_top_custom(const struct pawl_tuf_updater *u);

/* Streams target t from the targets URL through sink, verifying length and
 * every hash as it goes. Returns 0 only when everything matched; the sink
 * may have seen bytes of a failed download, so commit nothing before 0. */
int pawl_tuf_fetch_target(struct pawl_tuf_updater *u, const struct pawl_tuf_target *t,
                          pawl_tuf_sink_fn sink, void *sctx);

/* Downloads t to dir/<percent-encoded path> through a temporary file in dir
 * that is renamed only after verification (fsync'd). If that file already
 * exists with the right length and hashes, nothing is fetched and *cached
 * is set. */
int pawl_tuf_download_target(struct pawl_tuf_updater *u, const struct pawl_tuf_target *t,
                             const char *dir, bool *cached);

/* Checks a file against t (length and every hash). 0, or -1 with err. */
int pawl_tuf_check_file(const char *file, const struct pawl_tuf_target *t, char *err,
                        size_t errn);

/* Percent-encodes name as Python's urllib.parse.quote(name, safe="")
 * does: every byte but A-Z a-z 0-9 and "_.-~". Returns the length, or 0 if
 * out (of size cap) is too small. */
size_t pawl_tuf_quote(const char *name, char *out, size_t cap);

/* The stores and transport of a Linux host. */

/* Metadata in directory dir (which must exist); files written through a
 * temporary file, fsync and rename. The store keeps a pointer to dir. */
struct pawl_tuf_store pawl_tuf_dir_store(const char *dir);

/* Plain HTTP, the small fetcher (pawl-tuf-client uses it): responses parsed
 * by http-parser, one connection per download, a 30 s connect timeout, at
 * most 30 s of silence while reading and a floor of 1 byte/s on average
 * after 30 s, redirects not followed, https:// URLs refused with an error. */
struct pawl_tuf_fetcher pawl_tuf_http_fetcher(void);

/* HTTP(S) by libcurl: TLS peers verified against the system CAs, redirects
 * not followed, a 30 s connect timeout and a floor of 1 byte/s over 30 s.
 * Call pawl_tuf_curl_global_init once before threads. */
int pawl_tuf_curl_global_init(void);
struct pawl_tuf_fetcher pawl_tuf_curl_fetcher(void);

#endif
