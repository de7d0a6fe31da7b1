/* see audit_log.h and docs/audit.md */
#include "audit_log.h"
#include "host.h"
#include "vault.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fileio.h"

#define ANCHOR_MAX 4096 /* a checkpoint line is about 400 bytes */
#define SYNC_GAP_MS 100 /* background mode: at most one fsync + anchor per this, by default */

/* In background mode a thread makes checkpoints durable (fsync, then the
 * anchor) while appends go on; only the newest checkpoint matters. */
struct syncer {
    pthread_t tid;
    pthread_mutex_t m;
    pthread_cond_t cv;
    char *line;          /* the checkpoint to anchor next, or NULL */
    size_t len;
    char *retry;         /* a checkpoint whose anchor could not be written: again each second */
    size_t retry_len;
    int64_t gap_ms;      /* at most one fsync + anchor per this */
    bool stop, failed;   /* failed: an fsync failed (the log cannot be trusted to be on disk) */
    char msg[512];
    char pending[512];   /* why the anchor lags behind the log (a full disk), or "" */
};

struct pawl_audit_log {
    int fd;
    char *path, *anchor;
    EVP_PKEY *key;
    struct pawl_vault_key *vault; /* the key when it lives in a PKCS#11 token */
    struct pawl_audit_writer w;
    struct pawl_audit_buf buf;
    bool fsync_each, broken;
    struct syncer *sy;   /* NULL: checkpoints are made durable before append returns */
    char notice[1024];   /* what open repaired (a torn tail, the anchor), or "" */
};

/* ---- line reader ------------------------------------------------------------- */

void pawl__lines_init(struct pawl__lines *r, int fd, size_t max)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->max = max;
}

void pawl__lines_free(struct pawl__lines *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Make room at buf[end..cap) and read into it. */
static int fill(struct pawl__lines *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->off += r->start;
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 65536;
        if (ncap > r->max + 1)
            ncap = r->max + 1;
        char *nb = realloc(r->buf, ncap);
        if (nb == NULL)
            return -1;
        r->buf = nb;
        r->cap = ncap;
    }
    for (;;) {
        ssize_t k = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            r->eof = true;
        r->end += (size_t)k;
        return 0;
    }
}

enum pawl__line_kind pawl__lines_next(struct pawl__lines *r, const char **p, size_t *n, uint64_t *off)
{
    for (;;) {
        char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (nl != NULL) {
            size_t s = r->start;
            r->start = (size_t)(nl - r->buf) + 1;
            if (r->skipping) {
                r->skipping = false;
                continue;
            }
            r->lineno++;
            *p = r->buf + s;
            *n = (size_t)(nl - (r->buf + s));
            *off = r->off + s;
            return PAWL__LINE;
        }
        if (r->skipping) {
            r->off += r->end;
            r->start = r->end = 0;
        } else if (r->end - r->start > r->max) {
            r->lineno++;
            r->skipping = true;
            *off = r->off + r->start;
            return PAWL__LINE_LONG;
        }
        if (r->eof) {
            if (r->start == r->end)
                return PAWL__LINE_EOF;
            *p = r->buf + r->start;
            *n = r->end - r->start;
            *off = r->off + r->start;
            r->start = r->end;
            return PAWL__LINE_TORN;
        }
        if (fill(r) != 0)
            return PAWL__LINE_ERR;
    }
}

/* ---- keys ---------------------------------------------------------------------- */

EVP_PKEY *pawl__audit_load_key(const char *path, bool private_key, uint8_t pub[PAWL_AUDIT_KEY_LEN],
                               char *err, size_t errlen)
{
    EVP_PKEY *k = pawl_host_load_key(path, private_key, err, errlen);
    if (k != NULL && pawl_audit_evp_public(k, pub) != PAWL_OK) {
        snprintf(err, errlen, "%s: not an Ed25519 key", path);
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

/* ---- scan (verify a file) ------------------------------------------------------ */

static void scan_fail(struct pawl__audit_scan *s, const char *path, const struct pawl_audit_report *r)
{
    char seq[32] = "?";
    if (r->seq_known)
        snprintf(seq, sizeof seq, "%" PRIu64, r->seq);
    snprintf(s->msg, sizeof s->msg, "%s:%" PRIu64 ": seq %s: %s", path, r->line, seq, r->what);
}

/* Read the anchor file: one checkpoint line. 0 ok / absent, 1 bad, 3 unreadable. */
static int load_anchor(struct pawl__audit_scan *s, const char *anchor, bool required,
                       char **line, size_t *len)
{
    struct pawl_audit_report rep;
    size_t n = 0;
    char *a;
    if (!required && access(anchor, F_OK) != 0 && errno == ENOENT)
        return 0;
    char err[400];
    a = pawl_host_slurp(anchor, ANCHOR_MAX, &n, err, sizeof err);
    if (a == NULL) {
        snprintf(s->msg, sizeof s->msg, "cannot read the anchor: %s", err);
        return 3;
    }
    if (n == 0 || a[n - 1] != '\n' || memchr(a, '\n', n - 1) != NULL) {
        snprintf(s->msg, sizeof s->msg, "%s: anchor is not one checkpoint line", anchor);
        free(a);
        return 1;
    }
    if (pawl_audit_check_checkpoint(&s->v, a, n - 1, &s->anchor_seq, &rep) != PAWL_OK) {
        scan_fail(s, anchor, &rep);
        free(a);
        return 1;
    }
    s->have_anchor = true;
    *line = a;
    *len = n - 1;
    return 0;
}

/* After line (p, n) verified: remember checkpoints, hold the log to the anchor. */
static int after_line(struct pawl__audit_scan *s, const char *path, const char *p, size_t n,
                      uint64_t lineno, const char *anchor_line, size_t anchor_len)
{
    if (s->v.last_is_checkpoint) {
        char *c = realloc(s->last_cp, n ? n : 1);
        if (c == NULL) {
            snprintf(s->msg, sizeof s->msg, "%s: out of memory", path);
            return 3;
        }
        memcpy(c, p, n);
        s->last_cp = c;
        s->last_cp_len = n;
    }
    if (s->have_anchor && s->v.last_seq == s->anchor_seq &&
        (n != anchor_len || memcmp(p, anchor_line, n) != 0)) {
        snprintf(s->msg, sizeof s->msg,
                 "%s:%" PRIu64 ": seq %" PRIu64 ": anchored checkpoint seq %" PRIu64
                 " differs from this record (log rewritten)", path, lineno, s->v.last_seq,
                 s->anchor_seq);
        return 1;
    }
    return 0;
}

static int scan_lines(struct pawl__audit_scan *s, int fd, const char *path, const char *anchor_line,
                      size_t anchor_len)
{
    struct pawl__lines r;
    const char *p = NULL;
    size_t n = 0;
    uint64_t off = 0;
    int rc = 0;
    pawl__lines_init(&r, fd, PAWL_AUDIT_LINE_MAX);
    for (;;) {
        enum pawl__line_kind k = pawl__lines_next(&r, &p, &n, &off);
        if (k == PAWL__LINE_EOF)
            break;
        if (k == PAWL__LINE_ERR) {
            snprintf(s->msg, sizeof s->msg, "%s: read error: %s", path, strerror(errno));
            rc = 3;
            break;
        }
        if (k == PAWL__LINE_LONG) {
            snprintf(s->msg, sizeof s->msg, "%s:%" PRIu64 ": seq ?: line longer than %u bytes",
                     path, r.lineno, PAWL_AUDIT_LINE_MAX);
            rc = 1;
            break;
        }
        if (k == PAWL__LINE_TORN) {
            s->torn = true;
            s->torn_off = off;
            s->torn_len = n;
            break;
        }
        if (pawl_audit_verify_line(&s->v, p, n, r.lineno) != PAWL_OK) {
            scan_fail(s, path, &s->v.bad);
            rc = 1;
            break;
        }
        if ((rc = after_line(s, path, p, n, r.lineno, anchor_line, anchor_len)) != 0)
            break;
    }
    if (rc == 0 && pawl_audit_verify_finish(&s->v) != PAWL_OK) {
        snprintf(s->msg, sizeof s->msg, "%s: %s", path, s->v.bad.what);
        rc = 1;
    }
    if (rc == 0 && s->have_anchor && (s->v.records == 0 || s->v.last_seq < s->anchor_seq)) {
        snprintf(s->msg, sizeof s->msg,
                 "%s:%" PRIu64 ": seq %" PRIu64 ": truncated: anchored checkpoint seq %" PRIu64
                 " not in log", path, r.lineno + 1, s->v.next_seq, s->anchor_seq);
        rc = 1;
    }
    pawl__lines_free(&r);
    return rc;
}

int pawl__audit_scan(int fd, const char *path, const uint8_t pub[PAWL_AUDIT_KEY_LEN],
                     const char *anchor, bool anchor_required, struct pawl__audit_scan *s)
{
    char *aline = NULL;
    size_t alen = 0;
    int rc;
    memset(s, 0, sizeof *s);
    if (pawl_audit_verifier_init(&s->v, pub) != PAWL_OK) {
        snprintf(s->msg, sizeof s->msg, "%s: cannot use the public key", path);
        return 3;
    }
    if (anchor != NULL && (rc = load_anchor(s, anchor, anchor_required, &aline, &alen)) != 0)
        goto out;
    rc = scan_lines(s, fd, path, aline, alen);
out:
    free(aline);
    return rc;
}

void pawl__audit_scan_free(struct pawl__audit_scan *s)
{
    pawl_audit_verifier_free(&s->v);
    free(s->last_cp);
    s->last_cp = NULL;
}

/* ---- writing --------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fsync the directory holding path, so a rename or create in it is durable. */
static int fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? strdup(".") : strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (dir == NULL)
        return -1;
    int rc = pawl__fsync_dir(dir);
    free(dir);
    return rc;
}

/* Write a whole new file atomically: tmp, fsync, rename, fsync dir.
 * excl: link into place instead, failing with EEXIST if dst exists. */
static int replace_file(const char *dst, const char *p, size_t n, bool excl)
{
    char tmp[4096];
    int fd, rc = -1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dst, (long)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (pawl__write_all(fd, p, n) == 0 && fsync(fd) == 0)
        rc = 0;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = excl ? link(tmp, dst) : rename(tmp, dst);
    int saved = errno;
    if (excl || rc != 0)
        unlink(tmp);
    if (rc == 0)
        rc = fsync_dir(dst);
    errno = saved;
    return rc;
}

static int write_anchor(struct pawl_audit_log *l, const char *line, size_t n, char *err, size_t errlen)
{
    if (replace_file(l->anchor, line, n, false) != 0) {
        snprintf(err, errlen, "%s: cannot write the anchor: %s", l->anchor, strerror(errno));
        return -1;
    }
    return 0;
}

/* Under sy->m: the next checkpoint to anchor. A newer one replaces one whose
 * anchor could not be written; that one is tried again after a second (and
 * once more at stop). NULL: stop. */
static char *next_line(struct syncer *sy, size_t *len, bool *final_try)
{
    if (sy->line == NULL && sy->retry != NULL && !sy->stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t); /* sy->cv's clock */
        t.tv_sec += 1;
        while (sy->line == NULL && !sy->stop && pthread_cond_timedwait(&sy->cv, &sy->m, &t) == 0)
            ;
    }
    if (sy->retry != NULL && (sy->line != NULL || (sy->stop && *final_try))) {
        free(sy->retry); /* covered by a newer one, or tried at stop already */
        sy->retry = NULL;
    }
    if (sy->line == NULL && sy->retry != NULL) {
        *final_try = sy->stop;
        sy->line = sy->retry;
        sy->len = sy->retry_len;
        sy->retry = NULL;
    }
    while (sy->line == NULL && !sy->stop)
        pthread_cond_wait(&sy->cv, &sy->m);
    char *line = sy->line;
    *len = sy->len;
    sy->line = NULL;
    return line;
}

/* Under sy->m: wait until sy->gap_ms after the sync that began at t0 (or
 * until stop). Checkpoints that come meanwhile replace each other, so under
 * load the log is fsynced and anchored ten times a second, not once per
 * checkpoint (one each 1,000 records: 35 a second at 35,000 requests a
 * second, each an fsync, a new file, a rename and a directory fsync). */
static void pace(struct syncer *sy, const struct timespec *t0)
{
    struct timespec until = *t0;
    until.tv_sec += (time_t)(sy->gap_ms / 1000);
    until.tv_nsec += (long)(sy->gap_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    while (!sy->stop && pthread_cond_timedwait(&sy->cv, &sy->m, &until) == 0)
        ;
}

/* Makes checkpoints durable: fsync of the log, then the anchor, at most
 * once each sy->gap_ms (pace). An fsync
 * that fails is fatal (the log cannot be trusted to be on disk); an anchor
 * that cannot be written (a full disk: the anchor is a new file, the log
 * may still have room in its last block) is tried again each second, and
 * the log is reported not usable meanwhile (pawl_audit_log_usable). */
static void *sync_thread(void *arg)
{
    struct pawl_audit_log *l = arg;
    struct syncer *sy = l->sy;
    char err[512];
    bool final_try = false;
    size_t len;
    char *line;
    pthread_mutex_lock(&sy->m);
    while ((line = next_line(sy, &len, &final_try)) != NULL) {
        pthread_mutex_unlock(&sy->m);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        bool fatal = fsync(l->fd) != 0;
        int rc = -1;
        if (fatal)
            snprintf(err, sizeof err, "%s: fsync failed: %s", l->path, strerror(errno));
        else
            rc = write_anchor(l, line, len, err, sizeof err);
        pthread_mutex_lock(&sy->m);
        if (rc == 0) {
            sy->pending[0] = '\0';
            free(line);
        } else if (fatal) {
            if (!sy->failed)
                snprintf(sy->msg, sizeof sy->msg, "%s", err);
            sy->failed = true;
            free(line);
        } else {
            snprintf(sy->pending, sizeof sy->pending, "%s", err);
            sy->retry = line;
            sy->retry_len = len;
        }
        pace(sy, &t0);
    }
    pthread_mutex_unlock(&sy->m);
    return NULL;
}

int pawl_audit_log_sync_in_background(struct pawl_audit_log *l, int64_t gap_ms, char *err,
                                      size_t errlen)
{
    struct syncer *sy = calloc(1, sizeof *sy);
    if (sy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sy->gap_ms = gap_ms > 0 ? gap_ms : SYNC_GAP_MS;
    pthread_mutex_init(&sy->m, NULL);
    /* the waits (pace, an anchor's retry) are on the monotonic clock: on the
     * wall clock a step back of an hour (NTP) held every fsync and anchor
     * for that hour (review) */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sy->cv, &ca);
    pthread_condattr_destroy(&ca);
    l->sy = sy;
    if (pthread_create(&sy->tid, NULL, sync_thread, l) != 0) {
        l->sy = NULL;
        free(sy);
        snprintf(err, errlen, "cannot start the audit sync thread");
        return -1;
    }
    return 0;
}

/* Stops the syncer after it made the last checkpoint handed to it durable.
 * Returns -1 (with err) when any background fsync or anchor failed. */
static int stop_syncer(struct pawl_audit_log *l, char *err, size_t errlen)
{
    struct syncer *sy = l->sy;
    if (sy == NULL)
        return 0;
    pthread_mutex_lock(&sy->m);
    sy->stop = true;
    pthread_cond_signal(&sy->cv);
    pthread_mutex_unlock(&sy->m);
    pthread_join(sy->tid, NULL);
    int rc = sy->failed || sy->pending[0] ? -1 : 0;
    if (rc != 0)
        snprintf(err, errlen, "%s", sy->failed ? sy->msg : sy->pending);
    free(sy->line);
    free(sy->retry);
    pthread_mutex_destroy(&sy->m);
    pthread_cond_destroy(&sy->cv);
    free(sy);
    l->sy = NULL;
    return rc;
}

/* Background mode: the checkpoint line goes to the syncer (replacing one
 * it has not reached yet: the newer covers it). The records it closes are
 * written already, so this cannot fail them: a failure (here, out of
 * memory, or the syncer's own) shows at the next flush, before it writes. */
static void hand_to_syncer(struct pawl_audit_log *l, const char *line, size_t n)
{
    struct syncer *sy = l->sy;
    char *copy = malloc(n ? n : 1);
    if (copy != NULL)
        memcpy(copy, line, n);
    pthread_mutex_lock(&sy->m);
    if (copy == NULL && !sy->failed) {
        sy->failed = true;
        snprintf(sy->msg, sizeof sy->msg, "%s: out of memory handing a checkpoint to the sync thread",
                 l->path);
    }
    if (copy != NULL && !sy->failed) {
        free(sy->line);
        sy->line = copy;
        sy->len = n;
        pthread_cond_signal(&sy->cv);
    } else {
        free(copy);
    }
    pthread_mutex_unlock(&sy->m);
}

/* A checkpoint the syncer could not make durable: true, with why in err. */
static bool syncer_failed(struct pawl_audit_log *l, char *err, size_t errlen)
{
    if (l->sy == NULL)
        return false;
    pthread_mutex_lock(&l->sy->m);
    bool failed = l->sy->failed;
    if (failed)
        snprintf(err, errlen, "%s", l->sy->msg);
    pthread_mutex_unlock(&l->sy->m);
    return failed;
}

/* Write out l->buf, whole or not at all; a checkpoint in it (em) is then
 * fsynced and anchored (by the syncer in background mode). before is the
 * writer as it was before the records in l->buf were chained. A failed or
 * short write (a full disk) is cut back off the file and the writer set back
 * to before: the log holds none of those records, so the caller may answer
 * them as not written, and stays usable (the next append tries again). The
 * log is unusable (broken) only when cutting back fails, a checkpoint cannot
 * be made durable, or an earlier one could not (found before writing). */
static int write_out(struct pawl_audit_log *l, const struct pawl_audit_writer *before,
                     const struct pawl_audit_emit *em, char *err, size_t errlen);

/* write_out, then the buffer goes back to the heap if a burst grew it past
 * what an ordinary batch needs (a batch of 4,096 decisions takes megabytes,
 * which would otherwise stay with the process). */
#define BUF_KEEP (1u << 20)
static int flush(struct pawl_audit_log *l, const struct pawl_audit_writer *before,
                 const struct pawl_audit_emit *em, char *err, size_t errlen)
{
    int rc = write_out(l, before, em, err, errlen);
    if (l->buf.cap > BUF_KEEP)
        pawl_audit_buf_free(&l->buf);
    return rc;
}

static int write_out(struct pawl_audit_log *l, const struct pawl_audit_writer *before,
                     const struct pawl_audit_emit *em, char *err, size_t errlen)
{
    size_t n = l->buf.len;
    long long was;
    l->buf.len = 0;
    if (syncer_failed(l, err, errlen)) {
        l->broken = true;
        l->w = *before;
        return -1;
    }
    int rc = pawl__append_whole(l->fd, l->buf.p, n, &was);
    if (rc != 0) {
        snprintf(err, errlen, "%s: write failed: %s%s", l->path, strerror(errno),
                 rc == -1 ? " (cut back: none of these records is in it)" : ", and cutting it back failed");
        if (rc == -1)
            l->w = *before;
        else
            l->broken = true;
        return -1;
    }
    if (em->checkpoint && l->sy != NULL) {
        hand_to_syncer(l, l->buf.p + em->cp_off, em->cp_len);
        return 0;
    }
    if ((em->checkpoint || l->fsync_each) && fsync(l->fd) != 0) {
        l->broken = true;
        snprintf(err, errlen, "%s: fsync failed: %s", l->path, strerror(errno));
        return -1;
    }
    return em->checkpoint ? write_anchor(l, l->buf.p + em->cp_off, em->cp_len, err, errlen) : 0;
}

/* Move the bytes after the last complete line to <path>.torn.<off>[.<i>]. */
static int move_torn(struct pawl_audit_log *l, uint64_t off, uint64_t len, char *err, size_t errlen)
{
    char name[4096];
    char *b = malloc(len ? len : 1);
    int rc = -1, tfd = -1;
    if (b == NULL || pread(l->fd, b, len, (off_t)off) != (ssize_t)len)
        goto out;
    for (int i = 0; i < 1000 && tfd < 0; i++) {
        if (i == 0)
            snprintf(name, sizeof name, "%s.torn.%" PRIu64, l->path, off);
        else
            snprintf(name, sizeof name, "%s.torn.%" PRIu64 ".%d", l->path, off, i);
        tfd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (tfd < 0 && errno != EEXIST)
            goto out;
    }
    if (tfd < 0 || pawl__write_all(tfd, b, len) != 0 || fsync(tfd) != 0)
        goto out;
    if (ftruncate(l->fd, (off_t)off) != 0 || fsync(l->fd) != 0 || fsync_dir(l->path) != 0)
        goto out;
    snprintf(l->notice, sizeof l->notice, "%s: torn tail: %" PRIu64 " bytes at offset %" PRIu64
             " moved to %s", l->path, len, off, name);
    fprintf(stderr, "pawl: %s\n", l->notice);
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot move the torn tail aside: %s", l->path, strerror(errno));
    if (tfd >= 0)
        close(tfd);
    free(b);
    return rc;
}

/* A new log: genesis written to a tmp file and linked into place. */
static int create_log(struct pawl_audit_log *l, char *err, size_t errlen)
{
    struct pawl_diag d;
    if (pawl_audit_genesis(&l->w, now_ms(), &l->buf, &d) != PAWL_OK) {
        snprintf(err, errlen, "%s: %s", l->path, d.msg);
        return 3;
    }
    int rc = replace_file(l->path, l->buf.p, l->buf.len, true);
    l->buf.len = 0;
    if (rc != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", l->path, strerror(errno));
        return 3;
    }
    /* EEXIST: another process created it first; it is resumed like any other. */
    return 0;
}

/* Anchor the log's last checkpoint when the anchor is missing or older
 * (a crash between the log's fsync and the anchor's rename). */
static int refresh_anchor(struct pawl_audit_log *l, struct pawl__audit_scan *s, char *err, size_t errlen)
{
    if (s->last_cp == NULL || (s->have_anchor && s->anchor_seq == s->v.last_checkpoint_seq))
        return 0;
    char *c = realloc(s->last_cp, s->last_cp_len + 1);
    if (c == NULL) {
        snprintf(err, errlen, "%s: out of memory", l->path);
        return -1;
    }
    c[s->last_cp_len] = '\n';
    s->last_cp = c;
    size_t at = strlen(l->notice);
    snprintf(l->notice + at, sizeof l->notice - at, "%s%s: %s: anchored the last checkpoint, seq %" PRIu64,
             at ? "; " : "", l->anchor, s->have_anchor ? "older than the log" : "missing",
             s->v.last_checkpoint_seq);
    return write_anchor(l, c, s->last_cp_len + 1, err, errlen);
}

/* Verify what is on disk, cut a torn tail, and continue the chain. */
static int resume_log(struct pawl_audit_log *l, const uint8_t *pub, char *err, size_t errlen)
{
    struct pawl__audit_scan s;
    struct pawl_audit_emit em = { 0 };
    struct pawl_diag d;
    int rc = pawl__audit_scan(l->fd, l->path, pub, l->anchor, false, &s);
    bool empty = rc == 1 && s.v.bad.fault == PAWL_AUDIT_EMPTY && !s.have_anchor;
    if (rc != 0 && !empty) {
        snprintf(err, errlen, "%s; refusing to append: move it and its .anchor aside together to start a new log (keep both as evidence)", s.msg);
        goto out;
    }
    rc = 3;
    if (s.torn && move_torn(l, s.torn_off, s.torn_len, err, errlen) != 0)
        goto out;
    if (empty) { /* an empty file (or a torn genesis): start the chain */
        struct pawl_audit_writer before = l->w;
        if (pawl_audit_genesis(&l->w, now_ms(), &l->buf, &d) != PAWL_OK) {
            snprintf(err, errlen, "%s: %s", l->path, d.msg);
            goto out;
        }
        em.checkpoint = false;
        if (flush(l, &before, &em, err, errlen) != 0 || fsync(l->fd) != 0)
            goto out;
        rc = 0;
        goto out;
    }
    if (pawl_audit_writer_resume(&l->w, &s.v) != PAWL_OK) {
        snprintf(err, errlen, "%s: cannot resume the chain", l->path);
        goto out;
    }
    if (refresh_anchor(l, &s, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    pawl__audit_scan_free(&s);
    return rc;
}

static int lock_log(struct pawl_audit_log *l, char *err, size_t errlen)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(l->fd, F_SETLK, &fl) == 0)
        return 0;
    snprintf(err, errlen, "%s: cannot lock (another pawl appending to it?): %s", l->path,
             strerror(errno));
    return -1;
}

static void free_log(struct pawl_audit_log *l)
{
    if (l->fd >= 0)
        close(l->fd);
    EVP_PKEY_free(l->key);
    pawl_vault_close(l->vault);
    pawl_audit_buf_free(&l->buf);
    free(l->path);
    free(l->anchor);
    free(l);
}

/* An Ed25519 private key: a PEM file, or a key in a PKCS#11 token (a
 * pkcs11: URI, vault.h). */
static int open_signing_key(struct pawl_audit_log *l, const char *key, uint8_t pub[PAWL_AUDIT_KEY_LEN],
                            char *err, size_t errlen)
{
    if (!pawl_vault_is_uri(key))
        return (l->key = pawl__audit_load_key(key, true, pub, err, errlen)) == NULL ? -1 : 0;
    if ((l->vault = pawl_vault_open(key, err, errlen)) == NULL)
        return -1;
    if (pawl_vault_key_type(l->vault) != PAWL_VAULT_ED25519 ||
        pawl_audit_evp_public(pawl_vault_public(l->vault), pub) != PAWL_OK) {
        snprintf(err, errlen, "%s: the audit trail is signed with Ed25519; this key is not", key);
        return -1;
    }
    return 0;
}

int pawl_audit_log_open(const char *path, const char *key_pem_path, unsigned every_n,
                        int64_t every_ms, bool fsync_each, struct pawl_audit_log **out,
                        char *err, size_t errlen)
{
    struct pawl_audit_log *l = calloc(1, sizeof *l);
    uint8_t pub[PAWL_AUDIT_KEY_LEN];
    size_t plen = strlen(path);
    int rc = 3;
    *out = NULL;
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return 3;
    }
    l->fd = -1;
    l->fsync_each = fsync_each;
    pawl_audit_buf_init(&l->buf, PAWL_AUDIT_BATCH_MAX);
    l->path = strdup(path);
    l->anchor = malloc(plen + sizeof ".anchor");
    if (l->path == NULL || l->anchor == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(l->anchor, path, plen);
    memcpy(l->anchor + plen, ".anchor", sizeof ".anchor");
    if (open_signing_key(l, key_pem_path, pub, err, errlen) != 0)
        goto out;
    if (pawl_audit_writer_init(&l->w, pub, every_n, every_ms,
                               l->vault ? pawl_vault_audit_sign : pawl_audit_sign_evp,
                               l->vault ? (void *)l->vault : (void *)l->key) != PAWL_OK)
        goto out;
    if (access(path, F_OK) != 0 && errno == ENOENT && (rc = create_log(l, err, errlen)) != 0)
        goto out;
    rc = 3;
    l->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (l->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (lock_log(l, err, errlen) != 0)
        goto out;
    rc = resume_log(l, pub, err, errlen);
out:
    if (rc != 0)
        free_log(l);
    else
        *out = l;
    return rc;
}

static int refuse_broken(struct pawl_audit_log *l, char *err, size_t errlen);

int pawl_audit_log_tick(struct pawl_audit_log *l, int64_t now_ms, char *err, size_t errlen)
{
    struct stat st;
    if (l->broken)
        return refuse_broken(l, err, errlen);
    if (fstat(l->fd, &st) == 0 && st.st_nlink == 0) {
        l->broken = true; /* what it still writes would go nowhere */
        snprintf(err, errlen, "%s was deleted: records written since are lost with it; restart "
                 "pawld to begin a new trail", l->path);
        return -1;
    }
    if (l->w.since_checkpoint == 0 || l->w.every_ms <= 0 || now_ms - l->w.last_checkpoint_ms < l->w.every_ms)
        return 0;
    struct pawl_audit_writer before = l->w;
    struct pawl_audit_emit em;
    struct pawl_diag d;
    l->buf.len = 0;
    if (pawl_audit_checkpoint(&l->w, now_ms, &l->buf, &em, &d) != PAWL_OK) {
        snprintf(err, errlen, "%s: checkpoint: %s", l->path, d.msg);
        return -1;
    }
    return flush(l, &before, &em, err, errlen);
}

const char *pawl_audit_log_notice(const struct pawl_audit_log *l)
{
    return l->notice[0] ? l->notice : NULL;
}

bool pawl_audit_log_usable(struct pawl_audit_log *l, char *why, size_t n)
{
    char err[512];
    if (syncer_failed(l, err, sizeof err)) {
        snprintf(why, n, "%s", err);
        return false;
    }
    if (l->sy != NULL) {
        pthread_mutex_lock(&l->sy->m);
        bool lag = l->sy->pending[0] != '\0';
        if (lag)
            snprintf(why, n, "the anchor lags behind the log (tried again each second): %s", l->sy->pending);
        pthread_mutex_unlock(&l->sy->m);
        if (lag)
            return false;
    }
    if (l->broken) {
        snprintf(why, n, "%s: unusable after an I/O error", l->path);
        return false;
    }
    return true;
}

/* The message for an append to a log that an I/O error made unusable. */
static int refuse_broken(struct pawl_audit_log *l, char *err, size_t errlen)
{
    char why[512];
    if (syncer_failed(l, why, sizeof why))
        snprintf(err, errlen, "%s: unusable since: %s", l->path, why);
    else
        snprintf(err, errlen, "%s: unusable after an I/O error; close and reopen it", l->path);
    return -1;
}

int pawl_audit_log_append(struct pawl_audit_log *l, int64_t time_ms, const char *kind,
                          const char *body_json, size_t n, char *err, size_t errlen)
{
    struct pawl_audit_emit em;
    struct pawl_diag d;
    if (l->broken)
        return refuse_broken(l, err, errlen);
    struct pawl_audit_writer before = l->w;
    l->buf.len = 0;
    memset(&d, 0, sizeof d);
    pawl_err e = pawl_audit_append(&l->w, time_ms, kind, body_json, n, &l->buf, &em, &d);
    if (e != PAWL_OK) {
        if (e == PAWL_ENOMEM || e == PAWL_ECRYPTO) {
            snprintf(err, errlen, "%s: %s", l->path, d.msg[0] ? d.msg : pawl_err_str(e));
            return -1;
        }
        snprintf(err, errlen, "%s", d.msg[0] ? d.msg : pawl_err_str(e));
        return 1;
    }
    return flush(l, &before, &em, err, errlen);
}

int pawl_audit_log_append_many(struct pawl_audit_log *l, const struct pawl_audit_item *items,
                               size_t n, char *err, size_t errlen)
{
    struct pawl_audit_emit em, last = {0};
    struct pawl_diag d;
    if (l->broken)
        return refuse_broken(l, err, errlen);
    struct pawl_audit_writer before = l->w;
    l->buf.len = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&d, 0, sizeof d);
        memset(&em, 0, sizeof em);
        pawl_err e = items[i].dumped
                         ? pawl_audit_append_dumped(&l->w, items[i].time_ms, items[i].kind,
                                                    items[i].body, items[i].n, &l->buf, &em, &d)
                         : pawl_audit_append(&l->w, items[i].time_ms, items[i].kind, items[i].body,
                                             items[i].n, &l->buf, &em, &d);
        /* the buffer's bound (a record and its checkpoint need at most two
         * lines), not the record's own size */
        bool full = e == PAWL_ELIMIT && l->buf.len + 2 * PAWL_AUDIT_LINE_MAX > l->buf.max;
        if (e == PAWL_ENOMEM || e == PAWL_ECRYPTO || full) {
            /* the batch is refused whole: nothing of it was written */
            l->w = before;
            l->buf.len = 0;
            snprintf(err, errlen, "%s: %s", l->path, d.msg[0] ? d.msg : pawl_err_str(e));
            return -1;
        }
        if (e != PAWL_OK) { /* a refused record: those before it are written, the rest not */
            char why[sizeof d.msg];
            snprintf(why, sizeof why, "%s", d.msg[0] ? d.msg : pawl_err_str(e));
            if (l->buf.len > 0 && flush(l, &before, &last, err, errlen) != 0)
                return -1;
            snprintf(err, errlen, "%s: %s", l->path, why);
            return 1;
        }
        if (em.checkpoint) /* only the last one needs anchoring: it covers the others */
            last = em;
    }
    return l->buf.len > 0 ? flush(l, &before, &last, err, errlen) : 0;
}

int pawl_audit_log_close(struct pawl_audit_log *l, int64_t time_ms, char *err, size_t errlen)
{
    struct pawl_audit_emit em;
    struct pawl_diag d;
    int rc = 0;
    if (l == NULL)
        return 0;
    if (stop_syncer(l, err, errlen) != 0) { /* the final checkpoint is made durable here */
        l->broken = true;
        rc = -1;
    }
    if (!l->broken) {
        struct pawl_audit_writer before = l->w;
        l->buf.len = 0;
        if (pawl_audit_checkpoint(&l->w, time_ms, &l->buf, &em, &d) != PAWL_OK) {
            snprintf(err, errlen, "%s: final checkpoint: %s", l->path, d.msg);
            rc = -1;
        } else if (flush(l, &before, &em, err, errlen) != 0 || fsync(l->fd) != 0) {
            rc = -1;
        }
    }
    if (close(l->fd) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: close: %s", l->path, strerror(errno));
        rc = -1;
    }
    l->fd = -1;
    free_log(l);
    return rc;
}
