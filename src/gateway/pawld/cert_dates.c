/* cert_dates.c: when the certificates and CRLs of a loaded configuration
 * stop being valid, for /metrics (pawld_certificate_expiry_timestamp_seconds,
 * pawld_crl_next_update_timestamp_seconds) and the warnings at start, reload
 * and --check. An expired server certificate is loaded all the same (as
 * nginx does): clients refuse it, and the warning and the metric say why. */
#define _DEFAULT_SOURCE /* timegm */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "pawld.h"

#define SOON_S (14 * 86400)    /* a certificate: warn this long before */
#define CRL_SOON_S (6 * 3600) /* a CRL: after its next update every client certificate is refused */

/* t as Unix seconds, or 0 when it cannot be read */
static int64_t unix_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

static void add(struct pawld_world *w, const char *of, const char *name, const char *which,
                int64_t until)
{
    size_t cap = sizeof w->cert_dates / sizeof w->cert_dates[0];
    if (until > 0 && w->ncert_dates < cap)
        w->cert_dates[w->ncert_dates++] = (struct pawld_cert_date){of, name, which, until};
}

static int64_t earlier(int64_t a, int64_t b)
{
    return a == 0 || (b != 0 && b < a) ? b : a;
}

/* The earliest notAfter of the store's certificates (crl false), or the
 * earliest nextUpdate of its CRLs (crl true); 0: none. */
static int64_t earliest_in_store(X509_STORE *st, bool crl)
{
    int64_t first = 0;
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
        X509 *c = crl ? NULL : X509_OBJECT_get0_X509(o);
        X509_CRL *r = crl ? X509_OBJECT_get0_X509_CRL(o) : NULL;
        if (c != NULL)
            first = earlier(first, unix_time(X509_get0_notAfter(c)));
        else if (r != NULL)
            first = earlier(first, unix_time(X509_CRL_get0_nextUpdate(r)));
    }
    return first;
}

/* The earliest notAfter in a PEM file (only the first certificate when
 * first_only); 0 when there is none or it cannot be read. */
static int64_t earliest_in_file(const char *dir, const char *p, bool first_only)
{
    char path[4200];
    FILE *f = fopen(pawld_path(dir, p, path, sizeof path), "r");
    if (f == NULL)
        return 0;
    int64_t first = 0;
    X509 *c;
    while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        first = earlier(first, unix_time(X509_get0_notAfter(c)));
        X509_free(c);
        if (first_only)
            break;
    }
    ERR_clear_error(); /* the end of the file reads as an error */
    fclose(f);
    return first;
}

void pawld_world_cert_dates(struct pawld_world *w)
{
    const struct pawld_config *c = w->cfg;
    for (size_t i = 0; i < c->nlisteners; i++) {
        SSL_CTX *ctx = w->listen_tls[i];
        if (ctx == NULL)
            continue;
        const char *name = c->listeners[i].name;
        add(w, "listener", name, "server", unix_time(X509_get0_notAfter(SSL_CTX_get0_certificate(ctx))));
        if (c->listeners[i].tls.client_ca != NULL)
            add(w, "listener", name, "client_ca", earliest_in_store(SSL_CTX_get_cert_store(ctx), false));
        if (c->listeners[i].tls.crl != NULL)
            add(w, "listener", name, "crl", earliest_in_store(SSL_CTX_get_cert_store(ctx), true));
    }
    for (size_t u = 0; u < c->nupstreams; u++) /* the system's CAs are not counted */
        if (w->upstream_tls[u] != NULL && c->upstreams[u].ca != NULL)
            add(w, "upstream", c->upstreams[u].name, "ca",
                earliest_in_store(SSL_CTX_get_cert_store(w->upstream_tls[u]), false));
    if (c->link.on && c->link.cert != NULL)
        add(w, "vehicle_link", c->link.host, "client", earliest_in_file(w->dir, c->link.cert, true));
    if (c->link.on && c->link.ca != NULL)
        add(w, "vehicle_link", c->link.host, "ca", earliest_in_file(w->dir, c->link.ca, false));
}

static const char *words(const char *which)
{
    return strcmp(which, "server") == 0 ? "server certificate"
         : strcmp(which, "client") == 0 ? "client certificate"
         : strcmp(which, "client_ca") == 0 ? "client CA bundle's earliest certificate"
         : "CA bundle's earliest certificate";
}

void pawld_warn_cert_dates(const struct pawld_world *w, struct pawld_sinks *sinks, const char *config,
                           int64_t now)
{
    for (size_t i = 0; i < w->ncert_dates; i++) {
        const struct pawld_cert_date *d = &w->cert_dates[i];
        bool crl = strcmp(d->which, "crl") == 0;
        int64_t left = d->until - now;
        if (left >= (crl ? CRL_SOON_S : SOON_S))
            continue;
        char when[40] = "?", say[600];
        struct tm tm;
        time_t t = (time_t)d->until;
        if (gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (crl)
            snprintf(say, sizeof say, "%s '%s': the CRL is due to be replaced at %s (in %lld hours): "
                     "after that every client certificate is refused; install a current one",
                     d->of, d->name, when, (long long)(left / 3600));
        else if (left <= 0)
            snprintf(say, sizeof say, "%s '%s': the %s expired at %s", d->of, d->name,
                     words(d->which), when);
        else
            snprintf(say, sizeof say, "%s '%s': the %s expires at %s (in %lld days)", d->of, d->name,
                     words(d->which), when, (long long)(left / 86400));
        pawld_warn(sinks, config, say);
    }
}
