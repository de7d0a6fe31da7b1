/* pawl audit: verify and append to the tamper-evident audit log (docs/audit.md). */
#include "audit_log.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "util.h"

static const char usage_top[] =
    "usage: pawl audit <command> [options]\n"
    "\n"
    "commands:\n"
    "  verify FILE --key PUB.pem [--anchor FILE]   verify a hash-chained, signed audit log\n"
    "  append FILE --key PRIV.pem [--every N] [--every-ms T] [--fsync]\n"
    "                                              append stdin's JSON lines as records\n"
    "\n"
    "Exit codes: 0 ok, 1 verification failed (or input lines refused by append),\n"
    "2 usage, 3 unreadable key, log or anchor.\n";

static const char usage_verify[] =
    "usage: pawl audit verify FILE --key PUB.pem [--anchor ANCHOR]\n"
    "\n"
    "Verifies every record's hash, the chain (seq, prev), the genesis key and every\n"
    "checkpoint signature; holds the log to ANCHOR (default FILE.anchor when it\n"
    "exists) so that truncation before the last anchored checkpoint is detected.\n"
    "A torn tail (bytes after the last newline) is reported, not failed.\n"
    "Prints a summary and exits 0, or prints FILE:LINE: seq S: what and exits 1.\n";

static const char usage_append[] =
    "usage: pawl audit append FILE --key PRIV.pem [--every N] [--every-ms T] [--fsync]\n"
    "\n"
    "Appends each stdin line (a JSON object) as a record of kind \"event\", at the\n"
    "time of its numeric \"time\" member (ms) or else the wall clock. Creates FILE\n"
    "(0600, genesis record) when missing; verifies it first otherwise. A checkpoint\n"
    "is signed every N records (default 1000), every T ms of record time (default\n"
    "10000) and on exit; each is fsynced and copied to FILE.anchor. --fsync fsyncs\n"
    "every record. Bad lines are reported and skipped (exit 1 at the end).\n";

struct opts {
    const char *file, *key, *anchor;
    unsigned every_n;
    int64_t every_ms;
    bool fsync_each, help;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PAWL_PRINTF(2, 3)
static int bad_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    fputs("pawl audit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(usage, stderr);
    return PAWL_EXIT_USAGE;
}

static int parse_opts(int argc, char **argv, bool append, struct opts *o)
{
    const char *usage = append ? usage_append : usage_verify;
    int64_t v;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--key") == 0 || (!append && strcmp(a, "--anchor") == 0) ||
                     (append && (strcmp(a, "--every") == 0 || strcmp(a, "--every-ms") == 0));
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = true;
            return PAWL_EXIT_OK;
        }
        if (takes && val == NULL)
            return bad_usage(usage, "%s needs a value", a);
        if (strcmp(a, "--key") == 0) {
            o->key = argv[++i];
        } else if (!append && strcmp(a, "--anchor") == 0) {
            o->anchor = argv[++i];
        } else if (append && strcmp(a, "--every") == 0) {
            if (pawl__parse_i64(val, strlen(val), 1, 100000000, &v) != PAWL_OK)
                return bad_usage(usage, "--every wants a count from 1 to 100000000, not '%s'", val);
            o->every_n = (unsigned)v;
            i++;
        } else if (append && strcmp(a, "--every-ms") == 0) {
            if (pawl__parse_i64(val, strlen(val), 1, INT64_MAX / 2, &v) != PAWL_OK)
                return bad_usage(usage, "--every-ms wants a positive number of ms, not '%s'", val);
            o->every_ms = v;
            i++;
        } else if (append && strcmp(a, "--fsync") == 0) {
            o->fsync_each = true;
        } else if (a[0] == '-' || o->file != NULL) {
            return bad_usage(usage, "unexpected argument '%s'", a);
        } else {
            o->file = a;
        }
    }
    if (o->file == NULL)
        return bad_usage(usage, "%s", "missing FILE");
    if (o->key == NULL)
        return bad_usage(usage, "%s", "missing --key");
    return PAWL_EXIT_OK;
}

static void print_summary(const char *file, const struct pawl__audit_scan *s)
{
    if (s->torn)
        printf("%s: torn tail: %" PRIu64 " bytes at offset %" PRIu64 " (incomplete last record)\n",
               file, s->torn_len, s->torn_off);
    if (s->v.have_checkpoint)
        printf("%s: ok: %" PRIu64 " records, last checkpoint seq %" PRIu64 ", %" PRIu64
               " unsigned records after it%s\n", file, s->v.records, s->v.last_checkpoint_seq,
               s->v.unsigned_tail, s->have_anchor ? ", anchor matches" : "");
    else
        printf("%s: ok: %" PRIu64 " records, no checkpoint, %" PRIu64 " unsigned records\n", file,
               s->v.records, s->v.unsigned_tail);
}

static int cmd_verify(int argc, char **argv)
{
    struct opts o;
    struct pawl__audit_scan s;
    uint8_t pub[PAWL_AUDIT_KEY_LEN];
    char err[512], *anchor = NULL;
    int rc = parse_opts(argc, argv, false, &o), fd = -1;
    if (rc != PAWL_EXIT_OK || o.help) {
        if (o.help)
            fputs(usage_verify, stdout);
        return rc;
    }
    EVP_PKEY *k = pawl__audit_load_key(o.key, false, pub, err, sizeof err);
    if (k == NULL) {
        fprintf(stderr, "pawl: %s\n", err);
        return PAWL_EXIT_INPUT;
    }
    EVP_PKEY_free(k);
    if (o.anchor == NULL) {
        size_t n = strlen(o.file);
        if ((anchor = malloc(n + sizeof ".anchor")) == NULL)
            return PAWL_EXIT_INPUT;
        memcpy(anchor, o.file, n);
        memcpy(anchor + n, ".anchor", sizeof ".anchor");
    }
    if ((fd = open(o.file, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "pawl: %s: %s\n", o.file, strerror(errno));
        free(anchor);
        return PAWL_EXIT_INPUT;
    }
    rc = pawl__audit_scan(fd, o.file, pub, o.anchor ? o.anchor : anchor, o.anchor != NULL, &s);
    if (rc == 0)
        print_summary(o.file, &s);
    else
        fprintf(stderr, "%s\n", s.msg);
    pawl__audit_scan_free(&s);
    close(fd);
    free(anchor);
    return rc == 0 ? PAWL_EXIT_OK : rc == 1 ? PAWL_EXIT_FAIL : PAWL_EXIT_INPUT;
}

/* The record time of a stdin line: its numeric "time" member, else now. */
static int line_time(const char *p, size_t n, int64_t *t, char *why, size_t whylen)
{
    json_error_t jerr;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (j == NULL) {
        snprintf(why, whylen, "not JSON: %s (column %d)", jerr.text, jerr.column);
        return -1;
    }
    json_t *tm = json_is_object(j) ? json_object_get(j, "time") : NULL;
    double d = json_is_number(tm) ? json_number_value(tm) : 0;
    if (tm == NULL) {
        *t = wall_ms();
        rc = 0;
    } else if (json_is_integer(tm) && json_integer_value(tm) >= 0) {
        *t = (int64_t)json_integer_value(tm);
        rc = 0;
    } else if (json_is_real(tm) && isfinite(d) && d >= 0 && d < 9.0e18) {
        *t = (int64_t)d;
        rc = 0;
    } else {
        snprintf(why, whylen, "\"time\" is not a non-negative number of ms");
    }
    json_decref(j);
    return rc;
}

/* Feed stdin to the log. Returns the number of refused lines, or -1 on I/O error. */
static long append_lines(struct pawl_audit_log *log)
{
    struct pawl__lines r;
    const char *p = NULL;
    size_t n = 0;
    uint64_t off;
    long bad = 0;
    char why[512];
    int64_t t = 0;
    pawl__lines_init(&r, STDIN_FILENO, PAWL_AUDIT_BODY_MAX);
    for (;;) {
        enum pawl__line_kind k = pawl__lines_next(&r, &p, &n, &off);
        if (k == PAWL__LINE_EOF || k == PAWL__LINE_ERR) {
            if (k == PAWL__LINE_ERR)
                fprintf(stderr, "pawl: stdin: read error: %s\n", strerror(errno));
            break;
        }
        if (k == PAWL__LINE_LONG) {
            fprintf(stderr, "pawl: stdin:%" PRIu64 ": longer than %u bytes, skipped\n", r.lineno,
                    PAWL_AUDIT_BODY_MAX);
            bad++;
            continue;
        }
        if (n == 0)
            continue;
        int rc = line_time(p, n, &t, why, sizeof why);
        if (rc == 0)
            rc = pawl_audit_log_append(log, t, "event", p, n, why, sizeof why);
        else
            rc = 1;
        if (rc < 0) {
            fprintf(stderr, "pawl: %s\n", why);
            bad = -1;
            break;
        }
        if (rc > 0) {
            fprintf(stderr, "pawl: stdin:%" PRIu64 ": %s, skipped\n", r.lineno, why);
            bad++;
        }
    }
    pawl__lines_free(&r);
    return bad;
}

static int cmd_append(int argc, char **argv)
{
    struct opts o;
    struct pawl_audit_log *log = NULL;
    char err[1024];
    int rc = parse_opts(argc, argv, true, &o);
    if (rc != PAWL_EXIT_OK || o.help) {
        if (o.help)
            fputs(usage_append, stdout);
        return rc;
    }
    rc = pawl_audit_log_open(o.file, o.key, o.every_n, o.every_ms, o.fsync_each,
                             &log, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "pawl: %s\n", err);
        return rc == 1 ? PAWL_EXIT_FAIL : PAWL_EXIT_INPUT;
    }
    long bad = append_lines(log);
    if (pawl_audit_log_close(log, wall_ms(), err, sizeof err) != 0) {
        fprintf(stderr, "pawl: %s\n", err);
        return PAWL_EXIT_INPUT;
    }
    if (bad < 0)
        return PAWL_EXIT_INPUT;
    return bad > 0 ? PAWL_EXIT_FAIL : PAWL_EXIT_OK;
}

int pawl_cli_audit(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_top, stderr);
        return PAWL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_top, stdout);
        return PAWL_EXIT_OK;
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "append") == 0)
        return cmd_append(argc - 1, argv + 1);
    fprintf(stderr, "pawl audit: unknown command '%s'\n", argv[1]);
    fputs(usage_top, stderr);
    return PAWL_EXIT_USAGE;
}
