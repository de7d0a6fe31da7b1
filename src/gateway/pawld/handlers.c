/* handlers.c: what each kind of listener does with a checked request head:
 * proxy (decide, then forward), authz (decide and answer for nginx or
 * Envoy), admin (health, readiness, metrics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/blocklist.h"
#include "admin_query.h"
#include "pawl/extauthz.h"
#include "host.h"
#include "pawl/jwt.h"
#include "pawld.h"
#include "util.h"

/* Counts a decision (and the engine's token-cache counters) and writes its
 * event and audit record. An allow for a principal or client address a
 * detector blocked becomes blocked_by_detector. A decision that cannot be
 * audited is not carried out: it becomes dependency_unavailable. */
static void decided(struct pawld_conn *c, const struct pawl_http_head *h, struct pawl_decision *d)
{
    struct pawld_worker *w = c->w;
    struct pawl_event_req ri;
    struct pawl_jwt_stats st;
    if (d->reason == PAWL_R_ALLOWED && pawld_detect_blocked(c, d, d->detail, sizeof d->detail)) {
        d->reason = PAWL_R_BLOCKED_BY_DETECTOR;
        d->status = pawl_reason_status(d->reason);
    }
    c->route = d->route ? (long)d->route->index : -1;
    pawld_conn_reqinfo(c, h, &ri);
    bool unrecorded = pawld_record(w->sinks, &w->batch, &ri, d) != 0;
    if (unrecorded && d->reason == PAWL_R_ALLOWED) {
        d->reason = PAWL_R_DEPENDENCY_UNAVAILABLE;
        d->status = pawl_reason_status(d->reason);
        snprintf(d->detail, sizeof d->detail, "the audit trail cannot be written");
    }
    pawl_engine_jwt_stats(w->engine, &st);
    pthread_mutex_lock(&w->metrics_lock);
    w->metrics.unrecorded += unrecorded; /* a deny is answered anyway; it is counted */
    if (d->reason == PAWL_R_RATE_LIMITED && d->rate_limit != PAWL_RL_NONE)
        w->metrics.rate_limited[d->rate_limit - 1]++;
    w->metrics.jwt_cache_hits = w->jwt_base.hits + st.hits;
    w->metrics.jwt_cache_misses = w->jwt_base.misses + st.misses;
    pthread_mutex_unlock(&w->metrics_lock);
    pawld_conn_count(c, d->reason);
    pawld_detect_feed(c, h, d);
}

/* The engine reads the twin, which the vehicle link updates from its own
 * thread: decisions hold the read side of its lock. */
static void decide(struct pawld_conn *c, const struct pawl_request *rq, struct pawl_decision *d)
{
    struct pawld_server_state *srv = c->w->srv;
    if (c->w->stale) { /* a reload it could not follow: its keys, grants, rules are old */
        memset(d, 0, sizeof *d);
        d->reason = PAWL_R_DEPENDENCY_UNAVAILABLE;
        d->status = pawl_reason_status(d->reason);
        snprintf(d->detail, sizeof d->detail, "this worker could not load the reloaded "
                 "configuration (out of memory); it tries again each second");
        return;
    }
    pthread_rwlock_rdlock(&srv->twin_lock);
    pawl_decide(c->w->engine, rq, d);
    pthread_rwlock_unlock(&srv->twin_lock);
}

/* ---- step-up -------------------------------------------------------------- */

/* When the decision gets to it (pawl_request.step_up_check: a step-up
 * route, every other check passed): a command token in the request, when
 * there is one, is verified with the trust policy of the vehicle it names.
 * Verified before deciding, any request with the header made pawld read a
 * file and check signatures, unauthenticated (review: 430 us each, 92 % of
 * a worker). */
static bool step_up_pre(struct pawld_conn *c, pawl_str header, struct pawld_step_up *su)
{
    const struct pawld_world *wd = c->w->world;
    char path[4300], err[512];
    size_t n;
    if (header.n == 0)
        return false;
    if (wd->step_up_dir[0] == '\0') {
        snprintf(su->detail, sizeof su->detail, "this pawld verifies no command tokens (step_up: not configured)");
        return false;
    }
    if (!pawld_step_up_parse(header, su))
        return false;
    snprintf(path, sizeof path, "%s/%s.json", wd->step_up_dir, su->vin); /* a VIN has no '/' or '.' */
    char *trust = pawl_host_slurp(path, 1u << 16, &n, err, sizeof err);
    if (trust == NULL) {
        snprintf(su->detail, sizeof su->detail, "no trust policy for %s", su->vin);
        return false;
    }
    bool ok = pawld_step_up_verify(su, trust, n, path, (uint64_t)(pawld_wall_ms() / 1000),
                                   &c->w->srv->replay);
    free(trust);
    return ok;
}

struct step_up_call {
    struct pawld_conn *c;
    pawl_str token;
    struct pawld_step_up *su;
    bool ok;
};

static bool step_up_now(void *ctx)
{
    struct step_up_call *s = ctx;
    s->ok = step_up_pre(s->c, s->token, s->su);
    return s->ok;
}

/* After deciding: a verified token counts only for the vehicle in the path
 * and the command the route stands for, and is used up (its id recorded)
 * only by a request so allowed. */
static void step_up_bind(struct pawld_conn *c, bool present, bool verified, struct pawld_step_up *su,
                         struct pawl_decision *d)
{
    const char *cmd = d->route ? c->w->world->route_command[d->route->index] : NULL;
    if (d->reason == PAWL_R_STEP_UP_REQUIRED && present && !verified) {
        snprintf(d->detail, sizeof d->detail, "%s", su->detail);
        return;
    }
    if (d->reason != PAWL_R_ALLOWED || d->route == NULL || !d->route->step_up)
        return;
    if (cmd == NULL || strcmp(su->vin, d->vin) != 0 || strcmp(su->cmd, cmd) != 0) {
        d->reason = PAWL_R_STEP_UP_REQUIRED;
        d->status = pawl_reason_status(d->reason);
        snprintf(d->detail, sizeof d->detail, "the command token is for %s on %s, not %s on %s",
                 su->cmd, su->vin, cmd ? cmd : "?", d->vin);
        return;
    }
    bool store_failed;
    if (!pawld_replay_record(c->w, su, (uint64_t)(pawld_wall_ms() / 1000), &store_failed)) {
        /* used meanwhile by another request, or no room; or step_up.state or .redis cannot be
         * written */
        d->reason = store_failed ? PAWL_R_DEPENDENCY_UNAVAILABLE : PAWL_R_STEP_UP_REQUIRED;
        d->status = pawl_reason_status(d->reason);
        snprintf(d->detail, sizeof d->detail, "%s", su->detail);
        return;
    }
    c->step_up_ok = true; /* forwarded: the vehicle checks it again */
}

/* Decides rq, with the command token (may be empty) verified if the
 * decision gets to it, and bound to the request after. */
static void decide_step_up(struct pawld_conn *c, struct pawl_request *rq, pawl_str token,
                           struct pawl_decision *d)
{
    struct pawld_step_up su;
    struct step_up_call sc = {c, token, &su, false};
    su.detail[0] = '\0';
    rq->step_up_check = step_up_now;
    rq->step_up_ctx = &sc;
    decide(c, rq, d);
    step_up_bind(c, token.n > 0, sc.ok, &su, d);
}

/* The first value of header name, and how many times it is present. */
static pawl_str header_value(const struct pawl_http_head *h, const char *name, size_t *count)
{
    pawl_str n = {name, strlen(name)}, v = {"", 0};
    *count = 0;
    for (size_t i = 0; i < h->nheaders; i++)
        if (pawl__str_ieq(h->headers[i].name, n) && (*count)++ == 0)
            v = h->headers[i].value;
    return v;
}

/* A request refused before any policy is asked (its reason, the detail),
 * recorded and answered; the connection closes after it. */
static void refuse_head(struct pawld_conn *c, const struct pawl_http_head *h, enum pawl_reason r,
                        const char *detail)
{
    struct pawl_decision d;
    pawld_refusal(&d, r, detail);
    decided(c, h, &d);
    pawld_conn_answer(c, &d, NULL, true);
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
    rq.bearer = pawl_http_bearer(v->authorization);
    char why[sizeof d.detail];
    int peer = pawld_conn_peer(c, spki, subject, sizeof subject, why, sizeof why);
    if (peer < 0) { /* no request more on this connection */
        refuse_head(c, h, PAWL_R_UNAUTHENTICATED, why);
        return;
    }
    if (v->host.p == NULL) { /* HTTP/1.0 (1.1 without Host is refused by the check) */
        refuse_head(c, h, PAWL_R_BAD_REQUEST, "a request without Host: pawld forwards it as "
                    "HTTP/1.1, which needs one");
        return;
    }
    if (peer > 0) {
        rq.cert_spki_sha256 = spki;
        rq.cert_subject.p = subject;
        rq.cert_subject.n = strlen(subject);
    }
    size_t ntokens;
    pawl_str token = header_value(h, c->w->world->cfg->step_up_header, &ntokens);
    if (ntokens > 1) { /* which one would the vehicle check? none: refused */
        snprintf(why, sizeof why, "%s is repeated", c->w->world->cfg->step_up_header);
        refuse_head(c, h, PAWL_R_BAD_REQUEST, why);
        return;
    }
    decide_step_up(c, &rq, token, &d);
    decided(c, h, &d);
    if (d.reason != PAWL_R_ALLOWED) {
        /* a body is never read: the connection closes after the answer */
        pawld_conn_answer(c, &d, NULL, c->framing != PAWL_HTTP_NO_BODY);
        return;
    }
    const char *vcmd = d.route ? c->w->world->route_vehicle[d.route->index] : NULL;
    if (vcmd != NULL)
        pawld_vehicle_start(c, token, &d, vcmd); /* to the vehicle over the link */
    else
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
    char extra[PAWLD_EXTRA_MAX] = "", id[2048];
    if (in == NULL) {
        pawld_conn_close(c);
        return;
    }
    memset(&d, 0, sizeof d);
    d.reason = pawl_authz_input(&ac, h, pawld_wall_ms(), in, d.detail, sizeof d.detail);
    if (in->client_ip[0] != '\0') { /* the gateway's client, not the gateway */
        snprintf(c->client_ip, sizeof c->client_ip, "%s", in->client_ip);
        c->client_port = 0;
    }
    if (d.reason == PAWL_R_ALLOWED) {
        decide_step_up(c, &in->rq, in->step_up_token, &d);
    } else {
        d.status = pawl_reason_status(d.reason);
    }
    /* audited and fed to the detectors as the gateway's client asked it,
     * not as the check request to this listener */
    struct pawl_http_head asked = *h;
    if (in->rq.method.n > 0)
        asked.method = in->rq.method;
    if (in->rq.path.n > 0)
        asked.target = in->rq.path;
    decided(c, &asked, &d);
    free(in);
    if (d.reason == PAWL_R_ALLOWED && d.authenticated) {
        /* an allow always carries the identity it was decided for */
        if (pawl_authz_identity(&d, id, sizeof id) == 0) {
            pawld_conn_deny(c, PAWL_R_HEADERS_TOO_LARGE, "the identity does not fit a header", true);
            return;
        }
        /* and whether the command token verified: the gateway forwards the
         * client's token only then (docs/gateway.md's nginx snippet), as
         * pawld inline strips it otherwise (user review: an unverified token
         * reached the backend through nginx) */
        snprintf(extra, sizeof extra, "%s: %s\r\n%s", cfg->identity_header, id,
                 c->step_up_ok ? "X-Pawl-Step-Up: verified\r\n" : "");
    }
    pawld_conn_answer(c, &d, extra, false);
}

static void admin_text(struct pawld_conn *c, int status, const char *ctype, const char *body)
{
    pawld_respond(c, status, ctype, NULL, body, strlen(body), false);
}

/* Sums every worker's counters (each under its own lock) and renders them. */
/* 200 once the workers serve, 503 while starting, or while the audit trail
 * cannot be written (every decision is then refused). */
static void readyz(struct pawld_conn *c)
{
    struct pawld_server_state *srv = c->w->srv;
    char why[512], esc[600], body[700];
    if (!atomic_load(&srv->ready)) {
        admin_text(c, 503, "application/json", "{\"status\":\"starting\"}");
    } else if (!pawld_sinks_ready(srv->sinks, why, sizeof why)) {
        snprintf(body, sizeof body, "{\"status\":\"audit_unavailable\",\"detail\":\"%s\"}",
                 pawld_json_escape(why, esc, sizeof esc));
        admin_text(c, 503, "application/json", body);
    } else {
        admin_text(c, 200, "application/json", "{\"status\":\"ready\"}");
    }
}

static void metrics(struct pawld_conn *c)
{
    struct pawld_server_state *srv = c->w->srv;
    const struct pawld_world *wd = c->w->world;
    struct pawld_metrics sum;
    if (pawld_metrics_init(&sum, wd->policy->nroutes) != PAWL_OK) {
        pawld_conn_close(c);
        return;
    }
    for (unsigned i = 0, n = atomic_load(&srv->started); i < n; i++) {
        struct pawld_worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->metrics_lock);
        if (w->metrics.nroutes == sum.nroutes) /* a worker mid-reload counts next time */
            pawld_metrics_add(&sum, &w->metrics);
        pthread_mutex_unlock(&w->metrics_lock);
    }
    sum.telemetry_applied = atomic_load(&srv->telemetry_applied);
    sum.telemetry_refused = atomic_load(&srv->telemetry_refused);
    sum.detector_untracked = pawld_detect_untracked(srv);
    sum.configurations = pawld_worlds_live();
    sum.reloads_ok = atomic_load(&srv->reloads_ok);
    sum.reloads_refused = atomic_load(&srv->reloads_refused);
    pawld_rl_share_stats(srv, &sum.rl_sync);
    pawld_blocks_share_stats(srv, &sum.block_sync);
    sum.certs = wd->cert_dates;
    sum.ncerts = wd->ncert_dates;
    pawld_detect_findings(srv, sum.findings);
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

/* GET /blocks: every live block (detect.block). */
static void blocks(struct pawld_conn *c)
{
    if (c->w->srv->detect == NULL) {
        admin_text(c, 404, "application/json", "{\"reason\":\"route_not_found\",\"detail\":\"detectors are off\"}");
        return;
    }
    char *body = pawld_detect_blocks_json(c->w->srv);
    if (body == NULL) {
        pawld_conn_close(c);
        return;
    }
    admin_text(c, 200, "application/json", body);
    free(body);
}

/* DELETE /blocks?principal=<percent-encoded> or ?address=<ip>: lifts a
 * block (an operator clearing a false positive). */
static void unblock(struct pawld_conn *c, pawl_str query)
{
    char subject[PAWL_BLOCK_SUBJECT_MAX * 4];
    size_t n = 0;
    bool principal;
    if (!pawld_unblock_query(query, &principal, subject, sizeof subject, &n)) {
        admin_text(c, 400, "application/json", "{\"reason\":\"bad_request\",\"detail\":\"want DELETE "
                   "/blocks?principal=<percent-encoded> or ?address=<ip>\"}");
        return;
    }
    int rc = pawld_detect_unblock(c->w->srv, principal, (pawl_str){subject, n});
    char shown[PAWL_BLOCK_SUBJECT_MAX], esc[PAWL_BLOCK_SUBJECT_MAX * 6];
    pawl__clean_copy(shown, sizeof shown, (pawl_str){subject, n});
    if (rc > 0)
        pawld_log(c->w->srv->sinks, "warn", "\"msg\":\"block lifted by the admin listener\",\"%s\":\"%s\"",
                  principal ? "principal" : "address", pawld_json_escape(shown, esc, sizeof esc));
    admin_text(c, rc > 0 ? 200 : 404, "application/json",
               rc > 0 ? "{\"lifted\":true}" : rc == 0 ? "{\"lifted\":false,\"detail\":\"no such block\"}"
                                                 : "{\"reason\":\"route_not_found\",\"detail\":\"detectors are off\"}");
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
    pawld_h1_resume(c->h1);
    if (pawl__str_eq(path, "/blocks") && pawl__str_eq(h->method, "DELETE"))
        unblock(c, q ? (pawl_str){q + 1, (size_t)(h->target.p + h->target.n - q - 1)} : (pawl_str){"", 0});
    else if (!pawl__str_eq(h->method, "GET") && !pawl__str_eq(h->method, "HEAD"))
        admin_text(c, 405, "application/json", "{\"reason\":\"method_not_allowed\"}");
    else if (pawl__str_eq(path, "/blocks"))
        blocks(c);
    else if (pawl__str_eq(path, "/healthz"))
        admin_text(c, 200, "application/json", "{\"status\":\"ok\"}");
    else if (pawl__str_eq(path, "/readyz") && atomic_load(&srv->draining))
        admin_text(c, 503, "application/json", "{\"status\":\"draining\"}");
    else if (pawl__str_eq(path, "/readyz"))
        readyz(c);
    else if (pawl__str_eq(path, "/metrics"))
        metrics(c);
    else
        admin_text(c, 404, "application/json", "{\"reason\":\"route_not_found\"}");
}
