/* Internal: pieces of the policy loader shared between policy.c and
 * policy_routes.c. */
#ifndef PAWL_POLICY_INTERNAL_H
#define PAWL_POLICY_INTERNAL_H

#include "pawl/policy.h"
#include "policy_yaml.h"

int pawl__cap_parse(const char *s);
/* [a-z_][a-z0-9_]* shorter than max. */
bool pawl__name_ok(const char *s, size_t max);
PAWL_MUST_CHECK pawl_err pawl__policy_rate(struct pawl__yl *y, yaml_node_t *v,
                                           struct pawl_rate *out);
PAWL_MUST_CHECK pawl_err pawl__policy_routes(struct pawl__yl *y, struct pawl_policy *p,
                                             yaml_node_t *v);
PAWL_MUST_CHECK pawl_err pawl__policy_clients(struct pawl__yl *y, struct pawl_policy *p,
                                              yaml_node_t *v);

#endif
