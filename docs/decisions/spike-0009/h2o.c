/* Spike 0009: libh2o-evloop 2.2.5 (Debian) as pawld's engine.
 *   h2o PORT THREADS                       1 KiB on GET /, "method=.. entity=.." otherwise
 *   h2o PORT THREADS proxy URL             h2o_proxy to URL (e.g. http://127.0.0.1:8090/)
 *   h2o PORT THREADS tls CERT KEY [CA]     same as the first, over TLS (CA: client certs required)
 * One h2o_context_t and one evloop per thread, one SO_REUSEPORT listener per thread,
 * one read-only h2o_globalconf_t shared by all. Not part of the project build. */
#define H2O_USE_LIBUV 0
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "h2o.h"
#include "h2o/http1.h"
#include "h2o/http2.h"
#include "common.h"

struct worker {
    pthread_t tid;
    unsigned port;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
};

static h2o_globalconf_t config;
static SSL_CTX *ssl_ctx;

/* h2o 2.2.5 has no public accessor for the SSL object of a connection; its private
 * struct st_h2o_socket_ssl_t starts with these two members (lib/common/socket.c). */
struct st_h2o_socket_ssl_t {
    SSL_CTX *ssl_ctx;
    SSL *ossl;
};

static void peer_subject(h2o_req_t *req, char *out, size_t outlen)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    snprintf(out, outlen, "-");
    if (sock == NULL || sock->ssl == NULL)
        return;
    X509 *peer = SSL_get1_peer_certificate(sock->ssl->ossl);
    if (peer == NULL)
        return;
    X509_NAME_oneline(X509_get_subject_name(peer), out, (int)outlen);
    X509_free(peer);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        h2o_memis(req->path.base, req->path.len, H2O_STRLIT("/"))) {
        req->res.content_length = SPIKE_BODY_LEN;
        h2o_send_inline(req, spike_body, SPIKE_BODY_LEN);
        return 0;
    }
    char subj[256], *msg = h2o_mem_alloc_pool(&req->pool, 1024);
    peer_subject(req, subj, sizeof(subj));
    int n = snprintf(msg, 1024, "method=%.*s path=%.*s authority=%.*s entity=%zd version=0x%x peer=%s\n",
                     (int)req->method.len, req->method.base, (int)req->path.len, req->path.base,
                     (int)req->authority.len, req->authority.base,
                     req->entity.base == NULL ? (ssize_t)-1 : (ssize_t)req->entity.len, req->version, subj);
    req->res.content_length = (size_t)n;
    h2o_send_inline(req, msg, (size_t)n);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct worker *w = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    h2o_accept(&w->accept_ctx, sock);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    int fd = spike_listen(w->port);
    if (fd < 0) {
        perror("listen");
        exit(1);
    }
    h2o_context_init(&w->ctx, h2o_evloop_create(), &config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = config.hosts;
    w->accept_ctx.ssl_ctx = ssl_ctx;
    h2o_socket_t *ls = h2o_evloop_socket_create(w->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    ls->data = w;
    h2o_socket_read_start(ls, on_accept);
    while (h2o_evloop_run(w->ctx.loop, INT32_MAX) == 0)
        ;
    return NULL;
}

int main(int argc, char **argv)
{
    static struct worker workers[SPIKE_MAX_THREADS];
    unsigned port = spike_arg(argc, argv, 1, 8081), n = spike_arg(argc, argv, 2, 2);
    const char *mode = argc > 3 ? argv[3] : "static";

    signal(SIGPIPE, SIG_IGN);
    spike_fill_body();
    if (n > SPIKE_MAX_THREADS)
        n = SPIKE_MAX_THREADS;
    h2o_config_init(&config);
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);

    if (strcmp(mode, "proxy") == 0 && argc > 4) {
        static h2o_url_t upstream;
        h2o_proxy_config_vars_t pc;
        if (h2o_url_parse(argv[4], SIZE_MAX, &upstream) != 0) {
            fprintf(stderr, "bad upstream URL\n");
            return 2;
        }
        memset(&pc, 0, sizeof(pc));
        pc.io_timeout = 5000;
        pc.keepalive_timeout = 2000;
        h2o_proxy_register_reverse_proxy(path, &upstream, &pc);
    } else {
        h2o_handler_t *h = h2o_create_handler(path, sizeof(*h));
        h->on_req = on_req;
    }
    if (strcmp(mode, "tls") == 0 && argc > 5) {
        ssl_ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_RENEGOTIATION);
        if (SSL_CTX_use_certificate_chain_file(ssl_ctx, argv[4]) != 1 ||
            SSL_CTX_use_PrivateKey_file(ssl_ctx, argv[5], SSL_FILETYPE_PEM) != 1) {
            ERR_print_errors_fp(stderr);
            return 2;
        }
        if (argc > 6) {
            if (SSL_CTX_load_verify_locations(ssl_ctx, argv[6], NULL) != 1) {
                ERR_print_errors_fp(stderr);
                return 2;
            }
            SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        h2o_ssl_register_alpn_protocols(ssl_ctx, h2o_http2_alpn_protocols);
    }
    for (unsigned i = 0; i < n; i++) {
        workers[i].port = port;
        pthread_create(&workers[i].tid, NULL, run, &workers[i]);
    }
    fprintf(stderr, "h2o %s on 127.0.0.1:%u, %u threads\n", mode, port, n);
    for (unsigned i = 0; i < n; i++)
        pthread_join(workers[i].tid, NULL);
    return 0;
}
