/* libFuzzer driver: OCSF API Activity request lines, decided and re-emitted. */
#include "pawl/event.h"

#include <jansson.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_event_in ev;
    struct pawl_diag d;
    struct pawl_decision dec = { .reason = PAWL_R_BAD_REQUEST, .status = 400 };
    pawl_err e = pawl_event_parse((const char *)data, size, "fuzz", 1, &ev, &d);
    if (e == PAWL_OK) {
        json_t *out = pawl_event_decision(ev.root, ev.rq.time_ms, ev.rq.method, &dec);
        char *s = out ? pawl_event_dump(out, NULL) : NULL;
        if (out && s == NULL)
            abort(); /* every decision must serialize */
        free(s);
        json_decref(out);
    }
    pawl_event_in_free(&ev);
    return 0;
}
