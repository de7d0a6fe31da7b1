/* pawl/policy.h: the policy, loaded from YAML and compiled for matching.
 *
 * The YAML schema is documented in docs/policy.md. Loading is strict: an
 * unknown key, a wrong type or a bad value fails the whole load with
 * file:line:column and a message; nothing is guessed. */
#ifndef PAWL_POLICY_H
#define PAWL_POLICY_H

#include "pawl/common.h"
#include "pawl/identity.h"
#include "pawl/path.h"

#define PAWL_POLICY_MAX_BYTES (4u << 20) /* 4 MiB of YAML */
#define PAWL_POLICY_MAX_DEPTH 16         /* YAML nesting */
#define PAWL_POLICY_MAX_ROUTES 65536
#define PAWL_POLICY_MAX_ROLES 32         /* role names (bits of a role mask) */
#define PAWL_POLICY_MAX_CONDS 8          /* context conditions per route */

enum pawl_cap { PAWL_CAP_READ = 0, PAWL_CAP_CONTROL, PAWL_CAP_ADMIN, PAWL_CAP_OTA, PAWL_CAP_PII,
                PAWL_CAP__COUNT };
const char *pawl_cap_name(enum pawl_cap c);

enum pawl_method { PAWL_M_GET = 0, PAWL_M_HEAD, PAWL_M_POST, PAWL_M_PUT, PAWL_M_PATCH,
                   PAWL_M_DELETE, PAWL_M_OPTIONS, PAWL_M__COUNT };
/* PAWL_M__COUNT when the method is not one of the above. */
enum pawl_method pawl_method_parse(pawl_str m);
const char *pawl_method_name(enum pawl_method m);

/* A GCRA limit: one request per `interval_us`, bursts of up to `burst`.
 * interval_us == 0 means "no limit". */
struct pawl_rate {
    int64_t interval_us;
    int64_t burst;
};

enum pawl_cond_op { PAWL_OP_EQ, PAWL_OP_NE, PAWL_OP_LT, PAWL_OP_LE, PAWL_OP_GT, PAWL_OP_GE };

/* "signal op value, reported within max_age_ms". */
struct pawl_cond {
    char *signal;         /* VSS path, e.g. "Vehicle.Speed" */
    enum pawl_cond_op op;
    double value;         /* booleans are 0/1 */
    int64_t max_age_ms;
};

struct pawl_route {
    char *id;
    char *path;                  /* the template, e.g. /api/v1/vehicles/{vin}/commands/{cmd} */
    uint32_t index;              /* position in pawl_policy.routes */
    unsigned line;               /* where its entry starts in the policy file (1-based) */
    uint8_t methods;             /* bit per enum pawl_method */
    enum pawl_cap cap;
    uint32_t role_mask;          /* roles allowed on this route */
    int vehicle_seg;             /* segment index of the vehicle parameter, -1 for none */
    bool step_up;                /* owner co-signature required */
    bool fail_open;              /* read routes only: allow when vehicle state is missing */
    unsigned nconds;
    struct pawl_cond conds[PAWL_POLICY_MAX_CONDS];
    struct pawl_rate rl_principal_route;
    struct pawl_rate rl_vin_command;
};

/* A client certificate mapped to a principal. */
struct pawl_client {
    bool by_spki;
    uint8_t spki_sha256[32];
    char *subject;               /* when !by_spki: exact RFC 2253 subject */
    char *principal;
    char *org;                   /* may be NULL */
    uint32_t role_mask;
};

struct pawl_router; /* opaque: the compiled route trie */

struct pawl_policy {
    /* jwt: */
    char *jwt_issuer, *jwt_audience, *jwt_roles_claim, *jwt_org_claim;
    int64_t jwt_leeway_ms;
    size_t jwt_cache_entries;
    /* roles: name -> capability mask */
    unsigned nroles;
    char *role_names[PAWL_POLICY_MAX_ROLES];
    uint32_t role_caps[PAWL_POLICY_MAX_ROLES]; /* bit per enum pawl_cap */
    /* grants: */
    int64_t max_delegation_ms;   /* longest dealer/support grant accepted */
    /* clients (mTLS): */
    size_t nclients;
    struct pawl_client *clients;
    /* rate limits: */
    struct pawl_rate rl_principal;
    struct pawl_rate rl_global[PAWL_CAP__COUNT];
    size_t rl_max_keys;
    /* twin: */
    int64_t twin_max_age_ms;     /* default max_age for stationary_only */
    size_t twin_max_vehicles;
    int64_t twin_max_skew_ms;    /* state reported this far in the future still counts */
    /* routes: */
    size_t nroutes;
    struct pawl_route *routes;
    struct pawl_router *router;
};

/* Parse and compile a policy. `where` names the source in diagnostics. */
PAWL_MUST_CHECK pawl_err pawl_policy_load(const char *yaml, size_t n, const char *where,
                                          struct pawl_policy **out, struct pawl_diag *d);
void pawl_policy_free(struct pawl_policy *p);

/* Role name -> bit (0 when unknown). Usable as a pawl_role_lookup_fn with ctx = policy. */
uint32_t pawl_policy_role_bit(void *policy, const char *name, size_t n);

/* Map a verified client certificate to a principal. spki may be NULL; subject
 * may be empty. Returns false when the certificate maps to nobody. */
bool pawl_policy_client_identity(const struct pawl_policy *p, const uint8_t *spki_sha256,
                                 pawl_str subject, struct pawl_principal *out);

enum pawl_match {
    PAWL_MATCH_OK,
    PAWL_MATCH_NO_ROUTE,     /* no template matches the path */
    PAWL_MATCH_BAD_METHOD,   /* a template matches, but not for this method */
};

/* Match a normalized path and method. Cost is bounded by the number of trie
 * nodes on the path's prefixes (never a scan of all routes). */
enum pawl_match pawl_policy_match(const struct pawl_policy *p, const struct pawl_path *path,
                                  enum pawl_method m, const struct pawl_route **route);

#endif
