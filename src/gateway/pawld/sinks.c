/* sinks.c: where pawld writes: JSON log lines, the OCSF event stream and
 * the hash-chained audit trail (src/host/audit_log.c). Workers call these
 * from their own threads: stdio locks each FILE per call, and the audit
 * chain, which has one writer, is behind a mutex. */
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
    FILE *log;    /* NULL: stderr */
    int ocsf_fd;  /* -1: none; O_APPEND, one write per batch */
    struct pawl_audit_log *audit;
    pthread_mutex_t audit_lock;
    int64_t last_ms;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static FILE *open_append(const char *dir, const char *p, char *err, size_t errlen)
{
    char path[4200];
    FILE *f = fopen(pawld_path(dir, p, path, sizeof path), "a");
    if (f == NULL)
        snprintf(err, errlen, "%s: cannot open for appending", path);
    else
        setvbuf(f, NULL, _IOLBF, 1u << 16); /* one write per line: nothing waits in memory */
    return f;
}

struct pawld_sinks *pawld_sinks_open(const struct pawld_config *cfg, const char *dir, char *err,
                                     size_t errlen)
{
    struct pawld_sinks *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->audit_lock, NULL);
    s->ocsf_fd = -1;
    if (cfg->log_json && (s->log = open_append(dir, cfg->log_json, err, errlen)) == NULL)
        goto fail;
    if (cfg->ocsf) {
        char path[4200];
        if ((s->ocsf_fd = open(pawld_path(dir, cfg->ocsf, path, sizeof path), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
            snprintf(err, errlen, "%s: cannot open for appending: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (cfg->audit) {
        char path[4200], key[4200];
        pawld_path(dir, cfg->audit, path, sizeof path);
        pawld_path(pawl_vault_is_uri(cfg->audit_key) ? "" : dir, cfg->audit_key, key, sizeof key);
        if (pawl_audit_log_open(path, key, 0, 0, false, &s->audit, err, errlen) != 0 ||
            pawl_audit_log_sync_in_background(s->audit, err, errlen) != 0)
            goto fail; /* workers never wait for a checkpoint's fsync */
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
    if (s->log)
        fclose(s->log);
    if (s->ocsf_fd >= 0)
        close(s->ocsf_fd);
    pthread_mutex_destroy(&s->audit_lock);
    free(s);
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
    FILE *f = s && s->log ? s->log : stderr;
    fprintf(f, "{\"time\":%lld,\"level\":\"%s\",\"program\":\"pawld\"%s%s}\n",
            (long long)wall_ms(), level, extra[0] ? "," : "", extra);
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

static int commit_audit(struct pawld_sinks *s, struct pawld_batch *b)
{
    struct pawl_audit_item items[PAWLD_BATCH_MAX];
    char err[512];
    pthread_mutex_lock(&s->audit_lock);
    for (size_t i = 0; i < b->nrec; i++) {
        /* the chain's times never go backwards, whichever worker is first */
        int64_t t = b->rec[i].time_ms > s->last_ms ? b->rec[i].time_ms : s->last_ms;
        s->last_ms = t;
        items[i] = (struct pawl_audit_item){t, "decision", b->buf + b->rec[i].off, b->rec[i].len,
                                            true}; /* pawl_event_dump's compact output */
    }
    int rc = pawl_audit_log_append_many(s->audit, items, b->nrec, err, sizeof err);
    pthread_mutex_unlock(&s->audit_lock);
    if (rc != 0)
        pawld_log(s, "error", "\"msg\":\"audit append failed\",\"why\":\"%s\"",
                  pawld_json_escape(err, err, sizeof err));
    return rc == 0 ? 0 : -1;
}

int pawld_sinks_commit(struct pawld_sinks *s, struct pawld_batch *b)
{
    int rc = 0;
    if (b->nrec == 0)
        return 0;
    if (s->ocsf_fd >= 0 && pawl__write_all(s->ocsf_fd, b->buf, b->len) != 0) {
        pawld_log(s, "error", "\"msg\":\"writing the OCSF stream failed\"");
        rc = -1;
    }
    if (s->audit && commit_audit(s, b) != 0)
        rc = -1;
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
