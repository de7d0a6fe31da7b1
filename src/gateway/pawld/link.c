/* link.c: the MQTT vehicle link (docs/vehicle-link.md). pawld subscribes,
 * over mutual TLS, to vehicles/+/telemetry and applies each line to the
 * twin the decisions read, if it is plausible for the vehicle whose topic
 * carried it (pawl_twin_update_checked). The broker's ACL makes sure only
 * that vehicle's certificate could publish there (deploy/mosquitto/).
 * libmosquitto runs its own network thread and reconnects by itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "pawl/twin.h"
#include "pawld.h"

#define TOPIC "vehicles/+/telemetry"

struct pawld_link_state {
    struct mosquitto *m;
};

static void on_connect(struct mosquitto *m, void *ctx, int rc)
{
    struct pawld_server_state *srv = ctx;
    if (rc != 0) {
        pawld_log(srv->sinks, "error", "\"msg\":\"vehicle link: broker refused the connection\",\"why\":\"%s\"",
                  mosquitto_connack_string(rc));
        return;
    }
    if (mosquitto_subscribe(m, NULL, TOPIC, 1) != MOSQ_ERR_SUCCESS)
        pawld_log(srv->sinks, "error", "\"msg\":\"vehicle link: cannot subscribe\"");
    else
        pawld_log(srv->sinks, "info", "\"msg\":\"vehicle link: subscribed\",\"topic\":\"%s\"", TOPIC);
}

/* vehicles/{VIN}/telemetry -> VIN, or NULL. */
static bool topic_vin(const char *topic, char vin[18])
{
    const char *p = topic + 9, *end;
    if (strncmp(topic, "vehicles/", 9) != 0 || (end = strchr(p, '/')) == NULL || end - p != 17 ||
        strcmp(end, "/telemetry") != 0)
        return false;
    memcpy(vin, p, 17);
    vin[17] = '\0';
    return true;
}

static void on_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    struct pawld_server_state *srv = ctx;
    struct pawl_diag d;
    char vin[18], why[600];
    (void)m;
    memset(&d, 0, sizeof d);
    if (!topic_vin(msg->topic, vin)) {
        atomic_fetch_add(&srv->telemetry_refused, 1);
        return;
    }
    struct pawl_twin_limits lim = PAWL_TWIN_LIMITS_DEFAULT(vin, pawld_wall_ms());
    pthread_rwlock_wrlock(&srv->twin_lock);
    pawl_err e = pawl_twin_update_checked(srv->twin, msg->payload, (size_t)msg->payloadlen, &lim, &d);
    pthread_rwlock_unlock(&srv->twin_lock);
    if (e == PAWL_OK) {
        atomic_fetch_add(&srv->telemetry_applied, 1);
        return;
    }
    atomic_fetch_add(&srv->telemetry_refused, 1); /* flagged, and not trusted for decisions */
    pawl_diag_format(&d, why, sizeof why);
    pawld_log(srv->sinks, "warn", "\"msg\":\"telemetry refused\",\"vin\":\"%s\",\"why\":\"%s\"", vin,
              pawld_json_escape(why, why, sizeof why));
}

static const char *resolved(const struct pawld_world *w, const char *p, char *out, size_t n)
{
    if (p[0] == '/' || w->dir[0] == '\0')
        snprintf(out, n, "%s", p);
    else
        snprintf(out, n, "%s/%s", w->dir, p);
    return out;
}

int pawld_link_start(struct pawld_server_state *srv, char *err, size_t errlen)
{
    const struct pawld_world *w = srv->world;
    const struct pawld_link *l = &w->cfg->link;
    char ca[4300], cert[4300], key[4300];
    struct pawld_link_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return snprintf(err, errlen, "out of memory"), -1;
    mosquitto_lib_init();
    srv->link = st;
    if ((st->m = mosquitto_new(NULL, true, srv)) == NULL ||
        mosquitto_tls_set(st->m, resolved(w, l->ca, ca, sizeof ca), NULL, resolved(w, l->cert, cert, sizeof cert),
                          resolved(w, l->key, key, sizeof key), NULL) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "cannot set up TLS (ca %s, cert %s, key %s)", ca, cert, key);
        pawld_link_stop(srv);
        return -1;
    }
    mosquitto_connect_callback_set(st->m, on_connect);
    mosquitto_message_callback_set(st->m, on_message);
    mosquitto_reconnect_delay_set(st->m, 1, 30, true);
    /* connect_async: a broker that is down now is retried by the loop */
    if (mosquitto_connect_async(st->m, l->host, l->port, 30) != MOSQ_ERR_SUCCESS)
        pawld_log(srv->sinks, "warn", "\"msg\":\"vehicle link: broker not reachable yet; retrying\"");
    if (mosquitto_loop_start(st->m) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "cannot start the MQTT thread");
        pawld_link_stop(srv);
        return -1;
    }
    return 0;
}

void pawld_link_stop(struct pawld_server_state *srv)
{
    struct pawld_link_state *st = srv->link;
    if (st == NULL)
        return;
    if (st->m) {
        mosquitto_disconnect(st->m);
        mosquitto_loop_stop(st->m, true);
        mosquitto_destroy(st->m);
    }
    mosquitto_lib_cleanup();
    free(st);
    srv->link = NULL;
}
