/* pawld: the inline gateway. See docs/gateway.md.
 *
 *   pawld --config FILE [--check]
 *
 * The main thread loads the configuration, starts the workers and then
 * waits for signals: SIGHUP reloads (configuration, policy, JWKS, grants,
 * certificates, keys, CA bundles and CRLs) without dropping connections,
 * SIGTERM and SIGINT drain (stop accepting, finish in-flight requests,
 * exit). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <libgen.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "audit_log.h"
#include "host.h"
#include "pawl/edge_host.h"
#include "pawl/ratelimit.h"
#include "pawl/twin.h"
#include "pawld.h"
#include "vault.h"

static const char usage_text[] =
    "usage: pawld --config FILE [--check] | --version\n"
    "  --config FILE  the YAML configuration (docs/gateway.md)\n"
    "  --check        validate the configuration and everything it names, then exit\n"
    "  --version      print the version and exit\n"
    "Signals: SIGHUP reloads, SIGTERM drains and exits (SIGUSR1 saves detect.state).\n"
    "Exit codes: 0 ok, 1 invalid configuration or start-up failure, 2 usage.\n";

static const char *mode_name(enum pawld_mode m)
{
    return m == PAWLD_PROXY ? "proxy" : m == PAWLD_AUTHZ ? "authz" : "admin";
}

/* Listeners cannot move on a reload: their sockets are bound once. */
static bool same_listeners(const struct pawld_config *a, const struct pawld_config *b)
{
    if (a->nlisteners != b->nlisteners)
        return false;
    for (size_t i = 0; i < a->nlisteners; i++) {
        const struct pawld_listener *x = &a->listeners[i], *y = &b->listeners[i];
        if (strcmp(x->host, y->host) != 0 || x->port != y->port || x->v6only != y->v6only ||
            x->mode != y->mode || x->tls_on != y->tls_on)
            return false;
    }
    return true;
}

bool pawld_same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A key pawld reads only at start that the new configuration changes, or
 * NULL. Such a reload is refused whole (review finding: a reload that added
 * vehicle_link applied its routes without starting the link, and changed
 * logs.* or watch were ignored without a word). */
static const char *start_only_changed(const struct pawld_config *a, const struct pawld_config *b)
{
    const struct pawld_link *x = &a->link, *y = &b->link;
    if (a->workers != b->workers)
        return "workers";
    if (a->watch != b->watch)
        return "watch";
    if (!pawld_same_str(a->log_json, b->log_json) || !pawld_same_str(a->ocsf, b->ocsf))
        return !pawld_same_str(a->log_json, b->log_json) ? "logs.json" : "logs.ocsf";
    if (!pawld_same_str(a->audit, b->audit) || !pawld_same_str(a->audit_key, b->audit_key))
        return !pawld_same_str(a->audit, b->audit) ? "logs.audit" : "logs.audit_key";
    if (a->audit_sync_ms != b->audit_sync_ms)
        return "logs.audit_sync";
    if (!pawld_redis_same(&a->step_up_redis, &b->step_up_redis))
        return "step_up.redis";
    if (!pawld_redis_same(&a->rl_redis, &b->rl_redis) || a->rl_sync_ms != b->rl_sync_ms)
        return "rate_limits";
    if (!pawld_redis_same(&a->detect.redis, &b->detect.redis) || a->detect.windows != b->detect.windows)
        return "detect.redis";
    if (x->on != y->on || strcmp(x->host, y->host) != 0 || x->port != y->port ||
        !pawld_same_str(x->ca, y->ca) || !pawld_same_str(x->cert, y->cert) || !pawld_same_str(x->key, y->key))
        return "vehicle_link (broker, ca, cert, key)";
    return NULL;
}

static void raise_file_limit(struct pawld_server_state *srv);

static void reload(struct pawld_server_state *srv, const char *config, uint64_t *gen)
{
    char err[2048];
    struct pawld_world *nw = pawld_world_load(config, *gen + 1, err, sizeof err);
    char dir[4096];
    struct pawld_config *refused = nw == NULL ? pawld_config_read(config, dir, sizeof dir) : NULL;
    pthread_mutex_lock(&srv->lock); /* the watch thread reads it */
    pawld_config_free(srv->refused_cfg);
    srv->refused_cfg = refused;
    if (refused != NULL)
        memcpy(srv->refused_dir, dir, sizeof dir);
    pthread_mutex_unlock(&srv->lock);
    if (nw == NULL) {
        atomic_fetch_add(&srv->reloads_refused, 1);
        pawld_log(srv->sinks, "error", "\"msg\":\"reload refused; still serving the previous configuration\",\"why\":\"%s\"",
                  pawld_json_escape(err, err, sizeof err));
        return;
    }
    if (!same_listeners(srv->world->cfg, nw->cfg)) {
        atomic_fetch_add(&srv->reloads_refused, 1);
        pawld_log(srv->sinks, "error", "\"msg\":\"reload refused: listeners changed (restart pawld to change them)\"");
        pawld_world_unref(nw);
        return;
    }
    const char *fixed = start_only_changed(srv->world->cfg, nw->cfg);
    if (fixed != NULL) {
        atomic_fetch_add(&srv->reloads_refused, 1);
        pawld_log(srv->sinks, "error", "\"msg\":\"reload refused: %s changed; it is read at start "
                  "(restart pawld to change it); still serving the previous configuration\"", fixed);
        pawld_world_unref(nw);
        return;
    }
    const struct pawld_detect_config *was = &srv->world->cfg->detect, *now = &nw->cfg->detect;
    bool changed[4] = { (srv->world->cfg->findings == NULL) != (nw->cfg->findings == NULL),
                        !pawld_same_str(was->state, now->state),
                        !pawld_same_str(srv->world->cfg->step_up_state, nw->cfg->step_up_state),
                        was->max_blocks != now->max_blocks };
    static const char *const names[4] = { "logs.findings", "detect.state", "step_up.state",
                                          "detect.max_blocks" };
    char kept[128] = ""; /* the keys that changed, of those read at start only */
    for (size_t i = 0, o = 0; i < 4; i++)
        if (changed[i])
            o += (size_t)snprintf(kept + o, sizeof kept - o, ", %s", names[i]);
    if (kept[0] != '\0')
        pawld_log(srv->sinks, "warn", "\"msg\":\"%s: read at start only: the running values stay "
                  "until pawld restarts\"", kept + 2);
    pawld_warn_cert_dates(nw, srv->sinks, NULL, (int64_t)time(NULL)); /* a renewed one is quiet */
    *gen += 1;
    atomic_fetch_add(&srv->reloads_ok, 1);
    pthread_mutex_lock(&srv->lock);
    struct pawld_world *old = srv->world;
    srv->world = nw;
    pthread_mutex_unlock(&srv->lock);
    pawld_detect_world(srv, nw);
    if (nw->cfg->max_connections > old->cfg->max_connections) /* review: the limit stayed */
        raise_file_limit(srv);
    pawld_world_unref(old);
    pawld_workers_wake(srv);
    pawld_log(srv->sinks, "info", "\"msg\":\"reloaded\",\"generation\":%llu,\"routes\":%zu",
              (unsigned long long)*gen, nw->policy->nroutes);
}

static int serve(struct pawld_server_state *srv, const char *config, sigset_t *sigs)
{
    uint64_t gen = srv->world->generation;
    struct pawld_watch *wt = srv->world->cfg->watch ? pawld_watch_start(srv, config) : NULL;
    for (size_t i = 0; i < srv->world->cfg->nlisteners; i++) {
        const struct pawld_listener *l = &srv->world->cfg->listeners[i];
        pawld_log(srv->sinks, "info", "\"msg\":\"listening\",\"listener\":\"%s\",\"address\":\"%s\",\"port\":%d,\"mode\":\"%s\",\"tls\":%s",
                  l->name, l->host, l->port, mode_name(l->mode), l->tls_on ? "true" : "false");
    }
    atomic_store(&srv->ready, true);
    pawld_log(srv->sinks, "info", "\"msg\":\"ready\",\"workers\":%u", srv->nworkers);
    for (;;) {
        struct timespec minute = {60, 0};
        int sig = sigtimedwait(sigs, NULL, &minute);
        if (sig < 0 || sig == SIGUSR1) { /* a minute went by, or a block was set: detect.state */
            pawld_detect_save(srv);
            continue;
        }
        if (sig == SIGHUP) {
            reload(srv, config, &gen);
            pawld_watch_update(wt);
            pawld_detect_save(srv);
            continue;
        }
        pawld_watch_stop(wt);
        pawld_log(srv->sinks, "info", "\"msg\":\"draining\",\"signal\":\"%s\"", sig == SIGTERM ? "TERM" : "INT");
        atomic_store(&srv->ready, false);
        atomic_store(&srv->draining, true);
        pawld_workers_wake(srv);
        return 0;
    }
}

static unsigned worker_count(const struct pawld_config *cfg)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg->workers > 0)
        return cfg->workers;
    return n < 1 ? 1 : n > PAWLD_MAX_WORKERS ? PAWLD_MAX_WORKERS : (unsigned)n;
}

/* Each client connection may hold an upstream connection too: the open-file
 * limit pawld raises itself to (up to the hard limit, as nginx's
 * worker_rlimit_nofile does), and says so when even that is short (review
 * finding: with max_connections 20000 and a limit of 64, 80 idle clients
 * made /readyz fail). */
static void raise_file_limit(struct pawld_server_state *srv)
{
    struct rlimit r;
    rlim_t want = (rlim_t)srv->nworkers * srv->world->cfg->max_connections * 2 + 1024;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= want)
        return;
    rlim_t was = r.rlim_cur;
    r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max > want ? want : r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0)
        r.rlim_cur = was;
    if (r.rlim_cur < want)
        pawld_log(srv->sinks, "warn", "\"msg\":\"the open-file limit is short of what max_connections asks "
                  "for: new connections will fail before it is reached\",\"limit\":%llu,\"wanted\":%llu,"
                  "\"workers\":%u,\"max_connections\":%u", (unsigned long long)r.rlim_cur,
                  (unsigned long long)want, srv->nworkers, srv->world->cfg->max_connections);
}

/* What a security gateway should not run without, said at start (to the
 * log, sinks set) and by --check (to stdout, naming config): a user review
 * found pawld running with no audit trail, unsaid. */
static void warn_setup(const struct pawld_world *w, struct pawld_sinks *sinks, const char *config)
{
    const struct pawld_config *c = w->cfg;
    const char *say[4] = { NULL, NULL, NULL, NULL };
    char key[4200];
    struct stat st;
    for (size_t i = 0; i < w->policy->nroutes && c->step_up_trust_dir == NULL; i++)
        if (w->policy->routes[i].step_up)
            say[3] = "the policy has step-up routes and there is no step_up: section: every request "
                     "to them is refused (428)";
    if (c->audit == NULL)
        say[0] = "no logs.audit: decisions are not kept in a tamper-evident audit trail";
    if (c->jwks == NULL)
        say[1] = "no jwks: no bearer token verifies, only client certificates identify callers";
    if (c->audit_key != NULL && !pawl_vault_is_uri(c->audit_key) &&
        stat(pawld_path(w->dir, c->audit_key, key, sizeof key), &st) == 0 && (st.st_mode & 077) != 0)
        say[2] = "logs.audit_key can be read by other users than its owner (chmod 600 it): whoever "
                 "reads it can sign a forged audit trail";
    for (size_t i = 0; i < 4; i++)
        if (say[i] != NULL)
            pawld_warn(sinks, config, say[i]);
    char why[800], msg[1000];
    if (c->step_up_redis.on && pawld_redis_probe(w, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "step_up.redis: %s: step-up requests are refused (503) until it "
                 "answers", why);
        pawld_warn(sinks, config, msg);
    }
    if (c->detect.redis.on && c->findings != NULL && pawld_blocks_share_probe(w, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "detect.redis: %s: each pawld instance holds only the blocks its own "
                 "detectors set until it answers", why);
        pawld_warn(sinks, config, msg);
    }
    if (c->rl_redis.on && pawld_rl_share_probe(w, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "rate_limits.redis: %s", why);
        pawld_warn(sinks, config, msg);
    }
    pawld_warn_cert_dates(w, sinks, config, (int64_t)time(NULL));
}

static int start(struct pawld_server_state *srv, const char *config)
{
    char err[2048];
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1); /* from the detectors: a block changed, save detect.state now */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* the workers inherit the mask: only main waits */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit fails the write (EFBIG), handled as a full disk */
    if ((srv->sinks = pawld_sinks_open(srv->world->cfg, srv->world->dir, err, sizeof err)) == NULL) {
        fprintf(stderr, "pawld: %s\n", err);
        return 1;
    }
    if (pawl_twin_new(srv->world->policy->twin_max_vehicles, &srv->twin) != PAWL_OK) {
        fprintf(stderr, "pawld: out of memory for the twin\n");
        return 1;
    }
    pthread_rwlock_init(&srv->twin_lock, NULL);
    if (srv->world->cfg->link.on && pawld_link_start(srv, err, sizeof err) != 0) {
        fprintf(stderr, "pawld: vehicle_link: %s\n", err);
        return 1;
    }
    warn_setup(srv->world, srv->sinks, config);
    if (pawld_replay_file_open(srv, srv->world, false, err, sizeof err) != 0) {
        fprintf(stderr, "pawld: %s\n", err);
        return 1;
    }
    if (pawld_detect_start(srv, err, sizeof err) != 0 || pawld_blocks_share_start(srv, err, sizeof err) != 0) {
        fprintf(stderr, "pawld: %s\n", err);
        return 1;
    }
    if (pawld_ratelimit_init(srv, srv->world->policy->rl_max_keys) != 0) {
        fprintf(stderr, "pawld: out of memory for the rate limiter\n");
        return 1;
    }
    if (pawld_rl_share_start(srv, err, sizeof err) != 0) {
        fprintf(stderr, "pawld: %s\n", err);
        return 1;
    }
    srv->nworkers = worker_count(srv->world->cfg);
    raise_file_limit(srv);
    if ((srv->workers = calloc(srv->nworkers, sizeof *srv->workers)) == NULL)
        return 1;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        srv->workers[i].id = i;
        if (pawld_worker_start(&srv->workers[i], srv, err, sizeof err) != 0) {
            fprintf(stderr, "pawld: %s\n", err);
            _exit(1); /* threads already running: no orderly teardown to do */
        }
        atomic_store(&srv->started, i + 1); /* worker 0 may be serving /metrics already */
    }
    serve(srv, config, &sigs);
    for (unsigned i = 0; i < srv->nworkers; i++)
        pthread_join(srv->workers[i].tid, NULL);
    pawld_rl_share_stop(srv);
    pawld_blocks_share_stop(srv);
    pawld_link_stop(srv);
    pawld_detect_stop(srv);
    pawld_replay_file_close(srv);
    pawld_log(srv->sinks, "info", "\"msg\":\"stopped\"");
    return 0;
}

/* --check: what pawld opens only at start (the logs, the audit key, the
 * vehicle link's TLS files, detect.state), so that a configuration --check passes does not
 * stop pawld at start (review finding). The log files are not created: their
 * directories must be writable, and the files, when they exist. */
static int check_writable(const struct pawld_world *w, const char *key, const char *p, char *err, size_t n)
{
    char path[4200], dir[4200];
    if (p == NULL)
        return 0;
    pawld_path(w->dir, p, path, sizeof path);
    snprintf(dir, sizeof dir, "%s", path);
    if (access(path, F_OK) == 0 ? access(path, W_OK) != 0 : access(dirname(dir), W_OK) != 0)
        return snprintf(err, n, "%s: %s: cannot be written: %s", key, path, strerror(errno)), -1;
    return 0;
}

static int check_link(const struct pawld_world *w, char *err, size_t n)
{
    const struct pawld_link *l = &w->cfg->link;
    char ca[4200], cert[4200], key[4200];
    if (!l->on)
        return 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    bool ok = ctx != NULL &&
              SSL_CTX_load_verify_locations(ctx, pawld_path(w->dir, l->ca, ca, sizeof ca), NULL) == 1 &&
              SSL_CTX_use_certificate_chain_file(ctx, pawld_path(w->dir, l->cert, cert, sizeof cert)) == 1 &&
              SSL_CTX_use_PrivateKey_file(ctx, pawld_path(w->dir, l->key, key, sizeof key), SSL_FILETYPE_PEM) == 1 &&
              SSL_CTX_check_private_key(ctx) == 1;
    SSL_CTX_free(ctx);
    ERR_clear_error();
    if (!ok)
        return snprintf(err, n, "vehicle_link: the CA (%s), certificate (%s) or key (%s) cannot be "
                        "loaded, or the key does not match the certificate", ca, cert, key), -1;
    return 0;
}

/* --check: every trust policy in step_up.trust_dir loads (a user review: a
 * broken one passed --check and failed at request time). */
static int check_trust_dir(const struct pawld_world *w, char *err, size_t n)
{
    DIR *d = w->cfg->step_up_trust_dir ? opendir(w->step_up_dir) : NULL;
    int rc = 0;
    for (struct dirent *e; d != NULL && rc == 0 && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name), jn;
        char path[8300], why[600];
        struct pawl_edge_trust t;
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", w->step_up_dir, e->d_name);
        char *json = pawl_host_slurp(path, 1u << 20, &jn, why, sizeof why);
        memset(&t, 0, sizeof t);
        if (json == NULL || pawl_edge_trust_load(json, jn, path, &t, why, sizeof why) != 0) {
            snprintf(err, n, "step_up.trust_dir: %s", why);
            rc = -1;
        }
        pawl_edge_trust_release(&t);
        free(json);
    }
    if (d != NULL)
        closedir(d);
    return rc;
}

/* --check tries each listener's address (a user review: an address not on
 * this host passed --check). One this host does not have is an error; a
 * port in use or refused to this user is a warning, since --check may run
 * while pawld serves there, or as another user than pawld's. Then the
 * addresses that bind alone are bound all at once: two listeners of this
 * configuration that overlap (0.0.0.0:P and 127.0.0.1:P; [::]:P with
 * ipv6only: false and 0.0.0.0:P) are an error, as they stop pawld at start (review). */
static int check_ports(const struct pawld_world *w, const char *config, char *err, size_t n)
{
    const struct pawld_config *c = w->cfg;
    bool alone[PAWLD_MAX_LISTENERS] = {false};
    int fd[PAWLD_MAX_LISTENERS];
    for (size_t i = 0; i < c->nlisteners; i++) {
        const struct pawld_listener *l = &c->listeners[i];
        int e = pawld_listener_probe(l, NULL);
        char say[400];
        alone[i] = e == 0;
        if (e == EADDRINUSE || e == EACCES) {
            if (e == EADDRINUSE)
                snprintf(say, sizeof say, "listener '%s': %s:%d is in use (by a running pawld? a start "
                         "would fail; a reload keeps it)", l->name, l->host, l->port);
            else
                snprintf(say, sizeof say, "listener '%s': this user may not listen on %s:%d (ports "
                         "below 1024 need root or CAP_NET_BIND_SERVICE, which "
                         "deploy/systemd/pawld.service gives)", l->name, l->host, l->port);
            pawld_warn(NULL, config, say);
        } else if (e != 0) {
            return snprintf(err, n, "listener '%s': cannot listen on %s:%d: %s", l->name, l->host, l->port,
                            strerror(e)), -1;
        }
    }
    size_t i = 0, clash = c->nlisteners;
    for (; i < c->nlisteners && clash == c->nlisteners; i++) { /* all at once, held */
        fd[i] = -1;
        if (alone[i] && pawld_listener_probe(&c->listeners[i], &fd[i]) != 0)
            clash = i;
    }
    while (i-- > 0)
        if (fd[i] >= 0)
            close(fd[i]);
    if (clash == c->nlisteners)
        return 0;
    const struct pawld_listener *l = &c->listeners[clash], *o = l;
    for (size_t j = 0; j < clash && o == l; j++) { /* which one it overlaps: bound two at a time */
        int a = -1, b = -1;
        if (pawld_listener_probe(&c->listeners[j], &a) == 0 && pawld_listener_probe(l, &b) != 0)
            o = &c->listeners[j];
        if (a >= 0)
            close(a);
        if (b >= 0)
            close(b);
    }
    return snprintf(err, n, "listener '%s': %s:%d overlaps listener '%s' (%s:%d): pawld could not listen "
                    "on both", l->name, l->host, l->port, o->name, o->host, o->port), -1;
}

static int check_start_files(const struct pawld_world *w, char *err, size_t n)
{
    const struct pawld_config *c = w->cfg;
    char key[4200], why[512];
    uint8_t pub[PAWL_AUDIT_KEY_LEN];
    if (check_writable(w, "logs.json", c->log_json, err, n) != 0 ||
        check_writable(w, "logs.ocsf", c->ocsf, err, n) != 0 ||
        check_writable(w, "logs.audit", c->audit, err, n) != 0 ||
        check_writable(w, "logs.findings", c->findings, err, n) != 0 ||
        check_writable(w, "detect.state", c->detect.state, err, n) != 0 ||
        check_writable(w, "step_up.state", c->step_up_state, err, n) != 0 || check_link(w, err, n) != 0 ||
        pawld_detect_check(w, err, n) != 0 || check_trust_dir(w, err, n) != 0)
        return -1;
    if (c->audit_key != NULL && pawl_vault_is_uri(c->audit_key)) { /* the token, its PIN, the key */
        struct pawl_vault_key *v = pawl_vault_open(c->audit_key, why, sizeof why);
        bool ed = v != NULL && pawl_vault_key_type(v) == PAWL_VAULT_ED25519;
        pawl_vault_close(v);
        if (!ed)
            return snprintf(err, n, "logs.audit_key: %s", v == NULL ? why : "the audit trail is signed "
                            "with Ed25519; the key this URI names is not"), -1;
    } else if (c->audit_key != NULL) {
        EVP_PKEY *k = pawl__audit_load_key(pawld_path(w->dir, c->audit_key, key, sizeof key), true, pub,
                                           why, sizeof why);
        if (k == NULL)
            return snprintf(err, n, "logs.audit_key: %s", why), -1;
        EVP_PKEY_free(k);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool check = false;
    char err[2048];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 >= argc) {
            fprintf(stderr, "pawld: --config needs a FILE\n%s", usage_text);
            return 2;
        } else if (strcmp(argv[i], "--config") == 0) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("pawld %s (%s)\n", PAWLD_VERSION, OpenSSL_version(OPENSSL_VERSION));
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else {
            fprintf(stderr, "pawld: unknown option '%s'\n%s", argv[i], usage_text);
            return 2;
        }
    }
    if (config == NULL) {
        fputs(usage_text, stderr);
        return 2;
    }
    static struct pawld_server_state srv;
    pthread_mutex_init(&srv.lock, NULL);
    if (pawld_replay_init(&srv.replay, 1u << 16) != 0) {
        fprintf(stderr, "pawld: out of memory\n");
        return 1;
    }
    if ((srv.world = pawld_world_load(config, 1, err, sizeof err)) == NULL) {
        fprintf(stderr, "pawld: %s\n", err);
        pawld_replay_free(&srv.replay);
        return 1;
    }
    if (check && (check_start_files(srv.world, err, sizeof err) != 0 ||
                  check_ports(srv.world, config, err, sizeof err) != 0 ||
                  pawld_replay_file_open(&srv, srv.world, true, err, sizeof err) != 0)) {
        fprintf(stderr, "pawld: %s: %s\n", config, err);
        pawld_world_unref(srv.world);
        pawld_replay_free(&srv.replay);
        return 1;
    }
    if (check) {
        warn_setup(srv.world, NULL, config);
        printf("pawld: %s: configuration OK (%zu listeners, %zu upstreams, %zu policy routes)\n",
               config, srv.world->cfg->nlisteners, srv.world->cfg->nupstreams,
               srv.world->policy->nroutes);
        pawld_world_unref(srv.world);
        pawld_replay_free(&srv.replay);
        return 0;
    }
    int rc = start(&srv, config);
    pawld_sinks_close(srv.sinks);
    for (unsigned i = 0; i < srv.nworkers; i++) {
        pawl_engine_free(srv.workers[i].engine);
        pawld_metrics_free(&srv.workers[i].metrics);
        pawld_batch_free(&srv.workers[i].batch);
        free(srv.workers[i].held);
        uv_loop_close(&srv.workers[i].loop);
        pawld_world_unref(srv.workers[i].world);
    }
    free(srv.workers);
    pawld_world_unref(srv.world);
    pawld_config_free(srv.refused_cfg);
    pawld_replay_free(&srv.replay);
    pawl_ratelimit_free(srv.rl);
    pawl_twin_free(srv.twin);
    return rc;
}
