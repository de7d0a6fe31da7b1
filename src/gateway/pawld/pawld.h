/* pawld.h: the gateway process. Internal to src/gateway/pawld/.
 *
 * Threads: the main thread loads the configuration into a world (policy,
 * JWKS, grants, TLS contexts), starts one worker per core and then only
 * waits for signals. Each worker runs its own libuv loop with its own
 * SO_REUSEPORT listening sockets, its own engine (pawl_engine is not
 * thread-safe) over the shared read-only world, its own upstream connection
 * pools and its own metrics. A reload builds a new world and hands it to the
 * workers; each switches between requests and drops the old one, which is
 * freed when the last worker lets go (reference count).
 *
 * Memory rule for every libuv handle owner here: it is freed only in its
 * uv_close callback, so code that made a call which may close it can still
 * read its `closing` flag afterwards. */
#ifndef PAWLD_PAWLD_H
#define PAWLD_PAWLD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config.h"
#include "h1.h"
#include "metrics.h"
#include "shared_reply.h"
#include "shared_events.h"
#include "stepup.h"
#include "pawl/blocklist.h"
#include "pawl/detect.h"
#include "pawl/engine.h"
#include "pawl/event.h"
#include "pawl/jwt.h"

/* ---- a byte buffer --------------------------------------------------------- */

/* Grows by doubling (from 1 KiB) up to a maximum; holds no memory when empty
 * and freed. */
struct pawld_buf {
    char *p;
    size_t len, cap;
};
/* Appends n bytes; -1 when out of memory or when len would pass max. */
int pawld_buf_add(struct pawld_buf *b, const void *p, size_t n, size_t max);
/* Drops the first n bytes. */
void pawld_buf_consume(struct pawld_buf *b, size_t n);
void pawld_buf_free(struct pawld_buf *b);

/* A timeout kept as a deadline (*due, loop time; 0: none) over a libuv
 * timer. Timeouts move several times per request, and each move of a libuv
 * timer is a removal and an insertion in the loop's heap: set moves the
 * timer only when the deadline comes earlier than the timer is set for
 * (ms <= 0: no deadline; the timer is left to fire for nothing). fire
 * calls reached, which is true once the deadline has passed (and clears
 * it); false when there is none, or when the timer fired early and was set
 * again for the rest. */
void pawld_deadline_set(uv_timer_t *t, uint64_t *due, int64_t ms, uv_timer_cb fire);
bool pawld_deadline_reached(uv_timer_t *t, uint64_t *due, uv_timer_cb fire);

/* ---- the world: everything a reload replaces ---------------------------- */

struct pawld_world {
    atomic_int refs;
    uint64_t generation;
    struct pawld_config *cfg;
    struct pawl_policy *policy;
    struct pawl_jwks *jwks;     /* may be NULL */
    struct pawl_grants *grants;
    SSL_CTX *listen_tls[PAWLD_MAX_LISTENERS]; /* NULL: plain */
    SSL_CTX *upstream_tls[PAWLD_MAX_UPSTREAMS]; /* NULL: no https server */
    struct sockaddr_storage upstream_addr[PAWLD_MAX_UPSTREAMS][PAWLD_MAX_SERVERS];
    long *route_upstream;       /* per policy route: upstream index or -1 */
    const char **route_ids;     /* per policy route, for metrics */
    const char **route_command; /* per policy route: step-up command name, or NULL */
    const char **route_vehicle; /* per policy route: command delivered over the vehicle link, or NULL */
    /* when the certificates and CRLs it loaded stop being valid (cert_dates.c) */
    struct pawld_cert_date cert_dates[PAWLD_MAX_LISTENERS * 3 + PAWLD_MAX_UPSTREAMS + 2];
    size_t ncert_dates;
    char step_up_dir[4200];     /* resolved step_up.trust_dir ("" = none) */
    char dir[4096];             /* the configuration file's directory ("" = cwd) */
};

/* Loads the configuration file and everything it names. On failure prints
 * "file:line:column: message" lines to err (one per problem) and returns NULL. */
/* p as given when absolute (or dir is ""), else dir/p; written to out. */
const char *pawld_path(const char *dir, const char *p, char *out, size_t n);
/* The configuration at path parsed alone (its files not read), and its
 * directory; NULL when it cannot be read or parsed. */
struct pawld_config *pawld_config_read(const char *path, char *dir, size_t dirn);
/* fn on each file c names, resolved against dir: policy, JWKS, grants,
 * the listeners' TLS files, the upstreams' CA bundles. */
void pawld_config_each_file(const struct pawld_config *c, const char *dir,
                            void (*fn)(void *ctx, const char *path), void *ctx);

struct pawld_world *pawld_world_load(const char *config_path, uint64_t generation, char *err,
                                     size_t errlen);
/* Fills w->cert_dates from its TLS contexts and the vehicle link's files
 * (a date that cannot be read is left out: loading checked the files). */
void pawld_world_cert_dates(struct pawld_world *w);
struct pawld_sinks;
/* Says which certificates expire within 14 days or have, and which CRL is
 * due within six hours: to the log (sinks set) or stdout (naming config). */
void pawld_warn_cert_dates(const struct pawld_world *w, struct pawld_sinks *sinks, const char *config,
                           int64_t now);
void pawld_world_ref(struct pawld_world *w);
/* Worlds loaded and not yet freed: the running one, and older ones that
 * requests or connections still hold. */
unsigned pawld_worlds_live(void);
void pawld_world_unref(struct pawld_world *w);

/* ---- sinks: log lines, OCSF events, the audit chain ---------------------- */

struct pawld_sinks;
/* Opens the files named in cfg->log_json, ocsf and audit (paths resolved
 * against dir). Returns NULL with err set on failure. */
struct pawld_sinks *pawld_sinks_open(const struct pawld_config *cfg, const char *dir, char *err,
                                     size_t errlen);
void pawld_sinks_close(struct pawld_sinks *s);
/* One JSON log line: {"time":..,"level":..,"msg":..} plus the extra
 * fields (a JSON object's members without braces, or NULL). To stderr when
 * no log file is configured. Thread-safe. */
void pawld_log(struct pawld_sinks *s, const char *level, const char *extra_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Bounds log lines that others can cause (what vehicles send, handshakes
 * clients fail): bursts of 20, then one a second. Zeroed to start; one
 * thread at a time. */
struct pawld_ratelog {
    int64_t last_ms;
    double tokens;
    uint64_t skipped;
};
/* Whether a line may be logged at now_ms; when it may, *skipped is how many
 * were not since the last one (say so in the line). */
bool pawld_ratelog_take(struct pawld_ratelog *r, int64_t now_ms, uint64_t *skipped);
/* A worker's decisions of one loop iteration, written together. */
#define PAWLD_BATCH_MAX 4096
#define PAWLD_BATCH_BYTES (8u << 20)
struct pawld_batch {
    char *buf;  /* event lines, each ended by '\n' */
    size_t len, cap;
    struct { int64_t time_ms; size_t off, len; } rec[PAWLD_BATCH_MAX];
    size_t nrec;
};
int pawld_batch_init(struct pawld_batch *b);
void pawld_batch_free(struct pawld_batch *b);
/* Adds the decision's event to b. -1 when it cannot (out of memory, a full
 * batch): the caller must not carry the decision out. */
int pawld_record(struct pawld_sinks *s, struct pawld_batch *b, const struct pawl_event_req *ri,
                 const struct pawl_decision *dec);
/* Writes b to the OCSF stream and the audit chain (one write each, plus a
 * fsync per checkpoint) and empties it: both or neither (a failed write is
 * cut back off its file). -1 when either failed. */
int pawld_sinks_commit(struct pawld_sinks *s, struct pawld_batch *b);
bool pawld_sinks_want_events(const struct pawld_sinks *s);
/* Once a second (worker 0): a checkpoint when the trail's last records have
 * waited 10 s unsigned, and a deleted trail found (it becomes unusable). */
void pawld_sinks_tick(struct pawld_sinks *s);
/* False (with why) while the audit trail cannot be written (every decision
 * is then answered 503), and for PAWLD_UNREADY_AFTER_FAIL_MS after a batch
 * could not be written (a full disk): /readyz says so, and says ready again
 * after that, so that a balancer sends traffic again to try. */
#define PAWLD_UNREADY_AFTER_FAIL_MS 5000
bool pawld_sinks_ready(struct pawld_sinks *s, char *why, size_t n);
/* s as the inside of a JSON string (quotes, backslashes, controls escaped)
 * into out; s and out may be the same buffer. Returns out. */
char *pawld_json_escape(const char *s, char *out, size_t n);
/* A warning about the setup: a "warn" line in the log when s is set (a
 * running pawld), else "pawld: CONFIG: warning: MSG" on stdout (--check). */
void pawld_warn(struct pawld_sinks *s, const char *config, const char *msg);

/* ---- a byte stream: TCP, optionally TLS over memory BIOs ----------------- */

struct pawld_io;
struct pawld_io_ops {
    void (*on_data)(struct pawld_io *io, const char *p, size_t n); /* plaintext */
    void (*on_ready)(struct pawld_io *io);   /* connected and handshaken (client role); the
                                              * handshake done (server role, TLS only) */
    void (*on_error)(struct pawld_io *io, int uverr); /* EOF (UV_EOF) or error: owner closes */
    void (*on_drain)(struct pawld_io *io);   /* the write queue fell below the low mark */
    void (*on_closed)(struct pawld_io *io);  /* the handle is closed: free the owner */
};

#define PAWLD_IO_READ_CHUNK 16384
#define PAWLD_IO_HIGH_WATER (256u * 1024u) /* stop feeding a stream above this many queued bytes */

struct pawld_io {
    uv_tcp_t tcp;
    uv_connect_t connect;
    const struct pawld_io_ops *ops;
    void *owner;
    SSL *ssl;
    BIO *rbio, *wbio;  /* memory BIOs: network bytes in, network bytes out (owned by ssl) */
    uv_shutdown_t shut;
    bool handshaken, paused, closing, want_close_after_write, above_high, lingering;
    size_t queued;     /* bytes handed to uv_write and not yet written */
    bool corked;
    struct pawld_buf pend; /* written while corked */
};

/* Accepts a connection from listener into io (TLS server role when ctx). */
int pawld_io_accept(struct pawld_io *io, uv_stream_t *listener, SSL_CTX *ctx,
                    const struct pawld_io_ops *ops, void *owner);
/* Connects to addr (TLS client role when ctx, with SNI and name check on host). */
int pawld_io_connect(struct pawld_io *io, uv_loop_t *loop, const struct sockaddr *addr,
                     SSL_CTX *ctx, const char *host, const struct pawld_io_ops *ops, void *owner);
/* Queues n bytes (copied). Returns 0, or -1 when the stream is closing/failed. */
int pawld_io_write(struct pawld_io *io, const char *p, size_t n);
/* Between cork and uncork, writes are collected and go out as one
 * (a response head with its first body bytes, chunk framing with its data).
 * uncork returns -1 when that write failed. */
void pawld_io_cork(struct pawld_io *io);
int pawld_io_uncork(struct pawld_io *io);
/* End the stream once everything queued is written: FIN, then what the
 * peer still sends is read and dropped until it closes (lingering close);
 * the owner bounds that with a timer and pawld_io_close. */
void pawld_io_end(struct pawld_io *io);
void pawld_io_close(struct pawld_io *io);
void pawld_io_pause(struct pawld_io *io);
void pawld_io_resume(struct pawld_io *io);
/* The verified peer certificate's SPKI SHA-256 and RFC 2253 subject;
 * false when there is none (or it did not verify, or its subject needs n
 * bytes or more: pawl_authz_cert_identity). */
bool pawld_io_peer(struct pawld_io *io, uint8_t spki[32], char *subject, size_t n);
/* The verified peer certificate's notAfter in UNIX seconds; INT64_MAX when
 * there is none. */
int64_t pawld_io_peer_until(struct pawld_io *io);
/* Verifies the peer's chain again with ctx's CAs, CRLs and parameters (as
 * the handshake did with the context of its day); false with why set. */
bool pawld_io_peer_reverify(struct pawld_io *io, SSL_CTX *ctx, char *why, size_t n);

/* ---- file watching (watch.c) ---------------------------------------------- */

struct pawld_watch;
struct pawld_server_state;
/* Starts watching the files of srv->world (and the configuration file);
 * a change raises SIGHUP. NULL when it cannot (pawld then reloads on
 * SIGHUP only). */
struct pawld_watch *pawld_watch_start(struct pawld_server_state *srv, const char *config);
/* Watch the current world's files (after a reload attempt). */
void pawld_watch_update(struct pawld_watch *wt);
void pawld_watch_stop(struct pawld_watch *wt);

/* ---- the vehicle link (link.c) --------------------------------------------- */

struct pawld_link_state;
/* Connects to the broker (mutual TLS) and feeds vehicles/+/telemetry into
 * srv->twin through pawl_twin_update_checked, in libmosquitto's own thread.
 * Returns 0, or -1 with err. */
int pawld_link_start(struct pawld_server_state *srv, char *err, size_t errlen);
void pawld_link_stop(struct pawld_server_state *srv);

/* A vehicle's answer to a command, on its way to the worker that waits. */
struct pawld_vresult {
    struct pawld_vresult *next;
    uint64_t id;          /* the waiting connection's vehicle_id on that worker */
    int status;           /* 200 accepted, 409 refused by the vehicle */
    char body[512];       /* the JSON answer */
};

/* Publishes the command token (QoS 1) to vehicles/{vin}/commands/{cmd} and
 * remembers that worker's connection id waits for the result with that
 * token id. 0, or -1 with err (link down, too many waiting, the same token
 * from that vehicle already waiting, publish failed). */
int pawld_link_send(struct pawld_server_state *srv, const char *vin, const char *cmd,
                    const uint8_t *tok, size_t n, const uint8_t cti[16], unsigned worker,
                    uint64_t id, char *err, size_t errlen);
/* That worker's connection id gave up waiting (timeout, closed). */
void pawld_link_forget(struct pawld_server_state *srv, unsigned worker, uint64_t id);

/* ---- workers -------------------------------------------------------------- */

struct pawld_pool; /* per upstream server: idle connections */

#define PAWLD_REDIS_PENDING 16

/* A Redis connection kept by a worker (step_up.redis) or a background
 * thread (rate_limits.redis, detect.redis), with copies of the settings (a
 * reload may free the configuration they came from) and a back-off after
 * a failure (redis.c). */
struct pawld_redis_conn {
    struct pawld_redis r;
    char dir[4096];
    struct redisContext *ctx;
    int64_t retry_ms; /* monotonic: no connection tried before */
    char why[700];    /* the failure that began the back-off */
};

struct pawld_worker {
    unsigned id;
    pthread_t tid;
    uv_loop_t loop;
    uv_async_t wake;           /* reload, drain */
    uv_tcp_t listeners[PAWLD_MAX_LISTENERS];
    size_t nlisteners;
    int listen_fds[PAWLD_MAX_LISTENERS];
    struct pawld_world *world;
    struct pawl_engine *engine;
    unsigned rl_seed_gen; /* srv->rl_seed_gen when engine was built */
    struct pawld_pool *pools;  /* [upstream][server] of this world */
    struct pawld_sinks *sinks;
    struct pawld_metrics metrics;
    struct pawl_jwt_stats jwt_base; /* token-cache counters of engines already replaced */
    uv_timer_t drain_timer;
    pthread_mutex_t metrics_lock; /* held by this worker while counting, by /metrics while reading */
    struct pawld_server_state *srv;
    unsigned long conns;       /* open client connections */
    bool draining;
    struct pawld_conn *conn_list; /* open client connections, for drain */
    struct pawld_batch batch;  /* this iteration's decisions, written by the commit check */
    uv_check_t commit;
    uv_timer_t trim;           /* once a second: the retry below; worker 0 also gives freed
                                * memory back when the process is quiet, and ticks the audit trail */
    bool stale;                /* the switch to the newest world failed (out of memory): every
                                * decision is refused (503) until a retry succeeds */
    atomic_ullong activity;    /* client reads and connections freed so far (worker 0's trim
                                * timer sums every worker's) */
    uint64_t trim_seen, trim_done; /* worker 0: that sum at its last tick, at its last trim */
    struct pawld_ratelog tls_warned; /* TLS handshakes clients failed */
    struct pawld_ratelog upstream_warned; /* requests upstreams failed (counted in metrics) */
    uv_idle_t resume_idle;     /* runs while nresume > 0: pumps connections whose pipelined
                                * requests waited for the commit (conn.c) */
    unsigned long nresume;
    struct pawld_conn **held;  /* connections whose output waits for the commit */
    size_t nheld, held_cap;
    pthread_mutex_t inbox_lock; /* the vehicle link's thread adds, the worker takes */
    struct pawld_vresult *inbox;
    bool inbox_closed;          /* the worker stopped: results are dropped */
    uint64_t next_vehicle_id;
    /* step_up.redis (replay_redis.c): this worker's connection, made when
     * first needed */
    struct pawld_redis_conn redis;
    struct pawld_ratelog redis_warned;
    /* attempts whose answer was lost (a timeout): their keys are deleted
     * once Redis answers, if they still hold the attempt's value */
    struct pawld_redis_pending {
        char key[128 + 2 * PAWL_EDGE_CTI_LEN + 1];
        size_t klen;
        char val[33];
        int64_t until_ms; /* monotonic: the key's lifetime, after which it is gone anyway */
    } redis_pending[PAWLD_REDIS_PENDING];
    size_t redis_npending;
};

/* Counts a client read or a freed connection for worker 0's trim timer
 * (worker.c). Only w's own thread writes it: no locked add. */
static inline void pawld_worker_active(struct pawld_worker *w)
{
    atomic_store_explicit(&w->activity, atomic_load_explicit(&w->activity, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Hands a vehicle result to worker w (from the link's thread). */
void pawld_worker_post(struct pawld_worker *w, struct pawld_vresult *r);

/* Process-wide state the workers read. */
struct pawld_server_state {
    pthread_mutex_t lock;
    struct pawld_world *world;  /* the newest; guarded by lock */
    /* the configuration the last reload refused, when it parsed (its files
     * are watched too), and its directory; guarded by lock */
    struct pawld_config *refused_cfg;
    char refused_dir[4096];
    atomic_bool draining;
    atomic_bool ready;
    struct pawld_worker *workers;
    unsigned nworkers;
    atomic_uint started;        /* workers[0..started) are set up (their locks too) */
    struct pawld_sinks *sinks;
    struct pawld_replay replay; /* step-up token ids seen, across reloads */
    /* step_up.state (replay_file.c): the record's ids on disk */
    bool replay_on;                  /* set at start, never changed */
    pthread_mutex_t replay_file_lock; /* guards the rest */
    int replay_fd, replay_lock_fd;
    size_t replay_appended;
    bool replay_torn;                /* an entry cut short could not be cut back */
    struct pawld_ratelog replay_warned;
    char replay_path[4200];
    /* the vehicles' twin, kept across reloads: the link writes, decisions read */
    struct pawl_twin *twin;
    pthread_rwlock_t twin_lock;
    struct pawld_link_state *link;
    atomic_ullong telemetry_applied, telemetry_refused;
    atomic_ullong reloads_ok, reloads_refused; /* for /metrics */
    /* the detectors, shared by the workers (detect.c); NULL when off */
    struct pawld_detect *detect;
    /* one rate limiter for every worker, kept across reloads */
    struct pawl_ratelimit *rl;
    pthread_mutex_t rl_lock; /* guards rl, rl_backend and the rl_ fields below */
    struct pawl_rl_backend rl_backend;
    /* rate_limits.redis (rl_share.c): the limits shared with other pawld
     * instances. While rl_sharing (the seed is Redis's), every charge is
     * journalled (those that find no room are counted in rl_unjournalled);
     * rl_seed_gen counts the seed's changes, after which the workers build
     * new engines */
    struct pawld_rl_share *rl_share;
    struct pawld_blocks_share *blocks_share; /* detect.redis (blocks_share.c); NULL when off */
    struct pawl_rl_journal *rl_journal;
    bool rl_sharing;
    uint64_t rl_unjournalled;
    atomic_uint rl_seed_gen;
};

/* step_up.state: reads the file (when configured and present) into
 * srv->replay; unless check_only, rewrites it with the live ids and keeps it
 * open for appending. Before the workers start. 0, or -1 with err set. */
int pawld_replay_file_open(struct pawld_server_state *srv, const struct pawld_world *w, bool check_only,
                           char *err, size_t n);
void pawld_replay_file_close(struct pawld_server_state *srv);
/* pawld_step_up_record, with the id appended to step_up.state first when
 * it is on. false with su->detail set; *store_failed when the file could not
 * be written (the request is refused: 503). */
bool pawld_replay_file_record(struct pawld_server_state *srv, struct pawld_step_up *su, uint64_t now,
                              bool *store_failed);

struct redisReply;
/* redis.c: a connection to the configured server, authenticated, with the
 * command timeout set; NULL with why. */
struct redisContext *pawld_redis_connect(const struct pawld_redis *r, const char *dir, char *why, size_t n);
/* why: what failed (the reply's error text, or the connection's). */
void pawld_redis_say(struct redisContext *ctx, const struct redisReply *rep, const char *what, char *why,
                     size_t n);

/* The value of field in an INFO reply's text into out ("" when absent). */
void pawld_redis_info_field(const struct redisReply *rep, const char *field, char *out, size_t n);
/* Whether the server may evict keys (maxmemory set with a policy other
 * than noeviction); if so, why says so. */
bool pawld_redis_may_evict(struct redisContext *ctx, char *why, size_t n);

int pawld_redis_conn_init(struct pawld_redis_conn *k, const struct pawld_redis *r, const char *dir);
void pawld_redis_conn_free(struct pawld_redis_conn *k);
/* No connection, and the back-off after a failure is not over. */
bool pawld_redis_conn_waiting(const struct pawld_redis_conn *k);
/* The connection, made when there is none and the back-off is over; NULL
 * with why (a failed connect starts the back-off). */
struct redisContext *pawld_redis_conn_get(struct pawld_redis_conn *k, char *why, size_t n);
/* After a failed command (why): the connection goes; none is tried again
 * for a second, or ten timeouts when that is longer, and
 * pawld_redis_conn_get says why meanwhile. */
void pawld_redis_conn_fail(struct pawld_redis_conn *k, const char *why);
/* The connection goes, without a back-off (Redis closed it: a new one is
 * tried at once). */
void pawld_redis_conn_drop(struct pawld_redis_conn *k);

/* A reader of a stream that cannot get past an entry (one the reader
 * refuses, or too large for the timeout) would stop there for good (review
 * 17). After a failed read at an id the next reads ask for one entry, so
 * that a failure names it; after two, pawld_stream_unstick checks inside
 * Redis whether that entry has more fields or bytes than any pawld writes,
 * and skips it if so (review 18: the first skip took the first entry of a
 * page of 256, and any two transient failures counted). */
struct pawld_stream_reader {
    char at[48]; /* the last id the failed reads started from */
    int fails;
};
/* The count for the next XREAD from last: want, or 1 after a failure there. */
int pawld_stream_count(const struct pawld_stream_reader *r, const char *last, int want);
/* 1: skipped (last moved on; why says which entry, to log and count); 0:
 * nothing skipped; -1 with why (the check could not be made: the reads go
 * on). */
int pawld_stream_unstick(struct pawld_stream_reader *r, struct redisContext *ctx, const char *stream, char *last,
                         size_t n, char *why, size_t wn);
/* An XREAD from last failed; one succeeded. */
void pawld_stream_read_failed(struct pawld_stream_reader *r, const char *last);
void pawld_stream_read_ok(struct pawld_stream_reader *r);
/* Whether a stream entry id (its time in *ms) is more than a minute ahead
 * of Redis's clock: one Redis did not give (it gives ids from its clock),
 * which every later id would follow, so that no entry could be trimmed
 * and every later one looks forged (review 17). */
bool pawld_stream_ahead(const char *id, int64_t redis_now_ms, uint64_t *ms);
/* Reading a stream from last on, for blocks_share.c and windows_share.c. */
struct pawld_stream_reading {
    const char *stream, *what; /* what: the command, for why ("XREAD (the shared blocks)") */
    char *last;                /* the last id read: moved on as entries are read */
    size_t last_n;
    struct pawld_stream_reader *stuck;
    int count, rounds;         /* entries per XREAD; XREADs per call (< 0: to the end) */
    /* each entry, last already moved to it; fv NULL: not an entry (last
     * not moved) */
    void (*entry)(void *arg, const char *id, const struct redisReply *fv);
    /* an id ahead of Redis's clock (its time ms): the reading stops */
    void (*ahead)(void *arg, uint64_t ms);
    void *arg;
};
/* The entries appended since *last (the reader's count and unsticking
 * applied): 0, or -1 with why. */
int pawld_stream_read(struct redisContext *ctx, const struct pawld_stream_reading *rd, int64_t redis_now_ms,
                      char *why, size_t wn);
/* Deletes stream if its newest id is still ahead (the first instance to
 * see it does; the others' calls then do nothing): 1 deleted, 0 not (no
 * longer) ahead, -1 with why. */
int pawld_stream_restart(struct redisContext *ctx, const char *stream, char *why, size_t wn);

/* A thread that calls tick(arg, false) every every_ms (monotonic clock),
 * and tick(arg, true) once when stopped, after the last. */
struct pawld_ticker {
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, started;
    int64_t every_ms;
    void (*tick)(void *, bool);
    void *arg;
};
int pawld_ticker_start(struct pawld_ticker *t, int64_t every_ms, void (*tick)(void *, bool), void *arg);
void pawld_ticker_stop(struct pawld_ticker *t);

/* step_up.redis (replay_redis.c): the record shared by pawld instances. */
bool pawld_redis_same(const struct pawld_redis *a, const struct pawld_redis *b);
/* The step-up record: in Redis when step_up.redis is on (then in memory
 * too), else pawld_replay_file_record's. false with su->detail set;
 * *store_failed when the record could not be asked or written (503). */
bool pawld_replay_record(struct pawld_worker *w, struct pawld_step_up *su, uint64_t now, bool *store_failed);
int pawld_redis_open(struct pawld_worker *w);
void pawld_redis_close(struct pawld_worker *w);
/* Deletes the keys of attempts whose answer was lost (when they still hold
 * the attempt's value): 0, or -1 with why. */
int pawld_redis_release(struct pawld_worker *w, char *why, size_t n);
/* Connects, authenticates and pings: 0, or -1 with why. */
int pawld_redis_probe(const struct pawld_world *wd, char *why, size_t n);
/* Both NULL, or the same string. */
bool pawld_same_str(const char *a, const char *b);

/* Sets up srv's shared rate limiter for max_keys keys. -1 on failure. */
int pawld_ratelimit_init(struct pawld_server_state *srv, size_t max_keys);

/* rate_limits.redis (rl_share.c). Start: after pawld_ratelimit_init and
 * before the workers; gets the shared seed when Redis answers, and starts
 * the thread that shares the charges. 0 (also when off), or -1 with err. */
int pawld_rl_share_start(struct pawld_server_state *srv, char *err, size_t n);
/* After the workers: tells what was charged last, stops the thread. */
void pawld_rl_share_stop(struct pawld_server_state *srv);
void pawld_rl_share_stats(struct pawld_server_state *srv, struct pawld_rl_sync_stats *out);
/* --check and start: connects, authenticates and runs a script as the
 * sync does on a probe key: 0, or -1 with why. */
int pawld_rl_share_probe(const struct pawld_world *wd, char *why, size_t n);

/* --check: binds l's address alone (no SO_REUSEPORT, as the first worker
 * does) and lets go, or listens and hands the socket to *keep (not NULL).
 * 0, or the errno. */
int pawld_listener_probe(const struct pawld_listener *l, int *keep);
/* Binds w's listening sockets (SO_REUSEPORT) and starts its thread.
 * Returns 0, or -1 with err set. */
int pawld_worker_start(struct pawld_worker *w, struct pawld_server_state *srv, char *err,
                       size_t errlen);
/* Makes every worker look at srv->world and srv->draining. */
void pawld_workers_wake(struct pawld_server_state *srv);
/* A client connection was freed (a draining worker stops after the last). */
void pawld_worker_conn_gone(struct pawld_worker *w);
/* Pools for a world: one per upstream server. */
struct pawld_pool *pawld_pools_new(const struct pawld_world *world);
void pawld_pools_free(struct pawld_pool *pools, const struct pawld_world *world);
/* Closes the pools' idle connections (a draining worker); the pools stay. */
void pawld_pools_close_idle(struct pawld_pool *pools, const struct pawld_world *world);

/* ---- client connections --------------------------------------------------- */

enum pawld_conn_state {
    PAWLD_C_HEAD,     /* reading a request head */
    PAWLD_C_WAIT_UP,  /* allowed; waiting for an upstream connection */
    PAWLD_C_BODY,     /* streaming the request body upstream (or discarding it) */
    PAWLD_C_RESPONSE, /* waiting for / relaying the upstream response */
    PAWLD_C_CLOSING,  /* answered; closing when written */
};

struct pawld_upconn;

struct pawld_conn {
    struct pawld_io io;
    struct pawld_worker *w;
    const struct pawld_listener *lc; /* in world->cfg; the world is pinned below */
    struct pawld_world *world;       /* the newest when it was last idle (pawld_conn_repin) */
    size_t listener;
    struct pawld_conn *next, *prev;
    enum pawld_conn_state state;
    struct pawld_h1 *h1; /* the request reader; NULL while idle (reader_get, reader_drop) */
    struct pawld_buf in; /* received, not yet fed to the reader */
    uv_timer_t timer;
    uint64_t due; /* the timeout's deadline in loop time; 0: none (pawld_conn_arm) */
    int handles;       /* open libuv handles (stream, timer): freed at 0 */
    bool in_consume, head_timing, resp_started;
    char peer_ip[64];
    int peer_port;
    /* the client certificate (TLS): checked at its handshake against the
     * world of that day, again after each reload (pawld_conn_peer) */
    uint64_t peer_gen;   /* the world generation it was last verified with */
    int64_t peer_until;  /* its notAfter, UNIX seconds; 0 until read */
    bool peer_dropped;   /* the listener stopped using client certificates */
    char client_ip[64]; /* the current request's client: the peer, or X-Real-IP from an ext-authz gateway */
    int client_port;    /* 0 when not known (X-Real-IP) */
    /* the current request */
    uint64_t started_ns;
    enum pawl_http_framing framing;
    uint64_t content_length;
    bool step_up_ok;   /* an owner co-signed command token was verified for it */
    bool keep_alive, head_method, discard_body, body_done;
    long route;
    struct pawld_upconn *up;
    int64_t up_tries;
    bool retry_safe;   /* GET or HEAD without a body: may go to a second connection */
    char *fwd_head;    /* the head as sent upstream, kept for one retry */
    size_t fwd_head_len, fwd_head_cap;
    struct pawld_buf cork; /* upstream bytes held until the reader has checked this pass's input */
    struct pawld_buf out;  /* client bytes held until the worker's decisions are written */
    bool held, held_close;
    bool out_blocked;      /* the client does not read its answers: no next request yet */
    bool resume;           /* a pipelined request waits for the commit: counted in
                            * w->nresume, pumped by the worker's resume idle */
    /* a command delivered to the vehicle over the link, waiting for its result */
    bool vehicle_wait;
    struct pawld_vcmd *vcmd;  /* the command to publish once the decision is written */
    uint64_t vehicle_id;
    uint8_t vehicle_cti[16];
};

/* Extra header lines of an answer: the identity header (name up to 64
 * bytes, value up to 2 KiB) and Retry-After or WWW-Authenticate fit. */
#define PAWLD_EXTRA_MAX 2304

void pawld_conn_accept(struct pawld_worker *w, size_t listener, uv_stream_t *server);
/* Answers with the decision's status and JSON body (and Retry-After or
 * WWW-Authenticate where they apply, plus extra header lines); then closes,
 * or reads and drops the rest of the request and goes on. */
void pawld_conn_answer(struct pawld_conn *c, const struct pawl_decision *d, const char *extra,
                       bool close);
/* d: a refusal for reason r with detail, no route, no identity. */
void pawld_refusal(struct pawl_decision *d, enum pawl_reason r, const char *detail);
/* pawld_conn_answer with pawld_refusal's decision (not recorded). */
void pawld_conn_deny(struct pawld_conn *c, enum pawl_reason r, const char *detail, bool close);
void pawld_conn_reqinfo(struct pawld_conn *c, const struct pawl_http_head *h,
                        struct pawl_event_req *ri);
/* Sets the connection's timeout to ms from now, replacing the one set
 * before; ms <= 0: none. What it does when due depends on the state then. */
void pawld_conn_arm(struct pawld_conn *c, int64_t ms);
int pawld_conn_body(void *ctx, const char *p, size_t n);
int64_t pawld_wall_ms(void);
void pawld_conn_close(struct pawld_conn *c);
/* The request is over (response written): next request or close. */
void pawld_conn_finish(struct pawld_conn *c);
/* An idle connection (no request begun, nothing buffered, no upstream)
 * moves to its worker's newest world and listener settings; otherwise
 * nothing changes. */
void pawld_conn_repin(struct pawld_conn *c);
void pawld_conn_count(struct pawld_conn *c, enum pawl_reason r);
/* The client certificate's identity for the request being decided: 1 with
 * spki and subject set, 0 when there is none to use, -1 when the
 * connection may not go on (the certificate expired, or no longer verifies
 * with the CAs and CRLs of a reload, or a reload made it required, or its
 * subject does not fit in n bytes) with why set. */
int pawld_conn_peer(struct pawld_conn *c, uint8_t spki[32], char *subject, size_t n, char *why,
                    size_t whyn);
/* Hold c's output until the worker's decisions are written; then release
 * it (written) or answer 503 instead (not written). */
void pawld_conn_hold(struct pawld_conn *c);
/* Bytes for the client: written, or held with the rest of its output. */
int pawld_conn_out(struct pawld_conn *c, const char *p, size_t n);
void pawld_conn_commit(struct pawld_conn *c, bool written);
/* Feed buffered input to the reader; used again when a state wants more. */
void pawld_conn_pump(struct pawld_conn *c);
/* Pump, then read again if there is room. */
void pawld_conn_read_more(struct pawld_conn *c);
/* Read the body again if there is room, without pumping (safe from
 * within the reader's pass). */
void pawld_conn_resume(struct pawld_conn *c);
/* "HTTP/1.1 <status> <reason phrase>\r\n" appended to o (util.h). */
struct pawl__out;
void pawld_status_line(struct pawl__out *o, int status);
uint64_t pawld_now_ns(void);

/* ---- the proxy (proxy.c) -------------------------------------------------- */

/* Forwards the allowed request whose head is in c->h1 to the route's
 * upstream; identity is the identity header's value. */
void pawld_proxy_start(struct pawld_conn *c, const struct pawl_http_head *h,
                       const struct pawl_decision *dec);
/* Body bytes of the current request (decoded). */
int pawld_proxy_body(struct pawld_conn *c, const char *p, size_t n);
/* The client's request is complete. */
void pawld_proxy_body_done(struct pawld_conn *c);
/* Sends what was corked during a pass of the reader (which found no error). */
void pawld_proxy_flush(struct pawld_conn *c);
/* The client went away: drop the upstream side. */
void pawld_proxy_abort(struct pawld_conn *c);
/* The client's write queue drained: read the upstream again. */
void pawld_proxy_client_drained(struct pawld_conn *c);

/* ---- the detectors, inline (detect.c) ------------------------------------- */

#define PAWLD_BLOCK_OUTBOX 1024 /* events queued between two syncs (struct pawld_block_event: shared_reply.h) */
/* The first events of the outbox (up to max) into out, left there. */
size_t pawld_detect_outbox(struct pawld_server_state *srv, struct pawld_block_event *out, size_t max);
/* sent[0..n), copied by pawld_detect_outbox: those told[i] go out of the
 * outbox, unless replaced meanwhile. */
void pawld_detect_outbox_sent(struct pawld_server_state *srv, const struct pawld_block_event *sent,
                              const bool *told, size_t n);
/* Changes that could not be queued so far. */
uint64_t pawld_detect_unsent(struct pawld_server_state *srv);
/* An event read from the shared stream (another instance's, or this one's
 * read back), here: a block set or extended, or lifted; not told again. 1:
 * a new block here, or one lifted; 2: a block extended; 0: nothing
 * changed; -1: the block list is full (counted as unshared). */
int pawld_detect_apply(struct pawld_server_state *srv, const struct pawld_block_event *e);

/* detect.redis (blocks_share.c). Start: after pawld_detect_start, before
 * the workers; reads the live blocks when Redis answers, and starts the
 * thread that tells and learns blocks. 0 (also when off), or -1 with err. */
int pawld_blocks_share_start(struct pawld_server_state *srv, char *err, size_t n);
/* After the workers, before pawld_detect_stop: tells what is left. */
void pawld_blocks_share_stop(struct pawld_server_state *srv);
void pawld_blocks_share_stats(struct pawld_server_state *srv, struct pawld_block_sync_stats *out);
/* --check and start: connects, authenticates, reads the stream and adds to
 * a probe key: 0, or -1 with why. */
int pawld_blocks_share_probe(const struct pawld_world *wd, char *why, size_t n);

/* detect.windows shared (windows_share.c, over detect.c). */
#define PAWLD_EVENTS_BUF PAWLD_EVENTS_BATCH_MAX /* bytes packed between two syncs; more are judged alone */
#define PAWLD_FOUND_MAX 65536        /* findings of merged events waiting to be claimed; more are
                                     * written unclaimed */
struct pawld_event_origin;
struct pawld_found {
    struct pawl_finding f;
    char claim[96]; /* the event that raised it (entry.index) and the detector */
};
/* The events the workers packed since the last call (count of them in n
 * bytes, a batch; valid until the next call), and the skew for the next
 * ones' times. */
const uint8_t *pawld_detect_events_take(struct pawld_server_state *srv, int64_t skew_ms, size_t *n,
                                        size_t *count);
/* A merged event, to the detectors (sync thread): its findings wait in a
 * list for pawld_detect_found; its blocks are set at once. Returns how
 * many findings wait. */
size_t pawld_detect_feed_merged(struct pawld_server_state *srv, const struct pawl_api_event *e,
                                const struct pawld_event_origin *o);
/* The findings of merged events so far (up to max), out of the list. */
size_t pawld_detect_found(struct pawld_server_state *srv, struct pawld_found *out, size_t max);
/* One finding to logs.findings. */
void pawld_detect_write(struct pawld_server_state *srv, const struct pawl_finding *f);
/* Events judged at once, alone: the buffer was full. */
uint64_t pawld_detect_fed_here(struct pawld_server_state *srv);

struct pawld_windows;
/* detect.windows shared: the sync's half (windows_share.c), called by
 * blocks_share.c's thread with its connection (NULL: Redis cannot be
 * asked; the events are judged here alone) and Redis's clock. */
struct pawld_windows *pawld_windows_new(struct pawld_server_state *srv, const char *prefix, const char *id);
void pawld_windows_free(struct pawld_windows *w);
/* 0, or -1 with why (the events this instance could not tell are judged
 * here alone). last: the final sync, everything read is fed. */
int pawld_windows_sync(struct pawld_windows *w, struct redisContext *ctx, const struct pawld_block_clock *clock,
                       bool last, char *why, size_t wn);
void pawld_windows_stats(struct pawld_windows *w, struct pawld_block_sync_stats *out);

struct pawld_detect;
/* With logs.findings set: the detectors over every decision, their
 * Detection Finding lines appended to that file. 0, or -1 with err. */
int pawld_detect_start(struct pawld_server_state *srv, char *err, size_t errlen);
/* The newest world's grants (after a reload). */
void pawld_detect_world(struct pawld_server_state *srv, struct pawld_world *w);
/* --check: detect.state, when the detectors are on and it exists, reads
 * whole into tables and a block list of the configured size (0), or -1 with
 * err: what would stop pawld at start. */
int pawld_detect_check(const struct pawld_world *w, char *err, size_t errlen);
void pawld_detect_stop(struct pawld_server_state *srv);
/* One decision (worker threads). */
void pawld_detect_feed(struct pawld_conn *c, const struct pawl_http_head *h, const struct pawl_decision *d);
/* Principals and addresses the detectors saw but could not track (their
 * tables full); 0 without detectors. */
uint64_t pawld_detect_untracked(struct pawld_server_state *srv);
/* Findings so far by detector (pawl_detector_name's order); zeros when off. */
void pawld_detect_findings(struct pawld_server_state *srv, uint64_t out[PAWL_DETECTORS]);
/* Whether the decision's principal or the request's client address is
 * blocked (detect.block); if so, detail says for how long. */
bool pawld_detect_blocked(struct pawld_conn *c, const struct pawl_decision *d, char *detail, size_t n);
/* detect.state: writes the detectors' state and the blocks (main thread). */
void pawld_detect_save(struct pawld_server_state *srv);
/* The admin listener's /blocks: every live block as JSON (free()), NULL
 * when out of memory; lifting one: 1 lifted, 0 none, -1 detectors off. */
char *pawld_detect_blocks_json(struct pawld_server_state *srv);
int pawld_detect_unblock(struct pawld_server_state *srv, bool principal, pawl_str subject);

/* ---- commands to vehicles (vehicle.c) ------------------------------------- */

/* An allowed request on a route delivered over the vehicle link: the
 * command token in the step-up header (already verified when the route is
 * step-up) must name the path's vehicle and the route's command; it is
 * published and the connection waits for the vehicle's result. */
void pawld_vehicle_start(struct pawld_conn *c, pawl_str token, const struct pawl_decision *d,
                         const char *cmd);
/* The decision is written: publish what waits (pawld_conn_commit). */
void pawld_vehicle_commit(struct pawld_conn *c);
/* The request's body was read and dropped: now only the result is awaited. */
void pawld_vehicle_body_done(struct pawld_conn *c);
/* The result arrived (worker thread). */
void pawld_vehicle_result(struct pawld_conn *c, const struct pawld_vresult *r);
/* The result timeout fired, or the connection goes away. */
void pawld_vehicle_timeout(struct pawld_conn *c);
void pawld_vehicle_abandon(struct pawld_conn *c);

/* ---- answers for the authz and admin listeners (handlers.c) --------------- */

void pawld_handle_proxy(struct pawld_conn *c, const struct pawl_http_head *h,
                        const struct pawl_http_verdict *v);
void pawld_handle_authz(struct pawld_conn *c, const struct pawl_http_head *h);
void pawld_handle_admin(struct pawld_conn *c, const struct pawl_http_head *h);
/* Writes a complete response: status, extra header lines ("Name: v\r\n"...),
 * a JSON or text body. */
void pawld_respond(struct pawld_conn *c, int status, const char *ctype, const char *extra_headers,
                   const char *body, size_t body_len, bool close);

#endif
