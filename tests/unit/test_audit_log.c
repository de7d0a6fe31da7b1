/* Unit tests for the audit trail on disk (src/host/audit_log.h) when writes
 * fail: a batch that does not fit (a full disk, simulated with RLIMIT_FSIZE,
 * which fails writes past a size with EFBIG as ENOSPC would) leaves none of
 * its records in the file, the log stays usable, and once there is room the
 * chain goes on and verifies. A batch is answered as written only if it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit_log.h"
#include "helper_common.h"

static char dir[64], log_path[128];
static int64_t t0; /* record times: after the genesis, which the open stamps with the clock */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pawl-test-audit-log-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(log_path, sizeof log_path, "%s/audit.log", dir);
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
    t0 = (int64_t)time(NULL) * 1000 + 60000;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static off_t size_of(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void set_fsize(rlim_t n)
{
    struct rlimit r;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &r), 0);
    r.rlim_cur = n < r.rlim_max ? n : r.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &r), 0);
}

/* n decision records of about 600 bytes each, tagged with tag */
static int append(struct pawl_audit_log *l, const char *tag, int n, char *err, size_t errlen)
{
    static char bodies[8][700];
    struct pawl_audit_item items[8];
    assert_true(n <= 8);
    for (int i = 0; i < n; i++) {
        int len = snprintf(bodies[i], sizeof bodies[i], "{\"id\":\"%s-%d\",\"pad\":\"%0560d\"}", tag, i, 0);
        items[i] = (struct pawl_audit_item){t0 + i, "decision", bodies[i], (size_t)len, false};
    }
    return pawl_audit_log_append_many(l, items, (size_t)n, err, errlen);
}

/* The log at path verifies in full with key's public half and its anchor,
 * without a torn tail. */
static void verify_log(const char *path, const char *key)
{
    char err[512], anchor[300];
    uint8_t pub[PAWL_AUDIT_KEY_LEN];
    EVP_PKEY *k = pawl__audit_load_key(key, true, pub, err, sizeof err);
    assert_non_null(k);
    EVP_PKEY_free(k);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct pawl__audit_scan s;
    snprintf(anchor, sizeof anchor, "%s.anchor", path);
    if (pawl__audit_scan(fd, path, pub, anchor, true, &s) != 0)
        fail_msg("%s", s.msg);
    assert_false(s.torn);
    pawl__audit_scan_free(&s);
    close(fd);
}

static void test_full_disk_keeps_none_of_a_batch(void **state)
{
    (void)state;
    char err[512], key[4200];
    struct pawl_audit_log *l;
    const char *src = getenv("PAWL_SRC");
    assert_non_null(src);
    snprintf(key, sizeof key, "%s/examples/keys/audit-ed25519.pem", src);
    assert_int_equal(pawl_audit_log_open(log_path, key, 0, -1, false, &l, err, sizeof err), 0);
    assert_int_equal(append(l, "a", 4, err, sizeof err), 0);
    off_t after_a = size_of(log_path);
    /* room for about one record more: the next batch of four is cut short */
    set_fsize((rlim_t)after_a + 700);
    assert_int_equal(append(l, "b", 4, err, sizeof err), -1);
    assert_non_null(strstr(err, "none of these records is in it"));
    assert_int_equal(size_of(log_path), after_a);
    assert_int_equal(append(l, "c", 4, err, sizeof err), -1); /* still full: still nothing */
    assert_int_equal(size_of(log_path), after_a);
    /* room again: the chain goes on from batch a */
    set_fsize(RLIM_INFINITY);
    assert_int_equal(append(l, "d", 4, err, sizeof err), 0);
    assert_int_equal(pawl_audit_log_close(l, t0 + 1000, err, sizeof err), 0);
    /* whole and verified; no record of b or c */
    verify_log(log_path, key);
    FILE *f = fopen(log_path, "r");
    char line[2048];
    int a = 0, d = 0, bc = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        a += strstr(line, "\"id\":\"a-") != NULL;
        d += strstr(line, "\"id\":\"d-") != NULL;
        bc += strstr(line, "\"id\":\"b-") != NULL || strstr(line, "\"id\":\"c-") != NULL;
    }
    fclose(f);
    assert_int_equal(a, 4);
    assert_int_equal(d, 4);
    assert_int_equal(bc, 0);
}

static size_t lines_of(const char *p, const char *kind)
{
    FILE *f = fopen(p, "r");
    char line[2048];
    size_t n = 0;
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        n += kind == NULL || strstr(line, kind) != NULL;
    fclose(f);
    return n;
}

/* Records left unsigned by a burst are signed by a tick once every_ms has
 * passed, without waiting for the next record; a deleted log is unusable. */
static void test_tick_signs_and_sees_deletion(void **state)
{
    (void)state;
    char err[512], key[4200], path[160];
    struct pawl_audit_log *l;
    snprintf(key, sizeof key, "%s/examples/keys/audit-ed25519.pem", getenv("PAWL_SRC"));
    snprintf(path, sizeof path, "%s/tick.log", dir);
    assert_int_equal(pawl_audit_log_open(path, key, 0, 200, false, &l, err, sizeof err), 0);
    assert_int_equal(append(l, "t", 3, err, sizeof err), 0); /* record times t0 + i */
    size_t cps = lines_of(path, "\"kind\":\"checkpoint\"");
    assert_int_equal(pawl_audit_log_tick(l, t0 + 100, err, sizeof err), 0);
    assert_int_equal(lines_of(path, "\"kind\":\"checkpoint\""), cps); /* not due yet */
    assert_int_equal(pawl_audit_log_tick(l, t0 + 300, err, sizeof err), 0);
    assert_int_equal(lines_of(path, "\"kind\":\"checkpoint\""), cps + 1);
    size_t all = lines_of(path, NULL);
    assert_int_equal(pawl_audit_log_tick(l, t0 + 900, err, sizeof err), 0);
    assert_int_equal(lines_of(path, NULL), all); /* nothing unsigned: nothing written */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(pawl_audit_log_tick(l, t0 + 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "was deleted"));
    assert_int_equal(append(l, "u", 1, err, sizeof err), -1);
    (void)pawl_audit_log_close(l, t0 + 1000, err, sizeof err); /* frees it; nothing more to write */
}

/* In background mode an anchor that cannot be written (on a full disk the
 * anchor, a new file, fails where the log still has room in its last block;
 * here its temporary file's name is taken by a directory) does not make the
 * log unusable for good: appends go on, the log says it is not usable while
 * the anchor lags, and the anchor is tried again each second until it is
 * written (review finding: pawld refused every request until restarted). */
static void test_anchor_retried(void **state)
{
    (void)state;
    char err[512], key[4200], path[160], tmpdir[256], why[512];
    struct pawl_audit_log *l;
    snprintf(key, sizeof key, "%s/examples/keys/audit-ed25519.pem", getenv("PAWL_SRC"));
    snprintf(path, sizeof path, "%s/anchor.log", dir);
    snprintf(tmpdir, sizeof tmpdir, "%s.anchor.tmp.%ld", path, (long)getpid());
    assert_int_equal(pawl_audit_log_open(path, key, 2, -1, false, &l, err, sizeof err), 0);
    assert_int_equal(pawl_audit_log_sync_in_background(l, 0, err, sizeof err), 0);
    assert_int_equal(mkdir(tmpdir, 0700), 0);
    assert_int_equal(append(l, "x", 3, err, sizeof err), 0); /* checkpoints among them */
    bool usable = true;
    for (int i = 0; i < 100 && usable; i++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        usable = pawl_audit_log_usable(l, why, sizeof why);
    }
    assert_false(usable);
    assert_non_null(strstr(why, "anchor lags"));
    assert_int_equal(append(l, "y", 3, err, sizeof err), 0); /* the log itself is fine */
    assert_int_equal(rmdir(tmpdir), 0);
    for (int i = 0; i < 300 && !usable; i++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        usable = pawl_audit_log_usable(l, why, sizeof why);
    }
    assert_true(usable);
    assert_int_equal(pawl_audit_log_close(l, t0 + 1000, err, sizeof err), 0);
    verify_log(path, key);
}

/* The anchor file's contents, "" when absent */
static void read_anchor(const char *path, char *out, size_t cap)
{
    char a[200];
    snprintf(a, sizeof a, "%s.anchor", path);
    th_read_text(a, out, cap);
}

/* In background mode the log is fsynced and anchored at most ten times a
 * second however many checkpoints come (under load pawld writes one each
 * 1,000 records, dozens a second per worker, and each took an fsync, a new
 * file, a rename and a directory fsync); the newest checkpoint is anchored
 * soon after, and at close. */
/* A checkpoint after every record for 600 ms: anchored once at first, then
 * at most once per gap (0: the default, 100 ms), and the last one soon. */
static void check_paced(int64_t gap_ms, const char *name)
{
    char err[512], key[4200], path[160], seen[600], now[600];
    struct pawl_audit_log *l;
    int64_t gap = gap_ms > 0 ? gap_ms : 100;
    snprintf(key, sizeof key, "%s/examples/keys/audit-ed25519.pem", getenv("PAWL_SRC"));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(pawl_audit_log_open(path, key, 1, -1, false, &l, err, sizeof err), 0);
    assert_int_equal(pawl_audit_log_sync_in_background(l, gap_ms, err, sizeof err), 0);
    read_anchor(path, seen, sizeof seen);
    struct timespec start, t;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int anchors = 0, appends = 0;
    double ms;
    do {
        assert_int_equal(append(l, "p", 1, err, sizeof err), 0);
        appends++;
        read_anchor(path, now, sizeof now);
        if (strcmp(now, seen) != 0) {
            anchors++;
            memcpy(seen, now, sizeof seen);
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        ms = (double)(t.tv_sec - start.tv_sec) * 1e3 + (double)(t.tv_nsec - start.tv_nsec) / 1e6;
    } while (ms < 600);
    print_message("gap %lld ms: %d checkpoints, %d anchors in %.0f ms\n", (long long)gap, appends,
                  anchors, ms);
    assert_true(anchors >= 1);
    assert_true(anchors <= 1 + (int)(ms / (double)gap)); /* the first, then one per gap */
    /* the newest checkpoint (the log's last line) is anchored soon after */
    char last[2048] = "", line[2048];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        memcpy(last, line, sizeof last);
    fclose(f);
    assert_non_null(strstr(last, "\"kind\":\"checkpoint\""));
    for (int i = 0; i < 300 && strcmp(now, last) != 0; i++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        read_anchor(path, now, sizeof now);
    }
    assert_string_equal(now, last);
    assert_int_equal(pawl_audit_log_close(l, t0 + 1000, err, sizeof err), 0);
    verify_log(path, key);
}

static void test_anchor_paced(void **state)
{
    (void)state;
    check_paced(0, "paced.log");
}

/* logs.audit_sync: a longer gap, fewer anchors */
static void test_anchor_gap(void **state)
{
    (void)state;
    check_paced(250, "gap.log");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk_keeps_none_of_a_batch),
        cmocka_unit_test(test_tick_signs_and_sees_deletion),
        cmocka_unit_test(test_anchor_retried),
        cmocka_unit_test(test_anchor_paced),
        cmocka_unit_test(test_anchor_gap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
