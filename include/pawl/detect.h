/* pawl/detect.h: streaming detectors over API requests (pawl/discover.h
 * events), with bounded memory per principal and per source address. Each
 * finding becomes a Detection Finding line (docs/formats/ocsf-profile.md).
 * No I/O; pawl analyze feeds them from logs (docs/detection.md lists every
 * detector, its rationale and parameters). */
#ifndef PAWL_DETECT_H
#define PAWL_DETECT_H

#include <stdint.h>

#include "pawl/common.h"
#include "pawl/discover.h"
#include "pawl/grants.h"

#define PAWL_FINDING_MAX_VINS 8

struct pawl_finding {
    const char *detector;          /* "bola", "vin_fan_out", ... */
    const char *owasp_uid, *owasp_name;
    char title[200];
    char principal[128];           /* "" when the finding is about an address */
    char src_ip[64];
    char vins[PAWL_FINDING_MAX_VINS][PAWL_VIN_LEN + 1];
    unsigned nvins;
    int64_t time_ms;               /* the event that raised it */
    int severity;                  /* OCSF severity_id 1..6 */
    int confidence;                /* 1 low, 2 medium, 3 high */
    uint64_t related;              /* events that support it */
    bool repeat;                   /* within the cooldown of an earlier finding (report_repeats only) */
};

/* Thresholds; PAWL_DETECT_DEFAULTS are the documented defaults. */
struct pawl_detect_config {
    size_t max_principals, max_addresses; /* tracked at once; beyond: counted, not tracked */
    unsigned fan_out_1h, fan_out_24h;     /* distinct ungranted VINs per principal */
    unsigned enumeration_run;             /* consecutive ids (n, n+1, ...) in a row */
    unsigned stuffing_users, stuffing_failures; /* per address in 10 minutes */
    unsigned token_addresses;             /* distinct addresses per principal in 1 hour */
    unsigned token_countries;
    unsigned cadence_min;                 /* requests before the cadence is judged */
    int64_t cooldown_ms;                  /* one finding per detector and subject in this time */
    size_t max_vehicles;                  /* vehicles tracked (ownership changes, speed) */
    int64_t change_window_ms;             /* ownership change then command within this */
    bool report_repeats;                  /* also hand findings the cooldown holds back, marked
                                           * repeat: not to be written again, but a block can go
                                           * on while the behaviour does (pawld) */
};
#define PAWL_DETECT_DEFAULTS {200000, 100000, 20, 50, 8, 10, 10, 6, 3, 30, 6 * 3600 * 1000LL, \
                              500000, 30 * 60 * 1000LL, false}

/* Every detector's name (docs/detection.md), i < PAWL_DETECTORS; NULL past
 * the last. */
#define PAWL_DETECTORS 11
const char *pawl_detector_name(unsigned i);
/* The i whose pawl_detector_name is name; PAWL_DETECTORS when none is. */
unsigned pawl_detector_index(const char *name);

typedef void (*pawl_finding_cb)(void *ctx, const struct pawl_finding *f);

struct pawl_detector;

/* grants (may be NULL) tell which principal may touch which vehicle; the
 * detector does not own them. */
PAWL_MUST_CHECK pawl_err pawl_detector_new(const struct pawl_detect_config *cfg,
                                           const struct pawl_grants *grants,
                                           struct pawl_detector **out);
void pawl_detector_free(struct pawl_detector *d);

/* Points the detectors at other grants (a reload); NULL: none. */
void pawl_detector_set_grants(struct pawl_detector *d, const struct pawl_grants *grants);

/* One event, in time order; findings go to cb as they are raised. */
void pawl_detector_feed(struct pawl_detector *d, const struct pawl_api_event *e, pawl_finding_cb cb,
                        void *ctx);

/* A vehicle's speed (telemetry, docs/formats/ocsf-profile.md), fed in time
 * order together with the events: commands that contradict it are found. */
void pawl_detector_telemetry(struct pawl_detector *d, pawl_str vin, int64_t time_ms, double speed_kmh);

/* The detectors' state, so that it survives a restart: every tracked
 * principal, address and vehicle with its windows and counters. write and
 * read move bytes (the caller's I/O; 0 on success). The state is for the
 * same build and the same limits (max_principals, max_addresses,
 * max_vehicles); anything else is refused with d set. */
PAWL_MUST_CHECK pawl_err pawl_detector_save(const struct pawl_detector *det,
                                            int (*write)(void *ctx, const void *p, size_t n), void *ctx);
PAWL_MUST_CHECK pawl_err pawl_detector_load(struct pawl_detector *det,
                                            int (*read)(void *ctx, void *p, size_t n), void *ctx,
                                            const char *where, struct pawl_diag *d);

/* Principals and addresses seen but not tracked (over the limits). */
uint64_t pawl_detector_untracked(const struct pawl_detector *d);

/* The Detection Finding object of f (class 2004), with uid as
 * finding_info.uid. A new object (decref), NULL on allocation failure. */
json_t *pawl_finding_json(const struct pawl_finding *f, const char *uid);

#endif
