/* Spike 0009: libevent 2.1 evhttp (Debian) as pawld's engine.
 *   libevent PORT THREADS     1 KiB on GET /, "method=.. entity=.." otherwise
 * One event_base and one evhttp per thread, one SO_REUSEPORT listener per thread.
 * Not part of the project build. */
#include <pthread.h>
#include <signal.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "common.h"

struct worker {
    pthread_t tid;
    unsigned port;
};

static void on_req(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain");
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET && strcmp(evhttp_request_get_uri(req), "/") == 0) {
        evbuffer_add_reference(out, spike_body, SPIKE_BODY_LEN, NULL, NULL);
    } else {
        const char *host = evhttp_request_get_host(req);
        evbuffer_add_printf(out, "method=%d uri=%s host=%s entity=%zu\n", (int)evhttp_request_get_command(req),
                            evhttp_request_get_uri(req), host ? host : "-",
                            evbuffer_get_length(evhttp_request_get_input_buffer(req)));
    }
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    int fd = spike_listen(w->port);
    if (fd < 0) {
        perror("listen");
        exit(1);
    }
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(http, on_req, NULL);
    if (evhttp_accept_socket(http, fd) != 0) {
        fprintf(stderr, "evhttp_accept_socket failed\n");
        exit(1);
    }
    event_base_dispatch(base);
    return NULL;
}

int main(int argc, char **argv)
{
    static struct worker workers[SPIKE_MAX_THREADS];
    unsigned port = spike_arg(argc, argv, 1, 8082), n = spike_arg(argc, argv, 2, 2);

    signal(SIGPIPE, SIG_IGN);
    spike_fill_body();
    if (n > SPIKE_MAX_THREADS)
        n = SPIKE_MAX_THREADS;
    for (unsigned i = 0; i < n; i++) {
        workers[i].port = port;
        pthread_create(&workers[i].tid, NULL, run, &workers[i]);
    }
    fprintf(stderr, "libevent on 127.0.0.1:%u, %u threads\n", port, n);
    for (unsigned i = 0; i < n; i++)
        pthread_join(workers[i].tid, NULL);
    return 0;
}
