/* see pawl/extauthz.h */
#include "pawl/extauthz.h"
#include "pawl/http_check.h"

#include <stdarg.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util.h"

#define CERT_MAX 16384 /* bytes of a decoded PEM certificate */

static enum pawl_reason refuse(char *detail, size_t n, enum pawl_reason r, const char *fmt, ...)
    PAWL_PRINTF(4, 5);
static enum pawl_reason refuse(char *detail, size_t n, enum pawl_reason r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (n > 0)
        vsnprintf(detail, n, fmt, ap);
    va_end(ap);
    return r;
}

/* The one header called name: 1 found, 0 absent, -1 repeated. */
static int header(const struct pawl_http_head *h, const char *name, pawl_str *out)
{
    int found = 0;
    for (size_t i = 0; i < h->nheaders; i++)
        if (pawl__str_ieq_cstr(h->headers[i].name, name)) {
            if (found++)
                return -1;
            *out = h->headers[i].value;
        }
    return found;
}

/* %XX decoding (nginx's $ssl_client_escaped_cert, Envoy's XFCC Cert). */
static bool url_decode(pawl_str s, char *out, size_t cap, size_t *n)
{
    size_t o = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '%') {
            int hi = i + 2 < s.n ? pawl__hexval((unsigned char)s.p[i + 1]) : -1,
                lo = hi >= 0 ? pawl__hexval((unsigned char)s.p[i + 2]) : -1;
            if (lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *n = o;
    return true;
}

/* see pawl/extauthz.h */
bool pawl_authz_cert_identity(const X509 *x, uint8_t spki[32], char *subject, size_t n)
{
    unsigned char *der = NULL;
    int dn = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    unsigned hn = 0;
    bool ok = dn > 0 && EVP_Digest(der, (size_t)dn, spki, &hn, EVP_sha256(), NULL) == 1 && hn == 32;
    OPENSSL_free(der);
    BIO *b = ok ? BIO_new(BIO_s_mem()) : NULL;
    int sl = b ? X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) : -1;
    /* an empty subject (allowed with a critical subjectAltName) reads as "" */
    ok = ok && sl >= 0 && (size_t)sl < n && (sl == 0 || BIO_read(b, subject, sl) == sl);
    if (ok)
        subject[sl] = '\0';
    BIO_free(b);
    return ok;
}

/* SPKI SHA-256 and RFC 2253 subject of a PEM certificate. */
static bool cert_identity(const char *pem, size_t n, struct pawl_authz_input *in)
{
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    bool ok = x != NULL && pawl_authz_cert_identity(x, in->spki, in->subject, sizeof in->subject);
    X509_free(x);
    BIO_free(b);
    ERR_clear_error();
    return ok;
}

static enum pawl_reason use_cert(pawl_str enc, struct pawl_authz_input *in, char *detail,
                                 size_t n)
{
    char *pem = malloc(CERT_MAX);
    size_t pn = 0;
    bool ok = pem != NULL && url_decode(enc, pem, CERT_MAX, &pn) && cert_identity(pem, pn, in);
    free(pem);
    if (!ok)
        return refuse(detail, n, PAWL_R_BAD_REQUEST,
                      "the client certificate header is not a URL-encoded PEM certificate");
    in->rq.cert_spki_sha256 = in->spki;
    in->rq.cert_subject.p = in->subject;
    in->rq.cert_subject.n = strlen(in->subject);
    return PAWL_R_ALLOWED;
}

static enum pawl_reason nginx_input(const struct pawl_http_head *h, struct pawl_authz_input *in,
                                    char *detail, size_t n)
{
    pawl_str method, uri, cert = {NULL, 0}, verify = {NULL, 0};
    if (header(h, "X-Original-Method", &method) != 1 || header(h, "X-Original-URI", &uri) != 1)
        return refuse(detail, n, PAWL_R_BAD_REQUEST,
                      "want one X-Original-Method and one X-Original-URI header (nginx "
                      "auth_request: proxy_set_header X-Original-URI $request_uri)");
    if (!pawl_http_method_ok(method)) /* decided on, and recorded, as the method asked for */
        return refuse(detail, n, PAWL_R_BAD_REQUEST,
                      "X-Original-Method must be a method: a token of at most 16 bytes");
    if (uri.n == 0 || uri.n >= sizeof in->uri || uri.p[0] != '/')
        return refuse(detail, n, PAWL_R_BAD_REQUEST,
                      "X-Original-URI must be an origin-form URI of at most %zu bytes",
                      sizeof in->uri - 1);
    memcpy(in->uri, uri.p, uri.n);
    in->uri[uri.n] = '\0';
    in->rq.method = method;
    in->rq.path.p = in->uri;
    in->rq.path.n = uri.n;
    int hc = header(h, "X-SSL-Client-Cert", &cert), hv = header(h, "X-SSL-Client-Verify", &verify);
    if (hc < 0 || hv < 0)
        return refuse(detail, n, PAWL_R_BAD_REQUEST, "a client certificate header is repeated");
    if (hc == 0 || cert.n == 0)
        return PAWL_R_ALLOWED; /* no certificate */
    if (!pawl__str_ieq_cstr(verify, "SUCCESS"))
        return refuse(detail, n, PAWL_R_UNAUTHENTICATED,
                      "the gateway did not verify the client certificate (X-SSL-Client-Verify: "
                      "%.*s)",
                      (int)(verify.n > 64 ? 64 : verify.n), verify.p ? verify.p : "");
    return use_cert(cert, in, detail, n);
}

/* The Cert= field of the one element of an x-forwarded-client-cert value:
 * NULL, or what is wrong with the value. Inside quotes, a backslash escapes
 * the next byte (Envoy writes Subject so). Envoy writes URI= and DNS=
 * unquoted, after Cert=, so a SAN can hold ";Cert=...": a second Cert= is
 * refused, never taken. */
static const char *xfcc_cert(pawl_str v, pawl_str *cert)
{
    bool quoted = false;
    size_t start = 0;
    cert->p = NULL;
    cert->n = 0;
    for (size_t i = 0; i <= v.n; i++) {
        char c = i < v.n ? v.p[i] : ';';
        if (quoted && c == '\\' && i + 1 < v.n) {
            i++;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        if (quoted)
            continue;
        if (c == ',')
            return "x-forwarded-client-cert holds more than one element (use "
                   "forward_client_cert_details: SANITIZE_SET)";
        if (c != ';')
            continue;
        pawl_str f = {v.p + start, i - start};
        if (f.n >= 5 && pawl__str_ieq_cstr((pawl_str){f.p, 5}, "cert=")) {
            if (cert->p != NULL)
                return "x-forwarded-client-cert has more than one Cert= field";
            cert->p = f.p + 5;
            cert->n = f.n - 5;
            if (cert->n >= 2 && cert->p[0] == '"' && cert->p[cert->n - 1] == '"') {
                cert->p++;
                cert->n -= 2;
            }
        }
        start = i + 1;
    }
    return quoted ? "x-forwarded-client-cert has an unterminated quote" : NULL;
}

static enum pawl_reason envoy_input(const struct pawl_authz_config *c,
                                    const struct pawl_http_head *h, struct pawl_authz_input *in,
                                    char *detail, size_t n)
{
    pawl_str t = h->target, xfcc, cert;
    const char *bad;
    if (t.n < c->path_prefix.n || memcmp(t.p, c->path_prefix.p, c->path_prefix.n) != 0 ||
        t.n - c->path_prefix.n >= sizeof in->uri)
        return refuse(detail, n, PAWL_R_BAD_REQUEST,
                      "the check request's path does not start with the path_prefix '%.*s'",
                      (int)c->path_prefix.n, c->path_prefix.p);
    memcpy(in->uri, t.p + c->path_prefix.n, t.n - c->path_prefix.n);
    in->uri[t.n - c->path_prefix.n] = '\0';
    in->rq.method = h->method;
    in->rq.path.p = in->uri;
    in->rq.path.n = t.n - c->path_prefix.n;
    if (in->rq.path.n == 0 || in->uri[0] != '/')
        return refuse(detail, n, PAWL_R_BAD_REQUEST, "the original path is not origin-form");
    int hx = header(h, "x-forwarded-client-cert", &xfcc);
    if (hx < 0)
        return refuse(detail, n, PAWL_R_BAD_REQUEST, "x-forwarded-client-cert is repeated");
    if (hx == 0)
        return PAWL_R_ALLOWED;
    if ((bad = xfcc_cert(xfcc, &cert)) != NULL)
        return refuse(detail, n, PAWL_R_BAD_REQUEST, "%s", bad);
    if (cert.n == 0)
        return refuse(detail, n, PAWL_R_BAD_REQUEST,
                      "x-forwarded-client-cert has no Cert= field (set_current_client_cert_"
                      "details: {cert: true})");
    return use_cert(cert, in, detail, n);
}

/* X-Real-IP: the client's address as the gateway saw it, an IP literal,
 * written back in its canonical form. */
static enum pawl_reason client_address(const struct pawl_http_head *h, struct pawl_authz_input *in,
                                       char *detail, size_t n)
{
    pawl_str v;
    char lit[INET6_ADDRSTRLEN];
    struct in6_addr bin; /* an IPv4 address fills its first 4 bytes */
    int hr = header(h, "X-Real-IP", &v);
    if (hr == 0)
        return PAWL_R_ALLOWED;
    if (hr < 0)
        return refuse(detail, n, PAWL_R_BAD_REQUEST, "X-Real-IP is repeated");
    int af = memchr(v.p, ':', v.n) ? AF_INET6 : AF_INET;
    if (v.n > 0 && v.n < sizeof lit) {
        memcpy(lit, v.p, v.n);
        lit[v.n] = '\0';
        /* ::ffff:a.b.c.d is the IPv4 address a.b.c.d, as for a peer (conn.c):
         * one name per client, so that its events, findings and blocks meet */
        if (inet_pton(af, lit, &bin) == 1) {
            bool mapped = af == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&bin);
            if (inet_ntop(mapped ? AF_INET : af, mapped ? &bin.s6_addr[12] : bin.s6_addr, in->client_ip,
                          sizeof in->client_ip) != NULL)
                return PAWL_R_ALLOWED;
        }
    }
    return refuse(detail, n, PAWL_R_BAD_REQUEST, "X-Real-IP is not an IP address");
}

enum pawl_reason pawl_authz_input(const struct pawl_authz_config *c,
                                  const struct pawl_http_head *h, int64_t time_ms,
                                  struct pawl_authz_input *in, char *detail, size_t n)
{
    pawl_str auth, step;
    memset(in, 0, sizeof *in);
    if (n > 0)
        detail[0] = '\0';
    in->rq.time_ms = time_ms;
    enum pawl_reason r = c->flavor == PAWL_AUTHZ_NGINX ? nginx_input(h, in, detail, n)
                                                       : envoy_input(c, h, in, detail, n);
    if (r != PAWL_R_ALLOWED || (r = client_address(h, in, detail, n)) != PAWL_R_ALLOWED)
        return r;
    int ha = header(h, "Authorization", &auth);
    if (ha < 0)
        return refuse(detail, n, PAWL_R_BAD_REQUEST, "Authorization is repeated");
    if (ha == 1)
        in->rq.bearer = pawl_http_bearer(auth);
    if (c->step_up_header.n > 0) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)c->step_up_header.n, c->step_up_header.p);
        int hs = header(h, name, &step);
        if (hs < 0)
            return refuse(detail, n, PAWL_R_BAD_REQUEST, "%s is repeated", name);
        if (hs == 1)
            in->step_up_token = step;
    }
    return PAWL_R_ALLOWED;
}

size_t pawl_authz_body(const struct pawl_decision *d, char *out, size_t cap)
{
    /* written directly, not by jansson: its json_string refuses a detail
     * holding a client's invalid UTF-8, and the detail went missing (review);
     * pawl__json_esc writes such bytes as U+FFFD */
    struct pawl__out o = {out, 0, cap, false};
    pawl__out_cstr(&o, "{\"reason\":\"");
    pawl__out_cstr(&o, pawl_reason_name(d->reason)); /* [a-z_]: nothing to escape */
    pawl__out_put(&o, "\"", 1);
    if (d->reason != PAWL_R_ALLOWED) {
        pawl__out_cstr(&o, ",\"detail\":\"");
        pawl__json_esc(&o, d->detail, strnlen(d->detail, sizeof d->detail));
        pawl__out_cstr(&o, "\",\"status\":");
        pawl__out_i64(&o, d->status);
        if (d->reason == PAWL_R_RATE_LIMITED) {
            pawl__out_cstr(&o, ",\"retry_after_s\":");
            pawl__out_i64(&o, d->retry_after_s);
        }
    }
    pawl__out_put(&o, "}", 1);
    return pawl__out_nul(&o) ? o.len : 0;
}

static bool put(char *out, size_t cap, size_t *o, const char *s, bool encode)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = !encode || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (*o + (plain ? 1 : 3) >= cap)
            return false;
        if (plain) {
            out[(*o)++] = (char)c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
    out[*o] = '\0';
    return true;
}

size_t pawl_authz_identity(const struct pawl_decision *d, char *out, size_t cap)
{
    size_t o = 0;
    const struct pawl_principal *p = &d->principal;
    if (cap == 0)
        return 0;
    bool ok = put(out, cap, &o, "sub=", false) && put(out, cap, &o, p->uid, true) &&
              put(out, cap, &o, "; roles=", false);
    for (unsigned i = 0; ok && i < p->nroles; i++)
        ok = (i == 0 || put(out, cap, &o, ",", false)) && put(out, cap, &o, p->roles[i], true);
    if (ok && p->org[0] != '\0')
        ok = put(out, cap, &o, "; org=", false) && put(out, cap, &o, p->org, true);
    if (!ok) {
        out[0] = '\0';
        return 0;
    }
    return o;
}
