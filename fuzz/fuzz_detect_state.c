/* libFuzzer driver for the detectors' state file (pawl_detector_load, then
 * pawl_blocklist_load as pawld's detect.state has them): a valid state
 * (from events fed to a detector, and two blocks) damaged by the fuzzer's
 * bytes (xor, and cut short), loaded, then events through the detectors
 * and lookups, additions and removals on the blocks that were loaded. A
 * refusal always says why; a loaded state never makes a detector or the
 * block list read or write out of bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/blocklist.h"
#include "pawl/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t n;
};

struct sink {
    uint8_t buf[65536];
    size_t n;
};

static int put(void *ctx, const void *p, size_t n)
{
    struct sink *s = ctx;
    if (s->n + n > sizeof s->buf)
        return -1;
    memcpy(s->buf + s->n, p, n);
    s->n += n;
    return 0;
}

static int take(void *ctx, void *p, size_t n)
{
    struct src *s = ctx;
    if (n > s->n)
        return -1;
    memcpy(p, s->p, n);
    s->p += n;
    s->n -= n;
    return 0;
}

static void on_finding(void *ctx, const struct pawl_finding *f)
{
    (void)ctx;
    if (f->nvins > PAWL_FINDING_MAX_VINS)
        abort();
}

static const char *const paths[] = {"/api/v1/vehicles/1HGCM82633A004352/owners",
                                    "/api/v1/vehicles/1HGCM82633A004352/commands/door.unlock", "/a/7",
                                    "/a/8", "/login"};

static void feed(struct pawl_detector *det)
{
    for (int i = 0; i < 5; i++) {
        struct pawl_api_event e = {0};
        e.time_ms = 1000 + i;
        e.method = (pawl_str){"POST", 4};
        e.path = (pawl_str){paths[i], strlen(paths[i])};
        e.principal = (pawl_str){i % 2 ? "a" : "b", 1};
        e.src_ip = (pawl_str){"1.2.3.4", 7};
        e.country = (pawl_str){"DE", 2};
        e.status = i == 4 ? 401 : 200;
        pawl_detector_feed(det, &e, on_finding, NULL);
    }
}

/* Days later, more principals, addresses and vehicles than the tables
 * hold: loaded entries give way (erased, others moved back in their probe
 * runs), whatever the loaded state held. */
static void crowd(struct pawl_detector *det)
{
    char who[8], ip[16], path[64];
    for (int i = 0; i < 12; i++) {
        struct pawl_api_event e = {0};
        snprintf(who, sizeof who, "p%d", i);
        snprintf(ip, sizeof ip, "10.0.0.%d", i);
        snprintf(path, sizeof path, "/api/v1/vehicles/1HGCM82633A0043%02d/commands/x", i);
        e.time_ms = 4 * 86400000LL + i;
        e.method = (pawl_str){"POST", 4};
        e.path = (pawl_str){path, strlen(path)};
        e.principal = (pawl_str){who, strlen(who)};
        e.src_ip = (pawl_str){ip, strlen(ip)};
        e.status = i % 3 ? 200 : 401;
        pawl_detector_feed(det, &e, on_finding, NULL);
    }
}

/* A small list with two blocks, written after the detectors' state. */
static void save_blocks(struct sink *out)
{
    struct pawl_blocklist *bl;
    if (pawl_blocklist_new(4, &bl) != PAWL_OK ||
        pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, (pawl_str){"mallory", 7}, "bola", 0, 5000) != PAWL_OK ||
        pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, (pawl_str){"1.2.3.4", 7}, "x", 0, 5000) != PAWL_OK ||
        pawl_blocklist_save(bl, 1, put, out) != PAWL_OK)
        abort();
    pawl_blocklist_free(bl);
}

/* Every operation on a loaded list: nothing may go out of bounds. */
static void use_blocks(struct pawl_blocklist *bl)
{
    size_t it = 0, n = 0;
    const struct pawl_block *b;
    while ((b = pawl_blocklist_next(bl, &it, 100)) != NULL) {
        if (strlen(b->subject) >= sizeof b->subject || strlen(b->detector) >= sizeof b->detector)
            abort();
        n++;
    }
    if (n != pawl_blocklist_live(bl, 100))
        abort();
    (void)pawl_blocklist_find(bl, PAWL_BLOCK_PRINCIPAL, (pawl_str){"mallory", 7}, 100);
    (void)pawl_blocklist_remove(bl, PAWL_BLOCK_ADDRESS, (pawl_str){"1.2.3.4", 7}, 100);
    for (int i = 0; i < 6; i++) /* over the limit of 4: refused, never dropped */
        (void)pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, (pawl_str){&"abcdef"[i], 1}, "y", 100, 200);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pawl_detect_config cfg = {8, 8, 2, 3, 2, 1, 1, 1, 1, 2, 1000, 8, 60000, true};
    static struct sink valid;
    struct pawl_detector *det;
    struct pawl_diag d = {0};
    if (valid.n == 0) { /* a real state to damage */
        if (pawl_detector_new(&cfg, NULL, &det) != PAWL_OK)
            abort();
        feed(det);
        if (pawl_detector_save(det, put, &valid) != PAWL_OK)
            abort();
        pawl_detector_free(det);
        save_blocks(&valid);
    }
    static struct sink s;
    s = valid;
    for (size_t i = 0; i < size; i++)
        s.buf[i % s.n] ^= data[i];
    struct src in = {s.buf, size > 0 ? s.n - data[0] % (s.n < 64 ? s.n : 64) : s.n};
    if (pawl_detector_new(&cfg, NULL, &det) != PAWL_OK)
        return 0;
    struct pawl_blocklist *bl;
    if (pawl_blocklist_new(4, &bl) != PAWL_OK) {
        pawl_detector_free(det);
        return 0;
    }
    pawl_err e = pawl_detector_load(det, take, &in, "fuzz", &d);
    if (e != PAWL_OK && d.msg[0] == '\0')
        abort();
    if (e == PAWL_OK && pawl_blocklist_load(bl, take, &in, "fuzz", &d) != PAWL_OK && d.msg[0] == '\0')
        abort();
    feed(det);
    crowd(det);
    use_blocks(bl);
    pawl_blocklist_free(bl);
    pawl_detector_free(det);
    return 0;
}
