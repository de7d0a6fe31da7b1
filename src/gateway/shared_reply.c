/* What pawld reads back from the Redis its instances share: see
 * shared_reply.h. */
#include "shared_reply.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/detect.h"

/* A string of 1 to 18 digits (no sign, no space: strtoll takes both) as a
 * number: true, or false. */
static bool digits(const redisReply *r, long long *out)
{
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 18)
        return false;
    long long v = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9')
            return false;
        v = v * 10 + (r->str[i] - '0');
    }
    *out = v;
    return true;
}

static redisReplyObjectFunctions bounded;
static void *(*unbounded_array)(const redisReadTask *, int);
static pthread_once_t bounded_once = PTHREAD_ONCE_INIT;

static void *bounded_array(const redisReadTask *t, int elements)
{
    return elements > PAWL_REDIS_MAX_ELEMENTS ? NULL : unbounded_array(t, elements);
}

static void make_bounded(void)
{
    redisReader *r = redisReaderCreate(); /* hiredis's own functions, to call on */
    if (r == NULL)
        abort();
    bounded = *r->fn;
    unbounded_array = bounded.createArray;
    bounded.createArray = bounded_array;
    redisReaderFree(r);
}

void pawl_redis_reader_bound(redisReader *r)
{
    pthread_once(&bounded_once, make_bounded);
    r->fn = &bounded;
}

int pawl_redis_time_ms(const redisReply *rep, int64_t *ms)
{
    long long sec, usec;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || !digits(rep->element[0], &sec) ||
        !digits(rep->element[1], &usec) || sec > 100000000000LL || usec > 999999)
        return -1;
    *ms = sec * 1000 + usec / 1000;
    return 0;
}

const redisReply *pawl_redis_field(const redisReply *fv, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + 1 < fv->elements; i += 2) {
        const redisReply *k = fv->element[i], *v = fv->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && k->len == nl && memcmp(k->str, name, nl) == 0 &&
            v->type == REDIS_REPLY_STRING)
            return v;
    }
    return NULL;
}

int pawl_xread_entries(const redisReply *rep, const redisReply **entries)
{
    if (rep != NULL && rep->type == REDIS_REPLY_NIL)
        return 0;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
        rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements != 2 ||
        rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    *entries = rep->element[0]->element[1];
    return 1;
}

bool pawl_stream_entry(const redisReply *en, size_t id_max, const char **id, const redisReply **fv)
{
    if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 || en->element[0]->type != REDIS_REPLY_STRING ||
        en->element[0]->len >= id_max || strlen(en->element[0]->str) != en->element[0]->len ||
        en->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    *id = en->element[0]->str;
    *fv = en->element[1];
    return true;
}

static bool is(const redisReply *r, const char *want)
{
    return r != NULL && strlen(want) == r->len && memcmp(r->str, want, r->len) == 0;
}

bool pawld_stream_id(const char *s, uint64_t *ms, uint64_t *seq)
{
    uint64_t v[2] = { 0, 0 };
    int part = 0;
    size_t digits = 0;
    for (; *s; s++) {
        if (*s == '-' && part == 0 && digits > 0) {
            part = 1;
            digits = 0;
        } else if (*s >= '0' && *s <= '9' && digits < 19) {
            v[part] = v[part] * 10 + (uint64_t)(*s - '0');
            digits++;
        } else {
            return false;
        }
    }
    *ms = v[0];
    *seq = v[1];
    return part == 1 && digits > 0;
}

bool pawld_block_entry(struct pawld_block_clock *c, const char *id, const redisReply *fv,
                       struct pawld_block_event *e)
{
    const redisReply *op = pawl_redis_field(fv, "op"), *kind = pawl_redis_field(fv, "kind"),
                     *subject = pawl_redis_field(fv, "subject"), *det = pawl_redis_field(fv, "detector");
    memset(e, 0, sizeof *e);
    if (!(is(op, "block") || is(op, "lift")) || !(is(kind, "principal") || is(kind, "address")) ||
        subject == NULL || subject->len == 0 || subject->len >= sizeof e->subject)
        return false;
    e->op = is(op, "lift") ? PAWLD_BLOCK_LIFT : PAWLD_BLOCK_SET;
    e->kind = is(kind, "address") ? PAWL_BLOCK_ADDRESS : PAWL_BLOCK_PRINCIPAL;
    memcpy(e->subject, subject->str, subject->len);
    e->subject_len = subject->len;
    if (e->op == PAWLD_BLOCK_LIFT)
        return true;
    long long ms;
    uint64_t at, seq;
    /* an id's time ahead of Redis's clock is forged (Redis gives later ids
     * that time too: review 16), and so is one in the distant past */
    if (det == NULL || det->len >= sizeof e->detector || strlen(det->str) != det->len ||
        pawl_detector_index(det->str) == PAWL_DETECTORS || !pawld_stream_id(id, &at, &seq) ||
        at > (uint64_t)c->redis_now_ms + 60000 || (int64_t)at <= c->redis_now_ms - 2 * PAWLD_BLOCK_MAX_FOR_MS ||
        !digits(pawl_redis_field(fv, "for"), &ms) || ms <= 0 || ms > PAWLD_BLOCK_MAX_FOR_MS)
        return false;
    memcpy(e->detector, det->str, det->len);
    e->until_ms = (int64_t)at + ms + c->skew_ms;
    if (ms > c->keep_ms) /* an instance with a longer block_for: its entries are kept as long (review 16) */
        c->keep_ms = ms;
    return true;
}

int pawl_rl_reply(const redisReply *rep, const char *want, size_t n, char seed[17], int64_t *debts, char *why,
                  size_t wn)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len != 16 ||
        strspn(rep->element[0]->str, "0123456789abcdef") != 16) {
        snprintf(why, wn, "the answer is not {seed, ...} with a seed of 16 hex digits");
        return -1;
    }
    memcpy(seed, rep->element[0]->str, 17);
    if (want == NULL || strcmp(seed, want) != 0)
        return 1;
    if (rep->elements != n + 1) {
        snprintf(why, wn, "%zu answers for %zu keys", rep->elements - 1, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *d = rep->element[i + 1];
        debts[i] = INT64_MIN;
        if (d->type != REDIS_REPLY_INTEGER)
            continue;
        if (d->integer > PAWL_RL_MAX_DEBT_US || d->integer < -PAWL_RL_MAX_DEBT_US) {
            snprintf(why, wn, "the answer for key %zu, %lld µs ahead, is beyond a year either way", i + 1,
                     d->integer);
            return -1;
        }
        debts[i] = d->integer;
    }
    return 0;
}
