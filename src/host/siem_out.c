/* siem_out.c: see siem_out.h */
#define _DEFAULT_SOURCE /* SIOCOUTQ, usleep */
#include "siem_out.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define DEFAULT_SPOOL (64u << 20)
#define IO_TIMEOUT_MS 2000

struct pawl_siem_out {
    char host[256], dir[4096];
    int port;
    uint64_t max_spool;
    SSL_CTX *ctx;
    SSL *ssl;
    int fd, qfd;
    uint64_t confirmed, qsize; /* confirmed: offset of the first alert not known delivered */
    uint64_t written;          /* written on the current connection (>= confirmed) */
    int64_t next_try, backoff;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the spool -------------------------------------------------------------------- */

static int save_confirmed(struct pawl_siem_out *s)
{
    char path[4200], tmp[4220], text[32];
    snprintf(path, sizeof path, "%s/sent", s->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)s->confirmed);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, text, (size_t)n) == n && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

/* Everything confirmed: the queue starts again empty (truncated first, so
 * that a crash in between leaves "sent" past the end, read as empty). */
static void compact(struct pawl_siem_out *s)
{
    if (s->confirmed != s->qsize || s->qsize == 0 || ftruncate(s->qfd, 0) != 0 || fsync(s->qfd) != 0)
        return;
    s->confirmed = s->qsize = s->written = 0;
    (void)save_confirmed(s);
}

static int open_spool(struct pawl_siem_out *s, char *err, size_t n)
{
    char path[4200], text[32] = "";
    struct stat st;
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST)
        return snprintf(err, n, "%s: %s", s->dir, strerror(errno)), -1;
    snprintf(path, sizeof path, "%s/queue", s->dir);
    if ((s->qfd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0 || fstat(s->qfd, &st) != 0)
        return snprintf(err, n, "%s: %s", path, strerror(errno)), -1;
    s->qsize = (uint64_t)st.st_size;
    snprintf(path, sizeof path, "%s/sent", s->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, text, sizeof text - 1) : 0;
    if (fd >= 0)
        close(fd);
    text[got > 0 ? got : 0] = '\0';
    s->confirmed = strtoull(text, NULL, 10);
    if (s->confirmed > s->qsize) /* a compaction was cut short */
        s->confirmed = s->qsize;
    return 0;
}

/* Alerts between the confirmed offset and the end of the queue. */
static uint64_t pending(const struct pawl_siem_out *s)
{
    uint64_t off = s->confirmed, count = 0;
    char head[24];
    while (off < s->qsize) {
        ssize_t got = pread(s->qfd, head, sizeof head - 1, (off_t)off);
        if (got <= 0)
            break;
        head[got] = '\0';
        char *sp;
        unsigned long long len = strtoull(head, &sp, 10);
        if (*sp != ' ' || len == 0)
            break; /* not a frame: counted as one, never parsed past */
        off += (uint64_t)(sp - head) + 1 + len;
        count++;
    }
    return count + (off < s->qsize);
}

/* ---- the connection -------------------------------------------------------------- */

static void disconnect(struct pawl_siem_out *s)
{
    s->written = s->confirmed;
    SSL_free(s->ssl);
    s->ssl = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void failed(struct pawl_siem_out *s)
{
    disconnect(s);
    s->backoff = s->backoff ? (s->backoff * 2 > 2000 ? 2000 : s->backoff * 2) : 100;
    s->next_try = now_ms() + s->backoff;
}

static int tcp_connect(const char *host, int port)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        bool ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
                  (errno == EINPROGRESS && poll(&p, 1, IO_TIMEOUT_MS) == 1 &&
                   getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0);
        if (!ok) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) { /* blocking from here, with time limits */
        struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    return fd;
}

static int reconnect(struct pawl_siem_out *s)
{
    if ((s->fd = tcp_connect(s->host, s->port)) < 0)
        return -1;
    ERR_clear_error();
    s->ssl = SSL_new(s->ctx);
    if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1 || SSL_set1_host(s->ssl, s->host) != 1 ||
        SSL_set_tlsext_host_name(s->ssl, s->host) != 1 || SSL_connect(s->ssl) != 1) {
        disconnect(s);
        return -1;
    }
    return 0;
}

/* The receiver closed its side (or the connection broke). */
static bool peer_gone(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* 1 when the receiver's TCP has acknowledged every byte written, 0 when
 * not yet by the deadline, -1 when the connection failed. */
static int acknowledged(int fd, int64_t deadline)
{
    for (;;) {
        int outq = -1, soerr = 0;
        socklen_t sl = sizeof soerr;
        if (ioctl(fd, SIOCOUTQ, &outq) != 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
            soerr != 0)
            return -1;
        if (outq == 0)
            return 1;
        if (now_ms() >= deadline)
            return 0;
        usleep(2000);
    }
}

static int confirm(struct pawl_siem_out *s, uint64_t upto)
{
    s->confirmed = upto;
    s->backoff = 0;
    if (save_confirmed(s) != 0)
        return -1;
    compact(s);
    return 0;
}

/* Writes everything not confirmed, then confirms it. 0 when all is
 * confirmed, -1 when the receiver is not reachable now. */
static int push(struct pawl_siem_out *s, int64_t deadline)
{
    char buf[16384];
    /* what was written earlier and has been acknowledged since is delivered,
     * even if the receiver has closed the connection after it */
    if (s->ssl != NULL && s->written > s->confirmed && acknowledged(s->fd, 0) == 1 &&
        confirm(s, s->written) != 0)
        return -1;
    if (s->confirmed == s->qsize)
        return 0;
    if (s->ssl != NULL && peer_gone(s->fd))
        disconnect(s); /* closed while idle: nothing in flight to doubt */
    if (s->ssl == NULL && (now_ms() < s->next_try || reconnect(s) != 0)) {
        if (s->ssl == NULL && now_ms() >= s->next_try)
            failed(s);
        return -1;
    }
    if (s->written < s->confirmed)
        s->written = s->confirmed; /* a new connection starts at what is not confirmed */
    uint64_t end = s->qsize;
    while (s->written < end) {
        size_t want = end - s->written < sizeof buf ? (size_t)(end - s->written) : sizeof buf;
        ssize_t got = pread(s->qfd, buf, want, (off_t)s->written);
        ERR_clear_error();
        if (got <= 0 || SSL_write(s->ssl, buf, (int)got) != (int)got) {
            failed(s); /* sent again after a reconnection: the receiver drops a partial frame */
            return -1;
        }
        s->written += (uint64_t)got;
    }
    int ack = acknowledged(s->fd, deadline > now_ms() + IO_TIMEOUT_MS ? now_ms() + IO_TIMEOUT_MS : deadline);
    if (ack <= 0) {
        if (ack < 0)
            failed(s);
        return -1; /* not yet acknowledged: the connection is kept, nothing is written twice */
    }
    return confirm(s, end);
}

/* ---- the interface ----------------------------------------------------------------- */

static SSL_CTX *tls_ctx(const struct pawl_siem_cfg *c, char *err, size_t n)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1 ||
        (c->cert && SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1) ||
        (c->key && SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1)) {
        snprintf(err, n, "SIEM TLS: cannot load the CA %s, certificate %s or key %s", c->ca,
                 c->cert ? c->cert : "(none)", c->key ? c->key : "(none)");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

struct pawl_siem_out *pawl_siem_open(const struct pawl_siem_cfg *c, char *err, size_t n)
{
    struct pawl_siem_out *s = calloc(1, sizeof *s);
    if (s == NULL)
        return snprintf(err, n, "out of memory"), NULL;
    s->fd = s->qfd = -1;
    snprintf(s->host, sizeof s->host, "%s", c->host);
    snprintf(s->dir, sizeof s->dir, "%s", c->spool);
    s->port = c->port;
    s->max_spool = c->max_spool ? c->max_spool : DEFAULT_SPOOL;
    signal(SIGPIPE, SIG_IGN); /* a closed receiver is an error to handle, not a signal */
    if ((s->ctx = tls_ctx(c, err, n)) == NULL || open_spool(s, err, n) != 0) {
        pawl_siem_close(s);
        return NULL;
    }
    return s;
}

int pawl_siem_enqueue(struct pawl_siem_out *s, const char *frame, size_t n, char *err, size_t errlen)
{
    if (s->qsize + n > s->max_spool) {
        snprintf(err, errlen, "%s: the spool is full (%llu bytes); alert not queued", s->dir,
                 (unsigned long long)s->max_spool);
        return -1;
    }
    if (write(s->qfd, frame, n) != (ssize_t)n || fdatasync(s->qfd) != 0) {
        snprintf(err, errlen, "%s/queue: %s", s->dir, strerror(errno));
        return -1;
    }
    s->qsize += n;
    (void)push(s, now_ms()); /* now if the receiver is there; else later */
    return 0;
}

uint64_t pawl_siem_flush(struct pawl_siem_out *s, int64_t timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (push(s, deadline) != 0 && now_ms() < deadline)
        usleep(50000);
    return pending(s);
}

void pawl_siem_close(struct pawl_siem_out *s)
{
    if (s == NULL)
        return;
    disconnect(s);
    if (s->qfd >= 0)
        close(s->qfd);
    SSL_CTX_free(s->ctx);
    free(s);
}
