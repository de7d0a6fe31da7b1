/* pawl analyze: historic traffic into an API inventory with risk scores
 * (discovery, pawl/discover.h). Detectors and findings come next; see
 * docs/detection.md. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pawl/discover.h"
#include "pawl/event.h"

#define MAX_INPUTS 16

struct analyze_opts {
    const char *events[MAX_INPUTS];
    unsigned nevents;
    const char *inventory;
    long max_ops;
};

static void usage_analyze(FILE *f)
{
    fputs("usage: pawl analyze --events FILE [--events FILE ...] --inventory OUT.json\n"
          "                    [--max-operations N]\n"
          "\n"
          "Reads API Activity lines (OCSF, ../shared/OCSF-PROFILE.md) or nginx access log\n"
          "lines (combined format), told apart line by line; FILE '-' is stdin. Writes\n"
          "the API inventory: templated operations ({vin}, {uuid}, {int}, {hex}, {email},\n"
          "{plate}), their status mix, principals, roles, unauthenticated calls, response\n"
          "sizes, first and last seen, ranked by a risk score that shows its parts\n"
          "(docs/detection.md). At most N operations are kept (default 10000).\n"
          "Exit codes: 0 every line read, 2 usage, 3 some lines refused (each named\n"
          "on stderr; the inventory is still written), 4 writing failed.\n",
          f);
}

static int parse_opts(int argc, char **argv, struct analyze_opts *o)
{
    o->max_ops = 10000;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--events") == 0 && more && o->nevents < MAX_INPUTS) {
            o->events[o->nevents++] = argv[++i];
        } else if (strcmp(argv[i], "--inventory") == 0 && more) {
            o->inventory = argv[++i];
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
    return 0;
}

/* One line of either kind into the inventory; 0, or -1 after saying why. */
static int one_line(struct pawl_inventory *inv, char *line, size_t n, const char *where, unsigned lineno)
{
    struct pawl_api_event e;
    struct pawl_diag d = {0};
    char msg[512];
    json_t *j = NULL;
    pawl_err err;
    if (line[0] == '{') {
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
        err = pawl_inventory_add(inv, &e);
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

static int read_input(struct pawl_inventory *inv, const char *path, unsigned long *bad)
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
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if ((size_t)n > PAWL_EVENT_MAX_LINE) {
            fprintf(stderr, "pawl: %s:%u: line longer than %u bytes\n", where, lineno, PAWL_EVENT_MAX_LINE);
            (*bad)++;
        } else if (one_line(inv, line, (size_t)n, where, lineno) != 0) {
            (*bad)++;
        }
    }
    bool err = ferror(f) != 0;
    free(line);
    if (f != stdin)
        fclose(f);
    if (err)
        fprintf(stderr, "pawl: %s: read error\n", where);
    return err ? -1 : 0;
}

int pawl_cli_analyze(int argc, char **argv)
{
    struct analyze_opts o = {0};
    struct pawl_inventory *inv = NULL;
    unsigned long bad = 0;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_analyze(stdout);
        return PAWL_EXIT_OK;
    }
    if (parse_opts(argc, argv, &o) != 0) {
        usage_analyze(stderr);
        return PAWL_EXIT_USAGE;
    }
    if (pawl_inventory_new((size_t)o.max_ops, &inv) != PAWL_OK)
        return PAWL_EXIT_INPUT;
    int rc = PAWL_EXIT_OK;
    for (unsigned i = 0; i < o.nevents && rc == PAWL_EXIT_OK; i++)
        if (read_input(inv, o.events[i], &bad) != 0)
            rc = PAWL_EXIT_INPUT;
    json_t *out = rc == PAWL_EXIT_OK ? pawl_inventory_json(inv) : NULL;
    if (rc == PAWL_EXIT_OK && (out == NULL || json_dump_file(out, o.inventory, JSON_INDENT(1)) != 0)) {
        fprintf(stderr, "pawl: %s: cannot write the inventory\n", o.inventory);
        rc = PAWL_EXIT_IO;
    }
    if (rc == PAWL_EXIT_OK) {
        fprintf(stderr, "pawl: analyze: %lld events, %zu operations, %lu lines refused\n",
                (long long)json_integer_value(json_object_get(out, "events")),
                json_array_size(json_object_get(out, "operations")), bad);
        rc = bad > 0 ? PAWL_EXIT_INPUT : PAWL_EXIT_OK;
    }
    json_decref(out);
    pawl_inventory_free(inv);
    return rc;
}
