/* link.c: the MQTT vehicle link (docs/vehicle-link.md). pawld subscribes,
 * over mutual TLS, to vehicles/+/telemetry and applies each line to the
 * twin the decisions read, if it is plausible for the vehicle whose topic
 * carried it (pawl_twin_update_checked). The broker's ACL makes sure only
 * that vehicle's certificate could publish there (deploy/mosquitto/).
 *
 * Command tokens of allowed requests go out on vehicles/{VIN}/commands/
 * {cmd} (QoS 1); the vehicle's verdict comes back on vehicles/{VIN}/events/
 * command-result and goes to the worker whose connection waits for that
 * token id (and that VIN: another vehicle cannot answer for it).
 * libmosquitto runs its own network thread and reconnects by itself. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "pawl/grants.h"
#include "pawl/twin.h"
#include "pawld.h"
#include "stepup.h"

#define TOPIC "vehicles/+/telemetry"
#define RESULTS "vehicles/+/events/command-result"
#define MAX_WAITING 4096 /* commands awaiting a result, process-wide */
#define MAX_WAITING_VIN 8 /* ... and per vehicle: one caller's offline car cannot take them all
                           * (review: 4,096 door.lock to one car refused everyone else's) */

struct pawld_link_state {
    struct mosquitto *m;
    atomic_bool connected;
    pthread_mutex_t lock; /* the waiting table */
    struct waiting {
        bool used;
        uint8_t cti[16];
        char vin[18];
        unsigned worker;
        uint64_t id;
    } waiting[MAX_WAITING];
    struct pawld_ratelog warned; /* what vehicles send (a vehicle could fill the log);
                                  * only the link's thread logs it */
};

/* A warning about what vehicle vin sent (why: a detail, JSON-escaped, or
 * NULL), 20 at once and then one a second at most, saying how many were
 * left out before it. */
static void link_warn(struct pawld_server_state *srv, const char *what, const char *vin, const char *why)
{
    uint64_t skipped;
    if (!pawld_ratelog_take(&srv->link->warned, pawld_wall_ms(), &skipped))
        return;
    pawld_log(srv->sinks, "warn", "\"msg\":\"%s\",\"vin\":\"%s\"%s%s%s,\"not_logged_before\":%llu", what, vin,
              why ? ",\"why\":\"" : "", why ? why : "", why ? "\"" : "", (unsigned long long)skipped);
}

static void on_connect(struct mosquitto *m, void *ctx, int rc)
{
    struct pawld_server_state *srv = ctx;
    if (rc != 0) {
        pawld_log(srv->sinks, "error", "\"msg\":\"vehicle link: broker refused the connection\",\"why\":\"%s\"",
                  mosquitto_connack_string(rc));
        return;
    }
    if (mosquitto_subscribe(m, NULL, TOPIC, 1) != MOSQ_ERR_SUCCESS ||
        mosquitto_subscribe(m, NULL, RESULTS, 1) != MOSQ_ERR_SUCCESS) {
        pawld_log(srv->sinks, "error", "\"msg\":\"vehicle link: cannot subscribe\"");
        return;
    }
    atomic_store(&srv->link->connected, true);
    pawld_log(srv->sinks, "info", "\"msg\":\"vehicle link: subscribed\",\"topics\":\"%s %s\"",
              TOPIC, RESULTS);
}

static void on_disconnect(struct mosquitto *m, void *ctx, int rc)
{
    struct pawld_server_state *srv = ctx;
    (void)m;
    atomic_store(&srv->link->connected, false);
    pawld_log(srv->sinks, "warn", "\"msg\":\"vehicle link: disconnected\",\"rc\":%d", rc);
}

/* vehicles/{VIN}{tail} -> VIN, or false; also when the VIN is not one. The
 * ACL ties a vehicle to the topics of its certificate's CN, which pawl pki
 * keeps to the VIN alphabet; a CA that does not must still not reach the
 * log lines that name the VIN. */
static bool topic_vin(const char *topic, const char *tail, char vin[18])
{
    const char *p = topic + 9, *end;
    if (strncmp(topic, "vehicles/", 9) != 0 || (end = strchr(p, '/')) == NULL || end - p != 17 ||
        strcmp(end, tail) != 0 || !pawl_vin_valid((pawl_str){p, 17}))
        return false;
    memcpy(vin, p, 17);
    vin[17] = '\0';
    return true;
}

/* ---- commands ------------------------------------------------------------------ */

/* The waiting entry for cti from vin, taken out of the table; false if
 * none. A token id waits at most once (pawld_link_send). */
static bool take_waiting(struct pawld_link_state *st, const uint8_t cti[16], const char *vin,
                         unsigned *worker, uint64_t *id)
{
    bool found = false;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < MAX_WAITING && !found; i++) {
        struct waiting *w = &st->waiting[i];
        if (w->used && memcmp(w->cti, cti, 16) == 0 && strcmp(w->vin, vin) == 0) {
            w->used = false;
            *worker = w->worker;
            *id = w->id;
            found = true;
        }
    }
    pthread_mutex_unlock(&st->lock);
    return found;
}

/* The vehicle's answer (stepup.h has its form) goes to the worker whose
 * connection waits for that token id from that vehicle. */
static void on_result(struct pawld_server_state *srv, const char *vin, const void *p, size_t n)
{
    uint8_t cti[16];
    unsigned worker;
    uint64_t id;
    struct pawld_vresult *r = calloc(1, sizeof *r);
    if (r == NULL)
        return;
    if (n > PAWLD_RESULT_MAX) {
        link_warn(srv, "vehicle link: a command result over 16 KiB, refused unread", vin, NULL);
    } else if (pawld_command_result_parse(p, n, cti, &r->status, r->body, sizeof r->body) != 0) {
        link_warn(srv, "vehicle link: malformed command result", vin, NULL);
    } else if (!take_waiting(srv->link, cti, vin, &worker, &id) || worker >= srv->nworkers) {
        link_warn(srv, "vehicle link: a command result nobody waits for", vin, NULL);
    } else {
        r->id = id;
        pawld_worker_post(&srv->workers[worker], r);
        return;
    }
    free(r);
}

int pawld_link_send(struct pawld_server_state *srv, const char *vin, const char *cmd,
                    const uint8_t *tok, size_t n, const uint8_t cti[16], unsigned worker,
                    uint64_t id, char *err, size_t errlen)
{
    struct pawld_link_state *st = srv->link;
    char topic[128];
    size_t slot = MAX_WAITING;
    if (st == NULL || !atomic_load(&st->connected))
        return snprintf(err, errlen, "the vehicle link is not connected to the broker"), -1;
    bool twice = false;
    unsigned same_vin = 0;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < MAX_WAITING; i++) {
        const struct waiting *w = &st->waiting[i];
        if (!w->used && slot == MAX_WAITING)
            slot = i;
        /* the same token sent again while the first waits: whose would the
         * vehicle's one answer be? */
        twice |= w->used && memcmp(w->cti, cti, 16) == 0 && strcmp(w->vin, vin) == 0;
        same_vin += w->used && strcmp(w->vin, vin) == 0;
    }
    if (same_vin >= MAX_WAITING_VIN)
        slot = MAX_WAITING;
    if (!twice && slot < MAX_WAITING) {
        struct waiting *w = &st->waiting[slot];
        w->used = true;
        memcpy(w->cti, cti, 16);
        snprintf(w->vin, sizeof w->vin, "%s", vin);
        w->worker = worker;
        w->id = id;
    }
    pthread_mutex_unlock(&st->lock);
    if (twice)
        return snprintf(err, errlen, "a command with this token id already waits for the vehicle"), -1;
    if (same_vin >= MAX_WAITING_VIN)
        return snprintf(err, errlen, "%u commands already wait for %s", same_vin, vin), -1;
    if (slot == MAX_WAITING)
        return snprintf(err, errlen, "%d commands already wait for their vehicles", MAX_WAITING), -1;
    snprintf(topic, sizeof topic, "vehicles/%s/commands/%s", vin, cmd);
    if (mosquitto_publish(st->m, NULL, topic, (int)n, tok, 1, false) != MOSQ_ERR_SUCCESS) {
        pawld_link_forget(srv, worker, id);
        return snprintf(err, errlen, "publishing to %s failed", topic), -1;
    }
    return 0;
}

void pawld_link_forget(struct pawld_server_state *srv, unsigned worker, uint64_t id)
{
    struct pawld_link_state *st = srv->link;
    if (st == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < MAX_WAITING; i++)
        if (st->waiting[i].used && st->waiting[i].worker == worker && st->waiting[i].id == id)
            st->waiting[i].used = false;
    pthread_mutex_unlock(&st->lock);
}

static void on_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    struct pawld_server_state *srv = ctx;
    struct pawl_diag d;
    char vin[18], why[600];
    (void)m;
    memset(&d, 0, sizeof d);
    if (topic_vin(msg->topic, "/events/command-result", vin)) {
        on_result(srv, vin, msg->payload, (size_t)msg->payloadlen);
        return;
    }
    if (!topic_vin(msg->topic, "/telemetry", vin)) {
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
    link_warn(srv, "telemetry refused", vin, pawld_json_escape(why, why, sizeof why));
}

int pawld_link_start(struct pawld_server_state *srv, char *err, size_t errlen)
{
    const struct pawld_world *w = srv->world;
    const struct pawld_link *l = &w->cfg->link;
    char ca[4300], cert[4300], key[4300];
    struct pawld_link_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return snprintf(err, errlen, "out of memory"), -1;
    pthread_mutex_init(&st->lock, NULL);
    mosquitto_lib_init();
    srv->link = st;
    if ((st->m = mosquitto_new(NULL, true, srv)) == NULL ||
        mosquitto_tls_set(st->m, pawld_path(w->dir, l->ca, ca, sizeof ca), NULL,
                          pawld_path(w->dir, l->cert, cert, sizeof cert),
                          pawld_path(w->dir, l->key, key, sizeof key), NULL) != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "cannot set up TLS (ca %s, cert %s, key %s)", ca, cert, key);
        pawld_link_stop(srv);
        return -1;
    }
    mosquitto_connect_callback_set(st->m, on_connect);
    mosquitto_disconnect_callback_set(st->m, on_disconnect);
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
    pthread_mutex_destroy(&st->lock);
    free(st);
    srv->link = NULL;
}
