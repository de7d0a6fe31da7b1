/* Unit tests for API discovery (pawl/discover.h): object ids in paths,
 * the nginx combined format, the inventory and its risk scores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "pawl/discover.h"

#define S(lit) ((pawl_str){(lit), sizeof(lit) - 1})

static void test_id_kinds(void **state)
{
    (void)state;
    assert_true(pawl_vin_check_digit_ok(S("1HGCM82633A004352")));
    assert_false(pawl_vin_check_digit_ok(S("1HGCM82643A004352")));    /* check digit changed */
    assert_int_equal(pawl_id_kind_of(S("1HGCM82633A004352")), PAWL_ID_VIN);
    assert_int_equal(pawl_id_kind_of(S("WVWZZZ1JZXW000001")), PAWL_ID_VIN); /* no check digit, numeric serial */
    assert_int_equal(pawl_id_kind_of(S("1HGCM82643A00435X")), 0);     /* neither */
    assert_int_equal(pawl_id_kind_of(S("1HGCM8263IA004352")), 0);     /* I is not in VINs */
    assert_int_equal(pawl_id_kind_of(S("7d6a1b2c-3e4f-4a5b-8c9d-0e1f2a3b4c5d")), PAWL_ID_UUID);
    assert_int_equal(pawl_id_kind_of(S("42")), PAWL_ID_INT);
    assert_int_equal(pawl_id_kind_of(S("12345678901234567890")), 0);  /* 20 digits: not an int id */
    assert_int_equal(pawl_id_kind_of(S("5f3a9c0e2b1d4e6f")), PAWL_ID_HEX);
    assert_int_equal(pawl_id_kind_of(S("deadbeef")), 0);              /* short, no digit */
    assert_int_equal(pawl_id_kind_of(S("alice@example.com")), PAWL_ID_EMAIL);
    assert_int_equal(pawl_id_kind_of(S("B-AB-1234")), PAWL_ID_PLATE);
    assert_int_equal(pawl_id_kind_of(S("7ABC123")), PAWL_ID_PLATE);
    assert_int_equal(pawl_id_kind_of(S("ConZLXacq3MqhbLQDrbNLh")), PAWL_ID_TOKEN); /* crAPI post id */
    assert_int_equal(pawl_id_kind_of(S("convert_video")), 0);
    static const char *const words[] = {"api", "v1", "v2", "vehicles", "commands", "door.unlock",
                                        "location", "VIN", "me", "recent", "2fa"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        assert_int_equal(pawl_id_kind_of((pawl_str){words[i], strlen(words[i])}), 0);
}

static void test_template(void **state)
{
    (void)state;
    char out[256];
    unsigned kinds = 0;
    assert_int_not_equal(pawl_path_template(S("/api/v1/vehicles/1HGCM82633A004352/commands/door.unlock"),
                                            out, sizeof out, &kinds), 0);
    assert_string_equal(out, "/api/v1/vehicles/{vin}/commands/door.unlock");
    assert_int_equal(kinds, PAWL_ID_VIN);
    kinds = 0;
    assert_int_not_equal(pawl_path_template(S("/users/alice@example.com/orders/42/"), out, sizeof out, &kinds), 0);
    assert_string_equal(out, "/users/{email}/orders/{int}/");
    assert_int_equal(kinds, PAWL_ID_EMAIL | PAWL_ID_INT);
    assert_int_equal(pawl_path_template(S("relative/path"), out, sizeof out, &kinds), 0);
    assert_int_equal(pawl_path_template(S("/a/very/long/path"), out, 8, &kinds), 0);
}

static void test_nginx(void **state)
{
    (void)state;
    struct pawl_api_event e;
    struct pawl_diag d = {0};
    const char *l = "10.0.0.2 - alice [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif?x=1 HTTP/1.0\" "
                    "200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08\"";
    assert_int_equal(pawl_nginx_parse(l, strlen(l), &e, "log", 1, &d), PAWL_OK);
    assert_int_equal(e.time_ms, 971211336000LL); /* 2000-10-10 20:55:36 UTC */
    assert_int_equal(e.status, 200);
    assert_int_equal(e.resp_len, 2326);
    assert_true(e.method.n == 3 && memcmp(e.method.p, "GET", 3) == 0);
    assert_true(e.path.n == 14 && memcmp(e.path.p, "/apache_pb.gif", 14) == 0);
    assert_true(e.principal.n == 5 && memcmp(e.principal.p, "alice", 5) == 0);
    static const char *const bad[] = {
        "", "garbage", "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\" 200 1 \"-\" \"-\"",
        "1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
        "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 2000 1 \"-\" \"-\"",
        "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET relative HTTP/1.1\" 200 1 \"-\" \"-\"",
        "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700 \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&d, 0, sizeof d);
        assert_int_equal(pawl_nginx_parse(bad[i], strlen(bad[i]), &e, "log", 7, &d), PAWL_EINVAL);
        assert_int_equal(d.line, 7);
        assert_true(d.msg[0] != '\0');
    }
}

static json_t *find(json_t *inv, const char *op)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(inv, "operations"), i, o)
        if (strcmp(json_string_value(json_object_get(o, "operation")), op) == 0)
            return o;
    return NULL;
}

static int score(json_t *o)
{
    return (int)json_integer_value(json_object_get(json_object_get(o, "risk"), "score"));
}

static void add(struct pawl_inventory *inv, const char *method, const char *path, const char *who,
                int status)
{
    struct pawl_api_event e = {0};
    e.time_ms = 1000;
    e.method = (pawl_str){method, strlen(method)};
    e.path = (pawl_str){path, strlen(path)};
    e.principal = (pawl_str){who, strlen(who)};
    e.user_type = S("User");
    e.status = status;
    e.resp_len = -1;
    assert_int_equal(pawl_inventory_add(inv, &e), PAWL_OK);
}

static void test_inventory(void **state)
{
    (void)state;
    struct pawl_inventory *inv;
    char path[128], who[32];
    assert_int_equal(pawl_inventory_new(4, &inv), PAWL_OK);
    for (int i = 0; i < 300; i++) {
        snprintf(path, sizeof path, "/api/v1/vehicles/%s/location", i % 2 ? "1HGCM82633A004352" : "5YJ3E1EA7KF317000");
        snprintf(who, sizeof who, "user-%d", i % 100);
        add(inv, "GET", path, who, 200);
    }
    add(inv, "POST", "/api/v1/vehicles/1HGCM82633A004352/commands/door.unlock", "", 200);
    add(inv, "GET", "/api/v1/health", "", 200);
    add(inv, "GET", "/api/v1/a", "", 200);
    add(inv, "GET", "/api/v1/b", "", 200); /* a fifth operation: over max_ops, dropped */
    json_t *j = pawl_inventory_json(inv);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "events")), 304);
    assert_int_equal(json_integer_value(json_object_get(j, "dropped")), 1);
    json_t *loc = find(j, "GET /api/v1/vehicles/{vin}/location");
    json_t *unlock = find(j, "POST /api/v1/vehicles/{vin}/commands/door.unlock");
    json_t *health = find(j, "GET /api/v1/health");
    assert_non_null(loc);
    assert_non_null(unlock);
    assert_non_null(health);
    json_int_t principals = json_integer_value(json_object_get(loc, "principals"));
    assert_true(principals >= 95 && principals <= 105); /* 100 distinct, estimated */
    assert_int_equal(score(unlock), 9); /* control 4 + unauthenticated success 3 + a VIN 2 */
    assert_true(score(unlock) > score(loc) && score(loc) > score(health));
    json_t *first = json_array_get(json_object_get(j, "operations"), 0);
    assert_ptr_equal(first, unlock); /* ranked by risk */
    json_decref(j);
    pawl_inventory_free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_kinds),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_nginx),
        cmocka_unit_test(test_inventory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
