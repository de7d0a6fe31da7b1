/* What pawld's users of a shared Redis (step_up.redis, rate_limits.redis,
 * detect.redis) have in common: the connection, made within the configured
 * timeout, authenticated, the timeout kept for every command; a connection
 * a background thread keeps, with its back-off; that thread's ticker; the
 * checks of the server. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "host.h"
#include "pawld.h"

#define PASSWORD_MAX 512

static struct timeval tv_of(int64_t ms)
{
    return (struct timeval){.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
}

void pawld_redis_say(redisContext *ctx, const redisReply *rep, const char *what, char *why, size_t n)
{
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        snprintf(why, n, "%s: %s", what, rep->str);
    else if (rep != NULL)
        snprintf(why, n, "%s: unexpected reply (type %d)", what, rep->type);
    else
        snprintf(why, n, "%s: %s", what, ctx->errstr[0] ? ctx->errstr : "no reply");
}

/* AUTH with the password file's first line (and the user, when set). */
static int auth(redisContext *ctx, const struct pawld_redis *r, const char *dir, char *why, size_t n)
{
    char path[4200], err[600];
    size_t len;
    if (r->password_file == NULL)
        return 0;
    char *pw = pawl_host_slurp(pawld_path(dir, r->password_file, path, sizeof path), PASSWORD_MAX, &len,
                               err, sizeof err);
    if (pw == NULL)
        return snprintf(why, n, "password_file: %s", err), -1;
    pw[strcspn(pw, "\r\n")] = '\0';
    redisReply *rep = r->user ? redisCommand(ctx, "AUTH %s %s", r->user, pw) : redisCommand(ctx, "AUTH %s", pw);
    OPENSSL_cleanse(pw, len);
    free(pw);
    int rc = rep != NULL && rep->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc != 0)
        pawld_redis_say(ctx, rep, "AUTH", why, n);
    freeReplyObject(rep);
    return rc;
}

/* The address is a literal (config.c): no name is resolved here, on a
 * worker's thread. */
redisContext *pawld_redis_connect(const struct pawld_redis *r, const char *dir, char *why, size_t n)
{
    redisContext *ctx = redisConnectWithTimeout(r->host, r->port, tv_of(r->timeout_ms));
    if (ctx == NULL) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    if (ctx->err == 0)
        pawl_redis_reader_bound(ctx->reader);
    if (ctx->err != 0 || redisSetTimeout(ctx, tv_of(r->timeout_ms)) != REDIS_OK ||
        auth(ctx, r, dir, why, n) != 0) {
        if (ctx->err != 0)
            snprintf(why, n, "%s:%d: %s", r->host, r->port, ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

int pawld_redis_conn_init(struct pawld_redis_conn *k, const struct pawld_redis *r, const char *dir)
{
    memset(k, 0, sizeof *k);
    k->r = *r;
    k->r.password_file = k->r.user = k->r.prefix = NULL;
    snprintf(k->dir, sizeof k->dir, "%s", dir);
    if ((r->password_file && !(k->r.password_file = strdup(r->password_file))) ||
        (r->user && !(k->r.user = strdup(r->user))) || (r->prefix && !(k->r.prefix = strdup(r->prefix)))) {
        pawld_redis_conn_free(k);
        return -1;
    }
    return 0;
}

void pawld_redis_conn_free(struct pawld_redis_conn *k)
{
    pawld_redis_conn_drop(k);
    free(k->r.password_file);
    free(k->r.user);
    free(k->r.prefix);
    k->r.password_file = k->r.user = k->r.prefix = NULL;
}

static int64_t mono_ms(void)
{
    return (int64_t)(pawld_now_ns() / 1000000u);
}

bool pawld_redis_conn_waiting(const struct pawld_redis_conn *k)
{
    return k->ctx == NULL && mono_ms() < k->retry_ms;
}

redisContext *pawld_redis_conn_get(struct pawld_redis_conn *k, char *why, size_t n)
{
    if (pawld_redis_conn_waiting(k)) {
        snprintf(why, n, "%s (not tried again for %lld ms)", k->why, (long long)(k->retry_ms - mono_ms()));
        return NULL;
    }
    if (k->ctx == NULL && (k->ctx = pawld_redis_connect(&k->r, k->dir, why, n)) == NULL)
        pawld_redis_conn_fail(k, why);
    return k->ctx;
}

void pawld_redis_conn_drop(struct pawld_redis_conn *k)
{
    if (k->ctx != NULL)
        redisFree(k->ctx);
    k->ctx = NULL;
}

void pawld_redis_conn_fail(struct pawld_redis_conn *k, const char *why)
{
    pawld_redis_conn_drop(k);
    int64_t t = k->r.timeout_ms;
    k->retry_ms = mono_ms() + (10 * t > 1000 ? 10 * t : 1000);
    if (why != k->why)
        snprintf(k->why, sizeof k->why, "%s", why);
}

static void *tick_run(void *arg)
{
    struct pawld_ticker *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        struct timespec at; /* the monotonic clock: a wall clock set back would hold the ticks */
        clock_gettime(CLOCK_MONOTONIC, &at);
        int64_t ns = at.tv_nsec + t->every_ms * 1000000;
        at.tv_sec += ns / 1000000000;
        at.tv_nsec = ns % 1000000000;
        int rc = 0;
        while (!t->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&t->cond, &t->lock, &at);
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->lock);
        t->tick(t->arg, false);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    t->tick(t->arg, true); /* once more, always, after the last (review 16: a stop during a tick had none) */
    return NULL;
}

int pawld_ticker_start(struct pawld_ticker *t, int64_t every_ms, void (*tick)(void *, bool), void *arg)
{
    pthread_condattr_t ca;
    t->every_ms = every_ms;
    t->tick = tick;
    t->arg = arg;
    t->stop = false;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    t->started = pthread_create(&t->tid, NULL, tick_run, t) == 0;
    return t->started ? 0 : -1;
}

void pawld_ticker_stop(struct pawld_ticker *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->tid, NULL);
    t->started = false;
}

void pawld_redis_info_field(const redisReply *rep, const char *field, char *out, size_t n)
{
    char want[64];
    snprintf(want, sizeof want, "\n%s:", field);
    out[0] = '\0';
    const char *at = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, want) : NULL;
    if (at != NULL)
        snprintf(out, n, "%.*s", (int)strcspn(at + strlen(want), "\r\n"), at + strlen(want));
}

bool pawld_redis_may_evict(redisContext *ctx, char *why, size_t n)
{
    char policy[64], max[64];
    redisReply *mem = redisCommand(ctx, "INFO memory");
    pawld_redis_info_field(mem, "maxmemory_policy", policy, sizeof policy);
    pawld_redis_info_field(mem, "maxmemory", max, sizeof max);
    freeReplyObject(mem);
    if (policy[0] == '\0' || strcmp(policy, "noeviction") == 0 || strtoll(max, NULL, 10) <= 0)
        return false;
    snprintf(why, n, "maxmemory-policy %s with maxmemory set", policy);
    return true;
}

/* The id of the entry after last in stream when it is one no reader takes
 * (more fields than the reader's bound, or more bytes than any pawld
 * entry), checked inside Redis: the entry itself never comes over the
 * connection. 0: the entry is not such (the reads failed for another
 * reason); nil: there is none. */
#define SKIP_LUA                                                                     \
    "local r = redis.call('xread', 'count', 1, 'streams', KEYS[1], ARGV[1]) "        \
    "if not r then return false end "                                                \
    "local e = r[1][2][1] "                                                          \
    "if #e[2] > tonumber(ARGV[2]) then return e[1] end "                             \
    "local n = 0 "                                                                   \
    "for i = 1, #e[2] do n = n + #e[2][i] end "                                      \
    "if n > tonumber(ARGV[3]) then return e[1] end "                                 \
    "return 0"

int pawld_stream_count(const struct pawld_stream_reader *r, const char *last, int want)
{
    return r->fails > 0 && strcmp(r->at, last) == 0 ? 1 : want;
}

int pawld_stream_unstick(struct pawld_stream_reader *r, redisContext *ctx, const char *stream, char *last,
                         size_t n, char *why, size_t wn)
{
    if (r->fails < 2 || strcmp(r->at, last) != 0)
        return 0;
    redisReply *rep = redisCommand(ctx, "EVAL %s 1 %s %s %d %d", SKIP_LUA, stream, last, PAWL_REDIS_MAX_ELEMENTS,
                                   (int)(PAWLD_EVENTS_BATCH_MAX + 65536));
    int rc = 0;
    r->fails = 0; /* checked: whatever the answer, reads go on */
    if (rep != NULL && rep->type == REDIS_REPLY_STRING && rep->len < n) {
        snprintf(why, wn, "%s: entry %s has more fields or bytes than any pawld writes, and no reader takes "
                 "it: skipped", stream, rep->str);
        snprintf(last, n, "%s", rep->str);
        rc = 1;
    } else if (rep == NULL || (rep->type != REDIS_REPLY_INTEGER && rep->type != REDIS_REPLY_NIL)) {
        pawld_redis_say(ctx, rep, "EVAL (checking an entry the reads failed on; the user needs EVAL)", why, wn);
        rc = -1;
    }
    freeReplyObject(rep);
    return rc;
}

void pawld_stream_read_failed(struct pawld_stream_reader *r, const char *last)
{
    if (strcmp(r->at, last) != 0) {
        snprintf(r->at, sizeof r->at, "%s", last);
        r->fails = 0;
    }
    r->fails++;
}

void pawld_stream_read_ok(struct pawld_stream_reader *r)
{
    r->fails = 0;
}

bool pawld_stream_ahead(const char *id, int64_t redis_now_ms, uint64_t *ms)
{
    uint64_t seq;
    return pawld_stream_id(id, ms, &seq) && *ms > (uint64_t)redis_now_ms + 60000;
}

int pawld_stream_read(redisContext *ctx, const struct pawld_stream_reading *rd, int64_t redis_now_ms, char *why,
                      size_t wn)
{
    uint64_t ms;
    for (int round = 0; rd->rounds < 0 || round < rd->rounds; round++) {
        int count = pawld_stream_count(rd->stuck, rd->last, rd->count);
        redisReply *rep = redisCommand(ctx, "XREAD COUNT %d STREAMS %s %s", count, rd->stream, rd->last);
        const redisReply *entries, *fv;
        const char *id;
        int got = pawl_xread_entries(rep, &entries);
        if (got <= 0) { /* nothing new, or not an answer to XREAD */
            if (got < 0) {
                pawld_redis_say(ctx, rep, rd->what, why, wn);
                pawld_stream_read_failed(rd->stuck, rd->last);
            } else {
                pawld_stream_read_ok(rd->stuck);
            }
            freeReplyObject(rep);
            return got;
        }
        pawld_stream_read_ok(rd->stuck);
        for (size_t i = 0; i < entries->elements; i++) {
            if (!pawl_stream_entry(entries->element[i], rd->last_n, &id, &fv)) {
                rd->entry(rd->arg, NULL, NULL);
                continue;
            }
            if (pawld_stream_ahead(id, redis_now_ms, &ms)) { /* every later id would follow it */
                rd->ahead(rd->arg, ms);
                freeReplyObject(rep);
                return 0;
            }
            snprintf(rd->last, rd->last_n, "%s", id);
            rd->entry(rd->arg, id, fv);
        }
        size_t n = entries->elements;
        freeReplyObject(rep);
        if (n < (size_t)count)
            return 0;
    }
    return 0; /* the rest at the next sync */
}

/* Deletes the stream if its newest id is still more than a minute ahead of
 * Redis's clock: once one instance deleted it, the others' deletes do
 * nothing (they would delete what was added since). */
#define RESTART_LUA                                                                          \
    "local t = redis.call('time') "                                                          \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "                 \
    "local r = redis.call('xrevrange', KEYS[1], '+', '-', 'count', 1) "                      \
    "if r[1] then "                                                                          \
    "  local ms = tonumber(string.match(r[1][1], '^(%d+)')) "                                \
    "  if ms and ms > now + 60000 then return redis.call('del', KEYS[1]) end "               \
    "end "                                                                                   \
    "return 0"

int pawld_stream_restart(redisContext *ctx, const char *stream, char *why, size_t wn)
{
    redisReply *rep = redisCommand(ctx, "EVAL %s 1 %s", RESTART_LUA, stream);
    int rc = rep != NULL && rep->type == REDIS_REPLY_INTEGER ? (rep->integer > 0) : -1;
    if (rc < 0)
        pawld_redis_say(ctx, rep, "EVAL (deleting a stream whose ids are ahead of Redis's clock; the user needs "
                        "EVAL, XREVRANGE, TIME and DEL)", why, wn);
    freeReplyObject(rep);
    return rc;
}
