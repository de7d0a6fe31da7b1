/* libFuzzer driver for pawld's request reader (src/gateway/h1.c) over
 * http-parser, followed by the head checks, as a connection runs them. The
 * first byte sets the chunk size the bytes are fed in. A refusal always
 * says why; no head is ever passed on with obs-fold in it or over the
 * limits; every byte is consumed or the reader stops in a final state. */
#include <stdlib.h>
#include <string.h>

#include "h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pawl_http_limits lim = {16, 1024, 4096, 4096};
    struct pawld_h1 r;
    if (size < 1 || pawld_h1_init(&r, &lim, sink, NULL) != 0)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1, off = 1, guard = 0;
    while (off < size && guard++ < 100000) {
        size_t n = size - off < step ? size - off : step;
        size_t used = pawld_h1_feed(&r, (const char *)data + off, n);
        if (used > n)
            abort();
        off += used;
        if (r.state == PAWLD_H1_ERROR) {
            if (r.detail[0] == '\0')
                abort();
            break;
        }
        if (r.state == PAWLD_H1_HEAD) {
            struct pawl_http_head h;
            struct pawl_http_verdict v;
            pawld_h1_head(&r, &h);
            if (h.nheaders > lim.max_headers || r.head_bytes > lim.max_head_bytes + 64)
                abort();
            pawl_http_check(&h, &lim, &v);
            if (v.reason != PAWL_R_ALLOWED)
                break;
            pawld_h1_resume(&r);
        } else if (r.state == PAWLD_H1_DONE) {
            pawld_h1_next(&r);
        } else if (used == 0) {
            abort(); /* reading, yet nothing consumed: a stall */
        }
    }
    pawld_h1_free(&r);
    return 0;
}
