/* Internal: the route trie behind pawl_policy_match (see pawl/policy.h). */
#ifndef PAWL_ROUTER_H
#define PAWL_ROUTER_H

#include "pawl/policy.h"

struct pawl_router *pawl__router_new(void);
void pawl__router_free(struct pawl_router *r);
/* Add routes[idx]. On a template error or a conflict, fills d (col = byte in
 * the template) and returns PAWL_EINVAL. vehicle_param names the {param}
 * whose segment index is stored in route->vehicle_seg (NULL: none). */
PAWL_MUST_CHECK pawl_err pawl__router_add(struct pawl_router *r, struct pawl_route *routes,
                                          uint32_t idx, const char *vehicle_param,
                                          char *err, size_t errlen);
/* Build the lookup table of literal children; call once after the last add
 * (PAWL_ENOMEM on failure). */
PAWL_MUST_CHECK pawl_err pawl__router_finish(struct pawl_router *r);
enum pawl_match pawl__router_match(const struct pawl_router *r, const struct pawl_route *routes,
                                   const struct pawl_path *path, enum pawl_method m,
                                   const struct pawl_route **route);

#endif
