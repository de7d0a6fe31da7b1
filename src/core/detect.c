/* see pawl/detect.h; the detectors are described in docs/detection.md */
#include "pawl/detect.h"
#include "pawl/path.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR (3600 * 1000LL)
#define DAY (24 * HOUR)
#define REG_BITS 6
#define REGS (1u << REG_BITS)       /* HyperLogLog registers per window: about 13 % error */
#define MAX_IPS 8
#define MAX_COUNTRIES 4
#define TIME_MAX (1LL << 53)        /* ms; times outside [0, TIME_MAX] are not judged (and cannot overflow) */
/* Idle entries give way to newcomers when a table is full: a principal or a
 * vehicle unseen for two days (the longest window, 24 h, and the one before
 * it), an address unseen for an hour (its window is 10 minutes). Without
 * this the tables filled once and new principals went unjudged for good. */
#define IDLE_PRINCIPAL (2 * DAY)
#define IDLE_ADDRESS HOUR
#define IDLE_VEHICLE (2 * DAY)
#define EVICT_SCAN 32               /* entries looked at for an idle one per newcomer, at most */
enum { D_BOLA, D_FAN_OUT, D_ENUM, D_STUFFING, D_TOKEN, D_CADENCE, D_OWNER_CMD, D_UNSAFE, D_STAFF_REGION,
       D_BULK, D_NEW_ACCOUNT, D__COUNT };

/* What every table entry starts with. */
struct head {
    uint64_t key;                   /* 0: free */
    int64_t last_ms;                /* the latest event that looked it up */
    uint32_t ord;                   /* its place in table.order */
};

/* Per principal: about 900 bytes. */
struct pst {
    struct head h;
    char name[128];
    bool service;
    int64_t win1, win24;            /* start of the current 1 h and 24 h windows */
    uint8_t h1[2][REGS], h24[2][REGS]; /* distinct ungranted VINs: current and previous window */
    uint64_t bola;                  /* ungranted successful touches */
    char last_vins[PAWL_FINDING_MAX_VINS][PAWL_VIN_LEN + 1];
    unsigned nlast;
    uint64_t enum_prefix;           /* what the last id shared with the one before */
    int64_t enum_last;
    unsigned enum_run;
    int64_t ipwin;
    uint64_t ips[MAX_IPS];
    char countries[MAX_COUNTRIES][3];
    unsigned nips, ncountries;
    int64_t prev_ms;
    uint64_t gaps, vins_in_cadence;
    double mean, m2;
    int64_t fired[D__COUNT];
    char home[3];                   /* staff: the country first seen */
    int64_t bulkwin;                /* location data read in the current hour */
    uint64_t bulk_bytes;
    int64_t first_ms;               /* first seen */
    uint32_t hours;                 /* staff: UTC hours of the day it has acted in (bit h) */
    uint32_t staff_events;
    uint32_t staff_days;            /* staff: distinct UTC days it has acted on */
    int64_t staff_day;              /* staff: the last of them (days since 1970) */
};

/* Per source address: failed authentications in 10-minute windows. */
struct ast {
    struct head h;
    char ip[64];
    int64_t win;
    uint64_t failures;
    uint64_t users[32];             /* distinct user names tried (exact, up to 32) */
    unsigned nusers;
};

/* Per vehicle: the last ownership change and the last speed. */
struct vst {
    struct head h;
    uint64_t changer;               /* who changed its owners (hash), 0: nobody */
    uint64_t toucher;               /* the last principal that used it successfully */
    bool outsider;                  /* the change was made by someone with no standing on it */
    int64_t change_ms, speed_ms;
    double speed;
    bool speed_known;
};

struct table {
    void *slots;
    uint32_t *order;                /* the used slots' indexes (entry->h.ord: where its own is) */
    size_t size, cap, used, max;
    size_t cursor;                  /* where in order the next look for an idle entry starts */
    int64_t idle_ms;                /* an entry unseen this long may give way */
};

struct pawl_detector {
    struct pawl_detect_config cfg;
    const struct pawl_grants *grants;
    struct table principals, addresses, vehicles;
    uint64_t untracked;
};

static struct table *tables(struct pawl_detector *d, int i)
{
    return i == 0 ? &d->principals : i == 1 ? &d->addresses : &d->vehicles;
}

/* Empties t, touching only the slots in use (a fresh table's pages are
 * never written, so they take no memory). */
static void table_clear(struct table *t)
{
    for (size_t k = 0; k < t->used; k++)
        memset((char *)t->slots + (size_t)t->order[k] * t->size, 0, t->size);
    t->used = 0;
}

static int table_init(struct table *t, size_t size, size_t max, int64_t idle_ms)
{
    t->idle_ms = idle_ms;
    t->cap = 16;
    while (t->cap < max + max / 2)
        t->cap *= 2;
    t->size = size;
    t->used = 0;
    t->max = max;
    t->slots = calloc(t->cap, size);
    t->order = calloc(max ? max : 1, sizeof *t->order);
    return t->slots && t->order ? 0 : -1;
}

static struct head *head_at(const struct table *t, size_t i)
{
    return (struct head *)(void *)((char *)t->slots + i * t->size);
}

/* Frees slot i: its place in order goes to the last one's, and the entries
 * after it in its probe run that would no longer be found move back. */
static void erase(struct table *t, size_t i)
{
    size_t mask = t->cap - 1, j = i;
    uint32_t o = head_at(t, i)->ord, last = t->order[--t->used];
    t->order[o] = last;
    head_at(t, last)->ord = o;
    for (;;) {
        memset(head_at(t, i), 0, t->size);
        for (;;) {
            j = (j + 1) & mask;
            if (head_at(t, j)->key == 0)
                return;
            size_t home = head_at(t, j)->key & mask; /* stays if home is in (i, j] */
            if (!(i <= j ? (i < home && home <= j) : (i < home || home <= j)))
                break;
        }
        memcpy(head_at(t, i), head_at(t, j), t->size);
        t->order[head_at(t, i)->ord] = (uint32_t)i;
        i = j;
    }
}

/* Frees an entry unseen for t->idle_ms, looking at EVICT_SCAN at most. */
static bool evict_idle(struct table *t, int64_t now)
{
    for (int k = 0; k < EVICT_SCAN && t->used > 0; k++) {
        size_t slot = t->order[t->cursor++ % t->used];
        if (now - head_at(t, slot)->last_ms > t->idle_ms) {
            erase(t, slot);
            return true;
        }
    }
    return false;
}

/* The entry of key as of time now, created when there is room or an idle
 * entry gives way; NULL when the table is full of entries seen lately. */
static void *lookup(struct table *t, uint64_t key, int64_t now, bool *fresh)
{
    *fresh = false;
    for (;;) {
        size_t i = key & (t->cap - 1);
        struct head *h;
        while ((h = head_at(t, i))->key != 0 && h->key != key)
            i = (i + 1) & (t->cap - 1);
        if (h->key == key) {
            if (now > h->last_ms)
                h->last_ms = now;
            return h;
        }
        if (t->used < t->max) {
            h->key = key;
            h->last_ms = now;
            h->ord = (uint32_t)t->used;
            t->order[t->used++] = (uint32_t)i;
            *fresh = true;
            return h;
        }
        if (!evict_idle(t, now))
            return NULL;
        /* an entry moved back: probe again */
    }
}

pawl_err pawl_detector_new(const struct pawl_detect_config *cfg, const struct pawl_grants *grants,
                           struct pawl_detector **out)
{
    struct pawl_detector *d = calloc(1, sizeof *d);
    if (d == NULL)
        return PAWL_ENOMEM;
    d->cfg = *cfg;
    d->grants = grants;
    if (table_init(&d->principals, sizeof(struct pst), cfg->max_principals, IDLE_PRINCIPAL) != 0 ||
        table_init(&d->addresses, sizeof(struct ast), cfg->max_addresses, IDLE_ADDRESS) != 0 ||
        table_init(&d->vehicles, sizeof(struct vst), cfg->max_vehicles, IDLE_VEHICLE) != 0) {
        pawl_detector_free(d);
        return PAWL_ENOMEM;
    }
    *out = d;
    return PAWL_OK;
}

void pawl_detector_free(struct pawl_detector *d)
{
    if (d == NULL)
        return;
    for (int t = 0; t < 3; t++) {
        free(tables(d, t)->slots);
        free(tables(d, t)->order);
    }
    free(d);
}

void pawl_detector_set_grants(struct pawl_detector *d, const struct pawl_grants *grants)
{
    d->grants = grants;
}

uint64_t pawl_detector_untracked(const struct pawl_detector *d)
{
    return d->untracked;
}

/* ---- small estimators ------------------------------------------------------------ */

/* Tumbling windows of len: on entering a new one, the current becomes the
 * previous (or both clear after a gap longer than a window). */
static void roll(int64_t *start, uint8_t w[2][REGS], int64_t len, int64_t now)
{
    if (now < *start + len)
        return;
    if (now < *start + 2 * len)
        memcpy(w[1], w[0], REGS);
    else
        memset(w[1], 0, REGS);
    memset(w[0], 0, REGS);
    *start = now - now % len;
}

/* ---- what an event touches ---------------------------------------------------------- */

/* What a path names, from one walk over its segments: the first VIN, and
 * the last enumerable id (an integer, or a VIN's serial in positions 12-17)
 * with a hash of everything before it (the path before, and a VIN's WMI,
 * VDS, year and plant, not its check digit). */
struct path_ids {
    pawl_str vin;          /* empty when none */
    bool granted;          /* the principal holds a valid grant on vin (with grants) */
    bool seq;              /* an enumerable id was found */
    uint64_t prefix;
    int64_t value;
};

static void path_ids(pawl_str path, struct path_ids *out)
{
    pawl_str last = {NULL, 0};
    unsigned last_kind = 0;
    size_t i = 0;
    out->vin = (pawl_str){"", 0};
    out->seq = false;
    out->prefix = 0;
    out->value = 0;
    for (pawl_str seg; pawl__next_segment(path, &i, &seg);) {
        unsigned k = pawl_id_kind_of(seg);
        if (k == PAWL_ID_VIN && out->vin.n == 0)
            out->vin = seg;
        pawl_str digits = k == PAWL_ID_VIN ? (pawl_str){seg.p + 11, 6} : seg;
        int64_t v = 0;
        bool ok = (k == PAWL_ID_INT && seg.n <= 15) || k == PAWL_ID_VIN;
        for (size_t x = 0; ok && x < digits.n; x++) {
            ok = digits.p[x] >= '0' && digits.p[x] <= '9';
            v = v * 10 + (digits.p[x] - '0');
        }
        if (ok) {
            last = seg;
            last_kind = k;
            out->value = v;
            out->seq = true;
        }
    }
    if (!out->seq)
        return;
    out->prefix = pawl__sketch_hash((pawl_str){path.p, (size_t)(last.p - path.p)});
    if (last_kind == PAWL_ID_VIN)
        out->prefix ^= pawl__sketch_hash((pawl_str){last.p, 8}) * 31 + pawl__sketch_hash((pawl_str){last.p + 9, 2});
}

/* The start of principal's newest grant on vin valid at t; INT64_MAX if none. */
static int64_t grant_since(const struct pawl_detector *d, pawl_str principal, pawl_str vin, int64_t t)
{
    uint32_t it = 0;
    int64_t since = INT64_MAX;
    const struct pawl_grant *g;
    while ((g = pawl_grants_next(d->grants, principal, vin, &it)) != NULL)
        if (g->since_ms <= t && t < g->until_ms && (since == INT64_MAX || g->since_ms > since))
            since = g->since_ms;
    return since;
}

static bool granted(const struct pawl_detector *d, pawl_str principal, pawl_str vin, int64_t t)
{
    return grant_since(d, principal, vin, t) != INT64_MAX;
}

static bool ok_status(int s)
{
    return s >= 200 && s < 400;
}

/* ---- findings ------------------------------------------------------------------------ */

struct emit {
    pawl_finding_cb cb;
    void *ctx;
    const struct pawl_api_event *e;
};

static const char *const NAMES[D__COUNT] = {"bola", "vin_fan_out", "enumeration",
                                            "credential_stuffing", "token_many_addresses",
                                            "scripted_cadence", "ownership_change_then_command",
                                            "unsafe_state_command", "off_hours_or_region",
                                            "excessive_data_exposure", "new_account_command"};
static const char *const OWASP[D__COUNT][2] = {
    {"API1:2023", "Broken Object Level Authorization"},
    {"API1:2023", "Broken Object Level Authorization"},
    {"API1:2023", "Broken Object Level Authorization"},
    {"API2:2023", "Broken Authentication"},
    {"API2:2023", "Broken Authentication"},
    {"API6:2023", "Unrestricted Access to Sensitive Business Flows"},
    {"API5:2023", "Broken Function Level Authorization"},
    {"API6:2023", "Unrestricted Access to Sensitive Business Flows"},
    {"API5:2023", "Broken Function Level Authorization"},
    {"API3:2023", "Broken Object Property Level Authorization"},
    {"API2:2023", "Broken Authentication"},
};

const char *pawl_detector_name(unsigned i)
{
    return i < D__COUNT ? NAMES[i] : NULL;
}

unsigned pawl_detector_index(const char *name)
{
    unsigned i = 0;
    while (i < D__COUNT && strcmp(NAMES[i], name) != 0)
        i++;
    return i;
}

_Static_assert(D__COUNT == PAWL_DETECTORS, "PAWL_DETECTORS counts the detectors");

/* Raises det about a principal (st) or an address (ip), once per cooldown. */
static void fire(const struct pawl_detector *d, const struct emit *em, int det, struct pst *st,
                 const char *ip, int severity, int confidence, uint64_t related, const char *title)
{
    struct pawl_finding f;
    memset(&f, 0, sizeof f);
    f.detector = NAMES[det];
    f.owasp_uid = OWASP[det][0];
    f.owasp_name = OWASP[det][1];
    pawl__clean_copy(f.title, sizeof f.title, (pawl_str){title, strlen(title)});
    if (st != NULL) {
        f.repeat = st->fired[det] != 0 && em->e->time_ms - st->fired[det] < d->cfg.cooldown_ms;
        if (f.repeat && !d->cfg.report_repeats)
            return;
        if (!f.repeat)
            st->fired[det] = em->e->time_ms ? em->e->time_ms : 1;
        snprintf(f.principal, sizeof f.principal, "%s", st->name);
        for (unsigned i = 0; i < st->nlast; i++)
            memcpy(f.vins[f.nvins++], st->last_vins[i], PAWL_VIN_LEN + 1);
    }
    snprintf(f.src_ip, sizeof f.src_ip, "%s", ip ? ip : "");
    f.time_ms = em->e->time_ms;
    f.severity = severity;
    f.confidence = confidence;
    f.related = related;
    em->cb(em->ctx, &f);
}

static void remember_vin(struct pst *st, pawl_str vin)
{
    for (unsigned i = 0; i < st->nlast; i++)
        if (memcmp(st->last_vins[i], vin.p, PAWL_VIN_LEN) == 0)
            return;
    if (st->nlast == PAWL_FINDING_MAX_VINS) { /* keep the newest */
        memmove(st->last_vins[0], st->last_vins[1], (PAWL_FINDING_MAX_VINS - 1) * sizeof st->last_vins[0]);
        st->nlast--;
    }
    memcpy(st->last_vins[st->nlast], vin.p, PAWL_VIN_LEN);
    st->last_vins[st->nlast++][PAWL_VIN_LEN] = '\0';
}

/* ---- the detectors --------------------------------------------------------------------- */

static bool has_role(const struct pawl_api_event *e, const char *const *roles)
{
    for (unsigned i = 0; i < e->nroles; i++)
        for (size_t k = 0; roles[k]; k++)
            if (pawl__str_eq(e->roles[i], roles[k]))
                return true;
    return false;
}

/* bola and vin_fan_out: successful touches of vehicles the principal holds
 * no grant for (every vehicle when no grants are known). */
static void objects(const struct pawl_detector *d, const struct emit *em, struct pst *st,
                    const struct path_ids *ids)
{
    static const char *const many[] = {"fleet_manager", "dealer", "support", NULL};
    const struct pawl_api_event *e = em->e;
    pawl_str vin = ids->vin;
    char title[200];
    if (vin.n == 0 || !ok_status(e->status) || st->service || ids->granted)
        return;
    remember_vin(st, vin);
    if (d->grants) {
        st->bola++;
        snprintf(title, sizeof title, "%s reached vehicle %.17s without a grant for it", st->name, vin.p);
        fire(d, em, D_BOLA, st, NULL, 4, st->bola > 1 ? 3 : 2, st->bola, title);
    }
    roll(&st->win1, st->h1, HOUR, e->time_ms);
    roll(&st->win24, st->h24, DAY, e->time_ms);
    uint64_t h = pawl__sketch_hash(vin);
    pawl__hll_add(st->h1[0], REG_BITS, h);
    pawl__hll_add(st->h24[0], REG_BITS, h);
    unsigned scale = !d->grants && has_role(e, many) ? 10 : 1;
    double hour = pawl__hll_count(st->h1[0], st->h1[1], REG_BITS);
    double day = pawl__hll_count(st->h24[0], st->h24[1], REG_BITS);
    if (hour >= d->cfg.fan_out_1h * scale || day >= d->cfg.fan_out_24h * scale) {
        snprintf(title, sizeof title, "%s touched about %.0f vehicles %s in %s", st->name,
                 hour >= d->cfg.fan_out_1h * scale ? hour : day, d->grants ? "it holds no grant for" : "",
                 hour >= d->cfg.fan_out_1h * scale ? "an hour" : "a day (low and slow)");
        fire(d, em, D_FAN_OUT, st, NULL, 5, 3, (uint64_t)fmin(hour > day ? hour : day, 1e15), title);
    }
}

/* enumeration: consecutive ids (integers, or VIN serials under one
 * manufacturer prefix) one after the other, whatever the answers. */
static void enumeration(const struct pawl_detector *d, const struct emit *em, struct pst *st,
                        const struct path_ids *ids)
{
    pawl_str vin = ids->vin;
    uint64_t prefix = ids->prefix;
    int64_t v = ids->value;
    char title[200];
    if (!ids->seq || ids->granted)
        return;
    bool next = prefix == st->enum_prefix && (v == st->enum_last + 1 || v == st->enum_last - 1);
    st->enum_run = next ? st->enum_run + 1 : 0;
    st->enum_prefix = prefix;
    st->enum_last = v;
    if (vin.n)
        remember_vin(st, vin);
    if (st->enum_run + 1 >= d->cfg.enumeration_run) {
        snprintf(title, sizeof title, "%s walks consecutive ids (%u in a row, last %lld)", st->name,
                 st->enum_run + 1, (long long)v);
        fire(d, em, D_ENUM, st, NULL, 4, 3, st->enum_run + 1, title);
    }
}

/* token_many_addresses: one principal's token from many addresses or
 * countries within an hour (services, which run on many hosts, excepted). */
static void addresses(const struct pawl_detector *d, const struct emit *em, struct pst *st)
{
    const struct pawl_api_event *e = em->e;
    char title[200];
    if (st->service || e->src_ip.n == 0)
        return;
    if (e->time_ms >= st->ipwin + HOUR) {
        st->ipwin = e->time_ms;
        st->nips = st->ncountries = 0;
    }
    uint64_t h = pawl__sketch_hash(e->src_ip);
    bool seen = false;
    for (unsigned i = 0; i < st->nips && !seen; i++)
        seen = st->ips[i] == h;
    if (!seen && st->nips < MAX_IPS)
        st->ips[st->nips++] = h;
    seen = e->country.n != 2;
    for (unsigned i = 0; i < st->ncountries && !seen; i++)
        seen = memcmp(st->countries[i], e->country.p, 2) == 0;
    if (!seen && st->ncountries < MAX_COUNTRIES) {
        memcpy(st->countries[st->ncountries], e->country.p, 2);
        st->countries[st->ncountries++][2] = '\0';
    }
    if (st->nips >= d->cfg.token_addresses || st->ncountries >= d->cfg.token_countries) {
        snprintf(title, sizeof title, "%s's credentials used from %u addresses in %u countries within an hour",
                 st->name, st->nips, st->ncountries);
        char ip[64];
        pawl__clean_copy(ip, sizeof ip, e->src_ip);
        fire(d, em, D_TOKEN, st, ip, 4, 2, st->nips, title);
    }
}

/* scripted_cadence: requests at machine-regular intervals (coefficient of
 * variation under 0.1, at most 30 s apart) while touching at least five
 * vehicles the principal holds no grant for. */
static void cadence(const struct pawl_detector *d, const struct emit *em, struct pst *st)
{
    const struct pawl_api_event *e = em->e;
    char title[200];
    double gap = (double)(e->time_ms - st->prev_ms);
    st->prev_ms = e->time_ms;
    if (gap < 0 || gap > 600000.0) { /* out of order, or a new session */
        st->gaps = 0;
        st->mean = st->m2 = 0;
        return;
    }
    st->gaps++;
    double delta = gap - st->mean;
    st->mean += delta / (double)st->gaps;
    st->m2 += delta * (gap - st->mean);
    if (st->gaps < d->cfg.cadence_min || st->nlast < 5 || st->mean > 30000.0 || st->mean <= 0)
        return;
    double cv = sqrt(st->m2 / (double)(st->gaps - 1)) / st->mean;
    if (cv < 0.1) {
        snprintf(title, sizeof title, "%s sends requests every %.1f s (variation %.0f %%), a script",
                 st->name, st->mean / 1000.0, cv * 100.0);
        fire(d, em, D_CADENCE, st, NULL, 3, 2, st->gaps, title);
    }
}

/* credential_stuffing: failed authentications for many user names from one
 * address within 10 minutes. */
static void stuffing(struct pawl_detector *d, const struct emit *em)
{
    const struct pawl_api_event *e = em->e;
    bool fresh;
    if (e->status != 401 || e->src_ip.n == 0)
        return;
    struct ast *a = lookup(&d->addresses, pawl__sketch_hash(e->src_ip), e->time_ms, &fresh);
    if (a == NULL) {
        d->untracked++;
        return;
    }
    if (fresh)
        pawl__clean_copy(a->ip, sizeof a->ip, e->src_ip);
    if (fresh || e->time_ms >= a->win + 600000) {
        a->win = e->time_ms;
        a->failures = 0;
        a->nusers = 0;
    }
    a->failures++;
    uint64_t h = e->principal.n ? pawl__sketch_hash(e->principal) : 0;
    bool seen = h == 0;
    for (unsigned i = 0; i < a->nusers && !seen; i++)
        seen = a->users[i] == h;
    if (!seen && a->nusers < 32)
        a->users[a->nusers++] = h;
    if (a->failures >= d->cfg.stuffing_failures && a->nusers >= d->cfg.stuffing_users && a->win != INT64_MIN) {
        char title[200];
        snprintf(title, sizeof title, "%llu failed logins for %u%s accounts from %s in 10 minutes",
                 (unsigned long long)a->failures, a->nusers, a->nusers == 32 ? "+" : "", a->ip);
        fire(d, em, D_STUFFING, NULL, a->ip, 4, 3, a->failures, title);
        a->win = INT64_MIN; /* once per window: the next failure opens a new one */
    }
}

#define W(s) {s, sizeof(s) - 1} /* a word list entry: {"word", length} */

/* Whether a path segment, or (with parts) a part of one between dots
 * ("door.unlock"), is one of words. */
static bool path_match(pawl_str path, const pawl_str *words, bool parts)
{
    size_t i = 0;
    while (i < path.n) {
        size_t j = i;
        while (j < path.n && path.p[j] != '/' && (!parts || path.p[j] != '.'))
            j++;
        for (size_t w = 0; words[w].p; w++)
            if (words[w].n == j - i && memcmp(path.p + i, words[w].p, j - i) == 0)
                return true;
        i = j + 1;
    }
    return false;
}

static bool path_has(pawl_str path, const pawl_str *words)
{
    return path_match(path, words, true);
}

static bool writes(const struct pawl_api_event *e)
{
    return !pawl__str_eq(e->method, "GET") && !pawl__str_eq(e->method, "HEAD");
}


/* Whether someone else holds an owner grant on vin, valid at t, from before. */
static bool other_owner(const struct pawl_detector *d, pawl_str principal, pawl_str vin, int64_t before, int64_t t)
{
    uint32_t it = 0;
    const struct pawl_grant *g;
    while ((g = pawl_grants_of_vin(d->grants, vin, &it)) != NULL) {
        const char *p = pawl_grants_principal(d->grants, g);
        if (g->role == PAWL_GR_OWNER && g->since_ms < before && g->since_ms <= t && t < g->until_ms &&
            !pawl__str_eq(principal, p))
            return true;
    }
    return false;
}

/* Whether someone else's grant on vin began in [from, to): the owners'
 * change at from was for them. */
static bool other_grant_since(const struct pawl_detector *d, pawl_str principal, pawl_str vin, int64_t from,
                              int64_t to)
{
    uint32_t it = 0;
    const struct pawl_grant *g;
    while ((g = pawl_grants_of_vin(d->grants, vin, &it)) != NULL)
        if (g->since_ms >= from && g->since_ms < to && !pawl__str_eq(principal, pawl_grants_principal(d->grants, g)))
            return true;
    return false;
}

/* new_account_command (with grants): an account first seen within the hour,
 * whose standing on the car is under an hour old, commands it while the
 * car's owner from before still holds it and nobody with standing on the
 * car shared it with this account: within a day before its grant, with no
 * other account's grant in between (Hyundai 2022: an account registered
 * with the owner's address gets the owner's cars). A sale ends the old
 * owner's grant; an owner adding a driver writes the car's owners or
 * drivers, and that write stands for the one grant that follows it. */
static void new_account(const struct pawl_detector *d, const struct emit *em, struct pst *st, pawl_str vin,
                        const struct vst *v)
{
    const struct pawl_api_event *e = em->e;
    char title[200];
    if (d->grants == NULL || e->time_ms - st->first_ms > HOUR)
        return;
    int64_t mine = grant_since(d, e->principal, vin, e->time_ms);
    bool invited = v->changer != 0 && !v->outsider && v->change_ms <= mine && mine - v->change_ms <= DAY &&
                   !other_grant_since(d, e->principal, vin, v->change_ms, mine);
    if (mine == INT64_MAX || e->time_ms - mine > HOUR || invited || !other_owner(d, e->principal, vin, mine, e->time_ms))
        return;
    snprintf(title, sizeof title, "%s, first seen %lld s ago, commanded %.17s, which its owner still holds",
             st->name, (long long)((e->time_ms - st->first_ms) / 1000), vin.p);
    fire(d, em, D_NEW_ACCOUNT, st, NULL, 5, 2, 1, title);
}

/* ownership_change_then_command: the principal that changed a vehicle's
 * owners sends it a remote command soon after (a dealer account adding
 * itself as owner, then unlocking: Kia 2024). unsafe_state_command: a
 * stationary-only command answered while the vehicle reports driving. */
static void vehicle_rules(struct pawl_detector *d, const struct emit *em, struct pst *st, pawl_str vin)
{
    static const pawl_str owners[] = {W("owner"), W("owners"), W("ownership"), W("drivers"), W("sharing"),
                                      W("invitations"), {NULL, 0}};
    static const pawl_str commands[] = {W("commands"), W("command"), W("remote"), {NULL, 0}};
    /* a car may be unlocked, opened or started only when parked; climate or
     * charging ("climate.start") is no such command: start and stop count
     * as a whole segment or for the engine only */
    static const pawl_str stationary[] = {W("unlock"), W("trunk"), W("open"), {NULL, 0}};
    static const pawl_str engine[] = {W("start"), W("stop"), W("engine.start"), W("engine.stop"),
                                      W("remote_start"), W("remote-start"), {NULL, 0}};
    const struct pawl_api_event *e = em->e;
    char title[200];
    bool fresh;
    if (!ok_status(e->status))
        return;
    struct vst *v = lookup(&d->vehicles, pawl__sketch_hash(vin), e->time_ms, &fresh);
    if (v == NULL) {
        d->untracked++;
        return;
    }
    uint64_t who = pawl__sketch_hash(e->principal), before = v->toucher;
    v->toucher = who;
    if (!writes(e))
        return;
    if (path_has(e->path, owners)) { /* an owner managing the car is not an outsider */
        v->changer = who;
        v->change_ms = e->time_ms;
        v->outsider = d->grants ? !granted(d, e->principal, vin, e->time_ms) : before != who;
        return;
    }
    if (!path_has(e->path, commands))
        return;
    remember_vin(st, vin);
    if (v->changer == who && v->outsider && e->time_ms - v->change_ms <= d->cfg.change_window_ms) {
        snprintf(title, sizeof title, "%s changed the owners of %.17s and commanded it %lld s later", st->name,
                 vin.p, (long long)((e->time_ms - v->change_ms) / 1000));
        fire(d, em, D_OWNER_CMD, st, NULL, 5, 3, 2, title);
    }
    new_account(d, em, st, vin, v);
    if ((path_has(e->path, stationary) || path_match(e->path, engine, false)) && v->speed_known && v->speed > 5.0 &&
        e->time_ms - v->speed_ms <= 60000 && e->time_ms >= v->speed_ms) {
        snprintf(title, sizeof title, "%s's command to %.17s was carried out while it drove at %.0f km/h",
                 st->name, vin.p, v->speed);
        fire(d, em, D_UNSAFE, st, NULL, 5, 3, 1, title);
    }
}

/* off_hours_or_region: a dealer or support account acting from another
 * country than the one it was first seen in (shop and call-centre tools do
 * not travel). excessive_data_exposure: more than 20 MB of location data
 * (location, trips, history) to one principal within an hour. */
/* How far hour h is from the nearest hour in mask, around the clock. */
static unsigned hours_away(uint32_t mask, unsigned h)
{
    for (unsigned k = 0; k <= 12; k++)
        if (mask & (1u << ((h + k) % 24) | 1u << ((h + 24 - k) % 24)))
            return k;
    return 24;
}

/* The longest run of idle hours in mask, around midnight if need be: its
 * first hour and its length (24 for an empty mask). The working hours are
 * the rest of the day. */
static unsigned idle_run(uint32_t mask, unsigned *first)
{
    unsigned idle = 0, longest = 0;
    *first = 0;
    for (unsigned i = 0; i < 48; i++) {
        idle = mask & (1u << (i % 24)) ? 0 : idle + 1;
        if (idle > longest && idle <= 24) {
            longest = idle;
            *first = (i + 25 - idle) % 24;
        }
    }
    return longest;
}

/* The hours half of off_hours_or_region: a staff account whose work so far
 * (30 events or more, on two UTC days or more) fits in 14 hours of the day
 * acts outside them, 2 hours or more from their edges (an hour inside them
 * it had not worked in before is no finding). One day is not
 * a profile (the afternoon shift is no reason to flag the next morning);
 * call centres open around the clock never get one. */
static void staff_hours(const struct pawl_detector *d, const struct emit *em, struct pst *st)
{
    const struct pawl_api_event *e = em->e;
    unsigned h = (unsigned)(e->time_ms / HOUR % 24);
    int64_t day = e->time_ms / DAY;
    char title[200];
    unsigned first, idle = idle_run(st->hours, &first);
    bool off = idle >= 10 && (h + 24 - first) % 24 < idle; /* working hours fit in 14; h is outside them */
    if (st->staff_events >= 30 && st->staff_days >= 2 && off && hours_away(st->hours, h) >= 2) {
        snprintf(title, sizeof title, "staff account %s acts at %02u:%02u UTC, %u hours from any hour of its "
                 "%u earlier events", st->name, h, (unsigned)(e->time_ms / 60000 % 60), hours_away(st->hours, h),
                 st->staff_events);
        fire(d, em, D_STAFF_REGION, st, NULL, 4, 2, 1, title);
    }
    st->hours |= 1u << h;
    st->staff_events += st->staff_events < UINT32_MAX;
    if (st->staff_days == 0 || day != st->staff_day) {
        st->staff_days += st->staff_days < UINT32_MAX;
        st->staff_day = day;
    }
}

static void staff_and_bulk(const struct pawl_detector *d, const struct emit *em, struct pst *st)
{
    static const char *const staff[] = {"dealer", "support", NULL};
    static const pawl_str location[] = {W("location"), W("locations"), W("trips"), W("history"), W("positions"),
                                        {NULL, 0}};
    const struct pawl_api_event *e = em->e;
    char title[200];
    bool is_staff = has_role(e, staff);
    if (is_staff)
        staff_hours(d, em, st);
    if (e->country.n == 2 && is_staff) {
        if (st->home[0] == '\0')
            memcpy(st->home, e->country.p, 2);
        else if (memcmp(st->home, e->country.p, 2) != 0) {
            snprintf(title, sizeof title, "staff account %s, first seen in %s, acts from %.2s", st->name, st->home,
                     e->country.p);
            fire(d, em, D_STAFF_REGION, st, NULL, 4, 2, 1, title);
        }
    }
    if (!ok_status(e->status) || e->resp_len <= 0 || !path_has(e->path, location))
        return;
    if (e->time_ms >= st->bulkwin + HOUR) {
        st->bulkwin = e->time_ms;
        st->bulk_bytes = 0;
    }
    st->bulk_bytes += (uint64_t)e->resp_len;
    if (st->bulk_bytes > 20u * 1000 * 1000) {
        snprintf(title, sizeof title, "%s read %.1f MB of location data within an hour", st->name,
                 (double)st->bulk_bytes / 1e6);
        fire(d, em, D_BULK, st, NULL, 4, 2, 1, title);
    }
}

void pawl_detector_telemetry(struct pawl_detector *d, pawl_str vin, int64_t time_ms, double speed_kmh)
{
    bool fresh;
    if (time_ms < 0 || time_ms > TIME_MAX || !isfinite(speed_kmh))
        return;
    struct vst *v = vin.n == PAWL_VIN_LEN ? lookup(&d->vehicles, pawl__sketch_hash(vin), time_ms, &fresh) : NULL;
    if (v == NULL || (v->speed_known && time_ms < v->speed_ms))
        return;
    v->speed = speed_kmh;
    v->speed_ms = time_ms;
    v->speed_known = true;
}

/* The path as the engine matches it, percent escapes decoded
 * (pawl_path_normalize), so that /vehicles/%31HGCM.../status counts as the
 * VIN it names (review finding: one escaped character made a walk over
 * VINs, ids or keywords invisible to every detector). The raw path when it
 * has no escape, or does not normalize (the engine refused that request). */
static pawl_str plain_path(pawl_str raw, char *buf, size_t cap)
{
    struct pawl_path pp;
    struct pawl_diag d;
    size_t n = 0;
    if (memchr(raw.p, '%', raw.n) == NULL || pawl_path_normalize(raw.p, raw.n, &pp, &d) != PAWL_OK)
        return raw;
    for (unsigned i = 0; i < pp.nseg; i++) {
        if (n + 1 + pp.seg[i].n > cap)
            return raw;
        buf[n++] = '/';
        memcpy(buf + n, pp.seg[i].p, pp.seg[i].n);
        n += pp.seg[i].n;
    }
    return n > 0 ? (pawl_str){buf, n} : raw;
}

void pawl_detector_feed(struct pawl_detector *d, const struct pawl_api_event *raw, pawl_finding_cb cb,
                        void *ctx)
{
    char buf[PAWL_PATH_MAX];
    struct pawl_api_event ev = *raw;
    const struct pawl_api_event *e = &ev;
    ev.path = plain_path(raw->path, buf, sizeof buf);
    struct emit em = {cb, ctx, e};
    bool fresh;
    if (e->time_ms < 0 || e->time_ms > TIME_MAX) { /* the parsers refuse such times; never judged */
        d->untracked++;
        return;
    }
    stuffing(d, &em);
    if (e->principal.n == 0)
        return;
    struct pst *st = lookup(&d->principals, pawl__sketch_hash(e->principal), e->time_ms, &fresh);
    if (st == NULL) {
        d->untracked++;
        return;
    }
    if (fresh) {
        pawl__clean_copy(st->name, sizeof st->name, e->principal);
        st->service = pawl__str_eq(e->user_type, "Service");
        st->win1 = st->win24 = st->ipwin = st->prev_ms = st->first_ms = e->time_ms;
    }
    struct path_ids ids;
    path_ids(e->path, &ids);
    pawl_str vin = ids.vin;
    ids.granted = vin.n && d->grants && granted(d, e->principal, vin, e->time_ms);
    objects(d, &em, st, &ids);
    enumeration(d, &em, st, &ids);
    addresses(d, &em, st);
    cadence(d, &em, st);
    staff_and_bulk(d, &em, st);
    if (vin.n)
        vehicle_rules(d, &em, st, vin);
}

/* ---- state across restarts ------------------------------------------------------------ */

struct state_head {
    char magic[8];              /* "PAWLDET2" (1: entries without a last-seen time) */
    uint32_t sizes[3];          /* entry sizes of the three tables: the same build */
    uint64_t caps[3], used[3];
    uint64_t untracked;
};


pawl_err pawl_detector_save(const struct pawl_detector *det, int (*write)(void *ctx, const void *p, size_t n),
                            void *ctx)
{
    struct pawl_detector *d = (struct pawl_detector *)(uintptr_t)det; /* tables() is shared with load */
    struct state_head h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, "PAWLDET2", 8);
    for (int t = 0; t < 3; t++) {
        h.sizes[t] = (uint32_t)tables(d, t)->size;
        h.caps[t] = tables(d, t)->cap;
        h.used[t] = tables(d, t)->used;
    }
    h.untracked = d->untracked;
    if (write(ctx, &h, sizeof h) != 0)
        return PAWL_EIO;
    for (int t = 0; t < 3; t++) { /* used slots only, (index, entry): no scan of the whole table */
        struct table *tb = tables(d, t);
        for (size_t k = 0; k < tb->used; k++) {
            uint64_t i = tb->order[k];
            if (write(ctx, &i, sizeof i) != 0 || write(ctx, (const char *)tb->slots + i * tb->size, tb->size) != 0)
                return PAWL_EIO;
        }
    }
    return PAWL_OK;
}

/* An entry read back must hold what the code relies on (counts within
 * their arrays, strings terminated): the file may have been damaged. */
/* A bool read back from a file: its byte, looked at without loading it as
 * a bool (a byte other than 0 or 1 is not a bool value). */
static bool bool_ok(const bool *b)
{
    uint8_t v;
    memcpy(&v, b, 1);
    return v <= 1;
}

static bool time_ok(int64_t t)
{
    return t >= -TIME_MAX && t <= TIME_MAX;
}

/* Every time in a principal's entry (and the last id, which is added to). */
static bool pst_times_ok(const struct pst *p)
{
    bool ok = time_ok(p->win1) && time_ok(p->win24) && time_ok(p->enum_last) && time_ok(p->ipwin) &&
              time_ok(p->prev_ms) && time_ok(p->bulkwin) && time_ok(p->first_ms) && time_ok(p->staff_day) &&
              p->hours < (1u << 24);
    for (int i = 0; i < D__COUNT; i++)
        ok = ok && time_ok(p->fired[i]);
    return ok;
}

/* HyperLogLog registers hold ranks of at most 64 - REG_BITS + 1. */
static bool regs_ok(const uint8_t w[2][REGS])
{
    for (unsigned i = 0; i < 2 * REGS; i++)
        if (w[i / REGS][i % REGS] > 64 - REG_BITS + 1)
            return false;
    return true;
}

static bool entry_ok(int t, const void *e)
{
    if (!time_ok(((const struct head *)e)->last_ms))
        return false;
    if (t == 0) {
        const struct pst *p = e;
        return p->nlast <= PAWL_FINDING_MAX_VINS && p->nips <= MAX_IPS && p->ncountries <= MAX_COUNTRIES &&
               memchr(p->name, '\0', sizeof p->name) != NULL && bool_ok(&p->service) && regs_ok(p->h1) &&
               regs_ok(p->h24) && p->gaps < (1ull << 53) && isfinite(p->mean) && isfinite(p->m2) &&
               pst_times_ok(p);
    }
    if (t == 1) {
        const struct ast *a = e;
        return a->nusers <= 32 && memchr(a->ip, '\0', sizeof a->ip) != NULL &&
               (a->win == INT64_MIN || time_ok(a->win));
    }
    const struct vst *v = e;
    return bool_ok(&v->outsider) && bool_ok(&v->speed_known) && isfinite(v->speed) && time_ok(v->change_ms) &&
           time_ok(v->speed_ms);
}

pawl_err pawl_detector_load(struct pawl_detector *d, int (*read)(void *ctx, void *p, size_t n), void *ctx,
                            const char *where, struct pawl_diag *dg)
{
    struct state_head h;
    memset(&h, 0, sizeof h); /* a short read leaves it as it was */
    if (read(ctx, &h, sizeof h) != 0 || memcmp(h.magic, "PAWLDET2", 8) != 0) {
        if (memcmp(h.magic, "PAWLDET1", 8) == 0) {
            pawl__diagf(dg, where, 0, 0, "written by an earlier pawl (entries without a last-seen "
                        "time); start afresh (remove the file)");
            return PAWL_EINVAL;
        }
        pawl__diagf(dg, where, 0, 0, "not a detector state file of pawl");
        return PAWL_EINVAL;
    }
    for (int t = 0; t < 3; t++)
        if (h.sizes[t] != tables(d, t)->size || h.caps[t] != tables(d, t)->cap || h.used[t] > tables(d, t)->max) {
            pawl__diagf(dg, where, 0, 0, "written by another build or with other limits; start afresh "
                        "(remove the file) or use the same limits");
            return PAWL_EINVAL;
        }
    for (int t = 0; t < 3; t++) {
        struct table *tb = tables(d, t);
        table_clear(tb);
        for (uint64_t k = 0; k < h.used[t]; k++) {
            uint64_t i = 0;
            char *slot = read(ctx, &i, sizeof i) == 0 && i < tb->cap ? (char *)tb->slots + i * tb->size : NULL;
            if (slot == NULL || *(uint64_t *)(void *)slot != 0 || /* the same slot twice */
                read(ctx, slot, tb->size) != 0 || *(uint64_t *)(void *)slot == 0 || !entry_ok(t, slot)) {
                pawl__diagf(dg, where, 0, 0, "truncated or damaged");
                if (slot != NULL) /* a half-read entry */
                    memset(slot, 0, tb->size);
                for (int u = 0; u < 3; u++) /* nothing half-loaded stays */
                    table_clear(tables(d, u));
                return PAWL_EINVAL;
            }
            head_at(tb, i)->ord = (uint32_t)tb->used;
            tb->order[tb->used++] = (uint32_t)i;
        }
    }
    d->untracked = h.untracked;
    return PAWL_OK;
}

/* ---- Detection Finding ------------------------------------------------------------------ */

json_t *pawl_finding_json(const struct pawl_finding *f, const char *uid)
{
    json_t *res = json_array();
    for (unsigned i = 0; res && i < f->nvins; i++)
        json_array_append_new(res, json_pack("{s:s, s:s}", "type", "vehicle", "uid", f->vins[i]));
    json_t *j = json_pack(
        "{s:i, s:i, s:i, s:i, s:I, s:i, s:{s:s, s:{s:s}}, s:{s:s, s:s, s:[s], s:{s:s}, s:I}, s:o,"
        " s:i, s:[{s:{s:s, s:s}}], s:b}",
        "class_uid", 2004, "category_uid", 2, "activity_id", 1, "type_uid", 200401, "time",
        (json_int_t)f->time_ms, "severity_id", f->severity, "metadata", "version", "1.3.0", "product",
        "name", "pawl", "finding_info", "uid", uid, "title", f->title, "types", f->detector, "analytic",
        "name", f->detector, "related_events_count", (json_int_t)f->related, "resources", res,
        "confidence_id", f->confidence, "attacks", "technique", "uid", f->owasp_uid, "name",
        f->owasp_name, "is_alert", 1);
    if (j != NULL && f->principal[0])
        json_object_set_new(j, "actor", json_pack("{s:{s:s}}", "user", "uid", f->principal));
    if (j != NULL && f->src_ip[0])
        json_object_set_new(j, "src_endpoint", json_pack("{s:s}", "ip", f->src_ip));
    return j;
}
