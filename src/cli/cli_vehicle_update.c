/* pawl vehicle update: an Uptane Primary's full verification on the
 * command line (docs/uptane.md, docs/cli.md). The Director and the Image
 * repository come from a TAP 4 map.json; their trusted metadata live in
 * METADATA_DIR/<name>; verified images are written to TARGET_DIR. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "pawl/tuf.h"
#include "pawl/uptane.h"
#include "util.h"

/* The exit codes of pawl vehicle verify: 0 verified, 1 refused, 2 usage or I/O. */
enum { V_REFUSED = 1, V_USAGE = 2 };

#define MAX_ROOTS 2
#define MAP_MAX_BYTES 65536
#define ROOT_MAX_BYTES 512000

struct update_opts {
    const char *map, *metadata_dir, *target_dir, *vin, *director, *image;
    const char *roots[MAX_ROOTS]; /* NAME=FILE */
    size_t nroots;
    struct pawl_uptane_ecu ecus[PAWL_UPTANE_MAX_ECUS];
    size_t necus;
};

static void usage_update(FILE *f)
{
    fputs("usage: pawl vehicle update --map MAP.json --metadata-dir DIR --target-dir DIR\n"
          "                           --vin VIN --ecu SERIAL=HARDWARE_ID[:RELEASE_COUNTER]...\n"
          "                           [--root NAME=ROOT.json]... [--director NAME] [--image NAME]\n"
          "\n"
          "Uptane full verification as a Primary: refreshes the Director and the Image\n"
          "repository named in MAP.json (TAP 4; default names \"director\" and \"image\"; a\n"
          "repository URL U serves U/metadata/ and U/targets/), checks every image the\n"
          "Director orders for this vehicle against the Image repository, downloads and\n"
          "verifies each one into DIR, and prints one JSON line per image to install.\n"
          "--root NAME=FILE trusts FILE as repository NAME's root (first run).\n"
          "Exit codes: 0 verified (or nothing to install), 1 refused, 2 usage or I/O error.\n",
          f);
}

/* SERIAL=HW[:COUNTER] into e (pointing into arg, which it splits). */
static int parse_ecu(char *arg, struct pawl_uptane_ecu *e)
{
    char *eq = strchr(arg, '='), *colon;
    int64_t counter = 0;
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return -1;
    *eq = '\0';
    colon = strchr(eq + 1, ':');
    if (colon != NULL) {
        *colon = '\0';
        if (pawl__parse_i64(colon + 1, strlen(colon + 1), 0, INT64_MAX, &counter) != PAWL_OK)
            return -1;
    }
    e->serial = arg;
    e->hardware_id = eq + 1;
    e->release_counter = (uint64_t)counter;
    return 0;
}

static int parse_update_opts(int argc, char **argv, struct update_opts *o)
{
    o->director = "director";
    o->image = "image";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--map")            ? &o->map
                            : !strcmp(a, "--metadata-dir") ? &o->metadata_dir
                            : !strcmp(a, "--target-dir")   ? &o->target_dir
                            : !strcmp(a, "--vin")          ? &o->vin
                            : !strcmp(a, "--director")     ? &o->director
                            : !strcmp(a, "--image")        ? &o->image
                                                           : NULL;
        bool ecu = !strcmp(a, "--ecu"), root = !strcmp(a, "--root");
        if ((slot == NULL && !ecu && !root) || i + 1 >= argc) {
            fprintf(stderr, "pawl: vehicle update: unknown option or missing value: %s\n", a);
            return -1;
        }
        if (slot != NULL) {
            *slot = argv[++i];
        } else if (ecu) {
            if (o->necus == PAWL_UPTANE_MAX_ECUS || parse_ecu(argv[++i], &o->ecus[o->necus]) != 0) {
                fprintf(stderr, "pawl: vehicle update: --ecu '%s': want SERIAL=HARDWARE_ID"
                                "[:RELEASE_COUNTER] (at most %d ECUs)\n",
                        argv[i], PAWL_UPTANE_MAX_ECUS);
                return -1;
            }
            o->necus++;
        } else if (o->nroots == MAX_ROOTS || strchr(argv[i + 1], '=') == NULL) {
            fprintf(stderr, "pawl: vehicle update: --root wants NAME=FILE (at most 2)\n");
            return -1;
        } else {
            o->roots[o->nroots++] = argv[++i];
        }
    }
    if (!o->map || !o->metadata_dir || !o->target_dir || !o->vin || o->necus == 0) {
        fputs("pawl: vehicle update: --map, --metadata-dir, --target-dir, --vin and --ecu are "
              "required\n",
              stderr);
        return -1;
    }
    return 0;
}

/* A repository's updater: metadata in DIR/name (created), URLs from map. */
struct repo {
    char dir[4096], murl[2048], turl[2048];
    struct pawl_tuf_store store;
    struct pawl_tuf_updater *u;
};

static int open_repo(const struct update_opts *o, const struct pawl_uptane_map *m,
                     const char *name, struct repo *r)
{
    const char *url = NULL;
    struct pawl_tuf_fetcher f = pawl_tuf_curl_fetcher();
    if (pawl_uptane_map_urls(m, name, &url, 1) == 0) {
        fprintf(stderr, "pawl: vehicle update: %s: no repository '%s'\n", o->map, name);
        return -1;
    }
    if ((size_t)snprintf(r->dir, sizeof r->dir, "%s/%s", o->metadata_dir, name) >= sizeof r->dir ||
        (size_t)snprintf(r->murl, sizeof r->murl, "%s/metadata/", url) >= sizeof r->murl ||
        (size_t)snprintf(r->turl, sizeof r->turl, "%s/targets/", url) >= sizeof r->turl) {
        fprintf(stderr, "pawl: vehicle update: repository '%s': path or URL too long\n", name);
        return -1;
    }
    if (mkdir(r->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "pawl: vehicle update: %s: %s\n", r->dir, strerror(errno));
        return -1;
    }
    struct pawl_tuf_config cfg = {.metadata_url = r->murl, .targets_url = r->turl};
    r->store = pawl_tuf_dir_store(r->dir);
    r->u = pawl_tuf_new(&cfg, &f, &r->store);
    if (r->u == NULL) {
        fputs("pawl: vehicle update: out of memory\n", stderr);
        return -1;
    }
    return 0;
}

/* --root NAME=FILE: trust FILE as NAME's root. */
static int init_roots(const struct update_opts *o, struct repo *d, struct repo *img)
{
    for (size_t i = 0; i < o->nroots; i++) {
        const char *eq = strchr(o->roots[i], '=');
        size_t nl = (size_t)(eq - o->roots[i]), n = 0;
        struct repo *r = strlen(o->director) == nl && !strncmp(o->roots[i], o->director, nl) ? d
                         : strlen(o->image) == nl && !strncmp(o->roots[i], o->image, nl) ? img
                                                                                         : NULL;
        char err[512] = "";
        char *root = r ? pawl_cli_slurp(eq + 1, ROOT_MAX_BYTES, &n) : NULL;
        if (r == NULL || root == NULL ||
            pawl_tuf_init_root(&r->store, (const uint8_t *)root, n, err, sizeof err) != 0) {
            fprintf(stderr, "pawl: vehicle update: --root %s: %s\n", o->roots[i],
                    r == NULL ? "not the director or the image repository"
                    : root == NULL ? "unreadable or too large"
                                   : err);
            free(root);
            return -1;
        }
        free(root);
    }
    return 0;
}

static void print_refusal(const char *status, const char *reason)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "verdict", "refused", "status", status, "reason",
                          reason);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    puts(s ? s : "{\"verdict\":\"refused\"}");
    free(s);
    json_decref(o);
}

/* Downloads and verifies each install into the target directory. */
static int install(const struct update_opts *o, struct repo *img,
                   const struct pawl_uptane_install *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool cached = false;
        char q[4096];
        if (pawl_tuf_download_target(img->u, &in[i].target, o->target_dir, &cached) != 0) {
            print_refusal("download", pawl_tuf_error(img->u));
            return V_REFUSED;
        }
        if (pawl_tuf_quote(in[i].target.path, q, sizeof q) == 0)
            q[0] = '\0';
        json_t *line = json_pack("{s:s, s:s, s:s, s:I, s:s, s:b}", "verdict", "install", "ecu",
                                 in[i].ecu_serial, "target", in[i].target.path,
                                 "release_counter", (json_int_t)in[i].release_counter, "file",
                                 q, "cached", cached);
        char *s = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(line);
    }
    return 0;
}

static int run_update(const struct update_opts *o)
{
    size_t n = 0, mn = 0;
    char err[1024] = "";
    struct pawl_uptane_map *map = NULL;
    struct repo d = {0}, img = {0};
    struct pawl_uptane_install in[PAWL_UPTANE_MAX_ECUS];
    int rc = V_USAGE;
    char *mapj = pawl_cli_slurp(o->map, MAP_MAX_BYTES, &mn);
    if (mapj == NULL) {
        fprintf(stderr, "pawl: vehicle update: %s: unreadable or over %d bytes\n", o->map,
                MAP_MAX_BYTES);
        return V_USAGE;
    }
    if (pawl_uptane_map_parse((const uint8_t *)mapj, mn, &map, err, sizeof err) != 0) {
        fprintf(stderr, "pawl: vehicle update: %s: %s\n", o->map, err);
        goto out;
    }
    if (pawl_tuf_curl_global_init() != 0 || open_repo(o, map, o->director, &d) != 0 ||
        open_repo(o, map, o->image, &img) != 0 || init_roots(o, &d, &img) != 0)
        goto out;
    struct pawl_uptane_primary p = {o->vin, o->ecus, o->necus, map, o->director, o->image};
    pawl_uptane_status st = pawl_uptane_full_verify(&p, d.u, img.u, in, PAWL_UPTANE_MAX_ECUS, &n,
                                                    err, sizeof err);
    if (st != PAWL_UPTANE_OK) {
        print_refusal(pawl_uptane_status_name(st), err);
        rc = V_REFUSED;
    } else if (n == 0) {
        puts("{\"verdict\":\"up-to-date\"}");
        rc = 0;
    } else {
        rc = install(o, &img, in, n);
    }
out:
    pawl_tuf_free(d.u);
    pawl_tuf_free(img.u);
    pawl_uptane_map_free(map);
    free(mapj);
    return rc;
}

int pawl_cli_vehicle_update(int argc, char **argv)
{
    struct update_opts o = {0};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage_update(stdout);
        return 0;
    }
    if (parse_update_opts(argc, argv, &o) != 0) {
        usage_update(stderr);
        return V_USAGE;
    }
    return run_update(&o);
}
