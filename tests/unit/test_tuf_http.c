/* The plain-HTTP fetcher of the TUF client (src/edge/tuf_http.c) against a
 * hostile repository: a server thread on loopback answers each fetch with
 * a canned response (well formed, chunked, endless, cut short, malformed,
 * an error status) and records the request it got. The fetcher must hand
 * over exactly the body of a 200, stop at its bound, and say why it
 * failed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tuf_internal.h"

struct server {
    int lfd, port;
    const char *response; /* sent as is; "ENDLESS" sends a chunked body forever */
    size_t split;         /* send the response in pieces of this size (0: at once) */
    char request[4096];
    pthread_t th;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t n = 0;
    while (n + 1 < sizeof s->request && strstr(s->request, "\r\n\r\n") == NULL) {
        ssize_t r = recv(fd, s->request + n, sizeof s->request - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        s->request[n] = '\0';
    }
    if (strcmp(s->response, "ENDLESS") == 0) {
        static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        char chunk[4096 + 16];
        memset(chunk, 'x', sizeof chunk);
        memcpy(chunk, "1000\r\n", 6);
        memcpy(chunk + 6 + 4096, "\r\n", 2);
        ssize_t w = send(fd, head, sizeof head - 1, MSG_NOSIGNAL);
        while (w > 0)
            w = send(fd, chunk, 6 + 4096 + 2, MSG_NOSIGNAL);
    } else {
        size_t len = strlen(s->response), step = s->split ? s->split : len;
        for (size_t off = 0; off < len; off += step)
            if (send(fd, s->response + off, off + step > len ? len - off : step, MSG_NOSIGNAL) <
                0)
                break;
    }
    close(fd);
    return NULL;
}

static void start(struct server *s, const char *response, size_t split)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    memset(s, 0, sizeof *s);
    s->response = response;
    s->split = split;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 1), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void stop(struct server *s)
{
    shutdown(s->lfd, SHUT_RDWR); /* wakes an accept() no fetch reached */
    pthread_join(s->th, NULL);
    close(s->lfd);
}

struct got {
    char body[64];
    size_t n, total;
    bool refuse;
};

static int sink(void *ctx, const uint8_t *p, size_t n)
{
    struct got *g = ctx;
    if (g->refuse)
        return -1;
    size_t keep = n < sizeof g->body - 1 - g->n ? n : sizeof g->body - 1 - g->n;
    memcpy(g->body + g->n, p, keep);
    g->n += keep;
    g->body[g->n] = '\0';
    g->total += n;
    return 0;
}

/* Fetches path from a server answering response; returns the fetch's rc. */
static int fetch(const char *response, size_t split, const char *path, uint64_t max,
                 struct got *g, char *err, size_t errn, struct server *s)
{
    char url[256];
    struct pawl_tuf_fetcher f = pawl_tuf_http_fetcher();
    start(s, response, split);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    err[0] = '\0';
    int rc = f.fetch(f.ctx, url, max, sink, g, err, errn);
    stop(s);
    return rc;
}

static void body_of_a_200(void **state)
{
    (void)state;
    struct server s;
    char err[256], want[128];
    static const char *const ok[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
        "HTTP/1.0 200 OK\r\n\r\nhello", /* ends when the server closes */
    };
    for (size_t i = 0; i < 3; i++)
        for (size_t split = 0; split <= 1; split++) { /* at once, and byte by byte */
            struct got g = {0};
            assert_int_equal(fetch(ok[i], split, "/m/1.root.json?x=1", 100, &g, err,
                                   sizeof err, &s), 0);
            assert_string_equal(g.body, "hello");
            snprintf(want, sizeof want,
                     "GET /m/1.root.json?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", s.port);
            assert_memory_equal(s.request, want, strlen(want));
        }
}

static void statuses(void **state)
{
    (void)state;
    struct server s;
    struct got g = {0};
    char err[256];
    assert_int_equal(fetch("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", 0, "/a",
                           100, &g, err, sizeof err, &s), PAWL_TUF_NOTFOUND);
    assert_int_equal(fetch("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 0, "/a", 100,
                           &g, err, sizeof err, &s), PAWL_TUF_NOTFOUND);
    assert_int_equal(fetch("HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n", 0,
                           "/a", 100, &g, err, sizeof err, &s), -1);
    assert_string_equal(err, "HTTP status 302");
    assert_int_equal(fetch("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nsad!", 0, "/a", 100,
                           &g, err, sizeof err, &s), -1);
    assert_string_equal(err, "HTTP status 500");
    assert_int_equal(g.total, 0); /* no error body reached the sink */
}

static void bounds(void **state)
{
    (void)state;
    struct server s;
    char err[256];
    struct got g = {0};
    /* a Content-Length over the bound: refused before any byte is taken */
    assert_int_equal(fetch("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", 0, "/a",
                           10, &g, err, sizeof err, &s), -1);
    assert_string_equal(err, "more than the 10 bytes allowed");
    assert_int_equal(g.total, 0);
    /* endless data: stops at the bound */
    memset(&g, 0, sizeof g);
    assert_int_equal(fetch("ENDLESS", 0, "/a", 100000, &g, err, sizeof err, &s), -1);
    assert_string_equal(err, "more than the 100000 bytes allowed");
    assert_true(g.total <= 100000);
    /* exactly the bound is fine */
    memset(&g, 0, sizeof g);
    assert_int_equal(fetch("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, "/a", 5, &g,
                           err, sizeof err, &s), 0);
}

static void broken_responses(void **state)
{
    (void)state;
    struct server s;
    char err[256];
    struct got g = {0};
    assert_int_equal(fetch("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", 0, "/a",
                           1000, &g, err, sizeof err, &s), -1);
    assert_string_equal(err, "the connection closed early");
    assert_int_equal(
        fetch("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 0,
              "/a", 1000, &g, err, sizeof err, &s), -1);
    assert_non_null(strstr(err, "malformed HTTP response"));
    assert_int_equal(fetch("SSH-2.0-OpenSSH\r\n", 0, "/a", 1000, &g, err, sizeof err, &s), -1);
    assert_non_null(strstr(err, "malformed HTTP response"));
    assert_int_equal(fetch("", 0, "/a", 1000, &g, err, sizeof err, &s), -1);
    assert_string_equal(err, "the connection closed early");
    g.refuse = true;
    assert_int_equal(fetch("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, "/a", 100,
                           &g, err, sizeof err, &s), -1);
    assert_string_equal(err, "the receiver refused the data");
}

static void urls_refused(void **state)
{
    (void)state;
    struct pawl_tuf_fetcher f = pawl_tuf_http_fetcher();
    struct got g = {0};
    char err[256];
    static const char *const bad[] = {
        "https://127.0.0.1/a", "http://user:pw@127.0.0.1/a", "http://127.0.0.1/a b",
        "http://127.0.0.1/a\r\nX-Evil: 1", "ftp://127.0.0.1/a", "http://127.0.0.1", "/a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(f.fetch(f.ctx, bad[i], 100, sink, &g, err, sizeof err), -1);
        assert_non_null(strstr(err, "not an http:// URL"));
    }
    /* nothing listens on the port of a socket just closed */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    char url[64];
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/a", ntohs(a.sin_port));
    assert_int_equal(f.fetch(f.ctx, url, 100, sink, &g, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot connect to 127.0.0.1 port"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_of_a_200), cmocka_unit_test(statuses),
        cmocka_unit_test(bounds),        cmocka_unit_test(broken_responses),
        cmocka_unit_test(urls_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
