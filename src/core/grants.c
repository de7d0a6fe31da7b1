/* see pawl/grants.h */
#include "pawl/grants.h"
#include "pawl/identity.h"
#include "strpool.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[PAWL_GR__COUNT] = {
    "owner", "secondary_owner", "driver", "fleet_manager", "dealer", "support"
};

const char *pawl_grant_role_name(enum pawl_grant_role r)
{
    return (unsigned)r < PAWL_GR__COUNT ? role_names[r] : "unknown";
}

/* ISO 3779: digits and capitals except I, O and Q. */
static const bool vin_char[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['P'] = 1,
    ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1,
    ['Z'] = 1,
};

bool pawl_vin_valid(pawl_str v)
{
    if (v.n != PAWL_VIN_LEN)
        return false;
    unsigned ok = 1;
    for (size_t i = 0; i < PAWL_VIN_LEN; i++)
        ok &= vin_char[(unsigned char)v.p[i]];
    return ok != 0;
}

struct pawl_grants {
    struct pawl__strpool pool;
    struct pawl_grant *g;  /* g[0] unused so that 0 can mean "none" */
    uint32_t n;
    size_t cap;
    struct head {          /* open addressing over (principal, vin) */
        uint32_t idx;      /* the first grant of the bucket, 0: empty */
        uint32_t tag;      /* the key hash's high half: most other keys fail on it without a look at
                            * the grant and its principal (two cache misses) */
    } *heads;
    uint32_t *vheads;      /* the same over vin alone (chains through vnext) */
    size_t nheads;
    int64_t max_delegation_ms;
};

pawl_err pawl_grants_new(int64_t max_delegation_ms, struct pawl_grants **out)
{
    struct pawl_grants *g = calloc(1, sizeof *g);
    if (g == NULL)
        return PAWL_ENOMEM;
    pawl__strpool_init(&g->pool);
    g->n = 1;
    g->max_delegation_ms = max_delegation_ms;
    *out = g;
    return PAWL_OK;
}

void pawl_grants_free(struct pawl_grants *g)
{
    if (g == NULL)
        return;
    pawl__strpool_free(&g->pool);
    free(g->g);
    free(g->heads);
    free(g->vheads);
    free(g);
}

size_t pawl_grants_count(const struct pawl_grants *g)
{
    return g->n - 1;
}

const char *pawl_grants_org(const struct pawl_grants *g, const struct pawl_grant *gr)
{
    return pawl__strpool_get(&g->pool, gr->org);
}

/* The hash of (principal, vin) from theirs (pawl_key_of). */
static uint64_t key_hash(const pawl_key *principal, const pawl_key *vin)
{
    return vin->h ^ (principal->h * 0x9e3779b97f4a7c15ull + 1);
}

static bool same_key(const struct pawl_grants *g, const struct pawl_grant *gr, pawl_str principal,
                     const char *vin)
{
    const char *p = pawl__strpool_get(&g->pool, gr->principal);
    return memcmp(gr->vin, vin, PAWL_VIN_LEN) == 0 && strnlen(p, principal.n + 1) == principal.n &&
           memcmp(p, principal.p, principal.n) == 0;
}

/* Slot of (principal, vin): its head, or the empty slot where it would go;
 * *tag is the key's tag. vin is PAWL_VIN_LEN bytes. */
static size_t slot_of(const struct pawl_grants *g, const pawl_key *principal, const pawl_key *vin,
                      uint32_t *tag)
{
    size_t mask = g->nheads - 1;
    uint64_t h = key_hash(principal, vin);
    size_t i = h & mask;
    *tag = (uint32_t)(h >> 32);
    while (g->heads[i].idx && (g->heads[i].tag != *tag ||
                               !same_key(g, &g->g[g->heads[i].idx], principal->s, vin->s.p)))
        i = (i + 1) & mask;
    return i;
}

/* Where the probe for a VIN of hash h starts in vheads (its bits above those
 * that place it in heads, so the two tables do not crowd alike). */
static size_t vhome(const struct pawl_grants *g, uint64_t h)
{
    return (h >> 24) & (g->nheads - 1);
}

/* Slot of vin in vheads: its head, or the empty slot where it would go. */
static size_t vslot_of(const struct pawl_grants *g, const pawl_key *vin)
{
    size_t mask = g->nheads - 1;
    size_t i = vhome(g, vin->h);
    while (g->vheads[i] && memcmp(g->g[g->vheads[i]].vin, vin->s.p, PAWL_VIN_LEN) != 0)
        i = (i + 1) & mask;
    return i;
}

static pawl_key vin_key(const char *vin)
{
    return pawl_key_of((pawl_str){ vin, PAWL_VIN_LEN });
}

static bool rehash(struct pawl_grants *g)
{
    size_t ns = g->nheads ? g->nheads * 2 : 1024;
    struct head *old = g->heads;
    uint32_t *vold = g->vheads;
    size_t oldn = g->nheads;
    g->heads = calloc(ns, sizeof *g->heads);
    g->vheads = calloc(ns, sizeof *g->vheads);
    if (g->heads == NULL || g->vheads == NULL) {
        free(g->heads);
        free(g->vheads);
        g->heads = old;
        g->vheads = vold;
        return false;
    }
    g->nheads = ns;
    for (size_t i = 0; i < oldn; i++) {
        if (old[i].idx != 0) {
            const struct pawl_grant *gr = &g->g[old[i].idx];
            const char *p = pawl__strpool_get(&g->pool, gr->principal);
            pawl_key pk = pawl_key_of((pawl_str){ p, strlen(p) }), vk = vin_key(gr->vin);
            uint32_t tag;
            size_t s = slot_of(g, &pk, &vk, &tag);
            g->heads[s] = (struct head){ old[i].idx, tag };
        }
        if (vold[i] != 0) { /* a chain moves whole with its head */
            pawl_key vk = vin_key(g->g[vold[i]].vin);
            g->vheads[vslot_of(g, &vk)] = vold[i];
        }
    }
    free(old);
    free(vold);
    return true;
}

static pawl_err insert(struct pawl_grants *g, const struct pawl_grant *gr, pawl_str principal)
{
    if ((g->n + 1) * 2 > g->nheads && !rehash(g))
        return PAWL_ENOMEM;
    if (!pawl__grow(&g->g, &g->cap, g->n, sizeof *g->g, 1024))
        return PAWL_ENOMEM;
    uint32_t tag;
    pawl_key pk = pawl_key_of(principal), vk = vin_key(gr->vin);
    size_t s = slot_of(g, &pk, &vk, &tag), vs = vslot_of(g, &vk);
    g->g[g->n] = *gr;
    g->g[g->n].next = g->heads[s].idx;
    g->g[g->n].vnext = g->vheads[vs];
    g->heads[s] = (struct head){ g->n, tag };
    g->vheads[vs] = g->n++;
    return PAWL_OK;
}

const struct pawl_grant *pawl_grants_of_vin(const struct pawl_grants *g, pawl_str vin, uint32_t *it)
{
    if (vin.n != PAWL_VIN_LEN || g->nheads == 0)
        return NULL;
    pawl_key vk = *it == 0 ? vin_key(vin.p) : (pawl_key){ vin, 0 };
    uint32_t i = *it == 0 ? g->vheads[vslot_of(g, &vk)] : g->g[*it].vnext;
    *it = i;
    return i ? &g->g[i] : NULL;
}

const char *pawl_grants_principal(const struct pawl_grants *g, const struct pawl_grant *gr)
{
    return pawl__strpool_get(&g->pool, gr->principal);
}

void pawl_grants_prefetch(const struct pawl_grants *g, const pawl_key *principal,
                          const pawl_key *vin)
{
    if (vin->s.n == PAWL_VIN_LEN && g->nheads != 0)
        __builtin_prefetch(&g->heads[key_hash(principal, vin) & (g->nheads - 1)]);
}

void pawl_grants_prefetch_vin(const struct pawl_grants *g, const pawl_key *vin, int step)
{
    if (vin->s.n != PAWL_VIN_LEN || g->nheads == 0)
        return;
    const uint32_t *v = &g->vheads[vhome(g, vin->h)];
    if (step == 1)
        __builtin_prefetch(v);
    else if (*v != 0)
        __builtin_prefetch(&g->g[*v]);
}

const struct pawl_grant *pawl_grants_next_key(const struct pawl_grants *g,
                                              const pawl_key *principal, const pawl_key *vin,
                                              uint32_t *it)
{
    uint32_t i, tag;
    if (vin->s.n != PAWL_VIN_LEN || g->nheads == 0)
        return NULL;
    if (*it == 0)
        i = g->heads[slot_of(g, principal, vin, &tag)].idx;
    else
        i = g->g[*it].next;
    *it = i;
    return i ? &g->g[i] : NULL;
}

const struct pawl_grant *pawl_grants_next(const struct pawl_grants *g, pawl_str principal,
                                          pawl_str vin, uint32_t *it)
{
    pawl_key pk = pawl_key_of(principal), vk = pawl_key_of(vin);
    return pawl_grants_next_key(g, &pk, &vk, it);
}

/* ---- parsing ---- */

struct line_ctx {
    const char *where;
    unsigned lineno;
    struct pawl_diag *d;
};

static pawl_err bad(const struct line_ctx *c, const char *msg, const char *member)
{
    pawl__diagf(c->d, c->where, c->lineno, 0, "%s%s%s", member ? member : "", member ? ": " : "",
                msg);
    return PAWL_EINVAL;
}

static pawl_err get_str(const struct line_ctx *c, json_t *o, const char *k, bool required,
                        size_t max, pawl_str *out)
{
    json_t *v = json_object_get(o, k);
    out->p = NULL;
    out->n = 0;
    if (v == NULL || json_is_null(v))
        return required ? bad(c, "required string is missing", k) : PAWL_OK;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
        return bad(c, "must be a non-empty string of limited length", k);
    out->p = json_string_value(v);
    out->n = json_string_length(v);
    if (memchr(out->p, '\0', out->n))
        return bad(c, "contains NUL", k);
    return PAWL_OK;
}

static pawl_err get_time(const struct line_ctx *c, json_t *o, const char *k, bool required,
                         int64_t dflt, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return required ? bad(c, "required time (ms since epoch) is missing", k) : PAWL_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(c, "must be milliseconds since the epoch (a non-negative integer) or null", k);
    *out = json_integer_value(v);
    return PAWL_OK;
}

static pawl_err check_grant(const struct line_ctx *c, const struct pawl_grants *g,
                            const struct pawl_grant *gr, pawl_str org)
{
    if (gr->until_ms <= gr->since_ms)
        return bad(c, "must be later than since", "until");
    if (gr->role != PAWL_GR_DEALER && gr->role != PAWL_GR_SUPPORT)
        return PAWL_OK;
    if (org.n == 0)
        return bad(c, "dealer and support grants must name their org", "org");
    if (gr->until_ms == INT64_MAX)
        return bad(c, "dealer and support grants must be time-boxed (until is null)", "until");
    if (gr->until_ms - gr->since_ms > g->max_delegation_ms)
        return bad(c, "dealer/support grant longer than grants.max_delegation_s", "until");
    return PAWL_OK;
}

static pawl_err parse_obj(struct pawl_grants *g, const struct line_ctx *c, json_t *o)
{
    pawl_str principal, vin, role, org;
    struct pawl_grant gr;
    pawl_err e;
    memset(&gr, 0, sizeof gr);
    if ((e = get_str(c, o, "principal", true, PAWL_ID_MAX - 1, &principal)) ||
        (e = get_str(c, o, "vin", true, 64, &vin)) || (e = get_str(c, o, "role", true, 32, &role)) ||
        (e = get_str(c, o, "org", false, PAWL_ID_MAX - 1, &org)) ||
        (e = get_time(c, o, "since", true, 0, &gr.since_ms)) ||
        (e = get_time(c, o, "until", false, INT64_MAX, &gr.until_ms)))
        return e;
    if (!pawl_vin_valid(vin))
        return bad(c, "not a VIN (17 characters of 0-9 and A-Z without I, O, Q)", "vin");
    memcpy(gr.vin, vin.p, PAWL_VIN_LEN);
    gr.role = PAWL_GR__COUNT;
    for (int i = 0; i < PAWL_GR__COUNT; i++)
        if (pawl__str_eq(role, role_names[i]))
            gr.role = (uint8_t)i;
    if (gr.role == PAWL_GR__COUNT)
        return bad(c, "must be owner, secondary_owner, driver, fleet_manager, dealer or support",
                   "role");
    if ((e = check_grant(c, g, &gr, org)) != PAWL_OK)
        return e;
    if ((gr.principal = pawl__strpool_intern(&g->pool, principal)) == 0 ||
        (org.n && (gr.org = pawl__strpool_intern(&g->pool, org)) == 0))
        return PAWL_ENOMEM;
    return insert(g, &gr, principal);
}

pawl_err pawl_grants_add_line(struct pawl_grants *g, const char *line, size_t n, const char *where,
                              unsigned lineno, struct pawl_diag *d)
{
    struct line_ctx c = { where, lineno, d };
    json_error_t jerr;
    if (n > PAWL_GRANTS_MAX_LINE) {
        pawl__diagf(d, where, lineno, 0, "line longer than %d bytes", PAWL_GRANTS_MAX_LINE);
        return PAWL_ELIMIT;
    }
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        pawl__diagf(d, where, lineno, (unsigned)jerr.column, "invalid JSON: %s", jerr.text);
        return PAWL_EPARSE;
    }
    pawl_err e = json_is_object(o) ? parse_obj(g, &c, o) : bad(&c, "a grants line must be a JSON object", NULL);
    json_decref(o);
    return e;
}

pawl_err pawl_grants_load(struct pawl_grants *g, const char *buf, size_t n, const char *where,
                          struct pawl_diag *d)
{
    unsigned lineno = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (buf + i)) : n - i;
        lineno++;
        size_t j = 0;
        while (j < len && (buf[i + j] == ' ' || buf[i + j] == '\t' || buf[i + j] == '\r'))
            j++;
        if (j < len) {
            pawl_err e = pawl_grants_add_line(g, buf + i, len, where, lineno, d);
            if (e != PAWL_OK)
                return e;
        }
        i += len + 1;
    }
    return PAWL_OK;
}
