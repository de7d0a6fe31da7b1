/* libFuzzer driver for pawl_edge_pin_parse: the input is a pin set as a
 * vehicle's configuration would hold it. Every result must be a value (a set,
 * or an error with a message and an offset inside the input), never a crash.
 * A set that parses formats back to the input byte for byte (the parser takes
 * canonical spellings only) and re-parses to the same set. */
#include "pawl/edge_pin.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const uint8_t *data, size_t size, const struct pawl_edge_pinset *set,
                      unsigned flags)
{
    char text[PAWL_EDGE_PINSET_STR_MAX];
    struct pawl_edge_pinset again;
    struct pawl_edge_pin_error e;

    if (set->n == 0 || set->n > PAWL_EDGE_MAX_PINS || (set->n < 2 && flags == 0))
        abort();
    for (unsigned i = 0; i < set->n; i++) {
        if (!pawl_edge_pin_match_digest(set, set->sha256[i]))
            abort();
        for (unsigned j = 0; j < i; j++)
            if (memcmp(set->sha256[i], set->sha256[j], PAWL_EDGE_PIN_HASH_LEN) == 0)
                abort();
    }
    size_t n = pawl_edge_pin_format(set, text, sizeof text);
    if (n != size || memcmp(text, data, size) != 0 || text[n] != '\0')
        abort();
    if (pawl_edge_pin_parse(text, n, flags, &again, &e) != PAWL_EDGE_PIN_OK ||
        memcmp(&again, set, sizeof again) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned flags[] = { 0, PAWL_EDGE_PIN_ALLOW_SINGLE };
    enum pawl_edge_pin_result r[2];

    for (int k = 0; k < 2; k++) {
        struct pawl_edge_pinset set;
        struct pawl_edge_pin_error e = { (size_t)-1, NULL };
        memset(&set, 0xa5, sizeof set);
        r[k] = pawl_edge_pin_parse((const char *)data, size, flags[k], &set, &e);
        if (r[k] == PAWL_EDGE_PIN_OK) {
            check_set(data, size, &set, flags[k]);
        } else if (r[k] > PAWL_EDGE_PIN_NO_BACKUP || e.msg == NULL || e.msg[0] == '\0' ||
                   e.offset > size || set.n != 0) {
            abort();
        }
    }
    /* The flag only lifts the backup rule. */
    if (r[0] != r[1] && !(r[0] == PAWL_EDGE_PIN_NO_BACKUP && r[1] == PAWL_EDGE_PIN_OK))
        abort();
    return 0;
}
