/* The TUF client's plain-HTTP fetcher (pawl_tuf_http_fetcher), what
 * pawl-tuf-client uses: one GET per connection over a blocking socket
 * with poll() timeouts, the response parsed by http-parser (the parser
 * pawld uses). TUF does not rely on the transport for integrity: every
 * byte is checked against signed metadata. This fetcher keeps the client
 * small (docs/decisions/0013-tuf-client-footprint.md); hosts that want TLS
 * to the repository use tuf_curl.c. */
#include "tuf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#define TIMEOUT_MS 30000  /* to connect, and of silence while reading */
#define LOW_SPEED_S 30    /* after this long, at least ... */
#define LOW_SPEED_BPS 1.0 /* ... this many bytes per second on average */
#define RECV_CHUNK 16384

struct http_job {
    uint64_t max, got;
    pawl_tuf_sink_fn sink;
    void *sctx;
    int status;
    bool done, too_big, sink_failed;
};

static int on_headers(http_parser *p)
{
    struct http_job *j = p->data;
    j->status = (int)p->status_code;
    if (p->content_length != ULLONG_MAX && p->content_length > j->max) {
        j->too_big = true;
        return -1;
    }
    return 0;
}

/* Every body counts against the bound; only a 200's goes to the sink. */
static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_job *j = p->data;
    if (j->got + n > j->max) {
        j->too_big = true;
        return -1;
    }
    j->got += n;
    if (j->status == 200 && j->sink(j->sctx, (const uint8_t *)at, n) != 0) {
        j->sink_failed = true;
        return -1;
    }
    return 0;
}

static int on_complete(http_parser *p)
{
    ((struct http_job *)p->data)->done = true;
    http_parser_pause(p, 1); /* whatever follows is not ours */
    return 0;
}

static const http_parser_settings settings = {
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* poll() for ev on fd: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev)
{
    struct pollfd pf = {.fd = fd, .events = ev};
    int r;
    while ((r = poll(&pf, 1, TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
    return r < 0 ? -1 : r;
}

static int connect_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), e = 0;
    socklen_t el = sizeof e;
    if (fd < 0)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
        (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
         (errno != EINPROGRESS || wait_fd(fd, POLLOUT) != 1 ||
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0))) {
        close(fd);
        return -1;
    }
    return fd;
}

static int dial(const char *host, const char *port, char *err, size_t errn)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res), fd = -1;
    if (rc != 0)
        return TUF_ERR(err, errn, "%s: %s", host, gai_strerror(rc));
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai);
    freeaddrinfo(res);
    if (fd < 0)
        return TUF_ERR(err, errn, "cannot connect to %s port %s", host, port);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) &&
                                          wait_fd(fd, POLLOUT) == 1)))
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The request for an http:// URL without user info, in req; host and port
 * to connect to. Bytes outside printable ASCII are refused. */
static int request_for(const char *url, char *host, size_t hcap, char *port, char *req,
                       size_t rcap)
{
    struct http_parser_url u;
    size_t n = strlen(url);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return -1;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, n, 0, &u) != 0 || !(u.field_set & (1 << UF_HOST)) ||
        !(u.field_set & (1 << UF_PATH)) ||
        u.field_data[UF_SCHEMA].len != 4 || strncmp(url + u.field_data[UF_SCHEMA].off, "http", 4) ||
        (u.field_set & (1 << UF_USERINFO)) || u.field_data[UF_HOST].len >= hcap)
        return -1;
#define PART(f) (int)u.field_data[f].len, url + u.field_data[f].off
    snprintf(host, hcap, "%.*s", PART(UF_HOST));
    snprintf(port, 8, "%u", (u.field_set & (1 << UF_PORT)) ? u.port : 80u);
    bool v6 = strchr(host, ':') != NULL, has_port = u.field_set & (1 << UF_PORT);
    int k = snprintf(req, rcap,
                     "GET %.*s%s%.*s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n"
                     "User-Agent: pawl-tuf-client\r\nConnection: close\r\n\r\n",
                     PART(UF_PATH), (u.field_set & (1 << UF_QUERY)) ? "?" : "", PART(UF_QUERY),
                     v6 ? "[" : "", host, v6 ? "]" : "", has_port ? ":" : "",
                     has_port ? port : "");
#undef PART
    return k > 0 && (size_t)k < rcap ? k : -1;
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Reads and parses the response until it is complete or fails. */
static int read_response(int fd, struct http_job *j, char *err, size_t errn)
{
    http_parser p;
    char buf[RECV_CHUNK];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = j;
    for (;;) {
        int w = wait_fd(fd, POLLIN);
        if (w != 1)
            return TUF_ERR(err, errn, w == 0 ? "timed out" : "cannot read: %s", strerror(errno));
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (r < 0)
            return TUF_ERR(err, errn, "cannot read: %s", strerror(errno));
        http_parser_execute(&p, &settings, buf, (size_t)r); /* r == 0: the end */
        if (j->done)
            return 0;
        if (j->too_big)
            return TUF_ERR(err, errn, "more than the %llu bytes allowed",
                           (unsigned long long)j->max);
        if (j->sink_failed)
            return TUF_ERR(err, errn, "the receiver refused the data");
        if (r == 0)
            return TUF_ERR(err, errn, "the connection closed early");
        if (HTTP_PARSER_ERRNO(&p) != HPE_OK)
            return TUF_ERR(err, errn, "malformed HTTP response: %s",
                           http_errno_description(HTTP_PARSER_ERRNO(&p)));
        if (since(&t0) > LOW_SPEED_S && (double)j->got < LOW_SPEED_BPS * since(&t0))
            return TUF_ERR(err, errn, "slower than %.0f byte/s after %d s", LOW_SPEED_BPS,
                           LOW_SPEED_S);
    }
}

static int http_fetch(void *ctx, const char *url, uint64_t max, pawl_tuf_sink_fn sink,
                      void *sctx, char *err, size_t errn)
{
    (void)ctx;
    struct http_job j = {.max = max, .sink = sink, .sctx = sctx};
    char host[256], port[8], req[8192];
    int n = request_for(url, host, sizeof host, port, req, sizeof req);
    if (n < 0)
        return TUF_ERR(err, errn, "not an http:// URL this fetcher can use (for https, "
                                  "libpawl-edge's libcurl fetcher)");
    int fd = dial(host, port, err, errn);
    if (fd < 0)
        return -1;
    int rc = send_all(fd, req, (size_t)n) != 0
                 ? TUF_ERR(err, errn, "cannot send the request: %s", strerror(errno))
                 : read_response(fd, &j, err, errn);
    close(fd);
    if (rc != 0)
        return rc;
    if (j.status == 403 || j.status == 404)
        return PAWL_TUF_NOTFOUND;
    if (j.status != 200)
        return TUF_ERR(err, errn, "HTTP status %d", j.status);
    return 0;
}

struct pawl_tuf_fetcher pawl_tuf_http_fetcher(void)
{
    struct pawl_tuf_fetcher f = {http_fetch, NULL};
    return f;
}
