/* GCRA rate limiting: bursts, steady rate, all-or-nothing charging, memory bound. */
#include "helper_common.h"
#include "pawl/ratelimit.h"

#define S 1000000LL /* one second in microseconds */

static bool one(struct pawl_ratelimit *rl, uint64_t key, struct pawl_rate r, int64_t now,
                int64_t *retry)
{
    struct pawl_rl_check c = { key, r };
    unsigned which;
    return pawl_ratelimit_check(rl, &c, 1, now, retry, &which);
}

/* The prefetch hint changes nothing, for any key (0 included). */
static void test_prefetch_is_only_a_hint(void **s)
{
    (void)s;
    struct pawl_ratelimit *rl;
    struct pawl_rate r = { S, 1 };
    int64_t retry = 0, t = 1000 * S;
    assert_int_equal(pawl_ratelimit_new(1024, &rl), PAWL_OK);
    const uint64_t keys[] = { 0, 42, UINT64_C(1) << 63, UINT64_MAX };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        pawl_ratelimit_prefetch(rl, keys[i]);
        assert_true(one(rl, keys[i], r, t, &retry));
        pawl_ratelimit_prefetch(rl, keys[i]);
        assert_false(one(rl, keys[i], r, t, &retry));
        assert_int_equal(retry, S);
    }
    pawl_ratelimit_free(rl);
}

static void test_burst_then_rate(void **s)
{
    (void)s;
    struct pawl_ratelimit *rl;
    struct pawl_rate r = { S, 3 }; /* 1/s, burst 3 */
    int64_t retry = 0, t = 1000 * S;
    assert_int_equal(pawl_ratelimit_new(1000, &rl), PAWL_OK);
    for (int i = 0; i < 3; i++)
        assert_true(one(rl, 42, r, t, &retry));
    assert_false(one(rl, 42, r, t, &retry));
    assert_int_equal(retry, S);                    /* the next slot opens in one second */
    assert_false(one(rl, 42, r, t + S - 1, &retry));
    assert_int_equal(retry, 1);
    assert_true(one(rl, 42, r, t + S, &retry));
    assert_false(one(rl, 42, r, t + S, &retry));
    assert_true(one(rl, 7, r, t, &retry));         /* other keys are independent */
    assert_true(one(rl, 42, r, t + 10 * S, &retry)); /* idle refills the burst */
    assert_true(one(rl, 42, r, t + 10 * S, &retry));
    assert_true(one(rl, 42, r, t + 10 * S, &retry));
    assert_false(one(rl, 42, r, t + 10 * S, &retry));
    struct pawl_rl_stats st;
    pawl_ratelimit_stats(rl, &st);
    assert_int_equal(st.denied, 4);
    pawl_ratelimit_free(rl);
}

static void test_all_or_nothing(void **s)
{
    (void)s;
    struct pawl_ratelimit *rl;
    int64_t retry, t = 5 * S;
    unsigned which;
    assert_int_equal(pawl_ratelimit_new(1000, &rl), PAWL_OK);
    struct pawl_rl_check c[2] = { { 1, { S, 10 } }, { 2, { S, 1 } } };
    assert_true(pawl_ratelimit_check(rl, c, 2, t, &retry, &which));
    for (int i = 0; i < 20; i++) { /* key 2 is exhausted: key 1 must not be charged */
        assert_false(pawl_ratelimit_check(rl, c, 2, t, &retry, &which));
        assert_int_equal(which, 1);
    }
    for (int i = 0; i < 9; i++)
        assert_true(one(rl, 1, c[0].rate, t, &retry));
    assert_false(one(rl, 1, c[0].rate, t, &retry));
    /* Both refuse: the answer is the longer wait, after which both pass. */
    struct pawl_rl_check two[2] = { { 10, { S, 1 } }, { 11, { 5 * S, 1 } } };
    assert_true(pawl_ratelimit_check(rl, two, 2, t, &retry, &which));
    assert_false(pawl_ratelimit_check(rl, two, 2, t, &retry, &which));
    assert_int_equal(which, 1);
    assert_int_equal(retry, 5 * S);
    assert_true(pawl_ratelimit_check(rl, two, 2, t + retry, &retry, &which));
    struct pawl_rl_check none = { 3, { 0, 0 } };
    for (int i = 0; i < 100; i++)
        assert_true(pawl_ratelimit_check(rl, &none, 1, t, &retry, &which));
    pawl_ratelimit_free(rl);
}

static void test_bounded_memory(void **s)
{
    (void)s;
    struct pawl_ratelimit *rl;
    int64_t retry;
    struct pawl_rate r = { 60 * S, 1 };
    assert_int_equal(pawl_ratelimit_new(10000, &rl), PAWL_OK);
    size_t mem = pawl_ratelimit_memory(rl);
    /* 1,000,000 distinct keys through a table sized for 10,000: memory stays put. */
    for (uint64_t k = 1; k <= 1000000; k++)
        assert_true(one(rl, k * 0x9e3779b97f4a7c15ull, r, (int64_t)k * 1000, &retry));
    assert_int_equal(pawl_ratelimit_memory(rl), mem);
    /* A key that is still live and recent keeps its state. */
    assert_false(one(rl, 1000000 * 0x9e3779b97f4a7c15ull, r, 1000000LL * 1000, &retry));
    struct pawl_rl_stats st;
    pawl_ratelimit_stats(rl, &st);
    assert_true(st.evicted_live > 0); /* 1M live keys cannot fit 10k slots */
    pawl_ratelimit_free(rl);
}

static void test_idle_keys_do_not_evict(void **s)
{
    (void)s;
    struct pawl_ratelimit *rl;
    int64_t retry;
    struct pawl_rate r = { 1000, 1 }; /* 1 per ms */
    assert_int_equal(pawl_ratelimit_new(1000, &rl), PAWL_OK);
    for (uint64_t k = 1; k <= 100000; k++) /* each key is idle 1 ms later */
        assert_true(one(rl, k * 0x9e3779b97f4a7c15ull, r, (int64_t)k * 2000, &retry));
    struct pawl_rl_stats st;
    pawl_ratelimit_stats(rl, &st);
    assert_int_equal(st.evicted_live, 0);
    pawl_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate), cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_prefetch_is_only_a_hint),
        cmocka_unit_test(test_bounded_memory), cmocka_unit_test(test_idle_keys_do_not_evict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
