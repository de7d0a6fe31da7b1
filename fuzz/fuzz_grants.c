/* libFuzzer driver: grants lines. */
#include "pawl/grants.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_grants *g;
    struct pawl_diag d;
    if (pawl_grants_new(7LL * 86400 * 1000, &g) != PAWL_OK)
        abort();
    (void)pawl_grants_load(g, (const char *)data, size, "fuzz", &d);
    uint32_t it = 0;
    (void)pawl_grants_next(g, PAWL_STR("u-1042"), PAWL_STR("1HGCM82633A004352"), &it);
    pawl_grants_free(g);
    return 0;
}
