/* libFuzzer driver for Uptane's parsers (src/edge/uptane.c,
 * uptane_report.c). The first byte picks the input: 'm' a TAP 4 map.json
 * (then a few paths are checked against it), 'v' a vehicle version
 * manifest verified against a fixed inventory, 'r' one ECU version report;
 * other values go to all three. A refusal always says why and releases
 * nothing; an acceptance stays inside the documented bounds. Full
 * verification needs two TUF repositories and is left to test_uptane.
 *
 * The inventory's keys are fixed seeds (fixtures that protect nothing), so
 * the seed corpus in fuzz/corpus/uptane holds manifests that verify and
 * mutations reach the checks behind the signatures. */
#include <stdlib.h>
#include <string.h>

#include "pawl/uptane.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_VIN "WVWZZZ1JZXW000001"
#define FUZZ_NOW 1700000000

static void fuzz_map(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"fw.bin", "brake/fw-4.bin", "a/b/c", "*", ""};
    struct pawl_uptane_map *m = NULL;
    char err[256] = "";
    const char *urls[PAWL_UPTANE_MAP_MAX_URLS];
    if (pawl_uptane_map_parse(data, size, &m, err, sizeof err) != PAWL_UPTANE_OK) {
        if (err[0] == '\0' || m != NULL)
            abort();
        return;
    }
    size_t n = pawl_uptane_map_urls(m, "director", urls, PAWL_UPTANE_MAP_MAX_URLS);
    for (size_t i = 0; i < n && i < PAWL_UPTANE_MAP_MAX_URLS; i++)
        if (urls[i] == NULL || urls[i][0] == '\0')
            abort();
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        err[0] = '\0';
        pawl_uptane_status st = pawl_uptane_map_check(m, paths[i], "director", "image", err,
                                                      sizeof err);
        if (st != PAWL_UPTANE_OK && (st != PAWL_UPTANE_EMAPPING || err[0] == '\0'))
            abort();
    }
    pawl_uptane_map_free(m);
}

static void check_report(const struct pawl_uptane_report *r)
{
    if (r->ecu_serial[0] == '\0' || r->installed.nhashes == 0 ||
        r->installed.nhashes > PAWL_TUF_MAX_HASHES || r->counter == 0 ||
        r->installed.path[0] == '\0')
        abort();
}

static void fuzz_manifest(const uint8_t *data, size_t size,
                          const struct pawl_uptane_known_ecu *ecus)
{
    struct pawl_uptane_inventory inv = {FUZZ_VIN, "ecu-primary", ecus, 2, FUZZ_NOW, 0};
    struct pawl_uptane_report out[4];
    size_t n = 99;
    char err[512] = "";
    if (pawl_uptane_manifest_verify(&inv, data, size, out, 4, &n, err, sizeof err) !=
        PAWL_UPTANE_OK) {
        if (err[0] == '\0' || n != 0)
            abort();
        return;
    }
    if (n < 2 || n > 4)
        abort();
    for (size_t i = 0; i < n; i++)
        check_report(&out[i]);
}

static void fuzz_report(const uint8_t *data, size_t size, const struct pawl_uptane_known_ecu *e)
{
    struct pawl_uptane_report r;
    char err[512] = "";
    if (pawl_uptane_report_verify(e, data, size, &r, err, sizeof err) != PAWL_UPTANE_OK) {
        if (err[0] == '\0' || r.ecu_serial[0] != '\0')
            abort();
        return;
    }
    check_report(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pawl_uptane_known_ecu ecus[2] = {{"ecu-primary", {0}, 0},
                                                   {"ecu-brake", {0}, 0}};
    static bool ready;
    if (!ready) {
        for (int i = 0; i < 2; i++) {
            static uint8_t seed[2][32];
            struct pawl_uptane_signer s;
            memset(seed[i], 0x41 + i, 32);
            if (pawl_uptane_seed_signer(&s, seed[i]) != PAWL_UPTANE_OK)
                abort();
            memcpy(ecus[i].public_key, s.public_key, 32);
        }
        ready = true;
    }
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    if (sel == 'm' || (sel != 'v' && sel != 'r'))
        fuzz_map(data, size);
    if (sel == 'v' || (sel != 'm' && sel != 'r'))
        fuzz_manifest(data, size, ecus);
    if (sel == 'r' || (sel != 'm' && sel != 'v'))
        fuzz_report(data, size, &ecus[1]);
    return 0;
}
