/* libFuzzer driver for API discovery and the detectors (pawl/discover.h,
 * pawl/detect.h): one input line, as pawl analyze reads it (an API Activity
 * JSON object or an nginx combined line), into an inventory and a detector
 * with tiny thresholds (so that every detector fires), then the inventory
 * out. A refusal always says why; a template never grows past its buffer. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pawl/detect.h"
#include "pawl/discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_finding(void *ctx, const struct pawl_finding *f)
{
    (void)ctx;
    json_t *j = pawl_finding_json(f, "fuzz");
    if (j == NULL || f->title[0] == '\0')
        abort();
    json_decref(j);
}

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
        static struct pawl_detector *det;
        static const struct pawl_detect_config cfg = {64, 64, 2, 3, 2, 1, 1, 1, 1, 2, 1000, 64, 60000, true};
        if (det == NULL && pawl_detector_new(&cfg, NULL, &det) != PAWL_OK)
            abort();
        pawl_detector_feed(det, &e, on_finding, NULL); /* state carries over between inputs */
        (void)pawl_inventory_add(inv, &e);
        json_t *out = pawl_inventory_json(inv);
        json_decref(out);
    }
    json_decref(j);
    pawl_inventory_free(inv);
    return 0;
}
