/* pawl ota repo add | delegate | publish. See docs/ota-publish.md. */
#include "cli_ota.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MAX_WALK_DEPTH 32

/* ---- the roles of a repository ------------------------------------------------------ */

/* Every targets role: "targets", then each delegated role and each hash
 * bin, from keys.json. names[i] is malloc'd; cfgname[i] and parent[i]
 * borrow from the config. */
struct roles {
    char **name;
    const char **cfgname, **parent;
    size_t n, cap, cap2, cap3;
};

static void roles_free(struct roles *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->name[i]);
    free(rs->name);
    free(rs->cfgname);
    free(rs->parent);
    memset(rs, 0, sizeof *rs);
}

static int roles_push(struct roles *rs, const char *name, const char *cfgname, const char *parent)
{
    if (!pawl__grow(&rs->name, &rs->cap, rs->n, sizeof *rs->name, 16) ||
        !pawl__grow(&rs->cfgname, &rs->cap2, rs->n, sizeof *rs->cfgname, 16) ||
        !pawl__grow(&rs->parent, &rs->cap3, rs->n, sizeof *rs->parent, 16) ||
        (rs->name[rs->n] = pawl__strndup(name, strlen(name))) == NULL) {
        fputs("pawl: ota: out of memory\n", stderr);
        return -1;
    }
    rs->cfgname[rs->n] = cfgname;
    rs->parent[rs->n++] = parent;
    return 0;
}

static int roles_list(const struct ota_repo *r, struct roles *rs)
{
    const char *name;
    json_t *c;
    char bin[PAWL_OTA_NAME_MAX + 2];
    if (roles_push(rs, "targets", "targets", NULL) != 0)
        return -1;
    json_object_foreach(json_object_get(r->cfg, "roles"), name, c)
    {
        const char *parent = json_string_value(json_object_get(c, "delegated_by"));
        json_int_t bits = json_integer_value(json_object_get(c, "bit_length"));
        if (parent == NULL)
            continue;
        if (bits == 0 && roles_push(rs, name, name, parent) != 0)
            return -1;
        for (uint32_t i = 0; bits > 0 && bits <= OTA_MAX_BITS && i < (1u << bits); i++)
            if (pawl_ota_bin_name(name, (unsigned)bits, i, bin, sizeof bin, NULL) != PAWL_OK ||
                roles_push(rs, bin, name, parent) != 0)
                return -1;
    }
    return 0;
}

/* The keyids and threshold that may sign a targets role. */
static int role_keys(const struct ota_repo *r, const json_t *staged, const struct roles *rs,
                     size_t i, const json_t **ids, int64_t *th)
{
    struct pawl_diag d = { 0 };
    pawl_err e;
    if (rs->parent[i] == NULL) {
        e = pawl_ota_role_keys(r->root, "targets", ids, th, &d);
    } else {
        bool bin = strcmp(rs->name[i], rs->cfgname[i]) != 0;
        e = pawl_ota_role_keys(json_object_get(staged, rs->parent[i]), bin ? NULL : rs->name[i],
                               ids, th, &d);
    }
    if (e != PAWL_OK) {
        fprintf(stderr, "pawl: ota: role '%s': %s\n", rs->name[i], d.msg);
        return -1;
    }
    return 0;
}

/* ---- publish ---------------------------------------------------------------------------------- */

static bool wants(const struct ota_strv *refresh, const char *role)
{
    for (size_t i = 0; refresh != NULL && i < refresh->n; i++)
        if (strcmp(refresh->v[i], role) == 0 || strcmp(refresh->v[i], "all") == 0)
            return true;
    return false;
}

/* Whether the published document must be signed again: its content (but
 * version and expiry) differs, or the keys that signed it are not the keys
 * that sign it now. */
static bool changed(const json_t *published, const json_t *signed_, const json_t *want_ids)
{
    json_t *a = json_deep_copy(json_object_get(published, "signed"));
    json_t *b = json_deep_copy(signed_), *sig, *had = json_object();
    size_t i;
    json_t *v;
    bool ch = a == NULL || b == NULL || had == NULL;
    if (!ch) {
        json_object_del(a, "version"), json_object_del(a, "expires");
        json_object_del(b, "version"), json_object_del(b, "expires");
        ch = !json_equal(a, b);
        json_array_foreach(json_object_get(published, "signatures"), i, sig)
            json_object_set(had, json_string_value(json_object_get(sig, "keyid")), json_true());
        ch = ch || json_object_size(had) != json_array_size(want_ids);
        json_array_foreach(want_ids, i, v) ch = ch || !json_object_get(had, json_string_value(v));
    }
    json_decref(a);
    json_decref(b);
    json_decref(had);
    return ch;
}

/* The keyids of cfg.roles[cfgname] that the role lists: those that sign. */
static json_t *signing_ids(const struct ota_repo *r, const char *cfgname, const json_t *ids)
{
    json_t *out = json_array(), *e, *v;
    size_t i, j;
    json_array_foreach(pawl__ota_cfg_role(r, cfgname), i, e)
    {
        const char *id = json_string_value(json_object_get(e, "keyid"));
        json_array_foreach(ids, j, v) if (id != NULL && strcmp(id, json_string_value(v)) == 0)
            json_array_append_new(out, json_string(id));
    }
    return out;
}

/* Signs and writes one role's new version: ROLE.json and, with consistent
 * snapshots (or always, for root), VERSION.ROLE.json. */
static int write_role(struct ota_repo *r, struct ota_keys *ks, const char *role,
                      const char *cfgname, json_t *signed_, const json_t *ids, int64_t th,
                      bool versioned, char **doc, size_t *n)
{
    char f[PAWL_OTA_NAME_MAX + 1], p[PATH_MAX];
    int64_t v = json_integer_value(json_object_get(signed_, "version"));
    if (pawl__ota_sign_role(r, ks, role, cfgname, signed_, ids, th, NULL, 0, doc, n) != 0)
        return -1;
    for (int pass = versioned ? 0 : 1; pass < 2; pass++) {
        struct pawl_diag d = { 0 };
        if (pawl_ota_role_filename(role, pass == 0 ? v : 0, f, sizeof f, &d) != PAWL_OK) {
            fprintf(stderr, "pawl: ota: %s\n", d.msg);
            return -1;
        }
        if (pawl__ota_path(r, "metadata", f, p, sizeof p) != 0 ||
            pawl__ota_write(p, *doc, *n, 0644) != 0)
            return -1;
    }
    printf("published %s v%lld\n", role, (long long)v);
    return 0;
}

/* The published document of a role, or NULL (0 returned) if none. */
static int published(const struct ota_repo *r, const char *role, json_t **out)
{
    char f[PAWL_OTA_NAME_MAX + 1], p[PATH_MAX];
    if (pawl_ota_role_filename(role, 0, f, sizeof f, NULL) != PAWL_OK ||
        pawl__ota_path(r, "metadata", f, p, sizeof p) != 0)
        return -1;
    return pawl__ota_read_json(p, true, out);
}

static int64_t next_version(const json_t *pub)
{
    json_int_t v = json_integer_value(json_object_get(json_object_get(pub, "signed"), "version"));
    return v >= 1 ? v + 1 : 1;
}

/* One targets role: re-signed when it changed; its version into meta. */
static int publish_targets_role(struct ota_repo *r, struct ota_keys *ks, json_t *staged,
                                const struct roles *rs, size_t i, const struct ota_strv *refresh,
                                json_t *meta, int *count)
{
    const json_t *ids;
    int64_t th;
    json_t *pub = NULL, *s = json_object_get(staged, rs->name[i]), *want = NULL;
    char *doc = NULL, fname[PAWL_OTA_NAME_MAX + 8];
    size_t n;
    int rc = -1;
    bool cs = json_is_true(json_object_get(r->cfg, "consistent_snapshot"));
    if (role_keys(r, staged, rs, i, &ids, &th) != 0 || published(r, rs->name[i], &pub) != 0)
        goto out;
    want = signing_ids(r, rs->cfgname[i], ids);
    int64_t v = json_integer_value(json_object_get(json_object_get(pub, "signed"), "version"));
    if (pub == NULL || wants(refresh, rs->name[i]) || changed(pub, s, want)) {
        struct pawl_diag d = { 0 };
        v = next_version(pub);
        if (pawl_ota_set_version(s, v, r->now + pawl__ota_days(r, rs->name[i]) * OTA_DAY, &d) !=
            PAWL_OK) {
            fprintf(stderr, "pawl: ota: role '%s': %s\n", rs->name[i], d.msg);
            goto out;
        }
        if (write_role(r, ks, rs->name[i], rs->cfgname[i], s, ids, th, cs, &doc, &n) != 0 ||
            pawl__ota_staged_save(r, rs->name[i], s) != 0)
            goto out;
        (*count)++;
    }
    snprintf(fname, sizeof fname, "%s.json", rs->name[i]);
    struct pawl_diag d = { 0 };
    if (pawl_ota_meta_set(meta, fname, v, NULL, 0, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: ota: snapshot: %s\n", d.msg);
        goto out;
    }
    rc = 0;
out:
    free(doc);
    json_decref(want);
    json_decref(pub);
    return rc;
}

/* snapshot (when a role's version moved) and then timestamp. */
static int publish_snapshot(struct ota_repo *r, struct ota_keys *ks, json_t *snap,
                            const struct ota_strv *refresh, int *count)
{
    const json_t *ids;
    int64_t th;
    json_t *pub = NULL, *ts = NULL, *tpub = NULL, *want = NULL, *twant = NULL;
    char *doc = NULL, *tdoc = NULL, p[PATH_MAX];
    size_t n = 0, tn;
    int rc = -1;
    struct pawl_diag d = { 0 };
    bool cs = json_is_true(json_object_get(r->cfg, "consistent_snapshot"));
    if (published(r, "snapshot", &pub) != 0 || published(r, "timestamp", &tpub) != 0 ||
        pawl_ota_role_keys(r->root, "snapshot", &ids, &th, &d) != PAWL_OK)
        goto out;
    want = signing_ids(r, "snapshot", ids);
    bool snap_new = pub == NULL || wants(refresh, "snapshot") || changed(pub, snap, want);
    int64_t sv = snap_new ? next_version(pub)
                          : json_integer_value(json_object_get(json_object_get(pub, "signed"),
                                                               "version"));
    if (snap_new) {
        if (pawl_ota_set_version(snap, sv, r->now + pawl__ota_days(r, "snapshot") * OTA_DAY, &d) !=
                PAWL_OK ||
            write_role(r, ks, "snapshot", "snapshot", snap, ids, th, cs, &doc, &n) != 0)
            goto out;
        (*count)++;
    } else if (pawl__ota_path(r, "metadata", "snapshot.json", p, sizeof p) != 0 ||
               (doc = pawl_cli_slurp(p, OTA_JSON_MAX, &n)) == NULL) {
        goto out;
    }
    if (pawl_ota_role_keys(r->root, "timestamp", &ids, &th, &d) != PAWL_OK)
        goto out;
    twant = signing_ids(r, "timestamp", ids);
    if (!snap_new && tpub != NULL && !wants(refresh, "timestamp") &&
        !changed(tpub, json_object_get(tpub, "signed"), twant)) {
        rc = 0;
        goto out;
    }
    if (pawl_ota_timestamp_new(next_version(tpub),
                               r->now + pawl__ota_days(r, "timestamp") * OTA_DAY, sv, doc, n, &ts,
                               &d) != PAWL_OK ||
        write_role(r, ks, "timestamp", "timestamp", ts, ids, th, false, &tdoc, &tn) != 0)
        goto out;
    (*count)++;
    rc = 0;
out:
    if (rc != 0 && d.msg[0])
        fprintf(stderr, "pawl: ota: %s\n", d.msg);
    free(doc);
    free(tdoc);
    json_decref(pub);
    json_decref(tpub);
    json_decref(ts);
    json_decref(want);
    json_decref(twant);
    return rc;
}

static int refresh_root(struct ota_repo *r, struct ota_keys *ks)
{
    struct pawl_diag d = { 0 };
    int64_t v = json_integer_value(json_object_get(r->root, "version"));
    if (pawl_ota_set_version(r->root, v + 1, r->now + pawl__ota_days(r, "root") * OTA_DAY, &d) !=
        PAWL_OK) {
        fprintf(stderr, "pawl: ota: root: %s\n", d.msg);
        return -1;
    }
    return pawl__ota_write_root(r, ks, r->root, NULL, 0);
}

int pawl__ota_publish(struct ota_repo *r, struct ota_keys *ks, const struct ota_strv *refresh)
{
    struct roles rs = { 0 };
    json_t *staged = json_object(), *snap = NULL, *s;
    int rc = -1, count = 0;
    struct pawl_diag d = { 0 };
    if (wants(refresh, "root") && refresh_root(r, ks) != 0)
        goto out;
    if (staged == NULL || roles_list(r, &rs) != 0 ||
        pawl_ota_snapshot_new(1, r->now, &snap, &d) != PAWL_OK)
        goto out;
    for (size_t i = 0; i < rs.n; i++) {
        if (pawl__ota_staged_load(r, rs.name[i], &s) != 0)
            goto out;
        json_object_set_new(staged, rs.name[i], s);
    }
    for (size_t i = 0; i < rs.n; i++)
        if (publish_targets_role(r, ks, staged, &rs, i, refresh, snap, &count) != 0)
            goto out;
    if (publish_snapshot(r, ks, snap, refresh, &count) != 0)
        goto out;
    if (count == 0)
        puts("nothing to publish: every role is signed and current");
    rc = 0;
out:
    roles_free(&rs);
    json_decref(staged);
    json_decref(snap);
    return rc;
}

int pawl__ota_publish_cmd(int argc, char **argv)
{
    const char *repo = NULL;
    struct ota_strv refresh = { 0 };
    const struct ota_opt opts[] = { { "--repo", &repo, NULL, NULL },
                                    { "--refresh", NULL, &refresh, NULL } };
    if (pawl__ota_opts("repo publish", argc, argv, opts, 2) != 0)
        return PAWL_EXIT_USAGE;
    if (repo == NULL) {
        fputs("pawl: ota repo publish: --repo DIR is required\n", stderr);
        return PAWL_EXIT_USAGE;
    }
    struct ota_repo r;
    struct ota_keys ks = { 0 };
    int rc = pawl__ota_open(&r, repo) == 0 && pawl__ota_publish(&r, &ks, &refresh) == 0
                 ? PAWL_EXIT_OK
                 : PAWL_EXIT_FAIL;
    pawl__ota_keys_free(&ks);
    pawl__ota_close(&r);
    return rc;
}

/* ---- add ---------------------------------------------------------------------------------------- */

struct files {
    char **v;
    size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under base/rel, as paths relative to base. */
static int walk(const char *base, const char *rel, int depth, struct files *fs)
{
    char dir[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    struct stat st;
    snprintf(dir, sizeof dir, "%s%s%s", base, rel[0] ? "/" : "", rel);
    DIR *dh = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (dh == NULL || depth > MAX_WALK_DEPTH) {
        fprintf(stderr, "pawl: ota repo add: %s: %s\n", dir,
                dh ? "directories nest too deep" : strerror(errno));
        if (dh != NULL)
            closedir(dh);
        return -1;
    }
    while (rc == 0 && (e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int a = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        int b = snprintf(q, sizeof q, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        if (a >= (int)sizeof p || b >= (int)sizeof q || lstat(p, &st) != 0) {
            fprintf(stderr, "pawl: ota repo add: %s: %s\n", p,
                    a >= (int)sizeof p || b >= (int)sizeof q ? "path too long" : strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(base, q, depth + 1, fs);
        } else if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "pawl: ota repo add: skipping %s: not a regular file\n", p);
        } else if (!pawl__grow(&fs->v, &fs->cap, fs->n, sizeof *fs->v, 64) ||
                   (fs->v[fs->n] = pawl__strndup(q, strlen(q))) == NULL) {
            fputs("pawl: ota repo add: out of memory\n", stderr);
            rc = -1;
        } else {
            fs->n++;
        }
    }
    closedir(dh);
    return rc;
}

/* Copies src into the repository's targets while hashing it; *info is the
 * target's file info. With consistent snapshots the copy is named
 * DIR/<sha256>.NAME and DIR/<sha512>.NAME (the client asks for either),
 * else it keeps its path. */
static int copy_in(const struct ota_repo *r, const char *src, const char *rel,
                   const json_t *custom, json_t **info)
{
    char tmp[PATH_MAX], dst[PATH_MAX], dst2[PATH_MAX], h1[65], h2[129];
    uint8_t buf[65536], d256[32], d512[64];
    struct pawl_ota_hasher h;
    struct pawl_diag d = { 0 };
    FILE *in = fopen(src, "rb"), *out = NULL;
    bool ok = in != NULL;
    size_t n;
    if (pawl__ota_path(r, "targets", ".pawl-add.tmp", tmp, sizeof tmp) != 0 ||
        pawl_ota_hasher_init(&h, &d) != PAWL_OK) {
        if (in != NULL)
            fclose(in);
        return -1;
    }
    ok = ok && (out = fopen(tmp, "wb")) != NULL;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = pawl_ota_hasher_update(&h, buf, n, &d) == PAWL_OK && fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    if (out != NULL)
        ok = fclose(out) == 0 && ok;
    if (in != NULL)
        fclose(in);
    if (!ok || pawl_ota_hasher_final(&h, custom, info, d256, d512, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: ota repo add: %s: %s\n", src, d.msg[0] ? d.msg : strerror(errno));
        pawl_ota_hasher_free(&h);
        remove(tmp);
        return -1;
    }
    const char *slash = strrchr(rel, '/');
    int dl = slash ? (int)(slash - rel) + 1 : 0;
    pawl__hex(d256, sizeof d256, h1);
    pawl__hex(d512, sizeof d512, h2);
    bool cs = json_is_true(json_object_get(r->cfg, "consistent_snapshot"));
    char name[PATH_MAX], name2[PATH_MAX];
    snprintf(name, sizeof name, "%.*s%s%s%s", dl, rel, cs ? h1 : "", cs ? "." : "", rel + dl);
    snprintf(name2, sizeof name2, "%.*s%s.%s", dl, rel, h2, rel + dl);
    if (pawl__ota_path(r, "targets", name, dst, sizeof dst) != 0 ||
        pawl__ota_path(r, "targets", name2, dst2, sizeof dst2) != 0)
        goto fail;
    *strrchr(dst2, '/') = '\0';
    if (pawl__ota_mkdirs(dst2) != 0)
        goto fail;
    dst2[strlen(dst2)] = '/';
    if (rename(tmp, dst) != 0 || (cs && (unlink(dst2) != 0 && errno != ENOENT)) ||
        (cs && link(dst, dst2) != 0)) {
        fprintf(stderr, "pawl: ota repo add: %s: %s\n", dst, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    remove(tmp);
    json_decref(*info);
    *info = NULL;
    return -1;
}

static bool is_bin_of(const char *name, const char *prefix, unsigned bits)
{
    size_t pn = strlen(prefix), width = (bits + 3) / 4;
    const char *s = name + pn + 1;
    if (strncmp(name, prefix, pn) != 0 || name[pn] != '-' || strlen(s) != width ||
        strspn(s, "0123456789abcdef") != width)
        return false;
    return bits >= 32 || strtoul(s, NULL, 16) < (1ul << bits);
}

/* The role (in staged) that holds path when it is added to `role`: a hash
 * bin if role delegates to bins, else role itself once every delegation
 * from "targets" down to it covers path. */
static int route(const struct ota_repo *r, const json_t *staged, const char *role,
                 const char *path, char *out, size_t cap)
{
    for (const char *c = role; strcmp(c, "targets") != 0;) {
        const char *parent = json_string_value(json_object_get(
            json_object_get(json_object_get(r->cfg, "roles"), c), "delegated_by"));
        const json_t *rl = json_object_get(
            json_object_get(json_object_get(staged, parent ? parent : ""), "delegations"), "roles"),
                     *e = NULL;
        size_t i;
        json_array_foreach(rl, i, e) if (strcmp(json_string_value(json_object_get(e, "name")),
                                                c) == 0) break;
        if (i == json_array_size(rl) || !pawl_ota_delegation_covers(e, path)) {
            fprintf(stderr, "pawl: ota repo add: target '%s': role '%s' %s\n", path, c,
                    parent ? "is not delegated this path by its parent" : "is not in keys.json");
            return -1;
        }
        c = parent;
    }
    const json_t *sr =
        json_object_get(json_object_get(json_object_get(staged, role), "delegations"),
                        "succinct_roles");
    if (sr != NULL) {
        unsigned bits = (unsigned)json_integer_value(json_object_get(sr, "bit_length"));
        const char *pre = json_string_value(json_object_get(sr, "name_prefix"));
        return pawl_ota_bin_name(pre ? pre : "", bits, pawl_ota_bin_index(path, bits), out, cap,
                                 NULL) == PAWL_OK ? 0 : -1;
    }
    snprintf(out, cap, "%s", role);
    return 0;
}

struct add_opts {
    const char *repo, *images, *role, *custom;
};

static int add_files(struct ota_repo *r, const struct add_opts *o, const json_t *custom,
                     json_t *staged, json_t *touched)
{
    struct files fs = { 0 };
    char src[PATH_MAX], dest[PAWL_OTA_NAME_MAX + 2];
    int rc = walk(o->images, "", 0, &fs);
    if (fs.n > 0)
        qsort(fs.v, fs.n, sizeof *fs.v, cmp_str);
    for (size_t i = 0; rc == 0 && i < fs.n; i++) {
        json_t *info = NULL;
        struct pawl_diag d = { 0 };
        snprintf(src, sizeof src, "%s/%s", o->images, fs.v[i]);
        rc = -1;
        if (pawl_ota_check_target_path(fs.v[i], &d) != PAWL_OK)
            fprintf(stderr, "pawl: ota repo add: %s: %s\n", src, d.msg);
        else if (route(r, staged, o->role, fs.v[i], dest, sizeof dest) != 0)
            ;
        else if (json_object_get(staged, dest) == NULL)
            fprintf(stderr, "pawl: ota repo add: %s: role '%s' has no staged metadata\n", src,
                    dest);
        else if (copy_in(r, src, fs.v[i], custom, &info) != 0)
            ;
        else if (pawl_ota_targets_add(json_object_get(staged, dest), fs.v[i], info, &d) != PAWL_OK)
            fprintf(stderr, "pawl: ota repo add: %s: %s\n", src, d.msg);
        else
            rc = json_object_set(touched, dest, json_true());
        if (rc == 0)
            printf("added %s to %s (%lld bytes)\n", fs.v[i], dest,
                   (long long)json_integer_value(json_object_get(info, "length")));
        json_decref(info);
    }
    if (rc == 0 && fs.n == 0)
        fprintf(stderr, "pawl: ota repo add: %s: no regular files\n", o->images);
    for (size_t i = 0; i < fs.n; i++)
        free(fs.v[i]);
    free(fs.v);
    return fs.n == 0 ? -1 : rc;
}

/* Loads the staged documents of every targets role into staged (name -> doc). */
static int load_staged(const struct ota_repo *r, json_t *staged)
{
    struct roles rs = { 0 };
    json_t *s;
    int rc = roles_list(r, &rs);
    for (size_t i = 0; rc == 0 && i < rs.n; i++) {
        rc = pawl__ota_staged_load(r, rs.name[i], &s);
        if (rc == 0)
            json_object_set_new(staged, rs.name[i], s);
    }
    roles_free(&rs);
    return rc;
}

int pawl__ota_add(int argc, char **argv)
{
    struct add_opts o = { 0 };
    const struct ota_opt opts[] = {
        { "--repo", &o.repo, NULL, NULL }, { "--images", &o.images, NULL, NULL },
        { "--role", &o.role, NULL, NULL }, { "--custom", &o.custom, NULL, NULL },
    };
    json_t *custom = NULL, *staged = json_object(), *touched = json_object();
    json_error_t je;
    struct ota_repo r = { 0 };
    int rc = PAWL_EXIT_USAGE;
    const char *k;
    json_t *v;
    if (pawl__ota_opts("repo add", argc, argv, opts, 4) != 0)
        goto out;
    if (o.repo == NULL || o.images == NULL) {
        fputs("pawl: ota repo add: --repo DIR and --images DIR are required\n", stderr);
        goto out;
    }
    if (o.custom != NULL && (custom = json_loads(o.custom, JSON_REJECT_DUPLICATES, &je)) == NULL) {
        fprintf(stderr, "pawl: ota repo add: --custom: %s\n", je.text);
        goto out;
    }
    if (o.role == NULL)
        o.role = "targets";
    rc = PAWL_EXIT_FAIL;
    if (staged == NULL || touched == NULL || pawl__ota_open(&r, o.repo) != 0 ||
        load_staged(&r, staged) != 0)
        goto out;
    if (json_object_get(staged, o.role) == NULL ||
        json_integer_value(json_object_get(json_object_get(json_object_get(r.cfg, "roles"),
                                                           o.role), "bit_length")) > 0) {
        fprintf(stderr, "pawl: ota repo add: --role '%s': not a targets role of %s (for hash "
                "bins, name the role that delegates to them)\n", o.role, o.repo);
        goto out;
    }
    if (add_files(&r, &o, custom, staged, touched) != 0)
        goto out;
    json_object_foreach(touched, k, v) if (pawl__ota_staged_save(&r, k, json_object_get(staged, k))
                                           != 0) goto out;
    puts("run 'pawl ota repo publish' to sign them");
    rc = PAWL_EXIT_OK;
out:
    json_decref(custom);
    json_decref(staged);
    json_decref(touched);
    pawl__ota_close(&r);
    return rc;
}

/* ---- delegate ----------------------------------------------------------------------------------- */

struct del_opts {
    const char *repo, *from, *to, *threshold, *bins, *prefix;
    struct ota_strv keys, paths, prefixes;
    bool terminating;
};

static int parse_delegate(int argc, char **argv, struct del_opts *o, int64_t *th, int64_t *bits)
{
    const struct ota_opt opts[] = {
        { "--repo", &o->repo, NULL, NULL },         { "--from", &o->from, NULL, NULL },
        { "--to", &o->to, NULL, NULL },             { "--threshold", &o->threshold, NULL, NULL },
        { "--bins", &o->bins, NULL, NULL },         { "--prefix", &o->prefix, NULL, NULL },
        { "--key", NULL, &o->keys, NULL },          { "--path", NULL, &o->paths, NULL },
        { "--hash-prefix", NULL, &o->prefixes, NULL },
        { "--terminating", NULL, NULL, &o->terminating },
    };
    const char *why = NULL;
    if (pawl__ota_opts("repo delegate", argc, argv, opts, sizeof opts / sizeof opts[0]) != 0)
        return -1;
    if (o->repo == NULL || o->from == NULL || o->keys.n == 0)
        why = "--repo, --from and --key are required";
    else if ((o->to != NULL) == (o->bins != NULL || o->prefix != NULL))
        why = "give --to NAME (a role) or --bins BITS --prefix NAME (hash bins)";
    else if (o->to != NULL && (o->paths.n > 0) == (o->prefixes.n > 0))
        why = "--to needs --path PATTERN... or --hash-prefix HEX... (one of them)";
    else if (o->bins != NULL && (o->prefix == NULL || o->paths.n || o->prefixes.n || o->terminating))
        why = "--bins needs --prefix and takes no --path, --hash-prefix or --terminating";
    else if (o->bins != NULL &&
             pawl__parse_i64(o->bins, strlen(o->bins), 1, OTA_MAX_BITS, bits) != PAWL_OK)
        why = "--bins: want 1..16 (2 to 65536 bins)";
    else if (o->threshold != NULL &&
             pawl__parse_i64(o->threshold, strlen(o->threshold), 1, OTA_MAX_MULTI, th) != PAWL_OK)
        why = "--threshold: want 1..64";
    if (why != NULL) {
        fprintf(stderr, "pawl: ota repo delegate: %s\n", why);
        return -1;
    }
    return 0;
}

/* Whether name is a role or a hash bin of the repository already. */
static bool taken(const struct ota_repo *r, const char *name)
{
    const char *k;
    json_t *c;
    json_object_foreach(json_object_get(r->cfg, "roles"), k, c)
    {
        json_int_t bits = json_integer_value(json_object_get(c, "bit_length"));
        if (strcmp(k, name) == 0 || (bits > 0 && is_bin_of(name, k, (unsigned)bits)))
            return true;
    }
    return false;
}

/* Refuses a name (or, for bins, any bin name) that is taken. */
static int check_new(const struct ota_repo *r, const struct del_opts *o, int64_t bits)
{
    const char *k, *name = o->to ? o->to : o->prefix;
    json_t *c;
    struct pawl_diag d = { 0 };
    bool bad = taken(r, name) || pawl_ota_check_role_name(name, &d) != PAWL_OK;
    json_object_foreach(json_object_get(r->cfg, "roles"), k, c) bad =
        bad || (bits > 0 && is_bin_of(k, name, (unsigned)bits));
    if (bad)
        fprintf(stderr, "pawl: ota repo delegate: %s: %s\n", name,
                d.msg[0] ? d.msg : "a role or hash bin of that name exists");
    return bad ? -1 : 0;
}

static int delegate_into(struct ota_keys *ks, const struct del_opts *o,
                         int64_t th, int64_t bits, json_t *parent, json_t *entries)
{
    const json_t *pubs[OTA_MAX_MULTI];
    struct pawl_diag d = { 0 };
    const char *name = o->to ? o->to : o->prefix;
    for (size_t i = 0; i < o->keys.n; i++) {
        json_t *e = pawl__ota_key_entry(ks, o->keys.v[i], name, &pubs[i]);
        if (e == NULL || json_array_append_new(entries, e) != 0)
            return -1;
    }
    struct pawl_ota_delegation del = { name, th, o->paths.v, o->paths.n, o->prefixes.v,
                                       o->prefixes.n, o->terminating };
    pawl_err e = o->to ? pawl_ota_delegate(parent, &del, pubs, o->keys.n, &d)
                       : pawl_ota_delegate_bins(parent, name, (unsigned)bits, pubs, o->keys.n, th,
                                                &d);
    if (e != PAWL_OK) {
        fprintf(stderr, "pawl: ota repo delegate: from '%s': %s\n", o->from, d.msg);
        return -1;
    }
    return 0;
}

/* Empty staged targets for the new role or every new bin. */
static int stage_new(struct ota_repo *r, const struct del_opts *o, int64_t bits)
{
    char bin[PAWL_OTA_NAME_MAX + 2];
    json_t *t = NULL;
    struct pawl_diag d = { 0 };
    int rc = -1;
    if (pawl_ota_targets_new(1, r->now + pawl__ota_days(r, "delegated") * OTA_DAY, &t, &d) !=
        PAWL_OK) {
        fprintf(stderr, "pawl: ota repo delegate: %s\n", d.msg);
        return -1;
    }
    if (o->to != NULL) {
        rc = pawl__ota_staged_save(r, o->to, t);
    } else {
        rc = 0;
        for (uint32_t i = 0; rc == 0 && i < (1u << bits); i++)
            rc = pawl_ota_bin_name(o->prefix, (unsigned)bits, i, bin, sizeof bin, NULL) == PAWL_OK
                     ? pawl__ota_staged_save(r, bin, t)
                     : -1;
    }
    json_decref(t);
    return rc;
}

static int delegate(struct ota_repo *r, struct ota_keys *ks, const struct del_opts *o, int64_t th,
                    int64_t bits)
{
    json_t *parent = NULL, *entries = json_array(), *from_cfg;
    char p[PATH_MAX];
    int rc = -1;
    from_cfg = json_object_get(json_object_get(r->cfg, "roles"), o->from);
    if (strcmp(o->from, "targets") != 0 &&
        (json_object_get(from_cfg, "delegated_by") == NULL ||
         json_object_get(from_cfg, "bit_length") != NULL)) {
        fprintf(stderr, "pawl: ota repo delegate: --from '%s': not 'targets' or a delegated role "
                "of %s\n", o->from, r->dir);
        goto out;
    }
    if (entries == NULL || check_new(r, o, bits) != 0 ||
        pawl__ota_staged_load(r, o->from, &parent) != 0 ||
        delegate_into(ks, o, th, bits, parent, entries) != 0 || stage_new(r, o, bits) != 0 ||
        pawl__ota_staged_save(r, o->from, parent) != 0)
        goto out;
    json_t *c = json_pack("{s:O, s:s}", "keys", entries, "delegated_by", o->from);
    if (c == NULL || (bits > 0 && json_object_set_new(c, "bit_length", json_integer(bits)) != 0) ||
        json_object_set_new(json_object_get(r->cfg, "roles"), o->to ? o->to : o->prefix, c) != 0 ||
        pawl__ota_path(r, "keys.json", "", p, sizeof p) != 0 || pawl__ota_write_json(p, r->cfg) != 0)
        goto out;
    if (o->to != NULL)
        printf("delegated %s from %s; run 'pawl ota repo publish' to sign it\n", o->to, o->from);
    else
        printf("delegated %lld hash bins %s-* from %s; run 'pawl ota repo publish' to sign them\n",
               (long long)(1ll << bits), o->prefix, o->from);
    rc = 0;
out:
    json_decref(parent);
    json_decref(entries);
    return rc;
}

int pawl__ota_delegate(int argc, char **argv)
{
    struct del_opts o = { 0 };
    int64_t th = 1, bits = 0;
    if (parse_delegate(argc, argv, &o, &th, &bits) != 0)
        return PAWL_EXIT_USAGE;
    struct ota_repo r;
    struct ota_keys ks = { 0 };
    int rc = pawl__ota_open(&r, o.repo) == 0 && delegate(&r, &ks, &o, th, bits) == 0
                 ? PAWL_EXIT_OK
                 : PAWL_EXIT_FAIL;
    pawl__ota_keys_free(&ks);
    pawl__ota_close(&r);
    return rc;
}

/* ---- custom ------------------------------------------------------------------------------------- */

/* The "custom" object in the signed part of a targets role (Uptane's
 * Director carries the vehicle identifier there); null removes it. */
int pawl__ota_set_custom(int argc, char **argv)
{
    const char *repo = NULL, *role = "targets", *text = NULL;
    const struct ota_opt opts[] = { { "--repo", &repo, NULL, NULL },
                                    { "--role", &role, NULL, NULL },
                                    { "--custom", &text, NULL, NULL } };
    struct ota_repo r = { 0 };
    json_t *custom = NULL, *staged = NULL;
    json_error_t je;
    int rc = PAWL_EXIT_USAGE;
    if (pawl__ota_opts("repo set-custom", argc, argv, opts, 3) != 0)
        return rc;
    if (repo == NULL || text == NULL) {
        fputs("pawl: ota repo set-custom: --repo DIR and --custom JSON are required\n", stderr);
        return rc;
    }
    custom = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (custom == NULL || !(json_is_object(custom) || json_is_null(custom))) {
        fprintf(stderr, "pawl: ota repo set-custom: --custom: %s\n",
                custom == NULL ? je.text : "want a JSON object or null");
        json_decref(custom);
        return rc;
    }
    rc = PAWL_EXIT_FAIL;
    if (pawl__ota_open(&r, repo) == 0 && pawl__ota_staged_load(&r, role, &staged) == 0) {
        if (json_is_null(custom))
            json_object_del(staged, "custom");
        else
            json_object_set(staged, "custom", custom);
        if (pawl__ota_staged_save(&r, role, staged) == 0) {
            puts("run 'pawl ota repo publish' to sign it");
            rc = PAWL_EXIT_OK;
        }
    }
    json_decref(staged);
    json_decref(custom);
    pawl__ota_close(&r);
    return rc;
}
