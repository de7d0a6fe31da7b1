/* libFuzzer driver, differential: the CLI's fast reader of API Activity
 * lines (simdjson, src/host/event_simd.h) against the strict one (jansson,
 * pawl_api_event_from_json). Whenever the fast reader accepts a line, the
 * strict one must accept it too and give the same event, member by member;
 * anything else aborts. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event_simd.h"
#include "helper_event_cmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pawl_event_reader *r;
    if (r == NULL && (r = pawl_event_reader_new()) == NULL)
        abort();
    struct pawl_api_event fast, strict;
    struct pawl_diag d = {0};
    if (!pawl_event_reader_read(r, (const char *)data, size, &fast))
        return 0;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL || pawl_api_event_from_json(j, &strict, "fuzz", 1, &d) != PAWL_OK ||
        th_event_diff(&fast, &strict) != NULL)
        abort();
    json_decref(j);
    return 0;
}
