/* pawld's admin DELETE /blocks query (src/gateway/admin_query.h): the two
 * keys, percent-decoding, and every refusal, at the buffer's edge too. */
#include "helper_common.h"

#include <string.h>

#include "admin_query.h"

static bool q(const char *query, bool *principal, char *out, size_t cap, size_t *n)
{
    return pawld_unblock_query((pawl_str){query, strlen(query)}, principal, out, cap, n);
}

static void test_decodes(void **state)
{
    (void)state;
    char out[16];
    size_t n;
    bool principal;
    assert_true(q("principal=u-1042", &principal, out, sizeof out, &n));
    assert_true(principal);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "u-1042", 6);
    assert_true(q("address=192.0.2.7", &principal, out, sizeof out, &n));
    assert_false(principal);
    assert_memory_equal(out, "192.0.2.7", 9);
    assert_true(q("principal=a%2Fb%00c%e9", &principal, out, sizeof out, &n));
    assert_int_equal(n, 6);
    assert_memory_equal(out, "a/b\0c\xe9", 6);
    assert_true(q("principal=0123456789abcdef", &principal, out, sizeof out, &n)); /* exactly cap */
    assert_int_equal(n, 16);
}

static void test_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "principal=", "address=", "who=u-1", "principal", "Principal=u-1", "principal=u-1&address=1.2.3.4",
        "principal=%", "principal=%4", "principal=%zz", "principal=a%4", "principal=0123456789abcdefX",
        "principal=0123456789abcde%41X",
    };
    char out[16];
    size_t n;
    bool principal;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (q(bad[i], &principal, out, sizeof out, &n))
            fail_msg("accepted: '%s'", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes),
        cmocka_unit_test(test_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
