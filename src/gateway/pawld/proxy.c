/* proxy.c: forwarding an allowed request to its route's upstream and the
 * response back, both streamed through bounded buffers (a side that is
 * ahead pauses the other above PAWLD_IO_HIGH_WATER), over kept-alive
 * connections per worker and upstream server.
 *
 * The upstream gets a request head pawld writes itself: the method and
 * target as received, the client's headers minus every reserved one
 * (pawl_http_is_reserved: the identity header, X-Pawl-*, Forwarded,
 * X-Forwarded-*, X-Real-IP, hop-by-hop, Content-Length and Expect; with '_'
 * for '-' too), then the verified identity, Forwarded and
 * X-Forwarded-For/-Proto, the owner co-signed command token when one was
 * verified, and the body's framing. The response comes back the same way:
 * hop-by-hop headers dropped, framing rewritten.
 *
 * What goes upstream is corked for the length of one pass of the request
 * reader over the input at hand and sent only when the pass found nothing
 * wrong: a smuggling attempt in one packet (a bad chunk size after a valid
 * head) never reaches the upstream, not even its head. A body error in a
 * later packet aborts the upstream request mid-body: the upstream sees a
 * truncated request and a closed connection, never a complete request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/extauthz.h"
#include "blocks.h"
#include "pawld.h"
#include "util.h"

#define UP_HEAD_MAX (64u * 1024u) /* a response head larger than this is refused */
#define UP_MAX_HEADERS 128
#define UP_IDLE_MS 30000          /* kept-alive upstream connections live this long idle */

struct pawld_pool {
    struct pawld_upconn *idle;
    unsigned nidle;
    unsigned open; /* connections made from this pool and not yet freed (max_conns) */
    unsigned rr; /* next server (used in the upstream's first pool) */
};

struct pawld_upconn {
    struct pawld_io io;
    struct pawld_worker *w;
    struct pawld_conn *c; /* the client served; NULL while idle */
    struct pawld_world *world; /* pinned: the world whose upstream and server indexes these are */
    size_t upstream, server;
    uv_timer_t timer;
    int handles;
    http_parser parser;
    bool reused, got_bytes, head_done, msg_done, chunked_out, close_delimited, chunk_end_written;
    bool stray; /* bytes after the end of the response: out of step, never reused */
    bool announced; /* a response without a body announced one: never reused (client_head) */
    bool counted; /* in its pool's open count */
    struct pawld_upconn *next_idle;
    char *hbuf;
    size_t hlen;
    struct { size_t no, nl, vo, vl; } hdr[UP_MAX_HEADERS];
    size_t nhdr;
    bool in_value, too_big, bad_te;
    /* a chunked body's raw framing, checked before http-parser reads it (its
     * non-strict mode takes "3\rX" for a size line: review) */
    struct pawld_chunk_scan ck;
    bool scan, scan_next; /* scanning; to scan from where the parser paused at the head's end */
    const char *bad_chunk; /* why the framing is wrong, or NULL */
    uint64_t due; /* the timeout's deadline in loop time; 0: none (up_arm) */
};

static void up_data(struct pawld_io *io, const char *p, size_t n);
static void up_ready(struct pawld_io *io);
static void up_error(struct pawld_io *io, int uverr);
static void up_drain(struct pawld_io *io);
static void up_closed(struct pawld_io *io);
static const struct pawld_io_ops up_ops = {up_data, up_ready, up_error, up_drain, up_closed};

/* ---- pools ---------------------------------------------------------------- */

struct pawld_pool *pawld_pools_new(const struct pawld_world *world)
{
    size_t n = world->cfg->nupstreams * PAWLD_MAX_SERVERS;
    return calloc(n ? n : 1, sizeof(struct pawld_pool));
}

static void up_close(struct pawld_upconn *up);

void pawld_pools_close_idle(struct pawld_pool *pools, const struct pawld_world *world)
{
    for (size_t i = 0; pools && i < world->cfg->nupstreams * PAWLD_MAX_SERVERS; i++)
        while (pools[i].idle) {
            struct pawld_upconn *up = pools[i].idle;
            pools[i].idle = up->next_idle;
            pools[i].nidle--;
            up_close(up);
        }
}

void pawld_pools_free(struct pawld_pool *pools, const struct pawld_world *world)
{
    pawld_pools_close_idle(pools, world);
    free(pools);
}

/* The upstream's configuration, from the world the connection was made in
 * (a reload may have removed or reordered upstreams since). */
static const struct pawld_upstream *up_cfg(const struct pawld_upconn *up)
{
    return &up->world->cfg->upstreams[up->upstream];
}

static struct pawld_pool *pool_of(struct pawld_upconn *up)
{
    if (up->world != up->w->world || up->w->pools == NULL)
        return NULL; /* a reload replaced the pools, or the worker drains */
    return &up->w->pools[up->upstream * PAWLD_MAX_SERVERS + up->server];
}

static void pool_remove(struct pawld_upconn *up)
{
    struct pawld_pool *pl = pool_of(up);
    for (struct pawld_upconn **pp = pl ? &pl->idle : NULL; pp && *pp; pp = &(*pp)->next_idle)
        if (*pp == up) {
            *pp = up->next_idle;
            pl->nidle--;
            return;
        }
}

/* ---- upstream connection lifetime ----------------------------------------- */

static void up_handle_gone(struct pawld_upconn *up)
{
    if (--up->handles == 0) {
        struct pawld_pool *pl = up->counted ? pool_of(up) : NULL;
        if (pl != NULL) /* a reload's new pools never counted it */
            pl->open--;
        pawld_world_unref(up->world);
        free(up->hbuf);
        free(up);
    }
}

static void up_timer_closed(uv_handle_t *h)
{
    up_handle_gone(h->data);
}

static void up_closed(struct pawld_io *io)
{
    struct pawld_upconn *up = io->owner;
    if (!uv_is_closing((uv_handle_t *)&up->timer))
        uv_close((uv_handle_t *)&up->timer, up_timer_closed);
    up_handle_gone(up);
}

static void up_close(struct pawld_upconn *up)
{
    if (up->c) {
        up->c->up = NULL;
        up->c = NULL;
    }
    uv_timer_stop(&up->timer);
    pawld_io_close(&up->io);
}

static void up_fire(uv_timer_t *t);
static void up_timeout(uv_timer_t *t);

/* The connection's timeout (connect, response, each read, idle in the
 * pool) is a deadline: see pawld_deadline_set. */
static void up_arm(struct pawld_upconn *up, int64_t ms)
{
    pawld_deadline_set(&up->timer, &up->due, ms, up_fire);
}

static void up_fire(uv_timer_t *t)
{
    struct pawld_upconn *up = t->data;
    if (pawld_deadline_reached(t, &up->due, up_fire))
        up_timeout(t);
}

/* ---- failures ------------------------------------------------------------- */

static void acquire(struct pawld_conn *c, size_t u, bool fresh);
static int cork(struct pawld_conn *c, const char *p, size_t n);
static void complete(struct pawld_upconn *up);
static const http_parser_settings resp_settings;

/* up's upstream in the worker's world: its index, which a reload may have
 * moved (found by name), or -1 when the reload removed it. */
static long upstream_now(const struct pawld_worker *w, const struct pawld_upconn *up)
{
    if (up->world == w->world)
        return (long)up->upstream;
    for (size_t i = 0; i < w->world->cfg->nupstreams; i++)
        if (strcmp(w->world->cfg->upstreams[i].name, up_cfg(up)->name) == 0)
            return (long)i;
    return -1;
}

static void up_fail(struct pawld_upconn *up, enum pawl_reason r, const char *detail)
{
    struct pawld_conn *c = up->c;
    struct pawld_worker *w = up->w;
    /* once more on a fresh connection only when the upstream cannot have
     * acted on the request: a kept-alive connection it had closed (not a
     * timeout: it may be executing it), no byte answered, a GET or HEAD
     * (never a command twice), and its upstream still configured (after a
     * reload, the one of that name: review, any SIGHUP made this a 502) */
    long u = upstream_now(w, up);
    bool retry = c && up->reused && !up->got_bytes && c->retry_safe &&
                 r != PAWL_R_UPSTREAM_TIMEOUT && c->up_tries == 0 && c->fwd_head && u >= 0;
    const char *name = up_cfg(up)->name;
    up_close(up);
    if (c == NULL)
        return;
    if (retry) { /* a kept-alive connection the upstream had closed: once more, fresh */
        c->up_tries++;
        acquire(c, u, true);
        return;
    }
    pthread_mutex_lock(&w->metrics_lock);
    if (r == PAWL_R_UPSTREAM_TIMEOUT)
        w->metrics.upstream_timeouts++;
    else
        w->metrics.upstream_errors++;
    pthread_mutex_unlock(&w->metrics_lock);
    uint64_t skipped; /* one line per failed request: clients can cause them (review: 27,933 in 3 s) */
    if (pawld_ratelog_take(&w->upstream_warned, pawld_wall_ms(), &skipped))
        pawld_log(w->sinks, "warn",
                  "\"msg\":\"upstream failed\",\"upstream\":\"%s\",\"reason\":\"%s\",\"not_logged_before\":%llu",
                  name, pawl_reason_name(r), (unsigned long long)skipped);
    if (c->resp_started)
        pawld_conn_close(c);
    else
        pawld_conn_deny(c, r, detail, true);
}

static void up_timeout(uv_timer_t *t)
{
    struct pawld_upconn *up = t->data;
    if (up->c == NULL) { /* idle too long */
        pool_remove(up);
        up_close(up);
        return;
    }
    up_fail(up, PAWL_R_UPSTREAM_TIMEOUT,
            up->io.handshaken ? "the upstream did not answer in time"
                              : "the upstream did not accept the connection in time");
}

static void up_error(struct pawld_io *io, int uverr)
{
    struct pawld_upconn *up = io->owner;
    char why[160];
    if (up->c == NULL) {
        pool_remove(up);
        up_close(up);
        return;
    }
    if (uverr == UV_EOF && up->head_done) { /* the end of a body delimited by the close */
        http_parser_execute(&up->parser, &resp_settings, NULL, 0);
        if (up->msg_done) {
            complete(up);
            return;
        }
    }
    snprintf(why, sizeof why, "upstream %s: %s", up_cfg(up)->name,
             uverr == UV_EOF ? "closed the connection before answering" : uv_strerror(uverr));
    up_fail(up, PAWL_R_UPSTREAM_UNAVAILABLE, why);
}

/* ---- the response ---------------------------------------------------------- */

static int keep_bytes(struct pawld_upconn *up, const char *p, size_t n)
{
    if (up->hlen + n > UP_HEAD_MAX) {
        up->too_big = true;
        return -1;
    }
    if (up->hbuf == NULL && (up->hbuf = malloc(UP_HEAD_MAX)) == NULL)
        return -1;
    memcpy(up->hbuf + up->hlen, p, n);
    up->hlen += n;
    return 0;
}

static int on_resp_field(http_parser *p, const char *at, size_t n)
{
    struct pawld_upconn *up = p->data;
    if (up->in_value || up->nhdr == 0) {
        if (up->nhdr == UP_MAX_HEADERS) {
            up->too_big = true;
            return -1;
        }
        up->hdr[up->nhdr].no = up->hlen;
        up->hdr[up->nhdr].nl = up->hdr[up->nhdr].vl = 0;
        up->nhdr++;
        up->in_value = false;
    }
    up->hdr[up->nhdr - 1].nl += n;
    return keep_bytes(up, at, n);
}

static int on_resp_value(http_parser *p, const char *at, size_t n)
{
    struct pawld_upconn *up = p->data;
    if (!up->in_value) {
        up->hdr[up->nhdr - 1].vo = up->hlen;
        up->in_value = true;
    }
    up->hdr[up->nhdr - 1].vl += n;
    return keep_bytes(up, at, n);
}

static bool hop_by_hop(pawl_str name)
{
    static const char *const drop[] = {"connection", "keep-alive", "proxy-connection", "te",
                                       "trailer", "transfer-encoding", "upgrade", "content-length"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (pawl__str_ieq_cstr(name, drop[i]))
            return true;
    return false;
}

/* "name: value" and CRLF. */
static void header(struct pawl__out *o, pawl_str name, pawl_str value)
{
    pawl__out_str(o, name);
    pawl__out_put(o, ": ", 2);
    pawl__out_str(o, value);
    pawl__out_put(o, "\r\n", 2);
}

/* The client's response head: status, the upstream's end-to-end headers,
 * and framing pawld chooses (length, chunked, or end at close); -1 when it
 * does not fit, or (bad_te) the upstream used a coding other than chunked. */
static int client_head(struct pawld_upconn *up, char *out, size_t cap)
{
    struct pawld_conn *c = up->c;
    http_parser *p = &up->parser;
    int status = p->status_code;
    struct pawl__out o = {out, 0, cap, false};
    unsigned te = 0;
    pawld_status_line(&o, status);
    for (size_t i = 0; i < up->nhdr; i++) {
        pawl_str name = {up->hbuf + up->hdr[i].no, up->hdr[i].nl};
        pawl_str value = {up->hbuf + up->hdr[i].vo, up->hdr[i].vl};
        /* pawld decodes chunked only: any other coding would reach the
         * client stripped of the header that names it */
        if (pawl__str_ieq_cstr(name, "transfer-encoding") &&
            (te++ > 0 || !pawl__str_ieq_cstr(value, "chunked"))) {
            up->bad_te = true;
            return -1;
        }
        if (!hop_by_hop(name))
            header(&o, name, value);
    }
    bool no_body = c->head_method || status == 204 || status == 304;
    bool length = !(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX;
    /* a response that has no body but announces one (a length above 0, or
     * chunked): should the upstream send that body after all, late, it
     * would be read as the next request's response on this connection,
     * another client's (review: pool poisoning). A 204 with
     * Content-Length: 0, which many frameworks send, announces nothing. */
    up->announced = no_body && ((p->flags & F_CHUNKED) || (length && p->content_length > 0));
    if (length && status != 204) {
        pawl__out_cstr(&o, "Content-Length: ");
        pawl__out_u64(&o, p->content_length);
        pawl__out_put(&o, "\r\n", 2);
    } else if (!no_body && c->h1->parser.http_minor >= 1) {
        up->chunked_out = true;
    } else if (!no_body) {
        up->close_delimited = true;
    }
    if (up->chunked_out)
        pawl__out_cstr(&o, "Transfer-Encoding: chunked\r\n");
    if (up->close_delimited || !c->keep_alive || c->w->draining) {
        c->keep_alive = false;
        pawl__out_cstr(&o, "Connection: close\r\n");
    }
    pawl__out_put(&o, "\r\n", 2);
    return o.full ? -1 : (int)o.len;
}

static int on_resp_headers(http_parser *p)
{
    struct pawld_upconn *up = p->data;
    if (p->status_code < 200) /* interim answers are dropped (never a body); no upgrades */
        return p->status_code == 101 ? -1 : 1;
    /* the upstream's header bytes, ": " and CRLF per header, the status line and framing */
    size_t cap = up->hlen + 4 * up->nhdr + 512;
    char *head = pawl_gw_block_alloc(cap, &cap);
    int n = head ? client_head(up, head, cap) : -1;
    if (n < 0 || pawld_io_write(&up->c->io, head, (size_t)n) != 0) {
        pawl_gw_block_free(head, cap);
        return -1;
    }
    pawl_gw_block_free(head, cap);
    up->head_done = true;
    up->c->resp_started = true;
    /* 1: no body follows, whatever Content-Length says (RFC 9112 6.3: a
     * response to HEAD, a 204, a 304); the parser would otherwise wait for it */
    if (up->c->head_method || p->status_code == 204 || p->status_code == 304)
        return 1;
    if (p->flags & F_CHUNKED) { /* up_data scans the body's framing from here on */
        memset(&up->ck, 0, sizeof up->ck);
        up->ck.head_lf = true;
        up->scan_next = true;
        http_parser_pause(p, 1);
    }
    return 0;
}

static int on_resp_body(http_parser *p, const char *at, size_t n)
{
    struct pawld_upconn *up = p->data;
    struct pawld_io *cio = &up->c->io;
    char size[32];
    if (up->chunked_out) {
        int k = snprintf(size, sizeof size, "%zx\r\n", n);
        if (pawld_io_write(cio, size, (size_t)k) != 0 || pawld_io_write(cio, at, n) != 0 ||
            pawld_io_write(cio, "\r\n", 2) != 0)
            return -1;
    } else if (pawld_io_write(cio, at, n) != 0) {
        return -1;
    }
    if (cio->queued >= PAWLD_IO_HIGH_WATER)
        pawld_io_pause(&up->io); /* the client is slower: wait for it */
    return 0;
}

static int on_resp_begin(http_parser *p)
{
    struct pawld_upconn *up = p->data;
    up->hlen = up->nhdr = 0;
    up->in_value = false;
    return 0;
}

static int on_resp_complete(http_parser *p)
{
    struct pawld_upconn *up = p->data;
    if (p->status_code >= 200) {
        up->msg_done = true;
        http_parser_pause(p, 1);
    }
    return 0;
}

static const http_parser_settings resp_settings = {
    .on_message_begin = on_resp_begin,
    .on_header_field = on_resp_field,
    .on_header_value = on_resp_value,
    .on_headers_complete = on_resp_headers,
    .on_body = on_resp_body,
    .on_message_complete = on_resp_complete,
};

/* The response is complete: the upstream connection goes back to its
 * pool (or closes), the client goes on to its next request. */
static void complete(struct pawld_upconn *up)
{
    struct pawld_conn *c = up->c;
    /* an upstream that answered before the request body was all sent is out
     * of step with it: reusing it would let the rest of the body be read
     * as the next request (review finding: smuggling with a forged identity) */
    bool keep = http_should_keep_alive(&up->parser) && !up->close_delimited && !up->stray &&
                !up->announced && c->state == PAWLD_C_RESPONSE && c->cork.len == 0 && !c->held &&
                !up->io.paused && up->io.queued == 0; /* nor with request bytes still on their way to it */
    if (up->chunked_out && !up->chunk_end_written && pawld_io_write(&c->io, "0\r\n\r\n", 5) != 0)
        keep = false;
    c->up = NULL;
    up->c = NULL;
    struct pawld_pool *pl = pool_of(up);
    if (keep && pl && pl->nidle < up_cfg(up)->max_idle && !up->w->draining) {
        up->next_idle = pl->idle;
        pl->idle = up;
        pl->nidle++;
        up_arm(up, UP_IDLE_MS);
    } else {
        up_close(up);
    }
    if (c->state != PAWLD_C_RESPONSE)
        c->keep_alive = false; /* answered before the request body ended */
    pawld_conn_finish(c);
}

/* Feeds p[0..n) to the response parser, a chunked body's framing checked
 * first (up->scan); returns how much the parser took. A bad framing stops
 * it (up->bad_chunk) before any of those bytes reaches the client. */
static size_t resp_feed(struct pawld_upconn *up, const char *p, size_t n)
{
    size_t done = 0;
    for (;;) {
        if (up->scan && (up->bad_chunk = pawld_chunk_scan(&up->ck, p + done, n - done)) != NULL)
            return done;
        done += http_parser_execute(&up->parser, &resp_settings, p + done, n - done);
        if (!up->scan_next || HTTP_PARSER_ERRNO(&up->parser) != HPE_PAUSED)
            return done;
        up->scan_next = false; /* paused at the head's end: the body from here */
        up->scan = true;
        http_parser_pause(&up->parser, 0);
    }
}

static void up_data(struct pawld_io *io, const char *p, size_t n)
{
    struct pawld_upconn *up = io->owner;
    if (up->c == NULL) { /* bytes on an idle connection: it is out of step */
        pool_remove(up);
        up_close(up);
        return;
    }
    up->got_bytes = true;
    up_arm(up, up_cfg(up)->response_timeout_ms);
    struct pawld_conn *c = up->c;
    pawld_io_cork(&c->io); /* what this read gives the client goes out in one write */
    size_t done = resp_feed(up, p, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&up->parser);
    if (up->msg_done && up->chunked_out && pawld_io_write(&c->io, "0\r\n\r\n", 5) != 0)
        up->close_delimited = true; /* the end could not be written: do not reuse */
    up->chunk_end_written = up->msg_done && up->chunked_out;
    up->stray = up->msg_done && done != n;
    if (pawld_io_uncork(&c->io) != 0 && !c->io.closing)
        pawld_conn_close(c);
    if (up->c == NULL || up->c->io.closing) {
        up_close(up);
        return;
    }
    if (up->msg_done) {
        complete(up);
        return;
    }
    if (e != HPE_OK || done != n) {
        char why[160];
        snprintf(why, sizeof why, "the upstream's response is malformed: %s",
                 up->too_big      ? "head too large"
                 : up->bad_te     ? "a Transfer-Encoding other than one chunked"
                 : up->bad_chunk  ? up->bad_chunk
                                  : http_errno_description(e));
        up_fail(up, PAWL_R_UPSTREAM_UNAVAILABLE, why);
    }
}

static void up_drain(struct pawld_io *io)
{
    struct pawld_upconn *up = io->owner;
    if (up->c)
        pawld_conn_read_more(up->c); /* the upstream took the body so far */
}

void pawld_proxy_client_drained(struct pawld_conn *c)
{
    pawld_io_resume(&c->up->io);
}

/* ---- the request ------------------------------------------------------------ */

static int cork(struct pawld_conn *c, const char *p, size_t n)
{
    return pawld_buf_add(&c->cork, p, n, SIZE_MAX / 2);
}

void pawld_proxy_flush(struct pawld_conn *c)
{
    struct pawld_upconn *up = c->up;
    if (up == NULL || c->cork.len == 0)
        return;
    size_t n = c->cork.len;
    c->cork.len = 0;
    if (pawld_io_write(&up->io, c->cork.p, n) != 0) {
        up_fail(up, PAWL_R_UPSTREAM_UNAVAILABLE, "writing to the upstream failed");
        return;
    }
    if (c->cork.cap > 65536) /* a large pass does not pin its buffer */
        pawld_buf_free(&c->cork);
    /* pawld_proxy_body paused the client on the cork too: a held pass can
     * fill it past the high-water mark with nothing queued upstream. Once
     * it went to a stream below the mark, no on_drain will come to resume. */
    if (!up->io.above_high)
        pawld_conn_resume(c);
}

static void up_send(struct pawld_upconn *up)
{
    struct pawld_conn *c = up->c;
    http_parser_init(&up->parser, HTTP_RESPONSE);
    up->parser.data = up;
    up->got_bytes = up->head_done = up->msg_done = false;
    up->chunked_out = up->close_delimited = up->too_big = up->bad_te = up->chunk_end_written = false;
    up->scan = up->scan_next = false;
    up->bad_chunk = NULL;
    up->hlen = up->nhdr = 0;
    pawld_io_resume(&up->io); /* a connection is pooled only unpaused; never left paused */
    /* the response timeout runs from the end of the request: while the
     * client uploads, its body timeout applies */
    up_arm(up, c->state == PAWLD_C_RESPONSE ? up_cfg(up)->response_timeout_ms : 0);
    c->cork.len = 0;
    if (cork(c, c->fwd_head, c->fwd_head_len) != 0) {
        up_fail(up, PAWL_R_UPSTREAM_UNAVAILABLE, "out of memory");
        return;
    }
    if (c->state == PAWLD_C_WAIT_UP) {
        c->state = PAWLD_C_BODY;
        pawld_h1_resume(c->h1);
    }
    if (!c->in_consume) {
        pawld_conn_read_more(c);
        if (c->up == up && !c->io.closing)
            pawld_proxy_flush(c);
    }
}

static void up_ready(struct pawld_io *io)
{
    struct pawld_upconn *up = io->owner;
    if (up->c == NULL) {
        up_close(up);
        return;
    }
    up_send(up);
}

static struct pawld_upconn *up_connect(struct pawld_worker *w, size_t u, size_t s)
{
    const struct pawld_world *wd = w->world;
    const struct pawld_upstream *us = &wd->cfg->upstreams[u];
    struct pawld_upconn *up = calloc(1, sizeof *up);
    if (up == NULL)
        return NULL;
    up->w = w;
    up->world = w->world;
    pawld_world_ref(up->world);
    up->upstream = u;
    up->server = s;
    up->handles = 2;
    uv_timer_init(&w->loop, &up->timer);
    up->timer.data = up;
    if (pawld_io_connect(&up->io, &w->loop, (const struct sockaddr *)&wd->upstream_addr[u][s],
                         us->servers[s].https ? wd->upstream_tls[u] : NULL, us->servers[s].host,
                         &up_ops, up) != 0)
        return NULL; /* closed: up_closed frees */
    up_arm(up, us->connect_timeout_ms);
    return up;
}

/* An upstream connection for c: a kept-alive one unless fresh, else new. */
static void acquire(struct pawld_conn *c, size_t u, bool fresh)
{
    struct pawld_worker *w = c->w;
    const struct pawld_upstream *us = &w->world->cfg->upstreams[u];
    struct pawld_pool *first = &w->pools[u * PAWLD_MAX_SERVERS];
    size_t s = first->rr++ % us->nservers;
    struct pawld_pool *pl = &w->pools[u * PAWLD_MAX_SERVERS + s];
    struct pawld_upconn *up = fresh ? NULL : pl->idle;
    if (up) {
        pl->idle = up->next_idle;
        pl->nidle--;
        up->reused = true;
        up->c = c;
        c->up = up;
        up_send(up);
        return;
    }
    if (pl->open >= us->max_conns) { /* a slow upstream is not sent a connection per client */
        char why[160];
        snprintf(why, sizeof why, "upstream %s: %u connections to server %zu already open (max_conns)",
                 us->name, pl->open, s + 1);
        pawld_conn_deny(c, PAWL_R_UPSTREAM_UNAVAILABLE, why, true);
        return;
    }
    if ((up = up_connect(w, u, s)) == NULL) {
        pawld_conn_deny(c, PAWL_R_UPSTREAM_UNAVAILABLE, "cannot connect to the upstream", true);
        return;
    }
    up->counted = true;
    pl->open++;
    up->c = c;
    c->up = up;
}

/* Whether a client header goes upstream as it is. */
static bool forward_header(const struct pawld_conn *c, pawl_str name, pawl_str ident,
                           pawl_str step_up)
{
    if (pawl_http_name_eq(name, step_up)) /* a lookalike (X_Cmd_Token) never passes */
        return c->step_up_ok && pawl__str_ieq(name, step_up); /* the vehicle checks it again */
    return !pawl_http_is_reserved(name, ident); /* Content-Length, Expect: pawld's own framing */
}

static bool build_head(struct pawld_conn *c, const struct pawl_http_head *h,
                       const struct pawl_decision *dec, char *out, size_t cap, size_t *len)
{
    const struct pawld_config *cfg = c->w->world->cfg;
    pawl_str ident = {cfg->identity_header, strlen(cfg->identity_header)};
    pawl_str step_up = {cfg->step_up_header, strlen(cfg->step_up_header)};
    bool v6 = strchr(c->peer_ip, ':') != NULL, tls = c->io.ssl != NULL;
    const char *proto = tls ? "https" : "http";
    char id[2048];
    struct pawl__out o = {out, 0, cap, false};
    pawl__out_str(&o, h->method);
    pawl__out_put(&o, " ", 1);
    pawl__out_str(&o, h->target);
    pawl__out_cstr(&o, " HTTP/1.1\r\n");
    for (size_t i = 0; i < h->nheaders; i++)
        if (forward_header(c, h->headers[i].name, ident, step_up))
            header(&o, h->headers[i].name, h->headers[i].value);
    if (dec->authenticated) { /* never forwarded without the identity it was allowed as */
        size_t n = pawl_authz_identity(dec, id, sizeof id);
        o.full |= n == 0;
        header(&o, ident, (pawl_str){id, n});
    }
    pawl__out_cstr(&o, "X-Forwarded-For: ");
    pawl__out_cstr(&o, c->peer_ip);
    pawl__out_cstr(&o, "\r\nX-Forwarded-Proto: ");
    pawl__out_cstr(&o, proto);
    pawl__out_cstr(&o, v6 ? "\r\nForwarded: for=\"[" : "\r\nForwarded: for=");
    pawl__out_cstr(&o, c->peer_ip);
    pawl__out_cstr(&o, v6 ? "]\";proto=" : ";proto=");
    pawl__out_cstr(&o, proto);
    pawl__out_put(&o, "\r\n", 2);
    if (c->framing == PAWL_HTTP_LENGTH) {
        pawl__out_cstr(&o, "Content-Length: ");
        pawl__out_u64(&o, c->content_length);
        pawl__out_put(&o, "\r\n", 2);
    }
    if (c->framing == PAWL_HTTP_CHUNKED)
        pawl__out_cstr(&o, "Transfer-Encoding: chunked\r\n");
    pawl__out_put(&o, "\r\n", 2);
    *len = o.len;
    return !o.full;
}

static bool expects_continue(const struct pawl_http_head *h)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (pawl__str_ieq_cstr(h->headers[i].name, "expect") &&
            pawl__str_ieq_cstr(h->headers[i].value, "100-continue"))
            return true;
    return false;
}

void pawld_proxy_start(struct pawld_conn *c, const struct pawl_http_head *h,
                       const struct pawl_decision *dec)
{
    long u = dec->route ? c->w->world->route_upstream[dec->route->index] : -1;
    /* the client's head (plus ": " and CRLF per header), the identity (at
     * most 2 KiB), the request line, forwarding and framing headers */
    size_t cap = c->h1->used + 4 * h->nheaders + strlen(c->w->world->cfg->identity_header) + 2048 + 1024;
    if (u < 0) { /* no route upstream */
        pawld_conn_deny(c, PAWL_R_UPSTREAM_UNAVAILABLE, "no upstream serves this route", true);
        return;
    }
    pawl_gw_block_free(c->fwd_head, c->fwd_head_cap);
    if ((c->fwd_head = pawl_gw_block_alloc(cap, &c->fwd_head_cap)) == NULL ||
        !build_head(c, h, dec, c->fwd_head, c->fwd_head_cap, &c->fwd_head_len)) {
        pawld_conn_deny(c, PAWL_R_HEADERS_TOO_LARGE, "the forwarded request head is too large", true);
        return;
    }
    if (c->framing != PAWL_HTTP_NO_BODY && expects_continue(h) &&
        pawld_conn_out(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0) {
        pawld_conn_close(c); /* never left waiting for a body it was not asked for */
        return;
    }
    c->state = PAWLD_C_WAIT_UP;
    c->up_tries = 0;
    c->retry_safe = c->framing == PAWL_HTTP_NO_BODY &&
                    (pawl__str_eq(h->method, "GET") || pawl__str_eq(h->method, "HEAD"));
    acquire(c, (size_t)u, false);
}

int pawld_proxy_body(struct pawld_conn *c, const char *p, size_t n)
{
    struct pawld_upconn *up = c->up;
    char size[32];
    if (c->framing == PAWL_HTTP_CHUNKED) {
        int k = snprintf(size, sizeof size, "%zx\r\n", n);
        if (cork(c, size, (size_t)k) != 0 || cork(c, p, n) != 0 || cork(c, "\r\n", 2) != 0)
            return -1;
    } else if (cork(c, p, n) != 0) {
        return -1;
    }
    if (up->io.queued + c->cork.len >= PAWLD_IO_HIGH_WATER)
        pawld_io_pause(&c->io); /* the upstream is slower: stop reading the client */
    return 0;
}

void pawld_proxy_body_done(struct pawld_conn *c)
{
    c->state = PAWLD_C_RESPONSE;
    if (c->up && c->up->io.handshaken) /* connected: the response is awaited from now */
        up_arm(c->up, up_cfg(c->up)->response_timeout_ms);
    if (c->framing == PAWL_HTTP_CHUNKED && cork(c, "0\r\n\r\n", 5) != 0)
        up_fail(c->up, PAWL_R_UPSTREAM_UNAVAILABLE, "out of memory");
}

void pawld_proxy_abort(struct pawld_conn *c)
{
    struct pawld_upconn *up = c->up;
    c->cork.len = 0;
    if (up) /* mid-request: the connection cannot be reused */
        up_close(up);
}
