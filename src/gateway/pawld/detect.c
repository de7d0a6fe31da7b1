/* detect.c: libpawl's detectors inline (pawl/detect.h, docs/detection.md).
 * One detector state for all workers, so that a principal's requests are
 * judged together whichever worker served them, under a mutex; its
 * findings are appended to logs.findings as Detection Finding lines. The
 * event of a decision: the request's method, path (no query), principal,
 * roles, address and the decision's status (200 for an allow: the
 * upstream's answer comes later). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "pawl/detect.h"
#include "pawld.h"

struct pawld_detect {
    pthread_mutex_t lock;
    struct pawl_detector *det;
    struct pawld_world *world; /* whose grants det reads (a reference) */
    int fd;
    char run[17];
    uint64_t n, lost;
};

static void on_finding(void *ctx, const struct pawl_finding *f)
{
    struct pawld_detect *d = ctx;
    char uid[64];
    snprintf(uid, sizeof uid, "pawld-%s-%llu-%s", d->run, (unsigned long long)++d->n, f->detector);
    json_t *j = pawl_finding_json(f, uid);
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    size_t len = line ? strlen(line) : 0;
    if (line != NULL) /* one write per line: O_APPEND keeps lines whole */
        line[len] = '\n';
    if (line == NULL || write(d->fd, line, len + 1) != (ssize_t)(len + 1))
        d->lost++; /* said at the end (pawld_detect_stop) */
    free(line);
    json_decref(j);
}

int pawld_detect_start(struct pawld_server_state *srv, char *err, size_t errlen)
{
    const struct pawld_world *w = srv->world;
    const char *p = w->cfg->findings;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    char path[4300];
    unsigned char id[8];
    if (p == NULL)
        return 0;
    struct pawld_detect *d = calloc(1, sizeof *d);
    pawld_path(w->dir, p, path, sizeof path);
    if (d == NULL || RAND_bytes(id, sizeof id) != 1 ||
        (d->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
        snprintf(err, errlen, "logs.findings: %s: cannot open for appending", path);
        free(d);
        return -1;
    }
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(d->run + 2 * i, 3, "%02x", id[i]);
    if (pawl_detector_new(&cfg, w->grants, &d->det) != PAWL_OK) {
        close(d->fd);
        free(d);
        snprintf(err, errlen, "out of memory for the detectors");
        return -1;
    }
    pthread_mutex_init(&d->lock, NULL);
    d->world = srv->world;
    pawld_world_ref(d->world);
    srv->detect = d;
    return 0;
}

void pawld_detect_world(struct pawld_server_state *srv, struct pawld_world *w)
{
    struct pawld_detect *d = srv->detect;
    if (d == NULL)
        return;
    pawld_world_ref(w);
    pthread_mutex_lock(&d->lock);
    struct pawld_world *old = d->world;
    d->world = w;
    pawl_detector_set_grants(d->det, w->grants);
    pthread_mutex_unlock(&d->lock);
    pawld_world_unref(old);
}

void pawld_detect_stop(struct pawld_server_state *srv)
{
    struct pawld_detect *d = srv->detect;
    if (d == NULL)
        return;
    if (d->lost > 0)
        pawld_log(srv->sinks, "error", "\"msg\":\"findings could not be written\",\"count\":%llu",
                  (unsigned long long)d->lost);
    pawl_detector_free(d->det);
    pawld_world_unref(d->world);
    close(d->fd);
    pthread_mutex_destroy(&d->lock);
    free(d);
    srv->detect = NULL;
}

void pawld_detect_feed(struct pawld_conn *c, const struct pawl_http_head *h, const struct pawl_decision *d)
{
    struct pawld_detect *dt = c->w->srv->detect;
    if (dt == NULL)
        return;
    struct pawl_api_event e;
    memset(&e, 0, sizeof e);
    const char *q = memchr(h->target.p, '?', h->target.n);
    e.time_ms = pawld_wall_ms();
    e.method = h->method;
    e.path = (pawl_str){h->target.p, q ? (size_t)(q - h->target.p) : h->target.n};
    e.src_ip = (pawl_str){c->peer_ip, strlen(c->peer_ip)};
    e.status = d->reason == PAWL_R_ALLOWED ? 200 : d->status;
    e.resp_len = -1;
    if (d->authenticated) {
        e.principal = (pawl_str){d->principal.uid, strlen(d->principal.uid)};
        for (unsigned i = 0; i < d->principal.nroles && i < PAWL_DISC_MAX_ROLES; i++) {
            e.roles[e.nroles++] = (pawl_str){d->principal.roles[i], strlen(d->principal.roles[i])};
            if (strcmp(d->principal.roles[i], "service") == 0)
                e.user_type = (pawl_str){"Service", 7};
        }
    }
    pthread_mutex_lock(&dt->lock);
    pawl_detector_feed(dt->det, &e, on_finding, dt);
    pthread_mutex_unlock(&dt->lock);
}
