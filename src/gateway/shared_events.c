/* The detectors' input shared by pawld instances: see shared_events.h.
 *
 * A batch: the version byte, then events, each: its time (8 bytes, little
 * endian, ms on Redis's clock), its status (2), its number of roles (1),
 * then method, path, principal, address, user type and the roles, each a
 * length (2) and its bytes. */
#include "shared_events.h"
#include "shared_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AHEAD_MS 5000       /* an event's time may be ahead of Redis's clock by this (review 17:
                             * a minute let forged future events fill the merge; times are
                             * already on Redis's clock, give or take a sync's skew) */
#define BEHIND_MS 3600000LL /* or behind it by this */

void pawld_events_begin(uint8_t *out, size_t *n)
{
    out[0] = PAWLD_EVENTS_VERSION;
    *n = 1;
}

static void put_u(uint8_t *p, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u(const uint8_t *p, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool pawld_event_pack(const struct pawl_api_event *e, int64_t time_ms, uint8_t *out, size_t cap, size_t *n)
{
    const pawl_str *s[5 + PAWL_DISC_MAX_ROLES] = { &e->method, &e->path, &e->principal, &e->src_ip, &e->user_type };
    size_t ns = 5, need = 11;
    if (e->nroles > PAWL_DISC_MAX_ROLES || e->status < 100 || e->status > 599 || e->method.n == 0 ||
        e->path.n == 0 || e->path.p[0] != '/' || time_ms < 0 || time_ms > (1LL << 53))
        return false;
    for (unsigned i = 0; i < e->nroles; i++)
        s[ns++] = &e->roles[i];
    for (size_t i = 0; i < ns; i++)
        need += 2 + s[i]->n;
    if (need > PAWLD_EVENT_MAX || *n > cap || cap - *n < need)
        return false;
    uint8_t *p = out + *n;
    put_u(p, (uint64_t)time_ms, 8);
    put_u(p + 8, (uint64_t)e->status, 2);
    p[10] = (uint8_t)e->nroles;
    p += 11;
    for (size_t i = 0; i < ns; i++) {
        put_u(p, s[i]->n, 2);
        if (s[i]->n > 0)
            memcpy(p + 2, s[i]->p, s[i]->n);
        p += 2 + s[i]->n;
    }
    *n += need;
    return true;
}

/* The event at p[*at..n) into f (strings point into p), *at past it: 0,
 * or -1 when the bytes do not frame an event. */
static int unpack(const uint8_t *p, size_t n, size_t *at, struct pawl_api_fields *f)
{
    size_t i = *at;
    memset(f, 0, sizeof *f);
    if (n - i < 11 || p[i + 10] > PAWL_DISC_MAX_ROLES)
        return -1;
    f->is_object = f->time_int = f->code_int = true;
    f->time = (int64_t)get_u(p + i, 8);
    f->code = (int64_t)get_u(p + i + 8, 2);
    f->nroles = p[i + 10];
    i += 11;
    pawl_str *s[5 + PAWL_DISC_MAX_ROLES] = { &f->method, &f->path, &f->principal, &f->src_ip, &f->user_type };
    for (unsigned r = 0; r < f->nroles; r++)
        s[5 + r] = &f->roles[r];
    for (size_t k = 0; k < 5 + f->nroles; k++) {
        if (n - i < 2)
            return -1;
        size_t len = (size_t)get_u(p + i, 2);
        if (n - i - 2 < len)
            return -1;
        *s[k] = (pawl_str){ (const char *)p + i + 2, len };
        i += 2 + len;
    }
    if (i - *at > PAWLD_EVENT_MAX)
        return -1;
    *at = i;
    return 0;
}

struct batch {
    char entry[48], from[17];
    uint64_t ms, seq; /* the entry id's */
    uint8_t *bytes;
    size_t n, refs;   /* events of it not fed yet */
};

struct pend {
    int64_t time_ms;
    struct batch *b;
    uint32_t index;
    uint32_t off; /* the event's bytes in b */
};

struct pawld_merge {
    struct pend *v;
    size_t n, cap, max;
    int64_t fed_to; /* the last cutoff fed */
    struct pawld_merge_stats st;
};

struct pawld_merge *pawld_merge_new(size_t max_events)
{
    struct pawld_merge *m = calloc(1, sizeof *m);
    if (m != NULL) {
        m->max = max_events;
        m->fed_to = INT64_MIN;
    }
    return m;
}

static void unref(struct batch *b)
{
    if (--b->refs == 0) {
        free(b->bytes);
        free(b);
    }
}

void pawld_merge_free(struct pawld_merge *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        unref(m->v[i].b);
    free(m->v);
    free(m);
}

static bool room(struct pawld_merge *m)
{
    if (m->n < m->cap)
        return true;
    if (m->cap >= m->max)
        return false;
    size_t cap = m->cap ? 2 * m->cap : 256;
    cap = cap > m->max ? m->max : cap;
    struct pend *v = realloc(m->v, cap * sizeof *v);
    if (v == NULL)
        return false;
    m->v = v;
    m->cap = cap;
    return true;
}

/* The events of b into the merge: 0, or -1 with why at bytes that do not
 * frame one. */
static int add_events(struct pawld_merge *m, struct batch *b, int64_t now_ms, char *why, size_t wn)
{
    struct pawl_api_fields f;
    struct pawl_api_event e;
    struct pawl_diag d;
    size_t at = 1;
    for (uint32_t index = 0; at < b->n; index++) {
        size_t off = at;
        if (unpack(b->bytes, b->n, &at, &f) != 0) {
            snprintf(why, wn, "entry %s: bytes %zu to %zu do not frame an event", b->entry, off, b->n);
            return -1;
        }
        if (pawl_api_event_check(&f, &e, b->entry, index, &d) != PAWL_OK || e.time_ms > now_ms + AHEAD_MS ||
            e.time_ms < now_ms - BEHIND_MS) {
            m->st.refused++;
            continue;
        }
        if (!room(m)) {
            m->st.dropped++;
            continue;
        }
        m->st.added++;
        m->st.late += e.time_ms <= m->fed_to;
        m->v[m->n++] = (struct pend){ e.time_ms, b, index, (uint32_t)off };
        b->refs++;
    }
    return 0;
}

int pawld_merge_add(struct pawld_merge *m, const char *entry, const char *from, const uint8_t *p, size_t n,
                    int64_t now_ms, char *why, size_t wn)
{
    struct batch *b = calloc(1, sizeof *b);
    int rc = -1;
    if (b == NULL || (b->bytes = malloc(n ? n : 1)) == NULL) {
        snprintf(why, wn, "out of memory");
    } else if (strlen(entry) >= sizeof b->entry || !pawld_stream_id(entry, &b->ms, &b->seq) ||
               strlen(from) >= sizeof b->from) {
        snprintf(why, wn, "an entry id that is not MS-SEQ, or a sender id over 16 bytes");

    } else if (n > PAWLD_EVENTS_BATCH_MAX || n < 1 || p[0] != PAWLD_EVENTS_VERSION) {
        snprintf(why, wn, "entry %s: not a batch of version %d of at most %u bytes", entry, PAWLD_EVENTS_VERSION,
                 PAWLD_EVENTS_BATCH_MAX);
    } else {
        snprintf(b->entry, sizeof b->entry, "%s", entry);
        snprintf(b->from, sizeof b->from, "%s", from);
        memcpy(b->bytes, p, n);
        b->n = n;
        b->refs = 1; /* held while adding */
        rc = add_events(m, b, now_ms, why, wn);
        unref(b);
        return rc;
    }
    if (b != NULL)
        free(b->bytes);
    free(b);
    return rc;
}

static int order(const void *x, const void *y)
{
    const struct pend *a = x, *b = y;
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    if (a->b->ms != b->b->ms)
        return a->b->ms < b->b->ms ? -1 : 1;
    if (a->b->seq != b->b->seq)
        return a->b->seq < b->b->seq ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

size_t pawld_merge_take(struct pawld_merge *m, int64_t cutoff_ms, pawld_event_feed feed, void *ctx)
{
    if (m->n == 0) {
        if (cutoff_ms != INT64_MAX && cutoff_ms > m->fed_to)
            m->fed_to = cutoff_ms;
        return 0;
    }
    qsort(m->v, m->n, sizeof *m->v, order);
    size_t k = 0;
    for (; k < m->n && m->v[k].time_ms <= cutoff_ms; k++) {
        const struct pend *q = &m->v[k];
        struct pawl_api_fields f;
        struct pawl_api_event e;
        struct pawl_diag d;
        size_t at = q->off;
        /* checked when added: cannot fail */
        if (unpack(q->b->bytes, q->b->n, &at, &f) == 0 && pawl_api_event_check(&f, &e, "", 0, &d) == PAWL_OK) {
            struct pawld_event_origin o = { q->b->entry, q->index, q->b->from };
            feed(ctx, &e, &o);
        }
        unref(q->b);
    }
    /* judged up to the cutoff; with no cutoff (everything now), up to the
     * latest time fed (review 17: INT64_MAX made every later event late) */
    int64_t to = cutoff_ms == INT64_MAX ? (k > 0 ? m->v[k - 1].time_ms : m->fed_to) : cutoff_ms;
    memmove(m->v, m->v + k, (m->n - k) * sizeof *m->v);
    m->n -= k;
    m->fed_to = to > m->fed_to ? to : m->fed_to;
    return k;
}

size_t pawld_merge_pending(const struct pawld_merge *m)
{
    return m->n;
}

void pawld_merge_stats(const struct pawld_merge *m, struct pawld_merge_stats *out)
{
    *out = m->st;
}
