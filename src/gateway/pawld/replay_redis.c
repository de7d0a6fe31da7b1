/* step_up.redis: the step-up record shared by pawld instances, so that a
 * command token one pawld accepted is refused by every other behind the
 * same balancer (each kept its own record, and a token served once per
 * instance). A token id is recorded with one command, SET KEY 1 NX EX TTL:
 * Redis answers OK to the first instance only. Each worker keeps its own
 * connection, made when first needed; the command runs on the worker's
 * thread with the configured timeout (decision 0017: only requests already
 * allowed on a step-up route, with a verified owner co-signature, ask it).
 * A Redis that cannot be reached, or that answers anything else, refuses the
 * request (503) without using the token up; after a failure the worker does
 * not try to connect again for RETRY_MS, so an outage costs each worker at
 * most one timeout per RETRY_MS. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "host.h"
#include "pawld.h"

#define RETRY_MS 1000
#define DEFAULT_PREFIX "pawl:step-up:"
#define PASSWORD_MAX 512

bool pawld_redis_same(const struct pawld_redis *a, const struct pawld_redis *b)
{
    return a->on == b->on && strcmp(a->host, b->host) == 0 && a->port == b->port &&
           pawld_same_str(a->password_file, b->password_file) && pawld_same_str(a->user, b->user) &&
           pawld_same_str(a->prefix, b->prefix) && a->timeout_ms == b->timeout_ms;
}

static struct timeval tv_of(int64_t ms)
{
    return (struct timeval){.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
}

/* The reply's error text, or what went wrong with the connection. */
static void say_failed(redisContext *ctx, const redisReply *rep, const char *what, char *why, size_t n)
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
        say_failed(ctx, rep, "AUTH", why, n);
    freeReplyObject(rep);
    return rc;
}

/* A connection to the configured server, authenticated, with the command
 * timeout set; NULL with why. */
static redisContext *connect_to(const struct pawld_redis *r, const char *dir, char *why, size_t n)
{
    redisContext *ctx = redisConnectWithTimeout(r->host, r->port, tv_of(r->timeout_ms));
    if (ctx == NULL) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    if (ctx->err != 0 || redisSetTimeout(ctx, tv_of(r->timeout_ms)) != REDIS_OK ||
        auth(ctx, r, dir, why, n) != 0) {
        if (ctx->err != 0)
            snprintf(why, n, "%s:%d: %s", r->host, r->port, ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

/* SET key 1 NX EX ttl on ctx: 1 set, 0 there already, -1 with why; *gone
 * when the connection was found closed (the command never ran). */
static int set_key(redisContext *ctx, const char *key, size_t k, long long ttl, bool *gone, char *why,
                   size_t n)
{
    redisReply *rep = redisCommand(ctx, "SET %b 1 NX EX %lld", key, k, ttl);
    int e = errno, rc = -1;
    if (rep != NULL && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0)
        rc = 1;
    else if (rep != NULL && rep->type == REDIS_REPLY_NIL)
        rc = 0;
    else
        say_failed(ctx, rep, "SET", why, n);
    *gone = rep == NULL && (ctx->err == REDIS_ERR_EOF ||
                            (ctx->err == REDIS_ERR_IO && (e == ECONNRESET || e == EPIPE)));
    freeReplyObject(rep);
    return rc;
}

/* 1: the id is recorded now; 0: it was recorded before (a replay); -1:
 * Redis could not be asked (why set). */
static int set_nx(struct pawld_worker *w, const struct pawld_step_up *su, uint64_t now, char *why, size_t n)
{
    const struct pawld_redis *r = &w->world->cfg->step_up_redis;
    int64_t ms = pawld_wall_ms();
    char key[128 + 2 * PAWL_EDGE_CTI_LEN + 1];
    int k = snprintf(key, sizeof key, "%s", r->prefix ? r->prefix : DEFAULT_PREFIX);
    for (size_t i = 0; i < PAWL_EDGE_CTI_LEN && k + 2 < (int)sizeof key; i++)
        k += snprintf(key + k, sizeof key - (size_t)k, "%02x", su->cti[i]);
    long long ttl = su->until > now ? (long long)(su->until - now) : 1;
    int rc = -1;
    /* a kept connection Redis closed (a restart, its idle timeout) is made
     * again at once: the command never reached it. Not after a timeout,
     * when it may have run. */
    for (int fresh = w->redis == NULL; rc < 0; fresh = 1) {
        bool gone = false;
        if (w->redis == NULL && ms < w->redis_retry_ms)
            return snprintf(why, n, "%s", w->redis_why), -1;
        if (w->redis == NULL && (w->redis = connect_to(r, w->world->dir, why, n)) == NULL)
            break;
        if ((rc = set_key(w->redis, key, (size_t)k, ttl, &gone, why, n)) >= 0)
            return rc;
        redisFree(w->redis);
        w->redis = NULL;
        if (fresh || !gone)
            break;
    }
    w->redis_retry_ms = ms + RETRY_MS; /* a fresh connection next time, after RETRY_MS */
    snprintf(w->redis_why, sizeof w->redis_why, "%s (not tried again for a second)", why);
    return -1;
}

bool pawld_replay_record(struct pawld_worker *w, struct pawld_step_up *su, uint64_t now, bool *store_failed)
{
    struct pawld_server_state *srv = w->srv;
    char why[600], esc[700];
    *store_failed = false;
    if (!w->world->cfg->step_up_redis.on)
        return pawld_replay_file_record(srv, su, now, store_failed);
    int rc = set_nx(w, su, now, why, sizeof why);
    if (rc < 0) {
        *store_failed = true;
        snprintf(su->detail, sizeof su->detail, "step_up.redis: the shared record of token ids "
                 "cannot be reached; try again");
        uint64_t skipped;
        if (pawld_ratelog_take(&srv->replay_warned, pawld_wall_ms(), &skipped))
            pawld_log(srv->sinks, "error", "\"msg\":\"step_up.redis: cannot record a token id: the "
                      "request is refused\",\"why\":\"%s\",\"not_logged_before\":%llu",
                      pawld_json_escape(why, esc, sizeof esc), (unsigned long long)skipped);
        return false;
    }
    if (rc == 0) {
        snprintf(su->detail, sizeof su->detail, "command token refused: %s (recorded in step_up.redis)",
                 pawl_edge_reason_str(PAWL_EDGE_REPLAY));
        return false;
    }
    /* in this pawld's record too: a replay here is refused without asking */
    return pawld_step_up_record(su, now, &srv->replay);
}

void pawld_redis_close(struct pawld_worker *w)
{
    if (w->redis != NULL)
        redisFree(w->redis);
    w->redis = NULL;
}

int pawld_redis_probe(const struct pawld_world *wd, char *why, size_t n)
{
    const struct pawld_redis *r = &wd->cfg->step_up_redis;
    redisContext *ctx = connect_to(r, wd->dir, why, n);
    if (ctx == NULL)
        return -1;
    redisReply *rep = redisCommand(ctx, "PING");
    int rc = rep != NULL && rep->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc != 0)
        say_failed(ctx, rep, "PING", why, n);
    freeReplyObject(rep);
    redisFree(ctx);
    return rc;
}
