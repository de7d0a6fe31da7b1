/* libFuzzer driver for API discovery (pawl/discover.h): one input line, as
 * pawl analyze reads it (an API Activity JSON object or an nginx combined
 * line), into an inventory, then the inventory out. A refusal always says
 * why; a template never grows past its buffer. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pawl/discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_api_event e;
    struct pawl_diag d = {0};
    struct pawl_inventory *inv;
    json_t *j = NULL;
    char tmpl[64];
    unsigned kinds = 0;
    size_t t = pawl_path_template((pawl_str){(const char *)data, size}, tmpl, sizeof tmpl, &kinds);
    if (t >= sizeof tmpl || (t > 0 && strlen(tmpl) != t))
        abort();
    if (pawl_inventory_new(8, &inv) != PAWL_OK)
        return 0;
    pawl_err err;
    if (size > 0 && data[0] == '{') {
        j = json_loadb((const char *)data, size, 0, NULL);
        err = j ? pawl_api_event_from_json(j, &e, "fuzz", 1, &d) : PAWL_EINVAL;
        if (j == NULL)
            d.msg[0] = 'x';
    } else {
        err = pawl_nginx_parse((const char *)data, size, &e, "fuzz", 1, &d);
    }
    if (err != PAWL_OK && d.msg[0] == '\0')
        abort();
    if (err == PAWL_OK) {
        (void)pawl_inventory_add(inv, &e);
        json_t *out = pawl_inventory_json(inv);
        json_decref(out);
    }
    json_decref(j);
    pawl_inventory_free(inv);
    return 0;
}
