/* The detectors' input shared by pawld instances (shared_events.c):
 * packing, the merge's one order, and batches that are not pawld's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_common.h"
#include "shared_events.h"

#define NOW 1700000000000LL

static struct pawl_api_event ev(int64_t t, const char *principal, const char *path)
{
    struct pawl_api_event e;
    memset(&e, 0, sizeof e);
    e.time_ms = t;
    e.method = (pawl_str){ "GET", 3 };
    e.path = (pawl_str){ path, strlen(path) };
    e.principal = (pawl_str){ principal, strlen(principal) };
    e.src_ip = (pawl_str){ "203.0.113.9", 11 };
    e.status = 200;
    e.resp_len = -1;
    return e;
}

struct fed {
    char line[64][160];
    size_t n;
};

static void record(void *ctx, const struct pawl_api_event *e, const struct pawld_event_origin *o)
{
    struct fed *f = ctx;
    assert_true(f->n < 64);
    snprintf(f->line[f->n++], sizeof f->line[0], "%lld %.*s %.*s %s.%u %s", (long long)e->time_ms,
             (int)e->principal.n, e->principal.p, (int)e->path.n, e->path.p, o->entry, o->index, o->from);
}

static bool str_is(pawl_str s, const char *want)
{
    return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

/* test_round_trip's event, as fed. */
static void members(void *ctx, const struct pawl_api_event *e, const struct pawld_event_origin *o)
{
    (void)ctx;
    (void)o;
    assert_int_equal(e->time_ms, NOW - 5);
    assert_true(str_is(e->method, "POST"));
    assert_true(str_is(e->path, "/api/v1/vehicles/1HGCM82633A004352/unlock"));
    assert_true(str_is(e->principal, "dealer-7"));
    assert_true(str_is(e->src_ip, "203.0.113.9"));
    assert_true(str_is(e->user_type, "Service"));
    assert_int_equal(e->nroles, 2);
    assert_true(str_is(e->roles[0], "dealer"));
    assert_true(str_is(e->roles[1], "service"));
    assert_int_equal(e->status, 403);
    assert_int_equal(e->country.n + e->session.n, 0);
    assert_int_equal(e->resp_len, -1);
}

/* A batch of the events ev(times[i], who, "/v/i") into out. */
static size_t batch(uint8_t *out, size_t cap, const int64_t *times, size_t n, const char *who)
{
    size_t len;
    char path[16];
    pawld_events_begin(out, &len);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/v/%zu", i);
        struct pawl_api_event e = ev(0, who, path);
        assert_true(pawld_event_pack(&e, times[i], out, cap, &len));
    }
    return len;
}

static void test_round_trip(void **st)
{
    (void)st;
    uint8_t b[1024];
    size_t n;
    char why[200];
    struct pawl_api_event e = ev(0, "dealer-7", "/api/v1/vehicles/1HGCM82633A004352/unlock");
    e.method = (pawl_str){ "POST", 4 };
    e.status = 403;
    e.user_type = (pawl_str){ "Service", 7 };
    e.roles[0] = (pawl_str){ "dealer", 6 };
    e.roles[1] = (pawl_str){ "service", 7 };
    e.nroles = 2;
    e.country = (pawl_str){ "DE", 2 }; /* not carried: pawld does not feed it */
    pawld_events_begin(b, &n);
    assert_true(pawld_event_pack(&e, NOW - 5, b, sizeof b, &n));
    struct pawld_merge *m = pawld_merge_new(16);
    assert_int_equal(pawld_merge_add(m, "1700000000001-0", "aa", b, n, NOW, why, sizeof why), 0);
    struct fed f = { .n = 0 };
    assert_int_equal(pawld_merge_take(m, NOW, record, &f), 1);
    assert_string_equal(f.line[0], "1699999999995 dealer-7 /api/v1/vehicles/1HGCM82633A004352/unlock "
                                   "1700000000001-0.0 aa");
    pawld_merge_free(m);
    /* what the detectors read, member by member */
    m = pawld_merge_new(16);
    assert_int_equal(pawld_merge_add(m, "1-0", "aa", b, n, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_take(m, NOW, members, NULL), 1);
    pawld_merge_free(m);
    /* an event that does not fit leaves the batch as it was */
    size_t before = n;
    assert_false(pawld_event_pack(&e, NOW, b, n + 10, &n));
    assert_int_equal(n, before);
    /* nor one the detectors would refuse */
    e.status = 99;
    assert_false(pawld_event_pack(&e, NOW, b, sizeof b, &n));
    e.status = 200;
    e.path = (pawl_str){ "*", 1 };
    assert_false(pawld_event_pack(&e, NOW, b, sizeof b, &n));
    assert_int_equal(n, before);
}

/* Every instance feeds the same events in the same order: by time, then
 * by entry id, then by position; only those at or before the cutoff. */
static void test_one_order(void **st)
{
    (void)st;
    uint8_t a[1024], b[1024];
    char why[200];
    const int64_t ta[] = { NOW + 5, NOW + 1 }, tb[] = { NOW + 1, NOW + 3 };
    size_t na = batch(a, sizeof a, ta, 2, "p"), nb = batch(b, sizeof b, tb, 2, "q");
    struct fed f1 = { .n = 0 }, f2 = { .n = 0 };
    struct pawld_merge *m1 = pawld_merge_new(16), *m2 = pawld_merge_new(16);
    /* read in either order */
    assert_int_equal(pawld_merge_add(m1, "1700000000100-0", "A", a, na, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_add(m1, "1700000000090-3", "B", b, nb, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_add(m2, "1700000000090-3", "B", b, nb, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_add(m2, "1700000000100-0", "A", a, na, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_take(m1, NOW + 3, record, &f1), 3);
    assert_int_equal(pawld_merge_take(m2, NOW + 3, record, &f2), 3);
    assert_string_equal(f1.line[0], "1700000000001 q /v/0 1700000000090-3.0 B");
    assert_string_equal(f1.line[1], "1700000000001 p /v/1 1700000000100-0.1 A");
    assert_string_equal(f1.line[2], "1700000000003 q /v/1 1700000000090-3.1 B");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(f1.line[i], f2.line[i]);
    assert_int_equal(pawld_merge_pending(m1), 1);
    /* a batch that comes after its time was fed: fed at the next take, counted late */
    const int64_t tl[] = { NOW + 2 };
    na = batch(a, sizeof a, tl, 1, "r");
    assert_int_equal(pawld_merge_add(m1, "1700000000200-0", "C", a, na, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_take(m1, NOW + 10, record, &f1), 2);
    assert_string_equal(f1.line[3], "1700000000002 r /v/0 1700000000200-0.0 C");
    assert_string_equal(f1.line[4], "1700000000005 p /v/0 1700000000100-0.0 A");
    struct pawld_merge_stats s;
    pawld_merge_stats(m1, &s);
    assert_int_equal(s.added, 5);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.refused + s.dropped, 0);
    assert_int_equal(pawld_merge_pending(m1), 0);
    pawld_merge_free(m1);
    pawld_merge_free(m2); /* with an event still held: freed with it (the sanitizers check) */
}

static void test_not_pawld_batches(void **st)
{
    (void)st;
    uint8_t b[1024];
    char why[200];
    const int64_t t[] = { NOW, NOW + 1, NOW + 2 };
    size_t n = batch(b, sizeof b, t, 3, "p");
    struct pawld_merge *m = pawld_merge_new(16);
    struct pawld_merge_stats s;
    /* the batch's head, its id, its sender */
    b[0] = 2;
    assert_int_equal(pawld_merge_add(m, "1-0", "A", b, n, NOW, why, sizeof why), -1);
    assert_non_null(strstr(why, "version"));
    b[0] = PAWLD_EVENTS_VERSION;
    const char *ids[] = { "1", "-0", "1-", "a-0", "1-0-0", "99999999999999999999-0", "" };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        assert_int_equal(pawld_merge_add(m, ids[i], "A", b, n, NOW, why, sizeof why), -1);
    assert_int_equal(pawld_merge_add(m, "1-0", "0123456789abcdef0", b, n, NOW, why, sizeof why), -1);
    assert_int_equal(pawld_merge_add(m, "1-0", "A", b, 0, NOW, why, sizeof why), -1);
    assert_int_equal(pawld_merge_pending(m), 0);
    /* cut short: the events before the cut are kept */
    assert_int_equal(pawld_merge_add(m, "1-0", "A", b, n - 1, NOW, why, sizeof why), -1);
    assert_non_null(strstr(why, "do not frame an event"));
    assert_int_equal(pawld_merge_pending(m), 2);
    /* a role count over the most, a length past the end */
    uint8_t c[1024];
    memcpy(c, b, n);
    c[1 + 10] = PAWL_DISC_MAX_ROLES + 1;
    assert_int_equal(pawld_merge_add(m, "2-0", "A", c, n, NOW, why, sizeof why), -1);
    memcpy(c, b, n);
    c[1 + 11] = 0xff; /* the method's length */
    assert_int_equal(pawld_merge_add(m, "3-0", "A", c, n, NOW, why, sizeof why), -1);
    assert_int_equal(pawld_merge_pending(m), 2);
    /* framed, but not events: a status of 700, an empty method, a path
     * without '/', a time more than 5 s ahead or an hour behind */
    memcpy(c, b, n);
    c[1 + 8] = 700 & 0xff;
    c[1 + 9] = 700 >> 8;
    assert_int_equal(pawld_merge_add(m, "4-0", "A", c, n, NOW, why, sizeof why), 0);
    const int64_t far[] = { NOW + 5001, NOW - 3600001, NOW + 5000 };
    n = batch(c, sizeof c, far, 3, "p");
    assert_int_equal(pawld_merge_add(m, "5-0", "A", c, n, NOW, why, sizeof why), 0);
    pawld_merge_stats(m, &s);
    assert_int_equal(s.refused, 3);
    assert_int_equal(s.added, 2 + 2 + 1);
    pawld_merge_free(m);
}

/* Everything fed at once (a failed sync, the last one) judges up to the
 * latest event fed, not to the end of time (review 17: every event after
 * one failed sync was counted late). */
static void test_late_after_flush(void **st)
{
    (void)st;
    uint8_t b[1024];
    char why[200];
    struct fed f = { .n = 0 };
    struct pawld_merge_stats s;
    const int64_t t1[] = { NOW, NOW + 1 }, t2[] = { NOW + 2, NOW + 1 };
    struct pawld_merge *m = pawld_merge_new(16);
    size_t n = batch(b, sizeof b, t1, 2, "p");
    assert_int_equal(pawld_merge_add(m, "1-0", "A", b, n, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_take(m, INT64_MAX, record, &f), 2);
    assert_int_equal(pawld_merge_take(m, INT64_MAX, record, &f), 0);
    n = batch(b, sizeof b, t2, 2, "p");
    assert_int_equal(pawld_merge_add(m, "2-0", "A", b, n, NOW, why, sizeof why), 0);
    pawld_merge_stats(m, &s);
    assert_int_equal(s.late, 1); /* NOW + 1 was judged; NOW + 2 was not */
    assert_int_equal(pawld_merge_take(m, NOW, record, &f), 0);
    assert_int_equal(pawld_merge_take(m, INT64_MAX, record, &f), 2);
    pawld_merge_free(m);
}

/* A batch larger than one sync's buffer is not pawld's: refused whole. */
static void test_batch_bound(void **st)
{
    (void)st;
    char why[200];
    size_t n = PAWLD_EVENTS_BATCH_MAX + 1;
    uint8_t *big = calloc(1, n);
    assert_non_null(big);
    const int64_t t[] = { NOW };
    size_t head = batch(big, n, t, 1, "p");
    assert_true(head < n);
    struct pawld_merge *m = pawld_merge_new(16);
    assert_int_equal(pawld_merge_add(m, "1-0", "A", big, n, NOW, why, sizeof why), -1);
    assert_non_null(strstr(why, "at most"));
    assert_int_equal(pawld_merge_pending(m), 0);
    assert_int_equal(pawld_merge_add(m, "1-0", "A", big, head, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_pending(m), 1);
    pawld_merge_free(m);
    free(big);
}

static void test_bounded(void **st)
{
    (void)st;
    uint8_t b[1024];
    char why[200];
    const int64_t t[] = { NOW, NOW + 1, NOW + 2 };
    size_t n = batch(b, sizeof b, t, 3, "p");
    struct pawld_merge *m = pawld_merge_new(2);
    assert_int_equal(pawld_merge_add(m, "1-0", "A", b, n, NOW, why, sizeof why), 0);
    struct pawld_merge_stats s;
    pawld_merge_stats(m, &s);
    assert_int_equal(s.added, 2);
    assert_int_equal(s.dropped, 1);
    struct fed f = { .n = 0 };
    assert_int_equal(pawld_merge_take(m, NOW + 1, record, &f), 2);
    assert_int_equal(pawld_merge_add(m, "2-0", "A", b, n, NOW, why, sizeof why), 0);
    assert_int_equal(pawld_merge_pending(m), 2);
    pawld_merge_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_one_order),
        cmocka_unit_test(test_not_pawld_batches),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_late_after_flush),
        cmocka_unit_test(test_batch_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
