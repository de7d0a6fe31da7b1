/* see pawl/engine.h */
#include "pawl/engine.h"
#include "pawl/jwt.h"
#include "pawl/path.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pawl_engine {
    const struct pawl_policy *p;
    const struct pawl_grants *grants;
    struct pawl_twin *twin;
    struct pawl_jwt_verifier *jwt;     /* NULL without a JWKS */
    struct pawl_ratelimit *rl;
    uint16_t (*sig)[PAWL_POLICY_MAX_CONDS]; /* per route: twin signal id of each condition */
    uint64_t *route_hash;              /* per route: hash of its id, for rate-limit keys */
    uint32_t caps_of_roles[PAWL_CAP__COUNT]; /* roles that hold each capability */
    uint32_t scoped_roles;             /* dealer and support: org-scoped */
    uint32_t grant_role_bit[PAWL_GR__COUNT]; /* grant role -> policy role bit (0: unknown) */
    uint64_t seed;
    struct pawl_rl_backend rl_ext;     /* check == NULL: rl above */
    struct pawl_engine_stats st;
};

static pawl_err resolve(struct pawl_engine *e)
{
    const struct pawl_policy *p = e->p;
    e->sig = calloc(p->nroutes ? p->nroutes : 1, sizeof *e->sig);
    e->route_hash = calloc(p->nroutes ? p->nroutes : 1, sizeof *e->route_hash);
    if (e->sig == NULL || e->route_hash == NULL)
        return PAWL_ENOMEM;
    for (size_t r = 0; r < p->nroutes; r++) {
        const struct pawl_route *rt = &p->routes[r];
        e->route_hash[r] = pawl__hash64(e->seed, rt->id, strlen(rt->id));
        for (unsigned c = 0; c < rt->nconds && e->twin; c++) {
            pawl_str s = { rt->conds[c].signal, strlen(rt->conds[c].signal) };
            if ((e->sig[r][c] = pawl_twin_signal(e->twin, s)) == 0)
                return PAWL_ELIMIT;
        }
    }
    for (unsigned i = 0; i < p->nroles; i++)
        for (int c = 0; c < PAWL_CAP__COUNT; c++)
            if (p->role_caps[i] & (1u << c))
                e->caps_of_roles[c] |= 1u << i;
    for (int g = 0; g < PAWL_GR__COUNT; g++) {
        const char *name = pawl_grant_role_name((enum pawl_grant_role)g);
        e->grant_role_bit[g] = pawl_policy_role_bit((void *)(uintptr_t)p, name, strlen(name));
    }
    e->scoped_roles = e->grant_role_bit[PAWL_GR_DEALER] | e->grant_role_bit[PAWL_GR_SUPPORT];
    return PAWL_OK;
}

pawl_err pawl_engine_new(const struct pawl_policy *policy, const struct pawl_jwks *jwks,
                         const struct pawl_grants *grants, struct pawl_twin *twin,
                         struct pawl_engine **out)
{
    return pawl_engine_new_shared(policy, jwks, grants, twin, NULL, out);
}

pawl_err pawl_engine_new_shared(const struct pawl_policy *policy, const struct pawl_jwks *jwks,
                                const struct pawl_grants *grants, struct pawl_twin *twin,
                                const struct pawl_rl_backend *rl, struct pawl_engine **out)
{
    struct pawl_engine *e = calloc(1, sizeof *e);
    pawl_err err;
    if (e == NULL)
        return PAWL_ENOMEM;
    e->p = policy;
    e->grants = grants;
    e->twin = twin;
    e->seed = rl ? rl->seed : pawl__seed();
    if (rl != NULL) /* no limiter of its own: it would hold rl_max_keys slots unused */
        e->rl_ext = *rl;
    else if ((err = pawl_ratelimit_new(policy->rl_max_keys, &e->rl)) != PAWL_OK)
        goto out;
    if ((err = resolve(e)) != PAWL_OK)
        goto out;
    if (jwks != NULL) {
        struct pawl_jwt_rules rules = {
            .issuer = policy->jwt_issuer, .audience = policy->jwt_audience,
            .leeway_ms = policy->jwt_leeway_ms, .roles_claim = policy->jwt_roles_claim,
            .org_claim = policy->jwt_org_claim, .role_lookup = pawl_policy_role_bit,
            .role_ctx = (void *)(uintptr_t)policy,
        };
        if ((err = pawl_jwt_verifier_new(&rules, jwks, policy->jwt_cache_entries, &e->jwt)) != PAWL_OK)
            goto out;
    }
    *out = e;
    return PAWL_OK;
out:
    pawl_engine_free(e);
    return err;
}

void pawl_engine_free(struct pawl_engine *e)
{
    if (e == NULL)
        return;
    if (e->jwt)
        pawl_jwt_verifier_free(e->jwt);
    pawl_ratelimit_free(e->rl);
    free(e->sig);
    free(e->route_hash);
    free(e);
}

void pawl_engine_stats(const struct pawl_engine *e, struct pawl_engine_stats *out)
{
    *out = e->st;
}

const struct pawl_ratelimit *pawl_engine_ratelimit(const struct pawl_engine *e)
{
    return e->rl;
}

void pawl_engine_jwt_stats(const struct pawl_engine *e, struct pawl_jwt_stats *out)
{
    memset(out, 0, sizeof *out);
    if (e->jwt)
        pawl_jwt_verifier_stats(e->jwt, out);
}

#define DETAIL(o, ...) snprintf((o)->detail, sizeof (o)->detail, __VA_ARGS__)

static enum pawl_reason identify(struct pawl_engine *e, const struct pawl_request *rq,
                                 struct pawl_jwt_spot jspot, struct pawl_decision *o)
{
    if (rq->bearer.n > 0) {
        struct pawl_diag d;
        if (e->jwt == NULL) {
            DETAIL(o, "no JWKS is configured, so no bearer token can be verified");
            return PAWL_R_TOKEN_KEY_UNKNOWN;
        }
        enum pawl_reason r = pawl_jwt_verify_at(e->jwt, rq->bearer.p, rq->bearer.n, jspot,
                                                rq->time_ms, &o->principal, &d);
        if (r != PAWL_R_ALLOWED)
            DETAIL(o, "%s", d.msg);
        return r;
    }
    if (rq->cert_spki_sha256 || rq->cert_subject.n) {
        if (pawl_policy_client_identity(e->p, rq->cert_spki_sha256, rq->cert_subject, &o->principal))
            return PAWL_R_ALLOWED;
        DETAIL(o, "client certificate is not mapped to a principal (policy 'clients:')");
        return PAWL_R_CERT_UNKNOWN;
    }
    DETAIL(o, "no bearer token and no client certificate");
    return PAWL_R_UNAUTHENTICATED;
}

/* What a request will look up once its caller is known: its VIN, and the
 * keys of its four rate-limit buckets. At scale every table it reads is a
 * cache miss; started early (prefetch) they overlap one another and the
 * token check instead of coming one after another. */
struct lookahead {
    pawl_key vin;      /* .s.n = 0: the route names no vehicle or it is not a VIN */
    pawl_key caller;   /* the principal's uid, once known */
    int guess;         /* the path segment guess_vehicle took for the VIN, -1: none */
    uint64_t key[4];   /* principal, principal+route, vehicle+command, global */
};

/* How close a refused grant came: the closest one names the reason, whatever
 * the order of the grants. */
static int closeness(enum pawl_reason r)
{
    return r == PAWL_R_ORG_MISMATCH ? 3 : r == PAWL_R_GRANT_NOT_YET_VALID ? 2
         : r == PAWL_R_GRANT_EXPIRED ? 1 : 0;
}

static enum pawl_reason grant_state(const struct pawl_engine *e, const struct pawl_grant *g,
                                    uint32_t bit, const struct pawl_decision *o, int64_t now)
{
    if (now < g->since_ms)
        return PAWL_R_GRANT_NOT_YET_VALID;
    if (now >= g->until_ms)
        return PAWL_R_GRANT_EXPIRED;
    if ((bit & e->scoped_roles) && strcmp(pawl_grants_org(e->grants, g), o->principal.org) != 0)
        return PAWL_R_ORG_MISMATCH;
    return PAWL_R_ALLOWED;
}

/* Object level: a grant of (principal, vin), active now, whose role is allowed
 * on the route and holds its capability; org-scoped roles must match org. */
static enum pawl_reason check_grant(struct pawl_engine *e, const struct pawl_route *rt,
                                    const struct lookahead *la, struct pawl_decision *o,
                                    int64_t now)
{
    enum pawl_reason best = PAWL_R_NOT_YOUR_VEHICLE;
    uint32_t it = 0;
    for (const struct pawl_grant *g;
         (g = pawl_grants_next_key(e->grants, &la->caller, &la->vin, &it)) != NULL;) {
        uint32_t bit = e->grant_role_bit[g->role];
        if (!(bit & rt->role_mask & e->caps_of_roles[rt->cap]))
            continue;
        enum pawl_reason r = grant_state(e, g, bit, o, now);
        if (r == PAWL_R_ALLOWED)
            return r;
        if (closeness(r) <= closeness(best))
            continue;
        best = r;
        const char *gname = pawl_grant_role_name((enum pawl_grant_role)g->role);
        if (r == PAWL_R_GRANT_NOT_YET_VALID)
            DETAIL(o, "%s grant on %s starts at %lld", gname, o->vin, (long long)g->since_ms);
        else if (r == PAWL_R_GRANT_EXPIRED)
            DETAIL(o, "%s grant on %s ended at %lld", gname, o->vin, (long long)g->until_ms);
        else
            DETAIL(o, "%s grant on %s belongs to org '%s', caller's org is '%s'", gname, o->vin,
                   pawl_grants_org(e->grants, g), o->principal.org);
    }
    if (best == PAWL_R_NOT_YOUR_VEHICLE)
        DETAIL(o, "%s holds no grant on %s that allows %s", o->principal.uid, o->vin,
               pawl_cap_name(rt->cap));
    return best;
}

static enum pawl_reason authorize(struct pawl_engine *e, const struct pawl_route *rt,
                                  const struct lookahead *la, struct pawl_decision *o, int64_t now)
{
    if (!(o->principal.role_mask & rt->role_mask & e->caps_of_roles[rt->cap])) {
        DETAIL(o, "none of the caller's roles may use route '%s' (%s)", rt->id, pawl_cap_name(rt->cap));
        return PAWL_R_FORBIDDEN_ROLE;
    }
    if (rt->vehicle_seg < 0)
        return PAWL_R_ALLOWED;
    if (la->vin.s.n == 0) { /* look_vehicle found the segment is not a VIN */
        DETAIL(o, "path segment %d is not a VIN", rt->vehicle_seg + 1);
        return PAWL_R_BAD_VIN;
    }
    memcpy(o->vin, la->vin.s.p, PAWL_VIN_LEN);
    o->vin[PAWL_VIN_LEN] = '\0';
    return check_grant(e, rt, la, o, now);
}

/* k's hash as the rate-limit keys use it: the one pawl_key_of computed,
 * unless an external limiter brought a seed of its own. */
static uint64_t rl_hash(const struct pawl_engine *e, const pawl_key *k)
{
    return e->seed == pawl__seed() ? k->h : pawl__hash64(e->seed, k->s.p, k->s.n);
}

/* Before the route is matched: the first segment that is a VIN, most likely
 * the one the route names, and the first loads of its grants and twin
 * started, so that their second ones can start before the token is
 * compared. A guess, like every prefetch: look_vehicle decides. */
static void guess_vehicle(const struct pawl_engine *e, const struct pawl_path *path,
                          struct lookahead *la)
{
    la->guess = -1;
    for (unsigned i = 0; i < path->nseg; i++)
        if (pawl_vin_valid(path->seg[i])) {
            la->guess = (int)i;
            la->vin = pawl_key_of(path->seg[i]);
            if (e->twin != NULL)
                pawl_twin_prefetch(e->twin, &la->vin, 1);
            if (e->grants != NULL)
                pawl_grants_prefetch_vin(e->grants, &la->vin, 1);
            return;
        }
}

static void look_vehicle(const struct pawl_engine *e, const struct pawl_path *path,
                         const struct pawl_route *rt, struct lookahead *la)
{
    bool rl = e->rl_ext.check == NULL;
    if (rt->vehicle_seg < 0 || rt->vehicle_seg != la->guess) { /* else guess_vehicle's loads serve */
        la->vin = (pawl_key){ { NULL, 0 }, 0 };
        if (rt->vehicle_seg >= 0 && pawl_vin_valid(path->seg[rt->vehicle_seg])) {
            la->vin = pawl_key_of(path->seg[rt->vehicle_seg]);
            if (e->twin != NULL && rt->nconds > 0)
                pawl_twin_prefetch(e->twin, &la->vin, 1);
            if (e->grants != NULL)
                pawl_grants_prefetch_vin(e->grants, &la->vin, 1);
        }
    }
    la->key[2] = 3;
    if (la->vin.s.n > 0) {
        la->key[2] = (rl_hash(e, &la->vin) ^ e->route_hash[rt->index]) * 0x165667b19e3779f9ull + 3;
        if (rl && rt->rl_vin_command.interval_us != 0)
            pawl_ratelimit_prefetch(e->rl, la->key[2]);
    }
    la->key[3] = (uint64_t)rt->cap * 0x27d4eb2f165667c5ull + 4;
    if (rl && e->p->rl_global[rt->cap].interval_us != 0)
        pawl_ratelimit_prefetch(e->rl, la->key[3]);
}

/* The keys of the principal's two rate-limit buckets, from the hash of its
 * uid (rl_hash), and their loads started. */
static void look_buckets(const struct pawl_engine *e, const struct pawl_route *rt, uint64_t uh,
                         struct lookahead *la)
{
    la->key[0] = uh * 0x9e3779b97f4a7c15ull + 1;
    la->key[1] = (uh ^ e->route_hash[rt->index]) * 0xc2b2ae3d27d4eb4full + 2;
    if (e->rl_ext.check == NULL) { /* limits the policy does not set are not read */
        if (e->p->rl_principal.interval_us != 0)
            pawl_ratelimit_prefetch(e->rl, la->key[0]);
        if (rt->rl_principal_route.interval_us != 0)
            pawl_ratelimit_prefetch(e->rl, la->key[1]);
    }
}

/* Before the token is compared: what the principal the token cache names
 * for it will look up (its grant on the vehicle, its buckets) starts loading.
 * A hint only: look_principal sets the keys from the verified principal. */
static void look_ahead(const struct pawl_engine *e, const struct pawl_route *rt, uint64_t who,
                       struct lookahead *la)
{
    pawl_key k = { { NULL, 0 }, who };
    if (la->vin.s.n > 0 && la->guess == rt->vehicle_seg) { /* second loads: the first have had time */
        if (e->grants != NULL)
            pawl_grants_prefetch_vin(e->grants, &la->vin, 2);
        if (e->twin != NULL && rt->nconds > 0)
            pawl_twin_prefetch(e->twin, &la->vin, 2);
    }
    if (who == 0 || e->seed != pawl__seed()) /* an external limiter hashes with its own seed */
        return;
    if (la->vin.s.n > 0 && e->grants != NULL)
        pawl_grants_prefetch(e->grants, &k, &la->vin);
    look_buckets(e, rt, who, la);
}

static void look_principal(const struct pawl_engine *e, const struct pawl_route *rt,
                           const struct pawl_principal *pr, struct lookahead *la)
{
    la->caller = pawl_key_of((pawl_str){ pr->uid, strlen(pr->uid) });
    if (la->vin.s.n > 0 && e->grants != NULL) {
        pawl_grants_prefetch(e->grants, &la->caller, &la->vin);
        pawl_grants_prefetch_vin(e->grants, &la->vin, 2);
    }
    look_buckets(e, rt, rl_hash(e, &la->caller), la);
    if (la->vin.s.n > 0 && e->twin != NULL && rt->nconds > 0)
        pawl_twin_prefetch(e->twin, &la->vin, 2);
}

static enum pawl_reason rate_limit(struct pawl_engine *e, const struct pawl_route *rt,
                                   const struct lookahead *la, struct pawl_decision *o, int64_t now_ms)
{
    static const char *const what[] = { "principal", "principal+route", "vehicle+command", "global" };
    const struct pawl_policy *p = e->p;
    struct pawl_rl_check c[4] = {
        { la->key[0], p->rl_principal },
        { la->key[1], rt->rl_principal_route },
        { la->key[2], o->vin[0] ? rt->rl_vin_command : (struct pawl_rate){ 0, 0 } },
        { la->key[3], p->rl_global[rt->cap] },
    };
    int64_t retry_us;
    unsigned which;
    if (e->rl_ext.check ? e->rl_ext.check(e->rl_ext.ctx, c, 4, now_ms * 1000, &retry_us, &which)
                        : pawl_ratelimit_check(e->rl, c, 4, now_ms * 1000, &retry_us, &which))
        return PAWL_R_ALLOWED;
    o->retry_after_s = (retry_us + 999999) / 1000000;
    if (o->retry_after_s < 1)
        o->retry_after_s = 1;
    o->rate_limit = which < 4 ? (enum pawl_rl_limit)(which + 1) : PAWL_RL_NONE;
    DETAIL(o, "%s rate limit exceeded; retry after %lld s", what[which], (long long)o->retry_after_s);
    return PAWL_R_RATE_LIMITED;
}

static bool cond_holds(const struct pawl_cond *c, double v)
{
    switch (c->op) {
    case PAWL_OP_EQ: return v == c->value;
    case PAWL_OP_NE: return v != c->value;
    case PAWL_OP_LT: return v < c->value;
    case PAWL_OP_LE: return v <= c->value;
    case PAWL_OP_GT: return v > c->value;
    case PAWL_OP_GE: return v >= c->value;
    }
    return false;
}

static enum pawl_reason context(struct pawl_engine *e, const struct pawl_route *rt,
                                const struct lookahead *la, struct pawl_decision *o, int64_t now)
{
    for (unsigned i = 0; i < rt->nconds; i++) {
        const struct pawl_cond *c = &rt->conds[i];
        double v;
        int64_t ts;
        if (e->twin == NULL ||
            !pawl_twin_get_key(e->twin, &la->vin, e->sig[rt->index][i], &v, &ts)) {
            if (rt->fail_open)
                continue;
            DETAIL(o, "no reported %s for %s", c->signal, o->vin);
            return PAWL_R_VEHICLE_STATE_UNKNOWN;
        }
        if (now - ts > c->max_age_ms || ts - now > e->p->twin_max_skew_ms) {
            if (rt->fail_open)
                continue;
            DETAIL(o, "%s of %s was reported %lld ms ago (limit %lld ms)", c->signal, o->vin,
                   (long long)(now - ts), (long long)c->max_age_ms);
            return PAWL_R_VEHICLE_STATE_STALE;
        }
        if (!cond_holds(c, v)) {
            DETAIL(o, "%s of %s is %g; route '%s' requires otherwise", c->signal, o->vin, v, rt->id);
            return PAWL_R_UNSAFE_VEHICLE_STATE;
        }
    }
    return PAWL_R_ALLOWED;
}

static enum pawl_reason pipeline(struct pawl_engine *e, const struct pawl_request *rq,
                                 struct pawl_decision *o)
{
    struct pawl_path path;
    struct pawl_diag d;
    struct lookahead la;
    enum pawl_reason r;
    o->method = pawl_method_parse(rq->method);
    bool jwt = e->jwt != NULL && rq->bearer.n > 0 && rq->bearer.n <= PAWL_JWT_TOKEN_MAX;
    struct pawl_jwt_spot jspot = { 0, 0 };
    if (jwt) { /* the token's cache set loads while the path is parsed */
        jspot = pawl_jwt_spot(e->jwt, rq->bearer.p, rq->bearer.n);
        pawl_jwt_prefetch(e->jwt, jspot, 1);
    }
    if (pawl_path_normalize(rq->path.p, rq->path.n, &path, &d) != PAWL_OK) {
        DETAIL(o, "byte %u: %s", d.col, d.msg);
        return PAWL_R_BAD_PATH;
    }
    guess_vehicle(e, &path, &la);
    if (jwt) /* then its entry and copy of the token, while the route is matched */
        pawl_jwt_prefetch(e->jwt, jspot, 2);
    switch (pawl_policy_match(e->p, &path, o->method, &o->route)) {
    case PAWL_MATCH_OK: break;
    case PAWL_MATCH_BAD_METHOD: DETAIL(o, "method not allowed on this path"); return PAWL_R_METHOD_NOT_ALLOWED;
    case PAWL_MATCH_NO_ROUTE: DETAIL(o, "no route matches the path"); return PAWL_R_ROUTE_NOT_FOUND;
    }
    look_vehicle(e, &path, o->route, &la);
    look_ahead(e, o->route, jwt ? pawl_jwt_principal_hint(e->jwt, jspot) : 0, &la);
    if ((r = identify(e, rq, jspot, o)) != PAWL_R_ALLOWED)
        return r;
    o->authenticated = true;
    look_principal(e, o->route, &o->principal, &la);
    if ((r = authorize(e, o->route, &la, o, rq->time_ms)) != PAWL_R_ALLOWED)
        return r;
    if (la.vin.s.n > 0 && e->twin != NULL && o->route->nconds > 0)
        pawl_twin_prefetch(e->twin, &la.vin, 3);
    if ((r = rate_limit(e, o->route, &la, o, rq->time_ms)) != PAWL_R_ALLOWED ||
        (r = context(e, o->route, &la, o, rq->time_ms)) != PAWL_R_ALLOWED)
        return r;
    if (o->route->step_up && !rq->step_up_verified &&
        !(rq->step_up_check != NULL && rq->step_up_check(rq->step_up_ctx))) {
        DETAIL(o, "route '%s' needs an owner co-signature (step-up)", o->route->id);
        return PAWL_R_STEP_UP_REQUIRED;
    }
    return PAWL_R_ALLOWED; /* detail stays "": formatting is left to whoever prints it */
}

const char *pawl_rl_limit_name(enum pawl_rl_limit l)
{
    static const char *const names[] = { "principal", "principal_route", "vin_command", "global" };
    return l >= PAWL_RL_PRINCIPAL && l <= PAWL_RL_GLOBAL ? names[l - 1] : NULL;
}

enum pawl_reason pawl_decide(struct pawl_engine *e, const struct pawl_request *rq,
                             struct pawl_decision *o)
{
    o->route = NULL;
    o->authenticated = false;
    o->principal.uid[0] = '\0';
    o->principal.nroles = 0;
    o->principal.role_mask = 0;
    o->vin[0] = '\0';
    o->retry_after_s = 0;
    o->rate_limit = PAWL_RL_NONE;
    o->detail[0] = '\0';
    o->reason = pipeline(e, rq, o);
    o->status = pawl_reason_status(o->reason);
    e->st.decisions++;
    e->st.by_reason[o->reason]++;
    if (o->reason == PAWL_R_ALLOWED)
        e->st.allowed++;
    else
        e->st.denied++;
    return o->reason;
}

const char *pawl_decision_why(const struct pawl_decision *dec, char *buf, size_t n)
{
    if (dec->reason == PAWL_R_ALLOWED && dec->route != NULL && dec->detail[0] == '\0')
        snprintf(buf, n, "allowed by route '%s'", dec->route->id);
    else
        snprintf(buf, n, "%s", dec->detail);
    return buf;
}
