/* handlers.c: what each kind of listener does with a checked request head:
 * proxy (decide, then forward), authz (decide and answer for nginx or
 * Envoy), admin (health, readiness, metrics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/extauthz.h"
#include "pawl/jwt.h"
#include "pawld.h"
#include "util.h"

/* Counts a decision (and the engine's token-cache counters) and writes its
 * event and audit record. A decision that cannot be audited is not
 * carried out: it becomes dependency_unavailable. */
static void decided(struct pawld_conn *c, const struct pawl_http_head *h, struct pawl_decision *d)
{
    struct pawld_worker *w = c->w;
    struct pawld_reqinfo ri;
    struct pawl_jwt_stats st;
    c->route = d->route ? (long)d->route->index : -1;
    pawld_conn_reqinfo(c, h, &ri);
    if (pawld_record(w->sinks, &ri, d) != 0 && d->reason == PAWL_R_ALLOWED) {
        d->reason = PAWL_R_DEPENDENCY_UNAVAILABLE;
        d->status = pawl_reason_status(d->reason);
        snprintf(d->detail, sizeof d->detail, "the audit trail cannot be written");
    }
    pawl_engine_jwt_stats(w->engine, &st);
    pthread_mutex_lock(&w->metrics_lock);
    w->metrics.jwt_cache_hits = w->jwt_base.hits + st.hits;
    w->metrics.jwt_cache_misses = w->jwt_base.misses + st.misses;
    pthread_mutex_unlock(&w->metrics_lock);
    pawld_conn_count(c, d->reason);
}

/* "Bearer <token>" (scheme case-insensitive); anything else is no token. */
static pawl_str bearer(pawl_str auth)
{
    pawl_str none = {"", 0}, scheme = {auth.p, 7};
    if (auth.n <= 7 || !pawl__str_ieq_cstr(scheme, "bearer "))
        return none;
    pawl_str t = {auth.p + 7, auth.n - 7};
    while (t.n > 0 && t.p[0] == ' ') {
        t.p++;
        t.n--;
    }
    return t;
}

void pawld_handle_proxy(struct pawld_conn *c, const struct pawl_http_head *h,
                        const struct pawl_http_verdict *v)
{
    struct pawl_request rq;
    struct pawl_decision d;
    uint8_t spki[32];
    char subject[PAWL_AUTHZ_SUBJECT_MAX];
    memset(&rq, 0, sizeof rq);
    rq.method = h->method;
    rq.path = h->target;
    rq.time_ms = pawld_wall_ms();
    rq.bearer = bearer(v->authorization);
    if (pawld_io_peer(&c->io, spki, subject, sizeof subject)) {
        rq.cert_spki_sha256 = spki;
        rq.cert_subject.p = subject;
        rq.cert_subject.n = strlen(subject);
    }
    pawl_decide(c->w->engine, &rq, &d);
    decided(c, h, &d);
    if (d.reason != PAWL_R_ALLOWED) {
        /* a body is never read: the connection closes after the answer */
        pawld_conn_answer(c, &d, NULL, c->framing != PAWL_HTTP_NO_BODY);
        return;
    }
    pawld_proxy_start(c, h, &d);
}

void pawld_handle_authz(struct pawld_conn *c, const struct pawl_http_head *h)
{
    const struct pawld_config *cfg = c->w->world->cfg;
    struct pawl_authz_config ac = {
        .flavor = c->lc->flavor,
        .path_prefix = {c->lc->path_prefix ? c->lc->path_prefix : "",
                        c->lc->path_prefix ? strlen(c->lc->path_prefix) : 0},
        .step_up_header = {cfg->step_up_header, strlen(cfg->step_up_header)},
    };
    struct pawl_authz_input *in = malloc(sizeof *in);
    struct pawl_decision d;
    char extra[2200] = "", id[2048];
    if (in == NULL) {
        pawld_conn_close(c);
        return;
    }
    memset(&d, 0, sizeof d);
    d.reason = pawl_authz_input(&ac, h, pawld_wall_ms(), in, d.detail, sizeof d.detail);
    if (d.reason == PAWL_R_ALLOWED)
        pawl_decide(c->w->engine, &in->rq, &d);
    else
        d.status = pawl_reason_status(d.reason);
    decided(c, h, &d);
    free(in);
    if (d.reason == PAWL_R_ALLOWED && d.authenticated && pawl_authz_identity(&d, id, sizeof id) > 0)
        snprintf(extra, sizeof extra, "%s: %s\r\n", cfg->identity_header, id);
    pawld_conn_answer(c, &d, extra, false);
}

static void admin_text(struct pawld_conn *c, int status, const char *ctype, const char *body)
{
    pawld_respond(c, status, ctype, NULL, body, strlen(body), false);
}

/* Sums every worker's counters (each under its own lock) and renders them. */
static void metrics(struct pawld_conn *c)
{
    struct pawld_server_state *srv = c->w->srv;
    const struct pawld_world *wd = c->w->world;
    struct pawld_metrics sum;
    if (pawld_metrics_init(&sum, wd->policy->nroutes) != PAWL_OK) {
        pawld_conn_close(c);
        return;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct pawld_worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->metrics_lock);
        if (w->metrics.nroutes == sum.nroutes) /* a worker mid-reload counts next time */
            pawld_metrics_add(&sum, &w->metrics);
        pthread_mutex_unlock(&w->metrics_lock);
    }
    size_t cap = 65536, n = 0;
    char *out = NULL;
    while (cap <= (64u << 20)) {
        char *b = realloc(out, cap);
        if (b == NULL)
            break;
        out = b;
        if ((n = pawld_metrics_render(&sum, wd->route_ids, out, cap)) > 0)
            break;
        cap *= 4;
    }
    pawld_metrics_free(&sum);
    if (n > 0)
        pawld_respond(c, 200, "text/plain; version=0.0.4", NULL, out, n, false);
    else
        pawld_conn_close(c);
    free(out);
}

void pawld_handle_admin(struct pawld_conn *c, const struct pawl_http_head *h)
{
    struct pawld_server_state *srv = c->w->srv;
    pawl_str path = h->target;
    const char *q = memchr(path.p, '?', path.n);
    if (q)
        path.n = (size_t)(q - path.p);
    c->discard_body = true;
    c->state = PAWLD_C_BODY;
    pawld_h1_resume(&c->h1);
    if (!pawl__str_eq(h->method, "GET") && !pawl__str_eq(h->method, "HEAD"))
        admin_text(c, 405, "application/json", "{\"reason\":\"method_not_allowed\"}");
    else if (pawl__str_eq(path, "/healthz"))
        admin_text(c, 200, "application/json", "{\"status\":\"ok\"}");
    else if (pawl__str_eq(path, "/readyz") && atomic_load(&srv->draining))
        admin_text(c, 503, "application/json", "{\"status\":\"draining\"}");
    else if (pawl__str_eq(path, "/readyz"))
        admin_text(c, atomic_load(&srv->ready) ? 200 : 503, "application/json",
                   atomic_load(&srv->ready) ? "{\"status\":\"ready\"}" : "{\"status\":\"starting\"}");
    else if (pawl__str_eq(path, "/metrics"))
        metrics(c);
    else
        admin_text(c, 404, "application/json", "{\"reason\":\"route_not_found\"}");
}
