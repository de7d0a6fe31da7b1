/* pawld's configuration loader (src/gateway/config.h): a full config, the
 * defaults, and each refusal with its line and column. */
#include "helper_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char good[] =
    "version: 1\n"
    "workers: 2\n"
    "policy: policy.yaml\n"
    "jwks: jwks.json\n"
    "grants: grants.jsonl\n"
    "listeners:\n"
    "  - name: public\n"
    "    listen: 0.0.0.0:8443\n"
    "    mode: proxy\n"
    "    tls: {cert: server.pem, key: server.key, client_ca: ca.pem, client_certs: optional,\n"
    "          crl: crl.pem}\n"
    "    limits: {max_headers: 50, max_body_bytes: 65536}\n"
    "    timeouts: {header: 5s, idle: 2m}\n"
    "  - name: authz\n"
    "    listen: 127.0.0.1:9000\n"
    "    mode: authz\n"
    "    authz: {flavor: envoy, path_prefix: /authz}\n"
    "  - name: admin\n"
    "    listen: '[::1]:9901'\n"
    "    mode: admin\n"
    "upstreams:\n"
    "  backend:\n"
    "    servers: [http://127.0.0.1:8080, https://api.internal:8443]\n"
    "    ca: upstream-ca.pem\n"
    "    connect_timeout: 250ms\n"
    "    max_idle: 8\n"
    "  ota: {servers: ['http://[::1]:8081']}\n"
    "routes: {unlock: backend, default: ota}\n"
    "logs: {json: pawld.log, ocsf: events.jsonl, audit: audit.log, audit_key: audit.key}\n";

static void test_good_config(void **state)
{
    (void)state;
    struct pawld_config *c;
    struct pawl_diag d;
    if (pawld_config_load(good, sizeof good - 1, "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_int_equal(c->workers, 2);
    assert_int_equal(c->max_connections, 20000); /* default */
    assert_true(c->watch);
    assert_string_equal(c->policy, "policy.yaml");
    assert_int_equal(c->nlisteners, 3);
    const struct pawld_listener *l = &c->listeners[0];
    assert_string_equal(l->host, "0.0.0.0");
    assert_int_equal(l->port, 8443);
    assert_false(l->loopback);
    assert_true(l->tls_on);
    assert_int_equal(l->tls.client_certs, PAWLD_CERTS_OPTIONAL);
    assert_int_equal(l->limits.max_headers, 50);
    assert_int_equal(l->limits.max_header_bytes, 8192); /* default kept */
    assert_int_equal(l->limits.max_body_bytes, 65536);
    assert_int_equal(l->header_timeout_ms, 5000);
    assert_int_equal(l->body_timeout_ms, 30000);
    assert_int_equal(l->idle_timeout_ms, 120000);
    assert_int_equal(c->listeners[1].flavor, PAWL_AUTHZ_ENVOY);
    assert_string_equal(c->listeners[1].path_prefix, "/authz");
    assert_true(c->listeners[1].loopback);
    assert_true(c->listeners[2].loopback);
    assert_string_equal(c->listeners[2].host, "::1");
    assert_int_equal(c->nupstreams, 2);
    assert_int_equal(c->upstreams[0].nservers, 2);
    assert_true(c->upstreams[0].servers[1].https);
    assert_string_equal(c->upstreams[0].servers[1].host, "api.internal");
    assert_int_equal(c->upstreams[0].connect_timeout_ms, 250);
    assert_int_equal(c->upstreams[0].max_idle, 8);
    assert_string_equal(c->upstreams[1].servers[0].host, "[::1]");
    assert_int_equal(c->nroutes, 1);
    assert_int_equal(c->default_upstream, 1);
    assert_string_equal(c->identity_header, "X-Pawl-Principal");
    assert_string_equal(c->step_up_header, "X-Pawl-Command-Token");
    assert_string_equal(c->audit_key, "audit.key");
    assert_int_equal(c->audit_sync_ms, 100);            /* default */
    assert_false(c->listeners[0].v6only);               /* an IPv4 address */
    assert_true(c->listeners[2].v6only);                /* [::1]: IPv6 only by default */
    assert_int_equal(c->upstreams[0].max_conns, 1024); /* default */
    pawld_config_free(c);
}

/* Replaces the first occurrence of from in good by to and loads it: must
 * fail with msg at line:col (col 0: any column). */
static void refused(const char *from, const char *to, unsigned line, const char *msg)
{
    char buf[4096];
    const char *at = strstr(good, from);
    assert_non_null(at);
    int n = snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    struct pawld_config *c = NULL;
    struct pawl_diag d;
    memset(&d, 0, sizeof d);
    if (pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d) == PAWL_OK) {
        pawld_config_free(c);
        fail_msg("accepted with '%s' -> '%s'", from, to);
    }
    if (strstr(d.msg, msg) == NULL || (line != 0 && d.line != line))
        fail_msg("'%s' -> '%s': got %s, want line %u '%s'", from, to, th_diag(&d), line, msg);
}

/* routes: maps as many routes as the gateway keeps (more than 32) */
static void test_many_routes(void **state)
{
    (void)state;
    static char y[sizeof good + 8192];
    char map[8192] = "routes: {";
    for (int i = 0; i < 100; i++)
        snprintf(map + strlen(map), sizeof map - strlen(map), "r%d: backend, ", i);
    snprintf(map + strlen(map), sizeof map - strlen(map), "default: ota}\n");
    const char *at = strstr(good, "routes: {unlock: backend, default: ota}\n");
    assert_non_null(at);
    snprintf(y, sizeof y, "%.*s%s%s", (int)(at - good), good, map, at + strlen("routes: {unlock: backend, default: ota}\n"));
    struct pawld_config *c;
    struct pawl_diag d;
    if (pawld_config_load(y, strlen(y), "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_int_equal(c->nroutes, 100);
    pawld_config_free(c);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("version: 1", "version: 2", 1, "unsupported config version");
    refused("workers: 2", "workers: many", 2, "");
    refused("workers: 2", "threads: 2", 2, "unknown key 'threads'");
    refused("workers: 2", "max_connections: 0", 2, "");
    refused("workers: 2", "watch: sometimes", 2, "");
    refused("listen: 0.0.0.0:8443", "listen: example.com:8443", 8, "address literal");
    refused("listen: 0.0.0.0:8443", "listen: 0.0.0.0:70000", 8, "address literal");
    refused("listen: 0.0.0.0:8443", "listen: ::1:8443", 8, "address literal");
    refused("listen: 0.0.0.0:8443", "listen: 0.0.0.0:8443\n    ipv6only: false", 0,
            "ipv6only is for an IPv6 address, not 0.0.0.0");
    refused("listen: 0.0.0.0:8443", "listen: '[::ffff:10.0.0.1]:8443'\n    ipv6only: true", 0,
            "::ffff:10.0.0.1 is an IPv4-mapped address: it takes IPv4 clients only (ipv6only: false)");
    refused("mode: proxy", "mode: tunnel", 9, "mode must be proxy, authz or admin");
    refused("client_certs: optional", "client_certs: maybe", 10, "client_certs must be");
    refused("client_ca: ca.pem, ", "", 7, "needs client_ca");
    refused("client_certs: optional,", "", 7, "client_ca with client_certs off");
    refused("client_certs: optional,", "client_certs: off,", 7, "client_ca with client_certs off");
    refused("tls: {cert: server.pem, key: server.key, ", "tls: {", 7, "tls needs cert and key");
    refused("max_headers: 50", "max_headers: 2", 12, "");
    refused("header: 5s", "header: 5 parsecs", 13, "");
    refused("max_idle: 8", "max_conns: 0", 26, "");
    /* durations within what each can sensibly mean */
    refused("header: 5s", "header: 365d", 13, "timeouts.header must be from 100ms to 10m");
    refused("header: 5s", "header: 50ms", 13, "timeouts.header must be from 100ms to 10m");
    refused("idle: 2m", "idle: 2h", 13, "timeouts.idle must be from 100ms to 1h");
    refused("connect_timeout: 250ms", "connect_timeout: 1ms", 25, "connect_timeout must be from 10ms to 2m");
    refused("connect_timeout: 250ms", "response_timeout: 2d", 25, "response_timeout must be from 100ms to 1h");
    refused("workers: 2", "detect: {block_for: 1ms}", 2, "block_for must be from 10s to 30d");
    refused("workers: 2", "detect: {block_for: 365d}", 2, "block_for must be from 10s to 30d");
    refused("flavor: envoy", "flavor: haproxy", 17, "flavor must be nginx or envoy");
    refused("path_prefix: /authz", "path_prefix: authz", 17, "must start with '/'");
    /* an upstream name that is not there is named, with those that are */
    refused("default: ota}", "default: otta}", 28, "routes: no upstream 'otta' under upstreams: (there are 'backend', 'ota')");
    /* a prefix on the nginx flavor: every Envoy check would be 400 (review) */
    refused("flavor: envoy, path_prefix", "flavor: nginx, path_prefix", 14, "authz.path_prefix is for flavor: envoy");
    refused("flavor: envoy, path_prefix", "path_prefix", 14, "authz.path_prefix is for flavor: envoy");
    refused("listen: 127.0.0.1:9000", "listen: 10.0.0.1:9000", 14,
            "plain HTTP is only allowed on a loopback address");
    refused("name: admin", "name: authz", 18, "used twice");
    refused("http://127.0.0.1:8080", "ftp://127.0.0.1:8080", 23, "http://HOST:PORT");
    refused("http://127.0.0.1:8080", "http://127.0.0.1:8080/api", 23, "http://HOST:PORT");
    refused("http://127.0.0.1:8080", "http://user@127.0.0.1:8080", 23, "http://HOST:PORT");
    refused("unlock: backend", "unlock: nowhere", 28, "routes: no upstream 'nowhere' under upstreams:");
    refused("policy: policy.yaml\n", "", 1, "no policy file");
    refused("upstreams:", "upstreamz:", 21, "unknown key 'upstreamz'");
    refused("logs: {json:", "logs: {jsn:", 29, "unknown key 'jsn'");
    refused("logs: {json:", "logs: {audit_sync: 5ms, json:", 29, "audit_sync must be from 10ms to 10s");
    refused("logs: {json:", "logs: {audit_sync: 1m, json:", 29, "audit_sync must be from 10ms to 10s");
    refused("version: 1\n", "version: 1\nversion: 1\n", 2, "");
    /* detect: names real detectors and needs the findings file */
    refused("workers: 2", "detect: {block: [bola, telepathy]}", 2, "no detector 'telepathy'");
    refused("workers: 2", "detect: {block: bola}", 2, "");
    refused("workers: 2", "detect: {block: [bola], block_for: forever}", 2, "");
    refused("workers: 2", "detect: {max_blocks: 0}", 2, "");
    refused("workers: 2", "detect: {block: [bola]}", 2, "needs logs.findings");
    /* detect.redis: as step_up.redis; with local windows, only with blocks to share */
    refused("logs: {json:", "detect: {redis: {server: '10.0.0.5:1'}, windows: local}\n"
            "logs: {findings: f.jsonl, json:", 29, "detect.redis with windows: local shares only the blocks");
    refused("logs: {json:", "detect: {windows: shared}\nlogs: {findings: f.jsonl, json:", 29,
            "detect.windows: shared needs detect.redis");
    refused("logs: {json:", "detect: {block: [bola], windows: global}\nlogs: {findings: f.jsonl, json:", 29,
            "detect.windows: 'shared' (through detect.redis) or 'local'");
    refused("logs: {json:", "detect: {block: [bola], redis: {server: 'redis:1'}}\nlogs: {findings: f.jsonl, json:",
            29, "(an address literal)");
    refused("logs: {json:", "detect: {block: [bola], redis: {server: '10.0.0.5:1', timeout: 5s}}\n"
            "logs: {findings: f.jsonl, json:", 29, "detect.redis.timeout must be from 1ms to 1s");
    /* header names: tokens only, none that frames the request (a CR LF would
     * have pawld write headers of the configuration's making upstream) */
    refused("workers: 2", "identity_header: \"X-A: 1\\r\\nTransfer-Encoding: chunked\\r\\nX-B\"", 2,
            "not a header name");
    refused("workers: 2", "identity_header: Transfer-Encoding", 2, "frames or routes the request");
    refused("workers: 2", "step_up_header: content-length", 2, "frames or routes the request");
    refused("workers: 2", "step_up_header: 'X Token'", 2, "not a header name");
    /* settings that would be ignored, addresses that would only fail at start */
    refused("    mode: admin\n", "    mode: admin\n    authz: {flavor: nginx}\n", 18, "authz settings on an admin");
    refused("listen: '[::1]:9901'", "listen: 127.0.0.1:9000", 18, "is also listener 'authz''s address");
    /* authz and admin off loopback: only with required client certificates */
    refused("listen: 127.0.0.1:9000", "listen: 10.0.0.1:9000\n    tls: {cert: server.pem, key: server.key}", 14,
            "must require client certificates");
}

static void test_detect_section(void **state)
{
    (void)state;
    struct pawld_config *c;
    struct pawl_diag d = {0};
    char buf[4096];
    const char *logs = strstr(good, "logs: {");
    assert_non_null(logs);
    int n = snprintf(buf, sizeof buf, "%.*slogs: {findings: f.jsonl, %s"
                     "detect: {block: [vin_fan_out, credential_stuffing], block_for: 2h, max_blocks: 500, "
                     "state: detect.state}\n", (int)(logs - good), good, logs + 7);
    assert_int_equal(pawld_config_load(buf, (size_t)n, "t.yaml", &c, &d), PAWL_OK);
    assert_true(c->detect.any_block);
    assert_true(c->detect.block[1]);   /* vin_fan_out */
    assert_true(c->detect.block[3]);   /* credential_stuffing */
    assert_false(c->detect.block[0]);  /* bola */
    assert_int_equal(c->detect.block_for_ms, 2 * 3600 * 1000);
    assert_int_equal(c->detect.max_blocks, 500);
    assert_string_equal(c->detect.state, "detect.state");
    pawld_config_free(c);
    /* the defaults */
    assert_int_equal(pawld_config_load(good, strlen(good), "t.yaml", &c, &d), PAWL_OK);
    assert_false(c->detect.any_block);
    assert_int_equal(c->detect.block_for_ms, 15 * 60 * 1000);
    assert_int_equal(c->detect.max_blocks, 100000);
    assert_null(c->detect.state);
    pawld_config_free(c);
}

static void test_check_policy(void **state)
{
    (void)state;
    static const char policy[] =
        "version: 1\n"
        "roles: {owner: [read, control]}\n"
        "routes:\n"
        "  - {id: status, path: '/v/{vin}/status', methods: [GET], capability: read, roles: [owner]}\n"
        "  - {id: unlock, path: '/v/{vin}/unlock', methods: [POST], capability: control, roles: [owner]}\n";
    struct pawl_policy *p;
    struct pawld_config *c;
    struct pawl_diag d;
    assert_int_equal(pawl_policy_load(policy, sizeof policy - 1, "p", &p, &d), PAWL_OK);
    assert_int_equal(pawld_config_load(good, sizeof good - 1, "pawld.yaml", &c, &d), PAWL_OK);
    assert_int_equal(pawld_config_check_policy(c, p, "pawld.yaml", &d), PAWL_OK);
    c->default_upstream = -1; /* status reaches no upstream now */
    assert_int_equal(pawld_config_check_policy(c, p, "pawld.yaml", &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "'status' reaches no upstream"));
    assert_string_equal(d.where, "policy.yaml"); /* where the route is: the policy's line 4 */
    assert_int_equal(d.line, 4);
    free(c->routes[0].route);
    c->routes[0].route = strdup("lock");
    assert_int_equal(pawld_config_check_policy(c, p, "pawld.yaml", &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "'lock' is not a route id"));
    assert_string_equal(d.where, "pawld.yaml"); /* routes: {unlock: backend ...} */
    assert_int_equal(d.line, 28);
    assert_int_equal(d.col, 18);
    pawld_config_free(c);
    /* a vehicle command for a route the policy does not have */
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "%svehicle_link: {broker: '127.0.0.1:8883', ca: ca.pem, cert: c.pem, key: c.key,\n"
                     "  commands: {lokk: door.lock}}\n", good);
    if (pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_int_equal(pawld_config_check_policy(c, p, "pawld.yaml", &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "vehicle_link.commands: 'lokk' is not a route id of the policy"));
    assert_string_equal(d.where, "pawld.yaml");
    assert_int_equal(d.line, 31);
    assert_int_equal(d.col, 20); /* door.lock */
    pawld_config_free(c);
    pawl_policy_free(p);
}

/* step_up: trust_dir is required; every step-up route of the policy names
 * its command, and only step-up routes may. */
static void test_step_up(void **state)
{
    (void)state;
    static const char policy[] =
        "version: 1\n"
        "roles: {owner: [read, control]}\n"
        "routes:\n"
        "  - {id: start, path: '/v/{vin}/start', methods: [POST], capability: control, roles: [owner],\n"
        "     vehicle: vin, step_up: true}\n"
        "  - {id: status, path: '/v/{vin}/status', methods: [GET], capability: read, roles: [owner]}\n"
        "  - {id: unlock, path: '/v/{vin}/unlock', methods: [POST], capability: control, roles: [owner]}\n";
    char buf[4096];
    struct pawl_policy *p;
    struct pawld_config *c;
    struct pawl_diag d;
    assert_int_equal(pawl_policy_load(policy, sizeof policy - 1, "p", &p, &d), PAWL_OK);
    int n = snprintf(buf, sizeof buf, "%sstep_up: {trust_dir: owners, commands: {start: engine.start}}\n", good);
    if (pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_string_equal(c->step_up_trust_dir, "owners");
    assert_int_equal(c->nstep_up_cmds, 1);
    assert_string_equal(c->step_up_cmds[0].command, "engine.start");
    assert_int_equal(pawld_config_check_policy(c, p, "pawld.yaml", &d), PAWL_OK);
    free(c->step_up_cmds[0].route);
    c->step_up_cmds[0].route = strdup("status");
    assert_int_equal(pawld_config_check_policy(c, p, "pawld.yaml", &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "'status' is not a step-up route"));
    assert_string_equal(d.where, "pawld.yaml");
    assert_int_equal(d.line, 30);
    assert_int_equal(d.col, 48);
    c->nstep_up_cmds = 0;
    free(c->step_up_cmds[0].route);
    free(c->step_up_cmds[0].command);
    assert_int_equal(pawld_config_check_policy(c, p, "pawld.yaml", &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "'start' names no command"));
    assert_string_equal(d.where, "policy.yaml");
    assert_int_equal(d.line, 4);
    pawld_config_free(c);
    n = snprintf(buf, sizeof buf, "%sstep_up: {commands: {start: engine.start}}\n", good);
    assert_int_equal(pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "needs trust_dir"));
    pawl_policy_free(p);
}

/* step_up.redis: its keys and defaults, and what is refused */
static void test_step_up_redis(void **state)
{
    (void)state;
    char buf[4096];
    struct pawld_config *c;
    struct pawl_diag d;
    int n = snprintf(buf, sizeof buf, "%sstep_up: {trust_dir: owners, redis: {server: '10.0.0.5:6380', "
                     "password_file: r.pass, user: pawld, timeout: 250ms}}\n", good);
    if (pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    const struct pawld_redis *r = &c->step_up_redis;
    assert_true(r->on);
    assert_string_equal(r->host, "10.0.0.5");
    assert_int_equal(r->port, 6380);
    assert_string_equal(r->password_file, "r.pass");
    assert_string_equal(r->user, "pawld");
    assert_null(r->prefix); /* pawl:step-up: */
    assert_int_equal(r->timeout_ms, 250);
    pawld_config_free(c);
    n = snprintf(buf, sizeof buf, "%sstep_up: {trust_dir: owners, redis: {server: '[::1]:6379'}}\n", good);
    assert_int_equal(pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d), PAWL_OK);
    assert_string_equal(c->step_up_redis.host, "::1");
    assert_int_equal(c->step_up_redis.port, 6379);
    assert_int_equal(c->step_up_redis.timeout_ms, 100); /* default */
    pawld_config_free(c);
    static const struct { const char *redis, *msg; } bad[] = {
        {"{password_file: r.pass}", "step_up.redis: needs server: IPV4:PORT or [IPV6]:PORT"},
        {"{server: 'localhost'}", "server must be IPV4:PORT or [IPV6]:PORT (an address literal)"},
        {"{server: 'redis.internal:6379'}", "server must be IPV4:PORT or [IPV6]:PORT (an address literal)"},
        {"{server: '10.0.0.5:70000'}", "server must be IPV4:PORT or [IPV6]:PORT"},
        {"{server: '10.0.0.5:1', timeout: 2s}", "step_up.redis.timeout must be from 1ms to 1s"},
        {"{server: '10.0.0.5:1', user: pawld}", "step_up.redis: user needs password_file"},
        {"{server: '10.0.0.5:1', db: 3}", "unknown key 'db'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "version: 1\nstep_up: {trust_dir: owners, redis: %s}", bad[i].redis);
        refused("version: 1", buf, 0, bad[i].msg);
    }
    n = snprintf(buf, sizeof buf, "%sstep_up: {trust_dir: owners, state: s, redis: {server: '10.0.0.5:1'}}\n",
                 good);
    assert_int_equal(pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "state and redis are two records"));
}

/* rate_limits: its redis (the same keys as step_up.redis, its own
 * defaults and messages) and sync, and what is refused */
static void test_rate_limits_redis(void **state)
{
    (void)state;
    char buf[4096];
    struct pawld_config *c;
    struct pawl_diag d;
    int n = snprintf(buf, sizeof buf, "%srate_limits: {redis: {server: '10.0.0.5:6380', password_file: r.pass, "
                     "user: pawld, prefix: 'fleet-a:rl:', timeout: 20ms}, sync: 250ms}\n", good);
    if (pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    const struct pawld_redis *r = &c->rl_redis;
    assert_true(r->on);
    assert_false(c->step_up_redis.on);
    assert_string_equal(r->host, "10.0.0.5");
    assert_int_equal(r->port, 6380);
    assert_string_equal(r->password_file, "r.pass");
    assert_string_equal(r->user, "pawld");
    assert_string_equal(r->prefix, "fleet-a:rl:");
    assert_int_equal(r->timeout_ms, 20);
    assert_int_equal(c->rl_sync_ms, 250);
    pawld_config_free(c);
    n = snprintf(buf, sizeof buf, "%srate_limits: {redis: {server: '[::1]:6379'}}\n", good);
    assert_int_equal(pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d), PAWL_OK);
    assert_int_equal(c->rl_redis.timeout_ms, 100); /* defaults */
    assert_int_equal(c->rl_sync_ms, 100);
    assert_null(c->rl_redis.prefix); /* pawl:rl: */
    pawld_config_free(c);
    n = snprintf(buf, sizeof buf, "%s", good); /* off when absent */
    assert_int_equal(pawld_config_load(buf, (size_t)n, "pawld.yaml", &c, &d), PAWL_OK);
    assert_false(c->rl_redis.on);
    assert_false(c->detect.redis.on);
    pawld_config_free(c);
    /* detect.redis: the same keys, its own defaults */
    n = snprintf(buf, sizeof buf, "%sdetect: {block: [enumeration], redis: {server: '10.0.0.5:6380', "
                 "user: pawld, password_file: r.pass, prefix: 'fleet:b:'}}\n", good);
    char *at = strstr(buf, "logs: {");
    assert_non_null(at);
    memmove(at + 24, at + 7, strlen(at + 7) + 1); /* logs.findings, which detect: needs */
    memcpy(at, "logs: {findings: f.json,", 24);
    if (pawld_config_load(buf, strlen(buf), "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_true(c->detect.redis.on);
    assert_int_equal(c->detect.redis.port, 6380);
    assert_string_equal(c->detect.redis.prefix, "fleet:b:");
    assert_int_equal(c->detect.redis.timeout_ms, 100);
    assert_int_equal(c->detect.windows, 1); /* shared, with detect.redis */
    assert_false(c->rl_redis.on);
    pawld_config_free(c);
    /* local windows on request; shared ones need no block */
    at = strstr(buf, "redis: {");
    memmove(at + 16, at, strlen(at) + 1);
    memcpy(at, "windows: local, ", 16);
    if (pawld_config_load(buf, strlen(buf), "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_int_equal(c->detect.windows, -1);
    pawld_config_free(c);
    at = strstr(buf, "block: [enumeration], windows: local, ");
    assert_non_null(at);
    memmove(at, at + 38, strlen(at + 38) + 1);
    if (pawld_config_load(buf, strlen(buf), "pawld.yaml", &c, &d) != PAWL_OK)
        fail_msg("%s: %s", th_diag(&d), buf);
    assert_int_equal(c->detect.windows, 1);
    assert_false(c->detect.any_block);
    pawld_config_free(c);
    static const struct { const char *rl, *msg; } bad[] = {
        {"{sync: 1s}", "rate_limits: needs redis:"},
        {"{redis: {password_file: r.pass}}", "rate_limits.redis: needs server: IPV4:PORT or [IPV6]:PORT"},
        {"{redis: {server: 'redis.internal:6379'}}", "(an address literal)"},
        {"{redis: {server: '10.0.0.5:1', timeout: 2s}}", "rate_limits.redis.timeout must be from 1ms to 1s"},
        {"{redis: {server: '10.0.0.5:1', user: pawld}}", "rate_limits.redis: user needs password_file"},
        {"{redis: {server: '10.0.0.5:1'}, sync: 5ms}", "rate_limits.sync must be from 10ms to 10s"},
        {"{redis: {server: '10.0.0.5:1'}, sync: 11s}", "rate_limits.sync must be from 10ms to 10s"},
        {"{redis: {server: '10.0.0.5:1'}, principal: {rate: 5, per: 1s}}", "unknown key 'principal'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "version: 1\nrate_limits: %s", bad[i].rl);
        refused("version: 1", buf, 2, bad[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_config),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_many_routes),
        cmocka_unit_test(test_detect_section),
        cmocka_unit_test(test_check_policy),
        cmocka_unit_test(test_step_up),
        cmocka_unit_test(test_step_up_redis),
        cmocka_unit_test(test_rate_limits_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
