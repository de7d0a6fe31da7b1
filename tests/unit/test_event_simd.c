/* The CLI's fast reader of API Activity lines (src/host/event_simd.h)
 * against the strict one (jansson): on every line the fast reader accepts,
 * the same event; every line the strict reader refuses, the fast one leaves
 * to it; and ordinary events do take the fast path. */
#include "helper_common.h"
#include "helper_event_cmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event_simd.h"

#define EV(extra)                                                                                          \
    "{\"class_uid\":6003,\"time\":1795000000000,\"src_endpoint\":{\"ip\":\"192.0.2.1\",\"location\":"    \
    "{\"country\":\"DE\"}},\"http_request\":{\"http_method\":\"GET\",\"url\":{\"path\":"                \
    "\"/api/v1/vehicles/1HGCM82633A004352/status\"}},\"http_response\":{\"code\":200,\"length\":512},"   \
    "\"actor\":{\"user\":{\"uid\":\"u-1\",\"type\":\"User\",\"groups\":[{\"name\":\"owner\"},{\"x\":1},"  \
    "{\"name\":\"\"},{\"name\":\"driver\"}]},\"session\":{\"uid\":\"s-9\"}}" extra "}"

/* 1 fast and equal, 0 left to the strict reader; fails the test when the
 * fast reader accepts what the strict one refuses or reads it otherwise. */
static int both(struct pawl_event_reader *r, const char *line)
{
    struct pawl_api_event a, b;
    struct pawl_diag d = {0};
    size_t n = strlen(line);
    json_error_t je;
    json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
    bool strict = j != NULL && pawl_api_event_from_json(j, &a, "t", 1, &d) == PAWL_OK;
    int fast = pawl_event_reader_read(r, line, n, &b);
    if (fast && !strict)
        fail_msg("the fast reader accepts what jansson refuses: %s", line);
    const char *diff = fast ? th_event_diff(&a, &b) : NULL;
    if (diff != NULL)
        fail_msg("the readers disagree on %s: %s", diff, line);
    json_decref(j);
    return fast;
}

static void test_same_events(void **state)
{
    (void)state;
    struct pawl_event_reader *r = pawl_event_reader_new();
    assert_non_null(r);
    const char *fast[] = {
        EV(""),
        EV(",\"metadata\":{\"version\":\"1.3.0\",\"product\":{\"name\":\"gw\"}},\"unmapped\":[1,2.5,null,true,[{}]]"),
        "{\"time\":0,\"http_request\":{\"http_method\":\"POST\",\"url\":{\"path\":\"/a\\/b\\u00e9\\ud83d\\ude97\"}},"
        "\"http_response\":{\"code\":599}}",
        "{\"time\":-0,\"http_request\":{\"http_method\":\"G\",\"url\":{\"path\":\"/\"}},\"http_response\":{\"code\":100,"
        "\"length\":-5},\"actor\":{\"user\":{\"uid\":7,\"groups\":{\"name\":\"x\"}}},\"src_endpoint\":\"1.2.3.4\"}",
        " \t" EV("") " \r\n",
    };
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
        if (both(r, fast[i]) != 1)
            fail_msg("an ordinary event left the fast path: %s", fast[i]);
    pawl_event_reader_free(r);
}

static void test_left_to_the_strict_reader(void **state)
{
    (void)state;
    struct pawl_event_reader *r = pawl_event_reader_new();
    char *deep = malloc(4000);
    size_t o = 0;
    o += (size_t)snprintf(deep + o, 4000 - o, "{\"time\":1,\"x\":");
    for (int i = 0; i < 1100; i++)
        deep[o++] = '[';
    for (int i = 0; i < 1100; i++)
        deep[o++] = ']';
    snprintf(deep + o, 4000 - o, ",\"http_request\":{\"http_method\":\"G\",\"url\":{\"path\":\"/\"}},"
             "\"http_response\":{\"code\":200}}");
    const char *slow[] = {
        EV(",\"time\":1"),                                   /* a duplicate key */
        EV(",\"metadata\":{\"a\":1,\"b\":2,\"a\":3}"),       /* a duplicate key, deep */
        EV(",\"m\":{\"\\u0061\":1,\"a\":2}"),                /* the same key, escaped */
        EV(",\"note\":\"a\\u0000b\""),                       /* NUL in a string */
        EV(",\"big\":9223372036854775808"),                  /* beyond int64 */
        EV(",\"big\":1e400"),                                /* beyond double */
        EV(",\"s\":\"\\ud800\""),                            /* a lone surrogate */
        EV("") "x",                                          /* trailing bytes */
        "[1,2]", "\"x\"", "{", "{\"time\":1}", "",
        EV(",\"class_uid\":6002"), EV(",\"class_uid\":\"6003\""),
        "{\"time\":1.0,\"http_request\":{\"http_method\":\"G\",\"url\":{\"path\":\"/\"}},\"http_response\":{\"code\":200}}",
        "{\"time\":1,\"http_request\":{\"http_method\":\"G\",\"url\":{\"path\":\"rel\"}},\"http_response\":{\"code\":200}}",
        "{\"time\":1,\"http_request\":{\"http_method\":\"G\",\"url\":{\"path\":\"/\"}},\"http_response\":{\"code\":600}}",
        "{\"time\":9007199254740993,\"http_request\":{\"http_method\":\"G\",\"url\":{\"path\":\"/\"}},"
        "\"http_response\":{\"code\":200}}",
        "{\"time\":1,\"http_request\":{\"http_method\":\"G\",\"url\":{\"path\":\"/\xff\"}},\"http_response\":{\"code\":200}}",
        deep,
    };
    for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
        if (both(r, slow[i]) != 0)
            fail_msg("the fast reader took a line jansson refuses: %s", slow[i]);
    free(deep);
    pawl_event_reader_free(r);
}

/* One reader for many lines of growing and shrinking length, as the CLI
 * uses it: its padded copy of the line is reused. */
static void test_reader_reuse(void **state)
{
    (void)state;
    struct pawl_event_reader *r = pawl_event_reader_new();
    char line[2048];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(line, sizeof line, "{\"time\":%d,\"pad\":\"%*s\",\"http_request\":{\"http_method\":\"GET\","
                         "\"url\":{\"path\":\"/v/%d\"}},\"http_response\":{\"code\":200}}", i, (i * 37) % 1500, "", i);
        assert_true(n > 0 && (size_t)n < sizeof line);
        assert_int_equal(both(r, line), 1);
    }
    pawl_event_reader_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_events),
        cmocka_unit_test(test_left_to_the_strict_reader),
        cmocka_unit_test(test_reader_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
