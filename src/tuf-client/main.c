/* pawl-tuf-client: the TUF client of libpawl-edge behind the command line
 * of the TUF conformance suite (tuf-conformance, CLIENT-CLI.md):
 *
 *   pawl-tuf-client --metadata-dir DIR init ROOT
 *   pawl-tuf-client --metadata-dir DIR --metadata-url URL refresh
 *   pawl-tuf-client --metadata-dir DIR --metadata-url URL --target-name PATH...
 *                   --target-base-url URL --target-dir DIR download
 *
 * Options come in any order. Exit 0 on success, 1 on failure, 2 on a
 * usage error. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/tuf.h"

#define MAX_TARGETS 256
#define ROOT_MAX_BYTES 512000

struct args {
    const char *metadata_dir, *metadata_url, *target_base_url, *target_dir;
    const char *targets[MAX_TARGETS];
    size_t ntargets;
    const char *command, *root;
};

static int usage(const char *why)
{
    fprintf(stderr,
            "pawl-tuf-client: %s\n"
            "usage: pawl-tuf-client --metadata-dir DIR init ROOT\n"
            "       pawl-tuf-client --metadata-dir DIR --metadata-url URL refresh\n"
            "       pawl-tuf-client --metadata-dir DIR --metadata-url URL --target-name PATH\n"
            "                       [--target-name PATH]... --target-base-url URL\n"
            "                       --target-dir DIR download\n",
            why);
    return 2;
}

static int parse(int argc, char **argv, struct args *a)
{
    static const struct {
        const char *flag;
        size_t off;
    } opts[] = {
        {"--metadata-dir", offsetof(struct args, metadata_dir)},
        {"--metadata-url", offsetof(struct args, metadata_url)},
        {"--target-base-url", offsetof(struct args, target_base_url)},
        {"--target-dir", offsetof(struct args, target_dir)},
    };
    for (int i = 1; i < argc; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !known; k++) {
            if (strcmp(argv[i], opts[k].flag) != 0)
                continue;
            if (i + 1 >= argc)
                return usage("an option needs a value");
            *(const char **)(void *)((char *)a + opts[k].off) = argv[++i];
            known = true;
        }
        if (known)
            continue;
        if (strcmp(argv[i], "--target-name") == 0) {
            if (i + 1 >= argc || a->ntargets == MAX_TARGETS)
                return usage("--target-name needs a value (at most 256 of them)");
            a->targets[a->ntargets++] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage("unknown option");
        } else if (a->command == NULL) {
            a->command = argv[i];
        } else if (strcmp(a->command, "init") == 0 && a->root == NULL) {
            a->root = argv[i];
        } else {
            return usage("unexpected argument");
        }
    }
    if (a->command == NULL || a->metadata_dir == NULL)
        return usage("a command and --metadata-dir are required");
    return 0;
}

static int cmd_init(const struct args *a)
{
    char err[512] = "";
    FILE *f = fopen(a->root, "rb");
    if (f == NULL) {
        fprintf(stderr, "pawl-tuf-client: init: cannot open %s\n", a->root);
        return 1;
    }
    uint8_t *buf = malloc(ROOT_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, ROOT_MAX_BYTES + 1, f) : 0;
    fclose(f);
    struct pawl_tuf_store s = pawl_tuf_dir_store(a->metadata_dir);
    int rc = buf == NULL || n > ROOT_MAX_BYTES ? -1 : pawl_tuf_init_root(&s, buf, n, err, sizeof err);
    free(buf);
    if (rc != 0) {
        fprintf(stderr, "pawl-tuf-client: init: %s: %s\n", a->root,
                err[0] ? err : "unreadable or larger than 512000 bytes");
        return 1;
    }
    return 0;
}

static int cmd_update(const struct args *a, bool download)
{
    struct pawl_tuf_config cfg = {.metadata_url = a->metadata_url,
                                  .targets_url = a->target_base_url};
    struct pawl_tuf_fetcher f = pawl_tuf_http_fetcher();
    struct pawl_tuf_store s = pawl_tuf_dir_store(a->metadata_dir);
    if (a->metadata_url == NULL)
        return usage("--metadata-url is required");
    if (download && (a->ntargets == 0 || a->target_base_url == NULL || a->target_dir == NULL))
        return usage("download needs --target-name, --target-base-url and --target-dir");
    struct pawl_tuf_updater *u = pawl_tuf_new(&cfg, &f, &s);
    int rc = u == NULL ? -1 : pawl_tuf_refresh(u);
    for (size_t i = 0; rc == 0 && download && i < a->ntargets; i++) {
        struct pawl_tuf_target t;
        bool cached = false;
        rc = pawl_tuf_find_target(u, a->targets[i], &t);
        if (rc == 0)
            rc = pawl_tuf_download_target(u, &t, a->target_dir, &cached);
        if (rc == 0)
            fprintf(stderr, "pawl-tuf-client: %s: %s\n", a->targets[i],
                    cached ? "already downloaded and verified" : "downloaded and verified");
    }
    if (rc != 0)
        fprintf(stderr, "pawl-tuf-client: %s: %s\n", download ? "download" : "refresh",
                u ? pawl_tuf_error(u) : "out of memory");
    pawl_tuf_free(u);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (strcmp(a.command, "init") == 0)
        return a.root ? cmd_init(&a) : usage("init needs the trusted root file");
    if (strcmp(a.command, "refresh") == 0)
        return cmd_update(&a, false);
    if (strcmp(a.command, "download") == 0)
        return cmd_update(&a, true);
    return usage("unknown command");
}
