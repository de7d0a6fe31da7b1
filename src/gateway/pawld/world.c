/* world.c: loading pawld's configuration and everything it names into one
 * immutable, reference-counted world (see pawld.h). */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "host.h"
#include "pawl/grants.h"
#include "pawl/jwt.h"
#include "pawld.h"

#define GRANTS_MAX (256u << 20)
#define JWKS_MAX (1u << 20)
#define CONFIG_MAX (1u << 20)

struct load {
    const char *path; /* the configuration file */
    char dir[4096];
    char *err;
    size_t errlen;
};

static void *load_fail(struct load *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *load_fail(struct load *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err, ld->errlen, fmt, ap);
    va_end(ap);
    return NULL;
}

/* A path from the configuration, relative to its directory. */
const char *pawld_path(const char *dir, const char *p, char *out, size_t n)
{
    if (p[0] == '/' || dir[0] == '\0')
        snprintf(out, n, "%s", p);
    else
        snprintf(out, n, "%s/%s", dir, p);
    return out;
}

static const char *resolve(const struct load *ld, const char *p, char *out, size_t n)
{
    return pawld_path(ld->dir, p, out, n);
}

static char *slurp(struct load *ld, const char *p, size_t max, size_t *n)
{
    char path[4200];
    return pawl_host_slurp(resolve(ld, p, path, sizeof path), max, n, ld->err, ld->errlen);
}

static bool diag_fail(struct load *ld, const struct pawl_diag *d)
{
    pawl_diag_format(d, ld->err, ld->errlen);
    return false;
}

/* Puts "CONFIG: KIND 'name': " before the error (a user review: a missing
 * certificate named the file but not the listener or the configuration).
 * Returns true, for use in a condition. */
static bool where_failed(struct load *ld, const char *kind, const char *name)
{
    char was[2048];
    snprintf(was, sizeof was, "%s", ld->err);
    snprintf(ld->err, ld->errlen, "%s: %s '%s': %s", ld->path, kind, name, was);
    return true;
}

/* OpenSSL's reason for the last failure, after "what: path: ". */
static bool tls_fail(struct load *ld, const char *what, const char *path)
{
    char e[256];
    ERR_error_string_n(ERR_get_error(), e, sizeof e);
    ERR_clear_error();
    snprintf(ld->err, ld->errlen, "%s: %s: %s", path, what, e);
    return false;
}

/* A CRL out of its validity (past nextUpdate, before lastUpdate) makes
 * OpenSSL refuse every client certificate, and said nothing (review): it is
 * refused at load, naming the date, and the running configuration (if any)
 * serves on. */
static bool crls_current(struct load *ld, X509_STORE *st, const char *path)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
        const ASN1_TIME *last = crl ? X509_CRL_get0_lastUpdate(crl) : NULL;
        const ASN1_TIME *next = crl ? X509_CRL_get0_nextUpdate(crl) : NULL;
        bool expired = next != NULL && X509_cmp_current_time(next) <= 0;
        if (!expired && (last == NULL || X509_cmp_current_time(last) < 0))
            continue;
        struct tm tm;
        char when[40] = "?";
        if (ASN1_TIME_to_tm(expired ? next : last, &tm) == 1)
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(ld->err, ld->errlen, "%s: the CRL %s %s: every client certificate would be refused; "
                 "issue a current one", path, expired ? "expired at" : "is valid only from", when);
        return false;
    }
    return true;
}

static bool load_crl(struct load *ld, SSL_CTX *ctx, const char *path)
{
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    X509_LOOKUP *lk = X509_STORE_add_lookup(st, X509_LOOKUP_file());
    if (lk == NULL || X509_load_crl_file(lk, path, X509_FILETYPE_PEM) <= 0)
        return tls_fail(ld, "cannot load the CRL", path);
    if (!crls_current(ld, st, path))
        return false;
    /* the client's own certificate is checked against the CRL */
    X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
    return true;
}

static bool client_ca(struct load *ld, SSL_CTX *ctx, const struct pawld_tls *t)
{
    char p[4200];
    resolve(ld, t->client_ca, p, sizeof p);
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(p);
    if (names == NULL || SSL_CTX_load_verify_locations(ctx, p, NULL) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return tls_fail(ld, "cannot load the client CA bundle", p);
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (t->client_certs == PAWLD_CERTS_REQUIRED)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_verify_depth(ctx, 4);
    return t->crl == NULL || load_crl(ld, ctx, resolve(ld, t->crl, p, sizeof p));
}

static const unsigned char alpn_h1[] = "\x08http/1.1";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)(uintptr_t)out, outlen, alpn_h1,
                              sizeof alpn_h1 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* a client that cannot speak HTTP/1.1 */
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *listener_tls(struct load *ld, const char *name, const struct pawld_tls *t)
{
    char p[4200];
    unsigned char sid[32];
    unsigned int sidn = 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    /* resumed sessions (tickets, the cache) are this context's own: they
     * carry the client certificate verified against this context's CAs and
     * CRL, and a reload makes a new context. Without the session id context
     * OpenSSL refuses every resumption where it verifies clients. */
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        EVP_Digest(name, strlen(name), sid, &sidn, EVP_sha256(), NULL) != 1 ||
        SSL_CTX_set_session_id_context(ctx, sid, sidn) != 1) {
        tls_fail(ld, "cannot create a TLS context", "tls");
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.2: forward secrecy and AEAD only (OpenSSL's default also offered
     * static RSA key exchange and CBC with SHA-1; review); TLS 1.3's suites
     * are all of that kind */
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
        tls_fail(ld, "cannot set the TLS 1.2 ciphers", "tls");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, resolve(ld, t->cert, p, sizeof p)) != 1) {
        tls_fail(ld, "cannot load the certificate chain", p);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, resolve(ld, t->key, p, sizeof p), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        tls_fail(ld, "cannot load the private key (or it does not match the certificate)", p);
        goto fail;
    }
    if (t->client_ca && !client_ca(ld, ctx, t))
        goto fail;
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static SSL_CTX *upstream_tls(struct load *ld, const struct pawld_upstream *u)
{
    char p[4200];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        tls_fail(ld, "cannot create a TLS context", u->name);
        goto fail;
    }
    if (u->ca ? SSL_CTX_load_verify_locations(ctx, resolve(ld, u->ca, p, sizeof p), NULL) != 1
              : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        tls_fail(ld, "cannot load the upstream CA bundle", u->ca ? p : "system CAs");
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_alpn_protos(ctx, alpn_h1, sizeof alpn_h1 - 1);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static bool resolve_servers(struct load *ld, struct pawld_world *w)
{
    for (size_t u = 0; u < w->cfg->nupstreams; u++) {
        const struct pawld_upstream *up = &w->cfg->upstreams[u];
        bool https = false;
        for (size_t s = 0; s < up->nservers; s++) {
            const struct pawld_server *sv = &up->servers[s];
            struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
            char port[16];
            snprintf(port, sizeof port, "%d", sv->port);
            int r = getaddrinfo(sv->host, port, &hints, &ai);
            if (r != 0) {
                load_fail(ld, "upstream %s: server %s: %s", up->name, sv->host, gai_strerror(r));
                return false;
            }
            memcpy(&w->upstream_addr[u][s], ai->ai_addr, ai->ai_addrlen);
            freeaddrinfo(ai);
            https |= sv->https;
        }
        if (https && (w->upstream_tls[u] = upstream_tls(ld, up)) == NULL &&
            where_failed(ld, "upstream", up->name))
            return false;
    }
    return true;
}

static bool load_engine_inputs(struct load *ld, struct pawld_world *w)
{
    struct pawl_diag d;
    size_t n;
    char *buf = slurp(ld, w->cfg->policy, PAWL_POLICY_MAX_BYTES, &n);
    if (buf == NULL)
        return false;
    pawl_err e = pawl_policy_load(buf, n, w->cfg->policy, &w->policy, &d);
    free(buf);
    if (e != PAWL_OK)
        return diag_fail(ld, &d);
    if (w->cfg->jwks) {
        if ((buf = slurp(ld, w->cfg->jwks, JWKS_MAX, &n)) == NULL)
            return false;
        e = pawl_jwks_parse(buf, n, w->cfg->jwks, &w->jwks, &d);
        free(buf);
        if (e != PAWL_OK)
            return diag_fail(ld, &d);
    }
    if (pawl_grants_new(w->policy->max_delegation_ms, &w->grants) != PAWL_OK)
        return load_fail(ld, "out of memory"), false;
    if (w->cfg->grants) {
        if ((buf = slurp(ld, w->cfg->grants, GRANTS_MAX, &n)) == NULL)
            return false;
        e = pawl_grants_load(w->grants, buf, n, w->cfg->grants, &d);
        free(buf);
        if (e != PAWL_OK)
            return diag_fail(ld, &d);
    }
    return true;
}

/* Which upstream serves each policy route (checked by pawld_config_check_policy). */
static bool map_routes(struct load *ld, struct pawld_world *w)
{
    size_t nr = w->policy->nroutes;
    w->route_upstream = calloc(nr + 1, sizeof *w->route_upstream);
    w->route_ids = calloc(nr + 1, sizeof *w->route_ids);
    w->route_command = calloc(nr + 1, sizeof *w->route_command);
    w->route_vehicle = calloc(nr + 1, sizeof *w->route_vehicle);
    if (w->route_upstream == NULL || w->route_ids == NULL || w->route_command == NULL ||
        w->route_vehicle == NULL)
        return load_fail(ld, "out of memory"), false;
    for (size_t j = 0; j < nr; j++) {
        w->route_ids[j] = w->policy->routes[j].id;
        w->route_upstream[j] = w->cfg->default_upstream;
        for (size_t i = 0; i < w->cfg->nroutes; i++)
            if (strcmp(w->cfg->routes[i].route, w->policy->routes[j].id) == 0)
                w->route_upstream[j] = (long)w->cfg->routes[i].upstream;
        for (size_t i = 0; i < w->cfg->nstep_up_cmds; i++)
            if (strcmp(w->cfg->step_up_cmds[i].route, w->policy->routes[j].id) == 0)
                w->route_command[j] = w->cfg->step_up_cmds[i].command;
        for (size_t i = 0; w->cfg->link.on && i < w->cfg->link.ncmds; i++)
            if (strcmp(w->cfg->link.cmds[i].route, w->policy->routes[j].id) == 0)
                w->route_vehicle[j] = w->cfg->link.cmds[i].command;
    }
    struct stat st;
    if (w->cfg->step_up_trust_dir &&
        (stat(resolve(ld, w->cfg->step_up_trust_dir, w->step_up_dir, sizeof w->step_up_dir), &st) != 0 ||
         !S_ISDIR(st.st_mode)))
        return load_fail(ld, "step_up.trust_dir: %s is not a directory", w->step_up_dir), false;
    return true;
}

/* The configuration file's directory ("" for the working directory). */
static void config_dir(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    dir[0] = '\0';
    if (slash)
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
    if (slash == path)
        snprintf(dir, n, "/");
}

/* The configuration at path, parsed, and its directory; NULL with err set
 * when it cannot be read or parsed. */
static struct pawld_config *read_config(const char *path, char *dir, size_t dirn, char *err,
                                        size_t errlen)
{
    struct pawl_diag d;
    struct pawld_config *c = NULL;
    size_t n;
    char *buf = pawl_host_slurp(path, CONFIG_MAX, &n, err, errlen);
    if (buf == NULL)
        return NULL;
    pawl_err e = pawld_config_load(buf, n, path, &c, &d);
    free(buf);
    if (e != PAWL_OK) {
        pawl_diag_format(&d, err, errlen);
        return NULL;
    }
    config_dir(path, dir, dirn);
    return c;
}

static bool load_config(struct load *ld, const char *path, struct pawld_world *w)
{
    if ((w->cfg = read_config(path, ld->dir, sizeof ld->dir, ld->err, ld->errlen)) == NULL)
        return false;
    snprintf(w->dir, sizeof w->dir, "%s", ld->dir);
    return true;
}

struct pawld_config *pawld_config_read(const char *path, char *dir, size_t dirn)
{
    char err[600];
    return read_config(path, dir, dirn, err, sizeof err);
}

void pawld_config_each_file(const struct pawld_config *c, const char *dir,
                            void (*fn)(void *ctx, const char *path), void *ctx)
{
    char p[4300];
    const char *files[] = {c->policy, c->jwks, c->grants};
    for (size_t i = 0; i < 3; i++)
        if (files[i])
            fn(ctx, pawld_path(dir, files[i], p, sizeof p));
    for (size_t i = 0; i < c->nlisteners; i++) {
        const struct pawld_tls *t = &c->listeners[i].tls;
        const char *tf[] = {t->cert, t->key, t->client_ca, t->crl};
        for (size_t j = 0; c->listeners[i].tls_on && j < 4; j++)
            if (tf[j])
                fn(ctx, pawld_path(dir, tf[j], p, sizeof p));
    }
    for (size_t i = 0; i < c->nupstreams; i++)
        if (c->upstreams[i].ca)
            fn(ctx, pawld_path(dir, c->upstreams[i].ca, p, sizeof p));
}

static atomic_uint worlds_live; /* loaded and not yet freed */

unsigned pawld_worlds_live(void)
{
    return atomic_load(&worlds_live);
}

struct pawld_world *pawld_world_load(const char *config_path, uint64_t generation, char *err,
                                     size_t errlen)
{
    struct load ld = { .path = config_path, .dir = "", .err = err, .errlen = errlen };
    struct pawl_diag d;
    struct pawld_world *w = calloc(1, sizeof *w);
    if (w == NULL)
        return load_fail(&ld, "out of memory");
    atomic_init(&w->refs, 1);
    atomic_fetch_add(&worlds_live, 1);
    w->generation = generation;
    if (!load_config(&ld, config_path, w) || !load_engine_inputs(&ld, w))
        goto fail;
    if (pawld_config_check_policy(w->cfg, w->policy, config_path, &d) != PAWL_OK) {
        diag_fail(&ld, &d);
        goto fail;
    }
    if (!map_routes(&ld, w) || !resolve_servers(&ld, w))
        goto fail;
    for (size_t i = 0; i < w->cfg->nlisteners; i++) {
        const struct pawld_listener *l = &w->cfg->listeners[i];
        if (l->tls_on && (w->listen_tls[i] = listener_tls(&ld, l->name, &l->tls)) == NULL) {
            where_failed(&ld, "listener", l->name); /* which key of which file */
            goto fail;
        }
    }
    pawld_world_cert_dates(w);
    return w;
fail:
    pawld_world_unref(w);
    return NULL;
}

void pawld_world_ref(struct pawld_world *w)
{
    atomic_fetch_add(&w->refs, 1);
}

void pawld_world_unref(struct pawld_world *w)
{
    if (w == NULL || atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    atomic_fetch_sub(&worlds_live, 1);
    for (size_t i = 0; i < PAWLD_MAX_LISTENERS; i++)
        SSL_CTX_free(w->listen_tls[i]);
    for (size_t i = 0; i < PAWLD_MAX_UPSTREAMS; i++)
        SSL_CTX_free(w->upstream_tls[i]);
    if (w->grants)
        pawl_grants_free(w->grants);
    if (w->jwks)
        pawl_jwks_free(w->jwks);
    if (w->policy)
        pawl_policy_free(w->policy);
    if (w->cfg)
        pawld_config_free(w->cfg);
    free(w->route_upstream);
    free(w->route_ids);
    free(w->route_command);
    free(w->route_vehicle);
    free(w);
}
