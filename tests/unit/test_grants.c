/* Grants: strict loading and lookup by (principal, VIN). */
#include "helper_common.h"
#include "pawl/grants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIN "1HGCM82633A004352"
#define WEEK (7LL * 86400 * 1000)

static struct pawl_grants *fresh(void)
{
    struct pawl_grants *g = NULL;
    assert_int_equal(pawl_grants_new(WEEK, &g), PAWL_OK);
    return g;
}

static void bad_line(const char *line, const char *msg)
{
    struct pawl_grants *g = fresh();
    struct pawl_diag d = { 0 };
    if (pawl_grants_add_line(g, line, strlen(line), "g.jsonl", 7, &d) == PAWL_OK)
        fail_msg("accepted: %s", line);
    const char *got = th_diag(&d);
    if (strncmp(got, "g.jsonl:7", 9) != 0 || strstr(got, msg) == NULL)
        fail_msg("got '%s', want '%s'", got, msg);
    assert_int_equal(pawl_grants_count(g), 0);
    pawl_grants_free(g);
}

static void test_vin_shape(void **s)
{
    (void)s;
    assert_true(pawl_vin_valid(PAWL_STR(VIN)));
    assert_false(pawl_vin_valid(PAWL_STR("1HGCM82633A00435")));   /* 16 */
    assert_false(pawl_vin_valid(PAWL_STR("1HGCM82633A0043521"))); /* 18 */
    assert_false(pawl_vin_valid(PAWL_STR("1HGCM82633I004352")));  /* I */
    assert_false(pawl_vin_valid(PAWL_STR("1HGCM82633O004352")));  /* O */
    assert_false(pawl_vin_valid(PAWL_STR("1HGCM82633Q004352")));  /* Q */
    assert_false(pawl_vin_valid(PAWL_STR("1hgcm82633a004352")));  /* lower case */
    assert_false(pawl_vin_valid(PAWL_STR("1HGCM8263/A004352")));
}

static void test_lookup(void **s)
{
    (void)s;
    struct pawl_grants *g = fresh();
    struct pawl_diag d;
    size_t n;
    char *buf = th_read_src("examples/grants.jsonl", &n);
    if (pawl_grants_load(g, buf, n, "examples/grants.jsonl", &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_true(pawl_grants_count(g) >= 5);
    uint32_t it = 0;
    const struct pawl_grant *gr = pawl_grants_next(g, PAWL_STR("u-1042"), PAWL_STR(VIN), &it);
    assert_non_null(gr);
    assert_int_equal(gr->role, PAWL_GR_OWNER);
    assert_int_equal(gr->until_ms, INT64_MAX);
    it = 0;
    assert_null(pawl_grants_next(g, PAWL_STR("u-1042"), PAWL_STR("JH4KA8260MC000000"), &it));
    it = 0;
    assert_null(pawl_grants_next(g, PAWL_STR("u-104"), PAWL_STR(VIN), &it)); /* prefix is not a match */
    it = 0;
    assert_null(pawl_grants_next(g, (pawl_str){ "u-1042\0x", 8 }, PAWL_STR(VIN), &it));
    pawl_grants_free(g);
    free(buf);
}

/* The prefetch hints read the tables (ASan checks they stay inside) and
 * change nothing, on an empty set, a present and an absent key. */
/* A key (pawl_key_of) that lives long enough for one hint call. */
static const pawl_key *key(pawl_str s)
{
    static pawl_key k[4];
    static unsigned i;
    k[i % 4] = pawl_key_of(s);
    return &k[i++ % 4];
}

static void test_prefetch_is_only_a_hint(void **s)
{
    (void)s;
    struct pawl_grants *g = fresh();
    struct pawl_diag d;
    uint32_t it = 0;
    pawl_grants_prefetch(g, key(PAWL_STR("u-1")), key(PAWL_STR(VIN)));
    pawl_grants_prefetch_vin(g, key(PAWL_STR(VIN)), 1);
    pawl_grants_prefetch_vin(g, key(PAWL_STR(VIN)), 2);
    assert_null(pawl_grants_next(g, PAWL_STR("u-1"), PAWL_STR(VIN), &it));
    const char *line = "{\"principal\":\"u-1\",\"vin\":\"" VIN "\",\"role\":\"driver\",\"since\":0}";
    assert_int_equal(pawl_grants_add_line(g, line, strlen(line), "p", 1, &d), PAWL_OK);
    for (int step = 1; step <= 2; step++) {
        pawl_grants_prefetch(g, key(PAWL_STR("u-1")), key(PAWL_STR(VIN)));
        pawl_grants_prefetch(g, key(PAWL_STR("u-2")), key(PAWL_STR(VIN)));
        pawl_grants_prefetch(g, key(PAWL_STR("u-1")), key(PAWL_STR("SHORT")));
        pawl_grants_prefetch_vin(g, key(PAWL_STR(VIN)), step);
        pawl_grants_prefetch_vin(g, key(PAWL_STR("1HGCM82633A004353")), step);
        pawl_grants_prefetch_vin(g, key(PAWL_STR("SHORT")), step);
        it = 0;
        const struct pawl_grant *gr = pawl_grants_next(g, PAWL_STR("u-1"), PAWL_STR(VIN), &it);
        assert_non_null(gr);
        assert_int_equal(gr->role, PAWL_GR_DRIVER);
        assert_null(pawl_grants_next(g, PAWL_STR("u-1"), PAWL_STR(VIN), &it));
        it = 0;
        assert_null(pawl_grants_next(g, PAWL_STR("u-2"), PAWL_STR(VIN), &it));
    }
    pawl_grants_free(g);
}

static void test_many_and_multiple(void **s)
{
    (void)s;
    struct pawl_grants *g = fresh();
    struct pawl_diag d;
    char line[256], vin[18];
    for (int i = 0; i < 20000; i++) {
        snprintf(vin, sizeof vin, "WVWZZZ1JZ%08d", i);
        int n = snprintf(line, sizeof line,
                         "{\"principal\":\"u-%d\",\"vin\":\"%s\",\"role\":\"owner\",\"since\":0,\"until\":null}",
                         i % 1000, vin);
        assert_int_equal(pawl_grants_add_line(g, line, (size_t)n, "m", 1, &d), PAWL_OK);
    }
    int n = snprintf(line, sizeof line,
                     "{\"principal\":\"u-7\",\"vin\":\"WVWZZZ1JZ00000007\",\"role\":\"dealer\",\"since\":0,\"until\":1000,\"org\":\"d-1\"}");
    assert_int_equal(pawl_grants_add_line(g, line, (size_t)n, "m", 1, &d), PAWL_OK);
    unsigned found = 0, roles = 0;
    uint32_t it = 0;
    for (const struct pawl_grant *gr; (gr = pawl_grants_next(g, PAWL_STR("u-7"), PAWL_STR("WVWZZZ1JZ00000007"), &it));) {
        found++;
        roles |= 1u << gr->role;
        if (gr->role == PAWL_GR_DEALER)
            assert_string_equal(pawl_grants_org(g, gr), "d-1");
    }
    assert_int_equal(found, 2);
    assert_int_equal(roles, (1u << PAWL_GR_OWNER) | (1u << PAWL_GR_DEALER));
    it = 0;
    assert_non_null(pawl_grants_next(g, PAWL_STR("u-999"), PAWL_STR("WVWZZZ1JZ00019999"), &it));
    /* by vehicle, whoever holds it: after many rehashes, every grant of the VIN */
    for (int k = 0; k < 3; k++) {
        n = snprintf(line, sizeof line, "{\"principal\":\"x-%d\",\"vin\":\"WVWZZZ1JZ00000007\",\"role\":\"driver\","
                     "\"since\":0,\"until\":null}", k);
        assert_int_equal(pawl_grants_add_line(g, line, (size_t)n, "m", 1, &d), PAWL_OK);
    }
    unsigned holders = 0, x = 0;
    it = 0;
    for (const struct pawl_grant *gr; (gr = pawl_grants_of_vin(g, PAWL_STR("WVWZZZ1JZ00000007"), &it));) {
        assert_memory_equal(gr->vin, "WVWZZZ1JZ00000007", 17);
        holders++;
        x += strncmp(pawl_grants_principal(g, gr), "x-", 2) == 0;
    }
    assert_int_equal(holders, 5); /* u-7 twice, x-0..x-2 */
    assert_int_equal(x, 3);
    for (int i = 0; i < 20000; i += 997) {
        snprintf(vin, sizeof vin, "WVWZZZ1JZ%08d", i);
        it = 0;
        const struct pawl_grant *gr = pawl_grants_of_vin(g, (pawl_str){vin, 17}, &it);
        assert_non_null(gr);
        char who[16];
        snprintf(who, sizeof who, "u-%d", i % 1000);
        assert_string_equal(pawl_grants_principal(g, gr), who);
        assert_null(pawl_grants_of_vin(g, (pawl_str){vin, 17}, &it)); /* its only grant */
    }
    it = 0;
    assert_null(pawl_grants_of_vin(g, PAWL_STR("WVWZZZ1JZ99999999"), &it));
    pawl_grants_free(g);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Against a plain list: many grants per vehicle and per (principal, vehicle),
 * principals that are prefixes of one another, tables rehashed many times;
 * every pair's grants (told apart by their `since`) are exactly the list's. */
static void test_matches_a_plain_list(void **s)
{
    (void)s;
    enum { N = 3000, P = 120, V = 90 };
    static struct { int p, v; int64_t since; } list[N];
    struct pawl_grants *g = fresh();
    struct pawl_diag d;
    char line[256], vin[18], who[16];
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        list[i].p = (int)((seed >> 8) % P);
        list[i].v = (int)((seed >> 18) % V);
        list[i].since = 1000 + i;
        snprintf(vin, sizeof vin, "WVWZZZ1JZ%08d", list[i].v);
        int n = snprintf(line, sizeof line, "{\"principal\":\"p-%d\",\"vin\":\"%s\",\"role\":\"driver\","
                         "\"since\":%lld}", list[i].p, vin, (long long)list[i].since);
        assert_int_equal(pawl_grants_add_line(g, line, (size_t)n, "l", 1, &d), PAWL_OK);
    }
    static int64_t want[N], got[N];
    for (int p = 0; p < P + 5; p++)     /* p-120.. hold nothing */
        for (int v = 0; v < V; v++) {
            size_t nw = 0, ng = 0;
            for (int i = 0; i < N; i++)
                if (list[i].p == p && list[i].v == v)
                    want[nw++] = list[i].since;
            snprintf(vin, sizeof vin, "WVWZZZ1JZ%08d", v);
            snprintf(who, sizeof who, "p-%d", p);
            pawl_str pw = { who, strlen(who) }, pv = { vin, 17 };
            uint32_t it = 0;
            for (const struct pawl_grant *gr; (gr = pawl_grants_next(g, pw, pv, &it)) != NULL;) {
                assert_true(ng < N);
                assert_memory_equal(gr->vin, vin, 17);
                assert_string_equal(pawl_grants_principal(g, gr), who);
                got[ng++] = gr->since_ms;
            }
            if (ng != nw)
                fail_msg("%s on %s: %zu grants, the list has %zu", who, vin, ng, nw);
            qsort(want, nw, sizeof *want, cmp_i64);
            qsort(got, ng, sizeof *got, cmp_i64);
            assert_memory_equal(got, want, nw * sizeof *want);
        }
    for (int v = 0; v < V; v++) { /* and by vehicle */
        size_t nw = 0, ng = 0;
        for (int i = 0; i < N; i++)
            nw += list[i].v == v;
        snprintf(vin, sizeof vin, "WVWZZZ1JZ%08d", v);
        uint32_t it = 0;
        while (pawl_grants_of_vin(g, (pawl_str){ vin, 17 }, &it) != NULL)
            ng++;
        assert_int_equal(ng, nw);
    }
    pawl_grants_free(g);
}

static void test_rejects(void **s)
{
    (void)s;
    bad_line("{\"vin\":\"" VIN "\",\"role\":\"owner\",\"since\":0}", "principal: required");
    bad_line("{\"principal\":\"u\",\"vin\":\"ABC\",\"role\":\"owner\",\"since\":0}", "vin: not a VIN");
    bad_line("{\"principal\":\"u\",\"vin\":\"" VIN "\",\"role\":\"king\",\"since\":0}", "role: must be owner");
    bad_line("{\"principal\":\"u\",\"vin\":\"" VIN "\",\"role\":\"owner\",\"since\":\"yesterday\"}", "since: must be milliseconds");
    bad_line("{\"principal\":\"u\",\"vin\":\"" VIN "\",\"role\":\"owner\",\"since\":5,\"until\":5}", "until: must be later");
    bad_line("{\"principal\":\"u\",\"vin\":\"" VIN "\",\"role\":\"dealer\",\"since\":0,\"until\":100}", "must name their org");
    bad_line("{\"principal\":\"u\",\"vin\":\"" VIN "\",\"role\":\"support\",\"since\":0,\"until\":null,\"org\":\"o\"}", "time-boxed");
    bad_line("{\"principal\":\"u\",\"vin\":\"" VIN "\",\"role\":\"dealer\",\"since\":0,\"until\":999999999999,\"org\":\"o\"}", "max_delegation");
    bad_line("{\"principal\":\"u\",\"principal\":\"v\"}", "invalid JSON");
    bad_line("[1,2]", "must be a JSON object");
    bad_line("{\"principal\":", "invalid JSON");
    bad_line("{\"principal\":\"u\\u0000x\",\"vin\":\"" VIN "\",\"role\":\"owner\",\"since\":0}", "not allowed");
}

static void test_load_reports_line(void **s)
{
    (void)s;
    struct pawl_grants *g = fresh();
    struct pawl_diag d = { 0 };
    const char *buf = "{\"principal\":\"u\",\"vin\":\"" VIN "\",\"role\":\"owner\",\"since\":0}\n\n  \n{oops}\n";
    assert_int_not_equal(pawl_grants_load(g, buf, strlen(buf), "g.jsonl", &d), PAWL_OK);
    assert_int_equal(d.line, 4);
    pawl_grants_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vin_shape), cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_many_and_multiple), cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_load_reports_line), cmocka_unit_test(test_prefetch_is_only_a_hint),
        cmocka_unit_test(test_matches_a_plain_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
