/* The file-backed replay store: admit() semantics, durability, torn tails,
 * corruption, compaction, capacity, and several processes and threads at once.
 *
 * Hidden modes for tests/integration/test_edge_store_crash.sh (not cmocka):
 *   test_edge_store_file --crash-writer DIR COMPACT_AT RETAIN
 *   test_edge_store_file --crash-check DIR RETAIN PRINTED_FILE */
#include "helper_common.h"
#include "pawl/edge_store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REC 40u
#define WIN 150u

static struct pawl_edge_file_store S1, S2;
static char dir[256];

/* ---- an independent writer of the documented format ------------------------------ */

static uint64_t t_fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    while (n--)
        h = (h ^ *p++) * 0x100000001b3u;
    return h;
}

static void t_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void t_header(uint8_t *s, uint32_t version)
{
    memset(s, 0, REC);
    memcpy(s, "PAWLRPLY", 8);
    s[8] = (uint8_t)version;
    s[12] = REC;
    t_le64(s + 32, t_fnv(s, 32));
}

static void t_cti(uint8_t *c, unsigned k)
{
    memset(c, 0x5a, PAWL_EDGE_CTI_LEN);
    c[0] = (uint8_t)k;
    c[1] = (uint8_t)(k >> 8);
    c[2] = (uint8_t)(k >> 16);
}

static void t_record(uint8_t *s, unsigned k, uint64_t seq, uint64_t at)
{
    t_cti(s, k);
    t_le64(s + 16, seq);
    t_le64(s + 24, at);
    t_le64(s + 32, t_fnv(s, 32));
}

/* ---- helpers ------------------------------------------------------------------------ */

static const char *log_path(void)
{
    static char p[300];
    snprintf(p, sizeof p, "%s/replay.log", dir);
    return p;
}

static uint8_t *slurp(size_t *n)
{
    static uint8_t buf[(PAWL_EDGE_FILE_STORE_MAX + 2) * REC];
    int fd = open(log_path(), O_RDONLY);
    assert_true(fd >= 0);
    ssize_t r = read(fd, buf, sizeof buf);
    assert_true(r >= 0);
    close(fd);
    *n = (size_t)r;
    return buf;
}

static void spit(const uint8_t *p, size_t n)
{
    int fd = open(log_path(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static off_t log_size(void)
{
    struct stat st;
    assert_int_equal(stat(log_path(), &st), 0);
    return st.st_size;
}

static void store_open(struct pawl_edge_file_store *fs)
{
    char err[256];
    if (pawl_edge_file_store_open(fs, dir, err, sizeof err) != 0)
        fail_msg("open: %s", err);
}

static int admit_rc(struct pawl_edge_file_store *fs, unsigned k, uint64_t seq, uint64_t now,
                    uint64_t win, bool rec, enum pawl_edge_admit *a)
{
    uint8_t c[PAWL_EDGE_CTI_LEN];
    struct pawl_edge_store st = pawl_edge_file_store(fs);
    t_cti(c, k);
    return st.admit(st.ctx, c, seq, now, win, rec, a);
}

static enum pawl_edge_admit adm(struct pawl_edge_file_store *fs, unsigned k, uint64_t seq,
                                uint64_t now, bool rec)
{
    enum pawl_edge_admit a;
    if (admit_rc(fs, k, seq, now, WIN, rec, &a) != 0)
        fail_msg("admit: %s", pawl_edge_file_store_error(fs));
    return a;
}

#define FRESH PAWL_EDGE_ADMIT_FRESH
#define REPLAY PAWL_EDGE_ADMIT_REPLAY
#define STALE PAWL_EDGE_ADMIT_STALE

static void open_fails(const char *want1, const char *want2)
{
    char err[256];
    assert_int_equal(pawl_edge_file_store_open(&S1, dir, err, sizeof err), -1);
    if (strstr(err, want1) == NULL || strstr(err, want2) == NULL)
        fail_msg("error '%s' lacks '%s' or '%s'", err, want1, want2);
}

static int setup(void **s)
{
    (void)s;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/pawl-store-XXXXXX", t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    const char *names[] = { "replay.log", "replay.lock", "replay.tmp" };
    char p[300];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    return rmdir(dir);
}

/* ---- semantics ---------------------------------------------------------------------- */

static void test_fresh_replay_stale(void **s)
{
    (void)s;
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 5, 1000, true), FRESH);
    assert_int_equal(adm(&S1, 1, 6, 1001, true), REPLAY);   /* seen: replay wins */
    assert_int_equal(adm(&S1, 2, 5, 1001, true), STALE);    /* equal seq */
    assert_int_equal(adm(&S1, 2, 4, 1001, true), STALE);
    assert_int_equal(adm(&S1, 2, 6, 1001, true), FRESH);
    assert_int_equal(adm(&S1, 2, 7, 1002, true), REPLAY);
    assert_int_equal(adm(&S1, 3, 6, 1002, true), STALE);
    assert_string_equal(pawl_edge_file_store_error(&S1), "");
    pawl_edge_file_store_close(&S1);
}

static void test_first_seq_any(void **s)
{
    (void)s;
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 0, 1000, true), FRESH); /* nothing accepted yet */
    assert_int_equal(adm(&S1, 2, 0, 1000, true), STALE);
    pawl_edge_file_store_close(&S1);
}

static void test_window_expiry(void **s)
{
    (void)s;
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 1, 1000, true), FRESH);
    assert_int_equal(adm(&S1, 1, 2, 1000 + WIN - 1, false), REPLAY);
    assert_int_equal(adm(&S1, 1, 2, 1000 + WIN, false), FRESH);
    assert_int_equal(adm(&S1, 1, 1, 1000 + WIN, false), STALE);
    /* accepted again after expiry: seen from the new time on */
    assert_int_equal(adm(&S1, 1, 2, 1000 + WIN, true), FRESH);
    assert_int_equal(adm(&S1, 1, 3, 1000 + 2 * WIN - 1, false), REPLAY);
    pawl_edge_file_store_close(&S1);
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 3, 1000 + 2 * WIN - 1, false), REPLAY);
    pawl_edge_file_store_close(&S1);
}

static void test_clock_back(void **s)
{
    (void)s;
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 1, 1000, true), FRESH);
    assert_int_equal(adm(&S1, 1, 2, 10, false), REPLAY); /* seen "in the future" */
    assert_int_equal(adm(&S1, 1, 2, 0, false), REPLAY);
    assert_int_equal(adm(&S1, 2, 2, 10, true), FRESH);
    assert_int_equal(adm(&S1, 2, 3, 10 + 10 * WIN, false), FRESH);
    pawl_edge_file_store_close(&S1);
}

static void test_record_false(void **s)
{
    (void)s;
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 10, 1000, false), FRESH);
    assert_int_equal(adm(&S1, 1, 10, 1000, false), FRESH);
    assert_int_equal(log_size(), (off_t)REC);
    pawl_edge_file_store_close(&S1);
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 10, 1000, true), FRESH);
    assert_int_equal(adm(&S1, 2, 9, 1000, false), STALE);
    pawl_edge_file_store_close(&S1);
}

static void test_reopen(void **s)
{
    (void)s;
    store_open(&S1);
    for (unsigned k = 1; k <= 20; k++)
        assert_int_equal(adm(&S1, k, k, 1000 + k, true), FRESH);
    pawl_edge_file_store_close(&S1);
    store_open(&S1);
    for (unsigned k = 1; k <= 20; k++)
        assert_int_equal(adm(&S1, k, 100, 1030, false), REPLAY);
    assert_int_equal(adm(&S1, 21, 20, 1030, false), STALE);
    assert_int_equal(adm(&S1, 21, 21, 1030, false), FRESH);
    pawl_edge_file_store_close(&S1);
}

/* The bytes on disk are the documented format, written by hand here. */
static void test_format(void **s)
{
    (void)s;
    uint8_t want[3 * REC];
    size_t n;
    store_open(&S1);
    assert_int_equal(adm(&S1, 7, 0x0102030405060708u, 0x1112131415161718u, true), FRESH);
    pawl_edge_file_store_close(&S1);
    t_header(want, 1);
    t_record(want + REC, 7, 0x0102030405060708u, 0x1112131415161718u);
    uint8_t *got = slurp(&n);
    assert_int_equal(n, 2 * REC);
    assert_memory_equal(got, want, 2 * REC);
    /* and a file written by hand is read */
    t_record(want + 2 * REC, 8, 0x0102030405060709u, 5000);
    spit(want, sizeof want);
    store_open(&S1);
    assert_int_equal(adm(&S1, 8, UINT64_MAX, 5000 + WIN - 1, false), REPLAY);
    assert_int_equal(adm(&S1, 9, 0x0102030405060709u, 5000, false), STALE);
    pawl_edge_file_store_close(&S1);
}

/* ---- damage ------------------------------------------------------------------------- */

static void write_five(void)
{
    store_open(&S1);
    for (unsigned k = 1; k <= 5; k++)
        assert_int_equal(adm(&S1, k, k, 1000, true), FRESH);
    pawl_edge_file_store_close(&S1);
}

/* Opens a log cut or damaged in its last record: records 1-4 still count,
 * record 5 is gone, and the next append lands where it was. */
static void check_torn(const uint8_t *orig, size_t len)
{
    spit(orig, len);
    store_open(&S1);
    for (unsigned k = 1; k <= 4; k++)
        assert_int_equal(adm(&S1, k, 100, 1001, false), REPLAY);
    assert_int_equal(adm(&S1, 5, 5, 1001, false), FRESH); /* last seq is 4 again */
    assert_int_equal(log_size(), (off_t)(5 * REC));     /* tail cut */
    assert_int_equal(adm(&S1, 6, 6, 1001, true), FRESH);
    pawl_edge_file_store_close(&S1);
    assert_int_equal(log_size(), (off_t)(6 * REC));
    store_open(&S1);
    assert_int_equal(adm(&S1, 6, 100, 1001, false), REPLAY);
    assert_int_equal(adm(&S1, 4, 100, 1001, false), REPLAY);
    pawl_edge_file_store_close(&S1);
}

static void test_torn_tail(void **s)
{
    (void)s;
    uint8_t orig[6 * REC];
    size_t n;
    write_five();
    memcpy(orig, slurp(&n), sizeof orig);
    assert_int_equal(n, sizeof orig);
    for (size_t cut = 1; cut <= REC; cut++)
        check_torn(orig, sizeof orig - cut);
    /* a full-length last record with a bad check is a torn write too */
    for (size_t at = 5 * REC; at < 6 * REC; at += 7) {
        orig[at] ^= 0x40;
        check_torn(orig, sizeof orig);
        orig[at] ^= 0x40;
    }
    memset(orig + 5 * REC, 0, REC); /* zeros, as a power loss may leave */
    check_torn(orig, sizeof orig);
}

static void test_corruption_refused(void **s)
{
    (void)s;
    uint8_t orig[7 * REC];
    size_t n;
    write_five();
    memcpy(orig, slurp(&n), 6 * REC);
    orig[2 * REC + 3] ^= 1;
    spit(orig, 6 * REC);
    open_fails("replay.log", "record 2 (byte 80) has a bad checksum");
    open_fails(dir, "corrupted");
    /* a bad last record with bytes after it was not a torn append */
    orig[2 * REC + 3] ^= 1;
    orig[5 * REC] ^= 1;
    spit(orig, 6 * REC + 3);
    open_fails("replay.log", "record 5");
    orig[5 * REC] ^= 1;
    t_header(orig, 2);
    spit(orig, 6 * REC);
    open_fails("replay.log", "unsupported version 2");
    orig[0] = 'X';
    spit(orig, 6 * REC);
    open_fails("replay.log", "bad magic");
    t_header(orig, 1);
    orig[20] = 1;
    spit(orig, 6 * REC);
    open_fails("replay.log", "header has a bad checksum");
    spit(orig, 0);
    open_fails("replay.log", "shorter than its 40-byte header");
}

/* Damage appended by someone else is found by the next admit, which fails
 * (and keeps failing), never answers FRESH. */
static void test_corruption_while_open(void **s)
{
    (void)s;
    uint8_t r[2 * REC];
    enum pawl_edge_admit a = FRESH;
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 1, 1000, true), FRESH);
    t_record(r, 2, 2, 1000);
    t_record(r + REC, 3, 3, 1000);
    r[17] ^= 0x80;
    int fd = open(log_path(), O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, r, sizeof r), (ssize_t)sizeof r);
    close(fd);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(admit_rc(&S1, 9, 9, 1000, WIN, true, &a), -1);
        assert_int_not_equal(a, FRESH);
        assert_non_null(strstr(pawl_edge_file_store_error(&S1), "record 2 (byte 80) has a bad"));
    }
    assert_int_equal(log_size(), (off_t)(4 * REC)); /* nothing appended */
    pawl_edge_file_store_close(&S1);
}

static void test_log_removed(void **s)
{
    (void)s;
    enum pawl_edge_admit a;
    store_open(&S1);
    assert_int_equal(adm(&S1, 1, 1, 1000, true), FRESH);
    assert_int_equal(unlink(log_path()), 0);
    assert_int_equal(admit_rc(&S1, 2, 2, 1000, WIN, false, &a), -1);
    assert_non_null(strstr(pawl_edge_file_store_error(&S1), "replay.log: missing"));
    pawl_edge_file_store_close(&S1);
}

static void test_open_errors(void **s)
{
    (void)s;
    char err[256], small[12], bad[300];
    snprintf(bad, sizeof bad, "%s/no/such", dir);
    assert_int_equal(pawl_edge_file_store_open(&S1, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, bad));
    assert_non_null(strstr(err, "create directory"));
    assert_int_equal(pawl_edge_file_store_open(&S1, bad, small, sizeof small), -1);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(pawl_edge_file_store_open(&S1, bad, NULL, 0), -1);
    pawl_edge_file_store_close(&S1); /* harmless after a failed open */
    /* a file where the directory should be */
    spit((const uint8_t *)"x", 1);
    assert_int_equal(pawl_edge_file_store_open(&S1, log_path(), err, sizeof err), -1);
    assert_non_null(strstr(err, "open directory"));
    unlink(log_path());
    /* a directory that is created is private */
    snprintf(bad, sizeof bad, "%s/sub", dir);
    assert_int_equal(pawl_edge_file_store_open(&S2, bad, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(bad, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    pawl_edge_file_store_close(&S2);
    char p[320];
    snprintf(p, sizeof p, "%s/replay.log", bad);
    unlink(p);
    snprintf(p, sizeof p, "%s/replay.lock", bad);
    unlink(p);
    assert_int_equal(rmdir(bad), 0);
}

/* ---- bounds ------------------------------------------------------------------------- */

static void test_compaction(void **s)
{
    (void)s;
    store_open(&S1);
    store_open(&S2); /* a second opener sees the renamed log */
    S1.compact_at = 8;
    S1.retain_s = 50; /* kept: younger than max(window, 50) */
    for (unsigned k = 1; k <= 40; k++) {
        enum pawl_edge_admit a;
        assert_int_equal(admit_rc(&S1, k, k, 1000 + 10 * k, 30, true, &a), 0);
        assert_int_equal(a, FRESH);
        assert_true(log_size() <= (off_t)(9 * REC));
        assert_int_equal(adm(&S2, k, 100, 1000 + 10 * k, false), REPLAY);
    }
    /* the last 5 are kept (10..40 s old at the last compaction) */
    for (unsigned k = 36; k <= 40; k++)
        assert_int_equal(adm(&S2, k, 100, 1400, false), REPLAY);
    for (unsigned k = 1; k <= 40; k++)
        assert_int_not_equal(adm(&S2, k, k, 1400, false), FRESH);
    pawl_edge_file_store_close(&S1);
    store_open(&S1);
    assert_int_equal(adm(&S1, 40, 100, 1400, false), REPLAY);
    assert_int_equal(adm(&S1, 99, 40, 1400, false), STALE);
    /* far later every entry expires but the last seq survives */
    S1.compact_at = 0;
    assert_int_equal(adm(&S1, 99, 41, 1000000, true), FRESH);
    assert_int_equal(log_size(), (off_t)(3 * REC)); /* header, seq 40, seq 41 */
    assert_int_equal(adm(&S1, 100, 42, 2000000, true), FRESH);
    assert_int_equal(log_size(), (off_t)(3 * REC)); /* header, seq 41, seq 42 */
    assert_int_equal(adm(&S2, 101, 42, 3000000, false), STALE);
    pawl_edge_file_store_close(&S1);
    store_open(&S1);
    assert_int_equal(adm(&S1, 101, 42, 3000000, false), STALE);
    assert_int_equal(adm(&S1, 100, 43, 2000000, false), REPLAY);
    pawl_edge_file_store_close(&S1);
    pawl_edge_file_store_close(&S2);
}

/* A log full of tokens inside the retention refuses to record one more,
 * rather than forget one; it makes room once they expire. */
static void test_capacity(void **s)
{
    (void)s;
    static uint8_t buf[(PAWL_EDGE_FILE_STORE_MAX + 1) * REC];
    enum pawl_edge_admit a = FRESH;
    t_header(buf, 1);
    for (unsigned k = 1; k <= PAWL_EDGE_FILE_STORE_MAX; k++)
        t_record(buf + k * REC, k, k, 1000);
    spit(buf, sizeof buf);
    store_open(&S1);
    S1.retain_s = 0;
    assert_int_equal(admit_rc(&S1, 0, 1u << 20, 1000 + WIN - 1, WIN, true, &a), -1);
    assert_int_not_equal(a, FRESH);
    assert_non_null(strstr(pawl_edge_file_store_error(&S1), "full"));
    assert_int_equal(log_size(), (off_t)sizeof buf);
    /* deciding without recording needs no room */
    assert_int_equal(adm(&S1, 0, 1u << 20, 1000 + WIN - 1, false), FRESH);
    assert_int_equal(adm(&S1, PAWL_EDGE_FILE_STORE_MAX, 1u << 20, 1000 + WIN - 1, false), REPLAY);
    /* the default retention (24 h) holds them longer than the window */
    pawl_edge_file_store_close(&S1);
    store_open(&S1);
    assert_int_equal(admit_rc(&S1, 0, 1u << 20, 1000 + WIN, WIN, true, &a), -1);
    S1.retain_s = 0;
    assert_int_equal(adm(&S1, 0, 1u << 20, 1000 + WIN, true), FRESH);
    assert_int_equal(log_size(), (off_t)(3 * REC));
    assert_int_equal(adm(&S1, 1, 5, 1000 + WIN, false), STALE);
    pawl_edge_file_store_close(&S1);
}

/* ---- concurrency -------------------------------------------------------------------- */

#define NPROC 4

/* Child i admits (k, seq) once every child is ready; the exit code is the
 * answer, 9 on failure. Odd children use the store opened before fork(). */
static void child(int i, int go, unsigned k, uint64_t seq)
{
    char c;
    struct pawl_edge_file_store *fs = &S1;
    if (i % 2 == 0) {
        char err[256];
        fs = &S2;
        if (pawl_edge_file_store_open(fs, dir, err, sizeof err) != 0)
            _exit(9);
    }
    if (read(go, &c, 1) != 0)
        _exit(9);
    enum pawl_edge_admit a;
    if (admit_rc(fs, k, seq, 1000, WIN, true, &a) != 0)
        _exit(9);
    _exit((int)a);
}

/* Runs NPROC children; child i admits cti k + i*dk with seq `seq`.
 * counts[answer] is filled. */
static void race(unsigned k, unsigned dk, uint64_t seq, int counts[10])
{
    int p[2];
    pid_t pid[NPROC];
    assert_int_equal(pipe(p), 0);
    for (int i = 0; i < NPROC; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            close(p[1]);
            child(i, p[0], k + (unsigned)i * dk, seq);
        }
    }
    close(p[0]);
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    close(p[1]); /* go */
    memset(counts, 0, 10 * sizeof *counts);
    for (int i = 0; i < NPROC; i++) {
        int st;
        assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) < 10);
        counts[WEXITSTATUS(st)]++;
    }
}

static void test_processes(void **s)
{
    (void)s;
    int n[10];
    store_open(&S1);
    for (unsigned r = 0; r < 12; r++) {
        race(100 + r, 0, 2 * r + 1, n); /* same token everywhere */
        assert_int_equal(n[FRESH], 1);
        assert_int_equal(n[REPLAY], NPROC - 1);
        race(1000 + 10 * r, 1, 2 * r + 2, n); /* distinct tokens, same seq */
        assert_int_equal(n[FRESH], 1);
        assert_int_equal(n[STALE], NPROC - 1);
    }
    assert_int_equal(adm(&S1, 111, 24, 1000, false), REPLAY);
    assert_int_equal(adm(&S1, 999, 24, 1000, false), STALE);
    pawl_edge_file_store_close(&S1);
}

#define NTHREAD 4
#define NTOK 40

static int fresh_count[NTOK], thread_failed;
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;

static void *thread_main(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < NTOK; k++) {
        enum pawl_edge_admit a;
        if (admit_rc(&S1, 500 + k, k + 1, 1000, WIN, true, &a) != 0)
            return &thread_failed;
        pthread_mutex_lock(&count_mu);
        fresh_count[k] += a == FRESH;
        pthread_mutex_unlock(&count_mu);
    }
    return NULL;
}

/* Threads sharing one struct: every token is accepted at most once. */
static void test_threads(void **s)
{
    (void)s;
    pthread_t t[NTHREAD];
    store_open(&S1);
    for (int i = 0; i < NTHREAD; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, NULL), 0);
    for (int i = 0; i < NTHREAD; i++) {
        void *rv;
        assert_int_equal(pthread_join(t[i], &rv), 0);
        assert_null(rv);
    }
    for (unsigned k = 0; k < NTOK; k++)
        assert_true(fresh_count[k] <= 1);
    assert_int_equal(fresh_count[NTOK - 1], 1); /* the last seq always wins once */
    pawl_edge_file_store_close(&S1);
}

/* ---- hidden modes for the crash test ---------------------------------------------- */

#define CRASH_BASE 1000000000u /* now = CRASH_BASE + seq: one second per token */

static bool parse_u64(const char *p, uint64_t *v)
{
    *v = 0;
    if (*p == '\0')
        return false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || *v > (UINT64_MAX - 9) / 10)
            return false;
        *v = *v * 10 + (uint64_t)(*p - '0');
    }
    return true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Admits random tokens with record = true until killed; prints a token's
 * cti and seq only after admit() said FRESH. */
static int crash_writer(const char *d, uint64_t compact_at, uint64_t retain)
{
    char err[256];
    uint8_t c[PAWL_EDGE_CTI_LEN];
    int rnd = open("/dev/urandom", O_RDONLY);
    if (rnd < 0 || pawl_edge_file_store_open(&S1, d, err, sizeof err) != 0) {
        fprintf(stderr, "crash-writer: %s\n", rnd < 0 ? "/dev/urandom" : err);
        return 2;
    }
    S1.compact_at = compact_at;
    S1.retain_s = retain;
    struct pawl_edge_store st = pawl_edge_file_store(&S1);
    for (unsigned long i = 0; i < 10000000ul; i++) {
        enum pawl_edge_admit a;
        uint64_t seq = S1.last_seq + 1; /* as of our last admit; others may be ahead */
        if (read(rnd, c, sizeof c) != (ssize_t)sizeof c)
            return 2;
        if (st.admit(st.ctx, c, seq, CRASH_BASE + seq, retain, true, &a) != 0) {
            fprintf(stderr, "crash-writer: %s\n", pawl_edge_file_store_error(&S1));
            return 3;
        }
        if (a == STALE)
            continue; /* another writer took this seq */
        if (a != FRESH)
            return 4;
        for (size_t j = 0; j < sizeof c; j++)
            printf("%02x", c[j]);
        printf(" %llu\n", (unsigned long long)seq);
        fflush(stdout);
    }
    return 0;
}

/* One printed line: never FRESH again; REPLAY while inside the retention.
 * T is the store's last seq; a compaction ran at now <= CRASH_BASE + T + 1. */
static int check_line(const char *line, uint64_t retain, uint64_t *checked, uint64_t *kept)
{
    uint8_t c[PAWL_EDGE_CTI_LEN];
    uint64_t seq, T = S1.last_seq;
    enum pawl_edge_admit a1, a2 = REPLAY;
    for (size_t j = 0; j < sizeof c; j++) {
        int hi = hexval(line[2 * j]), lo = hi < 0 ? -1 : hexval(line[2 * j + 1]);
        if (lo < 0)
            return fprintf(stderr, "crash-check: bad line '%s'\n", line), 2;
        c[j] = (uint8_t)(hi << 4 | lo);
    }
    if (line[32] != ' ' || !parse_u64(line + 33, &seq))
        return fprintf(stderr, "crash-check: bad line '%s'\n", line), 2;
    struct pawl_edge_store st = pawl_edge_file_store(&S1);
    bool inside = T + 1 - seq < retain;
    if (!S1.has_seq || seq > T || st.admit(st.ctx, c, seq, CRASH_BASE + T, retain, false, &a1) ||
        (inside && st.admit(st.ctx, c, UINT64_MAX, CRASH_BASE + T, retain, false, &a2))) {
        fprintf(stderr, "crash-check: %s: last seq %llu: %s\n", line, (unsigned long long)T,
                pawl_edge_file_store_error(&S1));
        return 2;
    }
    if (a1 == FRESH || a2 != REPLAY) {
        fprintf(stderr, "crash-check: %s admitted %s after a crash (last seq %llu)\n", line,
                a1 == FRESH ? "FRESH" : "without REPLAY", (unsigned long long)T);
        return 1;
    }
    *checked += 1;
    *kept += inside;
    return 0;
}

static int crash_check(const char *d, uint64_t retain, const char *printed)
{
    char err[256], line[128];
    uint64_t checked = 0, kept = 0;
    int rc = 0;
    if (pawl_edge_file_store_open(&S1, d, err, sizeof err) != 0) {
        fprintf(stderr, "crash-check: store does not open: %s\n", err);
        return 2;
    }
    FILE *f = fopen(printed, "r");
    if (f == NULL) {
        fprintf(stderr, "crash-check: cannot read %s\n", printed);
        return 2;
    }
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        rc = check_line(line, retain, &checked, &kept);
    }
    fclose(f);
    pawl_edge_file_store_close(&S1);
    if (rc == 0)
        printf("%llu %llu %llu\n", (unsigned long long)checked, (unsigned long long)kept,
               (unsigned long long)S1.nrec);
    return rc;
}

static int hidden_mode(int argc, char **argv)
{
    uint64_t a, b;
    if (argc == 5 && strcmp(argv[1], "--crash-writer") == 0 && parse_u64(argv[3], &a) &&
        parse_u64(argv[4], &b))
        return crash_writer(argv[2], a, b);
    if (argc == 5 && strcmp(argv[1], "--crash-check") == 0 && parse_u64(argv[3], &a))
        return crash_check(argv[2], a, argv[4]);
    fprintf(stderr, "usage: %s [--crash-writer DIR COMPACT_AT RETAIN | "
                    "--crash-check DIR RETAIN PRINTED]\n", argv[0]);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return hidden_mode(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_replay_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_seq_any, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_false, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
