/* see config.h */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_yaml.h"
#include "util.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define CONFIG_MAX_DEPTH 8
#define PATH_MAX_BYTES 4096

struct ld {
    struct pawl__yl y;
    struct pawld_config *c;
    struct pawld_listener *l;  /* the listener being read */
    struct pawld_upstream *u;  /* the upstream being read */
    bool have_listen, have_mode, have_authz, have_v6only;
    yaml_node_t *detect;       /* the detect: section, if any */
};

static pawl_err path(struct pawl__yl *y, yaml_node_t *v, char **out)
{
    return pawl__yl_str(y, v, PATH_MAX_BYTES, out);
}

/* What a duration key may hold: a header timeout of a year disarms the
 * slowloris defense, a block of a millisecond blocks nothing (review). */
struct span {
    const char *key, *range;
    int64_t min_ms, max_ms;
};
static const struct span HEADER_TIMEOUT = { "timeouts.header", "100ms to 10m", 100, 600000 };
static const struct span BODY_TIMEOUT = { "timeouts.body", "100ms to 1h", 100, 3600000 };
static const struct span IDLE_TIMEOUT = { "timeouts.idle", "100ms to 1h", 100, 3600000 };
static const struct span CONNECT_TIMEOUT = { "connect_timeout", "10ms to 2m", 10, 120000 };
static const struct span RESPONSE_TIMEOUT = { "response_timeout", "100ms to 1h", 100, 3600000 };
static const struct span RESULT_TIMEOUT = { "result_timeout", "100ms to 10m", 100, 600000 };
static const struct span BLOCK_FOR = { "block_for", "10s to 30d", 10000, 30 * 86400000LL };
static const struct span AUDIT_SYNC = { "audit_sync", "10ms to 10s", 10, 10000 };
static const struct span REDIS_TIMEOUT = { "step_up.redis.timeout", "1ms to 1s", 1, 1000 };
static const struct span RL_REDIS_TIMEOUT = { "rate_limits.redis.timeout", "1ms to 1s", 1, 1000 };
static const struct span RL_SYNC = { "rate_limits.sync", "10ms to 10s", 10, 10000 };
static const struct span DETECT_REDIS_TIMEOUT = { "detect.redis.timeout", "1ms to 1s", 1, 1000 };

static pawl_err ms(struct pawl__yl *y, yaml_node_t *v, const struct span *s, int64_t *out)
{
    int64_t us;
    pawl_err e = pawl__yl_duration_us(y, v, &us);
    if (e != PAWL_OK)
        return e;
    if (us / 1000 < s->min_ms || us / 1000 > s->max_ms)
        return pawl__yl_err(y, v, "%s must be from %s", s->key, s->range);
    *out = us / 1000;
    return PAWL_OK;
}

static pawl_err size_val(struct pawl__yl *y, yaml_node_t *v, int64_t min, int64_t max, size_t *out)
{
    int64_t n;
    pawl_err e = pawl__yl_int(y, v, min, max, &n);
    if (e == PAWL_OK)
        *out = (size_t)n;
    return e;
}

/* "IPv4:port" or "[IPv6]:port": literals only, so that what is loopback is
 * never a matter of name resolution. */
/* IPV4:PORT or [IPV6]:PORT, address literals only: the host into host[64],
 * its bytes into buf (4 or 16 of them, *v4 says which). */
static pawl_err addr_port(struct pawl__yl *y, yaml_node_t *v, const char *what, char host_out[64],
                          int *port_out, unsigned char buf[16], bool *v4_out)
{
    char *s = NULL;
    pawl_err e = pawl__yl_str(y, v, 80, &s);
    if (e != PAWL_OK)
        return e;
    char *colon = strrchr(s, ':');
    const char *host = s;
    int64_t port = 0;
    if (colon != NULL)
        *colon = '\0';
    if (s[0] == '[' && colon != NULL && colon[-1] == ']') {
        colon[-1] = '\0';
        host = s + 1;
    }
    bool v4 = inet_pton(AF_INET, host, buf) == 1, v6 = !v4 && inet_pton(AF_INET6, host, buf) == 1;
    if (colon == NULL || (!v4 && !v6) || (v6 && host == s) ||
        pawl__parse_i64(colon + 1, strlen(colon + 1), 1, 65535, &port) != PAWL_OK) {
        free(s);
        return pawl__yl_err(y, v, "%s must be IPV4:PORT or [IPV6]:PORT (an address literal)", what);
    }
    snprintf(host_out, 64, "%s", host);
    *port_out = (int)port;
    *v4_out = v4;
    free(s);
    return PAWL_OK;
}

static pawl_err listen_addr(struct pawl__yl *y, yaml_node_t *v, struct pawld_listener *l)
{
    unsigned char buf[16];
    bool v4;
    pawl_err e = addr_port(y, v, "listen", l->host, &l->port, buf, &v4);
    if (e == PAWL_OK)
        l->loopback = v4 ? buf[0] == 127 : memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
    return e;
}

static pawl_err tls_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_tls *t = ctx;
    if (strcmp(k, "cert") == 0)
        return path(y, v, &t->cert);
    if (strcmp(k, "key") == 0)
        return path(y, v, &t->key);
    if (strcmp(k, "client_ca") == 0)
        return path(y, v, &t->client_ca);
    if (strcmp(k, "crl") == 0)
        return path(y, v, &t->crl);
    if (strcmp(k, "client_certs") == 0) {
        char *s = NULL;
        pawl_err e = pawl__yl_str(y, v, 16, &s);
        if (e != PAWL_OK)
            return e;
        t->client_certs = !strcmp(s, "off")        ? PAWLD_CERTS_OFF
                          : !strcmp(s, "optional") ? PAWLD_CERTS_OPTIONAL
                          : !strcmp(s, "required") ? PAWLD_CERTS_REQUIRED
                                                   : (enum pawld_client_certs)-1;
        free(s);
        if ((int)t->client_certs < 0)
            return pawl__yl_err(y, v, "client_certs must be off, optional or required");
        return PAWL_OK;
    }
    return PAWL_ENOTFOUND;
}

static pawl_err limits_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawl_http_limits *l = ctx;
    if (strcmp(k, "max_headers") == 0)
        return size_val(y, v, 8, 1000, &l->max_headers);
    if (strcmp(k, "max_header_bytes") == 0)
        return size_val(y, v, 256, 1 << 20, &l->max_header_bytes);
    if (strcmp(k, "max_head_bytes") == 0)
        return size_val(y, v, 1024, 1 << 22, &l->max_head_bytes);
    if (strcmp(k, "max_body_bytes") == 0) {
        int64_t n;
        pawl_err e = pawl__yl_int(y, v, 0, (int64_t)1 << 40, &n);
        l->max_body_bytes = (uint64_t)n;
        return e;
    }
    return PAWL_ENOTFOUND;
}

static pawl_err ltimeouts_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_listener *l = ctx;
    if (strcmp(k, "header") == 0)
        return ms(y, v, &HEADER_TIMEOUT, &l->header_timeout_ms);
    if (strcmp(k, "body") == 0)
        return ms(y, v, &BODY_TIMEOUT, &l->body_timeout_ms);
    if (strcmp(k, "idle") == 0)
        return ms(y, v, &IDLE_TIMEOUT, &l->idle_timeout_ms);
    return PAWL_ENOTFOUND;
}

static pawl_err authz_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_listener *l = ctx;
    if (strcmp(k, "path_prefix") == 0) {
        pawl_err e = path(y, v, &l->path_prefix);
        if (e == PAWL_OK && l->path_prefix[0] != '/')
            return pawl__yl_err(y, v, "path_prefix must start with '/'");
        return e;
    }
    if (strcmp(k, "flavor") == 0) {
        char *s = NULL;
        pawl_err e = pawl__yl_str(y, v, 16, &s);
        if (e != PAWL_OK)
            return e;
        bool nginx = !strcmp(s, "nginx"), envoy = !strcmp(s, "envoy");
        free(s);
        if (!nginx && !envoy)
            return pawl__yl_err(y, v, "flavor must be nginx or envoy");
        l->flavor = nginx ? PAWL_AUTHZ_NGINX : PAWL_AUTHZ_ENVOY;
        return PAWL_OK;
    }
    return PAWL_ENOTFOUND;
}

static pawl_err mode(struct pawl__yl *y, yaml_node_t *v, enum pawld_mode *out)
{
    char *s = NULL;
    pawl_err e = pawl__yl_str(y, v, 16, &s);
    if (e != PAWL_OK)
        return e;
    int m = !strcmp(s, "proxy") ? PAWLD_PROXY
            : !strcmp(s, "authz") ? PAWLD_AUTHZ
            : !strcmp(s, "admin") ? PAWLD_ADMIN
                                  : -1;
    free(s);
    if (m < 0)
        return pawl__yl_err(y, v, "mode must be proxy, authz or admin");
    *out = (enum pawld_mode)m;
    return PAWL_OK;
}

static pawl_err listener_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct ld *ld = ctx;
    struct pawld_listener *l = ld->l;
    if (strcmp(k, "name") == 0)
        return pawl__yl_str(y, v, 64, &l->name);
    if (strcmp(k, "listen") == 0) {
        ld->have_listen = true;
        return listen_addr(y, v, l);
    }
    if (strcmp(k, "mode") == 0) {
        ld->have_mode = true;
        return mode(y, v, &l->mode);
    }
    if (strcmp(k, "ipv6only") == 0) {
        ld->have_v6only = true;
        return pawl__yl_bool(y, v, &l->v6only);
    }
    if (strcmp(k, "tls") == 0) {
        l->tls_on = true;
        return pawl__yl_each(y, v, "tls", tls_key, &l->tls);
    }
    if (strcmp(k, "authz") == 0) {
        ld->have_authz = true;
        return pawl__yl_each(y, v, "authz", authz_key, l);
    }
    if (strcmp(k, "limits") == 0)
        return pawl__yl_each(y, v, "limits", limits_key, &l->limits);
    if (strcmp(k, "timeouts") == 0)
        return pawl__yl_each(y, v, "timeouts", ltimeouts_key, l);
    return PAWL_ENOTFOUND;
}

/* The rules a listener must follow as a whole. */
static pawl_err listener_done(struct ld *ld, yaml_node_t *v)
{
    struct pawld_listener *l = ld->l;
    struct pawl__yl *y = &ld->y;
    if (!ld->have_listen || !ld->have_mode || l->name == NULL)
        return pawl__yl_err(y, v, "a listener needs name, listen and mode");
    bool v6 = strchr(l->host, ':') != NULL;
    struct in6_addr a6;
    /* ::ffff:a.b.c.d takes IPv4 clients only: Linux refuses to bind it IPv6-only (review) */
    bool mapped = v6 && inet_pton(AF_INET6, l->host, &a6) == 1 && IN6_IS_ADDR_V4MAPPED(&a6);
    if (ld->have_v6only && !v6)
        return pawl__yl_err(y, v, "listener '%s': ipv6only is for an IPv6 address, not %s", l->name,
                            l->host);
    if (ld->have_v6only && l->v6only && mapped)
        return pawl__yl_err(y, v, "listener '%s': %s is an IPv4-mapped address: it takes IPv4 "
                            "clients only (ipv6only: false)", l->name, l->host);
    if (!ld->have_v6only) /* as nginx and Envoy: [::]:P and 0.0.0.0:P can both be listed */
        l->v6only = v6 && !mapped;
    for (size_t i = 0; i + 1 < ld->c->nlisteners; i++)
        if (strcmp(ld->c->listeners[i].name, l->name) == 0)
            return pawl__yl_err(y, v, "listener name '%s' is used twice", l->name);
    if (!l->tls_on && !l->loopback)
        return pawl__yl_err(y, v, "listener '%s': plain HTTP is only allowed on a loopback "
                            "address; add tls: {cert, key}", l->name);
    if (l->tls_on && (l->tls.cert == NULL || l->tls.key == NULL))
        return pawl__yl_err(y, v, "listener '%s': tls needs cert and key", l->name);
    if (l->tls.client_certs != PAWLD_CERTS_OFF && l->tls.client_ca == NULL)
        return pawl__yl_err(y, v, "listener '%s': client_certs %s needs client_ca", l->name,
                            l->tls.client_certs == PAWLD_CERTS_REQUIRED ? "required" : "optional");
    if (l->tls.crl != NULL && l->tls.client_ca == NULL)
        return pawl__yl_err(y, v, "listener '%s': crl needs client_ca", l->name);
    if (l->tls.client_ca != NULL && l->tls.client_certs == PAWLD_CERTS_OFF)
        return pawl__yl_err(y, v, "listener '%s': client_ca with client_certs off (the default) "
                            "would still ask for certificates; set client_certs: optional or "
                            "required, or drop client_ca", l->name);
    if (l->mode != PAWLD_PROXY && !l->loopback && l->tls.client_certs != PAWLD_CERTS_REQUIRED)
        return pawl__yl_err(y, v, "listener '%s': an %s listener off loopback must require client "
                            "certificates (client_certs: required): %s", l->name,
                            l->mode == PAWLD_AUTHZ ? "authz" : "admin",
                            l->mode == PAWLD_AUTHZ ? "it trusts the certificate and address headers "
                                                     "of whoever calls it"
                                                   : "it lifts blocks and has no login");
    for (size_t i = 0; i + 1 < ld->c->nlisteners; i++) /* a second would only fail at start */
        if (strcmp(ld->c->listeners[i].host, l->host) == 0 && ld->c->listeners[i].port == l->port)
            return pawl__yl_err(y, v, "listener '%s': %s:%d is also listener '%s''s address", l->name,
                                l->host, l->port, ld->c->listeners[i].name);
    if (l->mode != PAWLD_AUTHZ && (l->path_prefix != NULL || ld->have_authz))
        return pawl__yl_err(y, v, "listener '%s': authz settings on %s listener", l->name,
                            l->mode == PAWLD_PROXY ? "a proxy" : "an admin");
    if (l->path_prefix != NULL && l->flavor != PAWL_AUTHZ_ENVOY) /* nginx's checks would all be 400 */
        return pawl__yl_err(y, v, "listener '%s': authz.path_prefix is for flavor: envoy (this "
                            "listener is flavor nginx, the default)", l->name);
    return PAWL_OK;
}

static pawl_err listeners(struct ld *ld, yaml_node_t *v)
{
    struct pawl__yl *y = &ld->y;
    static const struct pawl_http_limits lim = PAWL_HTTP_LIMITS_DEFAULT;
    pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "listeners");
    size_t n = e == PAWL_OK ? pawl__yl_seq_len(v) : 0;
    if (e != PAWL_OK)
        return e;
    if (n == 0 || n > PAWLD_MAX_LISTENERS)
        return pawl__yl_err(y, v, "listeners: want 1 to %d", PAWLD_MAX_LISTENERS);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = pawl__yl_seq_item(y, v, i);
        struct pawld_listener *l = &ld->c->listeners[ld->c->nlisteners++];
        l->limits = lim;
        l->header_timeout_ms = 10000;
        l->body_timeout_ms = 30000;
        l->idle_timeout_ms = 60000;
        ld->l = l;
        ld->have_listen = ld->have_mode = ld->have_authz = ld->have_v6only = false;
        if ((e = pawl__yl_each(y, item, "a listener", listener_key, ld)) != PAWL_OK ||
            (e = listener_done(ld, item)) != PAWL_OK)
            return e;
    }
    return PAWL_OK;
}

/* "http://HOST:PORT" or "https://HOST:PORT", no path. */
static pawl_err server(struct pawl__yl *y, yaml_node_t *v, struct pawld_server *s)
{
    char *u = NULL;
    pawl_err e = pawl__yl_str(y, v, 300, &u);
    if (e != PAWL_OK)
        return e;
    s->https = strncmp(u, "https://", 8) == 0;
    const char *h = s->https ? u + 8 : strncmp(u, "http://", 7) == 0 ? u + 7 : NULL;
    const char *colon = h ? strrchr(h, ':') : NULL;
    int64_t port = 0;
    bool ok = colon != NULL && colon > h && (size_t)(colon - h) < sizeof s->host &&
              strpbrk(h, "/?#@ ") == NULL &&
              pawl__parse_i64(colon + 1, strlen(colon + 1), 1, 65535, &port) == PAWL_OK;
    if (ok) {
        memcpy(s->host, h, (size_t)(colon - h));
        s->host[colon - h] = '\0';
        s->port = (int)port;
    }
    free(u);
    return ok ? PAWL_OK : pawl__yl_err(y, v, "a server must be http://HOST:PORT or https://HOST:PORT");
}

static pawl_err upstream_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_upstream *u = ctx;
    if (strcmp(k, "servers") == 0) {
        pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "servers");
        size_t n = e == PAWL_OK ? pawl__yl_seq_len(v) : 0;
        if (e != PAWL_OK)
            return e;
        if (n == 0 || n > PAWLD_MAX_SERVERS)
            return pawl__yl_err(y, v, "servers: want 1 to %d", PAWLD_MAX_SERVERS);
        for (size_t i = 0; i < n; i++)
            if ((e = server(y, pawl__yl_seq_item(y, v, i), &u->servers[u->nservers++])) != PAWL_OK)
                return e;
        return PAWL_OK;
    }
    if (strcmp(k, "ca") == 0)
        return path(y, v, &u->ca);
    if (strcmp(k, "connect_timeout") == 0)
        return ms(y, v, &CONNECT_TIMEOUT, &u->connect_timeout_ms);
    if (strcmp(k, "response_timeout") == 0)
        return ms(y, v, &RESPONSE_TIMEOUT, &u->response_timeout_ms);
    if (strcmp(k, "max_idle") == 0) {
        int64_t n;
        pawl_err e = pawl__yl_int(y, v, 0, 10000, &n);
        u->max_idle = (unsigned)n;
        return e;
    }
    if (strcmp(k, "max_conns") == 0) {
        int64_t n;
        pawl_err e = pawl__yl_int(y, v, 1, 1000000, &n);
        u->max_conns = (unsigned)n;
        return e;
    }
    return PAWL_ENOTFOUND;
}

static pawl_err upstreams_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_config *c = ctx;
    if (c->nupstreams == PAWLD_MAX_UPSTREAMS)
        return pawl__yl_err(y, v, "more than %d upstreams", PAWLD_MAX_UPSTREAMS);
    struct pawld_upstream *u = &c->upstreams[c->nupstreams++];
    u->connect_timeout_ms = 2000;
    u->response_timeout_ms = 30000;
    u->max_idle = 32;
    u->max_conns = 1024;
    if ((u->name = pawl__strndup(k, strlen(k))) == NULL)
        return PAWL_ENOMEM;
    pawl_err e = pawl__yl_each(y, v, "an upstream", upstream_key, u);
    if (e == PAWL_OK && u->nservers == 0)
        return pawl__yl_err(y, v, "upstream '%s' has no servers", k);
    return e;
}

static long upstream_index(const struct pawld_config *c, const char *name)
{
    for (size_t i = 0; i < c->nupstreams; i++)
        if (strcmp(c->upstreams[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Where v is, kept for the errors pawld_config_check_policy finds later. */
static void mark_at(const yaml_node_t *v, unsigned *line, unsigned *col)
{
    *line = (unsigned)v->start_mark.line + 1;
    *col = (unsigned)v->start_mark.column + 1;
}

static pawl_err routes_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_config *c = ctx;
    char *name = NULL;
    pawl_err e = pawl__yl_str(y, v, 64, &name);
    if (e != PAWL_OK)
        return e;
    long u = upstream_index(c, name);
    if (u < 0) {
        char known[256] = "";
        for (size_t i = 0; i < c->nupstreams && strlen(known) < 200; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s'%s'", i ? ", " : "",
                     c->upstreams[i].name);
        e = pawl__yl_err(y, v, "routes: no upstream '%s' under upstreams: (there are %s)", name,
                         known[0] ? known : "none");
        free(name);
        return e;
    }
    free(name);
    if (strcmp(k, "default") == 0) {
        c->default_upstream = u;
        return PAWL_OK;
    }
    if (c->nroutes == PAWLD_MAX_ROUTE_MAP)
        return pawl__yl_err(y, v, "more than %d routes", PAWLD_MAX_ROUTE_MAP);
    c->routes[c->nroutes].upstream = (size_t)u;
    mark_at(v, &c->routes[c->nroutes].line, &c->routes[c->nroutes].col);
    c->routes[c->nroutes].route = pawl__strndup(k, strlen(k));
    return c->routes[c->nroutes++].route ? PAWL_OK : PAWL_ENOMEM;
}

static pawl_err step_up_cmd_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_config *c = ctx;
    if (c->nstep_up_cmds == PAWLD_MAX_ROUTE_MAP)
        return pawl__yl_err(y, v, "more than %d step-up commands", PAWLD_MAX_ROUTE_MAP);
    struct pawld_step_up_cmd *sc = &c->step_up_cmds[c->nstep_up_cmds++];
    mark_at(v, &sc->line, &sc->col);
    if ((sc->route = pawl__strndup(k, strlen(k))) == NULL)
        return PAWL_ENOMEM;
    return pawl__yl_str(y, v, 63, &sc->command);
}

/* HOST:PORT into host (cap bytes) and port; what names the key in the error. */
static pawl_err host_port(struct pawl__yl *y, yaml_node_t *v, const char *what, char *host, size_t cap,
                          int *port)
{
    char *b = NULL;
    pawl_err e = pawl__yl_str(y, v, 260, &b);
    if (e != PAWL_OK)
        return e;
    const char *colon = strrchr(b, ':');
    int64_t p = 0;
    bool ok = colon && colon != b && (size_t)(colon - b) < cap &&
              pawl__parse_i64(colon + 1, strlen(colon + 1), 1, 65535, &p) == PAWL_OK;
    if (ok) {
        snprintf(host, cap, "%.*s", (int)(colon - b), b);
        *port = (int)p;
    }
    free(b);
    return ok ? PAWL_OK : pawl__yl_err(y, v, "%s must be HOST:PORT", what);
}

/* A redis: section (step_up.redis, rate_limits.redis). */
struct redis_ld {
    struct pawld_redis *r;
    const struct span *timeout;
};

static pawl_err redis_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct redis_ld *rl = ctx;
    struct pawld_redis *r = rl->r;
    if (strcmp(k, "server") == 0) { /* a literal: no name resolved on a worker's thread (review) */
        unsigned char buf[16];
        bool v4;
        r->on = true;
        return addr_port(y, v, "server", r->host, &r->port, buf, &v4);
    }
    if (strcmp(k, "password_file") == 0)
        return path(y, v, &r->password_file);
    if (strcmp(k, "user") == 0)
        return pawl__yl_str(y, v, 128, &r->user);
    if (strcmp(k, "prefix") == 0)
        return pawl__yl_str(y, v, 128, &r->prefix);
    if (strcmp(k, "timeout") == 0)
        return ms(y, v, rl->timeout, &r->timeout_ms);
    return PAWL_ENOTFOUND;
}

/* what: "step_up.redis" or "rate_limits.redis". */
static pawl_err redis_section(struct pawl__yl *y, yaml_node_t *v, const char *what, const struct span *timeout,
                              struct pawld_redis *r)
{
    struct redis_ld rl = { r, timeout };
    pawl_err e = pawl__yl_each(y, v, what, redis_key, &rl);
    if (e == PAWL_OK && !r->on)
        return pawl__yl_err(y, v, "%s: needs server: IPV4:PORT or [IPV6]:PORT", what);
    if (e == PAWL_OK && r->user != NULL && r->password_file == NULL)
        return pawl__yl_err(y, v, "%s: user needs password_file", what);
    return e;
}

static pawl_err step_up_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_config *c = ctx;
    if (strcmp(k, "trust_dir") == 0)
        return path(y, v, &c->step_up_trust_dir);
    if (strcmp(k, "state") == 0)
        return path(y, v, &c->step_up_state);
    if (strcmp(k, "redis") == 0)
        return redis_section(y, v, "step_up.redis", &REDIS_TIMEOUT, &c->step_up_redis);
    if (strcmp(k, "commands") == 0)
        return pawl__yl_each(y, v, "step_up.commands", step_up_cmd_key, c);
    return PAWL_ENOTFOUND;
}

static pawl_err rate_limits_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_config *c = ctx;
    if (strcmp(k, "redis") == 0)
        return redis_section(y, v, "rate_limits.redis", &RL_REDIS_TIMEOUT, &c->rl_redis);
    if (strcmp(k, "sync") == 0)
        return ms(y, v, &RL_SYNC, &c->rl_sync_ms);
    return PAWL_ENOTFOUND;
}

static pawl_err link_cmd_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_link *l = ctx;
    if (l->ncmds == PAWLD_MAX_ROUTE_MAP)
        return pawl__yl_err(y, v, "more than %d vehicle commands", PAWLD_MAX_ROUTE_MAP);
    struct pawld_step_up_cmd *sc = &l->cmds[l->ncmds++];
    mark_at(v, &sc->line, &sc->col);
    if ((sc->route = pawl__strndup(k, strlen(k))) == NULL)
        return PAWL_ENOMEM;
    return pawl__yl_str(y, v, 63, &sc->command);
}

static pawl_err link_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_link *l = ctx;
    if (strcmp(k, "broker") == 0)
        return host_port(y, v, "broker", l->host, sizeof l->host, &l->port);
    if (strcmp(k, "ca") == 0)
        return path(y, v, &l->ca);
    if (strcmp(k, "cert") == 0)
        return path(y, v, &l->cert);
    if (strcmp(k, "key") == 0)
        return path(y, v, &l->key);
    if (strcmp(k, "commands") == 0)
        return pawl__yl_each(y, v, "vehicle_link.commands", link_cmd_key, l);
    if (strcmp(k, "result_timeout") == 0)
        return ms(y, v, &RESULT_TIMEOUT, &l->result_timeout_ms);
    return PAWL_ENOTFOUND;
}

static pawl_err logs_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_config *c = ctx;
    if (strcmp(k, "json") == 0)
        return path(y, v, &c->log_json);
    if (strcmp(k, "ocsf") == 0)
        return path(y, v, &c->ocsf);
    if (strcmp(k, "audit") == 0)
        return path(y, v, &c->audit);
    if (strcmp(k, "audit_key") == 0)
        return path(y, v, &c->audit_key);
    if (strcmp(k, "audit_sync") == 0)
        return ms(y, v, &AUDIT_SYNC, &c->audit_sync_ms);
    if (strcmp(k, "findings") == 0)
        return path(y, v, &c->findings);
    return PAWL_ENOTFOUND;
}

static pawl_err detect_block(struct pawl__yl *y, yaml_node_t *v, struct pawld_detect_config *dc)
{
    pawl_err e = pawl__yl_expect(y, v, YAML_SEQUENCE_NODE, "detect.block");
    for (size_t i = 0, n = e == PAWL_OK ? pawl__yl_seq_len(v) : 0; i < n && e == PAWL_OK; i++) {
        yaml_node_t *item = pawl__yl_seq_item(y, v, i);
        char *name = NULL;
        if ((e = pawl__yl_str(y, item, 64, &name)) != PAWL_OK)
            break;
        unsigned d = pawl_detector_index(name);
        if (d == PAWL_DETECTORS)
            e = pawl__yl_err(y, item, "detect.block: no detector '%s' (docs/detection.md lists them)", name);
        else
            dc->block[d] = dc->any_block = true;
        free(name);
    }
    return e;
}

static pawl_err detect_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct pawld_detect_config *dc = ctx;
    if (strcmp(k, "block") == 0)
        return detect_block(y, v, dc);
    if (strcmp(k, "block_for") == 0)
        return ms(y, v, &BLOCK_FOR, &dc->block_for_ms);
    if (strcmp(k, "max_blocks") == 0)
        return size_val(y, v, 1, 1 << 24, &dc->max_blocks);
    if (strcmp(k, "state") == 0)
        return path(y, v, &dc->state);
    if (strcmp(k, "redis") == 0)
        return redis_section(y, v, "detect.redis", &DETECT_REDIS_TIMEOUT, &dc->redis);
    if (strcmp(k, "windows") == 0) {
        char *w = NULL;
        pawl_err e = pawl__yl_str(y, v, 16, &w);
        if (e == PAWL_OK && strcmp(w, "shared") != 0 && strcmp(w, "local") != 0)
            e = pawl__yl_err(y, v, "detect.windows: 'shared' (through detect.redis) or 'local'");
        if (e == PAWL_OK)
            dc->windows = strcmp(w, "shared") == 0 ? 1 : -1;
        free(w);
        return e;
    }
    return PAWL_ENOTFOUND;
}

/* A header name pawld sets (identity) or reads and forwards (step-up): an
 * RFC 9110 token, and not one that frames or routes the message (review
 * finding: "X-A: 1\r\nTransfer-Encoding: chunked\r\nX-B" was taken, and pawld
 * wrote a request smuggling header into every upstream request). */
static pawl_err header_name(struct pawl__yl *y, yaml_node_t *v, char **out)
{
    static const char *const framing[] = {"content-length", "transfer-encoding", "connection", "host",
                                          "te", "trailer", "upgrade", "keep-alive", "proxy-connection",
                                          "expect", "authorization", "cookie", "forwarded",
                                          "x-forwarded-for", "x-real-ip"};
    pawl_err e = pawl__yl_str(y, v, 64, out);
    if (e != PAWL_OK)
        return e;
    for (const char *p = *out; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *p) != NULL))
            return pawl__yl_err(y, v, "not a header name (RFC 9110 token characters only)");
    for (size_t i = 0; i < sizeof framing / sizeof framing[0]; i++)
        if (pawl__str_ieq_cstr((pawl_str){*out, strlen(*out)}, framing[i]))
            return pawl__yl_err(y, v, "'%s' frames or routes the request: pick another header", *out);
    return PAWL_OK;
}

static pawl_err top_key(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct ld *ld = ctx;
    struct pawld_config *c = ld->c;
    int64_t n;
    pawl_err e;
    if (strcmp(k, "version") == 0)
        return pawl__yl_int(y, v, 1, 1, &n) == PAWL_OK
                   ? PAWL_OK
                   : pawl__yl_err(y, v, "unsupported config version (this pawld reads version: 1)");
    if (strcmp(k, "workers") == 0) {
        e = pawl__yl_int(y, v, 0, PAWLD_MAX_WORKERS, &n);
        c->workers = (unsigned)n;
        return e;
    }
    if (strcmp(k, "max_connections") == 0) {
        e = pawl__yl_int(y, v, 1, 1000000, &n);
        c->max_connections = (unsigned)n;
        return e;
    }
    if (strcmp(k, "watch") == 0)
        return pawl__yl_bool(y, v, &c->watch);
    if (strcmp(k, "policy") == 0)
        return path(y, v, &c->policy);
    if (strcmp(k, "jwks") == 0)
        return path(y, v, &c->jwks);
    if (strcmp(k, "grants") == 0)
        return path(y, v, &c->grants);
    if (strcmp(k, "identity_header") == 0)
        return header_name(y, v, &c->identity_header);
    if (strcmp(k, "step_up_header") == 0)
        return header_name(y, v, &c->step_up_header);
    if (strcmp(k, "listeners") == 0)
        return listeners(ld, v);
    if (strcmp(k, "upstreams") == 0)
        return pawl__yl_each(y, v, "upstreams", upstreams_key, c);
    if (strcmp(k, "logs") == 0)
        return pawl__yl_each(y, v, "logs", logs_key, c);
    if (strcmp(k, "vehicle_link") == 0) {
        e = pawl__yl_each(y, v, "vehicle_link", link_key, &c->link);
        if (e == PAWL_OK && (c->link.port == 0 || !c->link.ca || !c->link.cert || !c->link.key))
            return pawl__yl_err(y, v, "vehicle_link needs broker, ca, cert and key (mutual TLS only)");
        c->link.on = e == PAWL_OK;
        if (c->link.result_timeout_ms <= 0)
            c->link.result_timeout_ms = 10000;
        return e;
    }
    if (strcmp(k, "step_up") == 0) {
        e = pawl__yl_each(y, v, "step_up", step_up_key, c);
        if (e == PAWL_OK && c->step_up_trust_dir == NULL)
            return pawl__yl_err(y, v, "step_up: needs trust_dir:");
        if (e == PAWL_OK && c->step_up_state != NULL && c->step_up_redis.on)
            return pawl__yl_err(y, v, "step_up: state and redis are two records of the token ids: "
                                "keep one (redis, when pawld instances share the load)");
        return e;
    }
    if (strcmp(k, "rate_limits") == 0) {
        e = pawl__yl_each(y, v, "rate_limits", rate_limits_key, c);
        if (e == PAWL_OK && !c->rl_redis.on)
            return pawl__yl_err(y, v, "rate_limits: needs redis: (the policy sets the limits; this "
                                "section says where pawld instances share them)");
        return e;
    }
    if (strcmp(k, "detect") == 0) {
        ld->detect = v;
        e = pawl__yl_each(y, v, "detect", detect_key, &c->detect);
        struct pawld_detect_config *dc = &c->detect;
        if (e == PAWL_OK && dc->windows == 0)
            dc->windows = dc->redis.on ? 1 : -1;
        if (e == PAWL_OK && dc->windows > 0 && !dc->redis.on)
            return pawl__yl_err(y, v, "detect.windows: shared needs detect.redis (where the instances "
                                "share the detectors' input)");
        if (e == PAWL_OK && dc->redis.on && dc->windows < 0 && !dc->any_block)
            return pawl__yl_err(y, v, "detect.redis with windows: local shares only the blocks: it needs "
                                "detect.block");
        return e;
    }
    if (strcmp(k, "routes") == 0)
        return PAWL_OK; /* second pass: refers to upstreams */
    return PAWL_ENOTFOUND;
}

static pawl_err top_key2(struct pawl__yl *y, const char *k, yaml_node_t *v, void *ctx)
{
    struct ld *ld = ctx;
    if (strcmp(k, "routes") == 0)
        return pawl__yl_each(y, v, "routes", routes_key, ld->c);
    return PAWL_OK;
}

static pawl_err finish(struct ld *ld, yaml_node_t *root)
{
    struct pawld_config *c = ld->c;
    bool proxy = false;
    if (c->policy == NULL)
        return pawl__yl_err(&ld->y, root, "the config names no policy file (policy: FILE)");
    if (c->nlisteners == 0)
        return pawl__yl_err(&ld->y, root, "the config defines no listeners");
    for (size_t i = 0; i < c->nlisteners; i++)
        proxy |= c->listeners[i].mode == PAWLD_PROXY;
    if (proxy && c->nupstreams == 0)
        return pawl__yl_err(&ld->y, root, "a proxy listener needs upstreams:");
    if (ld->detect != NULL && c->findings == NULL)
        return pawl__yl_err(&ld->y, ld->detect, "detect: needs logs.findings (every block and every finding is "
                            "written there)");
    if ((c->identity_header == NULL &&
         (c->identity_header = pawl__strndup("X-Pawl-Principal", 16)) == NULL) ||
        (c->step_up_header == NULL &&
         (c->step_up_header = pawl__strndup("X-Pawl-Command-Token", 20)) == NULL))
        return PAWL_ENOMEM;
    return PAWL_OK;
}

pawl_err pawld_config_load(const char *yaml, size_t n, const char *where,
                           struct pawld_config **out, struct pawl_diag *d)
{
    struct ld ld = {.y = {.where = where, .d = d}};
    pawl_err e;
    *out = NULL;
    if (n > CONFIG_MAX_BYTES) {
        pawl__diagf(d, where, 0, 0, "config larger than %u bytes", CONFIG_MAX_BYTES);
        return PAWL_ELIMIT;
    }
    if ((ld.c = calloc(1, sizeof *ld.c)) == NULL)
        return PAWL_ENOMEM;
    ld.c->default_upstream = -1;
    ld.c->watch = true;
    ld.c->max_connections = 20000;
    ld.c->audit_sync_ms = 100;
    ld.c->step_up_redis.timeout_ms = 100;
    ld.c->rl_redis.timeout_ms = 100;
    ld.c->rl_sync_ms = 100;
    ld.c->detect.redis.timeout_ms = 100;
    ld.c->detect.block_for_ms = 15 * 60 * 1000;
    ld.c->detect.max_blocks = 100000;
    if ((e = pawl__yl_load(&ld.y, yaml, n, CONFIG_MAX_DEPTH)) != PAWL_OK) {
        pawld_config_free(ld.c);
        return e;
    }
    yaml_node_t *root = yaml_document_get_root_node(&ld.y.doc);
    if ((e = pawl__yl_each(&ld.y, root, "the config", top_key, &ld)) == PAWL_OK &&
        (e = pawl__yl_each(&ld.y, root, "the config", top_key2, &ld)) == PAWL_OK)
        e = finish(&ld, root);
    pawl__yl_free(&ld.y);
    if (e != PAWL_OK) {
        pawld_config_free(ld.c);
        return e;
    }
    *out = ld.c;
    return PAWL_OK;
}

void pawld_config_free(struct pawld_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nlisteners; i++) {
        struct pawld_listener *l = &c->listeners[i];
        free(l->name);
        free(l->path_prefix);
        free(l->tls.cert);
        free(l->tls.key);
        free(l->tls.client_ca);
        free(l->tls.crl);
    }
    for (size_t i = 0; i < c->nupstreams; i++) {
        free(c->upstreams[i].name);
        free(c->upstreams[i].ca);
    }
    for (size_t i = 0; i < c->nroutes; i++)
        free(c->routes[i].route);
    free(c->policy);
    free(c->jwks);
    free(c->grants);
    free(c->identity_header);
    free(c->step_up_header);
    free(c->step_up_trust_dir);
    free(c->step_up_state);
    free(c->step_up_redis.password_file);
    free(c->step_up_redis.user);
    free(c->step_up_redis.prefix);
    free(c->rl_redis.password_file);
    free(c->rl_redis.user);
    free(c->rl_redis.prefix);
    free(c->link.ca);
    free(c->link.cert);
    free(c->link.key);
    for (size_t i = 0; i < c->link.ncmds; i++) {
        free(c->link.cmds[i].route);
        free(c->link.cmds[i].command);
    }
    for (size_t i = 0; i < c->nstep_up_cmds; i++) {
        free(c->step_up_cmds[i].route);
        free(c->step_up_cmds[i].command);
    }
    free(c->log_json);
    free(c->ocsf);
    free(c->audit);
    free(c->audit_key);
    free(c->findings);
    free(c->detect.state);
    free(c->detect.redis.password_file);
    free(c->detect.redis.user);
    free(c->detect.redis.prefix);
    free(c);
}

static const struct pawl_route *route_by_id(const struct pawl_policy *p, const char *id)
{
    for (size_t j = 0; j < p->nroutes; j++)
        if (strcmp(p->routes[j].id, id) == 0)
            return &p->routes[j];
    return NULL;
}

static pawl_err check_step_up(const struct pawld_config *c, const struct pawl_policy *p,
                              const char *where, struct pawl_diag *d)
{
    for (size_t i = 0; i < c->nstep_up_cmds; i++) {
        const struct pawl_route *r = route_by_id(p, c->step_up_cmds[i].route);
        if (r == NULL || !r->step_up) {
            pawl__diagf(d, where, c->step_up_cmds[i].line, c->step_up_cmds[i].col,
                        "step_up.commands: '%s' is not a step-up route of the policy (%s)",
                        c->step_up_cmds[i].route, c->policy);
            return PAWL_EINVAL;
        }
    }
    for (size_t j = 0; c->step_up_trust_dir && j < p->nroutes; j++) {
        bool named = false;
        for (size_t i = 0; i < c->nstep_up_cmds && !named; i++)
            named = strcmp(c->step_up_cmds[i].route, p->routes[j].id) == 0;
        if (p->routes[j].step_up && !named) {
            pawl__diagf(d, c->policy, p->routes[j].line, 0,
                        "the step-up route '%s' names no command under step_up.commands: in %s",
                        p->routes[j].id, where);
            return PAWL_EINVAL;
        }
    }
    return PAWL_OK;
}

pawl_err pawld_config_check_policy(const struct pawld_config *c, const struct pawl_policy *p,
                                   const char *where, struct pawl_diag *d)
{
    bool proxy = false;
    for (size_t i = 0; i < c->nlisteners; i++)
        proxy |= c->listeners[i].mode == PAWLD_PROXY;
    for (size_t i = 0; i < c->nroutes; i++) {
        bool found = false;
        for (size_t j = 0; j < p->nroutes && !found; j++)
            found = strcmp(p->routes[j].id, c->routes[i].route) == 0;
        if (!found) {
            pawl__diagf(d, where, c->routes[i].line, c->routes[i].col,
                        "routes: '%s' is not a route id of the policy (%s)", c->routes[i].route,
                        c->policy);
            return PAWL_EINVAL;
        }
    }
    if (check_step_up(c, p, where, d) != PAWL_OK)
        return PAWL_EINVAL;
    for (size_t i = 0; i < c->link.ncmds; i++)
        if (route_by_id(p, c->link.cmds[i].route) == NULL) {
            pawl__diagf(d, where, c->link.cmds[i].line, c->link.cmds[i].col,
                        "vehicle_link.commands: '%s' is not a route id of the policy (%s)",
                        c->link.cmds[i].route, c->policy);
            return PAWL_EINVAL;
        }
    for (size_t j = 0; proxy && c->default_upstream < 0 && j < p->nroutes; j++) {
        bool mapped = false;
        for (size_t i = 0; i < c->nroutes && !mapped; i++)
            mapped = strcmp(p->routes[j].id, c->routes[i].route) == 0;
        for (size_t i = 0; i < c->link.ncmds && !mapped; i++)
            mapped = strcmp(p->routes[j].id, c->link.cmds[i].route) == 0; /* to the vehicle */
        if (!mapped) {
            pawl__diagf(d, c->policy, p->routes[j].line, 0,
                        "policy route '%s' reaches no upstream: map it under routes: in %s, "
                        "or set routes: {default: UPSTREAM}",
                        p->routes[j].id, where);
            return PAWL_EINVAL;
        }
    }
    return PAWL_OK;
}
