/* The TUF client workflow (specification section 5) over a fetcher and a
 * store: which documents to load, fetch and save, in which order. The
 * checks themselves are tuf_trusted.c's. */
#include "tuf_internal.h"

#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUOTED_MAX 800 /* a role name of 255 bytes quotes to at most 765 */

struct pawl_tuf_updater {
    struct pawl_tuf_config cfg;
    char *metadata_url, *targets_url; /* with a trailing '/' */
    struct pawl_tuf_fetcher f;
    struct pawl_tuf_store s;
    struct tuf_trusted ts;
    bool refreshed;
    char err[512];
};

static char *with_slash(const char *url)
{
    if (url == NULL)
        return NULL;
    size_t n = strlen(url);
    char *s = malloc(n + 2);
    if (s != NULL) {
        memcpy(s, url, n);
        if (n == 0 || url[n - 1] != '/')
            s[n++] = '/';
        s[n] = '\0';
    }
    return s;
}

struct pawl_tuf_updater *pawl_tuf_new(const struct pawl_tuf_config *cfg,
                                      const struct pawl_tuf_fetcher *f,
                                      const struct pawl_tuf_store *s)
{
    struct pawl_tuf_updater *u = calloc(1, sizeof *u);
    if (u == NULL)
        return NULL;
    u->cfg = *cfg;
    u->f = *f;
    u->s = *s;
    u->metadata_url = with_slash(cfg->metadata_url);
    u->targets_url = with_slash(cfg->targets_url);
    if (u->metadata_url == NULL || (cfg->targets_url != NULL && u->targets_url == NULL)) {
        pawl_tuf_free(u);
        return NULL;
    }
    struct pawl_tuf_config *c = &u->cfg;
    c->root_max = c->root_max ? c->root_max : PAWL_TUF_ROOT_MAX;
    c->timestamp_max = c->timestamp_max ? c->timestamp_max : PAWL_TUF_TIMESTAMP_MAX;
    c->snapshot_max = c->snapshot_max ? c->snapshot_max : PAWL_TUF_SNAPSHOT_MAX;
    c->targets_max = c->targets_max ? c->targets_max : PAWL_TUF_TARGETS_MAX;
    c->max_root_rotations = c->max_root_rotations ? c->max_root_rotations
                                                  : PAWL_TUF_MAX_ROOT_ROTATIONS;
    c->max_delegations = c->max_delegations ? c->max_delegations : PAWL_TUF_MAX_DELEGATIONS;
    return u;
}

void pawl_tuf_free(struct pawl_tuf_updater *u)
{
    if (u == NULL)
        return;
    pawl__tuf_trusted_free(&u->ts);
    free(u->metadata_url);
    free(u->targets_url);
    free(u);
}

const char *pawl_tuf_error(const struct pawl_tuf_updater *u)
{
    return u->err;
}

/* ---- fetching into memory --------------------------------------------- */

struct mem_sink {
    struct tuf_buf b;
    uint64_t max;
};

/* A download's buffer starts at this size (or its bound, if smaller). */
#define FETCH_RESERVE ((uint64_t)256 * 1024)

static int mem_put(void *ctx, const uint8_t *p, size_t n)
{
    struct mem_sink *m = ctx;
    if (m->b.n + n > m->max)
        return -1;
    if (m->b.cap == 0 &&
        pawl__tuf_buf_reserve(&m->b, m->max < FETCH_RESERVE ? m->max : FETCH_RESERVE) != 0)
        return -1;
    return pawl__tuf_buf_put(&m->b, p, n);
}

/* Fetches metadata file `name` (at most max bytes). */
static int fetch_meta(struct pawl_tuf_updater *u, const char *name, uint64_t max,
                      struct tuf_buf *out)
{
    size_t n = strlen(u->metadata_url) + strlen(name) + 1;
    char *url = malloc(n);
    struct mem_sink m = {{0}, max};
    char ferr[256] = "";
    if (url == NULL)
        return TUF_ERR(u->err, sizeof u->err, "%s: out of memory", name);
    snprintf(url, n, "%s%s", u->metadata_url, name);
    int rc = u->f.fetch(u->f.ctx, url, max, mem_put, &m, ferr, sizeof ferr);
    if (rc == 0 && m.b.n > max)
        rc = -1;
    if (rc == PAWL_TUF_NOTFOUND)
        TUF_ERR(u->err, sizeof u->err, "%s: not found on the repository", url);
    else if (rc != 0)
        TUF_ERR(u->err, sizeof u->err, "%s: %s", url,
                ferr[0] ? ferr : "download failed or exceeded its bound");
    free(url);
    if (rc != 0) {
        pawl__tuf_buf_free(&m.b);
        return rc;
    }
    *out = m.b;
    return 0;
}

static int load_local(struct pawl_tuf_updater *u, const char *name, uint64_t max,
                      struct tuf_buf *out)
{
    char e[256];
    uint8_t *data = NULL;
    size_t n = 0;
    int rc = u->s.load(u->s.ctx, name, max, &data, &n, e, sizeof e);
    if (rc != 0)
        return rc;
    out->p = data;
    out->n = out->cap = n;
    return 0;
}

static int save(struct pawl_tuf_updater *u, const char *name, const struct tuf_buf *b)
{
    char e[256] = "";
    if (u->s.save(u->s.ctx, name, b->p, b->n, e, sizeof e) != 0)
        return TUF_ERR(u->err, sizeof u->err, "saving %s: %s", name, e);
    return 0;
}

/* ---- the workflow ----------------------------------------------------- */

static int load_root(struct pawl_tuf_updater *u)
{
    struct tuf_buf b = {0};
    int rc = load_local(u, "root.json", u->cfg.root_max, &b);
    if (rc != 0)
        return TUF_ERR(u->err, sizeof u->err, "no trusted root.json in the metadata store%s",
                       rc == PAWL_TUF_NOTFOUND ? " (initialize the client first)" : "");
    rc = pawl__tuf_trusted_init(&u->ts, b.p, b.n, u->cfg.now, u->err, sizeof u->err);
    pawl__tuf_buf_free(&b);
    return rc;
}

/* 5.3: every next root version, each signed by the previous one. */
static int update_root(struct pawl_tuf_updater *u)
{
    int64_t lower = u->ts.root.version + 1;
    int64_t upper = lower + (int64_t)u->cfg.max_root_rotations;
    for (int64_t v = lower; v < upper; v++) {
        char name[40];
        struct tuf_buf b = {0};
        snprintf(name, sizeof name, "%lld.root.json", (long long)v);
        int rc = fetch_meta(u, name, u->cfg.root_max, &b);
        if (rc == PAWL_TUF_NOTFOUND) {
            u->err[0] = '\0';
            break;
        }
        if (rc == 0)
            rc = pawl__tuf_update_root(&u->ts, b.p, b.n, u->err, sizeof u->err);
        if (rc == 0)
            rc = save(u, "root.json", &b);
        pawl__tuf_buf_free(&b);
        if (rc != 0)
            return -1;
    }
    return pawl__tuf_check_final_root(&u->ts, u->err, sizeof u->err);
}

static int update_timestamp(struct pawl_tuf_updater *u)
{
    struct tuf_buf b = {0};
    /* A local timestamp that still verifies is the floor for rollback; one
     * that does not (keys rotated, damaged) is simply not trusted. */
    if (load_local(u, "timestamp.json", u->cfg.timestamp_max, &b) == 0)
        (void)pawl__tuf_update_timestamp(&u->ts, b.p, b.n, u->err, sizeof u->err);
    pawl__tuf_buf_free(&b);
    u->err[0] = '\0';
    if (fetch_meta(u, "timestamp.json", u->cfg.timestamp_max, &b) != 0)
        return -1;
    int rc = pawl__tuf_update_timestamp(&u->ts, b.p, b.n, u->err, sizeof u->err);
    if (rc == 0)
        rc = save(u, "timestamp.json", &b);
    pawl__tuf_buf_free(&b);
    return rc < 0 ? -1 : 0;
}

static bool consistent(const struct pawl_tuf_updater *u)
{
    return json_is_true(json_object_get(u->ts.root.signed_, "consistent_snapshot"));
}

static int update_snapshot(struct pawl_tuf_updater *u)
{
    struct tuf_buf b = {0};
    struct tuf_metafile m;
    if (load_local(u, "snapshot.json", u->cfg.snapshot_max, &b) == 0 &&
        pawl__tuf_update_snapshot(&u->ts, b.p, b.n, true, u->err, sizeof u->err) == 0) {
        pawl__tuf_buf_free(&b);
        return 0;
    }
    pawl__tuf_buf_free(&b);
    u->err[0] = '\0';
    if (!u->ts.has_timestamp)
        return TUF_ERR(u->err, sizeof u->err, "snapshot: no trusted timestamp");
    (void)pawl__tuf_metafile(&u->ts.timestamp, "snapshot.json", &m);
    char name[48];
    if (consistent(u))
        snprintf(name, sizeof name, "%lld.snapshot.json", (long long)m.version);
    else
        snprintf(name, sizeof name, "snapshot.json");
    uint64_t max = m.length > 0 ? (uint64_t)m.length : u->cfg.snapshot_max;
    int rc = fetch_meta(u, name, max, &b);
    if (rc == 0)
        rc = pawl__tuf_update_snapshot(&u->ts, b.p, b.n, false, u->err, sizeof u->err);
    if (rc == 0)
        rc = save(u, "snapshot.json", &b);
    pawl__tuf_buf_free(&b);
    return rc < 0 ? -1 : rc;
}

/* 5.6: role's targets, from the store if still valid, else fetched. */
static struct tuf_md *load_targets(struct pawl_tuf_updater *u, const char *role,
                                   const struct tuf_md *parent)
{
    struct tuf_md *md = pawl__tuf_trusted_role(&u->ts, role, parent);
    char quoted[QUOTED_MAX], local[QUOTED_MAX + 8], remote[QUOTED_MAX + 32], fname[300];
    struct tuf_buf b = {0};
    struct tuf_metafile m;
    if (md != NULL)
        return md;
    if (pawl_tuf_quote(role, quoted, sizeof quoted) == 0) {
        TUF_ERR(u->err, sizeof u->err, "role name too long");
        return NULL;
    }
    snprintf(local, sizeof local, "%s.json", quoted);
    if (load_local(u, local, u->cfg.targets_max, &b) == 0 &&
        pawl__tuf_update_targets(&u->ts, b.p, b.n, role, parent, u->err, sizeof u->err) == 0) {
        pawl__tuf_buf_free(&b);
        return pawl__tuf_trusted_role(&u->ts, role, parent);
    }
    pawl__tuf_buf_free(&b);
    u->err[0] = '\0';
    snprintf(fname, sizeof fname, "%.256s.json", role);
    if (!u->ts.has_snapshot || pawl__tuf_metafile(&u->ts.snapshot, fname, &m) != 0) {
        TUF_ERR(u->err, sizeof u->err, "%s: the snapshot does not list it", fname);
        return NULL;
    }
    if (consistent(u))
        snprintf(remote, sizeof remote, "%lld.%s", (long long)m.version, local);
    else
        snprintf(remote, sizeof remote, "%s", local);
    uint64_t max = m.length > 0 ? (uint64_t)m.length : u->cfg.targets_max;
    int rc = fetch_meta(u, remote, max, &b);
    if (rc == 0)
        rc = pawl__tuf_update_targets(&u->ts, b.p, b.n, role, parent, u->err, sizeof u->err);
    if (rc == 0)
        rc = save(u, local, &b);
    pawl__tuf_buf_free(&b);
    return rc == 0 ? pawl__tuf_trusted_role(&u->ts, role, parent) : NULL;
}

int pawl_tuf_refresh(struct pawl_tuf_updater *u)
{
    u->err[0] = '\0';
    u->refreshed = false;
    pawl__tuf_trusted_free(&u->ts);
    if (load_root(u) != 0 || update_root(u) != 0 || update_timestamp(u) != 0 ||
        update_snapshot(u) != 0 || load_targets(u, "targets", NULL) == NULL)
        return -1;
    u->refreshed = true;
    return 0;
}

/* ---- target lookup: pre-order depth-first over the delegations -------- */

struct visit {
    char *role;
    const struct tuf_md *parent;
};

struct walk {
    struct visit *stack;
    size_t n, cap;
    size_t first_child; /* where this role's children start on the stack */
    const struct tuf_md *parent;
    bool oom;
};

static int push_child(void *ctx, const char *role, bool terminating)
{
    struct walk *w = ctx;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct visit *s = realloc(w->stack, cap * sizeof *s);
        if (s == NULL) {
            w->oom = true;
            return 1;
        }
        w->stack = s;
        w->cap = cap;
    }
    char *r = strdup(role);
    if (r == NULL) {
        w->oom = true;
        return 1;
    }
    if (terminating) {
        /* Nothing after a terminating delegation is consulted: drop every
         * pending role, keep this role's children pushed so far. */
        for (size_t i = 0; i < w->first_child; i++)
            free(w->stack[i].role);
        memmove(w->stack, w->stack + w->first_child,
                (w->n - w->first_child) * sizeof *w->stack);
        w->n -= w->first_child;
        w->first_child = 0;
    }
    w->stack[w->n].role = r;
    w->stack[w->n].parent = w->parent;
    w->n++;
    return terminating ? 1 : 0;
}

static void reverse(struct visit *v, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        struct visit t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
}

static bool seen(char **visited, size_t n, const char *role)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(visited[i], role) == 0)
            return true;
    return false;
}

static int walk_targets(struct pawl_tuf_updater *u, const char *path, struct pawl_tuf_target *t)
{
    struct walk w = {0};
    char **visited = calloc(u->cfg.max_delegations, sizeof *visited);
    size_t nvisited = 0;
    int rc = PAWL_TUF_NOTFOUND;
    w.parent = NULL;
    if (visited == NULL || push_child(&w, "targets", false) != 0)
        rc = TUF_ERR(u->err, sizeof u->err, "out of memory");
    while (rc == PAWL_TUF_NOTFOUND && w.n > 0 && nvisited < u->cfg.max_delegations) {
        struct visit v = w.stack[--w.n];
        if (seen(visited, nvisited, v.role)) {
            free(v.role);
            continue;
        }
        struct tuf_md *md = load_targets(u, v.role, v.parent);
        if (md == NULL) {
            free(v.role);
            rc = -1;
            break;
        }
        if (pawl__tuf_target_info(md, path, t) == 0) {
            free(v.role);
            rc = 0;
            break;
        }
        visited[nvisited++] = v.role;
        w.first_child = w.n;
        w.parent = md;
        pawl__tuf_roles_for_target(md, path, push_child, &w);
        if (w.oom) {
            rc = TUF_ERR(u->err, sizeof u->err, "out of memory");
            break;
        }
        reverse(w.stack + w.first_child, w.n - w.first_child);
    }
    if (rc == PAWL_TUF_NOTFOUND)
        TUF_ERR(u->err, sizeof u->err, "target %s: no trusted role lists it%s", path,
                w.n > 0 ? " (delegation limit reached)" : "");
    for (size_t i = 0; i < w.n; i++)
        free(w.stack[i].role);
    free(w.stack);
    for (size_t i = 0; i < nvisited; i++)
        free(visited[i]);
    free(visited);
    return rc;
}

int pawl_tuf_find_target(struct pawl_tuf_updater *u, const char *path, struct pawl_tuf_target *t)
{
    if (!u->refreshed && pawl_tuf_refresh(u) != 0)
        return -1;
    u->err[0] = '\0';
    return walk_targets(u, path, t);
}

int pawl_tuf_top_targets(struct pawl_tuf_updater *u,
                         int (*fn)(void *ctx, const struct pawl_tuf_target *t), void *ctx,
                         bool *delegates)
{
    const char *path;
    json_t *tf;
    if (!u->refreshed || !u->ts.has_targets)
        return TUF_ERR(u->err, sizeof u->err, "no trusted targets: refresh first");
    *delegates = json_object_get(u->ts.targets.signed_, "delegations") != NULL;
    json_object_foreach(json_object_get(u->ts.targets.signed_, "targets"), path, tf)
    {
        struct pawl_tuf_target t;
        (void)tf;
        (void)pawl__tuf_target_info(&u->ts.targets, path, &t);
        int rc = fn(ctx, &t);
        if (rc != 0)
            return rc;
    }
    return 0;
}

const void *pawl_tuf_top_custom(const struct pawl_tuf_updater *u)
{
    if (!u->refreshed || !u->ts.has_targets)
        return NULL;
    return json_object_get(u->ts.targets.signed_, "custom");
}

/* ---- target download -------------------------------------------------- */

struct target_sink {
    struct tuf_hasher h;
    uint64_t max;
    pawl_tuf_sink_fn sink;
    void *sctx;
};

static int target_put(void *ctx, const uint8_t *p, size_t n)
{
    struct target_sink *ts = ctx;
    if (ts->h.total + n > ts->max)
        return -1;
    pawl__tuf_hasher_update(&ts->h, p, n);
    return ts->sink(ts->sctx, p, n);
}

/* Path bytes outside A-Z a-z 0-9 "_.-~/" percent-encoded, for a URL. */
static int url_path(const char *path, struct tuf_buf *b)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        bool safe = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-' ||
                    *p == '~' || *p == '/';
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (pawl__tuf_buf_put(b, safe ? (const char *)p : esc, safe ? 1 : 3) != 0)
            return -1;
    }
    return 0;
}

static int target_url(const struct pawl_tuf_updater *u, const struct pawl_tuf_target *t,
                      struct tuf_buf *b)
{
    const char *base = strrchr(t->path, '/');
    size_t dirlen = base ? (size_t)(base - t->path) + 1 : 0;
    base = base ? base + 1 : t->path;
    if (pawl__tuf_buf_put(b, u->targets_url, strlen(u->targets_url)) != 0)
        return -1;
    /* 5.7.3: with consistent snapshots, <dir>/<hash>.<name>. */
    if (consistent(u)) {
        char *dir = strndup(t->path, dirlen);
        int rc = dir == NULL || url_path(dir, b) != 0 ||
                 pawl__tuf_buf_put(b, t->hashes[0].hex, strlen(t->hashes[0].hex)) != 0 ||
                 pawl__tuf_buf_put(b, ".", 1) != 0 || url_path(base, b) != 0;
        free(dir);
        if (rc != 0)
            return -1;
    } else if (url_path(t->path, b) != 0) {
        return -1;
    }
    return pawl__tuf_buf_put(b, "", 1);
}

int pawl_tuf_fetch_target(struct pawl_tuf_updater *u, const struct pawl_tuf_target *t,
                          pawl_tuf_sink_fn sink, void *sctx)
{
    struct target_sink ts = {.max = t->length, .sink = sink, .sctx = sctx};
    struct tuf_buf url = {0};
    char ferr[256] = "";
    u->err[0] = '\0';
    if (u->targets_url == NULL)
        return TUF_ERR(u->err, sizeof u->err, "target %s: no targets URL configured", t->path);
    if (t->nhashes == 0)
        return TUF_ERR(u->err, sizeof u->err, "target %s: no hashes", t->path);
    if (pawl__tuf_hasher_init(&ts.h, t, u->err, sizeof u->err) != 0)
        return -1;
    if (target_url(u, t, &url) != 0) {
        pawl__tuf_buf_free(&url);
        return TUF_ERR(u->err, sizeof u->err, "target %s: out of memory", t->path);
    }
    int rc = u->f.fetch(u->f.ctx, (const char *)url.p, t->length, target_put, &ts, ferr,
                        sizeof ferr);
    if (rc != 0) {
        TUF_ERR(u->err, sizeof u->err, "%s: %s", (const char *)url.p,
                rc == PAWL_TUF_NOTFOUND ? "not found on the repository"
                : ferr[0]               ? ferr
                                        : "download failed or exceeded the target's length");
        rc = -1;
    } else {
        rc = pawl__tuf_hasher_finish(&ts.h, t, u->err, sizeof u->err);
    }
    pawl__tuf_buf_free(&url);
    return rc;
}

struct fd_sink {
    int fd;
};

static int fd_put(void *ctx, const uint8_t *p, size_t n)
{
    return pawl__write_all(((struct fd_sink *)ctx)->fd, p, n);
}

int pawl_tuf_download_target(struct pawl_tuf_updater *u, const struct pawl_tuf_target *t,
                             const char *dir, bool *cached)
{
    char quoted[4096], path[8192], tmp[4096], e[256];
    *cached = false;
    if (pawl_tuf_quote(t->path, quoted, sizeof quoted) == 0 ||
        (size_t)snprintf(path, sizeof path, "%s/%s", dir, quoted) >= sizeof path)
        return TUF_ERR(u->err, sizeof u->err, "target %s: path too long",
                       t->path);
    if (access(path, F_OK) == 0 && pawl_tuf_check_file(path, t, e, sizeof e) == 0) {
        *cached = true;
        return 0;
    }
    struct fd_sink s = {pawl__tuf_make_temp(dir, tmp, sizeof tmp)};
    if (s.fd < 0)
        return TUF_ERR(u->err, sizeof u->err, "%s: %s", dir,
                       strerror(errno));
    if (pawl_tuf_fetch_target(u, t, fd_put, &s) != 0) {
        close(s.fd);
        unlink(tmp);
        return -1;
    }
    if (pawl__tuf_commit_temp(s.fd, tmp, path, dir) != 0)
        return TUF_ERR(u->err, sizeof u->err, "%s: %s", path,
                       strerror(errno));
    return 0;
}
