#include "helper_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void th_read_text(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

char *th_read_src(const char *rel, size_t *len)
{
    const char *src = getenv("PAWL_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

const char *th_diag(const struct pawl_diag *d)
{
    static char buf[800];
    pawl_diag_format(d, buf, sizeof buf);
    return buf;
}

uint8_t *th_find(uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

int th_put(void *ctx, const void *p, size_t n)
{
    struct th_buf *b = ctx;
    if (n > b->cap - b->n)
        return -1;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

int th_take(void *ctx, void *p, size_t n)
{
    struct th_buf *b = ctx;
    if (n > b->n - b->at)
        return -1;
    memcpy(p, b->p + b->at, n);
    b->at += n;
    return 0;
}
