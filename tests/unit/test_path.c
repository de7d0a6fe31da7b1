/* Path normalization: one test per rejected form, and what is accepted. */
#include "helper_common.h"
#include "pawl/path.h"

#include <string.h>

static void rejects(const char *raw, size_t n, const char *why)
{
    struct pawl_path p;
    struct pawl_diag d = { 0 };
    pawl_err e = pawl_path_normalize(raw, n, &p, &d);
    if (e == PAWL_OK)
        fail_msg("accepted '%s', expected rejection (%s)", raw, why);
    if (strstr(d.msg, why) == NULL)
        fail_msg("'%s': message '%s' does not mention '%s'", raw, d.msg, why);
}
#define REJECT(lit, why) rejects(lit, sizeof(lit) - 1, why)

static void accepts(const char *raw, unsigned nseg, const char *last)
{
    struct pawl_path p;
    struct pawl_diag d = { 0 };
    if (pawl_path_normalize(raw, strlen(raw), &p, &d) != PAWL_OK)
        fail_msg("rejected '%s': %s", raw, d.msg);
    assert_int_equal(p.nseg, nseg);
    if (last) {
        assert_int_equal(p.seg[nseg - 1].n, strlen(last));
        assert_memory_equal(p.seg[nseg - 1].p, last, strlen(last));
    }
}

static void test_accepts(void **s)
{
    (void)s;
    accepts("/", 0, NULL);
    accepts("/api/v1/vehicles/1HGCM82633A004352/commands/door.unlock", 6, "door.unlock");
    accepts("/a/b?x=../..//", 2, "b");           /* the query is not the path */
    accepts("/users/a%40b.example", 2, "a@b.example"); /* harmless escapes decode */
    accepts("/caf%C3%A9", 1, "caf\xc3\xa9");     /* valid UTF-8 */
    accepts("/caf\xc3\xa9", 1, "caf\xc3\xa9");
    accepts("/a/..b/c.", 3, "c.");               /* dots inside names are names */
}

static void test_not_absolute(void **s) { (void)s; REJECT("api/v1", "start with '/'"); REJECT("", "start with '/'"); }
static void test_dot(void **s) { (void)s; REJECT("/api/./v1", "'.' or '..'"); }
static void test_dotdot(void **s) { (void)s; REJECT("/api/v1/../admin", "'.' or '..'"); REJECT("/a/..", "'.' or '..'"); }
static void test_empty_segment(void **s) { (void)s; REJECT("/api//v1", "empty path segment"); }
static void test_trailing_slash(void **s) { (void)s; REJECT("/api/v1/", "empty path segment"); }
static void test_enc_slash(void **s) { (void)s; REJECT("/api/v1%2fadmin", "encoded '/'"); REJECT("/a%2Fb", "encoded '/'"); }
static void test_enc_backslash(void **s) { (void)s; REJECT("/a%5cb", "encoded backslash"); REJECT("/a%5Cb", "encoded backslash"); }
static void test_enc_dot(void **s) { (void)s; REJECT("/api/%2e%2e/admin", "encoded '.'"); REJECT("/a%2Eb", "encoded '.'"); }
static void test_enc_nul(void **s) { (void)s; REJECT("/a%00b", "encoded NUL"); }
static void test_enc_ctl(void **s) { (void)s; REJECT("/a%0ab", "encoded control"); }
static void test_double_enc(void **s) { (void)s; REJECT("/a%252fb", "double encoding"); }
static void test_bad_pct(void **s) { (void)s; REJECT("/a%zzb", "malformed percent"); REJECT("/a%2", "truncated percent"); REJECT("/a%", "truncated percent"); }
static void test_backslash(void **s) { (void)s; REJECT("/api\\v1", "backslash"); }
static void test_semicolon(void **s) { (void)s; REJECT("/api/v1;jsessionid=1/x", "';'"); REJECT("/a%3bb", "';'"); }
static void test_raw_nul(void **s) { (void)s; REJECT("/a\0b", "control character"); }
static void test_raw_ctl(void **s) { (void)s; REJECT("/a\tb", "control character"); REJECT("/a\x7f", "control character"); }
static void test_fragment(void **s) { (void)s; REJECT("/a#b", "fragment"); }
static void test_bad_chars(void **s) { (void)s; REJECT("/a b", "not allowed"); REJECT("/a<b>", "not allowed"); REJECT("/{vin}", "not allowed"); }
static void test_overlong_utf8(void **s) { (void)s; REJECT("/a%C0%AEb", "UTF-8"); REJECT("/\xc0\xae", "UTF-8"); REJECT("/%E0%80%AE", "UTF-8"); }
static void test_invalid_utf8(void **s)
{
    (void)s;
    REJECT("/a%FFb", "UTF-8");          /* never valid */
    REJECT("/a%C3", "UTF-8");           /* truncated */
    REJECT("/%ED%A0%80", "UTF-8");      /* surrogate */
    REJECT("/%F4%90%80%80", "UTF-8");   /* > U+10FFFF */
    REJECT("/\x80", "UTF-8");           /* bare continuation */
}

static void test_limits(void **s)
{
    (void)s;
    char big[PAWL_PATH_MAX + 10];
    memset(big, 'a', sizeof big);
    big[0] = '/';
    struct pawl_path p;
    struct pawl_diag d;
    assert_int_equal(pawl_path_normalize(big, sizeof big, &p, &d), PAWL_ELIMIT);
    char many[2 * (PAWL_PATH_MAX_SEGS + 1) + 1];
    for (int i = 0; i < PAWL_PATH_MAX_SEGS + 1; i++) {
        many[2 * i] = '/';
        many[2 * i + 1] = 'x';
    }
    assert_int_equal(pawl_path_normalize(many, sizeof many - 1, &p, &d), PAWL_ELIMIT);
    assert_int_equal(pawl_path_normalize(many, 2 * PAWL_PATH_MAX_SEGS, &p, &d), PAWL_OK);
    assert_int_equal(p.nseg, PAWL_PATH_MAX_SEGS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts), cmocka_unit_test(test_not_absolute),
        cmocka_unit_test(test_dot), cmocka_unit_test(test_dotdot),
        cmocka_unit_test(test_empty_segment), cmocka_unit_test(test_trailing_slash),
        cmocka_unit_test(test_enc_slash), cmocka_unit_test(test_enc_backslash),
        cmocka_unit_test(test_enc_dot), cmocka_unit_test(test_enc_nul),
        cmocka_unit_test(test_enc_ctl), cmocka_unit_test(test_double_enc),
        cmocka_unit_test(test_bad_pct), cmocka_unit_test(test_backslash),
        cmocka_unit_test(test_semicolon), cmocka_unit_test(test_raw_nul),
        cmocka_unit_test(test_raw_ctl), cmocka_unit_test(test_fragment),
        cmocka_unit_test(test_bad_chars), cmocka_unit_test(test_overlong_utf8),
        cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
