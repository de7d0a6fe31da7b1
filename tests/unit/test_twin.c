/* The twin: telemetry lines, newest-wins, bounds, strict input. */
#include "helper_common.h"
#include "pawl/twin.h"

#include <stdio.h>
#include <string.h>

#define VIN "1HGCM82633A004352"

static void line_ok(struct pawl_twin *t, const char *l)
{
    struct pawl_diag d = { 0 };
    if (pawl_twin_update_line(t, l, strlen(l), "tele", 1, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
}

static void line_bad(struct pawl_twin *t, const char *l, const char *msg)
{
    struct pawl_diag d = { 0 };
    if (pawl_twin_update_line(t, l, strlen(l), "tele", 3, &d) == PAWL_OK)
        fail_msg("accepted %s", l);
    if (strstr(th_diag(&d), msg) == NULL || strncmp(th_diag(&d), "tele:3", 6) != 0)
        fail_msg("got '%s', want '%s'", th_diag(&d), msg);
}

static void test_update_and_get(void **s)
{
    (void)s;
    struct pawl_twin *t;
    double v;
    int64_t ts;
    assert_int_equal(pawl_twin_new(100, &t), PAWL_OK);
    uint16_t speed = pawl_twin_signal(t, PAWL_STR("Vehicle.Speed"));
    uint16_t locked = pawl_twin_signal(t, PAWL_STR("Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"));
    assert_true(speed > 0 && locked > 0 && speed != locked);
    assert_int_equal(pawl_twin_signal(t, PAWL_STR("Vehicle.Speed")), speed);
    assert_false(pawl_twin_get(t, PAWL_STR(VIN), speed, &v, &ts));
    line_ok(t, "{\"time\":1000,\"vin\":\"" VIN "\",\"signals\":{\"Vehicle.Speed\":42.5,"
               "\"Vehicle.Cabin.Door.Row1.DriverSide.IsLocked\":true,\"Vehicle.Body.Color\":\"red\"}}");
    assert_true(pawl_twin_get(t, PAWL_STR(VIN), speed, &v, &ts));
    assert_true(v == 42.5);
    assert_int_equal(ts, 1000);
    assert_true(pawl_twin_get(t, PAWL_STR(VIN), locked, &v, &ts));
    assert_true(v == 1.0);
    /* an older report does not roll the state back */
    line_ok(t, "{\"time\":900,\"vin\":\"" VIN "\",\"signals\":{\"Vehicle.Speed\":0}}");
    assert_true(pawl_twin_get(t, PAWL_STR(VIN), speed, &v, &ts));
    assert_true(v == 42.5);
    line_ok(t, "{\"time\":2000,\"vin\":\"" VIN "\",\"signals\":{\"Vehicle.Speed\":0}}");
    assert_true(pawl_twin_get(t, PAWL_STR(VIN), speed, &v, &ts));
    assert_true(v == 0.0);
    assert_int_equal(ts, 2000);
    struct pawl_twin_stats st;
    pawl_twin_stats(t, &st);
    assert_int_equal(st.vehicles, 1);
    assert_int_equal(st.stale_ignored, 1);
    assert_int_equal(st.skipped_values, 1);
    pawl_twin_free(t);
}

static void test_rejects(void **s)
{
    (void)s;
    struct pawl_twin *t;
    assert_int_equal(pawl_twin_new(2, &t), PAWL_OK);
    line_bad(t, "{\"time\":1,\"vin\":\"nope\",\"signals\":{}}", "vin: not a VIN");
    line_bad(t, "{\"vin\":\"" VIN "\",\"signals\":{}}", "time:");
    line_bad(t, "{\"time\":1,\"vin\":\"" VIN "\",\"signals\":[1]}", "signals:");
    line_bad(t, "{\"time\":1,\"vin\":\"" VIN "\",\"signals\":{\"Speed\":1}}", "not a VSS path");
    line_bad(t, "{\"time\":1,", "invalid JSON");
    line_bad(t, "7", "invalid JSON");
    line_ok(t, "{\"time\":1,\"vin\":\"" VIN "\",\"signals\":{\"Vehicle.Speed\":1}}");
    line_ok(t, "{\"time\":1,\"vin\":\"5YJ3E1EA7KF317000\",\"signals\":{\"Vehicle.Speed\":1}}");
    line_bad(t, "{\"time\":1,\"vin\":\"WVWZZZ1JZXW000001\",\"signals\":{\"Vehicle.Speed\":1}}", "twin is full");
    pawl_twin_free(t);
}

static void test_signal_bounds(void **s)
{
    (void)s;
    struct pawl_twin *t;
    char name[64];
    assert_int_equal(pawl_twin_new(10, &t), PAWL_OK);
    for (int i = 0; i < PAWL_TWIN_MAX_SIGNALS + 5; i++) {
        int n = snprintf(name, sizeof name, "Vehicle.S%d", i);
        uint16_t id = pawl_twin_signal(t, (pawl_str){ name, (size_t)n });
        pawl_err e = pawl_twin_set(t, PAWL_STR(VIN), id, i, 1);
        assert_int_equal(e, i < PAWL_TWIN_MAX_SIGNALS ? PAWL_OK : PAWL_ELIMIT);
    }
    assert_int_equal(pawl_twin_signal(t, PAWL_STR("Vehicle..Speed")), 0);
    assert_int_equal(pawl_twin_signal(t, PAWL_STR("Car.Speed")), 0);
    pawl_twin_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_and_get), cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_signal_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
