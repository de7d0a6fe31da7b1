/* pawl/grants.h: who may touch which vehicle (object-level authorization).
 *
 * Grants come as JSON lines (docs/formats/ocsf-profile.md, "grants lines"):
 *   {"principal":"u-1042","vin":"1HGCM82633A004352","role":"owner",
 *    "since":1763700000000,"until":null,"org":null}
 * Loading is strict: a bad line fails the load with "where:line: message".
 * Dealer and support grants must name their org and must be time-boxed
 * (until - since <= max_delegation_ms). Unknown members are ignored. */
#ifndef PAWL_GRANTS_H
#define PAWL_GRANTS_H

#include "pawl/common.h"

#define PAWL_VIN_LEN 17
#define PAWL_GRANTS_MAX_LINE 65536

enum pawl_grant_role {
    PAWL_GR_OWNER = 0, PAWL_GR_SECONDARY_OWNER, PAWL_GR_DRIVER, PAWL_GR_FLEET_MANAGER,
    PAWL_GR_DEALER, PAWL_GR_SUPPORT, PAWL_GR__COUNT
};
const char *pawl_grant_role_name(enum pawl_grant_role r);

/* True when v is 17 characters of the VIN alphabet (ISO 3779: 0-9, A-Z
 * without I, O, Q). The check digit is not required (it is North American only). */
bool pawl_vin_valid(pawl_str v);

struct pawl_grant {
    char vin[PAWL_VIN_LEN];
    uint8_t role;                /* enum pawl_grant_role */
    uint32_t principal;          /* interned; see pawl_grants_principal */
    uint32_t org;                /* interned, 0 = none */
    int64_t since_ms;
    int64_t until_ms;            /* INT64_MAX when open-ended */
    uint32_t next;               /* next grant with the same (principal, vin) bucket; 0 = end */
    uint32_t vnext;              /* next grant of the same vin; 0 = end */
};

struct pawl_grants;

PAWL_MUST_CHECK pawl_err pawl_grants_new(int64_t max_delegation_ms, struct pawl_grants **out);
void pawl_grants_free(struct pawl_grants *g);

/* Add one grants line; where/lineno label diagnostics. */
PAWL_MUST_CHECK pawl_err pawl_grants_add_line(struct pawl_grants *g, const char *line, size_t n,
                                              const char *where, unsigned lineno,
                                              struct pawl_diag *d);
/* Add every line of buf (blank lines skipped); stops at the first bad line. */
PAWL_MUST_CHECK pawl_err pawl_grants_load(struct pawl_grants *g, const char *buf, size_t n,
                                          const char *where, struct pawl_diag *d);

/* Iterate the grants of (principal, vin): start with it = 0. Returns NULL at the end. */
const struct pawl_grant *pawl_grants_next(const struct pawl_grants *g, pawl_str principal,
                                          pawl_str vin, uint32_t *it);
/* The same with the hashes already computed (pawl_key_of). */
const struct pawl_grant *pawl_grants_next_key(const struct pawl_grants *g,
                                              const pawl_key *principal, const pawl_key *vin,
                                              uint32_t *it);
/* Hints, no effect on results: start loading the table slot that
 * pawl_grants_next(principal, vin) reads first. */
void pawl_grants_prefetch(const struct pawl_grants *g, const pawl_key *principal,
                          const pawl_key *vin);
/* The same by vehicle alone, for before the principal is known: step 1 the
 * slot of vin's grants, step 2 the newest of them (most vehicles have a few
 * grants, so it is often the one pawl_grants_next will read). */
void pawl_grants_prefetch_vin(const struct pawl_grants *g, const pawl_key *vin, int step);
/* Iterate every grant of vin, whoever holds it: start with it = 0. NULL at
 * the end. */
const struct pawl_grant *pawl_grants_of_vin(const struct pawl_grants *g, pawl_str vin, uint32_t *it);

/* The principal of a grant. */
const char *pawl_grants_principal(const struct pawl_grants *g, const struct pawl_grant *gr);

/* The org string of a grant ("" when none). */
const char *pawl_grants_org(const struct pawl_grants *g, const struct pawl_grant *gr);
size_t pawl_grants_count(const struct pawl_grants *g);

#endif
