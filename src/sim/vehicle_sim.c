/* pawl-vehicle-sim: a simulated vehicle on the MQTT link, linking
 * libpawl-edge exactly as a vehicle's gateway ECU would (docs/vehicle-link.md).
 *
 * It connects to the broker with its certificate (CN = its VIN), takes
 * command tokens from vehicles/{VIN}/commands/{cmd}, verifies each with its
 * trust policy and a durable replay store (COMMAND-TOKEN.md, checks 1-11),
 * acts on an accepted one (doors, engine), and answers on
 * vehicles/{VIN}/events/command-result with
 *   {"cti":"<32 hex>","verdict":"accept"|"reject","reason":...,"cmd":...,"seq":N}
 * One JSON line per command goes to stdout. SIGTERM or SIGINT end it. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mosquitto.h>

#include "pawl/edge_host.h"
#include "pawl/edge_store_file.h"
#include "pawl/edge_token.h"
#include "host.h"

struct sim {
    const char *vin;
    struct pawl_edge_trust trust;
    struct pawl_edge_file_store store;
    struct pawl_edge_work work;
    struct pawl_edge_state state;
    bool locked, engine;
    char commands[64], results[64];
};

static volatile sig_atomic_t stop;

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

static void usage(void)
{
    fputs("usage: pawl-vehicle-sim --broker HOST:PORT --ca CA.pem --cert CERT.pem --key KEY.pem\n"
          "                        --vin VIN --trust TRUST.json --store DIR [--speed KMH]\n"
          "A simulated vehicle: verifies the command tokens it receives over MQTT with\n"
          "libpawl-edge, acts on accepted ones, and publishes each verdict.\n",
          stderr);
}

/* Doors and engine follow accepted commands; others are acknowledged only. */
static void act(struct sim *s, const char *cmd)
{
    if (strcmp(cmd, "door.lock") == 0)
        s->locked = true;
    else if (strcmp(cmd, "door.unlock") == 0)
        s->locked = false;
    else if (strcmp(cmd, "engine.start") == 0)
        s->engine = true;
    else if (strcmp(cmd, "engine.stop") == 0)
        s->engine = false;
}

static json_t *verdict(struct sim *s, const char *topic_cmd, const uint8_t *tok, size_t n)
{
    struct pawl_edge_result r;
    char hex[33] = "";
    struct pawl_edge_verifier v = {&s->trust, pawl_edge_openssl_crypto(), pawl_edge_file_store(&s->store)};
    enum pawl_edge_reason reason = pawl_edge_token_verify(&v, tok, n, (uint64_t)time(NULL), &s->state,
                                                          &s->work, &r);
    if (r.tok_ok && (r.tok.cmd.n != strlen(topic_cmd) || memcmp(r.tok.cmd.p, topic_cmd, r.tok.cmd.n) != 0))
        reason = PAWL_EDGE_MALFORMED; /* the topic and the token disagree */
    for (size_t i = 0; r.tok_ok && i < PAWL_EDGE_CTI_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", r.tok.cti[i]);
    char cmd[PAWL_EDGE_CMD_MAX + 1] = "";
    if (r.tok_ok)
        snprintf(cmd, sizeof cmd, "%.*s", (int)r.tok.cmd.n, (const char *)r.tok.cmd.p);
    if (reason == PAWL_EDGE_OK)
        act(s, cmd);
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "cti", hex, "verdict", reason == PAWL_EDGE_OK ? "accept" : "reject",
                     "reason", pawl_edge_reason_str(reason), "cmd", cmd,
                     "seq", (json_int_t)(r.tok_ok && r.tok.seq <= INT64_MAX ? r.tok.seq : 0));
}

static void on_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    struct sim *s = ctx;
    size_t plen = strlen(s->commands) - 1; /* "vehicles/VIN/commands/" */
    if (strncmp(msg->topic, s->commands, plen) != 0 || msg->payloadlen <= 0)
        return;
    json_t *out = verdict(s, msg->topic + plen, msg->payload, (size_t)msg->payloadlen);
    char *line = out ? json_dumps(out, JSON_COMPACT) : NULL;
    if (line != NULL) {
        mosquitto_publish(m, NULL, s->results, (int)strlen(line), line, 1, false);
        printf("{\"vin\":\"%s\",\"result\":%s,\"locked\":%s,\"engine\":%s}\n", s->vin, line,
               s->locked ? "true" : "false", s->engine ? "true" : "false");
        fflush(stdout);
    }
    free(line);
    json_decref(out);
}

static void on_connect(struct mosquitto *m, void *ctx, int rc)
{
    struct sim *s = ctx;
    if (rc != 0) {
        fprintf(stderr, "pawl-vehicle-sim: the broker refused: %s\n", mosquitto_connack_string(rc));
        stop = 1;
        return;
    }
    if (mosquitto_subscribe(m, NULL, s->commands, 1) != MOSQ_ERR_SUCCESS)
        stop = 1;
}

static void on_subscribe(struct mosquitto *m, void *ctx, int mid, int n, const int *qos)
{
    struct sim *s = ctx;
    (void)m;
    (void)mid;
    fprintf(stderr, "pawl-vehicle-sim: %s %s\n", s->vin,
            n == 1 && qos[0] <= 2 ? "subscribed" : "refused the subscription");
}

struct opts {
    const char *broker, *ca, *cert, *key, *vin, *trust, *store, *speed;
};

static int parse(int argc, char **argv, struct opts *o)
{
    struct { const char *name; const char **dst; } map[] = {
        {"--broker", &o->broker}, {"--ca", &o->ca}, {"--cert", &o->cert}, {"--key", &o->key},
        {"--vin", &o->vin}, {"--trust", &o->trust}, {"--store", &o->store}, {"--speed", &o->speed},
    };
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < sizeof map / sizeof map[0] && strcmp(argv[i], map[k].name) != 0)
            k++;
        if (k == sizeof map / sizeof map[0] || i + 1 >= argc)
            return -1;
        *map[k].dst = argv[++i];
    }
    return o->broker && o->ca && o->cert && o->key && o->vin && o->trust && o->store ? 0 : -1;
}

static int setup(struct sim *s, const struct opts *o)
{
    char err[600];
    size_t n;
    char *json = pawl_host_slurp(o->trust, 1 << 20, &n, err, sizeof err);
    if (json == NULL || pawl_edge_trust_load(json, n, o->trust, &s->trust, err, sizeof err) != 0) {
        fprintf(stderr, "pawl-vehicle-sim: %s\n", err);
        free(json);
        return -1;
    }
    free(json);
    if (pawl_edge_file_store_open(&s->store, o->store, err, sizeof err) != 0) {
        fprintf(stderr, "pawl-vehicle-sim: %s\n", err);
        return -1;
    }
    s->vin = o->vin;
    s->state.speed_known = true;
    s->state.speed_kmh = o->speed ? strtof(o->speed, NULL) : 0.0f;
    s->locked = true;
    snprintf(s->commands, sizeof s->commands, "vehicles/%s/commands/#", o->vin);
    snprintf(s->results, sizeof s->results, "vehicles/%s/events/command-result", o->vin);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    static struct sim s; /* large: the trust policy and the replay store */
    const char *colon;
    if (parse(argc, argv, &o) != 0 || (colon = strrchr(o.broker, ':')) == NULL || strlen(o.vin) != 17) {
        usage();
        return 2;
    }
    if (setup(&s, &o) != 0)
        return 1;
    char host[256], *end;
    long port = strtol(colon + 1, &end, 10);
    snprintf(host, sizeof host, "%.*s", (int)(colon - o.broker), o.broker);
    if (*end != '\0' || port < 1 || port > 65535) {
        usage();
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(o.vin, true, &s);
    int rc = 1;
    if (m && mosquitto_tls_set(m, o.ca, NULL, o.cert, o.key, NULL) == MOSQ_ERR_SUCCESS) {
        mosquitto_connect_callback_set(m, on_connect);
        mosquitto_subscribe_callback_set(m, on_subscribe);
        mosquitto_message_callback_set(m, on_message);
        if (mosquitto_connect(m, host, (int)port, 30) == MOSQ_ERR_SUCCESS) {
            while (!stop && mosquitto_loop(m, 200, 1) == MOSQ_ERR_SUCCESS)
                ;
            rc = stop ? 0 : 1;
        } else {
            fprintf(stderr, "pawl-vehicle-sim: cannot connect to %s\n", o.broker);
        }
    }
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    pawl_edge_file_store_close(&s.store);
    pawl_edge_trust_release(&s.trust);
    return rc;
}
