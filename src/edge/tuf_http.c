/* The TUF client's plain-HTTP fetcher on libevent's HTTP client
 * (pawl_tuf_http_fetcher): what pawl-tuf-client uses. TUF does not rely on
 * the transport for integrity (every byte is checked against signed
 * metadata), and this fetcher keeps the client small: see
 * docs/decisions/0014-tuf-client-footprint.md. Hosts that want TLS to the
 * repository use tuf_curl.c. */
#include "tuf_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define TIMEOUT_S 30      /* connect, and silence while reading */
#define LOW_SPEED_S 30    /* after this long, at least ... */
#define LOW_SPEED_BPS 1.0 /* ... this many bytes per second on average */
#define MAX_HEADERS 16384 /* bytes of a response's header block */

struct http_job {
    struct event_base *base;
    uint64_t max, got;
    pawl_tuf_sink_fn sink;
    void *sctx;
    struct timespec t0;
    int status;
    enum { JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_TOO_BIG, JOB_SINK, JOB_SLOW } state;
    int error; /* enum evhttp_request_error, -1 for none */
};

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Stops the loop with state s; the connection is freed after the loop. */
static void stop(struct http_job *j, int s)
{
    j->state = s;
    event_base_loopbreak(j->base);
}

/* Passes the bytes waiting in the request's input buffer to the sink. */
static void take_body(struct evhttp_request *req, struct http_job *j)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    if (j->status == 0)
        j->status = evhttp_request_get_response_code(req);
    while (j->state == JOB_RUNNING && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t n = v.iov_len;
        if (j->status == 200 && j->got + n > j->max)
            stop(j, JOB_TOO_BIG);
        else if (j->status == 200 && j->sink(j->sctx, v.iov_base, n) != 0)
            stop(j, JOB_SINK);
        j->got += n;
        evbuffer_drain(in, n);
    }
    if (j->state == JOB_RUNNING && j->status == 200 && since(&j->t0) > LOW_SPEED_S &&
        (double)j->got < LOW_SPEED_BPS * since(&j->t0))
        stop(j, JOB_SLOW);
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    take_body(req, arg);
}

static void on_error(enum evhttp_request_error e, void *arg)
{
    ((struct http_job *)arg)->error = (int)e;
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct http_job *j = arg;
    if (req != NULL)
        take_body(req, j);
    if (j->state == JOB_RUNNING)
        stop(j, req != NULL && j->status != 0 ? JOB_DONE : JOB_FAILED);
}

static const char *request_error(int e)
{
    switch (e) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "the connection closed early";
    case EVREQ_HTTP_INVALID_HEADER:
        return "malformed HTTP response";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "response too large";
    default:
        return "cannot connect or read";
    }
}

/* The URL's host (brackets of an IPv6 literal removed) and port. */
static int split_url(const struct evhttp_uri *uri, char *host, size_t cap, int *port)
{
    const char *h = evhttp_uri_get_host(uri);
    size_t n = h ? strlen(h) : 0;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= cap)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = evhttp_uri_get_port(uri);
    if (*port < 0)
        *port = 80;
    return 0;
}

static int start(struct http_job *j, struct evhttp_connection **conn, const char *url,
                 char *err, size_t errn)
{
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(url, 0);
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    char host[256], target[8192];
    int port = 0;
    if (uri == NULL || scheme == NULL || strcmp(scheme, "http") != 0 ||
        split_url(uri, host, sizeof host, &port) != 0 ||
        evhttp_uri_get_userinfo(uri) != NULL) {
        evhttp_uri_free(uri);
        return TUF_ERR(err, errn, "not an http:// URL this fetcher can use (for https, "
                                  "libpawl-edge's libcurl fetcher)");
    }
    const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
    int tn = snprintf(target, sizeof target, "%s%s%s", path && *path ? path : "/",
                      query ? "?" : "", query ? query : "");
    *conn = tn > 0 && (size_t)tn < sizeof target
                ? evhttp_connection_base_new(j->base, NULL, host, (ev_uint16_t)port)
                : NULL;
    struct evhttp_request *req = *conn ? evhttp_request_new(on_done, j) : NULL;
    int rc = 0;
    if (req == NULL) {
        rc = TUF_ERR(err, errn, "cannot start a request");
    } else {
        evhttp_connection_set_timeout(*conn, TIMEOUT_S);
        evhttp_connection_set_max_headers_size(*conn, MAX_HEADERS);
        evhttp_connection_set_max_body_size(
            *conn, j->max < (uint64_t)INT64_MAX ? (ev_ssize_t)j->max : (ev_ssize_t)INT64_MAX);
        evhttp_request_set_chunked_cb(req, on_chunk);
        evhttp_request_set_error_cb(req, on_error);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        if (evhttp_add_header(h, "Host", evhttp_uri_get_host(uri)) != 0 ||
            evhttp_add_header(h, "Connection", "close") != 0 ||
            evhttp_make_request(*conn, req, EVHTTP_REQ_GET, target) != 0)
            rc = TUF_ERR(err, errn, "cannot send the request");
    }
    evhttp_uri_free(uri);
    return rc;
}

static int http_fetch(void *ctx, const char *url, uint64_t max, pawl_tuf_sink_fn sink,
                      void *sctx, char *err, size_t errn)
{
    (void)ctx;
    struct http_job j = {.max = max, .sink = sink, .sctx = sctx, .error = -1};
    struct evhttp_connection *conn = NULL;
    clock_gettime(CLOCK_MONOTONIC, &j.t0);
    j.base = event_base_new();
    if (j.base == NULL)
        return TUF_ERR(err, errn, "cannot start libevent");
    int rc = start(&j, &conn, url, err, errn);
    if (rc == 0 && event_base_dispatch(j.base) < 0)
        j.state = JOB_FAILED;
    if (conn != NULL)
        evhttp_connection_free(conn); /* frees a request still in flight */
    event_base_free(j.base);
    if (rc != 0)
        return rc;
    if (j.state == JOB_TOO_BIG || j.error == EVREQ_HTTP_DATA_TOO_LONG)
        return TUF_ERR(err, errn, "more than the %llu bytes allowed", (unsigned long long)max);
    if (j.state == JOB_SINK)
        return TUF_ERR(err, errn, "the receiver refused the data");
    if (j.state == JOB_SLOW)
        return TUF_ERR(err, errn, "slower than %.0f byte/s after %d s", LOW_SPEED_BPS,
                       LOW_SPEED_S);
    if (j.status == 403 || j.status == 404)
        return PAWL_TUF_NOTFOUND;
    if (j.state != JOB_DONE)
        return TUF_ERR(err, errn, "%s", request_error(j.error));
    if (j.status != 200)
        return TUF_ERR(err, errn, "HTTP status %d", j.status);
    return 0;
}

struct pawl_tuf_fetcher pawl_tuf_http_fetcher(void)
{
    struct pawl_tuf_fetcher f = {http_fetch, NULL};
    return f;
}
