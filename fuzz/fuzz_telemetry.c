/* libFuzzer driver: telemetry lines into the twin, as a log replays them
 * (pawl_twin_update_line) and as live telemetry is checked before it is
 * trusted (pawl_twin_update_checked). The input is split at its first
 * newline: the first line seeds the twin, the second is checked against it,
 * so the speed and position checks see a previous state. A refused live
 * line must leave the vehicle's speed as it was. */
#include "pawl/twin.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_twin *t;
    struct pawl_diag d;
    double v0 = 0, v1 = 0;
    int64_t ts0 = 0, ts1 = 0;
    const char *p = (const char *)data, *nl = memchr(p, '\n', size);
    size_t first = nl ? (size_t)(nl - p) : size;
    pawl_str vin = PAWL_STR("1HGCM82633A004352");
    struct pawl_twin_limits lim = PAWL_TWIN_LIMITS_DEFAULT("1HGCM82633A004352", 1763800060000);
    if (pawl_twin_new(16, &t) != PAWL_OK)
        abort();
    uint16_t speed = pawl_twin_signal(t, PAWL_STR("Vehicle.Speed"));
    (void)pawl_twin_update_line(t, p, first, "fuzz", 1, &d);
    if (nl) {
        bool had = pawl_twin_get(t, vin, speed, &v0, &ts0);
        if (pawl_twin_update_checked(t, nl + 1, size - first - 1, &lim, &d) != PAWL_OK &&
            had && (!pawl_twin_get(t, vin, speed, &v1, &ts1) || ts1 != ts0 ||
                    memcmp(&v1, &v0, sizeof v0) != 0))
            abort(); /* a refused line changed the twin */
    }
    pawl_twin_free(t);
    return 0;
}
