/* conn.c: one client connection: read a head, check it, decide, then
 * proxy (proxy.c) or answer (handlers.c); timeouts; keep-alive.
 *
 * Input is fed to the request reader straight from the read buffer; only
 * what the reader does not take yet (the rest of a pipelined request, a
 * body while the upstream connects) is kept, bounded by IN_MAX: reading
 * stops before it fills. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "pawl/extauthz.h"
#include "blocks.h"
#include "pawld.h"
#include "util.h"

#define IN_MAX (4 * PAWLD_IO_READ_CHUNK)

static void on_data(struct pawld_io *io, const char *p, size_t n);
static void on_error(struct pawld_io *io, int uverr);
static void on_resume_idle(uv_idle_t *h);
static void on_handshaken(struct pawld_io *io);
static void on_drain(struct pawld_io *io);
static void io_closed(struct pawld_io *io);
static const struct pawld_io_ops conn_ops = {on_data, on_handshaken, on_error, on_drain, io_closed};

uint64_t pawld_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t pawld_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- lifetime ---------------------------------------------------------- */

/* The request reader (328 bytes) exists only while a request is read or
 * answered: an idle keep-alive connection holds none (docs/benchmarks.md). */
static struct pawld_h1 *reader_get(struct pawld_conn *c)
{
    if (c->h1 == NULL && (c->h1 = malloc(sizeof *c->h1)) != NULL)
        pawld_h1_init(c->h1, &c->lc->limits, pawld_conn_body, c);
    return c->h1;
}

static void reader_free(struct pawld_conn *c)
{
    if (c->h1 == NULL)
        return;
    pawld_h1_free(c->h1);
    free(c->h1);
    c->h1 = NULL;
}

/* Between requests, with nothing of the next one read: no reader. */
static void reader_drop(struct pawld_conn *c)
{
    if (c->h1 != NULL && pawld_h1_idle(c->h1))
        reader_free(c);
}

static void conn_freed(struct pawld_conn *c)
{
    struct pawld_worker *w = c->w;
    pawld_worker_active(w);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conn_list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->resume)
        w->nresume--;
    w->conns--;
    reader_free(c);
    pawld_vehicle_abandon(c);
    pawld_world_unref(c->world);
    pawld_buf_free(&c->in);
    pawl_gw_block_free(c->fwd_head, c->fwd_head_cap);
    pawld_buf_free(&c->cork);
    pawld_buf_free(&c->out);
    free(c);
    pawld_worker_conn_gone(w);
}

/* The timer and the stream close separately; the last one frees. */
static void handle_gone(struct pawld_conn *c)
{
    if (--c->handles == 0)
        conn_freed(c);
}

static void timer_closed(uv_handle_t *h)
{
    handle_gone(h->data);
}

static void io_closed(struct pawld_io *io)
{
    struct pawld_conn *c = io->owner;
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, timer_closed);
    handle_gone(c);
}

void pawld_conn_close(struct pawld_conn *c)
{
    if (c->up)
        pawld_proxy_abort(c);
    c->state = PAWLD_C_CLOSING;
    pawld_io_close(&c->io);
}

/* Close once the answer is written. */
#define LINGER_MS 2000 /* how long a closing connection's leftover input is drained */

static void conn_end(struct pawld_conn *c)
{
    if (c->up)
        pawld_proxy_abort(c);
    c->state = PAWLD_C_CLOSING;
    pawld_conn_arm(c, LINGER_MS);
    pawld_io_end(&c->io);
}

/* A TLS handshake the client failed is logged with why (a client
 * certificate that does not verify, an expired CRL refusing everyone):
 * silence left operators guessing (review). Rate-bounded: anyone can fail
 * handshakes. */
static void handshake_failed(struct pawld_conn *c)
{
    long v = SSL_get_verify_result(c->io.ssl);
    unsigned long e = ERR_peek_last_error();
    const char *why = v != X509_V_OK ? X509_verify_cert_error_string(v)
                      : e != 0       ? ERR_reason_error_string(e)
                                     : NULL;
    uint64_t skipped;
    if (pawld_ratelog_take(&c->w->tls_warned, pawld_wall_ms(), &skipped))
        pawld_log(c->w->sinks, "warn",
                  "\"msg\":\"TLS handshake failed\",\"listener\":\"%s\",\"client\":\"%s\",\"why\":\"%s%s\","
                  "\"not_logged_before\":%llu",
                  c->lc->name, c->client_ip, v != X509_V_OK ? "client certificate: " : "",
                  why ? why : "the connection ended", (unsigned long long)skipped);
    ERR_clear_error();
}

static void on_error(struct pawld_io *io, int uverr)
{
    struct pawld_conn *c = io->owner;
    if (uverr == UV_EPROTO && io->ssl != NULL && !io->handshaken)
        handshake_failed(c);
    pawld_conn_close(c);
}

static void on_drain(struct pawld_io *io)
{
    struct pawld_conn *c = io->owner;
    if (c->up)
        pawld_proxy_client_drained(c);
    if (c->out_blocked && !c->io.closing) {
        c->out_blocked = false;
        pawld_conn_read_more(c); /* the next pipelined requests */
    }
}

/* ---- answers ------------------------------------------------------------ */

static const char *status_text(int s)
{
    static const struct { int status; const char *text; } known[] = {
        {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"}, {201, "Created"},
        {202, "Accepted"}, {203, "Non-Authoritative Information"}, {204, "No Content"},
        {205, "Reset Content"}, {206, "Partial Content"}, {300, "Multiple Choices"},
        {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"}, {304, "Not Modified"},
        {307, "Temporary Redirect"}, {308, "Permanent Redirect"}, {400, "Bad Request"},
        {401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Timeout"},
        {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"}, {412, "Precondition Failed"},
        {413, "Content Too Large"}, {414, "URI Too Long"}, {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"}, {417, "Expectation Failed"}, {421, "Misdirected Request"},
        {422, "Unprocessable Content"}, {423, "Locked"}, {425, "Too Early"},
        {426, "Upgrade Required"}, {428, "Precondition Required"}, {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"}, {451, "Unavailable For Legal Reasons"},
        {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
        {503, "Service Unavailable"}, {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].status == s)
            return known[i].text;
    return ""; /* RFC 9112 4: the reason phrase may be empty */
}

void pawld_status_line(struct pawl__out *o, int status)
{
    pawl__out_cstr(o, "HTTP/1.1 ");
    pawl__out_i64(o, status);
    pawl__out_put(o, " ", 1);
    pawl__out_cstr(o, status_text(status));
    pawl__out_put(o, "\r\n", 2);
}

void pawld_respond(struct pawld_conn *c, int status, const char *ctype, const char *extra_headers,
                   const char *body, size_t body_len, bool close)
{
    char head[4096]; /* status, framing, and extra headers of up to PAWLD_EXTRA_MAX */
    struct pawl__out o = {head, 0, sizeof head, false};
    if (c->w->draining)
        close = true; /* a draining worker ends every connection after its answer */
    pawld_status_line(&o, status);
    pawl__out_cstr(&o, "Content-Type: ");
    pawl__out_cstr(&o, ctype);
    pawl__out_cstr(&o, "\r\nContent-Length: ");
    pawl__out_u64(&o, body_len);
    pawl__out_cstr(&o, "\r\nCache-Control: no-store\r\n");
    pawl__out_cstr(&o, extra_headers ? extra_headers : "");
    pawl__out_cstr(&o, close ? "Connection: close\r\n\r\n" : "\r\n");
    if (o.full || pawld_conn_out(c, head, o.len) != 0 ||
        (!c->head_method && pawld_conn_out(c, body, body_len) != 0)) {
        pawld_conn_close(c);
        return;
    }
    if (close) {
        c->keep_alive = false;
        if (c->up)
            pawld_proxy_abort(c); /* a refusal mid-request: nothing of it goes upstream */
        if (c->held) { /* closes once the held answer is out */
            c->held_close = true;
            c->state = PAWLD_C_CLOSING;
            pawld_conn_arm(c, 0);
        } else {
            conn_end(c);
        }
    }
}

/* ---- output held until the worker's decisions are written ---------------- */

/* While the worker has decisions not yet written to the audit trail, what
 * this connection would send (an answer, or a request to the upstream)
 * waits for pawld_conn_commit, at the end of the loop iteration. */
void pawld_conn_hold(struct pawld_conn *c)
{
    struct pawld_worker *w = c->w;
    if (c->held)
        return;
    if (w->nheld == w->held_cap) {
        size_t cap = w->held_cap ? w->held_cap * 2 : 64;
        struct pawld_conn **h = realloc(w->held, cap * sizeof *h);
        if (h == NULL) {
            pawld_conn_close(c);
            return;
        }
        w->held = h;
        w->held_cap = cap;
    }
    w->held[w->nheld++] = c;
    c->held = true;
}

int pawld_conn_out(struct pawld_conn *c, const char *p, size_t n)
{
    if (c->w->batch.nrec == 0 && !c->held)
        return pawld_io_write(&c->io, p, n);
    if (pawld_buf_add(&c->out, p, n, SIZE_MAX / 2) != 0)
        return -1;
    pawld_conn_hold(c);
    return 0;
}

void pawld_conn_commit(struct pawld_conn *c, bool written)
{
    c->held = false;
    if (c->io.closing)
        return;
    if (!written) { /* nothing it decided may take effect */
        pawld_buf_free(&c->out);
        pawld_buf_free(&c->cork);
        pawld_vehicle_abandon(c); /* nothing goes to the vehicle either */
        c->held_close = false;
        if (c->resp_started) { /* a 503 cannot follow the start of a response */
            pawld_conn_close(c);
            return;
        }
        pawld_conn_deny(c, PAWL_R_DEPENDENCY_UNAVAILABLE, "the audit trail cannot be written", true);
        return;
    }
    if (c->out.len > 0 && pawld_io_write(&c->io, c->out.p, c->out.len) != 0) {
        pawld_conn_close(c);
        return;
    }
    pawld_buf_free(&c->out);
    if (c->up)
        pawld_proxy_flush(c);
    pawld_vehicle_commit(c);
    if (c->held_close) {
        c->held_close = false;
        conn_end(c);
    }
}

/* The JSON answer for a decision. Unless closing, the rest of the request
 * (the end of its head, any body) is read and dropped. */
void pawld_conn_answer(struct pawld_conn *c, const struct pawl_decision *d, const char *extra,
                       bool close)
{
    char body[1024], hdrs[PAWLD_EXTRA_MAX] = "";
    size_t n = pawl_authz_body(d, body, sizeof body);
    /* the reason in a header too: nginx's auth_request drops the body (docs/gateway.md) */
    if (d->reason != PAWL_R_ALLOWED)
        snprintf(hdrs, sizeof hdrs, "X-Pawl-Reason: %s\r\n", pawl_reason_name(d->reason));
    if (d->reason == PAWL_R_RATE_LIMITED)
        snprintf(hdrs + strlen(hdrs), sizeof hdrs - strlen(hdrs), "Retry-After: %lld\r\n",
                 (long long)d->retry_after_s);
    else if (d->status == 401)
        snprintf(hdrs + strlen(hdrs), sizeof hdrs - strlen(hdrs), "WWW-Authenticate: Bearer realm=\"pawl\"\r\n");
    if (extra && strlen(hdrs) + strlen(extra) >= sizeof hdrs) {
        /* never an allow without the identity it carries */
        pawld_conn_deny(c, PAWL_R_HEADERS_TOO_LARGE, "the answer's headers are too large", true);
        return;
    }
    if (extra)
        memcpy(hdrs + strlen(hdrs), extra, strlen(extra) + 1);
    close = close || !c->keep_alive || c->h1 == NULL; /* no reader: no request to go on with */
    pawld_respond(c, d->status, "application/json", hdrs, body, n, close);
    if (!close && !c->io.closing) {
        c->discard_body = true; /* only the end of the head is left to read */
        c->state = PAWLD_C_BODY;
        pawld_h1_resume(c->h1);
    }
}

void pawld_refusal(struct pawl_decision *d, enum pawl_reason r, const char *detail)
{
    memset(d, 0, sizeof *d);
    d->reason = r;
    d->status = pawl_reason_status(r);
    snprintf(d->detail, sizeof d->detail, "%s", detail);
}

void pawld_conn_deny(struct pawld_conn *c, enum pawl_reason r, const char *detail, bool close)
{
    struct pawl_decision d;
    pawld_refusal(&d, r, detail);
    pawld_conn_answer(c, &d, NULL, close);
}

void pawld_conn_count(struct pawld_conn *c, enum pawl_reason r)
{
    struct pawld_worker *w = c->w;
    uint64_t us = (pawld_now_ns() - c->started_ns) / 1000;
    pthread_mutex_lock(&w->metrics_lock);
    pawld_metrics_record(&w->metrics, c->route, r, us);
    pthread_mutex_unlock(&w->metrics_lock);
}

int pawld_conn_peer(struct pawld_conn *c, uint8_t spki[32], char *subject, size_t n, char *why,
                    size_t whyn)
{
    const struct pawld_world *now = c->w->world;
    if (c->io.ssl == NULL)
        return 0;
    bool has = SSL_get0_peer_certificate(c->io.ssl) != NULL;
    if (c->peer_gen != now->generation) { /* reloaded since it was checked */
        enum pawld_client_certs want = now->cfg->listeners[c->listener].tls.client_certs;
        if (!has && want == PAWLD_CERTS_REQUIRED)
            return snprintf(why, whyn, "a client certificate is required since the reload"), -1;
        if (has && want != PAWLD_CERTS_OFF &&
            !pawld_io_peer_reverify(&c->io, now->listen_tls[c->listener], why, whyn))
            return -1;
        c->peer_dropped = want == PAWLD_CERTS_OFF;
        c->peer_gen = now->generation;
    }
    if (!has || c->peer_dropped)
        return 0;
    if (c->peer_until == 0)
        c->peer_until = pawld_io_peer_until(&c->io);
    if (pawld_wall_ms() / 1000 > c->peer_until)
        return snprintf(why, whyn, "the client certificate has expired"), -1;
    if (!pawld_io_peer(&c->io, spki, subject, n)) /* never an identity cut short */
        return snprintf(why, whyn, "the client certificate's SPKI or subject cannot be read "
                                   "(a subject is at most %zu bytes)", n - 1), -1;
    return 1;
}

/* ---- requests ----------------------------------------------------------- */

void pawld_conn_reqinfo(struct pawld_conn *c, const struct pawl_http_head *h,
                        struct pawl_event_req *ri)
{
    memset(ri, 0, sizeof *ri);
    ri->time_ms = pawld_wall_ms();
    ri->method = h->method;
    ri->path = h->target;
    for (size_t i = 0; i < h->nheaders; i++)
        if (pawl__str_ieq_cstr(h->headers[i].name, "user-agent"))
            ri->user_agent = h->headers[i].value;
    ri->src_ip = c->client_ip;
    ri->src_port = c->client_port;
    ri->svc_name = c->lc->name;
}

/* A head the checks refused: audited, counted, answered, closed. */
static void refuse(struct pawld_conn *c, const struct pawl_http_head *h, enum pawl_reason r,
                   const char *detail)
{
    struct pawl_decision d;
    struct pawl_event_req ri;
    memset(&d, 0, sizeof d);
    d.reason = r;
    d.status = pawl_reason_status(r);
    snprintf(d.detail, sizeof d.detail, "%s", detail);
    struct pawl_http_head none = {{"", 0}, {"", 0}, 1, NULL, 0};
    pawld_conn_reqinfo(c, h ? h : &none, &ri); /* without a head: what is known */
    (void)pawld_record(c->w->sinks, &c->w->batch, &ri, &d); /* refused either way */
    pawld_conn_count(c, r);
    pawld_conn_answer(c, &d, NULL, true);
}

static void on_head(struct pawld_conn *c)
{
    struct pawl_http_head h;
    struct pawl_http_verdict v;
    c->started_ns = pawld_now_ns();
    c->route = -1;
    memcpy(c->client_ip, c->peer_ip, sizeof c->client_ip);
    c->client_port = c->peer_port;
    c->discard_body = false;
    pawld_h1_head(c->h1, &h);
    c->keep_alive = pawld_h1_keep_alive(c->h1);
    c->head_method = pawl__str_eq(h.method, "HEAD");
    pawl_http_check(&h, &c->lc->limits, &v);
    c->framing = v.framing;
    c->content_length = v.content_length;
    c->step_up_ok = false;
    pawld_conn_arm(c, v.framing != PAWL_HTTP_NO_BODY ? c->lc->body_timeout_ms : 0);
    if (v.reason != PAWL_R_ALLOWED) {
        refuse(c, &h, v.reason, v.detail);
        return;
    }
    switch (c->lc->mode) {
    case PAWLD_PROXY: pawld_handle_proxy(c, &h, &v); break;
    case PAWLD_AUTHZ: pawld_handle_authz(c, &h); break;
    case PAWLD_ADMIN: pawld_handle_admin(c, &h); break;
    }
}

/* The request reader refused the bytes (parse error, obs-fold, limits). */
static void on_parse_error(struct pawld_conn *c)
{
    c->framing = PAWL_HTTP_NO_BODY;
    if (c->up && c->resp_started) { /* the answer is already on its way */
        pawld_conn_close(c);
        return;
    }
    if (c->state != PAWLD_C_BODY)
        c->started_ns = pawld_now_ns();
    refuse(c, NULL, c->h1->reason, c->h1->detail);
}

static void on_request_done(struct pawld_conn *c)
{
    if (c->vehicle_wait || c->vcmd) { /* the body of a command sent to a vehicle */
        pawld_vehicle_body_done(c);
        return;
    }
    pawld_conn_arm(c, 0);
    if (c->discard_body)
        pawld_conn_finish(c);
    else if (c->up)
        pawld_proxy_body_done(c);
}

/* Whether the worker's batch might refuse the next decision's record: a
 * refused record turned an allow into a 503 and left a deny unaudited. */
static bool batch_crowded(const struct pawld_worker *w)
{
    return w->batch.nrec + 1 >= PAWLD_BATCH_MAX || w->batch.cap - w->batch.len < (64u << 10);
}

/* Whether the next pipelined request waits: a client that sends requests
 * without reading the answers gets no more of them handled until it reads
 * (on_drain goes on); one whose answer waits for this iteration's
 * decisions to be written, or whose worker's batch is nearly full, goes on
 * after the commit (review: one connection had 20,000 pipelined requests
 * decided in one pass, 3.3 MiB of answers held and 4,096 records filling
 * the batch, so others got 503 and denials went unaudited). */
static bool next_waits(struct pawld_conn *c)
{
    if (c->io.queued >= PAWLD_IO_HIGH_WATER) {
        c->out_blocked = true;
        return true;
    }
    if (c->held || c->out.len > 0 || batch_crowded(c->w)) {
        /* the idle runs in the next loop iteration, after this one's commit
         * (an iteration's idle comes before its poll and commit) */
        if (!c->resume) {
            c->resume = true;
            c->w->nresume++;
            uv_idle_start(&c->w->resume_idle, on_resume_idle);
        }
        return true;
    }
    return false;
}

/* The worker's resume idle (data: the worker): pumps the connections whose
 * pipelined requests waited for the commit. */
static void on_resume_idle(uv_idle_t *h)
{
    struct pawld_worker *w = h->data;
    for (struct pawld_conn *c = w->conn_list; c != NULL && w->nresume > 0; c = c->next) {
        if (!c->resume)
            continue;
        c->resume = false;
        w->nresume--;
        if (!c->io.closing)
            pawld_conn_read_more(c);
    }
    if (w->nresume == 0)
        uv_idle_stop(&w->resume_idle);
}

/* Feeds p[0..n) to the reader as far as the current state takes input. */
static size_t consume(struct pawld_conn *c, const char *p, size_t n)
{
    size_t used = 0;
    c->in_consume = true;
    while (used < n && !c->io.closing &&
           (c->state == PAWLD_C_HEAD || c->state == PAWLD_C_BODY)) {
        if (c->state == PAWLD_C_HEAD && (c->h1 == NULL || c->h1->head_bytes == 0) && next_waits(c))
            break;
        struct pawld_h1 *r = reader_get(c);
        if (r == NULL) {
            pawld_conn_close(c); /* out of memory */
            break;
        }
        used += pawld_h1_feed(r, p + used, n - used);
        if (r->state == PAWLD_H1_HEAD)
            on_head(c);
        else if (r->state == PAWLD_H1_DONE)
            on_request_done(c);
        else if (r->state == PAWLD_H1_ERROR)
            on_parse_error(c);
    }
    c->in_consume = false;
    if (c->up && !c->io.closing) { /* nothing in this pass was refused */
        if (c->w->batch.nrec > 0)
            pawld_conn_hold(c); /* sent once its decision is written */
        else
            pawld_proxy_flush(c);
    }
    return used;
}

void pawld_conn_pump(struct pawld_conn *c)
{
    if (c->in_consume || c->in.len == 0)
        return;
    size_t used = consume(c, c->in.p, c->in.len);
    if (c->io.closing)
        return;
    pawld_buf_consume(&c->in, used); /* freed when empty: an idle connection holds none */
    if (c->in.len < IN_MAX - PAWLD_IO_READ_CHUNK && c->state != PAWLD_C_CLOSING)
        pawld_io_resume(&c->io);
}

void pawld_conn_resume(struct pawld_conn *c)
{
    if (c->io.paused && !c->io.closing && c->state == PAWLD_C_BODY &&
        c->in.len < IN_MAX - PAWLD_IO_READ_CHUNK)
        pawld_io_resume(&c->io);
}

void pawld_conn_read_more(struct pawld_conn *c)
{
    pawld_conn_pump(c);
    if (!c->io.closing && c->in.len < IN_MAX - PAWLD_IO_READ_CHUNK && c->state != PAWLD_C_CLOSING)
        pawld_io_resume(&c->io);
}

static void on_data(struct pawld_io *io, const char *p, size_t n)
{
    struct pawld_conn *c = io->owner;
    pawld_worker_active(c->w);
    if (c->state == PAWLD_C_CLOSING)
        return;
    if (c->state == PAWLD_C_HEAD && !c->head_timing) {
        c->head_timing = true; /* the header timeout runs from a head's first byte */
        pawld_conn_arm(c, c->lc->header_timeout_ms);
    }
    size_t used = c->in.len == 0 ? consume(c, p, n) : 0;
    if (c->io.closing || used == n)
        return;
    if (pawld_buf_add(&c->in, p + used, n - used, IN_MAX) != 0) {
        pawld_conn_close(c);
        return;
    }
    pawld_conn_pump(c);
    if (!c->io.closing && c->in.len >= IN_MAX - PAWLD_IO_READ_CHUNK)
        pawld_io_pause(&c->io);
}

void pawld_conn_repin(struct pawld_conn *c)
{
    struct pawld_world *now = c->w->world;
    if (c->world == now || c->state != PAWLD_C_HEAD || c->h1 != NULL || c->in.len != 0 || c->up != NULL)
        return; /* the newest already, or not idle: after its request */
    pawld_world_unref(c->world);
    c->world = now;
    pawld_world_ref(now);
    c->lc = &now->cfg->listeners[c->listener]; /* the same listener: reloads keep them; its
                                                * timeouts apply from the next wait on */
}

void pawld_conn_finish(struct pawld_conn *c)
{
    pawl_gw_block_free(c->fwd_head, c->fwd_head_cap);
    c->fwd_head = NULL;
    if (!c->held) /* an idle connection keeps no buffers */
        pawld_buf_free(&c->cork);
    c->resp_started = false;
    c->head_method = false; /* an answer before the next head (400, 408) has a body */
    if (!c->keep_alive || c->w->draining || c->state == PAWLD_C_CLOSING) {
        conn_end(c);
        return;
    }
    if (c->h1 != NULL)
        pawld_h1_next(c->h1);
    c->state = PAWLD_C_HEAD;
    c->head_timing = false;
    c->route = -1;
    pawld_conn_arm(c, c->lc->idle_timeout_ms);
    /* what is kept goes to the reader first; reading resumes only with room
     * (a TLS stream delivers what it had decrypted at once) */
    pawld_conn_read_more(c);
    if (!c->io.closing && c->state == PAWLD_C_HEAD && c->in.len == 0)
        reader_drop(c); /* an idle connection keeps no reader and no head buffers */
    pawld_conn_repin(c); /* it held the world it was accepted in for life (review: RSS grew by
                          * a policy and grants per reload while clients stayed connected) */
}

/* The connection's one timeout (head, body, idle, linger, a vehicle's
 * result) is a deadline: see pawld_deadline_set. What it means is decided
 * when it has passed, from the state the connection is in then
 * (conn_timeout). */
static void conn_fire(uv_timer_t *t);
static void conn_timeout(struct pawld_conn *c);

void pawld_conn_arm(struct pawld_conn *c, int64_t ms)
{
    pawld_deadline_set(&c->timer, &c->due, ms, conn_fire);
}

static void conn_fire(uv_timer_t *t)
{
    struct pawld_conn *c = t->data;
    if (pawld_deadline_reached(t, &c->due, conn_fire))
        conn_timeout(c);
}

static void conn_timeout(struct pawld_conn *c)
{
    char why[128];
    if (c->state == PAWLD_C_CLOSING) { /* lingered long enough */
        pawld_conn_close(c);
        return;
    }
    if (c->vehicle_wait) {
        pawld_vehicle_timeout(c);
        return;
    }
    if (c->state == PAWLD_C_HEAD && !c->head_timing) {
        conn_end(c); /* idle keep-alive connection */
        return;
    }
    if (c->state != PAWLD_C_HEAD && c->state != PAWLD_C_BODY)
        return;
    pthread_mutex_lock(&c->w->metrics_lock);
    c->w->metrics.client_timeouts++;
    pthread_mutex_unlock(&c->w->metrics_lock);
    if (c->resp_started) {
        pawld_conn_close(c);
        return;
    }
    snprintf(why, sizeof why, "request %s not complete within %lld ms",
             c->state == PAWLD_C_HEAD ? "head" : "body",
             (long long)(c->state == PAWLD_C_HEAD ? c->lc->header_timeout_ms : c->lc->body_timeout_ms));
    if (c->state == PAWLD_C_HEAD)
        c->started_ns = pawld_now_ns();
    refuse(c, NULL, PAWL_R_REQUEST_TIMEOUT, why);
}

static void peer_name(struct pawld_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(c->peer_ip, sizeof c->peer_ip, "unknown");
    snprintf(c->client_ip, sizeof c->client_ip, "unknown"); /* until the first head */
    if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, c->peer_ip, sizeof c->peer_ip);
        c->peer_port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) /* an IPv4 client on a [::] listener: as itself */
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], c->peer_ip, sizeof c->peer_ip);
        else
            uv_ip6_name(a, c->peer_ip, sizeof c->peer_ip);
        c->peer_port = ntohs(a->sin6_port);
    }
    memcpy(c->client_ip, c->peer_ip, sizeof c->client_ip);
    c->client_port = c->peer_port;
}

void pawld_conn_accept(struct pawld_worker *w, size_t listener, uv_stream_t *server)
{
    struct pawld_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->w = w;
    c->world = w->world;
    pawld_world_ref(c->world);
    c->listener = listener;
    c->lc = &c->world->cfg->listeners[listener];
    c->peer_gen = c->world->generation; /* its handshake uses this world's context */
    c->route = -1;
    c->next = w->conn_list;
    if (c->next)
        c->next->prev = c;
    w->conn_list = c;
    w->conns++;
    c->handles = 2;
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    if (pawld_io_accept(&c->io, server, c->world->listen_tls[listener], &conn_ops, c) != 0)
        return; /* closed: io_closed frees */
    peer_name(c);
    /* a TLS handshake must be done within the header timeout: bounded by the
     * idle timeout, a ClientHello and silence held 45 KB for 60 s (review) */
    pawld_conn_arm(c, c->io.ssl ? c->lc->header_timeout_ms : c->lc->idle_timeout_ms);
}

/* The handshake is done: until a request begins, the idle timeout. */
static void on_handshaken(struct pawld_io *io)
{
    struct pawld_conn *c = io->owner;
    if (c->state == PAWLD_C_HEAD && !c->head_timing)
        pawld_conn_arm(c, c->lc->idle_timeout_ms);
}

int pawld_conn_body(void *ctx, const char *p, size_t n)
{
    struct pawld_conn *c = ctx;
    if (c->discard_body || c->up == NULL)
        return 0;
    return pawld_proxy_body(c, p, n);
}
