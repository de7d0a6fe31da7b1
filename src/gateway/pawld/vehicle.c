/* vehicle.c: commands delivered to vehicles over the MQTT link instead of
 * an upstream (docs/vehicle-link.md). An allowed request on such a route
 * carries the command token in the step-up header; pawld checks that the
 * token is for the vehicle in the path and the route's command, publishes
 * it once the decision is in the audit trail, and answers the caller with
 * the vehicle's own verdict: 200 accepted, 409 refused (with the vehicle's
 * reason), 504 when the vehicle does not answer in time, 503 when the link
 * is down. The vehicle verifies the token itself (COMMAND-TOKEN.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawld.h"
#include "stepup.h"

struct pawld_vcmd {
    char vin[PAWL_EDGE_VIN_LEN + 1];
    char cmd[PAWL_EDGE_CMD_MAX + 1];
    size_t len;
    uint8_t tok[PAWL_EDGE_TOKEN_MAX];
};

static void answer(struct pawld_conn *c, int status, const char *body)
{
    bool close = c->state != PAWLD_C_RESPONSE; /* the body is still coming: end after */
    pawld_respond(c, status, "application/json", NULL, body, strlen(body), close);
    if (!close && !c->io.closing)
        pawld_conn_finish(c);
}

static void publish(struct pawld_conn *c)
{
    struct pawld_vcmd *v = c->vcmd;
    struct pawl_edge_token tok;
    char err[200];
    c->vcmd = NULL;
    if (pawl_edge_token_parse(v->tok, v->len, &tok, NULL) != PAWL_EDGE_OK) { /* parsed before */
        free(v);
        pawld_conn_deny(c, PAWL_R_BAD_REQUEST, "the command token does not parse", true);
        return;
    }
    memcpy(c->vehicle_cti, tok.cti, sizeof c->vehicle_cti);
    c->vehicle_id = ++c->w->next_vehicle_id;
    if (pawld_link_send(c->w->srv, v->vin, v->cmd, v->tok, v->len, c->vehicle_cti, c->w->id,
                        c->vehicle_id, err, sizeof err) != 0) {
        free(v);
        pawld_conn_deny(c, PAWL_R_DEPENDENCY_UNAVAILABLE, err, true);
        return;
    }
    pawld_log(c->w->sinks, "info", "\"msg\":\"command sent to the vehicle\",\"vin\":\"%s\",\"cmd\":\"%s\"",
              v->vin, v->cmd);
    free(v);
    c->vehicle_wait = true;
    pawld_conn_arm(c, c->w->world->cfg->link.result_timeout_ms); /* from now on: the result timeout */
}

void pawld_vehicle_start(struct pawld_conn *c, pawl_str token, const struct pawl_decision *d,
                         const char *cmd)
{
    struct pawld_vcmd *v = calloc(1, sizeof *v);
    struct pawld_step_up su;
    char detail[200];
    if (v == NULL) {
        pawld_conn_close(c);
        return;
    }
    if (token.n == 0 || !pawld_step_up_parse(token, &su) || strcmp(su.vin, d->vin) != 0 ||
        strcmp(su.cmd, cmd) != 0) {
        snprintf(detail, sizeof detail, "a command token (%s) for %s on %s is required%s%s",
                 c->w->world->cfg->step_up_header, cmd, d->vin, token.n ? ": " : "",
                 token.n == 0 ? "" : su.detail[0] ? su.detail : "it is for another vehicle or command");
        free(v);
        pawld_conn_deny(c, PAWL_R_STEP_UP_REQUIRED, detail, true);
        return;
    }
    snprintf(v->vin, sizeof v->vin, "%s", su.vin);
    snprintf(v->cmd, sizeof v->cmd, "%s", su.cmd);
    memcpy(v->tok, su.tok, su.len);
    v->len = su.len;
    c->vcmd = v;
    /* the command is the token: the rest of the request (a body) is read and
     * dropped; at its end (pawld_vehicle_body_done) only the result is awaited */
    c->discard_body = true;
    c->state = PAWLD_C_BODY;
    pawld_h1_resume(c->h1);
    if (c->w->batch.nrec > 0)
        pawld_conn_hold(c); /* published once the decision is written (pawld_conn_commit) */
    else
        publish(c);
}

void pawld_vehicle_commit(struct pawld_conn *c)
{
    if (c->vcmd != NULL)
        publish(c);
}

void pawld_vehicle_body_done(struct pawld_conn *c)
{
    c->state = PAWLD_C_RESPONSE; /* the result timer runs on */
}

void pawld_vehicle_result(struct pawld_conn *c, const struct pawld_vresult *r)
{
    c->vehicle_wait = false;
    pawld_conn_arm(c, 0);
    pawld_log(c->w->sinks, "info", "\"msg\":\"vehicle result\",\"status\":%d", r->status);
    answer(c, r->status, r->body);
}

void pawld_vehicle_timeout(struct pawld_conn *c)
{
    char body[200];
    pawld_vehicle_abandon(c);
    snprintf(body, sizeof body,
             "{\"reason\":\"vehicle_timeout\",\"detail\":\"no result from the vehicle within %lld ms\","
             "\"status\":504}", (long long)c->w->world->cfg->link.result_timeout_ms);
    answer(c, 504, body);
}

void pawld_vehicle_abandon(struct pawld_conn *c)
{
    free(c->vcmd);
    c->vcmd = NULL;
    if (c->vehicle_wait)
        pawld_link_forget(c->w->srv, c->w->id, c->vehicle_id);
    c->vehicle_wait = false;
}
