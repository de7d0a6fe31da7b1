/* pawl/uptane.h: Uptane on top of the TUF client (pawl/tuf.h), for
 * libpawl-edge. Wire formats: docs/uptane.md (pawl's POUF).
 *
 * - Repository mapping (Standard: "Repository mapping metadata"; TAP 4):
 *   a strict parser for map.json and the Primary's choice of Director and
 *   Image repository in it.
 * - Full verification (Standard: "Full verification", "How to check
 *   Targets metadata"): the Primary refreshes the Director and the Image
 *   repository with two TUF updaters and checks every image the Director
 *   orders against this vehicle and against the Image repository.
 * - ECU version reports and the vehicle version manifest (Standard: "ECU
 *   version report", "Vehicle version manifest"): made and signed on the
 *   vehicle, verified by the Director against its inventory.
 *
 * Every function that can fail returns an enum pawl_uptane_status, 0 on
 * success, else the kind of failure, with "what: detail" in err (errn
 * bytes, always NUL-terminated when errn > 0). A failure never fills an
 * output (*n is 0, outputs are zeroed) and never changes caller state. No
 * global state; pointers may not be NULL unless the comment says so. */
#ifndef PAWL_UPTANE_H
#define PAWL_UPTANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"
#include "pawl/tuf.h"

#define PAWL_UPTANE_ID_MAX 64      /* bytes of a VIN, ECU serial, hardware id, repo name */
#define PAWL_UPTANE_PATH_MAX 255   /* bytes of an image path */
#define PAWL_UPTANE_ATTACKS_MAX 256 /* bytes of a report's "attacks_detected" */
#define PAWL_UPTANE_MAX_ECUS 64    /* ECUs of one vehicle; reports in a manifest */
#define PAWL_UPTANE_MAX_TARGETS 256 /* targets in the Director's metadata */
#define PAWL_UPTANE_REPORT_MAX ((size_t)16384)  /* bytes of one version report */
#define PAWL_UPTANE_MANIFEST_MAX ((size_t)1048576) /* bytes of a manifest */
#define PAWL_UPTANE_MAP_MAX ((size_t)65536)      /* bytes of map.json */
#define PAWL_UPTANE_MAP_MAX_REPOS 8
#define PAWL_UPTANE_MAP_MAX_URLS 8
#define PAWL_UPTANE_MAP_MAX_MAPPINGS 32
#define PAWL_UPTANE_MAP_MAX_PATHS 64
#define PAWL_UPTANE_URL_MAX 1024

/* The kind of failure; with the "type of attack" where the Standard asks
 * for one ("If a check for a specific type of security attack fails"). */
enum pawl_uptane_status {
    PAWL_UPTANE_OK = 0,
    PAWL_UPTANE_EINPUT,        /* malformed input or argument; a bound exceeded */
    PAWL_UPTANE_ENOMEM,
    PAWL_UPTANE_EREPO,         /* a repository's TUF metadata was refused (rollback,
                                * freeze, arbitrary software...): pawl_tuf_error */
    PAWL_UPTANE_EMAPPING,      /* map.json does not require Director and Image */
    PAWL_UPTANE_EDELEGATION,   /* the Director's targets delegate */
    PAWL_UPTANE_EVEHICLE,      /* Director metadata for another vehicle */
    PAWL_UPTANE_EUNKNOWN_ECU,  /* an ECU identifier not of this vehicle / inventory */
    PAWL_UPTANE_EDUPLICATE_ECU, /* an ECU given two images, or reported twice */
    PAWL_UPTANE_EHARDWARE,     /* hardware identifier mismatch */
    PAWL_UPTANE_EMISSING,      /* the Image repository does not list the image */
    PAWL_UPTANE_EMISMATCH,     /* Director and Image repository disagree */
    PAWL_UPTANE_EROLLBACK,     /* release counter below the installed one */
    PAWL_UPTANE_ESIGNATURE,    /* a report or manifest signature does not verify */
    PAWL_UPTANE_EREPLAY,       /* a report counter not above the last accepted */
    PAWL_UPTANE_ETIME,         /* a report's time outside the accepted window */
    PAWL_UPTANE_EINCOMPLETE    /* an inventory ECU missing from the manifest */
};
typedef enum pawl_uptane_status pawl_uptane_status;

/* Static name, e.g. "rollback"; never NULL. */
const char *pawl_uptane_status_name(pawl_uptane_status s);

/* ---- repository mapping (TAP 4 map.json) --------------------------------- */

struct pawl_uptane_map; /* opaque: the parsed, checked map.json */

/* Parses map.json (at most PAWL_UPTANE_MAP_MAX bytes): an object with
 * exactly "repositories" (name -> non-empty array of URLs) and "mapping"
 * (non-empty array of {"paths": [patterns], "repositories": [names],
 * "threshold": 1..len(repositories), "terminating": bool}). Duplicate keys,
 * unknown keys, a wrong type, an empty string, an undefined or repeated
 * repository name and every bound above are errors that say where. On
 * success *out is the caller's to free with pawl_uptane_map_free. */
PAWL_MUST_CHECK pawl_uptane_status pawl_uptane_map_parse(const uint8_t *data, size_t n,
                                                         struct pawl_uptane_map **out,
                                                         char *err, size_t errn);
void pawl_uptane_map_free(struct pawl_uptane_map *m); /* NULL is fine */

/* The URLs of repository `name` (pointers valid until the map is freed):
 * up to cap of them in urls; returns how many the map lists, 0 if none. */
size_t pawl_uptane_map_urls(const struct pawl_uptane_map *m, const char *name,
                            const char **urls, size_t cap);

/* Whether the first mapping whose paths match `path` requires exactly the
 * Director and the Image repository with threshold 2 (the Standard's basic
 * case, the only consensus pawl implements). PAWL_UPTANE_EMAPPING if it
 * requires anything else or no mapping matches. Patterns match part by
 * part between '/' with shell wildcards, as TUF delegations do. */
PAWL_MUST_CHECK pawl_uptane_status pawl_uptane_map_check(const struct pawl_uptane_map *m,
                                                         const char *path, const char *director,
                                                         const char *image, char *err,
                                                         size_t errn);

/* ---- full verification on the Primary ------------------------------------ */

struct pawl_uptane_ecu {
    const char *serial;      /* the ECU identifier the Director uses */
    const char *hardware_id;
    uint64_t release_counter; /* of the installed image: updates never go below it */
};

/* A Primary's configuration. With map NULL every image needs both
 * repositories (the basic case); else director_name and image_name name
 * the two repositories in map and every Director target must pass
 * pawl_uptane_map_check. */
struct pawl_uptane_primary {
    const char *vin;
    const struct pawl_uptane_ecu *ecus; /* distinct serials; at most PAWL_UPTANE_MAX_ECUS */
    size_t necus;
    const struct pawl_uptane_map *map;
    const char *director_name, *image_name;
};

/* One image to install: on which ECU, the target as the Image repository
 * lists it (download it with pawl_tuf_fetch_target on the Image updater),
 * and its release counter. Strings point into primary->ecus and into the
 * Image updater's metadata: valid until its next refresh or free. */
struct pawl_uptane_install {
    const char *ecu_serial;
    struct pawl_tuf_target target;
    uint64_t release_counter;
};

/* Full verification: refreshes director, checks its targets (no
 * delegations; the vehicle identifier "vin" in the top-level custom equals
 * p->vin; every ECU identifier is one of p's ECUs, with its hardware id,
 * and gets at most one image; release counters not below the installed
 * ones), then refreshes image and checks each Director target against the
 * same path there, found through the delegations: same length, the same
 * digest for every hash algorithm both list (at least one in common), the
 * same release counter, and the ECU's hardware id among the Image
 * repository's "hardwareIds" when it lists them.
 *
 * The vehicle identifier is the "vin" of the "custom" object in the
 * signed part of the Director's targets (pawl_tuf_top_custom): required,
 * and equal to p->vin, even when the Director orders nothing.
 *
 * On success out[0..*n) holds one entry per (ECU, image) in the Director's
 * order (*n may be 0: nothing to install); cap must be at least the number
 * of ECUs the Director addresses (PAWL_UPTANE_MAX_ECUS always suffices).
 * On any failure nothing is to be installed: *n is 0 and err names the
 * ECU and the target. */
PAWL_MUST_CHECK pawl_uptane_status
pawl_uptane_full_verify(const struct pawl_uptane_primary *p, struct pawl_tuf_updater *director,
                        struct pawl_tuf_updater *image, struct pawl_uptane_install *out,
                        size_t cap, size_t *n, char *err, size_t errn);

/* ---- ECU version reports and the vehicle version manifest ---------------- */

/* An image as targets metadata describes it (the non-custom part). */
struct pawl_uptane_image {
    char path[PAWL_UPTANE_PATH_MAX + 1];
    uint64_t length;
    size_t nhashes; /* 1..PAWL_TUF_MAX_HASHES */
    struct {
        char alg[16];  /* e.g. "sha256" */
        char hex[129]; /* lowercase hex */
    } hashes[PAWL_TUF_MAX_HASHES];
};

/* The signed content of an ECU version report. */
struct pawl_uptane_report {
    char ecu_serial[PAWL_UPTANE_ID_MAX + 1];
    struct pawl_uptane_image installed;
    uint64_t counter; /* report counter: above every earlier report's; <= INT64_MAX */
    int64_t time;     /* the latest time the ECU can verify, seconds since the epoch */
    char attacks[PAWL_UPTANE_ATTACKS_MAX + 1]; /* attacks detected, "" if none */
};

/* Signs with an Ed25519 key: sign() writes the 64-byte signature of msg and
 * returns 0. The private key may live in another process or an HSM. */
struct pawl_uptane_signer {
    uint8_t public_key[32];
    int (*sign)(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[64]);
    void *ctx;
};

/* A signer over a private key in this process: seed is the 32-byte Ed25519
 * private key and must outlive s (s->ctx points to it). Fills the public
 * key. */
PAWL_MUST_CHECK pawl_uptane_status pawl_uptane_seed_signer(struct pawl_uptane_signer *s,
                                                           const uint8_t *seed);

/* The TUF key id of an Ed25519 public key (SHA-256 of the canonical JSON
 * key object), 64 hex digits and a NUL. */
void pawl_uptane_keyid(const uint8_t public_key[32], char keyid[65]);

/* A signed report (docs/uptane.md) as JSON text in out (cap bytes; *n
 * bytes written, plus a NUL). Every field is checked as the verify side
 * checks it. */
PAWL_MUST_CHECK pawl_uptane_status pawl_uptane_report_make(const struct pawl_uptane_report *r,
                                                           const struct pawl_uptane_signer *s,
                                                           char *out, size_t cap, size_t *n,
                                                           char *err, size_t errn);

/* The vehicle version manifest, signed by the Primary: vin, the Primary's
 * serial and the nreports signed reports (each as received, JSON text of
 * report_lens[i] bytes, parsed strictly but not verified: the Director
 * does that). */
PAWL_MUST_CHECK pawl_uptane_status
pawl_uptane_manifest_make(const char *vin, const char *primary_serial,
                          const char *const *reports, const size_t *report_lens,
                          size_t nreports, const struct pawl_uptane_signer *s, char *out,
                          size_t cap, size_t *n, char *err, size_t errn);

/* The Director's inventory of one vehicle. */
struct pawl_uptane_known_ecu {
    const char *serial;
    uint8_t public_key[32]; /* the ECU key (Ed25519) */
    uint64_t last_counter;  /* highest report counter accepted so far (0: none) */
};
struct pawl_uptane_inventory {
    const char *vin;
    const char *primary_serial; /* one of ecus */
    const struct pawl_uptane_known_ecu *ecus;
    size_t necus;
    int64_t now;     /* seconds since the epoch */
    int64_t max_age; /* reports older or newer than now by more are refused; 0: no check */
};

/* Verifies one report against the ECU that should have signed it: strict
 * schema, the ECU's serial, its signature, counter > last_counter. */
PAWL_MUST_CHECK pawl_uptane_status
pawl_uptane_report_verify(const struct pawl_uptane_known_ecu *ecu, const uint8_t *data,
                          size_t n, struct pawl_uptane_report *out, char *err, size_t errn);

/* The Director's check of a manifest: strict schema; the VIN and the
 * Primary's serial are the inventory's; the Primary's signature; each
 * report from an inventory ECU, at most once, signed by that ECU, with a
 * counter above its last_counter and (max_age) a time near now; every
 * inventory ECU reported. On success out[0..*n) holds the reports in the
 * manifest's order (cap >= the number of reports); the caller then stores
 * each counter as that ECU's last_counter. */
PAWL_MUST_CHECK pawl_uptane_status
pawl_uptane_manifest_verify(const struct pawl_uptane_inventory *inv, const uint8_t *data,
                            size_t n, struct pawl_uptane_report *out, size_t cap, size_t *nout,
                            char *err, size_t errn);

#endif
