/* Spike 0009: libuv 1.44 + http-parser 2.9 (Debian) as pawld's engine.
 *   uv_httpparser PORT THREADS     1 KiB on GET /, "method=.. entity=.." otherwise
 * One uv_loop_t per thread, one SO_REUSEPORT listener per thread (libuv 1.44 has no
 * UV_TCP_REUSEPORT, so the socket is made here and handed over with uv_tcp_open).
 * A parser error is answered with 400 and the parser's error name, then the connection
 * is closed: that is the application's choice, the library only reports the error.
 * Not part of the project build. */
#include <pthread.h>
#include <signal.h>
#include <http_parser.h>
#include <uv.h>
#include "common.h"

struct worker {
    pthread_t tid;
    unsigned port;
    uv_loop_t loop;
    uv_tcp_t listener;
};

struct conn {
    uv_tcp_t tcp;
    http_parser parser;
    char url[256];
    size_t url_len;
    size_t body_len;
    int closing;
    char rbuf[16384];
};

struct wreq {
    uv_write_t req;
    struct conn *c;
    int close_after;
    char *owned;
};

static char static_resp[256 + SPIKE_BODY_LEN];
static size_t static_resp_len;
static http_parser_settings settings;

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(struct conn *c)
{
    if (!c->closing) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    if (status < 0 || w->close_after)
        conn_close(w->c);
    free(w->owned);
    free(w);
}

static void send_buf(struct conn *c, const char *buf, size_t len, char *owned, int close_after)
{
    struct wreq *w = calloc(1, sizeof(*w));
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    w->c = c;
    w->owned = owned;
    w->close_after = close_after;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(owned);
        free(w);
        conn_close(c);
    }
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    c->url_len = 0;
    c->body_len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    size_t room = sizeof(c->url) - 1 - c->url_len;
    if (len > room)
        len = room;
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    (void)at;
    ((struct conn *)p->data)->body_len += len;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    int keep = http_should_keep_alive(p);
    if (p->method == HTTP_GET && c->url_len == 1 && c->url[0] == '/') {
        send_buf(c, static_resp, static_resp_len, NULL, !keep);
        return 0;
    }
    char *msg = malloc(1024), body[512];
    int blen = snprintf(body, sizeof(body), "method=%s url=%.*s entity=%zu chunked=%d version=%u.%u\n",
                        http_method_str(p->method), (int)c->url_len, c->url, c->body_len,
                        (p->flags & F_CHUNKED) != 0, p->http_major, p->http_minor);
    int n = snprintf(msg, 1024, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", blen,
                     body);
    send_buf(c, msg, (size_t)n, msg, !keep);
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct conn *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;
    size_t done = http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e != HPE_OK || (c->parser.upgrade == 0 && done != (size_t)nread)) {
        char *msg = malloc(512);
        char body[160];
        int blen = snprintf(body, sizeof(body), "parser error %s: %s\n", http_errno_name(e),
                            http_errno_description(e));
        int n = snprintf(msg, 512, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
                         blen, body);
        uv_read_stop(s);
        send_buf(c, msg, (size_t)n, msg, 1);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    int fd = spike_listen(w->port);
    if (fd < 0) {
        perror("listen");
        exit(1);
    }
    uv_loop_init(&w->loop);
    uv_tcp_init(&w->loop, &w->listener);
    if (uv_tcp_open(&w->listener, fd) != 0 || uv_listen((uv_stream_t *)&w->listener, 1024, on_connection) != 0) {
        fprintf(stderr, "uv listen failed\n");
        exit(1);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

int main(int argc, char **argv)
{
    static struct worker workers[SPIKE_MAX_THREADS];
    unsigned port = spike_arg(argc, argv, 1, 8083), n = spike_arg(argc, argv, 2, 2);

    signal(SIGPIPE, SIG_IGN);
    spike_fill_body();
    int hl = snprintf(static_resp, 256, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n",
                      SPIKE_BODY_LEN);
    memcpy(static_resp + hl, spike_body, SPIKE_BODY_LEN);
    static_resp_len = (size_t)hl + SPIKE_BODY_LEN;
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    if (n > SPIKE_MAX_THREADS)
        n = SPIKE_MAX_THREADS;
    for (unsigned i = 0; i < n; i++) {
        workers[i].port = port;
        pthread_create(&workers[i].tid, NULL, run, &workers[i]);
    }
    fprintf(stderr, "uv+http_parser %lu.%lu.%lu on 127.0.0.1:%u, %u threads\n", (http_parser_version() >> 16) & 255,
            (http_parser_version() >> 8) & 255, http_parser_version() & 255, port, n);
    for (unsigned i = 0; i < n; i++)
        pthread_join(workers[i].tid, NULL);
    return 0;
}
