/* see pawl/policy.h; the schema is documented in docs/policy.md */
#include "pawl/policy.h"
#include "policy_internal.h"
#include "router.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cap_names[PAWL_CAP__COUNT] = { "read", "control", "admin", "ota", "pii" };
static const char *const method_names[PAWL_M__COUNT] = { "GET", "HEAD", "POST", "PUT",
                                                         "PATCH", "DELETE", "OPTIONS" };

const char *pawl_cap_name(enum pawl_cap c)
{
    return (unsigned)c < PAWL_CAP__COUNT ? cap_names[c] : "unknown";
}

const char *pawl_method_name(enum pawl_method m)
{
    return (unsigned)m < PAWL_M__COUNT ? method_names[m] : "unknown";
}

enum pawl_method pawl_method_parse(pawl_str m)
{
    for (int i = 0; i < PAWL_M__COUNT; i++)
        if (pawl__str_eq(m, method_names[i]))
            return (enum pawl_method)i;
    return PAWL_M__COUNT;
}

int pawl__cap_parse(const char *s)
{
    for (int i = 0; i < PAWL_CAP__COUNT; i++)
        if (strcmp(s, cap_names[i]) == 0)
            return i;
    return -1;
}

uint32_t pawl_policy_role_bit(void *policy, const char *name, size_t n)
{
    const struct pawl_policy *p = policy;
    for (unsigned i = 0; i < p->nroles; i++)
        if (strlen(p->role_names[i]) == n && memcmp(p->role_names[i], name, n) == 0)
            return 1u << i;
    return 0;
}

/* ---- loader state ---- */

struct ld {
    struct pawl__yl y;
    struct pawl_policy *p;
};

/* An integer number of seconds in [min, max], stored in milliseconds. */
static pawl_err secs_ms(struct pawl__yl *y, yaml_node_t *v, int64_t min, int64_t max, int64_t *ms)
{
    int64_t s = 0;
    pawl_err e = pawl__yl_int(y, v, min, max, &s);
    if (e == PAWL_OK)
        *ms = s * 1000;
    return e;
}

/* A count in [min, max]. */
static pawl_err count(struct pawl__yl *y, yaml_node_t *v, int64_t min, int64_t max, size_t *out)
{
    int64_t n = 0;
    pawl_err e = pawl__yl_int(y, v, min, max, &n);
    if (e == PAWL_OK)
        *out = (size_t)n;
    return e;
}

/* ---- jwt: ---- */

static pawl_err jwt_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawl_policy *p = ctx;
    if (strcmp(k, "issuer") == 0)
        return pawl__yl_str(y, v, 1024, &p->jwt_issuer);
    if (strcmp(k, "audience") == 0)
        return pawl__yl_str(y, v, 1024, &p->jwt_audience);
    if (strcmp(k, "roles_claim") == 0)
        return pawl__yl_str(y, v, 64, &p->jwt_roles_claim);
    if (strcmp(k, "org_claim") == 0)
        return pawl__yl_str(y, v, 64, &p->jwt_org_claim);
    if (strcmp(k, "leeway_s") == 0)
        return secs_ms(y, v, 0, 600, &p->jwt_leeway_ms);
    if (strcmp(k, "cache_entries") == 0)
        return count(y, v, 0, 262144, &p->jwt_cache_entries);
    return PAWL_ENOTFOUND;
}

/* ---- roles: ---- */

static pawl_err role_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct ld *l = ctx;
    struct pawl_policy *p = l->p;
    yaml_node_t *kn = v; /* errors about the name point at its capabilities */
    pawl_err e;
    if (!pawl__name_ok(k, 32))
        return pawl__yl_err(y, kn, "role name '%s' must match [a-z_][a-z0-9_]{0,30}", k);
    if (p->nroles == PAWL_POLICY_MAX_ROLES)
        return pawl__yl_err(y, kn, "more than %d roles", PAWL_POLICY_MAX_ROLES);
    if ((e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "a role's capabilities")) != PAWL_OK)
        return e;
    uint32_t caps = 0;
    for (size_t i = 0; i < pawl__yl_seq_len(v); i++) {
        yaml_node_t *it = pawl__yl_seq_item(y, v, i);
        int c = it->type == YAML_SCALAR_NODE ? pawl__cap_parse((const char *)it->data.scalar.value) : -1;
        if (c < 0)
            return pawl__yl_err(y, it, "unknown capability (want read, control, admin, ota, pii)");
        caps |= 1u << c;
    }
    if ((p->role_names[p->nroles] = pawl__strndup(k, strlen(k))) == NULL)
        return PAWL_ENOMEM;
    p->role_caps[p->nroles++] = caps;
    return PAWL_OK;
}

/* ---- rate limits ---- */

struct rate_ctx {
    int64_t rate, per_us, burst;
    bool have_rate, have_per;
};

static pawl_err rate_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct rate_ctx *r = ctx;
    if (strcmp(k, "rate") == 0) {
        r->have_rate = true;
        return pawl__yl_int(y, v, 1, 1000000000, &r->rate);
    }
    if (strcmp(k, "per") == 0) {
        r->have_per = true;
        return pawl__yl_duration_us(y, v, &r->per_us);
    }
    if (strcmp(k, "burst") == 0)
        return pawl__yl_int(y, v, 1, 1000000000, &r->burst);
    return PAWL_ENOTFOUND;
}

pawl_err pawl__policy_rate(struct pawl__yl *y, yaml_node_t *v, struct pawl_rate *out)
{
    struct rate_ctx r = { 0, 0, 0, false, false };
    pawl_err e = pawl__yl_each(y, v, "a rate limit", rate_key, &r);
    if (e != PAWL_OK)
        return e;
    if (!r.have_rate || !r.have_per)
        return pawl__yl_err(y, v, "a rate limit needs 'rate' and 'per' (e.g. {rate: 10, per: 1m})");
    if (r.per_us / r.rate < 1)
        return pawl__yl_err(y, v, "rate too high: more than one request per microsecond");
    out->interval_us = r.per_us / r.rate;
    out->burst = r.burst ? r.burst : r.rate;
    if (out->burst > 366LL * 86400000000LL / out->interval_us)
        return pawl__yl_err(y, v, "burst x (per / rate) must be at most 366 days");
    return PAWL_OK;
}

static pawl_err global_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawl_policy *p = ctx;
    int c = pawl__cap_parse(k);
    if (c < 0)
        return PAWL_ENOTFOUND;
    return pawl__policy_rate(y, v, &p->rl_global[c]);
}

static pawl_err rl_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawl_policy *p = ctx;
    if (strcmp(k, "principal") == 0)
        return pawl__policy_rate(y, v, &p->rl_principal);
    if (strcmp(k, "global") == 0)
        return pawl__yl_each(y, v, "rate_limits.global", global_key, p);
    if (strcmp(k, "max_keys") == 0)
        return count(y, v, 1024, 1LL << 28, &p->rl_max_keys);
    return PAWL_ENOTFOUND;
}

/* ---- grants:, twin: ---- */

static pawl_err grants_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawl_policy *p = ctx;
    if (strcmp(k, "max_delegation_s") == 0)
        return secs_ms(y, v, 60, 366 * 86400, &p->max_delegation_ms);
    return PAWL_ENOTFOUND;
}

static pawl_err twin_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawl_policy *p = ctx;
    if (strcmp(k, "max_age_s") == 0)
        return secs_ms(y, v, 1, 86400, &p->twin_max_age_ms);
    if (strcmp(k, "max_skew_s") == 0)
        return secs_ms(y, v, 0, 3600, &p->twin_max_skew_ms);
    if (strcmp(k, "max_vehicles") == 0)
        return count(y, v, 1, 100000000, &p->twin_max_vehicles);
    return PAWL_ENOTFOUND;
}


/* ---- top level ---- */

static pawl_err top_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct ld *l = ctx;
    struct pawl_policy *p = l->p;
    int64_t ver = 0;
    pawl_err e;
    if (strcmp(k, "version") == 0) {
        if ((e = pawl__yl_int(y, v, 1, 1, &ver)) != PAWL_OK)
            return pawl__yl_err(y, v, "unsupported policy version (this pawl reads version: 1)");
        return PAWL_OK;
    }
    if (strcmp(k, "jwt") == 0)
        return pawl__yl_each(y, v, "jwt", jwt_key, p);
    if (strcmp(k, "roles") == 0)
        return pawl__yl_each(y, v, "roles", role_key, l);
    if (strcmp(k, "grants") == 0)
        return pawl__yl_each(y, v, "grants", grants_key, p);
    if (strcmp(k, "rate_limits") == 0)
        return pawl__yl_each(y, v, "rate_limits", rl_key, p);
    if (strcmp(k, "twin") == 0)
        return pawl__yl_each(y, v, "twin", twin_key, p);
    if (strcmp(k, "routes") == 0 || strcmp(k, "clients") == 0)
        return PAWL_OK; /* second pass: they refer to roles */
    return PAWL_ENOTFOUND;
}

static pawl_err top_key2(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    if (strcmp(k, "routes") == 0)
        return pawl__policy_routes(y, ((struct ld *)ctx)->p, v);
    if (strcmp(k, "clients") == 0)
        return pawl__policy_clients(y, ((struct ld *)ctx)->p, v);
    return PAWL_OK;
}

static void defaults(struct pawl_policy *p)
{
    p->jwt_leeway_ms = 30000;
    p->jwt_cache_entries = 65536;
    p->max_delegation_ms = 7LL * 86400 * 1000;
    p->rl_max_keys = 1u << 21;
    p->twin_max_age_ms = 30000;
    p->twin_max_vehicles = 1000000;
    p->twin_max_skew_ms = 5000;
}

static pawl_err finish(struct ld *l, yaml_node_t *root)
{
    struct pawl_policy *p = l->p;
    if (p->nroutes == 0)
        return pawl__yl_err(&l->y, root, "the policy defines no routes");
    if ((p->jwt_roles_claim == NULL && (p->jwt_roles_claim = pawl__strndup("roles", 5)) == NULL) ||
        (p->jwt_org_claim == NULL && (p->jwt_org_claim = pawl__strndup("org", 3)) == NULL))
        return PAWL_ENOMEM;
    return pawl__router_finish(p->router);
}

pawl_err pawl_policy_load(const char *yaml, size_t n, const char *where, struct pawl_policy **out,
                          struct pawl_diag *d)
{
    struct ld l = { .y = { .where = where, .d = d } };
    pawl_err e;
    *out = NULL;
    if (n > PAWL_POLICY_MAX_BYTES) {
        pawl__diagf(d, where, 0, 0, "policy larger than %u bytes", PAWL_POLICY_MAX_BYTES);
        return PAWL_ELIMIT;
    }
    if ((l.p = calloc(1, sizeof *l.p)) == NULL || (l.p->router = pawl__router_new()) == NULL) {
        free(l.p);
        return PAWL_ENOMEM;
    }
    defaults(l.p);
    if ((e = pawl__yl_load(&l.y, yaml, n, PAWL_POLICY_MAX_DEPTH)) != PAWL_OK)
        goto out_nodoc;
    yaml_node_t *root = yaml_document_get_root_node(&l.y.doc);
    if ((e = pawl__yl_each(&l.y, root, "the policy", top_key, &l)) != PAWL_OK ||
        (e = pawl__yl_each(&l.y, root, "the policy", top_key2, &l)) != PAWL_OK ||
        (e = finish(&l, root)) != PAWL_OK)
        goto out;
    *out = l.p;
    l.p = NULL;
out:
    pawl__yl_free(&l.y);
out_nodoc:
    if (e == PAWL_ENOMEM)
        pawl__diagf(d, where, 0, 0, "out of memory");
    pawl_policy_free(l.p);
    return e;
}

void pawl_policy_free(struct pawl_policy *p)
{
    if (p == NULL)
        return;
    free(p->jwt_issuer);
    free(p->jwt_audience);
    free(p->jwt_roles_claim);
    free(p->jwt_org_claim);
    for (unsigned i = 0; i < p->nroles; i++)
        free(p->role_names[i]);
    for (size_t i = 0; i < p->nclients; i++) {
        free(p->clients[i].subject);
        free(p->clients[i].principal);
        free(p->clients[i].org);
    }
    free(p->clients);
    for (size_t i = 0; i < p->nroutes; i++) {
        free(p->routes[i].id);
        free(p->routes[i].path);
        for (unsigned c = 0; c < p->routes[i].nconds; c++)
            free(p->routes[i].conds[c].signal);
    }
    free(p->routes);
    pawl__router_free(p->router);
    free(p);
}

enum pawl_match pawl_policy_match(const struct pawl_policy *p, const struct pawl_path *path,
                                  enum pawl_method m, const struct pawl_route **route)
{
    return pawl__router_match(p->router, p->routes, path, m, route);
}

bool pawl_policy_client_identity(const struct pawl_policy *p, const uint8_t *spki_sha256,
                                 pawl_str subject, struct pawl_principal *out)
{
    const struct pawl_client *c = NULL;
    for (size_t i = 0; i < p->nclients && c == NULL; i++) { /* few clients: spki first */
        if (p->clients[i].by_spki && spki_sha256 &&
            memcmp(p->clients[i].spki_sha256, spki_sha256, 32) == 0)
            c = &p->clients[i];
    }
    for (size_t i = 0; i < p->nclients && c == NULL && subject.n > 0; i++)
        if (!p->clients[i].by_spki && pawl__str_eq(subject, p->clients[i].subject))
            c = &p->clients[i];
    if (c == NULL)
        return false;
    memset(out, 0, sizeof *out);
    out->via = PAWL_AUTH_CERT;
    snprintf(out->uid, sizeof out->uid, "%s", c->principal);
    snprintf(out->org, sizeof out->org, "%s", c->org ? c->org : "");
    out->role_mask = c->role_mask;
    for (unsigned i = 0; i < p->nroles && out->nroles < PAWL_MAX_ROLES; i++)
        if (c->role_mask & (1u << i))
            snprintf(out->roles[out->nroles++], PAWL_ROLE_MAX, "%s", p->role_names[i]);
    return true;
}
