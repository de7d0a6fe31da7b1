/* The trusted set: the TUF specification's client state machine (5.3 root,
 * 5.4 timestamp, 5.5 snapshot, 5.6 targets and delegations) over bytes the
 * caller fetched or loaded. No I/O. A document is parsed, checked and
 * verified in full before it replaces anything; rollback checks compare
 * with the document it replaces. */
#include "tuf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t pawl__tuf_now(const struct tuf_trusted *ts)
{
    return ts->now != 0 ? ts->now : (int64_t)time(NULL);
}

static int check_expiry(const struct tuf_trusted *ts, const struct tuf_md *md, const char *what,
                        char *err, size_t errn)
{
    if (pawl__tuf_expired(md, pawl__tuf_now(ts)))
        return TUF_ERR(err, errn, "%s version %lld has expired", what, (long long)md->version);
    return 0;
}

int pawl__tuf_trusted_init(struct tuf_trusted *ts, const uint8_t *root, size_t n, int64_t now,
                           char *err, size_t errn)
{
    struct tuf_role r;
    memset(ts, 0, sizeof *ts);
    ts->now = now;
    if (pawl__tuf_parse(root, n, TUF_ROOT, "trusted root", &ts->root, err, errn) != 0)
        return -1;
    pawl__tuf_root_role(&ts->root, "root", &r);
    if (pawl__tuf_verify(&r, &ts->root, "trusted root", err, errn) != 0) {
        pawl__tuf_md_clear(&ts->root);
        return -1;
    }
    return 0;
}

void pawl__tuf_trusted_free(struct tuf_trusted *ts)
{
    pawl__tuf_md_clear(&ts->root);
    pawl__tuf_md_clear(&ts->timestamp);
    pawl__tuf_md_clear(&ts->snapshot);
    pawl__tuf_md_clear(&ts->targets);
    for (size_t i = 0; i < ts->ndeleg; i++) {
        free(ts->deleg[i]->name);
        pawl__tuf_md_clear(&ts->deleg[i]->md);
        free(ts->deleg[i]);
    }
    free(ts->deleg);
    memset(ts, 0, sizeof *ts);
}

int pawl__tuf_update_root(struct tuf_trusted *ts, const uint8_t *data, size_t n, char *err,
                          size_t errn)
{
    struct tuf_md md;
    struct tuf_role r;
    char what[48];
    if (ts->has_timestamp)
        return TUF_ERR(err, errn, "root: cannot update root after the timestamp");
    snprintf(what, sizeof what, "root version %lld", (long long)ts->root.version + 1);
    if (pawl__tuf_parse(data, n, TUF_ROOT, what, &md, err, errn) != 0)
        return -1;
    /* 5.3.4: a threshold of the trusted root's keys, then of its own. */
    pawl__tuf_root_role(&ts->root, "root", &r);
    if (pawl__tuf_verify(&r, &md, what, err, errn) != 0)
        goto fail;
    if (md.version != ts->root.version + 1) {
        TUF_ERR(err, errn, "%s: file holds version %lld", what, (long long)md.version);
        goto fail;
    }
    pawl__tuf_root_role(&md, "root", &r);
    if (pawl__tuf_verify(&r, &md, what, err, errn) != 0)
        goto fail;
    pawl__tuf_md_move(&ts->root, &md);
    return 0;
fail:
    pawl__tuf_md_clear(&md);
    return -1;
}

int pawl__tuf_check_final_root(struct tuf_trusted *ts, char *err, size_t errn)
{
    return check_expiry(ts, &ts->root, "root", err, errn);
}

int pawl__tuf_update_timestamp(struct tuf_trusted *ts, const uint8_t *data, size_t n, char *err,
                               size_t errn)
{
    struct tuf_md md;
    struct tuf_role r;
    struct tuf_metafile oldm, newm;
    if (ts->has_snapshot)
        return TUF_ERR(err, errn, "timestamp: cannot update the timestamp after the snapshot");
    if (pawl__tuf_check_final_root(ts, err, errn) != 0)
        return -1;
    if (pawl__tuf_parse(data, n, TUF_TIMESTAMP, "timestamp", &md, err, errn) != 0)
        return -1;
    pawl__tuf_root_role(&ts->root, "timestamp", &r);
    if (pawl__tuf_verify(&r, &md, "timestamp", err, errn) != 0)
        goto fail;
    if (ts->has_timestamp) {
        /* 5.4.3 and 5.4.4: neither the timestamp nor the snapshot it names
         * may go back. The same version again changes nothing. */
        if (md.version < ts->timestamp.version) {
            TUF_ERR(err, errn, "timestamp: version %lld is older than the trusted %lld",
                    (long long)md.version, (long long)ts->timestamp.version);
            goto fail;
        }
        if (md.version == ts->timestamp.version) {
            pawl__tuf_md_clear(&md);
            return 1;
        }
        (void)pawl__tuf_metafile(&ts->timestamp, "snapshot.json", &oldm);
        (void)pawl__tuf_metafile(&md, "snapshot.json", &newm);
        if (newm.version < oldm.version) {
            TUF_ERR(err, errn,
                    "timestamp: names snapshot version %lld, older than the trusted %lld",
                    (long long)newm.version, (long long)oldm.version);
            goto fail;
        }
    }
    /* Kept even when expired, so that a later timestamp cannot roll back
     * below it; the expiry fails this update and every later step. */
    pawl__tuf_md_move(&ts->timestamp, &md);
    ts->has_timestamp = true;
    return check_expiry(ts, &ts->timestamp, "timestamp", err, errn);
fail:
    pawl__tuf_md_clear(&md);
    return -1;
}

static int check_final_timestamp(struct tuf_trusted *ts, char *err, size_t errn)
{
    if (!ts->has_timestamp)
        return TUF_ERR(err, errn, "snapshot: no trusted timestamp");
    return check_expiry(ts, &ts->timestamp, "timestamp", err, errn);
}

static int check_final_snapshot(struct tuf_trusted *ts, char *err, size_t errn)
{
    struct tuf_metafile m;
    if (!ts->has_snapshot)
        return TUF_ERR(err, errn, "targets: no trusted snapshot");
    if (check_expiry(ts, &ts->snapshot, "snapshot", err, errn) != 0)
        return -1;
    (void)pawl__tuf_metafile(&ts->timestamp, "snapshot.json", &m);
    if (ts->snapshot.version != m.version)
        return TUF_ERR(err, errn, "snapshot: version %lld, the timestamp names %lld",
                       (long long)ts->snapshot.version, (long long)m.version);
    return 0;
}

/* 5.5.5: no role the trusted snapshot lists may vanish or go back. */
static int check_snapshot_rollback(const struct tuf_md *old, const struct tuf_md *md, char *err,
                                   size_t errn)
{
    const char *name;
    json_t *e;
    json_object_foreach(json_object_get(old->signed_, "meta"), name, e)
    {
        struct tuf_metafile nm;
        int64_t ov = json_integer_value(json_object_get(e, "version"));
        if (pawl__tuf_metafile(md, name, &nm) != 0)
            return TUF_ERR(err, errn, "snapshot: %.256s is missing, the trusted snapshot has it",
                           name);
        if (nm.version < ov)
            return TUF_ERR(err, errn,
                           "snapshot: %.256s version %lld is older than the trusted %lld", name,
                           (long long)nm.version, (long long)ov);
    }
    return 0;
}

int pawl__tuf_update_snapshot(struct tuf_trusted *ts, const uint8_t *data, size_t n,
                              bool trusted, char *err, size_t errn)
{
    struct tuf_md md;
    struct tuf_role r;
    struct tuf_metafile m;
    if (ts->has_targets)
        return TUF_ERR(err, errn, "snapshot: cannot update the snapshot after targets");
    if (check_final_timestamp(ts, err, errn) != 0)
        return -1;
    (void)pawl__tuf_metafile(&ts->timestamp, "snapshot.json", &m);
    /* 5.5.2: the bytes the timestamp names (a local copy was checked when
     * it was fetched). */
    if (!trusted && pawl__tuf_check_data(m.hashes, m.length, data, n, "snapshot", err, errn) != 0)
        return -1;
    if (pawl__tuf_parse(data, n, TUF_SNAPSHOT, "snapshot", &md, err, errn) != 0)
        return -1;
    pawl__tuf_root_role(&ts->root, "snapshot", &r);
    if (pawl__tuf_verify(&r, &md, "snapshot", err, errn) != 0 ||
        (ts->has_snapshot && check_snapshot_rollback(&ts->snapshot, &md, err, errn) != 0)) {
        pawl__tuf_md_clear(&md);
        return -1;
    }
    /* Kept for rollback checks even if the final checks fail. */
    pawl__tuf_md_move(&ts->snapshot, &md);
    ts->has_snapshot = true;
    return check_final_snapshot(ts, err, errn);
}

struct tuf_md *pawl__tuf_trusted_role(struct tuf_trusted *ts, const char *role,
                                      const struct tuf_md *parent)
{
    if (parent == NULL)
        return strcmp(role, "targets") == 0 && ts->has_targets ? &ts->targets : NULL;
    for (size_t i = 0; i < ts->ndeleg; i++)
        if (ts->deleg[i]->parent == parent && strcmp(ts->deleg[i]->name, role) == 0)
            return &ts->deleg[i]->md;
    return NULL;
}

static int add_delegated(struct tuf_trusted *ts, const char *role, const struct tuf_md *parent,
                         struct tuf_md *md)
{
    if (ts->ndeleg == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 8;
        struct tuf_deleg **d = realloc(ts->deleg, cap * sizeof *d);
        if (d == NULL)
            return -1;
        ts->deleg = d;
        ts->cap = cap;
    }
    struct tuf_deleg *e = calloc(1, sizeof *e);
    char *name = strdup(role);
    if (e == NULL || name == NULL) {
        free(e);
        free(name);
        return -1;
    }
    e->name = name;
    e->parent = parent;
    pawl__tuf_md_move(&e->md, md);
    ts->deleg[ts->ndeleg++] = e;
    return 0;
}

int pawl__tuf_update_targets(struct tuf_trusted *ts, const uint8_t *data, size_t n,
                             const char *role, const struct tuf_md *parent, char *err,
                             size_t errn)
{
    struct tuf_md md;
    struct tuf_role r;
    struct tuf_metafile m;
    char what[320], fname[300];
    bool top = parent == NULL;
    snprintf(what, sizeof what, top ? "%s" : "delegated role \"%.256s\"", role);
    if (top && strcmp(role, "targets") != 0)
        return TUF_ERR(err, errn, "%s: not delegated by anyone", what);
    if (check_final_snapshot(ts, err, errn) != 0)
        return -1;
    if (pawl__tuf_trusted_role(ts, role, parent) != NULL)
        return TUF_ERR(err, errn, "%s: already trusted", what);
    if (top)
        pawl__tuf_root_role(&ts->root, "targets", &r);
    else if (pawl__tuf_delegated_role(parent, role, &r) != 0)
        return TUF_ERR(err, errn, "%s: its delegator does not delegate to it", what);
    snprintf(fname, sizeof fname, "%.256s.json", role);
    if (pawl__tuf_metafile(&ts->snapshot, fname, &m) != 0)
        return TUF_ERR(err, errn, "%s: the snapshot does not list %s", what, fname);
    if (pawl__tuf_check_data(m.hashes, m.length, data, n, what, err, errn) != 0)
        return -1;
    if (pawl__tuf_parse(data, n, TUF_TARGETS, what, &md, err, errn) != 0)
        return -1;
    if (pawl__tuf_verify(&r, &md, what, err, errn) != 0)
        goto fail;
    if (md.version != m.version) {
        TUF_ERR(err, errn, "%s: version %lld, the snapshot names %lld", what,
                (long long)md.version, (long long)m.version);
        goto fail;
    }
    if (check_expiry(ts, &md, what, err, errn) != 0)
        goto fail;
    if (top) {
        pawl__tuf_md_move(&ts->targets, &md);
        ts->has_targets = true;
        return 0;
    }
    if (add_delegated(ts, role, parent, &md) == 0)
        return 0;
    TUF_ERR(err, errn, "%s: out of memory", what);
fail:
    pawl__tuf_md_clear(&md);
    return -1;
}
