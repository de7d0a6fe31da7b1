/* libFuzzer driver for a vehicle's command result as pawld reads it from
 * the MQTT link (pawld_command_result_parse): any bytes a vehicle could
 * publish. Accepted input always yields a 200 or 409 and a NUL-terminated
 * JSON answer that parses. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stepup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t cti[PAWL_EDGE_CTI_LEN];
    char body[512];
    int status = 0;
    if (pawld_command_result_parse(data, size, cti, &status, body, sizeof body) != 0)
        return 0;
    if ((status != 200 && status != 409) || memchr(body, '\0', sizeof body) == NULL)
        abort();
    json_t *j = json_loads(body, 0, NULL);
    if (j == NULL)
        abort();
    json_decref(j);
    return 0;
}
