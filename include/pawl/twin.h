/* pawl/twin.h: each vehicle's last reported state (its digital twin).
 *
 * Fed by telemetry lines (docs/formats/ocsf-profile.md):
 *   {"time":1763800000123,"vin":"1HGCM82633A004352",
 *    "signals":{"Vehicle.Speed":0.0,"Vehicle.Cabin.Door.Row1.DriverSide.IsLocked":true}}
 * Numeric and boolean signals are kept (booleans as 0/1) with the line's
 * time; other value types (strings, objects) are counted and skipped. A value
 * older than the one held is ignored, so out-of-order telemetry cannot roll a
 * vehicle's state back. Memory is bounded by max_vehicles and
 * PAWL_TWIN_MAX_SIGNALS per vehicle. */
#ifndef PAWL_TWIN_H
#define PAWL_TWIN_H

#include "pawl/common.h"

#define PAWL_TWIN_MAX_SIGNALS 64     /* distinct signals kept per vehicle */
#define PAWL_TWIN_MAX_NAMES 4096     /* distinct signal names overall */
#define PAWL_TWIN_MAX_LINE 65536

struct pawl_twin;

/* True when name is a VSS signal path: "Vehicle" then one or more
 * ".Segment" of [A-Za-z0-9_], at most 256 bytes. */
bool pawl_vss_path_valid(pawl_str name);

struct pawl_twin_stats {
    size_t vehicles;
    uint64_t updates, stale_ignored, skipped_values;
};

PAWL_MUST_CHECK pawl_err pawl_twin_new(size_t max_vehicles, struct pawl_twin **out);
void pawl_twin_free(struct pawl_twin *t);

/* Id of a VSS signal name (interned); 0 when the name is invalid or the name
 * table is full. Ids are stable for the twin's lifetime. */
uint16_t pawl_twin_signal(struct pawl_twin *t, pawl_str name);

/* Record vin's signal value at time_ms. */
PAWL_MUST_CHECK pawl_err pawl_twin_set(struct pawl_twin *t, pawl_str vin, uint16_t sig,
                                       double value, int64_t time_ms);

/* Apply one telemetry line; where/lineno label diagnostics. */
PAWL_MUST_CHECK pawl_err pawl_twin_update_line(struct pawl_twin *t, const char *line, size_t n,
                                               const char *where, unsigned lineno,
                                               struct pawl_diag *d);

/* What live telemetry must satisfy to be trusted (a vehicle reporting over
 * the network, not a log being replayed). */
struct pawl_twin_limits {
    const char *expected_vin; /* the sender's VIN (its certificate, its topic), or NULL */
    int64_t now_ms;           /* the receiver's clock */
    int64_t max_future_ms;    /* a line from further ahead is refused (default 30 s) */
    double max_accel_kmh_s;   /* speed change per second (default 40 km/h/s, about 1.1 g) */
    double max_travel_kmh;    /* position change per hour (default 400 km/h) */
};
#define PAWL_TWIN_LIMITS_DEFAULT(vin, now) {(vin), (now), 30000, 40.0, 400.0}

/* pawl_twin_update_line for live telemetry: the line is applied only when
 * it is plausible: it names expected_vin, its time is not ahead of now by
 * more than max_future_ms, and against the values the twin holds its
 * speed and position do not change faster than a car can (with 1 km/h and
 * 50 m of slack for sensor noise). A refused line (implausible, or not
 * well formed: a bad signal name or value) changes nothing; PAWL_EINVAL
 * with the reason in d. A twin that is full (max_vehicles, signals per
 * vehicle) may take part of a line: PAWL_ELIMIT. */
PAWL_MUST_CHECK pawl_err pawl_twin_update_checked(struct pawl_twin *t, const char *line, size_t n,
                                                  const struct pawl_twin_limits *lim,
                                                  struct pawl_diag *d);

/* Hints, no effect on results: start loading what pawl_twin_get(vin) reads.
 * Each step reads what the one before it loaded, so a caller spreads them
 * out: step 1 (the table slot), then 2 (the vehicle), then 3 (its signals).
 * vin is pawl_key_of(the VIN). */
void pawl_twin_prefetch(const struct pawl_twin *t, const pawl_key *vin, int step);

/* Last value of vin's signal. False when the vehicle or signal is unknown. */
bool pawl_twin_get(const struct pawl_twin *t, pawl_str vin, uint16_t sig, double *value,
                   int64_t *time_ms);
/* The same with the VIN's hash already computed (pawl_key_of). */
bool pawl_twin_get_key(const struct pawl_twin *t, const pawl_key *vin, uint16_t sig,
                       double *value, int64_t *time_ms);

void pawl_twin_stats(const struct pawl_twin *t, struct pawl_twin_stats *out);
size_t pawl_twin_memory(const struct pawl_twin *t);

#endif
