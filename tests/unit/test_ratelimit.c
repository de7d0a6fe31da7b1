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

/* What other processes charged: a key raised to a TAT a second ahead, with
 * burst 2 at 1/s, has room for one more request now; a raise into the past
 * or below the key's own TAT changes nothing. */
static void test_raise(void **s)
{
    (void)s;
    struct pawl_ratelimit *rl;
    struct pawl_rate r = { S, 2 };
    int64_t retry = 0, t = 1000 * S;
    assert_int_equal(pawl_ratelimit_new(64, &rl), PAWL_OK);
    pawl_ratelimit_raise(rl, 7, t + S, t);
    assert_true(one(rl, 7, r, t, &retry));
    assert_false(one(rl, 7, r, t, &retry));
    assert_int_equal(retry, S);
    pawl_ratelimit_raise(rl, 7, t - S, t);     /* owes nothing: no change */
    pawl_ratelimit_raise(rl, 7, t + S / 2, t); /* below its own TAT: no change */
    assert_false(one(rl, 7, r, t + S - 1, &retry));
    assert_true(one(rl, 7, r, t + S, &retry));
    assert_int_equal(pawl_ratelimit_tat(rl, 7), t + 3 * S); /* t + S raised, two charges */
    assert_int_equal(pawl_ratelimit_tat(rl, 9), 0);
    pawl_ratelimit_raise(rl, 8, t, t); /* absent and owing nothing: stays idle */
    assert_true(one(rl, 8, r, t, &retry));
    assert_true(one(rl, 8, r, t, &retry));
    pawl_ratelimit_raise(rl, 0, t + 2 * S, t); /* key 0 is the limiter's key 1 */
    assert_false(one(rl, 1, r, t, &retry));
    assert_int_equal(retry, S); /* owes 2 s, may owe 1 s before the next */
    pawl_ratelimit_free(rl);
}

/* The journal counts charges per key, skips unset limits, keeps the newest
 * interval, refuses keys beyond its room (counting them) and, once cleared,
 * finds nothing of what it held, every probe chain included. */
static void test_journal(void **s)
{
    (void)s;
    struct pawl_rl_journal *j;
    assert_int_equal(pawl_rl_journal_new(0, &j), PAWL_EINVAL);
    assert_int_equal(pawl_rl_journal_new(100, &j), PAWL_OK);
    struct pawl_rl_check c[3] = { { 5, { S, 3 } }, { 6, { 0, 0 } }, { 0, { 2 * S, 1 } } };
    assert_int_equal(pawl_rl_journal_add(j, c, 3, 7 * S), 0);
    c[0].rate.interval_us = S / 2;
    assert_int_equal(pawl_rl_journal_add(j, c, 1, 9 * S), 0);
    size_t n;
    const struct pawl_rl_charge *ch = pawl_rl_journal_charges(j, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ch[0].key, 5);
    assert_int_equal(ch[0].count, 2);
    assert_int_equal(ch[0].interval_us, S / 2);
    assert_int_equal(ch[0].tat_us, 9 * S + S / 2); /* max(7 s + 1 s, 9 s) + 0.5 s */
    assert_int_equal(ch[0].first_us, 7 * S);
    assert_int_equal(ch[1].key, 1); /* key 0, as the limiter keys it */
    assert_int_equal(ch[1].count, 1);
    assert_null(pawl_rl_journal_find(j, 6));
    assert_int_equal(pawl_rl_journal_find(j, 0)->count, 1);
    assert_int_equal(pawl_rl_journal_find(j, 0)->tat_us, 9 * S); /* 7 s + 2 s */
    for (int round = 0; round < 3; round++) {
        pawl_rl_journal_clear(j);
        assert_null(pawl_rl_journal_find(j, 5));
        unsigned dropped = 0;
        for (uint64_t k = 1; k <= 150; k++) { /* keys 256 apart share index slots */
            struct pawl_rl_check one_key = { k * 256, { S, 1 } };
            dropped += pawl_rl_journal_add(j, &one_key, 1, 0);
        }
        assert_int_equal(dropped, 50);
        pawl_rl_journal_charges(j, &n);
        assert_int_equal(n, 100);
        for (uint64_t k = 1; k <= 150; k++) {
            const struct pawl_rl_charge *e = pawl_rl_journal_find(j, k * 256);
            assert_true(k <= 100 ? e != NULL && e->count == 1 : e == NULL);
        }
    }
    pawl_rl_journal_clear(j);
    for (uint64_t k = 1; k <= 150; k++)
        assert_null(pawl_rl_journal_find(j, k * 256));
    pawl_rl_journal_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate), cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_prefetch_is_only_a_hint),
        cmocka_unit_test(test_bounded_memory), cmocka_unit_test(test_idle_keys_do_not_evict),
        cmocka_unit_test(test_raise), cmocka_unit_test(test_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
