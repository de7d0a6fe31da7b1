/* pawl/engine.h: the decision pipeline. No I/O.
 *
 * normalize path -> match route -> identify (JWT or client certificate)
 * -> authorize (role, capability, object grant) -> rate limit
 * -> context (twin conditions) -> step-up -> decision
 *
 * Every deny has a reason (pawl/reason.h) and a one-line detail. An engine is
 * not thread-safe: a multi-threaded front end keeps one engine per thread
 * over shared, read-only policy, JWKS and grants. */
#ifndef PAWL_ENGINE_H
#define PAWL_ENGINE_H

#include "pawl/common.h"
#include "pawl/grants.h"
#include "pawl/identity.h"
#include "pawl/policy.h"
#include "pawl/ratelimit.h"
#include "pawl/reason.h"
#include "pawl/twin.h"

struct pawl_jwks;
struct pawl_engine;

/* What a front end knows about one request. Strings are borrowed. */
struct pawl_request {
    pawl_str method;
    pawl_str path;               /* raw, as received; a query after '?' is ignored */
    int64_t time_ms;             /* the decision's clock (wall clock inline, event time offline) */
    pawl_str bearer;             /* the token after "Bearer ", or empty */
    const uint8_t *cert_spki_sha256; /* verified client certificate's SPKI hash, or NULL */
    pawl_str cert_subject;       /* its RFC 2253 subject, or empty */
    bool step_up_verified;       /* the front end verified an owner co-signature for this command */
    /* Optional: verifies the co-signature when the decision gets to it,
     * that is only for a step-up route and only once every other check
     * passed (identity, roles, grants, rate limits, state), so that nobody
     * makes the front end verify signatures without an otherwise allowed
     * request. Called at most once; true when verified. NULL: only
     * step_up_verified counts. */
    bool (*step_up_check)(void *ctx);
    void *step_up_ctx;
};

/* The rate limits of a policy (docs/policy.md), as a decision names the
 * one that refused it. */
enum pawl_rl_limit {
    PAWL_RL_NONE,
    PAWL_RL_PRINCIPAL,
    PAWL_RL_PRINCIPAL_ROUTE,
    PAWL_RL_VIN_COMMAND,
    PAWL_RL_GLOBAL,
};
#define PAWL_RL_LIMITS 4
/* "principal", "principal_route", "vin_command", "global"; NULL otherwise. */
const char *pawl_rl_limit_name(enum pawl_rl_limit l);

struct pawl_decision {
    enum pawl_reason reason;     /* PAWL_R_ALLOWED or why not */
    int status;                  /* HTTP status for the client */
    const struct pawl_route *route; /* NULL when no route matched */
    enum pawl_method method;
    bool authenticated;          /* principal is valid */
    struct pawl_principal principal;
    char vin[PAWL_VIN_LEN + 1];  /* the vehicle the request names, "" when none */
    int64_t retry_after_s;       /* for rate_limited */
    enum pawl_rl_limit rate_limit; /* for rate_limited: the limit that refused */
    char detail[192];            /* why, for a human: set on every deny, "" when allowed */
};

/* policy, grants and jwks (may be NULL: then no token verifies) are borrowed
 * and must outlive the engine; twin (may be NULL: then every condition fails
 * closed) is borrowed and may be updated between decisions. */
PAWL_MUST_CHECK pawl_err pawl_engine_new(const struct pawl_policy *policy,
                                         const struct pawl_jwks *jwks,
                                         const struct pawl_grants *grants, struct pawl_twin *twin,
                                         struct pawl_engine **out);
void pawl_engine_free(struct pawl_engine *e);

/* Rate limits kept outside the engine: shared by a front end's threads
 * (behind a lock) or by several instances. check has the contract of
 * pawl_ratelimit_check. Engines that share a backend must share the seed
 * too, so that they derive the same keys. */
struct pawl_rl_backend {
    bool (*check)(void *ctx, const struct pawl_rl_check *c, unsigned n, int64_t now_us,
                  int64_t *retry_after_us, unsigned *which);
    void *ctx;
    uint64_t seed;
};

/* As pawl_engine_new, but checking rate limits through rl (copied; NULL:
 * a limiter of its own, as pawl_engine_new) instead of a limiter of its own,
 * which it then does not allocate. */
PAWL_MUST_CHECK pawl_err pawl_engine_new_shared(const struct pawl_policy *policy,
                                                const struct pawl_jwks *jwks,
                                                const struct pawl_grants *grants,
                                                struct pawl_twin *twin,
                                                const struct pawl_rl_backend *rl,
                                                struct pawl_engine **out);

/* Decide one request. Never fails: a problem is a deny with its reason. */
enum pawl_reason pawl_decide(struct pawl_engine *e, const struct pawl_request *rq,
                             struct pawl_decision *out);

/* The decision's detail for a human: dec->detail, or "allowed by route 'id'"
 * for an allow (formatted here, off the decision path). Returns buf. */
const char *pawl_decision_why(const struct pawl_decision *dec, char *buf, size_t n);

struct pawl_engine_stats {
    uint64_t decisions, allowed, denied;
    uint64_t by_reason[PAWL_R__COUNT];
};
void pawl_engine_stats(const struct pawl_engine *e, struct pawl_engine_stats *out);
const struct pawl_ratelimit *pawl_engine_ratelimit(const struct pawl_engine *e);
struct pawl_jwt_stats;
/* The token cache's counters; all zero without a JWKS. */
void pawl_engine_jwt_stats(const struct pawl_engine *e, struct pawl_jwt_stats *out);

#endif
