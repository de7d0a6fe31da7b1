/* libFuzzer driver for the OpenAPI comparison (pawl_inventory_openapi): any
 * JSON as the document, against a small fixed inventory. A refusal always
 * says why; an accepted document yields the four lists. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pawl/discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *inventory(void)
{
    static const char *const paths[] = {"/api/v1/vehicles/1HGCM82633A004352/location", "/api/v2/users/42",
                                        "/identity/api/auth/v1/check-otp", "/orders/all"};
    struct pawl_inventory *inv;
    if (pawl_inventory_new(16, &inv) != PAWL_OK)
        abort();
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct pawl_api_event e = {0};
        e.method = (pawl_str){"GET", 3};
        e.path = (pawl_str){paths[i], strlen(paths[i])};
        e.status = i % 2 ? 500 : 200;
        e.resp_len = -1;
        if (pawl_inventory_add(inv, &e) != PAWL_OK)
            abort();
    }
    json_t *j = pawl_inventory_json(inv);
    pawl_inventory_free(inv);
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *spec = json_loadb((const char *)data, size, 0, NULL);
    if (spec == NULL)
        return 0;
    json_t *inv = inventory();
    struct pawl_diag d = {0};
    if (pawl_inventory_openapi(inv, spec, "fuzz", &d) != PAWL_OK) {
        if (d.msg[0] == '\0')
            abort();
    } else if (json_object_get(json_object_get(inv, "openapi"), "shadow") == NULL) {
        abort();
    }
    json_decref(inv);
    json_decref(spec);
    return 0;
}
