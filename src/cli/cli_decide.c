/* pawl decide: run the decision core over OCSF API Activity lines. */
#include "cli.h"
#include "audit_log.h"
#include "pawl/engine.h"
#include "pawl/event.h"
#include "pawl/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage_text[] =
    "usage: pawl decide --policy POLICY.yaml --grants GRANTS.jsonl [--jwks JWKS.json]\n"
    "                   [--telemetry TELEMETRY.jsonl] [--format ocsf|text]\n"
    "                   [--audit LOG --audit-key ED25519.pem [--checkpoint-every N]]\n"
    "                   < requests.jsonl\n"
    "\n"
    "Reads OCSF API Activity lines (one per request) on stdin and prints one line\n"
    "per request with pawl's decision: the OCSF event with action_id, disposition\n"
    "and status_detail (--format ocsf, the default), or a short human line\n"
    "(--format text). Each request is decided at its own `time`; telemetry lines\n"
    "are applied in time order up to that time, so a replay sees the vehicle\n"
    "state the gateway would have seen. A summary goes to stderr.\n"
    "A malformed request line gets an error on stderr (stdin:LINE: what) and a\n"
    "deny line (bad_request) on stdout; the next lines are still decided.\n"
    "--audit appends every decision to a hash-chained, signed audit log.\n"
    "\n"
    "Exit: 0 all lines decided, 2 usage, 3 a policy/JWKS/grants/telemetry/key\n"
    "file is invalid (the error names file:line:column), 4 writing output or\n"
    "the audit log failed.\n";

struct opts {
    const char *policy, *grants, *jwks, *telemetry, *audit, *audit_key;
    bool text;
    unsigned every;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(PAWL_EXIT_OK);
        }
        if (v == NULL)
            goto bad;
        i++;
        if (strcmp(a, "--policy") == 0) o->policy = v;
        else if (strcmp(a, "--grants") == 0) o->grants = v;
        else if (strcmp(a, "--jwks") == 0) o->jwks = v;
        else if (strcmp(a, "--telemetry") == 0) o->telemetry = v;
        else if (strcmp(a, "--audit") == 0) o->audit = v;
        else if (strcmp(a, "--audit-key") == 0) o->audit_key = v;
        else if (strcmp(a, "--format") == 0 && (strcmp(v, "ocsf") == 0 || strcmp(v, "text") == 0))
            o->text = strcmp(v, "text") == 0;
        else if (strcmp(a, "--checkpoint-every") == 0) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n == 0 || n > 1000000)
                goto bad;
            o->every = (unsigned)n;
        } else
            goto bad;
    }
    if (o->policy && o->grants && (!o->audit == !o->audit_key))
        return 0;
bad:
    fputs(usage_text, stderr);
    return -1;
}

/* ---- configuration ---- */

struct world {
    struct pawl_policy *policy;
    struct pawl_jwks *jwks;
    struct pawl_grants *grants;
    struct pawl_twin *twin;
    struct pawl_engine *engine;
    /* telemetry, sorted by time, applied lazily */
    char *tele_buf;
    struct tline { int64_t time; size_t off, len; unsigned lineno; } *tl;
    size_t ntl, next_tl;
};

static int diag_fail(const struct pawl_diag *d)
{
    char buf[700];
    pawl_diag_format(d, buf, sizeof buf);
    fprintf(stderr, "pawl: %s\n", buf);
    return PAWL_EXIT_INPUT;
}

#define MAX_CONFIG (256u << 20)

static int load_policy_jwks(struct world *w, const struct opts *o)
{
    struct pawl_diag d;
    size_t n;
    char *buf = pawl_cli_slurp(o->policy, PAWL_POLICY_MAX_BYTES, &n);
    if (buf == NULL)
        return PAWL_EXIT_INPUT;
    pawl_err e = pawl_policy_load(buf, n, o->policy, &w->policy, &d);
    free(buf);
    if (e != PAWL_OK)
        return diag_fail(&d);
    if (o->jwks == NULL)
        return 0;
    if ((buf = pawl_cli_slurp(o->jwks, 1u << 20, &n)) == NULL)
        return PAWL_EXIT_INPUT;
    e = pawl_jwks_parse(buf, n, o->jwks, &w->jwks, &d);
    free(buf);
    return e != PAWL_OK ? diag_fail(&d) : 0;
}

static int load_grants(struct world *w, const struct opts *o)
{
    struct pawl_diag d;
    size_t n;
    char *buf = pawl_cli_slurp(o->grants, MAX_CONFIG, &n);
    if (buf == NULL)
        return PAWL_EXIT_INPUT;
    pawl_err e = pawl_grants_new(w->policy->max_delegation_ms, &w->grants);
    if (e != PAWL_OK) {
        free(buf);
        fprintf(stderr, "pawl: out of memory\n");
        return PAWL_EXIT_INPUT;
    }
    e = pawl_grants_load(w->grants, buf, n, o->grants, &d);
    free(buf);
    return e != PAWL_OK ? diag_fail(&d) : 0;
}

static int tline_cmp(const void *a, const void *b)
{
    const struct tline *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

/* Index telemetry lines by time; each line is checked now so that a bad one
 * fails the load with its line number instead of surprising a later decision. */
static int index_line(struct world *w, const char *path, size_t off, size_t len, unsigned lineno)
{
    json_error_t jerr;
    json_t *o = json_loadb(w->tele_buf + off, len, 0, &jerr), *t = json_object_get(o, "time");
    if (!json_is_integer(t)) {
        fprintf(stderr, "pawl: %s:%u: %s\n", path, lineno,
                o ? "time: must be milliseconds since the epoch" : jerr.text);
        json_decref(o);
        return PAWL_EXIT_INPUT;
    }
    w->tl[w->ntl++] = (struct tline){ json_integer_value(t), off, len, lineno };
    json_decref(o);
    return 0;
}

static int load_telemetry(struct world *w, const struct opts *o)
{
    size_t n, lines = 0;
    unsigned lineno = 0;
    if (pawl_twin_new(w->policy->twin_max_vehicles, &w->twin) != PAWL_OK)
        return PAWL_EXIT_INPUT;
    if (o->telemetry == NULL)
        return 0;
    if ((w->tele_buf = pawl_cli_slurp(o->telemetry, MAX_CONFIG, &n)) == NULL)
        return PAWL_EXIT_INPUT;
    for (size_t i = 0; i < n; i++)
        lines += w->tele_buf[i] == '\n';
    if ((w->tl = calloc(lines + 1, sizeof *w->tl)) == NULL)
        return PAWL_EXIT_INPUT;
    for (size_t i = 0; i < n;) {
        char *nl = memchr(w->tele_buf + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (w->tele_buf + i)) : n - i;
        lineno++;
        if (len > 0 && strspn(w->tele_buf + i, " \t\r") < len &&
            index_line(w, o->telemetry, i, len, lineno) != 0)
            return PAWL_EXIT_INPUT;
        i += len + 1;
    }
    qsort(w->tl, w->ntl, sizeof *w->tl, tline_cmp);
    return 0;
}

/* Apply telemetry reported at or before `now`. */
static int advance_twin(struct world *w, const char *path, int64_t now)
{
    for (; w->next_tl < w->ntl && w->tl[w->next_tl].time <= now; w->next_tl++) {
        const struct tline *t = &w->tl[w->next_tl];
        struct pawl_diag d;
        if (pawl_twin_update_line(w->twin, w->tele_buf + t->off, t->len, path, t->lineno, &d) !=
            PAWL_OK)
            return diag_fail(&d);
    }
    return 0;
}

static void world_free(struct world *w)
{
    pawl_engine_free(w->engine);
    pawl_twin_free(w->twin);
    pawl_grants_free(w->grants);
    if (w->jwks)
        pawl_jwks_free(w->jwks);
    pawl_policy_free(w->policy);
    free(w->tele_buf);
    free(w->tl);
}

/* ---- the request loop ---- */

struct run {
    struct world *w;
    const struct opts *o;
    struct pawl_audit_log *audit;
    unsigned long lines, bad_lines;
    int64_t last_time;
};

static void print_text(const struct pawl_event_in *ev, const struct pawl_decision *dec)
{
    char why[sizeof dec->detail + 64];
    pawl_decision_why(dec, why, sizeof why);
    printf("%-5s %3d %-7.*s %-60.*s %-12s %-22s %s\n",
           dec->reason == PAWL_R_ALLOWED ? "ALLOW" : "DENY", dec->status, (int)ev->rq.method.n,
           ev->rq.method.p ? ev->rq.method.p : "", (int)(ev->rq.path.n > 60 ? 60 : ev->rq.path.n),
           ev->rq.path.p ? ev->rq.path.p : "",
           dec->authenticated ? dec->principal.uid : "-", pawl_reason_name(dec->reason), why);
}

static int emit(struct run *r, const struct pawl_event_in *ev, const struct pawl_decision *dec)
{
    char err[512];
    size_t n;
    int64_t t = dec->reason != PAWL_R_BAD_REQUEST ? ev->rq.time_ms : r->last_time; /* bad lines: last good time */
    json_t *out = pawl_event_decision(ev->root, t, ev->rq.method, dec);
    char *line = out ? pawl_event_dump(out, &n) : NULL;
    json_decref(out);
    if (line == NULL) {
        fprintf(stderr, "pawl: out of memory rendering a decision\n");
        return PAWL_EXIT_IO;
    }
    if (r->o->text)
        print_text(ev, dec);
    else
        printf("%s\n", line);
    if (r->audit && pawl_audit_log_append(r->audit, t, "decision", line, n, err, sizeof err) != 0) {
        fprintf(stderr, "pawl: audit: %s\n", err);
        free(line);
        return PAWL_EXIT_IO;
    }
    free(line);
    return 0;
}

static int one_line(struct run *r, const char *line, size_t n)
{
    struct pawl_event_in ev;
    struct pawl_decision dec;
    struct pawl_diag d;
    int rc;
    r->lines++;
    if (pawl_event_parse(line, n, "stdin", (unsigned)r->lines, &ev, &d) != PAWL_OK) {
        char buf[700];
        pawl_diag_format(&d, buf, sizeof buf);
        fflush(stdout); /* keep the error next to the line it is about */
        fprintf(stderr, "pawl: %s\n", buf);
        r->bad_lines++;
        memset(&dec, 0, sizeof dec);
        dec.reason = PAWL_R_BAD_REQUEST;
        dec.status = pawl_reason_status(dec.reason);
        snprintf(dec.detail, sizeof dec.detail, "%s", d.msg);
        if (!json_is_object(ev.root)) { /* echo only what parsed as an object */
            json_decref(ev.root);
            ev.root = NULL;
        }
        ev.rq.time_ms = 0;
        rc = emit(r, &ev, &dec);
        pawl_event_in_free(&ev);
        return rc;
    }
    if ((rc = advance_twin(r->w, r->o->telemetry, ev.rq.time_ms)) != 0) {
        pawl_event_in_free(&ev);
        return rc;
    }
    r->last_time = ev.rq.time_ms;
    pawl_decide(r->w->engine, &ev.rq, &dec);
    rc = emit(r, &ev, &dec);
    pawl_event_in_free(&ev);
    return rc;
}

/* Read stdin line by line with a hard maximum: an over-long line is
 * discarded up to its newline and answered with a deny. */
static int read_loop(struct run *r)
{
    size_t cap = PAWL_EVENT_MAX_LINE + 2, n = 0;
    char *buf = malloc(cap);
    bool skipping = false;
    int c, rc = 0;
    if (buf == NULL)
        return PAWL_EXIT_IO;
    while (rc == 0 && (c = getchar()) != EOF) {
        if (c != '\n') {
            if (n < cap - 1)
                buf[n++] = (char)c;
            else
                skipping = true;
            continue;
        }
        if (skipping) {
            rc = one_line(r, buf, PAWL_EVENT_MAX_LINE + 1); /* parse refuses: too long */
            skipping = false;
        } else if (n > 0 && strspn(buf, " \t\r") < n) {
            rc = one_line(r, buf, n);
        }
        n = 0;
    }
    if (rc == 0 && n > 0 && strspn(buf, " \t\r") < n)
        rc = one_line(r, buf, skipping ? PAWL_EVENT_MAX_LINE + 1 : n);
    free(buf);
    return rc;
}

static void summary(const struct run *r)
{
    struct pawl_engine_stats st;
    pawl_engine_stats(r->w->engine, &st);
    fprintf(stderr, "pawl decide: %lu requests: %llu allowed, %llu denied, %lu malformed\n",
            r->lines, (unsigned long long)st.allowed,
            (unsigned long long)(st.denied + r->bad_lines), r->bad_lines);
    for (int i = 1; i < PAWL_R__COUNT; i++)
        if (st.by_reason[i])
            fprintf(stderr, "  %-24s %llu\n", pawl_reason_name((enum pawl_reason)i),
                    (unsigned long long)st.by_reason[i]);
    if (r->bad_lines)
        fprintf(stderr, "  %-24s %lu\n", "bad_request", r->bad_lines);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pawl_cli_decide(int argc, char **argv)
{
    struct opts o = { .every = 1000 };
    struct world w;
    struct run r;
    char err[512];
    int rc;
    memset(&w, 0, sizeof w);
    memset(&r, 0, sizeof r);
    if (parse_opts(argc, argv, &o) != 0)
        return PAWL_EXIT_USAGE;
    if ((rc = load_policy_jwks(&w, &o)) != 0 || (rc = load_grants(&w, &o)) != 0 ||
        (rc = load_telemetry(&w, &o)) != 0)
        goto out;
    if (pawl_engine_new(w.policy, w.jwks, w.grants, w.twin, &w.engine) != PAWL_OK) {
        fprintf(stderr, "pawl: cannot build the decision engine (out of memory or too many signals)\n");
        rc = PAWL_EXIT_INPUT;
        goto out;
    }
    r.w = &w;
    r.o = &o;
    r.last_time = now_ms();
    if (o.audit && pawl_audit_log_open(o.audit, o.audit_key, o.every, 10000, false, &r.audit, err,
                                       sizeof err) != 0) {
        fprintf(stderr, "pawl: audit: %s\n", err);
        rc = PAWL_EXIT_INPUT;
        goto out;
    }
    rc = read_loop(&r);
    if (r.audit && pawl_audit_log_close(r.audit, r.last_time, err, sizeof err) != 0 && rc == 0) {
        fprintf(stderr, "pawl: audit: %s\n", err);
        rc = PAWL_EXIT_IO;
    }
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "pawl: writing output: %s\n", strerror(errno));
        rc = PAWL_EXIT_IO;
    }
    summary(&r);
out:
    world_free(&w);
    return rc;
}
