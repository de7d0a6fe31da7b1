/* Unit tests for the block list (pawl/blocklist.h): blocks hold for their
 * time and no longer, are extended, lifted (only while live), never dropped
 * to make room, and survive a save and load; a damaged file changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_common.h"
#include "pawl/blocklist.h"

static pawl_str S(const char *s)
{
    return (pawl_str){s, strlen(s)};
}

static void test_hold_and_expire(void **state)
{
    (void)state;
    struct pawl_blocklist *bl;
    assert_int_equal(pawl_blocklist_new(8, &bl), PAWL_OK);
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), "vin_fan_out", 1000, 61000), PAWL_OK);
    const struct pawl_block *b = pawl_blocklist_find(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), 1000);
    assert_non_null(b);
    assert_string_equal(b->subject, "mallory");
    assert_string_equal(b->detector, "vin_fan_out");
    assert_int_equal(b->until_ms, 61000);
    assert_non_null(pawl_blocklist_find(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), 60999));
    assert_null(pawl_blocklist_find(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), 61000));
    assert_null(pawl_blocklist_find(bl, PAWL_BLOCK_PRINCIPAL, S("mallor"), 2000));
    assert_null(pawl_blocklist_find(bl, PAWL_BLOCK_ADDRESS, S("mallory"), 2000)); /* kinds apart */
    /* a second finding extends, never shortens */
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), "bola", 2000, 90000), PAWL_OK);
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), "bola", 3000, 4000), PAWL_OK);
    b = pawl_blocklist_find(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), 80000);
    assert_non_null(b);
    assert_int_equal(b->until_ms, 90000);
    assert_int_equal(b->count, 3);
    assert_string_equal(b->detector, "bola");
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, S(""), "bola", 1, 2), PAWL_EINVAL);
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, S("x"), "bola", 5, 5), PAWL_EINVAL);
    /* after expiry, a new finding starts a new block */
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), "enumeration", 95000, 99000),
                     PAWL_OK);
    b = pawl_blocklist_find(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), 95000);
    assert_int_equal(b->since_ms, 95000);
    assert_int_equal(b->count, 1);
    /* lifting an expired block lifts nothing (the admin answers 404), and
     * the stale entry goes: lifting it again is still nothing */
    assert_false(pawl_blocklist_remove(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), 99000));
    assert_false(pawl_blocklist_remove(bl, PAWL_BLOCK_PRINCIPAL, S("mallory"), 99000));
    pawl_blocklist_free(bl);
}

/* The clock stepped back after a block was set (NTP correcting the host's
 * time): the block is still enforced, listed (what is saved), extended and
 * can be lifted. */
static void test_clock_stepped_back(void **state)
{
    (void)state;
    struct pawl_blocklist *bl;
    assert_int_equal(pawl_blocklist_new(8, &bl), PAWL_OK);
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, S("10.0.0.1"), "bola", 100000, 200000), PAWL_OK);
    int64_t back = 40000; /* the clock now says 60 s before the block was set */
    assert_non_null(pawl_blocklist_find(bl, PAWL_BLOCK_ADDRESS, S("10.0.0.1"), back));
    assert_int_equal(pawl_blocklist_live(bl, back), 1);
    size_t it = 0;
    const struct pawl_block *b = pawl_blocklist_next(bl, &it, back);
    assert_non_null(b);
    assert_int_equal(b->since_ms, 100000);
    /* a finding now extends it rather than starting another */
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, S("10.0.0.1"), "bola", back, 250000), PAWL_OK);
    assert_int_equal(pawl_blocklist_find(bl, PAWL_BLOCK_ADDRESS, S("10.0.0.1"), back)->count, 2);
    assert_null(pawl_blocklist_find(bl, PAWL_BLOCK_ADDRESS, S("10.0.0.1"), 250000));
    assert_true(pawl_blocklist_remove(bl, PAWL_BLOCK_ADDRESS, S("10.0.0.1"), back));
    assert_null(pawl_blocklist_find(bl, PAWL_BLOCK_ADDRESS, S("10.0.0.1"), back));
    pawl_blocklist_free(bl);
}

static void test_full_and_remove(void **state)
{
    (void)state;
    struct pawl_blocklist *bl;
    char name[32];
    assert_int_equal(pawl_blocklist_new(50, &bl), PAWL_OK);
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "10.0.0.%d", i);
        assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, S(name), "credential_stuffing", 0,
                                            i < 10 ? 100 : 10000), PAWL_OK);
    }
    /* full of live blocks: refused, and nothing was dropped */
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, S("10.9.9.9"), "x", 50, 1000), PAWL_ELIMIT);
    assert_int_equal(pawl_blocklist_live(bl, 50), 50);
    /* once ten have expired, there is room */
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "10.1.0.%d", i);
        assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, S(name), "x", 200, 1000), PAWL_OK);
    }
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, S("10.9.9.9"), "x", 200, 1000), PAWL_ELIMIT);
    /* removal in the middle of probe runs keeps every other block findable */
    for (int i = 10; i < 50; i += 2) {
        snprintf(name, sizeof name, "10.0.0.%d", i);
        assert_true(pawl_blocklist_remove(bl, PAWL_BLOCK_ADDRESS, S(name), 300));
        assert_false(pawl_blocklist_remove(bl, PAWL_BLOCK_ADDRESS, S(name), 300));
    }
    for (int i = 10; i < 50; i++) {
        snprintf(name, sizeof name, "10.0.0.%d", i);
        assert_true((pawl_blocklist_find(bl, PAWL_BLOCK_ADDRESS, S(name), 300) != NULL) == (i % 2 == 1));
    }
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "10.1.0.%d", i);
        assert_non_null(pawl_blocklist_find(bl, PAWL_BLOCK_ADDRESS, S(name), 300));
    }
    assert_int_equal(pawl_blocklist_live(bl, 300), 30);
    size_t it = 0, n = 0;
    while (pawl_blocklist_next(bl, &it, 300) != NULL)
        n++;
    assert_int_equal(n, 30);
    pawl_blocklist_free(bl);
}

static void test_save_load(void **state)
{
    (void)state;
    struct pawl_blocklist *bl, *back;
    struct pawl_diag d = {0};
    struct th_buf b = {calloc(1, 1 << 16), 0, 1 << 16, 0};
    assert_int_equal(pawl_blocklist_new(16, &bl), PAWL_OK);
    assert_int_equal(pawl_blocklist_new(16, &back), PAWL_OK);
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_PRINCIPAL, S("dealer-9"), "bola", 0, 5000), PAWL_OK);
    assert_int_equal(pawl_blocklist_add(bl, PAWL_BLOCK_ADDRESS, S("192.0.2.7"), "credential_stuffing", 0, 50),
                     PAWL_OK);
    assert_int_equal(pawl_blocklist_add(back, PAWL_BLOCK_PRINCIPAL, S("old"), "bola", 0, 5000), PAWL_OK);
    assert_int_equal(pawl_blocklist_save(bl, 100, th_put, &b), PAWL_OK); /* the expired one is not kept */
    assert_int_equal(pawl_blocklist_load(back, th_take, &b, "t", &d), PAWL_OK);
    assert_non_null(pawl_blocklist_find(back, PAWL_BLOCK_PRINCIPAL, S("dealer-9"), 200));
    assert_null(pawl_blocklist_find(back, PAWL_BLOCK_PRINCIPAL, S("old"), 200)); /* replaced */
    assert_int_equal(pawl_blocklist_live(back, 0), 1);
    /* every truncation, and a damaged entry, is refused and changes nothing */
    size_t whole = b.n;
    for (size_t cut = 0; cut < whole; cut += 7) {
        b.n = cut;
        b.at = 0;
        assert_int_not_equal(pawl_blocklist_load(back, th_take, &b, "t", &d), PAWL_OK);
        assert_non_null(pawl_blocklist_find(back, PAWL_BLOCK_PRINCIPAL, S("dealer-9"), 200));
    }
    b.n = whole;
    b.at = 0;
    b.p[whole - 1] = 'x'; /* the subject's terminating byte region */
    memset(b.p + 16 + offsetof(struct pawl_block, subject), 'A', PAWL_BLOCK_SUBJECT_MAX);
    assert_int_equal(pawl_blocklist_load(back, th_take, &b, "t", &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "damaged"));
    assert_int_equal(pawl_blocklist_live(back, 0), 1);
    pawl_blocklist_free(bl);
    pawl_blocklist_free(back);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_and_expire),
        cmocka_unit_test(test_full_and_remove),
        cmocka_unit_test(test_clock_stepped_back),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
