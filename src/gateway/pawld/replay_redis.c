/* step_up.redis: the step-up record shared by pawld instances, so that a
 * command token one pawld accepted is refused by every other behind the
 * same balancer (each kept its own record, and a token served once per
 * instance). A token id is recorded with SET KEY VALUE NX EX TTL: Redis
 * answers OK to the first instance only. VALUE is random per attempt, so
 * that an attempt whose answer was lost (a timeout, a connection closed
 * after the command went out) can be recognised: the worker remembers it,
 * takes the key back as its own when the same token comes again through it,
 * and otherwise deletes the key once Redis answers again (only if it still
 * holds that value), so that the token the client was told to retry with
 * is not used up by an attempt that was never forwarded.
 *
 * Each worker keeps its own connection (pawld_redis_conn, redis.c), made
 * when first needed; commands run on the worker's thread within the
 * configured timeout (decision 0017:
 * only requests already allowed on a step-up route, with a verified owner
 * co-signature, ask). A Redis that cannot be reached, or that answers
 * anything else, refuses the request (503); after a failure the worker does
 * not try to connect again for the back-off (a second, or ten timeouts). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "pawld.h"

#define DEFAULT_PREFIX "pawl:step-up:"
/* deletes KEYS[1] only if it holds ARGV[1] */
#define RELEASE_LUA "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

struct attempt {
    char key[128 + 2 * PAWL_EDGE_CTI_LEN + 1];
    size_t klen;
    char val[2 * 16 + 1];
    long long ttl;
};

bool pawld_redis_same(const struct pawld_redis *a, const struct pawld_redis *b)
{
    return a->on == b->on && strcmp(a->host, b->host) == 0 && a->port == b->port &&
           pawld_same_str(a->password_file, b->password_file) && pawld_same_str(a->user, b->user) &&
           pawld_same_str(a->prefix, b->prefix) && a->timeout_ms == b->timeout_ms;
}

static int64_t mono_ms(void)
{
    return (int64_t)(pawld_now_ns() / 1000000u);
}

/* The attempt's value when this worker lost the answer to one for its key. */
static const char *pending_val(const struct pawld_worker *w, const struct attempt *a, size_t *at)
{
    for (size_t i = 0; i < w->redis_npending; i++)
        if (w->redis_pending[i].klen == a->klen && memcmp(w->redis_pending[i].key, a->key, a->klen) == 0)
            return *at = i, w->redis_pending[i].val;
    return NULL;
}

/* An attempt whose answer was lost: kept to be taken back or released (once
 * per key: a later attempt for the key reuses its value). The oldest goes
 * when there is no room (its token then stays used up until its key
 * expires). */
static void remember(struct pawld_worker *w, const struct attempt *a)
{
    size_t at;
    if (pending_val(w, a, &at) != NULL)
        return;
    if (w->redis_npending == PAWLD_REDIS_PENDING) {
        memmove(&w->redis_pending[0], &w->redis_pending[1],
                (PAWLD_REDIS_PENDING - 1) * sizeof w->redis_pending[0]);
        w->redis_npending--;
    }
    struct pawld_redis_pending *p = &w->redis_pending[w->redis_npending++];
    memcpy(p->key, a->key, a->klen);
    p->klen = a->klen;
    memcpy(p->val, a->val, sizeof p->val);
    p->until_ms = mono_ms() + 1000 * a->ttl;
}

static void forget(struct pawld_worker *w, size_t i)
{
    memmove(&w->redis_pending[i], &w->redis_pending[i + 1],
            (w->redis_npending - i - 1) * sizeof w->redis_pending[0]);
    w->redis_npending--;
}

/* Deletes the keys of attempts whose answer was lost, where they hold the
 * attempt's value. An attempt whose key is not there yet stays until its
 * key would have expired: its SET may still land late (a retransmission, a
 * stalled tunnel; review 13), and is released then. One Redis refuses (no
 * EVAL for this user, say) is dropped and logged, so that it does not hold
 * the worker's step-up requests. 0, or -1 with why (no connection). */
int pawld_redis_release(struct pawld_worker *w, char *why, size_t n)
{
    char esc[700];
    for (size_t i = 0; i < w->redis_npending;) {
        const struct pawld_redis_pending *p = &w->redis_pending[i];
        if (mono_ms() >= p->until_ms) {
            forget(w, i);
            continue;
        }
        redisContext *ctx = pawld_redis_conn_get(&w->redis, why, n);
        if (ctx == NULL)
            return -1;
        redisReply *rep = redisCommand(ctx, "EVAL %s 1 %b %s", RELEASE_LUA, p->key, p->klen, p->val);
        int type = rep ? rep->type : -1;
        long long deleted = type == REDIS_REPLY_INTEGER ? rep->integer : 0;
        if (type != REDIS_REPLY_INTEGER)
            pawld_redis_say(ctx, rep, "EVAL (release)", why, n);
        freeReplyObject(rep);
        if (type == REDIS_REPLY_ERROR) {
            pawld_log(w->srv->sinks, "error", "\"msg\":\"step_up.redis: cannot release the key of an "
                      "attempt whose answer was lost: its token stays used up\",\"why\":\"%s\"",
                      pawld_json_escape(why, esc, sizeof esc));
            forget(w, i);
        } else if (type != REDIS_REPLY_INTEGER) {
            pawld_redis_conn_fail(&w->redis, why);
            return -1;
        } else if (deleted > 0) {
            forget(w, i);
        } else {
            i++;
        }
    }
    return 0;
}

/* SET key value NX EX ttl: 1 set, 0 there already, -1 with why; *sent when
 * the command may have reached Redis without its answer coming back,
 * *closed when that was because Redis had closed the connection. */
static int set_key(redisContext *ctx, const struct attempt *a, bool *sent, bool *closed, char *why,
                   size_t n)
{
    redisReply *rep = redisCommand(ctx, "SET %b %s NX EX %lld", a->key, a->klen, a->val, a->ttl);
    int e = errno, rc = -1;
    if (rep != NULL && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0)
        rc = 1;
    else if (rep != NULL && rep->type == REDIS_REPLY_NIL)
        rc = 0;
    else
        pawld_redis_say(ctx, rep, "SET", why, n);
    *sent = rep == NULL; /* an error reply: it did not run */
    *closed = rep == NULL && (ctx->err == REDIS_ERR_EOF ||
                              (ctx->err == REDIS_ERR_IO && (e == ECONNRESET || e == EPIPE)));
    freeReplyObject(rep);
    return rc;
}

/* Whether the key holds value (an attempt of this worker's). -1: cannot say. */
static int holds(redisContext *ctx, const struct attempt *a, const char *value, char *why, size_t n)
{
    redisReply *rep = redisCommand(ctx, "GET %b", a->key, a->klen);
    int rc = -1;
    if (rep != NULL && rep->type == REDIS_REPLY_STRING)
        rc = strcmp(rep->str, value) == 0;
    else if (rep != NULL && rep->type == REDIS_REPLY_NIL)
        rc = 0;
    else
        pawld_redis_say(ctx, rep, "GET", why, n);
    freeReplyObject(rep);
    return rc;
}

/* One try on the worker's connection: 1 recorded now (or taken back from an
 * earlier attempt of this worker's with the same value, whose answer was
 * lost and which was never forwarded), 0 recorded before, -1 with why and
 * *sent, *closed as set_key says. */
static int try_once(struct pawld_worker *w, struct attempt *a, bool *sent, bool *closed, char *why,
                    size_t n)
{
    size_t at = 0;
    bool mine = pending_val(w, a, &at) != NULL;
    *sent = *closed = false;
    redisContext *ctx = pawld_redis_conn_get(&w->redis, why, n);
    if (ctx == NULL)
        return -1;
    int rc = set_key(ctx, a, sent, closed, why, n);
    if (rc == 0 && mine)
        rc = holds(ctx, a, a->val, why, n); /* 1: ours, used now */
    if (rc >= 0 && mine)
        forget(w, at);
    return rc;
}

/* 1: the id is recorded now; 0: it was recorded before (a replay); -1:
 * Redis could not be asked (why set). */
static int set_nx(struct pawld_worker *w, const struct pawld_step_up *su, uint64_t now, char *why, size_t n)
{
    const struct pawld_redis *r = &w->redis.r;
    struct attempt a;
    unsigned char rnd[16];
    int k = snprintf(a.key, sizeof a.key, "%s", r->prefix ? r->prefix : DEFAULT_PREFIX);
    for (size_t i = 0; i < PAWL_EDGE_CTI_LEN && k + 2 < (int)sizeof a.key; i++)
        k += snprintf(a.key + k, sizeof a.key - (size_t)k, "%02x", su->cti[i]);
    a.klen = (size_t)k;
    a.ttl = su->until > now ? (long long)(su->until - now) : 1;
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return snprintf(why, n, "no random bytes for the attempt"), -1;
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(a.val + 2 * i, 3, "%02x", rnd[i]);
    (void)pawld_redis_release(w, why, n); /* lost attempts first, when Redis answers */
    size_t at;
    const char *was = pending_val(w, &a, &at); /* not released: the same value again */
    if (was != NULL)
        memcpy(a.val, was, sizeof a.val);
    bool sent = false, closed = false, kept = w->redis.ctx != NULL;
    int rc = try_once(w, &a, &sent, &closed, why, n);
    if (rc < 0 && kept && closed) {
        /* a kept connection Redis closed (a restart, its idle timeout):
         * once more on a new one; if the first did run after all (a proxy
         * between), the key holds this attempt's value and try_once takes
         * it back (review: it was called a replay) */
        remember(w, &a);
        pawld_redis_conn_drop(&w->redis);
        rc = try_once(w, &a, &sent, &closed, why, n);
    }
    if (rc < 0) {
        if (sent)
            remember(w, &a);
        if (w->redis.ctx != NULL) /* a command failed on it (a failed connect started the back-off,
                                   * and one not over yet is not a new failure: review 13) */
            pawld_redis_conn_fail(&w->redis, why);
    }
    return rc;
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
        if (pawld_ratelog_take(&w->redis_warned, pawld_wall_ms(), &skipped))
            pawld_log(srv->sinks, "error", "\"msg\":\"step_up.redis: cannot record a token id: the "
                      "request is refused\",\"why\":\"%s\",\"not_logged_before\":%llu",
                      pawld_json_escape(why, esc, sizeof esc), (unsigned long long)skipped);
        return false;
    }
    if (rc == 0) {
        /* not kept in this pawld's record: the id may be an attempt whose
         * answer another instance lost, which that instance releases */
        snprintf(su->detail, sizeof su->detail, "command token refused: %s (recorded in step_up.redis)",
                 pawl_edge_reason_str(PAWL_EDGE_REPLAY));
        return false;
    }
    /* in this pawld's record too: a replay here is refused without asking */
    return pawld_step_up_record(su, now, &srv->replay);
}

int pawld_redis_open(struct pawld_worker *w)
{
    const struct pawld_world *wd = w->world;
    return wd->cfg->step_up_redis.on ? pawld_redis_conn_init(&w->redis, &wd->cfg->step_up_redis, wd->dir) : 0;
}

void pawld_redis_close(struct pawld_worker *w)
{
    pawld_redis_conn_free(&w->redis);
}

/* What about the server could make it forget ids or refuse a release, in
 * why ("" when nothing): keys evicted (maxmemory with a policy other than
 * noeviction), no append-only file (a restart forgets every id), EVAL not
 * allowed (review 12, 13). */
static void check_server(redisContext *ctx, const struct pawld_redis *r, char *why, size_t n)
{
    char aof[16], key[160], evict[300];
    why[0] = '\0';
    redisReply *pers = redisCommand(ctx, "INFO persistence");
    pawld_redis_info_field(pers, "aof_enabled", aof, sizeof aof);
    freeReplyObject(pers);
    if (pawld_redis_may_evict(ctx, evict, sizeof evict)) {
        snprintf(why, n, "%s: Redis may evict step-up ids, and a replay would then be served (set "
                 "maxmemory-policy noeviction)", evict);
        return;
    }
    if (strcmp(aof, "0") == 0) {
        snprintf(why, n, "appendonly is off: a restart of Redis forgets the step-up ids, and a "
                 "replay would then be served (set appendonly yes)");
        return;
    }
    snprintf(key, sizeof key, "%sprobe", r->prefix ? r->prefix : DEFAULT_PREFIX);
    redisReply *rep = redisCommand(ctx, "EVAL %s 1 %s %s", RELEASE_LUA, key, "-");
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
        pawld_redis_say(ctx, rep, "EVAL (pawld releases the keys of attempts whose answer was lost)", why, n);
    freeReplyObject(rep);
}

int pawld_redis_probe(const struct pawld_world *wd, char *why, size_t n)
{
    const struct pawld_redis *r = &wd->cfg->step_up_redis;
    redisContext *ctx = pawld_redis_connect(r, wd->dir, why, n);
    if (ctx == NULL)
        return -1;
    redisReply *rep = redisCommand(ctx, "PING");
    int rc = rep != NULL && rep->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc != 0)
        pawld_redis_say(ctx, rep, "PING", why, n);
    freeReplyObject(rep);
    if (rc == 0) {
        check_server(ctx, r, why, n);
        rc = why[0] ? -1 : 0;
    }
    redisFree(ctx);
    return rc;
}
