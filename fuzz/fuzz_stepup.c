/* libFuzzer driver for pawld's step-up header (pawld_step_up_parse): the
 * base64url text of a command token, decoded and parsed. A refusal always
 * says why; an accepted header names a 17-character VIN. (The token's
 * signature checks are fuzzed by fuzz_edge_token.) */
#include <stdlib.h>
#include <string.h>

#include "pawl/grants.h"
#include "stepup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pawld_step_up su;
    pawl_str h = {(const char *)data, size};
    if (pawld_step_up_parse(h, &su)) {
        pawl_str vin = {su.vin, strlen(su.vin)};
        if (!pawl_vin_valid(vin) || strlen(su.cmd) > PAWL_EDGE_CMD_MAX)
            abort();
    } else if (su.detail[0] == '\0') {
        abort();
    }
    return 0;
}
