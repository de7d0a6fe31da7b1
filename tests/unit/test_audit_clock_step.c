/* The audit trail's background sync thread when the wall clock steps back
 * (an NTP step; linked with -Wl,--wrap=clock_gettime, which makes
 * CLOCK_REALTIME read an hour later than the kernel's clock once `stepped`
 * is set, as a process sees it after a step back of an hour). Its waits
 * (the 100 ms pace between fsyncs, an anchor's retry) run on the monotonic
 * clock: on the wall clock every fsync and anchor after the step waited
 * that hour (review finding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_log.h"
#include "helper_common.h"

static volatile bool stepped;

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    int rc = __real_clock_gettime(clk, ts);
    if (rc == 0 && stepped && clk == CLOCK_REALTIME)
        ts->tv_sec += 3600;
    return rc;
}

/* the log's last line */
static void last_line(const char *path, char *out, size_t cap)
{
    char line[2048];
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        snprintf(out, cap, "%s", line);
    fclose(f);
}

static void test_anchor_after_clock_step(void **state)
{
    (void)state;
    char dir[] = "/tmp/pawl-test-clock-XXXXXX", path[128], anchor[160], key[4200], err[512];
    char body[64], now[2048], last[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/audit.log", dir);
    snprintf(anchor, sizeof anchor, "%s.anchor", path);
    snprintf(key, sizeof key, "%s/examples/keys/audit-ed25519.pem", getenv("PAWL_SRC"));
    struct pawl_audit_log *l;
    assert_int_equal(pawl_audit_log_open(path, key, 1, -1, false, &l, err, sizeof err), 0);
    assert_int_equal(pawl_audit_log_sync_in_background(l, 0, err, sizeof err), 0);
    int64_t t = (int64_t)time(NULL) * 1000 + 7200000; /* record times past the step */
    struct pawl_audit_item it = {t, "event", body, 0, false};
    it.n = (size_t)snprintf(body, sizeof body, "{\"i\":0}");
    assert_int_equal(pawl_audit_log_append_many(l, &it, 1, err, sizeof err), 0);
    stepped = true;
    for (int i = 1; i <= 10; i++) { /* a checkpoint after each */
        it.time_ms = t + i;
        it.n = (size_t)snprintf(body, sizeof body, "{\"i\":%d}", i);
        assert_int_equal(pawl_audit_log_append_many(l, &it, 1, err, sizeof err), 0);
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    last_line(path, last, sizeof last);
    assert_non_null(strstr(last, "\"kind\":\"checkpoint\""));
    th_read_text(anchor, now, sizeof now);
    for (int i = 0; i < 200 && strcmp(now, last) != 0; i++) { /* up to 2 s */
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        th_read_text(anchor, now, sizeof now);
    }
    assert_string_equal(now, last);
    assert_int_equal(pawl_audit_log_close(l, t + 1000, err, sizeof err), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anchor_after_clock_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
