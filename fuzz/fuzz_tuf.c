/* libFuzzer driver for the TUF client's metadata parser and trusted set
 * (src/edge/tuf_meta.c, tuf_trusted.c, tuf_cjson.c). The first byte picks
 * the document type; the rest is parsed with full schema checks, then its
 * signed part is canonicalized, its delegations and targets are walked for
 * a few paths, and it is offered to a trusted set (as a new root, or as a
 * timestamp) whose root is fixed. A refusal always says why; a refusal
 * never changes the trusted state. */
#include <stdlib.h>
#include <string.h>

#include "tuf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A root with no keys and threshold 1: nothing verifies against it, so
 * every update must be refused. */
static const char ROOT[] =
    "{\"signed\":{\"_type\":\"root\",\"spec_version\":\"1.0.31\",\"version\":1,"
    "\"expires\":\"2100-01-01T00:00:00Z\",\"consistent_snapshot\":true,\"keys\":{},"
    "\"roles\":{\"root\":{\"keyids\":[],\"threshold\":1},\"timestamp\":{\"keyids\":[],"
    "\"threshold\":1},\"snapshot\":{\"keyids\":[],\"threshold\":1},\"targets\":{\"keyids\":[],"
    "\"threshold\":1}}},\"signatures\":[]}";

static int count_role(void *ctx, const char *role, bool terminating)
{
    (void)terminating;
    if (role == NULL || role[0] == '\0')
        abort();
    return ++*(int *)ctx > 64;
}

static void walk(struct tuf_md *md)
{
    static const char *const paths[] = {"a", "a/b.txt", "dir/x/y", "", "*"};
    struct tuf_role r;
    struct pawl_tuf_target t;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int n = 0;
        pawl__tuf_roles_for_target(md, paths[i], count_role, &n);
        if (pawl__tuf_target_info(md, paths[i], &t) == 0 &&
            (t.nhashes == 0 || t.nhashes > PAWL_TUF_MAX_HASHES || strcmp(t.path, paths[i])))
            abort();
        (void)pawl__tuf_delegated_role(md, paths[i], &r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    struct tuf_md md;
    struct tuf_buf b = {0};
    struct tuf_trusted ts;
    if (size < 1)
        return 0;
    enum tuf_type type = (enum tuf_type)(data[0] % 4);
    if (pawl__tuf_parse(data + 1, size - 1, type, "fuzz", &md, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort();
    } else {
        if (md.version < 1 || md.type != type)
            abort();
        if (pawl__tuf_cjson(md.signed_, &b, err, sizeof err) != 0 && err[0] == '\0')
            abort();
        if (type == TUF_TARGETS)
            walk(&md);
        pawl__tuf_md_clear(&md);
        pawl__tuf_buf_free(&b);
    }
    if (pawl__tuf_trusted_init(&ts, (const uint8_t *)ROOT, sizeof ROOT - 1, 1, err,
                               sizeof err) == 0) {
        /* threshold 1 of no keys: even the root itself does not verify */
        abort();
    }
    /* root role with no keys cannot be satisfied, so exercise the update
     * paths on a trusted set built by hand from the parsed root. */
    memset(&ts, 0, sizeof ts);
    ts.now = 1;
    if (pawl__tuf_parse((const uint8_t *)ROOT, sizeof ROOT - 1, TUF_ROOT, "root", &ts.root, err,
                        sizeof err) != 0)
        abort();
    err[0] = '\0';
    int rc = type == TUF_ROOT ? pawl__tuf_update_root(&ts, data + 1, size - 1, err, sizeof err)
                              : pawl__tuf_update_timestamp(&ts, data + 1, size - 1, err,
                                                           sizeof err);
    if (rc != -1 || err[0] == '\0' || ts.root.version != 1 || ts.has_timestamp)
        abort();
    pawl__tuf_trusted_free(&ts);
    return 0;
}
