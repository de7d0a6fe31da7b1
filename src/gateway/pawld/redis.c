/* The connection to a Redis pawld instances share (step_up.redis,
 * rate_limits.redis): made within the configured timeout, authenticated,
 * the timeout kept for every command. */
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

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
    if (ctx->err != 0 || redisSetTimeout(ctx, tv_of(r->timeout_ms)) != REDIS_OK ||
        auth(ctx, r, dir, why, n) != 0) {
        if (ctx->err != 0)
            snprintf(why, n, "%s:%d: %s", r->host, r->port, ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

