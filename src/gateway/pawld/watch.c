/* watch.c: reload when a file pawld read changes (configuration, policy,
 * JWKS, grants, certificates, keys, CA bundles, CRLs), as if SIGHUP had
 * come. A thread of its own watches each file (inotify through libuv: a
 * write in place, and a replacement by rename as certificate tools and
 * editors do it, both touch the watched inode) and, once changes settle for
 * WATCH_SETTLE_MS, raises SIGHUP for the main thread, which reloads. After
 * every reload attempt the main thread asks it to watch the files anew (new
 * inodes, new names). Files are watched one by one rather than their
 * directories so that the audit log and event stream, written on every
 * request, wake nobody. A file that is missing (deleted, to be written
 * anew) cannot be watched: until it is back, a timer looks for it once a
 * second, and its return reloads as a change would. inotify follows a
 * symbolic link to the file it names, so a link repointed to another file
 * (certbot's live/ links, a Kubernetes ConfigMap's ..data) leaves the
 * watched file untouched: the same timer resolves every watched path once
 * a second, and a new target reloads. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pawld.h"

#define WATCH_MAX 64
#define WATCH_SETTLE_MS 300
#define WATCH_MISSING_MS 1000

struct pawld_watch {
    pthread_t tid;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t settle;
    struct pawld_server_state *srv;
    const char *config;
    uv_fs_event_t *files[WATCH_MAX];
    size_t nfiles;
    uv_timer_t poll;             /* missing files back, paths repointed */
    char *missing[WATCH_MAX];
    size_t nmissing;
    char *target[WATCH_MAX];     /* the file files[i]'s path named (realpath) when watched;
                                  * NULL: not resolved */
    atomic_bool stop;
};

static void on_settled(uv_timer_t *t)
{
    (void)t;
    kill(getpid(), SIGHUP); /* the main thread reloads; it logs what happened */
}

static void on_change(uv_fs_event_t *ev, const char *name, int events, int status)
{
    struct pawld_watch *wt = ev->loop->data;
    (void)name;
    (void)events;
    if (status == 0)
        uv_timer_start(&wt->settle, on_settled, WATCH_SETTLE_MS, 0);
}

static bool repointed(const struct pawld_watch *wt, size_t i)
{
    char path[PATH_MAX], now[PATH_MAX];
    size_t n = sizeof path;
    if (wt->target[i] == NULL || uv_fs_event_getpath(wt->files[i], path, &n) != 0)
        return false;
    return realpath(path, now) == NULL || strcmp(now, wt->target[i]) != 0;
}

static void on_poll(uv_timer_t *t)
{
    struct pawld_watch *wt = t->loop->data;
    bool changed = false;
    for (size_t i = 0; i < wt->nmissing && !changed; i++)
        changed = access(wt->missing[i], F_OK) == 0; /* back: reload, then watch it */
    for (size_t i = 0; i < wt->nfiles && !changed; i++)
        changed = repointed(wt, i);
    if (changed) { /* the reload's rewatch starts this timer again */
        uv_timer_stop(&wt->poll);
        uv_timer_start(&wt->settle, on_settled, WATCH_SETTLE_MS, 0);
    }
}


static void file_closed(uv_handle_t *h)
{
    free(h);
}

static void add_file(struct pawld_watch *wt, const char *path)
{
    uv_fs_event_t *ev;
    if (wt->nfiles == WATCH_MAX || (ev = malloc(sizeof *ev)) == NULL)
        return;
    uv_fs_event_init(&wt->loop, ev);
    if (uv_fs_event_start(ev, on_change, path, 0) != 0) {
        uv_close((uv_handle_t *)ev, file_closed); /* missing: the reload says so */
        if (wt->nmissing < WATCH_MAX && (wt->missing[wt->nmissing] = strdup(path)) != NULL)
            wt->nmissing++;
        return;
    }
    char real[PATH_MAX]; /* the file it names now, for on_poll */
    wt->target[wt->nfiles] = realpath(path, real) != NULL ? strdup(real) : NULL;
    wt->files[wt->nfiles++] = ev;
}

static void add_each(void *ctx, const char *path)
{
    add_file(ctx, path);
}

static void forget_missing(struct pawld_watch *wt)
{
    uv_timer_stop(&wt->poll);
    for (size_t i = 0; i < wt->nmissing; i++)
        free(wt->missing[i]);
    wt->nmissing = 0;
}

/* Watches the files of the current world, replacing the previous set. */
static void rewatch(uv_async_t *a)
{
    struct pawld_watch *wt = a->data;
    for (size_t i = 0; i < wt->nfiles; i++) {
        uv_close((uv_handle_t *)wt->files[i], file_closed);
        free(wt->target[i]);
    }
    wt->nfiles = 0;
    forget_missing(wt);
    if (atomic_load(&wt->stop)) {
        uv_close((uv_handle_t *)&wt->wake, NULL);
        uv_close((uv_handle_t *)&wt->settle, NULL);
        uv_close((uv_handle_t *)&wt->poll, NULL);
        return;
    }
    add_file(wt, wt->config);
    /* the running configuration's files, and those of a configuration the
     * last reload refused: a file it names that is missing or broken is
     * watched too, so that writing it reloads (review: only a SIGHUP did) */
    pthread_mutex_lock(&wt->srv->lock);
    pawld_config_each_file(wt->srv->world->cfg, wt->srv->world->dir, add_each, wt);
    if (wt->srv->refused_cfg != NULL)
        pawld_config_each_file(wt->srv->refused_cfg, wt->srv->refused_dir, add_each, wt);
    pthread_mutex_unlock(&wt->srv->lock);
    if (wt->nmissing > 0 || wt->nfiles > 0)
        uv_timer_start(&wt->poll, on_poll, WATCH_MISSING_MS, WATCH_MISSING_MS);
}

static void *run(void *arg)
{
    struct pawld_watch *wt = arg;
    uv_run(&wt->loop, UV_RUN_DEFAULT);
    return NULL;
}

struct pawld_watch *pawld_watch_start(struct pawld_server_state *srv, const char *config)
{
    struct pawld_watch *wt = calloc(1, sizeof *wt);
    if (wt == NULL || uv_loop_init(&wt->loop) != 0) {
        free(wt);
        return NULL;
    }
    wt->srv = srv;
    wt->config = config;
    wt->loop.data = wt;
    uv_async_init(&wt->loop, &wt->wake, rewatch);
    wt->wake.data = wt;
    uv_timer_init(&wt->loop, &wt->settle);
    uv_timer_init(&wt->loop, &wt->poll);
    rewatch(&wt->wake);
    if (pthread_create(&wt->tid, NULL, run, wt) != 0) {
        free(wt); /* the loop is abandoned with the process */
        return NULL;
    }
    return wt;
}

void pawld_watch_update(struct pawld_watch *wt)
{
    if (wt)
        uv_async_send(&wt->wake);
}

void pawld_watch_stop(struct pawld_watch *wt)
{
    if (wt == NULL)
        return;
    atomic_store(&wt->stop, true);
    uv_async_send(&wt->wake);
    pthread_join(wt->tid, NULL);
    uv_loop_close(&wt->loop);
    free(wt);
}
