/* libFuzzer driver for the vehicle's trust-file loader
 * (pawl_edge_trust_load): any bytes load or are refused with a message, and
 * a loaded policy stays inside the bounds of pawl/edge_token.h. */
#include <stdlib.h>
#include <string.h>

#include "pawl/edge_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pawl_edge_trust t;
    char err[256] = "";
    if (pawl_edge_trust_load((const char *)data, size, "fuzz", &t, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort(); /* a refusal always says why */
        return 0;
    }
    if (t.nkeys == 0 || t.nkeys > PAWL_EDGE_MAX_KEYS || t.nroles > PAWL_EDGE_MAX_ROLES ||
        t.nrules > PAWL_EDGE_MAX_RULES || t.nstationary > PAWL_EDGE_MAX_STATIONARY ||
        strlen(t.vin) != PAWL_EDGE_VIN_LEN)
        abort();
    for (unsigned i = 0; i < t.nkeys; i++)
        if (t.keys[i].role >= t.nroles || t.keys[i].handle == NULL)
            abort();
    pawl_edge_trust_release(&t);
    return 0;
}
