/* pawl/identity.h: who is calling. Filled by the JWT verifier
 * (pawl/jwt.h) or by the client-certificate map (pawl/policy.h). */
#ifndef PAWL_IDENTITY_H
#define PAWL_IDENTITY_H

#include "pawl/common.h"

#define PAWL_ID_MAX 128   /* max bytes of a principal, org or session id, NUL included */
#define PAWL_ROLE_MAX 32  /* max bytes of a role name, NUL included */
#define PAWL_MAX_ROLES 8  /* roles kept per principal; more are ignored */

enum pawl_auth_via { PAWL_AUTH_NONE = 0, PAWL_AUTH_JWT, PAWL_AUTH_CERT };

struct pawl_principal {
    enum pawl_auth_via via;
    char uid[PAWL_ID_MAX];      /* JWT `sub`, or the certificate map's principal */
    char org[PAWL_ID_MAX];      /* optional; "" when absent */
    char session[PAWL_ID_MAX];  /* JWT `jti`; "" when absent */
    char roles[PAWL_MAX_ROLES][PAWL_ROLE_MAX];
    unsigned nroles;
    uint32_t role_mask;         /* bit i set = policy role i (see role lookup) */
    int64_t exp_ms;             /* 0 when not applicable */
    int64_t nbf_ms;             /* 0 when absent */
};

/* Maps a role name to a bit in role_mask; returns 0 for roles the policy does
 * not know (they grant nothing). */
typedef uint32_t (*pawl_role_lookup_fn)(void *ctx, const char *name, size_t n);

#endif
