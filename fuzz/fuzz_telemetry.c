/* libFuzzer driver: telemetry lines into the twin. */
#include "pawl/twin.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_twin *t;
    struct pawl_diag d;
    double v;
    int64_t ts;
    if (pawl_twin_new(16, &t) != PAWL_OK)
        abort();
    (void)pawl_twin_update_line(t, (const char *)data, size, "fuzz", 1, &d);
    (void)pawl_twin_get(t, PAWL_STR("1HGCM82633A004352"), 1, &v, &ts);
    pawl_twin_free(t);
    return 0;
}
