/* libFuzzer driver for the detectors' input shared by pawld instances
 * (src/gateway/shared_events.c): the input is a batch as read from the
 * stream. Every event the merge feeds packs again (it passed the same
 * checks), and the batch so packed feeds the same events in the same
 * order: the bytes packed from it are the same. */
#include <stdlib.h>
#include <string.h>

#include "shared_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000000LL

struct repack {
    uint8_t *out;
    size_t n, cap, fed;
};

static void pack_again(void *ctx, const struct pawl_api_event *e, const struct pawld_event_origin *o)
{
    struct repack *r = ctx;
    (void)o;
    r->fed++;
    if (!pawld_event_pack(e, e->time_ms, r->out, r->cap, &r->n))
        abort(); /* an event the merge took is one pawld packs */
}

static void pass(const uint8_t *p, size_t n, struct repack *r)
{
    char why[200];
    struct pawld_merge *m = pawld_merge_new(4096);
    if (m == NULL)
        return;
    why[0] = '\0';
    if (pawld_merge_add(m, "1700000000000-7", "fuzz", p, n, NOW, why, sizeof why) != 0 && why[0] == '\0')
        abort(); /* a refusal says why */
    pawld_events_begin(r->out, &r->n);
    pawld_merge_take(m, INT64_MAX, pack_again, r);
    if (pawld_merge_pending(m) != 0)
        abort();
    pawld_merge_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = 2 * size + 16;
    struct repack a = { malloc(cap), 0, cap, 0 }, b = { malloc(cap), 0, cap, 0 };
    if (a.out != NULL && b.out != NULL) {
        pass(data, size, &a);
        pass(a.out, a.n, &b);
        if (a.fed != b.fed || a.n != b.n || memcmp(a.out, b.out, a.n) != 0)
            abort();
    }
    free(a.out);
    free(b.out);
    return 0;
}
