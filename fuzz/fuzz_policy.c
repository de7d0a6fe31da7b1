/* libFuzzer driver: the YAML policy loader. */
#include "pawl/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_policy *p = NULL;
    struct pawl_diag d;
    if (pawl_policy_load((const char *)data, size, "fuzz", &p, &d) == PAWL_OK)
        pawl_policy_free(p);
    return 0;
}
