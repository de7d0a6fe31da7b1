/* worker.c: one event loop per core: its listening sockets, its engine, its
 * upstream pools; switching to a reloaded world; draining on SIGTERM. */
#define _GNU_SOURCE /* SO_REUSEPORT, SOCK_NONBLOCK */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "pawl/ratelimit.h"
#include "blocks.h"
#include "pawld.h"

#define DRAIN_MAX_MS 30000 /* a draining worker closes what is left after this */

/* After a burst (10,000 requests at once), freed buffers would stay with
 * the process. Worker 0 hands free memory back once the whole process is
 * nearly quiet: fewer than QUIET client reads and connections freed in the
 * last second, and some since the last trim. malloc_trim walks every
 * thread's heap, holding each while it does, and took 0.1 to 1.6 ms a call
 * on the bench's VM: done every second regardless (as it was until
 * 2026-12-07), it stalled busy workers and made them fault the pages in
 * again. */
#define QUIET 100
static void trim(struct pawld_worker *w)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < w->srv->nworkers; i++)
        sum += atomic_load_explicit(&w->srv->workers[i].activity, memory_order_relaxed);
    if (sum - w->trim_seen < QUIET && sum != w->trim_done) {
        malloc_trim(0);
        w->trim_done = sum;
    }
    w->trim_seen = sum;
}

static void catch_up(struct pawld_worker *w);

/* Once a second: a worker left on an old world tries again; worker 0 also
 * trims and ticks the audit trail. */
static void each_second(uv_timer_t *t)
{
    struct pawld_worker *w = t->data;
    char why[700];
    if ((w->stale || w->rl_seed_gen != atomic_load(&w->srv->rl_seed_gen)) && !w->draining)
        catch_up(w);
    if (w->redis_npending > 0) /* tokens whose attempt was lost: usable again */
        (void)pawld_redis_release(w, why, sizeof why);
    if (w->id != 0)
        return;
    trim(w);
    pawld_sinks_tick(w->sinks);
}

static bool shared_check(void *ctx, const struct pawl_rl_check *c, unsigned n, int64_t now_us,
                         int64_t *retry_after_us, unsigned *which)
{
    struct pawld_server_state *srv = ctx;
    pthread_mutex_lock(&srv->rl_lock);
    bool ok = pawl_ratelimit_check(srv->rl, c, n, now_us, retry_after_us, which);
    if (ok && srv->rl_sharing) /* rate_limits.redis: told to the other instances */
        srv->rl_unjournalled += pawl_rl_journal_add(srv->rl_journal, c, n, now_us);
    pthread_mutex_unlock(&srv->rl_lock);
    return ok;
}

/* An engine for world wd, checking rate limits on the shared limiter with
 * its seed of now (rate_limits.redis may change it); *gen: the seed's. */
static pawl_err new_engine(struct pawld_worker *w, const struct pawld_world *wd, struct pawl_engine **e,
                           unsigned *gen)
{
    struct pawld_server_state *srv = w->srv;
    pthread_mutex_lock(&srv->rl_lock);
    struct pawl_rl_backend b = srv->rl_backend;
    *gen = atomic_load(&srv->rl_seed_gen);
    pthread_mutex_unlock(&srv->rl_lock);
    return pawl_engine_new_shared(wd->policy, wd->jwks, wd->grants, srv->twin, &b, e);
}

/* Rate limits hold for the whole process, not per worker: one limiter
 * behind a lock (a check is one bucket probe per limit, well under a
 * microsecond), kept across reloads so that a reload forgives nobody. */
int pawld_ratelimit_init(struct pawld_server_state *srv, size_t max_keys)
{
    if (pawl_ratelimit_new(max_keys, &srv->rl) != PAWL_OK ||
        RAND_bytes((unsigned char *)&srv->rl_backend.seed, sizeof srv->rl_backend.seed) != 1)
        return -1;
    pthread_mutex_init(&srv->rl_lock, NULL);
    srv->rl_backend.check = shared_check;
    srv->rl_backend.ctx = srv;
    return 0;
}

/* A socket bound to l's address, SO_REUSEPORT when shared; -1 with errno. */
static int bound_socket(const struct pawld_listener *l, bool shared)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    bool v6 = strchr(l->host, ':') != NULL;
    int r = v6 ? uv_ip6_addr(l->host, l->port, (struct sockaddr_in6 *)&ss)
               : uv_ip4_addr(l->host, l->port, (struct sockaddr_in *)&ss);
    socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int one = 1, v6only = l->v6only, fd = -1;
    if (r != 0)
        errno = EINVAL;
    else
        fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) ||
                    (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
                    bind(fd, (struct sockaddr *)&ss, len) != 0)) {
        int e = errno;
        close(fd);
        errno = e;
        fd = -1;
    }
    return fd;
}

/* Each worker binds its own socket with SO_REUSEPORT, and the kernel
 * spreads connections over them. The same option would let a second
 * process of the same user bind the port too and silently take a share of
 * the connections (a pawld left running with an older policy, say); so the
 * first worker first binds without it, and a port in use is an error. */
static int listen_socket(const struct pawld_listener *l, bool first, char *err, size_t errlen)
{
    int fd = -1;
    for (int shared = first ? 0 : 1; shared <= 1; shared++) {
        if ((fd = bound_socket(l, shared)) < 0) {
            bool used = errno == EADDRINUSE;
            snprintf(err, errlen, "listener %s: cannot listen on %s:%d: %s%s", l->name, l->host, l->port,
                     strerror(errno),
                     used ? " (another process, or another listener of this configuration, listens there)"
                          : "");
            return -1;
        }
        if (!shared)
            close(fd); /* free: now the workers' shared sockets */
    }
    return fd;
}

int pawld_listener_probe(const struct pawld_listener *l, int *keep)
{
    int fd = bound_socket(l, false);
    if (fd < 0)
        return errno;
    if (keep == NULL) {
        close(fd);
        return 0;
    }
    /* held as pawld holds it: listening (with SO_REUSEADDR, Linux lets two
     * sockets bind overlapping addresses until one of them listens) */
    if (listen(fd, 1) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    *keep = fd;
    return 0;
}

static void refused_closed(uv_handle_t *h)
{
    free(h);
}

/* Over max_connections: the connection is taken off the backlog and closed
 * at once, so a flood of idle sockets cannot exhaust the process's files. */
static void refuse_connection(struct pawld_worker *w, uv_stream_t *server)
{
    uv_tcp_t *t = malloc(sizeof *t);
    if (t == NULL || uv_tcp_init(server->loop, t) != 0) {
        free(t);
        return;
    }
    (void)uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, refused_closed);
    pthread_mutex_lock(&w->metrics_lock);
    w->metrics.connections_refused++;
    pthread_mutex_unlock(&w->metrics_lock);
}

#define ADMIN_RESERVE 16

static void on_connection(uv_stream_t *server, int status)
{
    struct pawld_worker *w = server->loop->data;
    if (status < 0 || w->draining)
        return;
    size_t l = (size_t)(uintptr_t)server->data;
    /* the admin listener has a few more, so that clients holding every
     * connection cannot fail the health probes (review) */
    unsigned reserve = w->world->cfg->listeners[l].mode == PAWLD_ADMIN ? ADMIN_RESERVE : 0;
    if (w->conns >= w->world->cfg->max_connections + reserve) {
        refuse_connection(w, server);
        return;
    }
    pawld_conn_accept(w, l, server);
}

static void drain_done(uv_handle_t *h)
{
    (void)h;
}

/* End of every loop iteration: this iteration's decisions are written
 * (one write per sink), then the output they allowed is released. */
static void on_commit(uv_check_t *h)
{
    struct pawld_worker *w = h->data;
    if (w->batch.nrec == 0 && w->nheld == 0)
        return;
    size_t nrec = w->batch.nrec;
    bool ok = pawld_sinks_commit(w->sinks, &w->batch) == 0;
    if (!ok) {
        pthread_mutex_lock(&w->metrics_lock);
        w->metrics.unrecorded += nrec;
        pthread_mutex_unlock(&w->metrics_lock);
    }
    size_t n = w->nheld;
    w->nheld = 0; /* the batch is empty now: releasing holds nothing new */
    for (size_t i = 0; i < n; i++)
        pawld_conn_commit(w->held[i], ok);
}

void pawld_worker_conn_gone(struct pawld_worker *w)
{
    if (w->draining && w->conns == 0 && !uv_is_closing((uv_handle_t *)&w->drain_timer)) {
        on_commit(&w->commit);
        uv_close((uv_handle_t *)&w->drain_timer, drain_done);
        pthread_mutex_lock(&w->inbox_lock); /* the link posts no more */
        w->inbox_closed = true;
        pthread_mutex_unlock(&w->inbox_lock);
        uv_close((uv_handle_t *)&w->wake, NULL);
        uv_close((uv_handle_t *)&w->commit, drain_done);
        uv_close((uv_handle_t *)&w->trim, drain_done);
        uv_close((uv_handle_t *)&w->resume_idle, drain_done);
    }
}

static void drain_deadline(uv_timer_t *t)
{
    struct pawld_worker *w = t->data;
    for (struct pawld_conn *c = w->conn_list; c; c = c->next)
        pawld_conn_close(c);
}

/* Stops accepting; idle connections close now, busy ones after their
 * answer (which then says Connection: close), and so do idle upstream
 * connections; a request whose head was on its way is still served, on a
 * connection of its own if need be (review: it got 502 once the pools were
 * gone, and its record said allowed). */
static void drain(struct pawld_worker *w)
{
    w->draining = true;
    for (size_t i = 0; i < w->nlisteners; i++)
        uv_close((uv_handle_t *)&w->listeners[i], NULL);
    pawld_pools_close_idle(w->pools, w->world);
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_timer_start(&w->drain_timer, drain_deadline, DRAIN_MAX_MS, 0);
    for (struct pawld_conn *c = w->conn_list, *next; c; c = next) {
        next = c->next;
        if (c->state == PAWLD_C_HEAD && !c->head_timing && c->in.len == 0)
            pawld_conn_close(c);
    }
    pawld_worker_conn_gone(w);
}

static bool same_routes(const struct pawld_world *a, const struct pawld_world *b)
{
    if (a->policy->nroutes != b->policy->nroutes)
        return false;
    for (size_t i = 0; i < a->policy->nroutes; i++)
        if (strcmp(a->route_ids[i], b->route_ids[i]) != 0)
            return false;
    return true;
}

/* Route i of a as its index in b (by id), -1 when b has no such route;
 * NULL when memory is short. */
static long *route_map(const struct pawld_world *a, const struct pawld_world *b)
{
    long *map = malloc((a->policy->nroutes ? a->policy->nroutes : 1) * sizeof *map);
    for (size_t i = 0; map != NULL && i < a->policy->nroutes; i++) {
        map[i] = -1;
        for (size_t j = 0; j < b->policy->nroutes && map[i] < 0; j++)
            if (strcmp(a->route_ids[i], b->route_ids[j]) == 0)
                map[i] = (long)j;
    }
    return map;
}

/* e in place of the worker's engine (built with the seed of generation
 * gen), the token cache's counts of the one it replaces kept. */
static void replace_engine(struct pawld_worker *w, struct pawl_engine *e, unsigned gen)
{
    struct pawl_jwt_stats st;
    pawl_engine_jwt_stats(w->engine, &st);
    pthread_mutex_lock(&w->metrics_lock);
    w->jwt_base.hits += st.hits;
    w->jwt_base.misses += st.misses;
    pthread_mutex_unlock(&w->metrics_lock);
    pawl_engine_free(w->engine);
    w->engine = e;
    w->rl_seed_gen = gen;
}

/* Switches to the newest world between requests: new engine (rate-limit
 * state starts afresh), new pools; idle connections move to it (the others
 * when their request is done: pawld_conn_finish). */
static void switch_world(struct pawld_worker *w, struct pawld_world *nw)
{
    struct pawl_engine *e;
    struct pawld_pool *pools = pawld_pools_new(nw);
    unsigned gen;
    if (pools == NULL || new_engine(w, nw, &e, &gen) != PAWL_OK) {
        free(pools);
        if (!w->stale) /* its old keys, grants and rules must not decide: refused until it switches */
            pawld_log(w->sinks, "error", "\"msg\":\"reload failed in a worker: out of memory; "
                      "it refuses every request (503) and tries again each second\",\"worker\":%u", w->id);
        w->stale = true;
        pawld_world_unref(nw);
        return;
    }
    if (w->stale)
        pawld_log(w->sinks, "info", "\"msg\":\"a worker switched to the reloaded configuration\","
                  "\"worker\":%u", w->id);
    w->stale = false;
    pthread_mutex_lock(&w->metrics_lock);
    struct pawld_metrics fresh;
    bool same = same_routes(w->world, nw);
    long *map = same ? NULL : route_map(w->world, nw);
    if (!same && pawld_metrics_init(&fresh, nw->policy->nroutes) == PAWL_OK) {
        pawld_metrics_carry(&fresh, &w->metrics, map); /* no counter goes back (review) */
        pawld_metrics_free(&w->metrics);
        w->metrics = fresh;
    }
    pthread_mutex_unlock(&w->metrics_lock);
    /* requests decided before: counted under their route's new index (a
     * timeout after the decision was counted under another route: review) */
    for (struct pawld_conn *c = w->conn_list; c && !same; c = c->next)
        if (c->route >= 0)
            c->route = map && (size_t)c->route < w->world->policy->nroutes ? map[c->route] : -1;
    free(map);
    replace_engine(w, e, gen);
    pawld_pools_free(w->pools, w->world);
    pawld_world_unref(w->world);
    w->pools = pools;
    w->world = nw;
    for (struct pawld_conn *c = w->conn_list; c; c = c->next)
        pawld_conn_repin(c);
}

void pawld_worker_post(struct pawld_worker *w, struct pawld_vresult *r)
{
    pthread_mutex_lock(&w->inbox_lock);
    bool open = !w->inbox_closed;
    if (open) {
        r->next = w->inbox;
        w->inbox = r;
        uv_async_send(&w->wake);
    }
    pthread_mutex_unlock(&w->inbox_lock);
    if (!open)
        free(r);
}

/* Vehicle results for connections of this worker that still wait. */
static void take_inbox(struct pawld_worker *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    struct pawld_vresult *r = w->inbox;
    w->inbox = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    while (r != NULL) {
        struct pawld_vresult *next = r->next;
        for (struct pawld_conn *c = w->conn_list; c; c = c->next)
            if (c->vehicle_wait && c->vehicle_id == r->id) {
                pawld_vehicle_result(c, r);
                break;
            }
        free(r);
        r = next;
    }
}

/* rate_limits.redis brought the shared seed: an engine that derives the
 * keys from it, for the same world (tried again each second on failure). */
static void reseed(struct pawld_worker *w)
{
    struct pawl_engine *e;
    unsigned gen;
    if (new_engine(w, w->world, &e, &gen) == PAWL_OK)
        replace_engine(w, e, gen);
}

/* To the server's newest world, if this worker is not on it; else to a new
 * rate-limit seed, if there is one. */
static void catch_up(struct pawld_worker *w)
{
    struct pawld_server_state *srv = w->srv;
    pthread_mutex_lock(&srv->lock);
    struct pawld_world *nw = srv->world;
    if (nw != w->world)
        pawld_world_ref(nw);
    pthread_mutex_unlock(&srv->lock);
    if (nw != w->world)
        switch_world(w, nw);
    else if (w->rl_seed_gen != atomic_load(&srv->rl_seed_gen))
        reseed(w);
}

static void on_wake(uv_async_t *a)
{
    struct pawld_worker *w = a->data;
    take_inbox(w);
    if (w->draining)
        return;
    catch_up(w);
    if (atomic_load(&w->srv->draining))
        drain(w);
}

/* Only the workers set up so far: rate_limits.redis's thread may wake them
 * while start() is still making them (review 14: a crash). */
void pawld_workers_wake(struct pawld_server_state *srv)
{
    for (unsigned i = 0, n = atomic_load(&srv->started); i < n; i++)
        uv_async_send(&srv->workers[i].wake);
}

static void *run(void *arg)
{
    struct pawld_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    pawld_pools_free(w->pools, w->world); /* none idle: nothing pooled while draining */
    w->pools = NULL;
    if (w->redis_npending > 0) { /* once more before going: tokens lost attempts hold (review) */
        char why[700];
        w->redis.retry_ms = 0;
        (void)pawld_redis_release(w, why, sizeof why);
    }
    pawld_redis_close(w);
    pthread_mutex_lock(&w->inbox_lock); /* results that came after the last connection */
    w->inbox_closed = true;
    for (struct pawld_vresult *r = w->inbox, *next; r; r = next) {
        next = r->next;
        free(r);
    }
    w->inbox = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    pawl_gw_blocks_release(); /* the connections are gone: their spare buffers too */
    return NULL;
}

static int open_listeners(struct pawld_worker *w, char *err, size_t errlen)
{
    const struct pawld_config *cfg = w->world->cfg;
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        int fd = listen_socket(&cfg->listeners[i], w->id == 0, err, errlen);
        if (fd < 0)
            return -1;
        uv_tcp_init(&w->loop, &w->listeners[i]);
        w->listeners[i].data = (void *)(uintptr_t)i;
        w->nlisteners = i + 1;
        if (uv_tcp_open(&w->listeners[i], fd) != 0 ||
            uv_listen((uv_stream_t *)&w->listeners[i], 1024, on_connection) != 0) {
            snprintf(err, errlen, "listener %s: cannot listen", cfg->listeners[i].name);
            return -1;
        }
    }
    return 0;
}

int pawld_worker_start(struct pawld_worker *w, struct pawld_server_state *srv, char *err,
                       size_t errlen)
{
    w->srv = srv;
    w->sinks = srv->sinks;
    w->world = srv->world;
    pawld_world_ref(w->world);
    pthread_mutex_init(&w->metrics_lock, NULL);
    pthread_mutex_init(&w->inbox_lock, NULL);
    if (uv_loop_init(&w->loop) != 0 || uv_async_init(&w->loop, &w->wake, on_wake) != 0) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    w->loop.data = w;
    w->wake.data = w;
    if (pawld_batch_init(&w->batch) != 0 || uv_check_init(&w->loop, &w->commit) != 0 ||
        uv_check_start(&w->commit, on_commit) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->commit.data = w;
    uv_idle_init(&w->loop, &w->resume_idle);
    w->resume_idle.data = w;
    uv_timer_init(&w->loop, &w->trim);
    w->trim.data = w;
    uv_timer_start(&w->trim, each_second, 1000, 1000); /* worker 0's trim and tick serve all */
    uv_unref((uv_handle_t *)&w->trim); /* it never keeps a draining loop alive */
    if (pawld_redis_open(w) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (new_engine(w, w->world, &w->engine, &w->rl_seed_gen) != PAWL_OK ||
        (w->pools = pawld_pools_new(w->world)) == NULL ||
        pawld_metrics_init(&w->metrics, w->world->policy->nroutes) != PAWL_OK) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (open_listeners(w, err, errlen) != 0)
        return -1;
    if (pthread_create(&w->tid, NULL, run, w) != 0) {
        snprintf(err, errlen, "cannot start a worker thread");
        return -1;
    }
    return 0;
}
