/* pawl vehicle verify: the vehicle's side of COMMAND-TOKEN.md, exactly as its
 * command-line section says. See docs/cli.md and docs/edge.md. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pawl/edge_host.h"
#include "pawl/edge_store_file.h"
#include "pawl/twin.h"
#include "util.h"

/* This command's exit codes are the contract's, not the CLI's usual ones. */
enum { V_ACCEPT = 0, V_REJECT = 1, V_ERROR = 2 };

#define MAX_SIGNALS 32

struct verify_opts {
    const char *trust, *store, *now, *file;
    const char *signals[MAX_SIGNALS];
    unsigned nsignals;
};

static void usage_vehicle(FILE *f)
{
    fputs("usage: pawl vehicle verify --trust TRUST.json --store DIR --now UNIX_SECONDS\n"
          "                           [--signal VSS.PATH=VALUE ...] TOKEN_FILE\n"
          "\n"
          "Verifies a command token as the vehicle would (COMMAND-TOKEN.md) and prints\n"
          "{\"verdict\":\"accept\"|\"reject\",\"reason\":...,\"cmd\":...,\"seq\":...}.\n"
          "DIR keeps the replay state (created if missing). VALUE is a number or\n"
          "true/false; Vehicle.Speed, when not given, is taken as 0 (parked).\n"
          "Exit codes: 0 accept, 1 reject, 2 usage or I/O error.\n"
          "\n"
          "       pawl vehicle update ...   (Uptane OTA verification; --help for its options)\n",
          f);
}

static int parse_opts(int argc, char **argv, struct verify_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--trust") == 0 ? &o->trust
                          : strcmp(argv[i], "--store") == 0 ? &o->store
                          : strcmp(argv[i], "--now") == 0 ? &o->now : NULL;
        if (slot != NULL || strcmp(argv[i], "--signal") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pawl: vehicle verify: %s needs a value\n", argv[i]);
                return -1;
            }
            if (slot != NULL)
                *slot = argv[++i];
            else if (o->nsignals == MAX_SIGNALS) {
                fprintf(stderr, "pawl: vehicle verify: more than %d --signal\n", MAX_SIGNALS);
                return -1;
            } else
                o->signals[o->nsignals++] = argv[++i];
        } else if (argv[i][0] != '-' && o->file == NULL) {
            o->file = argv[i];
        } else {
            fprintf(stderr, "pawl: vehicle verify: unexpected '%s'\n", argv[i]);
            return -1;
        }
    }
    if (!o->trust || !o->store || !o->now || !o->file) {
        fputs("pawl: vehicle verify: --trust, --store, --now and TOKEN_FILE are required\n", stderr);
        return -1;
    }
    return 0;
}

/* --signal PATH=VALUE: a VSS path and a number or boolean. Only
 * Vehicle.Speed feeds a check today; the others are validated and kept out. */
static int parse_signal(const char *sig, struct pawl_edge_state *st, unsigned *seen_speed)
{
    const char *eq = strchr(sig, '=');
    pawl_str path = { sig, eq ? (size_t)(eq - sig) : 0 };
    if (eq == NULL || !pawl_vss_path_valid(path)) {
        fprintf(stderr, "pawl: vehicle verify: --signal '%s': want VSS.PATH=VALUE\n", sig);
        return -1;
    }
    const char *val = eq + 1;
    char *end;
    errno = 0;
    double d = strtod(val, &end);
    bool number = *val != '\0' && *end == '\0' && errno == 0 && isfinite(d);
    if (!number && strcmp(val, "true") != 0 && strcmp(val, "false") != 0) {
        fprintf(stderr, "pawl: vehicle verify: --signal '%s': value is not a number or boolean\n",
                sig);
        return -1;
    }
    if (path.n == 13 && memcmp(path.p, "Vehicle.Speed", 13) == 0) {
        if (!number || (*seen_speed)++ > 0) {
            fputs("pawl: vehicle verify: Vehicle.Speed must be one number\n", stderr);
            return -1;
        }
        st->speed_kmh = (float)d;
    }
    return 0;
}

static int load_trust(const char *path, struct pawl_edge_trust *t)
{
    size_t n;
    char err[512];
    char *json = pawl_cli_slurp(path, 1 << 20, &n);
    if (json == NULL)
        return -1;
    int rc = pawl_edge_trust_load(json, n, path, t, err, sizeof err);
    free(json);
    if (rc != 0)
        fprintf(stderr, "pawl: %s\n", err);
    return rc;
}

static int print_verdict(const struct pawl_edge_result *r)
{
    json_t *o = json_object();
    bool ok = r->reason == PAWL_EDGE_OK;
    json_object_set_new(o, "verdict", json_string(ok ? "accept" : "reject"));
    json_object_set_new(o, "reason", json_string(pawl_edge_reason_str(r->reason)));
    /* cmd and seq come from a token that parsed; null when it did not. */
    json_object_set_new(o, "cmd", r->tok_ok ? json_stringn((const char *)r->tok.cmd.p, r->tok.cmd.n)
                                            : json_null());
    json_object_set_new(o, "seq", r->tok_ok && r->tok.seq <= INT64_MAX
                                      ? json_integer((json_int_t)r->tok.seq) : json_null());
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (line == NULL || printf("%s\n", line) < 0 || fflush(stdout) != 0) {
        free(line);
        return -1;
    }
    free(line);
    return 0;
}

static int verify(const struct verify_opts *o, uint64_t now, const struct pawl_edge_state *st)
{
    static struct pawl_edge_trust trust; /* large; one per process */
    static struct pawl_edge_file_store fs;
    static struct pawl_edge_work work;
    static uint8_t buf[PAWL_EDGE_TOKEN_MAX + 1];
    struct pawl_edge_result r;
    char err[512];
    size_t n;
    bool fs_open = false;
    int rc = V_ERROR;
    if (pawl_cli_read_token(o->file, buf, &n) != 0 || load_trust(o->trust, &trust) != 0)
        return V_ERROR;
    if (pawl_edge_file_store_open(&fs, o->store, err, sizeof err) != 0) {
        fprintf(stderr, "pawl: %s\n", err);
        goto out;
    }
    fs_open = true;
    struct pawl_edge_verifier v = { &trust, pawl_edge_openssl_crypto(), pawl_edge_file_store(&fs) };
    enum pawl_edge_reason reason = pawl_edge_token_verify(&v, buf, n, now, st, &work, &r);
    if (reason == PAWL_EDGE_STORE_ERROR) {
        fprintf(stderr, "pawl: %s: replay store: %s; token refused\n", o->store,
                pawl_edge_file_store_error(&fs));
        goto out;
    }
    if (reason == PAWL_EDGE_MALFORMED)
        fprintf(stderr, "pawl: %s: malformed: %s\n", o->file, r.detail);
    if (print_verdict(&r) != 0)
        goto out;
    rc = reason == PAWL_EDGE_OK ? V_ACCEPT : V_REJECT;
out:
    if (fs_open)
        pawl_edge_file_store_close(&fs);
    pawl_edge_trust_release(&trust);
    return rc;
}

int pawl_cli_vehicle(int argc, char **argv)
{
    struct verify_opts o = { 0 };
    struct pawl_edge_state st = { true, 0.0f };
    unsigned speeds = 0;
    int64_t now;
    if (argc >= 2 && strcmp(argv[1], "update") == 0)
        return pawl_cli_vehicle_update(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        usage_vehicle(help ? stdout : stderr);
        return help ? V_ACCEPT : V_ERROR;
    }
    if (parse_opts(argc - 1, argv + 1, &o) != 0)
        return V_ERROR;
    if (pawl__parse_i64(o.now, strlen(o.now), 0, INT64_MAX, &now) != PAWL_OK) {
        fprintf(stderr, "pawl: vehicle verify: --now '%s' is not UNIX seconds\n", o.now);
        return V_ERROR;
    }
    for (unsigned i = 0; i < o.nsignals; i++)
        if (parse_signal(o.signals[i], &st, &speeds) != 0)
            return V_ERROR;
    return verify(&o, (uint64_t)now, &st);
}
