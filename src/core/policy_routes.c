/* The policy's `routes:` and `clients:` sections (see docs/policy.md). */
#include "policy_internal.h"
#include "pawl/twin.h"
#include "router.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

bool pawl__name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* A list of role names -> mask; every name must be a role the policy defines. */
static pawl_err role_list(struct pawl__yl *y, struct pawl_policy *p, yaml_node_t *v,
                          uint32_t *mask)
{
    pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "roles");
    *mask = 0;
    for (size_t i = 0; e == PAWL_OK && i < pawl__yl_seq_len(v); i++) {
        yaml_node_t *it = pawl__yl_seq_item(y, v, i);
        if (it->type != YAML_SCALAR_NODE)
            return pawl__yl_err(y, it, "a role must be a name");
        const char *s = (const char *)it->data.scalar.value;
        uint32_t bit = pawl_policy_role_bit(p, s, strlen(s));
        if (bit == 0)
            return pawl__yl_err(y, it, "unknown role '%s' (define it under 'roles:')", s);
        *mask |= bit;
    }
    if (e == PAWL_OK && *mask == 0)
        return pawl__yl_err(y, v, "the role list is empty");
    return e;
}

/* ---- one route ---- */

struct route_ctx {
    struct pawl_policy *p;
    struct pawl_route *r;
    char *vehicle;
    bool have_methods, have_cap, have_roles, stationary;
    yaml_node_t *fail_open_node;
};

static pawl_err cond_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    static const char *const ops[] = { "eq", "ne", "lt", "le", "gt", "ge" };
    struct pawl_cond *c = ctx;
    pawl_err e;
    int64_t age = 0;
    if (strcmp(k, "signal") == 0) {
        if ((e = pawl__yl_str(y, v, 256, &c->signal)) == PAWL_OK &&
            !pawl_vss_path_valid((pawl_str){ c->signal, strlen(c->signal) }))
            return pawl__yl_err(y, v, "signal must be a VSS path such as Vehicle.Speed");
        return e;
    }
    if (strcmp(k, "op") == 0) {
        for (int i = 0; v->type == YAML_SCALAR_NODE && i < 6; i++)
            if (strcmp((const char *)v->data.scalar.value, ops[i]) == 0) {
                c->op = (enum pawl_cond_op)i;
                return PAWL_OK;
            }
        return pawl__yl_err(y, v, "op must be one of eq, ne, lt, le, gt, ge");
    }
    if (strcmp(k, "value") == 0)
        return pawl__yl_num(y, v, &c->value);
    if (strcmp(k, "max_age_s") == 0) {
        e = pawl__yl_int(y, v, 1, 86400, &age);
        c->max_age_ms = age * 1000;
        return e;
    }
    return PAWL_ENOTFOUND;
}

static pawl_err conds_parse(struct pawl__yl *y, struct route_ctx *rc, yaml_node_t *v)
{
    pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "conditions");
    for (size_t i = 0; e == PAWL_OK && i < pawl__yl_seq_len(v); i++) {
        yaml_node_t *it = pawl__yl_seq_item(y, v, i);
        if (rc->r->nconds == PAWL_POLICY_MAX_CONDS)
            return pawl__yl_err(y, it, "more than %d conditions", PAWL_POLICY_MAX_CONDS);
        struct pawl_cond *c = &rc->r->conds[rc->r->nconds++];
        c->op = PAWL_OP_EQ;
        c->max_age_ms = rc->p->twin_max_age_ms;
        if ((e = pawl__yl_each(y, it, "a condition", cond_key, c)) == PAWL_OK && c->signal == NULL)
            return pawl__yl_err(y, it, "a condition needs 'signal'");
    }
    return e;
}

static pawl_err methods_parse(struct pawl__yl *y, yaml_node_t *v, uint8_t *mask)
{
    pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "methods");
    for (size_t i = 0; e == PAWL_OK && i < pawl__yl_seq_len(v); i++) {
        yaml_node_t *it = pawl__yl_seq_item(y, v, i);
        enum pawl_method m = PAWL_M__COUNT;
        if (it->type == YAML_SCALAR_NODE)
            m = pawl_method_parse((pawl_str){ (const char *)it->data.scalar.value,
                                              it->data.scalar.length });
        if (m == PAWL_M__COUNT)
            return pawl__yl_err(y, it, "unknown method (want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)");
        *mask |= (uint8_t)(1u << m);
    }
    if (e == PAWL_OK && *mask == 0)
        return pawl__yl_err(y, v, "methods is empty");
    return e;
}

static pawl_err route_rl_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawl_route *r = ctx;
    if (strcmp(k, "principal_route") == 0)
        return pawl__policy_rate(y, v, &r->rl_principal_route);
    if (strcmp(k, "vin_command") == 0)
        return pawl__policy_rate(y, v, &r->rl_vin_command);
    return PAWL_ENOTFOUND;
}

static pawl_err route_flag(struct pawl__yl *y, const char *k, yaml_node_t *v, struct route_ctx *rc)
{
    if (strcmp(k, "step_up") == 0)
        return pawl__yl_bool(y, v, &rc->r->step_up);
    if (strcmp(k, "stationary_only") == 0)
        return pawl__yl_bool(y, v, &rc->stationary);
    if (strcmp(k, "fail_open") == 0) {
        rc->fail_open_node = v;
        return pawl__yl_bool(y, v, &rc->r->fail_open);
    }
    return PAWL_ENOTFOUND;
}

static pawl_err route_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct route_ctx *rc = ctx;
    struct pawl_route *r = rc->r;
    if (strcmp(k, "id") == 0)
        return pawl__yl_str(y, v, 128, &r->id);
    if (strcmp(k, "path") == 0)
        return pawl__yl_str(y, v, PAWL_PATH_MAX, &r->path);
    if (strcmp(k, "methods") == 0) {
        rc->have_methods = true;
        return methods_parse(y, v, &r->methods);
    }
    if (strcmp(k, "capability") == 0) {
        int c = v->type == YAML_SCALAR_NODE ? pawl__cap_parse((const char *)v->data.scalar.value) : -1;
        if (c < 0)
            return pawl__yl_err(y, v, "capability must be one of read, control, admin, ota, pii");
        r->cap = (enum pawl_cap)c;
        rc->have_cap = true;
        return PAWL_OK;
    }
    if (strcmp(k, "roles") == 0) {
        rc->have_roles = true;
        return role_list(y, rc->p, v, &r->role_mask);
    }
    if (strcmp(k, "vehicle") == 0)
        return pawl__yl_str(y, v, 64, &rc->vehicle);
    if (strcmp(k, "conditions") == 0)
        return conds_parse(y, rc, v);
    if (strcmp(k, "rate_limits") == 0)
        return pawl__yl_each(y, v, "a route's rate_limits", route_rl_key, r);
    return route_flag(y, k, v, rc);
}

/* stationary_only: sugar for "Vehicle.Speed == 0, reported within twin.max_age_s". */
static pawl_err add_stationary(struct pawl__yl *y, struct route_ctx *rc, yaml_node_t *it)
{
    struct pawl_route *r = rc->r;
    if (r->nconds == PAWL_POLICY_MAX_CONDS)
        return pawl__yl_err(y, it, "more than %d conditions", PAWL_POLICY_MAX_CONDS);
    struct pawl_cond *c = &r->conds[r->nconds++];
    c->signal = pawl__strndup("Vehicle.Speed", 13);
    c->op = PAWL_OP_EQ;
    c->value = 0;
    c->max_age_ms = rc->p->twin_max_age_ms;
    return c->signal ? PAWL_OK : PAWL_ENOMEM;
}

static pawl_err route_check(struct pawl__yl *y, struct route_ctx *rc, yaml_node_t *it)
{
    struct pawl_route *r = rc->r;
    struct pawl_policy *p = rc->p;
    char err[256];
    if (!r->id || !r->path || !rc->have_methods || !rc->have_cap || !rc->have_roles)
        return pawl__yl_err(y, it, "a route needs id, path, methods, capability and roles");
    for (uint32_t i = 0; i < r->index; i++)
        if (strcmp(p->routes[i].id, r->id) == 0)
            return pawl__yl_err(y, it, "duplicate route id '%s'", r->id);
    if (r->fail_open && r->cap != PAWL_CAP_READ)
        return pawl__yl_err(y, rc->fail_open_node, "fail_open is only allowed on read routes");
    if (rc->stationary) {
        pawl_err e = add_stationary(y, rc, it);
        if (e != PAWL_OK)
            return e;
    }
    if (pawl__router_add(p->router, p->routes, r->index, rc->vehicle, err, sizeof err) != PAWL_OK)
        return pawl__yl_err(y, it, "route '%s': %s", r->id, err);
    if (r->rl_vin_command.interval_us && r->vehicle_seg < 0)
        return pawl__yl_err(y, it, "route '%s': rate_limits.vin_command needs 'vehicle:'", r->id);
    if (r->nconds > 0 && r->vehicle_seg < 0)
        return pawl__yl_err(y, it, "route '%s': conditions and stationary_only need 'vehicle:' "
                                   "(the path parameter naming the vehicle)", r->id);
    return PAWL_OK;
}

pawl_err pawl__policy_routes(struct pawl__yl *y, struct pawl_policy *p, yaml_node_t *v)
{
    pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "routes");
    size_t n = e == PAWL_OK ? pawl__yl_seq_len(v) : 0;
    if (e != PAWL_OK)
        return e;
    if (n > PAWL_POLICY_MAX_ROUTES)
        return pawl__yl_err(y, v, "more than %d routes", PAWL_POLICY_MAX_ROUTES);
    if ((p->routes = calloc(n ? n : 1, sizeof *p->routes)) == NULL)
        return PAWL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = pawl__yl_seq_item(y, v, i);
        struct route_ctx rc = { .p = p, .r = &p->routes[i] };
        rc.r->index = (uint32_t)i;
        rc.r->line = (unsigned)it->start_mark.line + 1;
        p->nroutes = i + 1; /* so that policy_free releases a half-built route */
        e = pawl__yl_each(y, it, "a route", route_key, &rc);
        if (e == PAWL_OK)
            e = route_check(y, &rc, it);
        free(rc.vehicle);
        if (e != PAWL_OK)
            return e;
    }
    return PAWL_OK;
}

/* ---- clients: ---- */

/* "sha256//<base64 of 32 bytes>" (curl's pin form) -> 32 bytes. */
static bool pin_parse(const char *s, uint8_t out[32])
{
    unsigned char tmp[36];
    if (strncmp(s, "sha256//", 8) != 0 || strlen(s + 8) != 44 || s[8 + 43] != '=' ||
        s[8 + 42] == '=')
        return false;
    if (EVP_DecodeBlock(tmp, (const unsigned char *)s + 8, 44) != 33)
        return false;
    memcpy(out, tmp, 32);
    return true;
}

struct client_ctx {
    struct pawl_policy *p;
    struct pawl_client *c;
    bool have_roles, have_id;
};

static pawl_err client_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct client_ctx *cc = ctx;
    struct pawl_client *c = cc->c;
    if (strcmp(k, "spki_sha256") == 0) {
        if (cc->have_id || v->type != YAML_SCALAR_NODE ||
            !pin_parse((const char *)v->data.scalar.value, c->spki_sha256))
            return pawl__yl_err(y, v, "spki_sha256 must be 'sha256//<base64 of 32 bytes>' and a "
                                      "client has either spki_sha256 or subject");
        c->by_spki = cc->have_id = true;
        return PAWL_OK;
    }
    if (strcmp(k, "subject") == 0) {
        if (cc->have_id)
            return pawl__yl_err(y, v, "a client has either spki_sha256 or subject, not both");
        cc->have_id = true;
        return pawl__yl_str(y, v, 1024, &c->subject);
    }
    if (strcmp(k, "principal") == 0)
        return pawl__yl_str(y, v, PAWL_ID_MAX - 1, &c->principal);
    if (strcmp(k, "org") == 0)
        return pawl__yl_str(y, v, PAWL_ID_MAX - 1, &c->org);
    if (strcmp(k, "roles") == 0) {
        cc->have_roles = true;
        return role_list(y, cc->p, v, &c->role_mask);
    }
    return PAWL_ENOTFOUND;
}

pawl_err pawl__policy_clients(struct pawl__yl *y, struct pawl_policy *p, yaml_node_t *v)
{
    pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "clients");
    size_t n = e == PAWL_OK ? pawl__yl_seq_len(v) : 0;
    if (e != PAWL_OK)
        return e;
    if (n > 100000)
        return pawl__yl_err(y, v, "more than 100000 clients");
    if ((p->clients = calloc(n ? n : 1, sizeof *p->clients)) == NULL)
        return PAWL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = pawl__yl_seq_item(y, v, i);
        struct client_ctx cc = { .p = p, .c = &p->clients[i] };
        p->nclients = i + 1;
        if ((e = pawl__yl_each(y, it, "a client", client_key, &cc)) != PAWL_OK)
            return e;
        if (!cc.have_id || !cc.c->principal || !cc.have_roles)
            return pawl__yl_err(y, it, "a client needs spki_sha256 or subject, principal and roles");
    }
    return PAWL_OK;
}
