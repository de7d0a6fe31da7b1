/* Unit tests for the streaming detectors (pawl/detect.h): each fires on the
 * traffic it is for and stays quiet on the look-alike benign traffic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "helper_common.h"
#include "pawl/detect.h"

#define V1 "1HGCM82633A004352"
#define V2 "5YJ3E1EA7KF317000"

struct got {
    unsigned n;
    struct pawl_finding last;
};

static void on_finding(void *ctx, const struct pawl_finding *f)
{
    struct got *g = ctx;
    if (f->repeat)
        fail_msg("a repeat without report_repeats");
    g->n++;
    g->last = *f;
}

struct repeats {
    unsigned fresh, repeat;
};

static void count_repeats(void *ctx, const struct pawl_finding *f)
{
    struct repeats *r = ctx;
    if (f->repeat)
        r->repeat++;
    else
        r->fresh++;
}


static struct pawl_api_event ev(int64_t t, const char *who, const char *path, int status, const char *ip)
{
    struct pawl_api_event e = {0};
    e.time_ms = t;
    e.method = (pawl_str){"GET", 3};
    e.path = (pawl_str){path, strlen(path)};
    e.principal = (pawl_str){who, strlen(who)};
    e.user_type = (pawl_str){"User", 4};
    e.src_ip = (pawl_str){ip, strlen(ip)};
    e.status = status;
    e.resp_len = -1;
    return e;
}

static struct pawl_grants *grants(void)
{
    struct pawl_grants *g;
    struct pawl_diag d = {0};
    const char *line = "{\"principal\":\"u-1\",\"vin\":\"" V1 "\",\"role\":\"owner\",\"since\":0,\"until\":null}";
    assert_int_equal(pawl_grants_new(86400000, &g), PAWL_OK);
    assert_int_equal(pawl_grants_add_line(g, line, strlen(line), "t", 1, &d), PAWL_OK);
    return g;
}

/* report_repeats: what the cooldown holds back comes marked repeat; the
 * cooldown itself is not pushed back by repeats. */
static void test_repeats(void **state)
{
    (void)state;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d;
    struct repeats r = {0};
    char path[64];
    cfg.report_repeats = true;
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    for (int i = 0; i < 12; i++) { /* 8 in a row fire; the 4 after are repeats */
        snprintf(path, sizeof path, "/api/v1/orders/%d", 1000 + i);
        struct pawl_api_event e = ev(1000 + i, "walker", path, 404, "6.6.6.6");
        pawl_detector_feed(d, &e, count_repeats, &r);
    }
    assert_int_equal(r.fresh, 1);
    assert_int_equal(r.repeat, 4);
    for (int i = 0; i < 8; i++) { /* after the cooldown: a finding again */
        snprintf(path, sizeof path, "/api/v1/orders/%d", 2000 + i);
        struct pawl_api_event e = ev(1000 + cfg.cooldown_ms + i, "walker", path, 404, "6.6.6.6");
        pawl_detector_feed(d, &e, count_repeats, &r);
    }
    assert_int_equal(r.fresh, 2);
    pawl_detector_free(d);
}

/* Names and indexes go both ways; an unknown name has none. */
static void test_detector_names(void **state)
{
    (void)state;
    for (unsigned i = 0; i < PAWL_DETECTORS; i++)
        assert_int_equal(pawl_detector_index(pawl_detector_name(i)), i);
    assert_int_equal(pawl_detector_index("nope"), PAWL_DETECTORS);
    assert_int_equal(pawl_detector_index(""), PAWL_DETECTORS);
}

static void test_bola(void **state)
{
    (void)state;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_grants *g = grants();
    struct pawl_detector *d;
    struct got got = {0};
    assert_int_equal(pawl_detector_new(&cfg, g, &d), PAWL_OK);
    struct pawl_api_event e = ev(1000, "u-1", "/api/v1/vehicles/" V1 "/location", 200, "1.1.1.1");
    pawl_detector_feed(d, &e, on_finding, &got);            /* its own car */
    e = ev(2000, "u-1", "/api/v1/vehicles/" V2 "/location", 403, "1.1.1.1");
    pawl_detector_feed(d, &e, on_finding, &got);            /* another's, refused */
    assert_int_equal(got.n, 0);
    e = ev(3000, "u-1", "/api/v1/vehicles/" V2 "/location", 200, "1.1.1.1");
    pawl_detector_feed(d, &e, on_finding, &got);            /* another's, answered */
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "bola");
    assert_string_equal(got.last.principal, "u-1");
    assert_string_equal(got.last.vins[0], V2);
    assert_string_equal(got.last.owasp_uid, "API1:2023");
    e.time_ms = 4000;
    pawl_detector_feed(d, &e, on_finding, &got);            /* within the cooldown */
    assert_int_equal(got.n, 1);
    struct pawl_api_event s = ev(5000, "svc", "/api/v1/vehicles/" V2 "/status", 200, "10.0.0.1");
    s.user_type = (pawl_str){"Service", 7};
    pawl_detector_feed(d, &s, on_finding, &got);            /* backend services are not judged by grants */
    assert_int_equal(got.n, 1);
    json_t *j = pawl_finding_json(&got.last, "id-1");
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "type_uid")), 200401);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "finding_info"), "uid")), "id-1");
    json_decref(j);
    pawl_detector_free(d);
    pawl_grants_free(g);
}

static void test_enumeration_and_stuffing(void **state)
{
    (void)state;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d;
    struct got got = {0};
    char path[64], who[32];
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    for (int i = 0; i < 7; i++) { /* 7 in a row: one short of the default 8 */
        snprintf(path, sizeof path, "/api/orders/%d", 500 + i);
        struct pawl_api_event e = ev(1000 + i, "u-2", path, 404, "2.2.2.2");
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    assert_int_equal(got.n, 0);
    struct pawl_api_event e = ev(2000, "u-2", "/api/orders/507", 404, "2.2.2.2");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "enumeration");
    for (int i = 0; i < 10; i++) { /* 10 failures, 10 names, one address */
        snprintf(who, sizeof who, "victim-%d", i);
        e = ev(3000 + i * 1000, who, "/api/auth/login", 401, "6.6.6.6");
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    assert_int_equal(got.n, 2);
    assert_string_equal(got.last.detector, "credential_stuffing");
    assert_string_equal(got.last.src_ip, "6.6.6.6");
    assert_string_equal(got.last.principal, "");
    pawl_detector_free(d);
    /* the same walk with one digit of each id percent-encoded is the same
     * walk (review finding: the detectors saw the escapes, the engine the ids) */
    memset(&got, 0, sizeof got);
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, "/api/orders/%%35%02d", i); /* %35 is 5: 500..507 */
        e = ev(1000 + i, "u-3", path, 404, "2.2.2.3");
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "enumeration");
    pawl_detector_free(d);
}

static void one(struct pawl_detector *d, int64_t t, const char *who, struct got *got)
{
    struct pawl_api_event e = ev(t, who, "/api/v1/profile", 200, "10.0.0.1");
    pawl_detector_feed(d, &e, on_finding, got);
}

/* Full tables: an entry unseen for two days (an address: an hour) gives way
 * to a newcomer; entries seen lately never do, and newcomers are then
 * counted untracked. The tables filled once and stayed full: after as many
 * principals as max_principals, no new one was ever judged. */
static void test_idle_give_way(void **state)
{
    (void)state;
    const int64_t H = 3600 * 1000LL, t0 = 1000;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d, *back;
    struct got got = {0};
    char path[64], who[32];
    cfg.max_principals = 4;
    cfg.max_addresses = 4;
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    for (int i = 0; i < 4; i++) {
        snprintf(who, sizeof who, "p%d", i);
        one(d, t0, who, &got);
        snprintf(path, sizeof path, "10.1.0.%d", i); /* the addresses: one failed login each */
        struct pawl_api_event e = ev(t0, who, "/api/auth/login", 401, path);
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    one(d, t0 + H, "x", &got); /* full, nobody idle */
    assert_int_equal(pawl_detector_untracked(d), 1);
    for (int i = 0; i < 10; i++) { /* an hour on, the idle addresses give way to a stuffer */
        snprintf(who, sizeof who, "victim-%d", i); /* (the victims' names: not tracked) */
        struct pawl_api_event e = ev(t0 + 2 * H + i, who, "/api/auth/login", 401, "6.6.6.6");
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "credential_stuffing");
    assert_int_equal(pawl_detector_untracked(d), 11);
    one(d, t0 + 47 * H, "p0", &got);
    for (int i = 0; i < 8; i++) { /* two days on: p1 gives way to the walker, who is judged */
        snprintf(path, sizeof path, "/api/orders/%d", 500 + i);
        struct pawl_api_event e = ev(t0 + 49 * H + i, "walker", path, 404, "10.0.0.1");
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    assert_int_equal(got.n, 2);
    assert_string_equal(got.last.detector, "enumeration");
    assert_string_equal(got.last.principal, "walker");
    one(d, t0 + 49 * H, "new2", &got); /* p2 and p3 give way */
    one(d, t0 + 49 * H, "new3", &got);
    assert_int_equal(pawl_detector_untracked(d), 11);
    one(d, t0 + 49 * H, "new4", &got); /* p0 (seen 2 h ago), walker, new2, new3: none idle */
    assert_int_equal(pawl_detector_untracked(d), 12);
    one(d, t0 + 49 * H, "p0", &got);   /* p0 was kept */
    assert_int_equal(pawl_detector_untracked(d), 12);
    /* saved and read back, the tables give way as before */
    static unsigned char mem[1 << 16];
    struct th_buf b = {mem, 0, sizeof mem, 0};
    assert_int_equal(pawl_detector_save(d, th_put, &b), PAWL_OK);
    struct pawl_diag dg = {0};
    assert_int_equal(pawl_detector_new(&cfg, NULL, &back), PAWL_OK);
    assert_int_equal(pawl_detector_load(back, th_take, &b, "t", &dg), PAWL_OK);
    one(back, t0 + 49 * H, "new5", &got); /* nobody idle */
    assert_int_equal(pawl_detector_untracked(back), 13);
    for (int i = 0; i < 4; i++) {         /* days later: the four tracked give way one by one */
        snprintf(who, sizeof who, "later%d", i);
        one(back, t0 + 200 * H, who, &got);
    }
    assert_int_equal(pawl_detector_untracked(back), 13);
    for (int i = 0; i < 4; i++) {         /* and are tracked: seen again, nothing more is untracked */
        snprintf(who, sizeof who, "later%d", i);
        one(back, t0 + 200 * H + 1, who, &got);
    }
    one(back, t0 + 200 * H + 2, "late", &got);
    assert_int_equal(pawl_detector_untracked(back), 14);
    pawl_detector_free(back);
    pawl_detector_free(d);
}

/* Waves of 64 principals into a table of 64, three days apart: each wave's
 * newcomers push out the last wave's idle entries one by one (entries move
 * back in their probe runs as others leave), and then every member of the
 * wave is found again: a lost entry would be created anew, and with nobody
 * idle it would be counted untracked. The state saves and reads back whole
 * (the read refuses a slot listed twice or an empty one). */
static void test_give_way_waves(void **state)
{
    (void)state;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d;
    struct got got = {0};
    char who[32];
    int wave[64];
    uint32_t rnd = 12345;
    cfg.max_principals = 64;
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    for (int w = 0; w < 40; w++) {
        int64_t t = 1000 + (int64_t)w * 3 * 86400000;
        for (int i = 0; i < 64; i++) { /* 64 distinct names of 150, some also in the last wave */
            bool dup;
            do {
                rnd = rnd * 1103515245u + 12345u;
                wave[i] = (int)((rnd >> 8) % 150);
                dup = false;
                for (int k = 0; k < i && !dup; k++)
                    dup = wave[k] == wave[i];
            } while (dup);
            snprintf(who, sizeof who, "n%d", wave[i]);
            one(d, t + i, who, &got);
        }
        assert_int_equal(pawl_detector_untracked(d), 0);
        for (int i = 0; i < 64; i++) {
            snprintf(who, sizeof who, "n%d", wave[i]);
            one(d, t + 64, who, &got);
        }
        assert_int_equal(pawl_detector_untracked(d), 0);
    }
    static unsigned char mem[1 << 16];
    struct th_buf b = {mem, 0, sizeof mem, 0};
    struct pawl_detector *back;
    struct pawl_diag dg = {0};
    assert_int_equal(pawl_detector_save(d, th_put, &b), PAWL_OK);
    assert_int_equal(pawl_detector_new(&cfg, NULL, &back), PAWL_OK);
    if (pawl_detector_load(back, th_take, &b, "t", &dg) != PAWL_OK)
        fail_msg("%s", dg.msg);
    /* a state of the earlier format (no last-seen times) is refused, saying so */
    memcpy(b.p, "PAWLDET1", 8);
    b.at = 0;
    assert_int_equal(pawl_detector_load(back, th_take, &b, "t", &dg), PAWL_EINVAL);
    assert_non_null(strstr(dg.msg, "written by an earlier pawl"));
    pawl_detector_free(back);
    pawl_detector_free(d);
}

static void test_addresses_and_text(void **state)
{
    (void)state;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d;
    struct got got = {0};
    char ip[32];
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    for (int i = 0; i < 5; i++) { /* home and phone and a few more: fine */
        snprintf(ip, sizeof ip, "3.3.3.%d", i);
        struct pawl_api_event e = ev(1000 + i, "u-\xff\x01", "/api/v1/me", 200, ip);
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    assert_int_equal(got.n, 0);
    struct pawl_api_event e = ev(9000, "u-\xff\x01", "/api/v1/me", 200, "3.3.3.9");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "token_many_addresses");
    assert_string_equal(got.last.principal, "u-??"); /* not UTF-8, a control byte: made printable */
    json_t *j = pawl_finding_json(&got.last, "x");
    assert_non_null(j); /* valid JSON text */
    json_decref(j);
    pawl_detector_free(d);
}

static struct pawl_api_event post(int64_t t, const char *who, const char *path)
{
    struct pawl_api_event e = ev(t, who, path, 200, "4.4.4.4");
    e.method = (pawl_str){"POST", 4};
    return e;
}

static void test_vehicle_rules(void **state)
{
    (void)state;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d;
    struct got got = {0};
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    /* the owner, who used the car before, adds a driver and locks it: fine */
    struct pawl_api_event e = ev(1000, "owner", "/api/v1/vehicles/" V1 "/status", 200, "4.4.4.4");
    pawl_detector_feed(d, &e, on_finding, &got);
    e = post(2000, "owner", "/api/v1/vehicles/" V1 "/owners");
    pawl_detector_feed(d, &e, on_finding, &got);
    e = post(3000, "owner", "/api/v1/vehicles/" V1 "/commands/door.lock");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 0);
    /* an account that never used it changes its owners, then unlocks it */
    e = post(4000, "dealer-x", "/api/v1/vehicles/" V2 "/owners");
    pawl_detector_feed(d, &e, on_finding, &got);
    e = post(5000, "dealer-x", "/api/v1/vehicles/" V2 "/commands/door.unlock");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "ownership_change_then_command");
    /* unlocking while the car reports 80 km/h; parked again, it is fine */
    pawl_detector_telemetry(d, (pawl_str){V1, 17}, 10000, 80.0);
    e = post(20000, "owner", "/api/v1/vehicles/" V1 "/commands/door.unlock");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.last.detector, "unsafe_state_command");
    pawl_detector_telemetry(d, (pawl_str){V1, 17}, 30000, 0.0);
    e = post(31000, "owner2", "/api/v1/vehicles/" V1 "/commands/door.unlock");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 2);
    pawl_detector_free(d);
}

static void add_grant(struct pawl_grants *g, const char *who, const char *vin, int64_t since, const char *until)
{
    char line[256];
    struct pawl_diag dg = {0};
    int n = snprintf(line, sizeof line, "{\"principal\":\"%s\",\"vin\":\"%s\",\"role\":\"owner\",\"since\":%lld,"
                     "\"until\":%s}", who, vin, (long long)since, until);
    assert_int_equal(pawl_grants_add_line(g, line, (size_t)n, "t", 1, &dg), PAWL_OK);
}

/* new_account_command: a fresh account with fresh standing on a car its
 * owner still holds commands it; a buyer (the seller's grant ended), an
 * invited driver, an old account and traffic without grants stay quiet. */
static void test_new_account(void **state)
{
    (void)state;
    const int64_t H = 3600 * 1000LL, T = 100 * H;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_grants *g;
    struct pawl_detector *d;
    struct got got = {0};
    assert_int_equal(pawl_grants_new(86400000, &g), PAWL_OK);
    add_grant(g, "victim", V1, 0, "null");
    add_grant(g, "hijacker", V1, T, "null");          /* linked at registration, the owner's stays */
    add_grant(g, "seller", V2, 0, "360000000");       /* ends at T: sold */
    add_grant(g, "buyer", V2, T, "null");
    add_grant(g, "old-account", V1, T, "null");
    assert_int_equal(pawl_detector_new(&cfg, g, &d), PAWL_OK);
    struct pawl_api_event e = ev(T - 2 * H, "old-account", "/api/v1/me", 200, "7.7.7.7");
    pawl_detector_feed(d, &e, on_finding, &got);
    e = post(T + 60000, "buyer", "/api/v1/vehicles/" V2 "/commands/door.unlock");
    pawl_detector_feed(d, &e, on_finding, &got);
    e = post(T + 60000, "old-account", "/api/v1/vehicles/" V1 "/commands/door.unlock");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 0);
    e = ev(T + 30000, "hijacker", "/api/v1/vehicles/" V1 "/status", 200, "6.6.6.6");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 0); /* reading is not commanding */
    e = post(T + 90000, "hijacker", "/api/v1/vehicles/" V1 "/commands/engine.start");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "new_account_command");
    assert_string_equal(got.last.principal, "hijacker");
    assert_string_equal(got.last.owasp_uid, "API2:2023");
    pawl_detector_free(d);
    /* the owner shared the car first: the new account is invited */
    got.n = 0;
    assert_int_equal(pawl_detector_new(&cfg, g, &d), PAWL_OK);
    e = post(T - 60000, "victim", "/api/v1/vehicles/" V1 "/drivers");
    pawl_detector_feed(d, &e, on_finding, &got);
    e = post(T + 90000, "hijacker", "/api/v1/vehicles/" V1 "/commands/engine.start");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 0);
    pawl_detector_free(d);
    /* the owner's sharing went to someone else (their grant came first): not an invitation */
    struct pawl_grants *g2;
    assert_int_equal(pawl_grants_new(86400000, &g2), PAWL_OK);
    add_grant(g2, "victim", V1, 0, "null");
    add_grant(g2, "cousin", V1, T - 30000, "null");
    add_grant(g2, "hijacker", V1, T + 8 * H, "null");
    assert_int_equal(pawl_detector_new(&cfg, g2, &d), PAWL_OK);
    e = post(T - 60000, "victim", "/api/v1/vehicles/" V1 "/drivers");
    pawl_detector_feed(d, &e, on_finding, &got);
    e = post(T + 8 * H + 90000, "hijacker", "/api/v1/vehicles/" V1 "/commands/engine.start");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "new_account_command");
    pawl_detector_free(d);
    pawl_grants_free(g2);
    got.n = 0;
    /* without grants a new owner and a hijacker look the same: quiet */
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    e = post(T + 90000, "hijacker", "/api/v1/vehicles/" V1 "/commands/engine.start");
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 0);
    pawl_detector_free(d);
    pawl_grants_free(g);
}

/* off_hours_or_region, hours: a dealer that worked 08:00-17:59 UTC on two
 * days acts at 02:00; after one day a shop is not judged; an hour inside its
 * working hours, one within an hour of them, and a desk open around the
 * clock stay quiet. */
static void test_staff_hours(void **state)
{
    (void)state;
    const int64_t H = 3600 * 1000LL, DAY0 = 20000 * 24 * H; /* a UTC midnight */
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d;
    struct got got = {0};
    pawl_str dealer = {"dealer", 6}, support = {"support", 7};
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    for (int i = 0; i < 40; i++) { /* 08:00 to 17:45, the first day */
        struct pawl_api_event e = ev(DAY0 + 8 * H + i * 15 * 60000, "shop", "/api/v1/dealer/jobs", 200, "5.5.5.5");
        e.roles[0] = dealer;
        e.nroles = 1;
        struct pawl_api_event o = ev(DAY0 + i * 36 * 60000, "desk", "/api/v1/support/tickets", 200, "5.5.5.6");
        o.roles[0] = support;
        o.nroles = 1;
        pawl_detector_feed(d, &e, on_finding, &got);
        pawl_detector_feed(d, &o, on_finding, &got);
    }
    assert_int_equal(got.n, 0);
    struct pawl_api_event e = ev(DAY0 + 26 * H, "shop-2", "/api/v1/dealer/jobs", 200, "5.5.5.5");
    e.roles[0] = dealer;
    e.nroles = 1;
    for (int i = 0; i < 40; i++) { /* another shop, one day's work, then 02:00: no profile yet */
        e.time_ms = DAY0 + 8 * H + i * 15 * 60000;
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    e.time_ms = DAY0 + 26 * H;
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 0);
    e.principal = (pawl_str){"shop", 4};
    for (int i = 0; i < 10; i++) { /* the second day, 09:00 to 11:15, then 13:30: inside its hours */
        e.time_ms = DAY0 + 33 * H + i * 15 * 60000;
        pawl_detector_feed(d, &e, on_finding, &got);
    }
    e.time_ms = DAY0 + 37 * H + 30 * 60000;
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 0);
    struct pawl_api_event late = ev(DAY0 + 42 * H + 30 * 60000, "shop", "/api/v1/dealer/jobs", 200, "5.5.5.5");
    late.roles[0] = dealer;
    late.nroles = 1;
    pawl_detector_feed(d, &late, on_finding, &got);
    assert_int_equal(got.n, 0); /* the hour after the last hour worked */
    struct pawl_api_event night = ev(DAY0 + 50 * H, "shop", "/api/v1/dealer/vehicles/" V1 "/key-codes", 200,
                                     "5.5.5.5");
    night.roles[0] = dealer;
    night.nroles = 1;
    pawl_detector_feed(d, &night, on_finding, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "off_hours_or_region");
    assert_string_equal(got.last.principal, "shop");
    assert_non_null(strstr(got.last.title, "02:00 UTC"));
    struct pawl_api_event desk = ev(DAY0 + 50 * H, "desk", "/api/v1/support/tickets", 200, "5.5.5.6");
    desk.roles[0] = support;
    desk.nroles = 1;
    pawl_detector_feed(d, &desk, on_finding, &got); /* 00:00 to 23:24: no working hours to leave */
    assert_int_equal(got.n, 1);
    pawl_detector_free(d);
}

static void test_staff_and_bulk(void **state)
{
    (void)state;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *d;
    struct got got = {0};
    pawl_str support = {"support", 7};
    assert_int_equal(pawl_detector_new(&cfg, NULL, &d), PAWL_OK);
    struct pawl_api_event e = ev(1000, "agent", "/api/v1/support/tickets", 200, "5.5.5.5");
    e.roles[0] = support;
    e.nroles = 1;
    e.country = (pawl_str){"DE", 2};
    pawl_detector_feed(d, &e, on_finding, &got);
    e.time_ms = 2000;
    pawl_detector_feed(d, &e, on_finding, &got); /* at home */
    struct pawl_api_event o = ev(3000, "owner", "/api/v1/me", 200, "5.5.5.6");
    o.country = (pawl_str){"FR", 2};              /* owners travel */
    pawl_detector_feed(d, &o, on_finding, &got);
    o.country = (pawl_str){"IT", 2};
    pawl_detector_feed(d, &o, on_finding, &got);
    assert_int_equal(got.n, 0);
    e.time_ms = 4000;
    e.country = (pawl_str){"BR", 2};
    pawl_detector_feed(d, &e, on_finding, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.last.detector, "off_hours_or_region");
    for (int i = 0; i < 7; i++) { /* 7 x 3 MB of trips: over 20 MB in an hour */
        struct pawl_api_event h = ev(5000 + i, "scraper", "/api/v1/vehicles/" V1 "/trips/history", 200, "5.5.5.7");
        h.resp_len = 3000000;
        pawl_detector_feed(d, &h, on_finding, &got);
        assert_int_equal(got.n, i < 6 ? 1 : 2);
    }
    assert_string_equal(got.last.detector, "excessive_data_exposure");
    pawl_detector_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detector_names),
        cmocka_unit_test(test_bola),
        cmocka_unit_test(test_enumeration_and_stuffing),
        cmocka_unit_test(test_addresses_and_text),
        cmocka_unit_test(test_vehicle_rules),
        cmocka_unit_test(test_new_account),
        cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_staff_hours),
        cmocka_unit_test(test_staff_and_bulk),
        cmocka_unit_test(test_idle_give_way),
        cmocka_unit_test(test_give_way_waves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
