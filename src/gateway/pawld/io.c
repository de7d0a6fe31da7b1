/* io.c: one byte stream over libuv TCP, in the clear or through OpenSSL
 * with memory BIOs (OpenSSL never touches the socket; libuv does all I/O).
 * See pawld.h for the contract. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "blocks.h"
#include "pawld.h"

int pawld_buf_add(struct pawld_buf *b, const void *p, size_t n, size_t max)
{
    if (n > max - b->len)
        return -1;
    if (b->cap == 0) {
        if ((b->p = pawl_gw_block_alloc(n, &b->cap)) == NULL)
            return -1;
    } else if (b->len + n > b->cap) {
        size_t cap = b->cap;
        while (cap < b->len + n)
            cap *= 2;
        char *nb = realloc(b->p, cap);
        if (nb == NULL)
            return -1;
        b->p = nb;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void pawld_buf_consume(struct pawld_buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    if (b->len == 0)
        pawld_buf_free(b);
}

void pawld_buf_free(struct pawld_buf *b)
{
    pawl_gw_block_free(b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
}

void pawld_deadline_set(uv_timer_t *t, uint64_t *due, int64_t ms, uv_timer_cb fire)
{
    uint64_t now = uv_now(t->loop);
    *due = ms > 0 ? now + (uint64_t)ms : 0;
    if (*due == 0 || (uv_is_active((uv_handle_t *)t) && now + uv_timer_get_due_in(t) <= *due))
        return; /* none, or the timer fires first and sets itself for the rest */
    uv_timer_start(t, fire, (uint64_t)ms, 0);
}

bool pawld_deadline_reached(uv_timer_t *t, uint64_t *due, uv_timer_cb fire)
{
    uint64_t now = uv_now(t->loop);
    if (*due == 0) /* no deadline any more */
        return false;
    if (now < *due) {
        uv_timer_start(t, fire, *due - now, 0);
        return false;
    }
    *due = 0;
    return true;
}

struct wreq {
    uv_write_t req;
    struct pawld_io *io;
    size_t n;
    char data[];
};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_closed(uv_handle_t *h)
{
    struct pawld_io *io = h->data;
    if (io->ssl)
        SSL_free(io->ssl); /* and its two memory BIOs */
    io->ssl = NULL;
    pawld_buf_free(&io->pend);
    io->ops->on_closed(io);
}

void pawld_io_close(struct pawld_io *io)
{
    if (io->closing)
        return;
    io->closing = true;
    uv_close((uv_handle_t *)&io->tcp, on_closed);
}

static void fail(struct pawld_io *io, int uverr)
{
    if (!io->closing)
        io->ops->on_error(io, uverr);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct pawld_io *io = req->data;
    if (status < 0)
        pawld_io_close(io);
}

/* The answer is written: send FIN, then read and drop what the peer still
 * sends until it closes (the owner's timer bounds the wait). Closing with
 * unread bytes would send a RST, which can destroy the answer in the
 * peer's receive buffer before it is read (a refused request whose body
 * was never read). */
static void linger(struct pawld_io *io)
{
    if (io->closing || io->lingering)
        return;
    io->lingering = true;
    io->shut.data = io;
    if (uv_shutdown(&io->shut, (uv_stream_t *)&io->tcp, on_shutdown) != 0) {
        pawld_io_close(io);
        return;
    }
    /* read on to see the peer's end; a stream that is already reading is
     * left as it is (libuv answers UV_EALREADY to a second start) */
    bool was_paused = io->paused;
    io->paused = false;
    if (was_paused && uv_read_start((uv_stream_t *)&io->tcp, on_alloc, on_read) != 0)
        pawld_io_close(io);
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct pawld_io *io = w->io;
    io->queued -= w->n;
    free(w);
    if (io->closing)
        return;
    if (status < 0) {
        fail(io, status);
        return;
    }
    if (io->want_close_after_write && io->queued == 0) {
        linger(io);
        return;
    }
    if (io->above_high && io->queued < PAWLD_IO_HIGH_WATER / 2) {
        io->above_high = false;
        if (io->ops->on_drain)
            io->ops->on_drain(io);
    }
}

/* Hands bytes to the socket: written at once when the kernel takes them,
 * else copied into a write request. While corked, collected for one write. */
static int raw_write(struct pawld_io *io, const char *p, size_t n)
{
    if (io->corked)
        return pawld_buf_add(&io->pend, p, n, SIZE_MAX / 2);
    if (io->queued == 0) {
        uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
        int r = uv_try_write((uv_stream_t *)&io->tcp, &b, 1);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
            return -1;
        }
        if (n == 0)
            return 0;
    }
    struct wreq *w = malloc(sizeof *w + n);
    if (w == NULL)
        return -1;
    w->io = io;
    w->n = n;
    memcpy(w->data, p, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&io->tcp, &b, 1, on_written) != 0) {
        free(w);
        return -1;
    }
    io->queued += n;
    if (io->queued >= PAWLD_IO_HIGH_WATER)
        io->above_high = true; /* whoever feeds this stream pauses; on_drain resumes it */
    return 0;
}

/* Moves what OpenSSL produced to the socket. */
static int tls_flush(struct pawld_io *io)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(io->wbio, buf, sizeof buf)) > 0)
        if (raw_write(io, buf, (size_t)n) != 0)
            return -1;
    return 0;
}

static int tls_handshake(struct pawld_io *io)
{
    ERR_clear_error(); /* SSL_get_error reads the thread's queue: another stream's leftovers would fail this one */
    int r = SSL_do_handshake(io->ssl);
    if (tls_flush(io) != 0)
        return -1;
    if (r == 1) {
        io->handshaken = true;
        if (io->ops->on_ready) /* client role: connected; server role: the handshake is done */
            io->ops->on_ready(io);
        return 0;
    }
    int e = SSL_get_error(io->ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 1 : -1;
}

/* Decrypts and delivers what is buffered, as far as the owner wants it. */
static void tls_pump(struct pawld_io *io)
{
    if (!io->handshaken) {
        int r = tls_handshake(io);
        if (r != 0) {
            if (r < 0)
                fail(io, UV_EPROTO);
            return;
        }
    }
    char plain[PAWLD_IO_READ_CHUNK]; /* on the stack: an idle stream holds no buffer */
    while (!io->paused && !io->closing) {
        ERR_clear_error();
        int n = SSL_read(io->ssl, plain, sizeof plain);
        if (n > 0) {
            io->ops->on_data(io, plain, (size_t)n);
            continue;
        }
        int e = SSL_get_error(io->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            break;
        fail(io, e == SSL_ERROR_ZERO_RETURN ? UV_EOF : UV_EPROTO);
        return;
    }
    if (!io->closing && tls_flush(io) != 0)
        fail(io, UV_EPROTO);
}

/* Every read of the thread lands in one buffer: what the owner keeps of it
 * (the rest of a head, a body it cannot send yet) it copies before on_data
 * returns, libuv hands a buffer to one read at a time and calls no read
 * callback from within another, and TLS decrypts into a buffer of its own.
 * A connection thus holds no read buffer, idle or busy, and no read costs
 * a malloc and free of 16 KiB. */
static _Thread_local char read_buf[PAWLD_IO_READ_CHUNK];

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    buf->base = read_buf;
    buf->len = sizeof read_buf;
}

static void handle_read(struct pawld_io *io, ssize_t nread, const uv_buf_t *buf)
{
    if (io->closing || nread == 0)
        return;
    if (io->lingering) { /* after our FIN: drop everything, close at the peer's end */
        if (nread < 0)
            pawld_io_close(io);
        return;
    }
    if (nread < 0) {
        /* a TLS peer ends with close_notify (tls_pump turns it into UV_EOF);
         * an upstream's TCP end without it may be a cut made by anyone on
         * the way: never the end of a body delimited by the close */
        bool cut = nread == UV_EOF && io->ssl != NULL && !SSL_is_server(io->ssl);
        fail(io, cut ? UV_EPROTO : (int)nread);
        return;
    }
    if (io->ssl == NULL) {
        io->ops->on_data(io, buf->base, (size_t)nread);
        return;
    }
    if (BIO_write(io->rbio, buf->base, (int)nread) != (int)nread) {
        fail(io, UV_ENOMEM);
        return;
    }
    tls_pump(io);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    handle_read(s->data, nread, buf); /* the owner copied what it keeps */
}

/* Memory BIOs grow with what waits in them: reading stops while the owner
 * is paused, so that is at most one read chunk in, one flush out. */
static int tls_setup(struct pawld_io *io, SSL_CTX *ctx)
{
    io->ssl = SSL_new(ctx);
    io->rbio = BIO_new(BIO_s_mem());
    io->wbio = BIO_new(BIO_s_mem());
    if (io->ssl == NULL || io->rbio == NULL || io->wbio == NULL) {
        BIO_free(io->rbio);
        BIO_free(io->wbio);
        io->rbio = io->wbio = NULL;
        return -1;
    }
    BIO_set_mem_eof_return(io->rbio, -1); /* empty means "want more", not EOF */
    SSL_set_bio(io->ssl, io->rbio, io->wbio);
    return 0;
}

static void io_init(struct pawld_io *io, const struct pawld_io_ops *ops, void *owner)
{
    io->ops = ops;
    io->owner = owner;
    io->tcp.data = io;
    io->connect.data = io;
}

int pawld_io_accept(struct pawld_io *io, uv_stream_t *listener, SSL_CTX *ctx,
                    const struct pawld_io_ops *ops, void *owner)
{
    io_init(io, ops, owner);
    if (uv_tcp_init(listener->loop, &io->tcp) != 0)
        return -1;
    if (uv_accept(listener, (uv_stream_t *)&io->tcp) != 0 || (ctx && tls_setup(io, ctx) != 0)) {
        pawld_io_close(io);
        return -1;
    }
    uv_tcp_nodelay(&io->tcp, 1);
    if (io->ssl)
        SSL_set_accept_state(io->ssl);
    if (uv_read_start((uv_stream_t *)&io->tcp, on_alloc, on_read) != 0) {
        pawld_io_close(io);
        return -1;
    }
    return 0;
}

static void on_connected(uv_connect_t *req, int status)
{
    struct pawld_io *io = req->data;
    if (io->closing)
        return;
    if (status < 0) {
        fail(io, status);
        return;
    }
    uv_tcp_nodelay(&io->tcp, 1);
    if (uv_read_start((uv_stream_t *)&io->tcp, on_alloc, on_read) != 0) {
        fail(io, UV_EIO);
        return;
    }
    if (io->ssl == NULL) {
        io->handshaken = true;
        io->ops->on_ready(io);
    } else if (tls_handshake(io) < 0) {
        fail(io, UV_EPROTO);
    }
}

int pawld_io_connect(struct pawld_io *io, uv_loop_t *loop, const struct sockaddr *addr,
                     SSL_CTX *ctx, const char *host, const struct pawld_io_ops *ops, void *owner)
{
    io_init(io, ops, owner);
    if (uv_tcp_init(loop, &io->tcp) != 0)
        return -1;
    if (ctx) {
        /* name check on the certificate (host names and IP literals); SNI
         * only for names, as RFC 6066 says */
        unsigned char ip[16];
        bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
        if (tls_setup(io, ctx) != 0 || SSL_set1_host(io->ssl, host) != 1 ||
            (!literal && SSL_ctrl(io->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                  (void *)(uintptr_t)host) != 1)) {
            pawld_io_close(io);
            return -1;
        }
        SSL_set_connect_state(io->ssl);
    }
    if (uv_tcp_connect(&io->connect, &io->tcp, addr, on_connected) != 0) {
        pawld_io_close(io);
        return -1;
    }
    return 0;
}

int pawld_io_write(struct pawld_io *io, const char *p, size_t n)
{
    if (io->closing)
        return -1;
    if (n == 0)
        return 0;
    if (io->ssl == NULL)
        return raw_write(io, p, n);
    while (n > 0) {
        int chunk = n > 16384 ? 16384 : (int)n; /* one record at a time */
        ERR_clear_error();
        int r = SSL_write(io->ssl, p, chunk);
        if (r <= 0)
            return -1;
        if (tls_flush(io) != 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

void pawld_io_cork(struct pawld_io *io)
{
    io->corked = true;
}

int pawld_io_uncork(struct pawld_io *io)
{
    int rc = 0;
    io->corked = false;
    if (io->pend.len > 0 && !io->closing)
        rc = raw_write(io, io->pend.p, io->pend.len);
    pawld_buf_free(&io->pend); /* an idle stream holds no buffer */
    return rc;
}

void pawld_io_end(struct pawld_io *io)
{
    if (io->closing || io->want_close_after_write)
        return;
    if (io->ssl && io->handshaken) {
        ERR_clear_error();
        SSL_shutdown(io->ssl); /* close_notify: the peer sees a clean end */
        ERR_clear_error(); /* a failed shutdown leaves nothing for the next stream */
        (void)tls_flush(io);
    }
    io->want_close_after_write = true;
    if (io->queued == 0)
        linger(io);
}

void pawld_io_pause(struct pawld_io *io)
{
    if (io->paused || io->closing)
        return;
    io->paused = true;
    uv_read_stop((uv_stream_t *)&io->tcp);
}

void pawld_io_resume(struct pawld_io *io)
{
    if (!io->paused || io->closing)
        return;
    io->paused = false;
    if (io->ssl)
        tls_pump(io); /* plaintext already decrypted or buffered */
    if (!io->closing && !io->paused &&
        uv_read_start((uv_stream_t *)&io->tcp, on_alloc, on_read) != 0)
        fail(io, UV_EIO);
}

int64_t pawld_io_peer_until(struct pawld_io *io)
{
    X509 *cert = io->ssl ? SSL_get0_peer_certificate(io->ssl) : NULL;
    int days, secs;
    time_t now = time(NULL);
    if (cert == NULL || ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) != 1)
        return INT64_MAX;
    return (int64_t)now + (int64_t)days * 86400 + secs;
}

bool pawld_io_peer_reverify(struct pawld_io *io, SSL_CTX *ctx, char *why, size_t n)
{
    X509 *leaf = io->ssl ? SSL_get0_peer_certificate(io->ssl) : NULL;
    X509_STORE_CTX *x = X509_STORE_CTX_new();
    bool ok = false;
    /* as libssl verifies a client: the store's flags (CRL checks), the
     * ssl_client purpose, then the context's parameters (depth) */
    if (leaf != NULL && x != NULL &&
        X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(ctx), leaf, SSL_get_peer_cert_chain(io->ssl)) == 1 &&
        X509_STORE_CTX_set_default(x, "ssl_client") == 1 &&
        X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(x), SSL_CTX_get0_param(ctx)) == 1)
        ok = X509_verify_cert(x) == 1;
    if (!ok)
        snprintf(why, n, "the client certificate does not verify since the reload: %s",
                 x ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)) : "out of memory");
    X509_STORE_CTX_free(x);
    ERR_clear_error();
    return ok;
}

bool pawld_io_peer(struct pawld_io *io, uint8_t spki[32], char *subject, size_t n)
{
    if (io->ssl == NULL || SSL_get_verify_result(io->ssl) != X509_V_OK)
        return false;
    X509 *cert = SSL_get0_peer_certificate(io->ssl);
    bool ok = cert != NULL && pawl_authz_cert_identity(cert, spki, subject, n);
    ERR_clear_error();
    return ok;
}
