/* What pawld reads back from the shared Redis (shared_reply.c): the
 * answers are built as RESP bytes and read by hiredis's own reader, as on
 * the wire, so that the shapes tested are the ones Redis (or anyone who may
 * write its keys) can send. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "helper_common.h"
#include "shared_reply.h"

/* ---- RESP, built then read --------------------------------------------- */

struct resp {
    char b[8192];
    size_t n;
};

/* A RESP head (type, number), then the bytes s[0..sn) when s is not NULL. */
static void put(struct resp *r, char type, long long v, const char *s, size_t sn)
{
    int k = snprintf(r->b + r->n, sizeof r->b - r->n, "%c%lld\r\n", type, v);
    assert_true(k > 0 && (size_t)k + sn + 2 < sizeof r->b - r->n);
    r->n += (size_t)k;
    if (s != NULL) {
        memcpy(r->b + r->n, s, sn);
        memcpy(r->b + r->n + sn, "\r\n", 2);
        r->n += sn + 2;
    }
}
static void arr(struct resp *r, long long n) { put(r, '*', n, NULL, 0); }
static void num(struct resp *r, long long v) { put(r, ':', v, NULL, 0); }
static void bulkn(struct resp *r, const char *s, size_t n) { put(r, '$', (long long)n, s, n); }
static void bulk(struct resp *r, const char *s) { bulkn(r, s, strlen(s)); }

static redisReply *read_reply(const struct resp *r)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    assert_int_equal(redisReaderFeed(rd, r->b, r->n), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
    assert_non_null(rep);
    redisReaderFree(rd);
    return rep;
}

static redisReply *raw(const char *s)
{
    struct resp r = { .n = 0 };
    memcpy(r.b, s, strlen(s));
    r.n = strlen(s);
    return read_reply(&r);
}

/* ---- TIME -------------------------------------------------------------- */

static int time_of(const char *sec, const char *usec, int64_t *ms)
{
    struct resp r = { .n = 0 };
    arr(&r, 2);
    bulk(&r, sec);
    bulk(&r, usec);
    redisReply *rep = read_reply(&r);
    int rc = pawl_redis_time_ms(rep, ms);
    freeReplyObject(rep);
    return rc;
}

static void test_time(void **st)
{
    (void)st;
    int64_t ms = 0;
    assert_int_equal(time_of("1700000000", "123456", &ms), 0);
    assert_int_equal(ms, 1700000000123LL);
    assert_int_equal(time_of("0", "0", &ms), 0);
    assert_int_equal(ms, 0);
    const char *bad[][2] = { { "-1", "0" },         { "+5", "0" },  { " 5", "0" },
                             { "1700000000", "1000000" }, { "", "0" }, { "17x", "0" },
                             { "9999999999999999999", "0" }, { "1700000000", "-1" } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(time_of(bad[i][0], bad[i][1], &ms), -1);
    redisReply *rep = raw("*2\r\n:1\r\n:2\r\n"); /* integers, not strings */
    assert_int_equal(pawl_redis_time_ms(rep, &ms), -1);
    freeReplyObject(rep);
    rep = raw("-ERR no TIME for you\r\n");
    assert_int_equal(pawl_redis_time_ms(rep, &ms), -1);
    freeReplyObject(rep);
    assert_int_equal(pawl_redis_time_ms(NULL, &ms), -1);
}

/* ---- XREAD and the stream's entries ------------------------------------ */

#define NOW 1700000000000LL /* Redis's clock in these tests, ms */

/* XREAD's answer with one entry: id, then the field-value pairs kv[0..n). */
static redisReply *xread1(const char *id, const char *const *kv, size_t n)
{
    struct resp r = { .n = 0 };
    arr(&r, 1);
    arr(&r, 2);
    bulk(&r, "pawl:blocks:log");
    arr(&r, 1);
    arr(&r, 2);
    bulk(&r, id);
    arr(&r, (long long)n);
    for (size_t i = 0; i < n; i++)
        bulk(&r, kv[i]);
    return read_reply(&r);
}

/* The one entry of xread1(id, kv) through pawld_block_entry: its answer. */
static bool entry(struct pawld_block_clock *c, const char *id, const char *const *kv, size_t n,
                  struct pawld_block_event *e)
{
    redisReply *rep = xread1(id, kv, n);
    const redisReply *entries, *fv;
    const char *eid;
    assert_int_equal(pawl_xread_entries(rep, &entries), 1);
    assert_int_equal(entries->elements, 1);
    assert_true(pawl_stream_entry(entries->element[0], 48, &eid, &fv));
    assert_string_equal(eid, id);
    bool ok = pawld_block_entry(c, eid, fv, e);
    freeReplyObject(rep);
    return ok;
}

static void test_xread_shapes(void **st)
{
    (void)st;
    const redisReply *entries;
    redisReply *rep = raw("*-1\r\n"); /* nothing new */
    assert_int_equal(pawl_xread_entries(rep, &entries), 0);
    freeReplyObject(rep);
    const char *bad[] = { "-NOPERM this user has no permissions to run the 'xread' command\r\n",
                          "*0\r\n", "*1\r\n*1\r\n$1\r\ns\r\n", "*1\r\n*2\r\n$1\r\ns\r\n:5\r\n",
                          "*2\r\n*2\r\n$1\r\ns\r\n*0\r\n*2\r\n$1\r\nt\r\n*0\r\n", "+OK\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rep = raw(bad[i]);
        assert_int_equal(pawl_xread_entries(rep, &entries), -1);
        freeReplyObject(rep);
    }
    assert_int_equal(pawl_xread_entries(NULL, &entries), -1);
    /* entries that are not: an id too long, an id with a NUL, no fields */
    struct resp r = { .n = 0 };
    arr(&r, 1);
    arr(&r, 2);
    bulk(&r, "s");
    arr(&r, 4);
    arr(&r, 2);
    bulk(&r, "1-0");
    arr(&r, 0);
    arr(&r, 2);
    bulkn(&r, "1\0-0", 4);
    arr(&r, 0);
    arr(&r, 2);
    bulk(&r, "2-0");
    bulk(&r, "x");
    num(&r, 7);
    rep = read_reply(&r);
    assert_int_equal(pawl_xread_entries(rep, &entries), 1);
    assert_int_equal(entries->elements, 4);
    const char *id;
    const redisReply *fv;
    assert_true(pawl_stream_entry(entries->element[0], 48, &id, &fv));
    assert_string_equal(id, "1-0");
    assert_false(pawl_stream_entry(entries->element[0], 3, &id, &fv)); /* no room for it */
    assert_false(pawl_stream_entry(entries->element[1], 48, &id, &fv));
    assert_false(pawl_stream_entry(entries->element[2], 48, &id, &fv));
    assert_false(pawl_stream_entry(entries->element[3], 48, &id, &fv));
    freeReplyObject(rep);
}

static void test_block_entry_accepted(void **st)
{
    (void)st;
    struct pawld_block_clock c = { NOW, 250, 60000 };
    struct pawld_block_event e;
    const char *kv[] = { "op", "block", "kind", "principal", "subject", "dealer-7", "detector", "bola",
                         "for", "90000", "from", "0123456789abcdef" };
    assert_true(entry(&c, "1699999999000-3", kv, 12, &e));
    assert_int_equal(e.op, PAWLD_BLOCK_SET);
    assert_int_equal(e.kind, PAWL_BLOCK_PRINCIPAL);
    assert_int_equal(e.subject_len, 8);
    assert_memory_equal(e.subject, "dealer-7", 8);
    assert_string_equal(e.detector, "bola");
    assert_int_equal(e.until_ms, 1699999999000LL + 90000 + 250); /* the id's time, the duration, the skew */
    assert_int_equal(c.keep_ms, 90000); /* entries kept as long as the longest duration read */
    kv[3] = "address";
    kv[5] = "203.0.113.9";
    kv[9] = "1000";
    assert_true(entry(&c, "1700000060000-0", kv, 12, &e)); /* a minute ahead of Redis's clock: still */
    assert_int_equal(e.kind, PAWL_BLOCK_ADDRESS);
    assert_int_equal(c.keep_ms, 90000); /* never lowered */
    /* a lift needs no detector or duration; the fields may come in any order */
    const char *lift[] = { "subject", "dealer-7", "from", "x", "kind", "principal", "op", "lift" };
    assert_true(entry(&c, "5-0", lift, 8, &e));
    assert_int_equal(e.op, PAWLD_BLOCK_LIFT);
    assert_int_equal(e.until_ms, 0);
    /* a subject is exact bytes, a NUL included */
    struct resp r = { .n = 0 };
    arr(&r, 6);
    bulk(&r, "op");
    bulk(&r, "lift");
    bulk(&r, "kind");
    bulk(&r, "principal");
    bulk(&r, "subject");
    bulkn(&r, "a\0b", 3);
    redisReply *fv = read_reply(&r);
    assert_true(pawld_block_entry(&c, "5-0", fv, &e));
    assert_int_equal(e.subject_len, 3);
    assert_memory_equal(e.subject, "a\0b", 3);
    freeReplyObject(fv);
}

/* Each change to a good entry makes it one pawld does not write. */
static void test_block_entry_refused(void **st)
{
    (void)st;
    static const struct {
        size_t field; /* index of the value replaced in kv, or 99: the id */
        const char *value;
    } bad[] = {
        { 1, "Block" }, { 1, "block " }, { 1, "" }, { 1, "unblock" }, { 3, "user" }, { 3, "Principal" },
        { 5, "" }, { 7, "no_such_detector" }, { 7, "" }, { 9, "0" }, { 9, "-5" }, { 9, "5abc" },
        { 9, " 5" }, { 9, "+5" }, { 9, "2592000001" }, { 9, "99999999999999999999" }, { 9, "" },
        { 99, "1700000060001-0" }, /* ahead of Redis's clock by more than a minute */
        { 99, "1694816000000-0" }, /* older than twice the bound (60 days) */
        { 99, "1700000000000" }, { 99, "abc-0" }, { 99, "-1" }, { 99, "1700000000000-" },
        { 99, "1700000000000-x" }, { 99, "99999999999999999999-0" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pawld_block_clock c = { NOW, 0, 1000 };
        struct pawld_block_event e;
        const char *kv[] = { "op", "block", "kind", "principal", "subject", "dealer-7", "detector", "bola",
                             "for", "90000" };
        const char *id = "1700000000000-0";
        if (bad[i].field == 99)
            id = bad[i].value;
        else
            kv[bad[i].field] = bad[i].value;
        if (!entry(&c, id, kv, 10, &e))
            continue;
        fail_msg("case %zu (%s) accepted", i, bad[i].value);
    }
    struct pawld_block_clock c = { NOW, 0, 1000 };
    struct pawld_block_event e;
    /* a field missing: each of them */
    for (size_t drop = 0; drop < 5; drop++) {
        const char *kv[] = { "op", "block", "kind", "principal", "subject", "dealer-7", "detector", "bola",
                             "for", "90000" }, *kk[8];
        size_t n = 0;
        for (size_t j = 0; j < 5; j++)
            if (j != drop) {
                kk[n++] = kv[2 * j];
                kk[n++] = kv[2 * j + 1];
            }
        assert_false(entry(&c, "1700000000000-0", kk, n, &e));
    }
    /* a subject of 256 bytes (the most is 255), and a detector with a NUL */
    char big[257];
    memset(big, 's', 256);
    big[256] = '\0';
    const char *kv[] = { "op", "block", "kind", "principal", "subject", big, "detector", "bola", "for", "90000" };
    assert_false(entry(&c, "1700000000000-0", kv, 10, &e));
    big[255] = '\0';
    assert_true(entry(&c, "1700000000000-0", kv, 10, &e));
    struct resp r = { .n = 0 };
    arr(&r, 10);
    const char *pairs[] = { "op", "block", "kind", "principal", "subject", "x", "detector" };
    for (size_t j = 0; j < 7; j++)
        bulk(&r, pairs[j]);
    bulkn(&r, "bola\0junk", 9);
    bulk(&r, "for");
    bulk(&r, "90000");
    redisReply *fv = read_reply(&r);
    assert_false(pawld_block_entry(&c, "1700000000000-0", fv, &e));
    freeReplyObject(fv);
    /* a value that is not a string */
    fv = raw("*10\r\n$2\r\nop\r\n$5\r\nblock\r\n$4\r\nkind\r\n$9\r\nprincipal\r\n$7\r\nsubject\r\n$1\r\nx\r\n"
             "$8\r\ndetector\r\n$4\r\nbola\r\n$3\r\nfor\r\n:90000\r\n");
    assert_false(pawld_block_entry(&c, "1700000000000-0", fv, &e));
    freeReplyObject(fv);
    assert_int_equal(c.keep_ms, 90000); /* only the accepted entry raised it */
}

/* ---- the rate-limit script's answer ------------------------------------ */

static redisReply *rl_answer(const char *seed, const long long *debts, size_t n)
{
    struct resp r = { .n = 0 };
    arr(&r, (long long)n + 1);
    bulk(&r, seed);
    for (size_t i = 0; i < n; i++) {
        if (debts[i] == -7) /* stands for a nil: Lua's false */
            put(&r, '$', -1, NULL, 0);
        else
            num(&r, debts[i]);
    }
    return read_reply(&r);
}

static void test_rl_reply(void **st)
{
    (void)st;
    const char *seed = "00112233445566ff";
    char got[17], why[300];
    int64_t d[4];
    const long long ok[] = { 1500000, -2000, 0, -7 };
    redisReply *rep = rl_answer(seed, ok, 4);
    assert_int_equal(pawl_rl_reply(rep, seed, 4, got, d, why, sizeof why), 0);
    assert_int_equal(d[0], 1500000);
    assert_int_equal(d[1], -2000);
    assert_int_equal(d[2], 0);
    assert_int_equal(d[3], INT64_MIN); /* not an integer: nothing for that key */
    assert_int_equal(pawl_rl_reply(rep, seed, 3, got, d, why, sizeof why), -1); /* 4 answers for 3 keys */
    assert_non_null(strstr(why, "4 answers for 3 keys"));
    assert_int_equal(pawl_rl_reply(rep, NULL, 4, got, d, why, sizeof why), 1); /* no seed yet: adopt it */
    assert_string_equal(got, seed);
    assert_int_equal(pawl_rl_reply(rep, "ffffffffffffffff", 4, got, d, why, sizeof why), 1);
    assert_string_equal(got, seed);
    freeReplyObject(rep);
    const long long huge[][1] = { { PAWL_RL_MAX_DEBT_US + 1 }, { -PAWL_RL_MAX_DEBT_US - 1 },
                                  { 9223372036854775807LL }, { -9223372036854775807LL - 1 } };
    for (size_t i = 0; i < 4; i++) {
        rep = rl_answer(seed, huge[i], 1);
        assert_int_equal(pawl_rl_reply(rep, seed, 1, got, d, why, sizeof why), -1);
        assert_non_null(strstr(why, "beyond a year"));
        freeReplyObject(rep);
    }
    const long long edge[] = { PAWL_RL_MAX_DEBT_US };
    rep = rl_answer(seed, edge, 1);
    assert_int_equal(pawl_rl_reply(rep, seed, 1, got, d, why, sizeof why), 0);
    assert_int_equal(d[0], PAWL_RL_MAX_DEBT_US);
    freeReplyObject(rep);
    const char *bad_seed[] = { "00112233445566f", "00112233445566FF", "00112233445566ff0", "0011223344556 ff" };
    for (size_t i = 0; i < 4; i++) {
        rep = rl_answer(bad_seed[i], ok, 1);
        assert_int_equal(pawl_rl_reply(rep, seed, 1, got, d, why, sizeof why), -1);
        freeReplyObject(rep);
    }
    const char *bad[] = { "-NOSCRIPT\r\n", "*0\r\n", ":5\r\n", "*1\r\n:5\r\n", "$16\r\n00112233445566ff\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rep = raw(bad[i]);
        assert_int_equal(pawl_rl_reply(rep, seed, 0, got, d, why, sizeof why), -1);
        freeReplyObject(rep);
    }
    assert_int_equal(pawl_rl_reply(NULL, seed, 0, got, d, why, sizeof why), -1);
}

/* A declared array longer than the bound is refused before hiredis 0.14
 * allocates it (one line asked for 5.6 GB); up to the bound, the reader
 * waits for the elements as before. */
static void test_reader_bound(void **st)
{
    (void)st;
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    pawl_redis_reader_bound(rd);
    assert_int_equal(redisReaderFeed(rd, "*700000000\r\n", 12), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_ERR);
    assert_null(rep);
    redisReaderFree(rd);
    rd = redisReaderCreate();
    pawl_redis_reader_bound(rd);
    char head[32];
    int n = snprintf(head, sizeof head, "*%d\r\n", PAWL_REDIS_MAX_ELEMENTS);
    assert_int_equal(redisReaderFeed(rd, head, (size_t)n), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
    assert_null(rep); /* the elements are still to come */
    redisReaderFree(rd);
    rd = redisReaderCreate();
    pawl_redis_reader_bound(rd);
    assert_int_equal(redisReaderFeed(rd, "*2\r\n:1\r\n*1\r\n$2\r\nok\r\n", 20), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
    assert_non_null(rep);
    assert_int_equal(((redisReply *)rep)->elements, 2);
    assert_string_equal(((redisReply *)rep)->element[1]->element[0]->str, "ok");
    freeReplyObject(rep);
    redisReaderFree(rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_xread_shapes),
        cmocka_unit_test(test_block_entry_accepted),
        cmocka_unit_test(test_block_entry_refused),
        cmocka_unit_test(test_rl_reply),
        cmocka_unit_test(test_reader_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
