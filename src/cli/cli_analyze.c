/* pawl analyze: historic traffic into an API inventory with risk scores
 * (discovery, pawl/discover.h). Detectors and findings come next; see
 * docs/detection.md. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "pawl/detect.h"
#include "detect_state.h"
#include "pawl/discover.h"
#include "pawl/event.h"
#include "pawl/grants.h"
#include "pawl/siem.h"
#include "cli_report.h"
#include "event_simd.h"
#include "siem_out.h"

#define MAX_INPUTS 16

struct analyze_opts {
    const char *events[MAX_INPUTS];
    unsigned nevents;
    const char *inventory, *findings, *grants, *openapi, *telemetry, *report, *state;
    const char *siem, *siem_ca, *siem_cert, *siem_key, *siem_spool;
    long max_ops, siem_timeout_s;
};

/* What the reading loop feeds. */
struct sink {
    struct pawl_inventory *inv;
    struct pawl_detector *det;
    FILE *findings;
    uint64_t nfindings;
    bool write_failed;
    struct pawl_siem_out *siem;
    char host[256];
    char run[17];           /* this run's id: finding ids are unique across runs */
    struct tele {           /* --telemetry, read along with the events in time order */
        FILE *f;
        const char *path;
        unsigned lineno;
        bool have;
        int64_t time_ms;
        char vin[32];
        double speed;
    } tele;
    unsigned long *bad;
    struct pawl_report *report;
    uint64_t siem_refused;
    struct pawl_event_reader *fast; /* simdjson; the lines it declines go to jansson */
};

static void usage_analyze(FILE *f)
{
    fputs("usage: pawl analyze --events FILE [--events FILE ...] [--grants GRANTS.jsonl] [--telemetry T.jsonl]\n"
          "                    [--openapi SPEC.json] [--findings OUT.jsonl] --inventory OUT.json\n"
          "                    [--report FILE] [--state FILE] [--max-operations N]\n"
          "\n"
          "Reads API Activity lines (OCSF, docs/formats/ocsf-profile.md) or nginx access log\n"
          "lines (combined format), told apart line by line; FILE '-' is stdin. Writes\n"
          "the API inventory: templated operations ({vin}, {uuid}, {int}, {hex}, {email},\n"
          "{plate}), their status mix, principals, roles, unauthenticated calls, response\n"
          "sizes, first and last seen, ranked by a risk score that shows its parts\n"
          "(docs/detection.md). At most N operations are kept (default 10000).\n"
          "--findings writes one Detection Finding line per finding of the detectors\n"
          "(events in time order); --grants tells them who may touch which vehicle.\n"
          "--telemetry T.jsonl feeds vehicle speeds (in time order) to the detectors.\n"
          "--state FILE keeps the detectors' state across runs (read if it exists,\n"
          "written at the end).\n"
          "--report FILE writes a report: an HTML page when FILE ends in .html\n"
          "(findings over time, by detector, top principals, the inventory by risk),\n"
          "text otherwise. A progress bar shows on a terminal for large files.\n"
          "--openapi compares the inventory with an OpenAPI 3 document: shadow, zombie,\n"
          "drift and unused operations. --siem HOST:PORT also sends each finding as\n"
          "syslog over TLS (RFC 5425, CEF body) through the spool --siem-spool DIR\n"
          "(--siem-ca CA, --siem-cert/--siem-key for the client certificate), waiting\n"
          "--siem-timeout S (30) at the end; undelivered alerts stay spooled (exit 4).\n"
          "Exit codes: 0 every line read, 2 usage, 3 some lines refused (each named\n"
          "on stderr; the inventory is still written), 4 writing failed.\n",
          f);
}

/* --siem HOST:PORT --siem-ca F --siem-cert F --siem-key F --siem-spool DIR --siem-timeout S */
static int siem_opt(const char *name, const char *value, struct analyze_opts *o)
{
    struct { const char *name; const char **dst; } map[] = {
        {"--siem", &o->siem}, {"--siem-ca", &o->siem_ca}, {"--siem-cert", &o->siem_cert},
        {"--siem-key", &o->siem_key}, {"--siem-spool", &o->siem_spool},
    };
    if (value == NULL)
        return -1;
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (strcmp(name, map[k].name) == 0) {
            *map[k].dst = value;
            return 0;
        }
    if (strcmp(name, "--siem-timeout") != 0)
        return -1;
    char *end;
    o->siem_timeout_s = strtol(value, &end, 10);
    return *end == '\0' && o->siem_timeout_s >= 0 && o->siem_timeout_s <= 86400 ? 0 : -1;
}

static int parse_opts(int argc, char **argv, struct analyze_opts *o)
{
    o->max_ops = 10000;
    o->siem_timeout_s = 30;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--events") == 0 && more && o->nevents < MAX_INPUTS) {
            o->events[o->nevents++] = argv[++i];
        } else if (strcmp(argv[i], "--inventory") == 0 && more) {
            o->inventory = argv[++i];
        } else if (strcmp(argv[i], "--findings") == 0 && more) {
            o->findings = argv[++i];
        } else if (strcmp(argv[i], "--grants") == 0 && more) {
            o->grants = argv[++i];
        } else if (strcmp(argv[i], "--openapi") == 0 && more) {
            o->openapi = argv[++i];
        } else if (strcmp(argv[i], "--telemetry") == 0 && more) {
            o->telemetry = argv[++i];
        } else if (strcmp(argv[i], "--report") == 0 && more) {
            o->report = argv[++i];
        } else if (strcmp(argv[i], "--state") == 0 && more) {
            o->state = argv[++i];
        } else if (siem_opt(argv[i], more ? argv[i + 1] : NULL, o) == 0) {
            i++;
        } else if (strcmp(argv[i], "--max-operations") == 0 && more) {
            char *end;
            errno = 0;
            o->max_ops = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || o->max_ops < 1 || o->max_ops > 1000000) {
                fprintf(stderr, "pawl: analyze: --max-operations '%s': 1 to 1000000\n", argv[i]);
                return -1;
            }
        } else {
            fprintf(stderr, "pawl: analyze: unexpected '%s'\n", argv[i]);
            return -1;
        }
    }
    if (o->nevents == 0 || o->inventory == NULL) {
        fputs("pawl: analyze: --events and --inventory are required\n", stderr);
        return -1;
    }
    if (o->state && !o->findings && !o->report) {
        fputs("pawl: analyze: --state keeps the detectors' state: it needs --findings or --report\n", stderr);
        return -1;
    }
    if (o->siem && (!o->siem_ca || !o->siem_spool || !o->findings)) {
        fputs("pawl: analyze: --siem needs --siem-ca, --siem-spool and --findings\n", stderr);
        return -1;
    }
    return 0;
}

static void on_finding(void *ctx, const struct pawl_finding *f)
{
    struct sink *s = ctx;
    char uid[64];
    snprintf(uid, sizeof uid, "pawl-%s-%llu-%s", s->run, (unsigned long long)++s->nfindings, f->detector);
    json_t *j = pawl_finding_json(f, uid);
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (line == NULL || fprintf(s->findings, "%s\n", line) < 0)
        s->write_failed = true;
    free(line);
    json_decref(j);
    if (s->report != NULL)
        pawl_report_add(s->report, f);
    if (s->siem != NULL) {
        char cef[2048], frame[2600], err[512];
        size_t c = pawl_cef(f, uid, cef, sizeof cef);
        size_t n = c ? pawl_syslog_frame(f, s->host, f->detector, cef, c, frame, sizeof frame) : 0;
        if (n == 0 || pawl_siem_enqueue(s->siem, frame, n, err, sizeof err) != 0) {
            if (s->siem_refused++ == 0)
                fprintf(stderr, "pawl: SIEM: %s\n", n ? err : "an alert does not fit a syslog message");
        }
    }
}

/* The next telemetry line with a speed; have = false at the end. */
static void tele_next(struct sink *sk)
{
    struct tele *t = &sk->tele;
    char line[4096];
    t->have = false;
    while (t->f != NULL && fgets(line, sizeof line, t->f) != NULL) {
        t->lineno++;
        json_t *j = json_loads(line, 0, NULL);
        json_t *sp = json_object_get(json_object_get(j, "signals"), "Vehicle.Speed");
        const char *vin = json_string_value(json_object_get(j, "vin"));
        json_t *tm = json_object_get(j, "time");
        if (j == NULL || vin == NULL || !json_is_integer(tm) || strlen(vin) >= sizeof t->vin) {
            fprintf(stderr, "pawl: %s:%u: not a telemetry line (time, vin, signals)\n", t->path, t->lineno);
            (*sk->bad)++;
        } else if (json_is_number(sp)) {
            t->time_ms = json_integer_value(tm);
            snprintf(t->vin, sizeof t->vin, "%s", vin);
            t->speed = json_number_value(sp);
            t->have = true;
        }
        json_decref(j);
        if (t->have)
            return;
    }
}

/* Telemetry up to time t goes to the detectors first. */
static void tele_until(struct sink *sk, int64_t t)
{
    while (sk->tele.have && sk->tele.time_ms <= t) {
        pawl_detector_telemetry(sk->det, (pawl_str){sk->tele.vin, strlen(sk->tele.vin)}, sk->tele.time_ms,
                                sk->tele.speed);
        tele_next(sk);
    }
}

/* One line of either kind into the inventory and the detectors; 0, or -1
 * after saying why. */
static int one_line(struct sink *sk, char *line, size_t n, const char *where, unsigned lineno)
{
    struct pawl_api_event e;
    struct pawl_diag d = {0};
    char msg[512];
    json_t *j = NULL;
    pawl_err err;
    if (line[0] == '{' && sk->fast != NULL && pawl_event_reader_read(sk->fast, line, n, &e)) {
        err = PAWL_OK;
    } else if (line[0] == '{') {
        json_error_t je;
        j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
        if (j == NULL) {
            fprintf(stderr, "pawl: %s:%u: not JSON: %s\n", where, lineno, je.text);
            return -1;
        }
        err = pawl_api_event_from_json(j, &e, where, lineno, &d);
    } else {
        err = pawl_nginx_parse(line, n, &e, where, lineno, &d);
    }
    if (err == PAWL_OK)
        err = pawl_inventory_add(sk->inv, &e);
    if (err == PAWL_OK && sk->det != NULL) {
        tele_until(sk, e.time_ms);
        pawl_detector_feed(sk->det, &e, on_finding, sk);
    }
    json_decref(j);
    if (err == PAWL_ENOMEM) {
        fprintf(stderr, "pawl: %s:%u: out of memory\n", where, lineno);
        return -1;
    }
    if (err != PAWL_OK) {
        if (d.msg[0] == '\0')
            snprintf(d.msg, sizeof d.msg, "a method or path pawl cannot template");
        if (d.where[0] != '\0') {
            pawl_diag_format(&d, msg, sizeof msg);
            fprintf(stderr, "pawl: %s\n", msg);
        } else {
            fprintf(stderr, "pawl: %s:%u: %s\n", where, lineno, d.msg);
        }
        return -1;
    }
    return 0;
}

static void progress(const char *where, off_t done, off_t total, unsigned lines)
{
    int pct = (int)(100 * done / total), filled = pct / 4;
    fprintf(stderr, "\r%s [%.*s%*s] %3d%% %u lines", where, filled, "#########################", 25 - filled, "",
            pct, lines);
}

static int read_input(struct sink *sk, const char *path, unsigned long *bad)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    const char *where = strcmp(path, "-") == 0 ? "stdin" : path;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    if (f == NULL) {
        fprintf(stderr, "pawl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    off_t total = f != stdin && isatty(STDERR_FILENO) && fstat(fileno(f), &st) == 0 ? st.st_size : 0;
    off_t done = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        done += n;
        if (total > (8 << 20) && lineno % 65536 == 0) /* large files on a terminal: a progress bar */
            progress(where, done, total, lineno);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if ((size_t)n > PAWL_EVENT_MAX_LINE) {
            fprintf(stderr, "pawl: %s:%u: line longer than %u bytes\n", where, lineno, PAWL_EVENT_MAX_LINE);
            (*bad)++;
        } else if (one_line(sk, line, (size_t)n, where, lineno) != 0) {
            (*bad)++;
        }
    }
    bool err = ferror(f) != 0;
    if (total > (8 << 20)) {
        progress(where, total, total, lineno);
        fputc('\n', stderr);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (err)
        fprintf(stderr, "pawl: %s: read error\n", where);
    return err ? -1 : 0;
}

static struct pawl_grants *load_grants(const char *path)
{
    struct pawl_grants *g = NULL;
    struct pawl_diag d = {0};
    char msg[512];
    size_t n;
    char *buf = pawl_cli_slurp(path, 1u << 30, &n);
    if (buf == NULL)
        return NULL;
    if (pawl_grants_new(30LL * 24 * 3600 * 1000, &g) != PAWL_OK || pawl_grants_load(g, buf, n, path, &d) != PAWL_OK) {
        pawl_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "pawl: %s\n", d.msg[0] ? msg : "out of memory");
        pawl_grants_free(g);
        g = NULL;
    }
    free(buf);
    return g;
}

static int compare_openapi(json_t *inventory, const char *path)
{
    json_error_t je;
    struct pawl_diag d = {0};
    char msg[512];
    json_t *spec = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (spec == NULL) {
        fprintf(stderr, "pawl: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return -1;
    }
    pawl_err e = pawl_inventory_openapi(inventory, spec, path, &d);
    json_decref(spec);
    if (e != PAWL_OK) {
        pawl_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "pawl: %s\n", msg);
        return -1;
    }
    return 0;
}

static int open_siem(const struct analyze_opts *o, struct sink *sk)
{
    char host[256], err[600], *end;
    const char *colon = strrchr(o->siem, ':');
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == o->siem || *end != '\0' || port < 1 || port > 65535 ||
        (size_t)(colon - o->siem) >= sizeof host) {
        fprintf(stderr, "pawl: --siem '%s': want HOST:PORT\n", o->siem);
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - o->siem), o->siem);
    struct pawl_siem_cfg c = {host, (int)port, o->siem_ca, o->siem_cert, o->siem_key, o->siem_spool, 0};
    if ((sk->siem = pawl_siem_open(&c, err, sizeof err)) == NULL) {
        fprintf(stderr, "pawl: SIEM: %s\n", err);
        return -1;
    }
    if (gethostname(sk->host, sizeof sk->host) != 0)
        snprintf(sk->host, sizeof sk->host, "pawl");
    return 0;
}

/* Alerts still in the spool after the timeout: said, and exit 4. */
static int close_siem(const struct analyze_opts *o, struct sink *sk)
{
    if (sk->siem == NULL)
        return PAWL_EXIT_OK;
    uint64_t left = pawl_siem_flush(sk->siem, o->siem_timeout_s * 1000);
    pawl_siem_close(sk->siem);
    sk->siem = NULL;
    if (left > 0)
        fprintf(stderr, "pawl: SIEM %s: %llu alerts not delivered yet; they stay in %s and go first on the "
                "next run\n", o->siem, (unsigned long long)left, o->siem_spool);
    if (sk->siem_refused > 0)
        fprintf(stderr, "pawl: SIEM: %llu alerts could not be queued (they are in %s)\n",
                (unsigned long long)sk->siem_refused, o->findings);
    return left > 0 || sk->siem_refused > 0 ? PAWL_EXIT_IO : PAWL_EXIT_OK;
}

/* --state FILE: the detectors' state from an earlier run, when there is one. */
static int load_state(const char *path, struct pawl_detector *det)
{
    char err[600];
    if (pawl_host_detect_load(path, det, NULL, err, sizeof err) >= 0)
        return 0;
    fprintf(stderr, "pawl: %s\n", err);
    return -1;
}

static int save_state(const char *path, const struct pawl_detector *det)
{
    char err[4400];
    if (pawl_host_detect_save(path, det, NULL, 0, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "pawl: %s\n", err);
    return -1;
}

/* Sets up what the options ask for; PAWL_EXIT_OK or an exit code. */
static int open_sink(const struct analyze_opts *o, struct sink *sk, struct pawl_grants **grants)
{
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    if (pawl_inventory_new((size_t)o->max_ops, &sk->inv) != PAWL_OK)
        return PAWL_EXIT_INPUT;
    if (o->grants && (*grants = load_grants(o->grants)) == NULL)
        return PAWL_EXIT_INPUT;
    if (o->report != NULL && (sk->report = pawl_report_new()) == NULL)
        return PAWL_EXIT_INPUT;
    if (o->findings == NULL && o->report == NULL)
        return PAWL_EXIT_OK;
    unsigned char id[8];
    if (RAND_bytes(id, sizeof id) != 1)
        return PAWL_EXIT_INPUT;
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(sk->run + 2 * i, 3, "%02x", id[i]);
    if (o->findings == NULL)
        sk->findings = fopen("/dev/null", "w"); /* a report without a findings file */
    else
        sk->findings = strcmp(o->findings, "-") == 0 ? stdout : fopen(o->findings, "w");
    if (sk->findings == NULL) {
        fprintf(stderr, "pawl: %s: %s\n", o->findings, strerror(errno));
        return PAWL_EXIT_IO;
    }
    if (o->siem != NULL && open_siem(o, sk) != 0)
        return PAWL_EXIT_INPUT;
    if (o->telemetry != NULL) {
        sk->tele.path = o->telemetry;
        if ((sk->tele.f = fopen(o->telemetry, "r")) == NULL) {
            fprintf(stderr, "pawl: %s: %s\n", o->telemetry, strerror(errno));
            return PAWL_EXIT_INPUT;
        }
        tele_next(sk);
    }
    if (pawl_detector_new(&cfg, *grants, &sk->det) != PAWL_OK)
        return PAWL_EXIT_INPUT;
    return o->state && load_state(o->state, sk->det) != 0 ? PAWL_EXIT_INPUT : PAWL_EXIT_OK;
}

int pawl_cli_analyze(int argc, char **argv)
{
    struct analyze_opts o = {0};
    struct sink sk = {0};
    struct pawl_grants *grants = NULL;
    unsigned long bad = 0;
    sk.bad = &bad;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_analyze(stdout);
        return PAWL_EXIT_OK;
    }
    if (parse_opts(argc, argv, &o) != 0) {
        usage_analyze(stderr);
        return PAWL_EXIT_USAGE;
    }
    int rc = open_sink(&o, &sk, &grants);
    sk.fast = pawl_event_reader_new(); /* NULL: every line through jansson */
    for (unsigned i = 0; i < o.nevents && rc == PAWL_EXIT_OK; i++)
        if (read_input(&sk, o.events[i], &bad) != 0)
            rc = PAWL_EXIT_INPUT;
    if (sk.findings != NULL && (fflush(sk.findings) != 0 || sk.write_failed) && rc == PAWL_EXIT_OK) {
        fprintf(stderr, "pawl: %s: cannot write the findings\n", o.findings);
        rc = PAWL_EXIT_IO;
    }
    if (rc == PAWL_EXIT_OK && o.state != NULL && sk.det != NULL && save_state(o.state, sk.det) != 0)
        rc = PAWL_EXIT_IO;
    json_t *out = rc == PAWL_EXIT_OK ? pawl_inventory_json(sk.inv) : NULL;
    if (out != NULL && o.openapi != NULL && compare_openapi(out, o.openapi) != 0)
        rc = PAWL_EXIT_INPUT;
    if (out != NULL && sk.report != NULL && pawl_report_write(sk.report, out, o.report) != 0) {
        fprintf(stderr, "pawl: %s: cannot write the report\n", o.report);
        rc = PAWL_EXIT_IO;
    }
    if (rc == PAWL_EXIT_OK && (out == NULL || json_dump_file(out, o.inventory, JSON_INDENT(1)) != 0)) {
        fprintf(stderr, "pawl: %s: cannot write the inventory\n", o.inventory);
        rc = PAWL_EXIT_IO;
    }
    if (rc == PAWL_EXIT_OK) {
        fprintf(stderr, "pawl: analyze: %lld events, %zu operations, %llu findings, %lu lines refused\n",
                (long long)json_integer_value(json_object_get(out, "events")),
                json_array_size(json_object_get(out, "operations")), (unsigned long long)sk.nfindings, bad);
        rc = bad > 0 ? PAWL_EXIT_INPUT : PAWL_EXIT_OK;
    }
    json_decref(out);
    int src = close_siem(&o, &sk);
    rc = rc == PAWL_EXIT_OK ? src : rc;
    if (sk.findings != NULL && sk.findings != stdout && fclose(sk.findings) != 0 && rc == PAWL_EXIT_OK)
        rc = PAWL_EXIT_IO;
    if (sk.tele.f != NULL)
        fclose(sk.tele.f);
    pawl_detector_free(sk.det);
    pawl_event_reader_free(sk.fast);
    pawl_report_free(sk.report);
    pawl_inventory_free(sk.inv);
    pawl_grants_free(grants);
    return rc;
}
