/* Unit tests of the audit chain core (pawl/audit.h): writer, verifier, resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_keys.h"
#include "pawl/audit.h"
#include "util.h"

#define MAXLINES 64

/* A log held in memory, one NUL-terminated line (no '\n') per entry. */
struct log {
    char *line[MAXLINES];
    size_t n;
};

struct fixture {
    EVP_PKEY *key, *other;
    uint8_t pub[32], other_pub[32];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->key = pawl_test_ed25519();
    f->other = pawl_test_ed25519();
    assert_int_equal(pawl_audit_evp_public(f->key, f->pub), PAWL_OK);
    assert_int_equal(pawl_audit_evp_public(f->other, f->other_pub), PAWL_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->other);
    free(f);
    return 0;
}

static void log_take(struct log *l, struct pawl_audit_buf *b)
{
    size_t s = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->p[i] != '\n')
            continue;
        assert_true(l->n < MAXLINES);
        l->line[l->n++] = pawl__strndup(b->p + s, i - s);
        s = i + 1;
    }
    assert_int_equal(s, b->len);
    b->len = 0;
}

static void log_free(struct log *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->line[i]);
    l->n = 0;
}

static void event(struct pawl_audit_writer *w, struct pawl_audit_buf *b, int64_t t, int i)
{
    char body[128];
    int r = snprintf(body, sizeof body, "{ \"i\" : %d, \"msg\": \"event \\u00e9 %d\" }", i, i);
    assert_int_equal(pawl_audit_append(w, t, "event", body, (size_t)r, b, NULL, NULL), PAWL_OK);
}

/* genesis + 10 events with a checkpoint every 4 records, closed: 14 lines. */
static void make_log(const struct fixture *f, struct log *l, bool close)
{
    struct pawl_audit_writer w;
    struct pawl_audit_buf b;
    pawl_audit_buf_init(&b, 2 * PAWL_AUDIT_LINE_MAX);
    assert_int_equal(pawl_audit_writer_init(&w, f->pub, 4, -1, pawl_audit_sign_evp, f->key), PAWL_OK);
    assert_int_equal(pawl_audit_genesis(&w, 1000, &b, NULL), PAWL_OK);
    for (int i = 0; i < 10; i++)
        event(&w, &b, 1000 + i, i);
    if (close)
        assert_int_equal(pawl_audit_checkpoint(&w, 2000, &b, NULL, NULL), PAWL_OK);
    log_take(l, &b);
    pawl_audit_buf_free(&b);
}

/* Verify lines; returns the verifier's report (fault OK when the log is good). */
static struct pawl_audit_report verify(const uint8_t pub[32], const struct log *l,
                                       struct pawl_audit_verifier *out)
{
    struct pawl_audit_verifier v;
    assert_int_equal(pawl_audit_verifier_init(&v, pub), PAWL_OK);
    for (size_t i = 0; i < l->n; i++)
        if (pawl_audit_verify_line(&v, l->line[i], strlen(l->line[i]), i + 1) != PAWL_OK)
            break;
    if (pawl_audit_verify_finish(&v) == PAWL_OK)
        assert_int_equal(v.bad.fault, PAWL_AUDIT_OK);
    struct pawl_audit_report r = v.bad;
    if (out != NULL)
        *out = v;
    pawl_audit_verifier_free(&v);
    return r;
}

static void test_good_chain(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    struct pawl_audit_verifier v;
    make_log(f, &l, true);
    /* 0 genesis, 1-3 events, 4 cp, 5-8 events, 9 cp, 10-11 events, 12 cp(close) */
    assert_int_equal(l.n, 14);
    assert_non_null(strstr(l.line[1], "\"body\":{\"i\":0,\"msg\":\"event \xc3\xa9 0\"}"));
    assert_non_null(strstr(l.line[4], "\"kind\":\"checkpoint\",\"prev\""));
    assert_int_equal(verify(f->pub, &l, &v).fault, PAWL_AUDIT_OK);
    assert_int_equal(v.records, 14);
    assert_true(v.have_checkpoint);
    assert_int_equal(v.last_checkpoint_seq, 13);
    assert_int_equal(v.unsigned_tail, 0);
    log_free(&l);

    make_log(f, &l, false);
    assert_int_equal(verify(f->pub, &l, &v).fault, PAWL_AUDIT_OK);
    assert_int_equal(v.records, 13);
    assert_int_equal(v.last_checkpoint_seq, 9);
    assert_int_equal(v.unsigned_tail, 3);
    log_free(&l);
}

static void test_format_exact(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    char key[64], want[256];
    make_log(f, &l, true);
    pawl__b64url_encode(f->pub, 32, key);
    snprintf(want, sizeof want,
             "{\"seq\":0,\"time\":1000,\"kind\":\"genesis\",\"prev\":\"%064d\",\"body\":"
             "{\"format\":\"pawl-audit-1\",\"key\":\"%s\"},\"hash\":\"", 0, key);
    assert_memory_equal(l.line[0], want, strlen(want));
    /* hash = SHA-256 of the prefix before ,"hash": */
    uint8_t h[32];
    char hex[65];
    size_t plen = strlen(l.line[0]) - 75;
    assert_int_equal(EVP_Digest(l.line[0], plen, h, NULL, EVP_sha256(), NULL), 1);
    pawl__hex(h, 32, hex);
    assert_memory_equal(l.line[0] + plen + 9, hex, 64);
    assert_string_equal(l.line[0] + plen + 9 + 64, "\"}");
    log_free(&l);
}

/* A body already in compact form is chained as it is (the same line as the
 * re-serialising path gives) and verifies; anything but one object on one
 * line is refused and leaves the writer as it was. */
static void test_append_dumped(void **state)
{
    struct fixture *f = *state;
    struct pawl_audit_writer w, w2;
    struct pawl_audit_buf b, b2;
    struct log l = { 0 };
    static const char body[] = "{\"i\":1,\"msg\":\"caf\u00e9\"}";
    pawl_audit_buf_init(&b, 2 * PAWL_AUDIT_LINE_MAX);
    pawl_audit_buf_init(&b2, 2 * PAWL_AUDIT_LINE_MAX);
    assert_int_equal(pawl_audit_writer_init(&w, f->pub, 4, -1, pawl_audit_sign_evp, f->key), PAWL_OK);
    assert_int_equal(pawl_audit_genesis(&w, 1000, &b, NULL), PAWL_OK);
    w2 = w;
    size_t g = b.len; /* the genesis line */
    assert_int_equal(pawl_audit_append_dumped(&w, 1001, "decision", body, sizeof body - 1, &b, NULL, NULL), PAWL_OK);
    assert_int_equal(pawl_audit_append(&w2, 1001, "decision", body, sizeof body - 1, &b2, NULL, NULL), PAWL_OK);
    assert_int_equal(b.len - g, b2.len); /* same bytes either way */
    assert_memory_equal(b.p + g, b2.p, b2.len);
    size_t len = b.len;
    static const char *const bad[] = {"[1]", "{\"a\":\n1}", "{\"a\":1", "x{}", "{\"a\":\"\t\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pawl_audit_writer before = w;
        assert_int_not_equal(pawl_audit_append_dumped(&w, 1002, "decision", bad[i], strlen(bad[i]), &b, NULL, NULL), PAWL_OK);
        assert_int_equal(b.len, len);
        assert_memory_equal(&w, &before, sizeof w);
    }
    /* every control byte at every offset of a body (the scan goes eight
     * bytes at a time), and the bytes from 0x20 up that must pass; on a
     * copy of the writer with a buffer of its own */
    struct pawl_audit_writer w3 = w;
    struct pawl_audit_buf b3;
    char one[40];
    pawl_audit_buf_init(&b3, 2 * PAWL_AUDIT_LINE_MAX);
    for (int c = 0; c < 0x100; c++) {
        for (size_t at = 1; at + 1 < sizeof one; at++) {
            struct pawl_audit_writer before = w3;
            memset(one, 'a', sizeof one);
            one[0] = '{', one[sizeof one - 1] = '}', one[at] = (char)c;
            b3.len = 0;
            pawl_err e = pawl_audit_append_dumped(&w3, 1002, "decision", one, sizeof one, &b3, NULL, NULL);
            if (c < 0x20) {
                assert_int_not_equal(e, PAWL_OK);
                assert_int_equal(b3.len, 0);
                assert_memory_equal(&w3, &before, sizeof w3);
            } else {
                assert_int_equal(e, PAWL_OK); /* only the framing is checked on this path */
            }
        }
    }
    pawl_audit_buf_free(&b3);
    assert_int_equal(pawl_audit_checkpoint(&w, 1003, &b, NULL, NULL), PAWL_OK);
    log_take(&l, &b);
    struct pawl_audit_report r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_OK);
    log_free(&l);
    pawl_audit_buf_free(&b);
    pawl_audit_buf_free(&b2);
}

/* Every single-byte change of every line is caught at that line. */
static void test_flip_every_byte(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    struct pawl_audit_verifier v;
    const uint8_t masks[] = { 0x01, 0x20, 0x80 };
    make_log(f, &l, true);
    assert_int_equal(pawl_audit_verifier_init(&v, f->pub), PAWL_OK);
    for (size_t i = 0; i < l.n; i++) {
        size_t n = strlen(l.line[i]);
        char *m = malloc(n);
        assert_non_null(m);
        for (size_t k = 0; k < n; k++)
            for (size_t x = 0; x < sizeof masks; x++) {
                struct pawl_audit_verifier c = v; /* shares v.pkey; never freed */
                memcpy(m, l.line[i], n);
                m[k] = (char)(m[k] ^ masks[x]);
                assert_int_not_equal(pawl_audit_verify_line(&c, m, n, i + 1), PAWL_OK);
                assert_int_equal(c.bad.line, i + 1);
            }
        free(m);
        assert_int_equal(pawl_audit_verify_line(&v, l.line[i], n, i + 1), PAWL_OK);
    }
    pawl_audit_verifier_free(&v);
    log_free(&l);
}

static void test_delete_swap_duplicate(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    make_log(f, &l, true);
    for (size_t i = 0; i + 1 < l.n; i++) {
        struct log d = l;
        /* delete line i */
        memmove(&d.line[i], &d.line[i + 1], (d.n - i - 1) * sizeof d.line[0]);
        d.n--;
        struct pawl_audit_report r = verify(f->pub, &d, NULL);
        assert_int_equal(r.line, i + 1);
        assert_true(r.fault == PAWL_AUDIT_SEQ);
        /* swap lines i and i+1 */
        d = l;
        d.line[i] = l.line[i + 1];
        d.line[i + 1] = l.line[i];
        r = verify(f->pub, &d, NULL);
        assert_int_equal(r.line, i + 1);
        assert_int_equal(r.fault, PAWL_AUDIT_SEQ);
        /* duplicate line i */
        d = l;
        memmove(&d.line[i + 1], &d.line[i], (l.n - i) * sizeof d.line[0]);
        d.n++;
        r = verify(f->pub, &d, NULL);
        assert_int_equal(r.line, i + 2);
        assert_int_equal(r.fault, PAWL_AUDIT_SEQ);
    }
    log_free(&l);
}

/* Recompute a line's hash after editing it, as an attacker would. */
static void rehash(char *line)
{
    size_t plen = strlen(line) - 75;
    uint8_t h[32];
    assert_int_equal(EVP_Digest(line, plen, h, NULL, EVP_sha256(), NULL), 1);
    pawl__hex(h, 32, line + plen + 9);
    line[plen + 9 + 64] = '"';
}

/* Rewrite line i's prev to `prev` (the hash field of another line), rehash. */
static void relink(char *line, const char *prev_line)
{
    char *p = strstr(line, "\"prev\":\"") + 8;
    memcpy(p, prev_line + strlen(prev_line) - 66, 64);
    rehash(line);
}

static void test_checkpoint_signature(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    struct pawl_audit_report r;
    make_log(f, &l, true);

    /* a forged signature on a correctly hashed checkpoint */
    char *sig = strstr(l.line[4], "\"sig\":\"") + 7;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    rehash(l.line[4]);
    r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_SIGNATURE);
    assert_int_equal(r.line, 5);
    assert_int_equal(r.seq, 4);
    log_free(&l);

    /* an attacker edits record 2 and re-hashes the rest of the chain: the
     * next checkpoint's signed head no longer matches */
    make_log(f, &l, true);
    char *b = strstr(l.line[2], "\"i\":1");
    b[4] = '7';
    rehash(l.line[2]);
    r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_PREV);
    assert_int_equal(r.line, 4);
    relink(l.line[3], l.line[2]);
    r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_PREV);
    assert_int_equal(r.line, 5);
    relink(l.line[4], l.line[3]);
    r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_CHECKPOINT);
    assert_int_equal(r.line, 5);
    char *hd = strstr(l.line[4], "\"head\":\"") + 8; /* and the signed head too */
    memcpy(hd, strstr(l.line[4], "\"prev\":\"") + 8, 64);
    rehash(l.line[4]);
    r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_SIGNATURE);
    assert_int_equal(r.line, 5);
    log_free(&l);

    /* wrong covers */
    make_log(f, &l, true);
    char *c = strstr(l.line[9], "\"covers\":8");
    assert_non_null(c);
    c[9] = '7';
    rehash(l.line[9]);
    r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_CHECKPOINT);
    assert_int_equal(r.line, 10);
    log_free(&l);
}

static void test_wrong_key(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    struct pawl_audit_report r;
    make_log(f, &l, true);
    r = verify(f->other_pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_KEY);
    assert_int_equal(r.line, 1);
    log_free(&l);

    /* genesis names our key but another key signs the checkpoints */
    struct pawl_audit_writer w;
    struct pawl_audit_buf b;
    pawl_audit_buf_init(&b, 2 * PAWL_AUDIT_LINE_MAX);
    assert_int_equal(pawl_audit_writer_init(&w, f->pub, 2, -1, pawl_audit_sign_evp, f->other), PAWL_OK);
    assert_int_equal(pawl_audit_genesis(&w, 0, &b, NULL), PAWL_OK);
    event(&w, &b, 1, 1);
    log_take(&l, &b);
    r = verify(f->pub, &l, NULL);
    assert_int_equal(r.fault, PAWL_AUDIT_SIGNATURE);
    assert_int_equal(r.line, 3);
    log_free(&l);
    pawl_audit_buf_free(&b);
}

static void test_genesis_rules(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 }, d;
    make_log(f, &l, true);
    d = l;
    struct log e = { 0 };
    assert_int_equal(verify(f->pub, &e, NULL).fault, PAWL_AUDIT_EMPTY);
    /* start from line 2: not a genesis (seq gap at line 1) */
    memmove(&d.line[0], &d.line[1], (d.n - 1) * sizeof d.line[0]);
    d.n--;
    assert_int_equal(verify(f->pub, &d, NULL).line, 1);
    log_free(&l);
}

static void test_resume(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    struct pawl_audit_verifier v;
    struct pawl_audit_writer w;
    struct pawl_audit_buf b;
    make_log(f, &l, false); /* ends with 3 unsigned records */
    assert_int_equal(verify(f->pub, &l, &v).fault, PAWL_AUDIT_OK);
    assert_int_equal(pawl_audit_writer_init(&w, f->pub, 4, -1, pawl_audit_sign_evp, f->key), PAWL_OK);
    assert_int_equal(pawl_audit_writer_resume(&w, &v), PAWL_OK);
    assert_int_equal(w.seq, 13);
    assert_int_equal(w.since_checkpoint, 3);
    pawl_audit_buf_init(&b, 2 * PAWL_AUDIT_LINE_MAX);
    struct pawl_audit_emit em;
    assert_int_equal(pawl_audit_append(&w, 3001, "event", "{}", 2, &b, &em, NULL), PAWL_OK);
    assert_true(em.checkpoint); /* 4 unsigned records: the cadence survived resume */
    assert_int_equal(b.p[em.cp_off + em.cp_len - 1], '\n');
    log_take(&l, &b);
    assert_int_equal(verify(f->pub, &l, &v).fault, PAWL_AUDIT_OK);
    assert_int_equal(v.records, 15);
    assert_int_equal(v.unsigned_tail, 0);
    /* a writer with another key refuses to resume */
    assert_int_equal(pawl_audit_writer_init(&w, f->other_pub, 4, -1, pawl_audit_sign_evp, f->other), PAWL_OK);
    assert_int_not_equal(pawl_audit_writer_resume(&w, &v), PAWL_OK);
    pawl_audit_buf_free(&b);
    log_free(&l);
}

static void test_time_checkpoints(void **state)
{
    struct fixture *f = *state;
    struct pawl_audit_writer w;
    struct pawl_audit_buf b;
    struct pawl_audit_emit em;
    pawl_audit_buf_init(&b, 2 * PAWL_AUDIT_LINE_MAX);
    assert_int_equal(pawl_audit_writer_init(&w, f->pub, 0, 0, pawl_audit_sign_evp, f->key), PAWL_OK);
    assert_int_equal(w.every_n, 1000);
    assert_int_equal(pawl_audit_genesis(&w, 0, &b, NULL), PAWL_OK);
    assert_int_equal(pawl_audit_append(&w, 9999, "x", "{}", 2, &b, &em, NULL), PAWL_OK);
    assert_false(em.checkpoint);
    assert_int_equal(pawl_audit_append(&w, 10000, "x", "{}", 2, &b, &em, NULL), PAWL_OK);
    assert_true(em.checkpoint);
    assert_int_equal(pawl_audit_append(&w, 10001, "x", "{}", 2, &b, &em, NULL), PAWL_OK);
    assert_false(em.checkpoint);
    assert_int_equal(pawl_audit_checkpoint(&w, 10002, &b, &em, NULL), PAWL_OK);
    assert_true(em.checkpoint);
    assert_int_equal(pawl_audit_checkpoint(&w, 10003, &b, &em, NULL), PAWL_OK);
    assert_false(em.checkpoint); /* nothing unsigned */
    pawl_audit_buf_free(&b);
}

static void test_limits(void **state)
{
    struct fixture *f = *state;
    struct pawl_audit_writer w;
    struct pawl_audit_buf b;
    struct pawl_diag d;
    const char *bad_kinds[] = { "", "Event", "a-b", "genesis", "checkpoint", "x y",
                                "abcdefghijklmnopqrstuvwxyzabcdefg" };
    pawl_audit_buf_init(&b, 2 * PAWL_AUDIT_LINE_MAX);
    assert_int_equal(pawl_audit_writer_init(&w, f->pub, 0, -1, pawl_audit_sign_evp, f->key), PAWL_OK);
    assert_int_equal(pawl_audit_append(&w, 0, "x", "{}", 2, &b, NULL, NULL), PAWL_EINVAL); /* no genesis */
    assert_int_equal(pawl_audit_genesis(&w, 0, &b, NULL), PAWL_OK);
    assert_int_equal(pawl_audit_genesis(&w, 0, &b, NULL), PAWL_EINVAL);
    size_t len = b.len;
    for (size_t i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++)
        assert_int_equal(pawl_audit_append(&w, 0, bad_kinds[i], "{}", 2, &b, NULL, &d), PAWL_EINVAL);
    assert_int_equal(pawl_audit_append(&w, 0, "abcdefghijklmnopqrstuvwxyzabcdef", "{}", 2, &b, NULL, NULL),
                     PAWL_OK);
    assert_int_equal(pawl_audit_append(&w, -1, "x", "{}", 2, &b, NULL, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_audit_append(&w, 0, "x", "[1]", 3, &b, NULL, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_audit_append(&w, 0, "x", "{\"a\":", 5, &b, NULL, NULL), PAWL_EPARSE);
    assert_int_equal(pawl_audit_append(&w, 0, "x", "{\"a\":1,\"a\":2}", 13, &b, NULL, NULL), PAWL_EPARSE);
    assert_int_equal(pawl_audit_append(&w, 0, "x", "{} {}", 5, &b, NULL, NULL), PAWL_EPARSE);

    /* a body over 1 MiB is refused, with a message; the writer is unchanged */
    size_t big = PAWL_AUDIT_BODY_MAX + 1;
    char *body = malloc(big);
    assert_non_null(body);
    memset(body, ' ', big);
    memcpy(body, "{\"a\":\"", 6);
    memcpy(body + big - 2, "\"}", 2);
    uint64_t seq = w.seq;
    size_t before = b.len;
    assert_int_equal(pawl_audit_append(&w, 0, "x", body, big, &b, NULL, &d), PAWL_ELIMIT);
    assert_non_null(strstr(d.msg, "limit"));
    assert_int_equal(w.seq, seq);
    assert_int_equal(b.len, before);
    /* exactly 1 MiB of compact JSON is accepted */
    memcpy(body + big - 3, "\"}", 2);
    assert_int_equal(pawl_audit_append(&w, 0, "x", body, big - 1, &b, NULL, &d), PAWL_OK);
    free(body);
    assert_true(b.len > len);

    /* the output buffer's hard maximum */
    struct pawl_audit_buf small;
    pawl_audit_buf_init(&small, 64);
    assert_int_equal(pawl_audit_append(&w, 0, "x", "{}", 2, &small, NULL, NULL), PAWL_ELIMIT);
    assert_int_equal(small.len, 0);
    pawl_audit_buf_free(&small);
    pawl_audit_buf_free(&b);
}

static void test_anchor_check(void **state)
{
    struct fixture *f = *state;
    struct log l = { 0 };
    struct pawl_audit_verifier v;
    struct pawl_audit_report r;
    uint64_t seq = 0;
    make_log(f, &l, true);
    assert_int_equal(pawl_audit_verifier_init(&v, f->pub), PAWL_OK);
    assert_int_equal(pawl_audit_check_checkpoint(&v, l.line[9], strlen(l.line[9]), &seq, &r), PAWL_OK);
    assert_int_equal(seq, 9);
    assert_int_not_equal(pawl_audit_check_checkpoint(&v, l.line[8], strlen(l.line[8]), &seq, &r), PAWL_OK);
    l.line[9][17] ^= 1;
    assert_int_equal(pawl_audit_check_checkpoint(&v, l.line[9], strlen(l.line[9]), &seq, &r), PAWL_EINVAL);
    assert_int_equal(r.fault, PAWL_AUDIT_HASH);
    pawl_audit_verifier_free(&v);
    log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_chain),
        cmocka_unit_test(test_append_dumped),
        cmocka_unit_test(test_format_exact),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_delete_swap_duplicate),
        cmocka_unit_test(test_checkpoint_signature),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_genesis_rules),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_time_checkpoints),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_anchor_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
