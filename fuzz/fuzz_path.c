/* libFuzzer driver: the path normalizer and the route matcher. */
#include "pawl/path.h"
#include "pawl/policy.h"

#include <stdlib.h>
#include <string.h>

static struct pawl_policy *policy;

static const char yaml[] =
    "version: 1\nroles: {owner: [read, control]}\nroutes:\n"
    "  - {id: a, path: '/api/v1/vehicles/{vin}/commands/{cmd}', methods: [POST], capability: control, roles: [owner], vehicle: vin}\n"
    "  - {id: b, path: '/api/v1/vehicles/{vin}/commands/door.unlock', methods: [POST], capability: control, roles: [owner], vehicle: vin}\n"
    "  - {id: c, path: /api/v1/vehicles/mine, methods: [GET], capability: read, roles: [owner]}\n"
    "  - {id: d, path: '/api/v1/{x}/{y}/z', methods: [GET], capability: read, roles: [owner]}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_path p;
    struct pawl_diag d;
    if (policy == NULL && pawl_policy_load(yaml, sizeof yaml - 1, "fuzz", &policy, &d) != PAWL_OK)
        abort();
    if (pawl_path_normalize((const char *)data, size, &p, &d) != PAWL_OK)
        return 0;
    /* Invariants of an accepted path: no empty, '.' or '..' segment, no '/'. */
    for (unsigned i = 0; i < p.nseg; i++) {
        if (p.seg[i].n == 0 || memchr(p.seg[i].p, '/', p.seg[i].n) ||
            (p.seg[i].n <= 2 && p.seg[i].p[0] == '.' && (p.seg[i].n == 1 || p.seg[i].p[1] == '.')))
            abort();
    }
    const struct pawl_route *r;
    for (int m = 0; m <= PAWL_M__COUNT; m++)
        (void)pawl_policy_match(policy, &p, (enum pawl_method)m, &r);
    return 0;
}
