/* sinks.c: where pawld writes: JSON log lines, the OCSF event stream and
 * the hash-chained audit trail (src/host/audit_log.c). Workers call these
 * from their own threads: a log line is one write() to a file opened for
 * appending, and a batch's OCSF events and audit records are written under
 * one mutex, both or neither (a failed write is cut back off the file). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_log.h"
#include "fileio.h"
#include "pawl/event.h"
#include "pawld.h"
#include "util.h"
#include "vault.h"

struct pawld_sinks {
    int log_fd;   /* -1: stderr */
    pthread_mutex_t log_lock; /* one line at a time, so that a cut one is followed by a newline */
    bool log_torn; /* under log_lock: a line was cut short: the next one starts on a new line */
    int ocsf_fd;  /* -1: none; O_APPEND, one write per batch */
    struct pawl_audit_log *audit;
    pthread_mutex_t lock; /* the OCSF stream and the audit chain: one batch at a time */
    int64_t last_ms;
    int64_t fail_ms;      /* under lock: when a batch last could not be written, or 0 */
    bool tick_failed;     /* under lock: the last tick failed (logged once) */
    char fail_why[512];   /* under lock: why */
    char log_path[4200], ocsf_path[4200];
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_append(const char *dir, const char *p, char *path, size_t pathlen, char *err,
                       size_t errlen)
{
    int fd = open(pawld_path(dir, p, path, pathlen), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        snprintf(err, errlen, "%s: cannot open for appending: %s", path, strerror(errno));
    return fd;
}

struct pawld_sinks *pawld_sinks_open(const struct pawld_config *cfg, const char *dir, char *err,
                                     size_t errlen)
{
    struct pawld_sinks *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->log_fd = s->ocsf_fd = -1;
    pthread_mutex_init(&s->log_lock, NULL);
    if (cfg->log_json &&
        (s->log_fd = open_append(dir, cfg->log_json, s->log_path, sizeof s->log_path, err, errlen)) < 0)
        goto fail;
    if (cfg->ocsf &&
        (s->ocsf_fd = open_append(dir, cfg->ocsf, s->ocsf_path, sizeof s->ocsf_path, err, errlen)) < 0)
        goto fail;
    if (cfg->audit) {
        char path[4200], key[4200];
        pawld_path(dir, cfg->audit, path, sizeof path);
        pawld_path(pawl_vault_is_uri(cfg->audit_key) ? "" : dir, cfg->audit_key, key, sizeof key);
        if (pawl_audit_log_open(path, key, 0, 0, false, &s->audit, err, errlen) != 0 ||
            pawl_audit_log_sync_in_background(s->audit, cfg->audit_sync_ms, err, errlen) != 0)
            goto fail; /* workers never wait for a checkpoint's fsync */
        const char *note = pawl_audit_log_notice(s->audit);
        char esc[1200];
        if (note != NULL) /* the operator should know: was the anchor deleted? */
            pawld_log(s, "warn", "\"msg\":\"audit trail repaired at open\",\"what\":\"%s\"",
                      pawld_json_escape(note, esc, sizeof esc));
    }
    return s;
fail:
    pawld_sinks_close(s);
    return NULL;
}

void pawld_sinks_close(struct pawld_sinks *s)
{
    if (s == NULL)
        return;
    char err[512];
    if (s->audit && pawl_audit_log_close(s->audit, wall_ms(), err, sizeof err) != 0)
        fprintf(stderr, "pawld: audit: %s\n", err);
    if (s->log_fd >= 0)
        close(s->log_fd);
    if (s->ocsf_fd >= 0)
        close(s->ocsf_fd);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->log_lock);
    free(s);
}

bool pawld_ratelog_take(struct pawld_ratelog *r, int64_t now_ms, uint64_t *skipped)
{
    if (now_ms > r->last_ms) {
        r->tokens += (double)(now_ms - r->last_ms) / 1000.0;
        r->tokens = r->tokens > 20.0 ? 20.0 : r->tokens;
        r->last_ms = now_ms;
    }
    if (r->tokens < 1.0) {
        r->skipped++;
        return false;
    }
    r->tokens -= 1.0;
    *skipped = r->skipped;
    r->skipped = 0;
    return true;
}

void pawld_log(struct pawld_sinks *s, const char *level, const char *extra_fmt, ...)
{
    char extra[2048] = "";
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        vsnprintf(extra, sizeof extra, extra_fmt, ap);
        va_end(ap);
    }
    char line[sizeof extra + 128];
    bool to_file = s != NULL && s->log_fd >= 0;
    if (to_file)
        pthread_mutex_lock(&s->log_lock);
    bool torn = to_file && s->log_torn;
    int n = snprintf(line, sizeof line, "%s{\"time\":%lld,\"level\":\"%s\",\"program\":\"pawld\"%s%s}\n",
                     torn ? "\n" : "", (long long)wall_ms(), level, extra[0] ? "," : "", extra);
    bool ok = n > 0 && (size_t)n < sizeof line &&
              pawl__write_all(to_file ? s->log_fd : STDERR_FILENO, line, (size_t)n) == 0;
    if (!to_file)
        return;
    int e = errno;
    bool lost = !ok && n > 0 && (size_t)n < sizeof line;
    s->log_torn = lost || (torn && !ok);
    pthread_mutex_unlock(&s->log_lock);
    if (lost) /* lost, or cut short: say so where it can be seen */
        fprintf(stderr, "pawld: %s: a log line could not be written: %s\n%s", s->log_path, strerror(e),
                line + torn);
}

char *pawld_json_escape(const char *s, char *out, size_t n)
{
    char tmp[4096];
    struct pawl__out o = {tmp, 0, n < sizeof tmp ? n : sizeof tmp, false};
    if (n == 0)
        return out;
    pawl__json_esc(&o, s, strlen(s));
    (void)pawl__out_nul(&o); /* cut short when it does not fit, still valid JSON */
    memcpy(out, tmp, o.len + 1);
    return out;
}

void pawld_warn(struct pawld_sinks *s, const char *config, const char *msg)
{
    char esc[1200];
    if (s != NULL)
        pawld_log(s, "warn", "\"msg\":\"%s\"", pawld_json_escape(msg, esc, sizeof esc));
    else
        printf("pawld: %s: warning: %s\n", config, msg);
}

void pawld_sinks_tick(struct pawld_sinks *s)
{
    char err[512];
    if (s->audit == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    int64_t t = wall_ms() > s->last_ms ? wall_ms() : s->last_ms;
    s->last_ms = t;
    int rc = pawl_audit_log_tick(s->audit, t, err, sizeof err);
    bool say = rc != 0 && !s->tick_failed; /* once, not every second */
    s->tick_failed = rc != 0;
    pthread_mutex_unlock(&s->lock);
    if (say)
        pawld_log(s, "error", "\"msg\":\"audit trail\",\"why\":\"%s\"", pawld_json_escape(err, err, sizeof err));
}

bool pawld_sinks_ready(struct pawld_sinks *s, char *why, size_t n)
{
    pthread_mutex_lock(&s->lock);
    bool ok = s->audit == NULL || pawl_audit_log_usable(s->audit, why, n);
    int64_t ago = wall_ms() - s->fail_ms;
    if (ok && s->fail_ms != 0 && ago < PAWLD_UNREADY_AFTER_FAIL_MS) {
        snprintf(why, n, "a batch could not be written %lld ms ago: %s", (long long)ago, s->fail_why);
        ok = false;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

bool pawld_sinks_want_events(const struct pawld_sinks *s)
{
    return s->ocsf_fd >= 0 || s->audit != NULL;
}

/* The event line goes into the worker's batch (no I/O, no allocation): it
 * is written with the rest of the batch by pawld_sinks_commit at the end of
 * the loop iteration, before anything it allowed is forwarded. */
int pawld_record(struct pawld_sinks *s, struct pawld_batch *b, const struct pawl_event_req *ri,
                 const struct pawl_decision *dec)
{
    if (!pawld_sinks_want_events(s))
        return 0;
    size_t room = b->cap - b->len, n;
    if (b->nrec == PAWLD_BATCH_MAX || room < 2 ||
        (n = pawl_event_format(ri, dec, b->buf + b->len, room - 1)) == 0)
        return -1; /* a full batch refuses: the caller denies (nothing unaudited) */
    b->buf[b->len + n] = '\n';
    b->rec[b->nrec].time_ms = ri->time_ms;
    b->rec[b->nrec].off = b->len;
    b->rec[b->nrec].len = n;
    b->nrec++;
    b->len += n + 1;
    return 0;
}

/* Under s->lock. */
static int commit_audit(struct pawld_sinks *s, struct pawld_batch *b)
{
    struct pawl_audit_item items[PAWLD_BATCH_MAX];
    char err[512];
    for (size_t i = 0; i < b->nrec; i++) {
        /* the chain's times never go backwards, whichever worker is first */
        int64_t t = b->rec[i].time_ms > s->last_ms ? b->rec[i].time_ms : s->last_ms;
        s->last_ms = t;
        items[i] = (struct pawl_audit_item){t, "decision", b->buf + b->rec[i].off, b->rec[i].len,
                                            true}; /* pawl_event_dump's compact output */
    }
    int rc = pawl_audit_log_append_many(s->audit, items, b->nrec, err, sizeof err);
    if (rc != 0) {
        snprintf(s->fail_why, sizeof s->fail_why, "%s", err);
        pawld_log(s, "error", "\"msg\":\"audit append failed\",\"why\":\"%s\"",
                  pawld_json_escape(err, err, sizeof err));
    }
    return rc == 0 ? 0 : -1;
}

/* Cuts the OCSF stream back to end bytes (under s->lock): the events of a
 * batch that was not written whole, so no event stays of a request answered
 * 503, and no torn line. */
static void cut_ocsf(struct pawld_sinks *s, off_t end)
{
    char file[4400];
    if (ftruncate(s->ocsf_fd, end) != 0)
        pawld_log(s, "error", "\"msg\":\"cannot cut the OCSF stream back after a failed batch\","
                  "\"file\":\"%s\",\"why\":\"%s\"", pawld_json_escape(s->ocsf_path, file, sizeof file),
                  strerror(errno));
}

/* Under s->lock: the batch's events, whole or not at all; *end is where the
 * stream ended before them. */
static int commit_ocsf(struct pawld_sinks *s, struct pawld_batch *b, off_t *end)
{
    long long was;
    int rc = pawl__append_whole(s->ocsf_fd, b->buf, b->len, &was);
    if (rc != 0) {
        char file[4400];
        int e = errno;
        snprintf(s->fail_why, sizeof s->fail_why, "%s: %s", s->ocsf_path, strerror(e));
        pawld_log(s, "error", "\"msg\":\"writing the OCSF stream failed%s\",\"file\":\"%s\",\"why\":\"%s\"",
                  rc == -2 ? ", and cutting it back failed" : "", pawld_json_escape(s->ocsf_path, file, sizeof file),
                  strerror(e));
        return -1;
    }
    *end = (off_t)was;
    return 0;
}

int pawld_sinks_commit(struct pawld_sinks *s, struct pawld_batch *b)
{
    int rc = 0;
    off_t end = -1;
    if (b->nrec == 0)
        return 0;
    pthread_mutex_lock(&s->lock);
    if (s->ocsf_fd >= 0 && commit_ocsf(s, b, &end) != 0)
        rc = -1;
    if (rc == 0 && s->audit && commit_audit(s, b) != 0) {
        rc = -1;
        if (end >= 0)
            cut_ocsf(s, end);
    }
    if (rc != 0)
        s->fail_ms = wall_ms();
    pthread_mutex_unlock(&s->lock);
    b->nrec = 0;
    b->len = 0;
    return rc;
}

int pawld_batch_init(struct pawld_batch *b)
{
    memset(b, 0, sizeof *b);
    b->cap = PAWLD_BATCH_BYTES;
    b->buf = malloc(b->cap);
    return b->buf ? 0 : -1;
}

void pawld_batch_free(struct pawld_batch *b)
{
    free(b->buf);
    b->buf = NULL;
}
