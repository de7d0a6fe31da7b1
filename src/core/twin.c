/* see pawl/twin.h */
#include "pawl/twin.h"
#include "pawl/grants.h"
#include "strpool.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sigval {
    int64_t time_ms;
    double value;
    uint16_t sig;
};

struct vehicle {
    char vin[PAWL_VIN_LEN];
    uint8_t n, cap;
    struct sigval *v; /* sorted by sig */
};

struct pawl_twin {
    struct pawl__strpool names;
    uint32_t name_ids[PAWL_TWIN_MAX_NAMES + 1]; /* signal id -> pool id */
    uint16_t nnames;
    struct vehicle *veh;
    size_t nveh, capveh, max_vehicles;
    uint32_t *slots;    /* open addressing: vehicle index + 1, or 0 */
    size_t nslots;
    struct pawl_twin_stats st;
};

pawl_err pawl_twin_new(size_t max_vehicles, struct pawl_twin **out)
{
    struct pawl_twin *t = calloc(1, sizeof *t);
    if (t == NULL)
        return PAWL_ENOMEM;
    size_t ns = 1024;
    while (ns < max_vehicles * 2 && ns < ((size_t)1 << 31))
        ns *= 2;
    pawl__strpool_init(&t->names);
    t->max_vehicles = max_vehicles;
    t->nslots = ns;
    if ((t->slots = calloc(ns, sizeof *t->slots)) == NULL) {
        free(t);
        return PAWL_ENOMEM;
    }
    *out = t;
    return PAWL_OK;
}

void pawl_twin_free(struct pawl_twin *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nveh; i++)
        free(t->veh[i].v);
    free(t->veh);
    free(t->slots);
    pawl__strpool_free(&t->names);
    free(t);
}

bool pawl_vss_path_valid(pawl_str s)
{
    size_t seg = 0;
    if (s.n < 9 || s.n > 256 || memcmp(s.p, "Vehicle.", 8) != 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '.') {
            if (seg == 0 && i > 0)
                return false;
            seg = 0;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '_') {
            seg++;
        } else {
            return false;
        }
    }
    return seg > 0;
}

uint16_t pawl_twin_signal(struct pawl_twin *t, pawl_str name)
{
    if (!pawl_vss_path_valid(name))
        return 0;
    uint32_t pid = pawl__strpool_find(&t->names, name);
    for (uint16_t i = 1; pid && i <= t->nnames; i++) /* names are few; ids are cached by callers */
        if (t->name_ids[i] == pid)
            return i;
    if (t->nnames == PAWL_TWIN_MAX_NAMES || (pid = pawl__strpool_intern(&t->names, name)) == 0)
        return 0;
    t->name_ids[++t->nnames] = pid;
    return t->nnames;
}

/* Where the probe for a VIN of hash h (pawl_key_of) starts. */
static size_t home(const struct pawl_twin *t, uint64_t h)
{
    return h & (t->nslots - 1);
}

static size_t slot_of(const struct pawl_twin *t, const char *vin, uint64_t h)
{
    size_t mask = t->nslots - 1, i = home(t, h);
    while (t->slots[i] && memcmp(t->veh[t->slots[i] - 1].vin, vin, PAWL_VIN_LEN) != 0)
        i = (i + 1) & mask;
    return i;
}

static struct vehicle *vehicle_get(struct pawl_twin *t, const char *vin, bool create)
{
    size_t s = slot_of(t, vin, pawl_key_of((pawl_str){ vin, PAWL_VIN_LEN }).h);
    if (t->slots[s])
        return &t->veh[t->slots[s] - 1];
    if (!create || t->nveh == t->max_vehicles)
        return NULL;
    if (!pawl__grow(&t->veh, &t->capveh, t->nveh, sizeof *t->veh, 1024))
        return NULL;
    struct vehicle *v = &t->veh[t->nveh];
    memset(v, 0, sizeof *v);
    memcpy(v->vin, vin, PAWL_VIN_LEN);
    t->slots[s] = (uint32_t)++t->nveh;
    t->st.vehicles = t->nveh;
    return v;
}

/* Room for n signals (at most PAWL_TWIN_MAX_SIGNALS); false when out of memory. */
static bool reserve(struct vehicle *v, unsigned n)
{
    if (n <= v->cap)
        return true;
    unsigned nc = v->cap ? v->cap * 2u : 4u;
    while (nc < n)
        nc *= 2;
    if (nc > PAWL_TWIN_MAX_SIGNALS)
        nc = PAWL_TWIN_MAX_SIGNALS;
    struct sigval *nv = realloc(v->v, nc * sizeof *nv);
    if (nv == NULL)
        return false;
    v->v = nv;
    v->cap = (uint8_t)nc;
    return true;
}

static struct sigval *sig_slot(struct vehicle *v, uint16_t sig, bool create)
{
    unsigned i = 0;
    while (i < v->n && v->v[i].sig < sig)
        i++;
    if (i < v->n && v->v[i].sig == sig)
        return &v->v[i];
    if (!create || v->n == PAWL_TWIN_MAX_SIGNALS || !reserve(v, v->n + 1u))
        return NULL;
    memmove(&v->v[i + 1], &v->v[i], (v->n - i) * sizeof *v->v);
    v->n++;
    v->v[i] = (struct sigval){ INT64_MIN, 0, sig };
    return &v->v[i];
}

pawl_err pawl_twin_set(struct pawl_twin *t, pawl_str vin, uint16_t sig, double value,
                       int64_t time_ms)
{
    if (!pawl_vin_valid(vin) || sig == 0 || sig > t->nnames || !isfinite(value))
        return PAWL_EINVAL;
    struct vehicle *v = vehicle_get(t, vin.p, true);
    if (v == NULL)
        return PAWL_ELIMIT;
    struct sigval *s = sig_slot(v, sig, true);
    if (s == NULL)
        return PAWL_ELIMIT;
    if (time_ms < s->time_ms) {
        t->st.stale_ignored++;
        return PAWL_OK;
    }
    s->time_ms = time_ms;
    s->value = value;
    t->st.updates++;
    return PAWL_OK;
}

void pawl_twin_prefetch(const struct pawl_twin *t, const pawl_key *vin, int step)
{
    if (vin->s.n != PAWL_VIN_LEN)
        return;
    size_t i = home(t, vin->h);
    if (step == 1) {
        __builtin_prefetch(&t->slots[i]);
        return;
    }
    uint32_t idx = t->slots[i]; /* the first probe: most vehicles sit there */
    if (idx == 0)
        return;
    if (step == 2)
        __builtin_prefetch(&t->veh[idx - 1]);
    else if (t->veh[idx - 1].v != NULL)
        __builtin_prefetch(t->veh[idx - 1].v);
}

bool pawl_twin_get_key(const struct pawl_twin *t, const pawl_key *vin, uint16_t sig,
                       double *value, int64_t *time_ms)
{
    if (vin->s.n != PAWL_VIN_LEN)
        return false;
    uint32_t idx = t->slots[slot_of(t, vin->s.p, vin->h)];
    if (idx == 0)
        return false;
    const struct vehicle *v = &t->veh[idx - 1];
    for (unsigned i = 0; i < v->n; i++)
        if (v->v[i].sig == sig) {
            *value = v->v[i].value;
            *time_ms = v->v[i].time_ms;
            return true;
        }
    return false;
}

bool pawl_twin_get(const struct pawl_twin *t, pawl_str vin, uint16_t sig, double *value,
                   int64_t *time_ms)
{
    pawl_key k = pawl_key_of(vin);
    return pawl_twin_get_key(t, &k, sig, value, time_ms);
}

void pawl_twin_stats(const struct pawl_twin *t, struct pawl_twin_stats *out)
{
    *out = t->st;
}

size_t pawl_twin_memory(const struct pawl_twin *t)
{
    size_t m = sizeof *t + t->nslots * sizeof *t->slots + t->capveh * sizeof *t->veh +
               t->names.cap + t->names.nslots * sizeof(uint32_t);
    for (size_t i = 0; i < t->nveh; i++)
        m += t->veh[i].cap * sizeof(struct sigval);
    return m;
}

static pawl_err line_err(struct pawl_diag *d, const char *where, unsigned lineno, const char *msg)
{
    pawl__diagf(d, where, lineno, 0, "%s", msg);
    return PAWL_EINVAL;
}

/* Every kept value's name is a VSS path and the value finite: checked
 * before anything is applied, so a bad line changes nothing. */
static pawl_err check_signals(json_t *sigs, const char *where, unsigned lineno, struct pawl_diag *d)
{
    const char *name;
    json_t *val;
    json_object_foreach(sigs, name, val) {
        if (!json_is_boolean(val) && !json_is_number(val))
            continue;
        if (!pawl_vss_path_valid((pawl_str){ name, strlen(name) })) {
            pawl__diagf(d, where, lineno, 0, "signals: '%.80s' is not a VSS path (Vehicle.x.y)", name);
            return PAWL_EINVAL;
        }
        if (json_is_real(val) && !isfinite(json_real_value(val)))
            return line_err(d, where, lineno, "signals: value is not a finite number");
    }
    return PAWL_OK;
}

/* A line is applied whole or not at all: before the first value is set,
 * every value's signal has its id (ids[], in the order of sigs) and the
 * vehicle has a record with room for the signals it does not hold yet (a
 * refused line changes nothing). A vehicle holds PAWL_TWIN_MAX_SIGNALS, so
 * a line with more values than that never fits. */
static pawl_err make_room(struct pawl_twin *t, pawl_str vin, json_t *sigs, const char *where,
                          unsigned lineno, struct pawl_diag *d, uint16_t ids[PAWL_TWIN_MAX_SIGNALS])
{
    static const char full[] = "twin is full (twin.max_vehicles or signals per vehicle)";
    const char *name;
    json_t *val;
    unsigned fresh = 0, n = 0;
    struct vehicle *v = pawl_vin_valid(vin) ? vehicle_get(t, vin.p, false) : NULL;
    json_object_foreach(sigs, name, val) {
        if (!json_is_boolean(val) && !json_is_number(val))
            continue;
        uint16_t sig = pawl_twin_signal(t, (pawl_str){ name, strlen(name) });
        if (sig == 0)
            return line_err(d, where, lineno, "twin is full (distinct signal names)");
        if (n == PAWL_TWIN_MAX_SIGNALS)
            return line_err(d, where, lineno, full);
        ids[n++] = sig;
        if (v == NULL || sig_slot(v, sig, false) == NULL)
            fresh++;
    }
    if (fresh == 0)
        return PAWL_OK;
    if ((v ? v->n : 0u) + fresh > PAWL_TWIN_MAX_SIGNALS)
        return line_err(d, where, lineno, full);
    if (v == NULL && pawl_vin_valid(vin) && (v = vehicle_get(t, vin.p, true)) == NULL)
        return line_err(d, where, lineno, full);
    if (v != NULL && !reserve(v, v->n + fresh))
        return line_err(d, where, lineno, "out of memory");
    return PAWL_OK;
}

static pawl_err apply_signals(struct pawl_twin *t, pawl_str vin, json_t *sigs, int64_t time_ms,
                              const char *where, unsigned lineno, struct pawl_diag *d)
{
    const char *name;
    json_t *val;
    uint16_t ids[PAWL_TWIN_MAX_SIGNALS];
    unsigned k = 0;
    pawl_err e = check_signals(sigs, where, lineno, d);
    if (e != PAWL_OK || (e = make_room(t, vin, sigs, where, lineno, d, ids)) != PAWL_OK)
        return e;
    json_object_foreach(sigs, name, val) { /* the order make_room saw */
        double x;
        if (json_is_boolean(val))
            x = json_is_true(val) ? 1 : 0;
        else if (json_is_number(val))
            x = json_number_value(val);
        else {
            t->st.skipped_values++;
            continue;
        }
        e = pawl_twin_set(t, vin, ids[k++], x, time_ms);
        if (e == PAWL_ELIMIT)
            return line_err(d, where, lineno, "twin is full (twin.max_vehicles or signals per vehicle)");
        if (e != PAWL_OK)
            return line_err(d, where, lineno, "signals: value is not a finite number");
    }
    return PAWL_OK;
}

/* Parses and checks one telemetry line's shape; *o is the object to free. */
static pawl_err parse_line(const char *line, size_t n, const char *where, unsigned lineno,
                           json_t **o, struct pawl_diag *d)
{
    json_error_t jerr;
    *o = NULL;
    if (n > PAWL_TWIN_MAX_LINE)
        return line_err(d, where, lineno, "telemetry line too long");
    json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        pawl__diagf(d, where, lineno, (unsigned)jerr.column, "invalid JSON: %s", jerr.text);
        return PAWL_EPARSE;
    }
    *o = j;
    json_t *tm = json_object_get(j, "time"), *vin = json_object_get(j, "vin");
    if (!json_is_object(j))
        return line_err(d, where, lineno, "a telemetry line must be a JSON object");
    if (!json_is_integer(tm) || json_integer_value(tm) < 0)
        return line_err(d, where, lineno, "time: must be milliseconds since the epoch");
    if (!json_is_string(vin) ||
        !pawl_vin_valid((pawl_str){ json_string_value(vin), json_string_length(vin) }))
        return line_err(d, where, lineno, "vin: not a VIN (17 characters of 0-9 and A-Z without I, O, Q)");
    if (!json_is_object(json_object_get(j, "signals")))
        return line_err(d, where, lineno, "signals: must be an object of VSS path -> value");
    return PAWL_OK;
}

pawl_err pawl_twin_update_line(struct pawl_twin *t, const char *line, size_t n, const char *where,
                               unsigned lineno, struct pawl_diag *d)
{
    json_t *o;
    pawl_err e = parse_line(line, n, where, lineno, &o, d);
    if (e == PAWL_OK)
        e = apply_signals(t, (pawl_str){ json_string_value(json_object_get(o, "vin")), PAWL_VIN_LEN },
                          json_object_get(o, "signals"),
                          json_integer_value(json_object_get(o, "time")), where, lineno, d);
    json_decref(o);
    return e;
}

/* The new value of a signal in the line and the last one the twin holds
 * (from an earlier time); false when either is missing. */
static bool pair(struct pawl_twin *t, pawl_str vin, json_t *sigs, const char *name, int64_t time_ms,
                 double *now, double *before, double *dt_s)
{
    json_t *v = json_object_get(sigs, name);
    int64_t t0;
    uint16_t sig = pawl_twin_signal(t, (pawl_str){ name, strlen(name) });
    if (!json_is_number(v) || sig == 0 || !pawl_twin_get(t, vin, sig, before, &t0) || t0 >= time_ms)
        return false;
    *now = json_number_value(v);
    *dt_s = (double)(time_ms - t0) / 1000.0;
    return true;
}

/* Metres between two WGS84 points (haversine, mean Earth radius). */
static double metres(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371000.0, rad = 3.14159265358979323846 / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(sqrt(a < 1 ? a : 1));
}

static pawl_err plausible(struct pawl_twin *t, json_t *o, const struct pawl_twin_limits *lim,
                          struct pawl_diag *d)
{
    pawl_str vin = { json_string_value(json_object_get(o, "vin")), PAWL_VIN_LEN };
    json_t *sigs = json_object_get(o, "signals");
    int64_t time_ms = json_integer_value(json_object_get(o, "time"));
    double v1, v0, dt, la1, la0, lo1, lo0;
    if (lim->expected_vin && strncmp(vin.p, lim->expected_vin, PAWL_VIN_LEN) != 0)
        return line_err(d, "telemetry", 0, "implausible: the line names another vehicle than its sender");
    if (time_ms > lim->now_ms + lim->max_future_ms)
        return line_err(d, "telemetry", 0, "implausible: time is in the future");
    if (pair(t, vin, sigs, "Vehicle.Speed", time_ms, &v1, &v0, &dt) &&
        fabs(v1 - v0) > lim->max_accel_kmh_s * dt + 1.0)
        return line_err(d, "telemetry", 0, "implausible: speed changed faster than a car can");
    if (pair(t, vin, sigs, "Vehicle.CurrentLocation.Latitude", time_ms, &la1, &la0, &dt) &&
        pair(t, vin, sigs, "Vehicle.CurrentLocation.Longitude", time_ms, &lo1, &lo0, &dt) &&
        metres(la0, lo0, la1, lo1) > lim->max_travel_kmh / 3.6 * dt + 50.0)
        return line_err(d, "telemetry", 0, "implausible: the position moved faster than a car can");
    return PAWL_OK;
}

pawl_err pawl_twin_update_checked(struct pawl_twin *t, const char *line, size_t n,
                                  const struct pawl_twin_limits *lim, struct pawl_diag *d)
{
    json_t *o;
    pawl_err e = parse_line(line, n, "telemetry", 0, &o, d);
    if (e == PAWL_OK && (e = plausible(t, o, lim, d)) == PAWL_OK)
        e = apply_signals(t, (pawl_str){ json_string_value(json_object_get(o, "vin")), PAWL_VIN_LEN },
                          json_object_get(o, "signals"),
                          json_integer_value(json_object_get(o, "time")), "telemetry", 0, d);
    json_decref(o);
    return e;
}
