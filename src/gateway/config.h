/* config.h: pawld's configuration file (YAML), loaded strictly: unknown
 * keys, wrong types, out-of-range values, plain HTTP off loopback, and
 * references to nothing are errors with file:line:column (docs/gateway.md
 * lists every key). No I/O here: the caller reads the file; paths in it are
 * kept as written and resolved against the file's directory by the caller. */
#ifndef PAWLD_CONFIG_H
#define PAWLD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"
#include "pawl/detect.h"
#include "pawl/extauthz.h"
#include "pawl/http_check.h"
#include "pawl/policy.h"

#define PAWLD_MAX_LISTENERS 8
#define PAWLD_MAX_UPSTREAMS 32
#define PAWLD_MAX_SERVERS 16
#define PAWLD_MAX_ROUTE_MAP 512
#define PAWLD_MAX_WORKERS 256

enum pawld_mode { PAWLD_PROXY, PAWLD_AUTHZ, PAWLD_ADMIN };
enum pawld_client_certs { PAWLD_CERTS_OFF, PAWLD_CERTS_OPTIONAL, PAWLD_CERTS_REQUIRED };

struct pawld_tls {
    char *cert, *key;   /* PEM chain and private key */
    char *client_ca;    /* PEM bundle that client certificates must chain to */
    char *crl;          /* PEM CRLs (optional) */
    enum pawld_client_certs client_certs;
};

struct pawld_listener {
    char *name;
    char host[64]; /* an IPv4 or IPv6 literal */
    int port;
    bool loopback;
    bool v6only; /* an IPv6 address takes IPv6 clients only (IPV6_V6ONLY) */
    enum pawld_mode mode;
    bool tls_on;
    struct pawld_tls tls;
    enum pawl_authz_flavor flavor; /* mode authz */
    char *path_prefix;             /* mode authz, Envoy; NULL: none */
    struct pawl_http_limits limits;
    int64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms;
};

struct pawld_server {
    bool https;
    char host[256];
    int port;
};

struct pawld_upstream {
    char *name;
    struct pawld_server servers[PAWLD_MAX_SERVERS];
    size_t nservers;
    char *ca; /* PEM bundle for https servers; NULL: the system's */
    int64_t connect_timeout_ms, response_timeout_ms;
    unsigned max_idle; /* kept-alive connections per server and worker */
    unsigned max_conns; /* open connections per server and worker (default 1024) */
};

struct pawld_route_map {
    char *route; /* a policy route id */
    size_t upstream;
    unsigned line, col; /* where in the config (for errors found against the policy) */
};

/* A route and the command its command token must carry. */
struct pawld_step_up_cmd {
    char *route, *command;
    unsigned line, col; /* where in the config (for errors found against the policy) */
};

/* The MQTT vehicle link: telemetry from the broker into the twin; command
 * tokens of the routes in cmds delivered to the vehicle, its result
 * answered to the caller. */
struct pawld_link {
    bool on;
    char host[256];
    int port;
    char *ca, *cert, *key; /* PEM: broker CA, pawld's client certificate and key */
    struct pawld_step_up_cmd cmds[PAWLD_MAX_ROUTE_MAP];
    size_t ncmds;
    int64_t result_timeout_ms; /* default 10 s */
};

/* A Redis that pawld instances share: step_up.redis (the step-up record),
 * rate_limits.redis (the rate limits). */
struct pawld_redis {
    bool on;
    char host[256];
    int port;
    char *password_file; /* AUTH with its first line; NULL: none */
    char *user;          /* AUTH user password (Redis 6 ACLs); NULL: the default user */
    char *prefix;        /* of the keys (default "pawl:step-up:", "pawl:rl:") */
    int64_t timeout_ms;  /* connect and each command (default 100 ms) */
};

/* What the inline detectors do beyond reporting (docs/detection.md). */
struct pawld_detect_config {
    bool block[PAWL_DETECTORS]; /* a finding of detector i blocks its subject */
    bool any_block;
    int64_t block_for_ms;       /* default 15 minutes */
    size_t max_blocks;          /* live blocks at once (default 100000) */
    char *state;                /* detector state and blocks across restarts; NULL: none */
    struct pawld_redis redis;   /* detect.redis: the blocks shared by pawld instances */
    int windows;                /* detect.windows: 1 shared through detect.redis (its default),
                                 * -1 local; 0 while not set */
};

struct pawld_config {
    unsigned workers; /* 0: one per core */
    bool watch;       /* reload when a file read changes (default true) */
    unsigned max_connections; /* open client connections per worker (default 20000) */
    char *policy, *jwks, *grants;
    struct pawld_listener listeners[PAWLD_MAX_LISTENERS];
    size_t nlisteners;
    struct pawld_upstream upstreams[PAWLD_MAX_UPSTREAMS];
    size_t nupstreams;
    struct pawld_route_map routes[PAWLD_MAX_ROUTE_MAP];
    size_t nroutes;
    long default_upstream; /* -1: none */
    char *identity_header, *step_up_header;
    char *step_up_trust_dir; /* <VIN>.json trust policies (COMMAND-TOKEN.md); NULL: none */
    char *step_up_state;     /* the token ids recorded, across restarts; NULL: in memory only */
    struct pawld_redis step_up_redis;
    struct pawld_redis rl_redis; /* rate_limits.redis: the limits shared by pawld instances */
    int64_t rl_sync_ms;          /* rate_limits.sync: the charges told and learnt this often */
    struct pawld_step_up_cmd step_up_cmds[PAWLD_MAX_ROUTE_MAP];
    size_t nstep_up_cmds;
    char *log_json, *ocsf, *audit, *audit_key;
    int64_t audit_sync_ms; /* at most one fsync + anchor of the trail per this */
    char *findings; /* inline detectors' Detection Finding lines; NULL: detectors off */
    struct pawld_detect_config detect;
    struct pawld_link link;
};

PAWL_MUST_CHECK pawl_err pawld_config_load(const char *yaml, size_t n, const char *where,
                                           struct pawld_config **out, struct pawl_diag *d);
void pawld_config_free(struct pawld_config *c);

/* Cross-checks with the loaded policy: every route id in routes: and
 * step_up.commands: exists, with a proxy listener every policy route reaches
 * an upstream, and with step_up: every step-up route of the policy names
 * its command. */
PAWL_MUST_CHECK pawl_err pawld_config_check_policy(const struct pawld_config *c,
                                                   const struct pawl_policy *p,
                                                   const char *where, struct pawl_diag *d);

#endif
