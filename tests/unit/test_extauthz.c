/* pawld's external-authorization front (pawl/extauthz.h): nginx
 * auth_request and Envoy ext_authz check requests turned into decisions,
 * with real JWTs and a real client certificate. */
#include "helper_common.h"
#include "helper_jwt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pawl/engine.h"
#include "pawl/extauthz.h"
#include "pawl/http_check.h"
#include "pawl/jwt.h"

#define T0 1763800000000LL
#define VIN "1HGCM82633A004352"

static const char policy_yaml[] =
    "version: 1\n"
    "jwt: {issuer: iss, audience: aud}\n"
    "roles: {owner: [read, control], service: [read]}\n"
    "clients:\n"
    "  - {subject: 'CN=telematics,O=OEM', principal: svc-tcu, roles: [service]}\n"
    "routes:\n"
    "  - {id: status, path: '/v/{vin}/status', methods: [GET], capability: read, roles: [owner, service]}\n"
    "  - {id: unlock, path: '/v/{vin}/unlock', methods: [POST], capability: control, roles: [owner], vehicle: vin}\n";

static const char grants_jsonl[] =
    "{\"principal\":\"alice\",\"vin\":\"" VIN "\",\"role\":\"owner\",\"since\":0}\n";

struct fx {
    EVP_PKEY *key;
    struct pawl_policy *p;
    struct pawl_jwks *jwks;
    struct pawl_grants *g;
    struct pawl_engine *e;
    char tok[2048], auth[2100];
    char cert_enc[8192];
    uint8_t spki[32];
};

/* A self-signed P-256 certificate, subject CN=telematics,O=OEM (and ous
 * OUs of 60 bytes each after them; ous < 0: an empty subject, as RFC 5280
 * allows with a critical subjectAltName), as nginx's $ssl_client_escaped_cert
 * would carry it (every byte but unreserved ones %-encoded), and its SPKI
 * SHA-256. */
static void make_cert(struct fx *f, int ous)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    assert_non_null(k);
    if (ous >= 0) {
        X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"OEM", -1, -1, 0);
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"telematics", -1,
                                   -1, 0);
    }
    for (int i = 0; i < ous; i++) {
        char ou[61];
        memset(ou, 'a' + i % 26, 60);
        ou[60] = '\0';
        assert_int_equal(X509_NAME_add_entry_by_txt(nm, "OU", MBSTRING_ASC, (const unsigned char *)ou,
                                                    -1, -1, 0), 1);
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_subject_name(x, nm);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    char *pem;
    long n = BIO_get_mem_data(b, &pem);
    size_t o = 0;
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)pem[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        o += (size_t)snprintf(f->cert_enc + o, sizeof f->cert_enc - o, plain ? "%c" : "%%%02X", c);
    }
    unsigned char *der = NULL;
    int dn = i2d_PUBKEY(k, &der);
    unsigned hn;
    assert_true(dn > 0);
    assert_int_equal(EVP_Digest(der, (size_t)dn, f->spki, &hn, EVP_sha256(), NULL), 1);
    OPENSSL_free(der);
    BIO_free(b);
    X509_NAME_free(nm);
    X509_free(x);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct pawl_diag d;
    char jwks[2048], payload[256];
    const char *alg = "EdDSA", *kid = "k1";
    f->key = th_key_new("EdDSA");
    int n = th_jwks_json(&f->key, &alg, &kid, 1, jwks, sizeof jwks);
    assert_true(n > 0);
    if (pawl_policy_load(policy_yaml, sizeof policy_yaml - 1, "t", &f->p, &d) != PAWL_OK)
        fail_msg("%s", th_diag(&d));
    assert_int_equal(pawl_jwks_parse(jwks, (size_t)n, "jwks", &f->jwks, &d), PAWL_OK);
    assert_int_equal(pawl_grants_new(f->p->max_delegation_ms, &f->g), PAWL_OK);
    assert_int_equal(pawl_grants_load(f->g, grants_jsonl, sizeof grants_jsonl - 1, "g", &d),
                     PAWL_OK);
    assert_int_equal(pawl_engine_new(f->p, f->jwks, f->g, NULL, &f->e), PAWL_OK);
    snprintf(payload, sizeof payload,
             "{\"iss\":\"iss\",\"aud\":\"aud\",\"sub\":\"alice\",\"roles\":[\"owner\"],"
             "\"exp\":%lld}",
             (long long)(T0 / 1000 + 3600));
    assert_true(th_jwt_sign(f->key, "EdDSA", "k1", NULL, payload, f->tok, sizeof f->tok) > 0);
    snprintf(f->auth, sizeof f->auth, "Authorization: Bearer %s", f->tok);
    make_cert(f, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    pawl_engine_free(f->e);
    pawl_grants_free(f->g);
    pawl_jwks_free(f->jwks);
    pawl_policy_free(f->p);
    EVP_PKEY_free(f->key);
    free(f);
    return 0;
}

struct req {
    struct pawl_http_header h[16];
    struct pawl_http_head head;
};

static void build(struct req *r, const char *method, const char *target, const char *const *hs,
                  size_t n)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const char *colon = strstr(hs[i], ": ");
        assert_non_null(colon);
        r->h[i].name.p = hs[i];
        r->h[i].name.n = (size_t)(colon - hs[i]);
        r->h[i].value.p = colon + 2;
        r->h[i].value.n = strlen(colon + 2);
    }
    r->head.method.p = method;
    r->head.method.n = strlen(method);
    r->head.target.p = target;
    r->head.target.n = strlen(target);
    r->head.version_minor = 1;
    r->head.headers = r->h;
    r->head.nheaders = n;
}

/* Runs one check request through input extraction and the engine. */
static enum pawl_reason check(struct fx *f, const struct pawl_authz_config *c, const char *method,
                              const char *target, const char *const *hs, size_t n,
                              struct pawl_decision *dec, char *detail)
{
    struct req r;
    struct pawl_authz_input *in = calloc(1, sizeof *in);
    build(&r, method, target, hs, n);
    enum pawl_reason why = pawl_authz_input(c, &r.head, T0, in, detail, 256);
    if (why == PAWL_R_ALLOWED)
        why = pawl_decide(f->e, &in->rq, dec);
    free(in);
    return why;
}

static const struct pawl_authz_config NGINX = {PAWL_AUTHZ_NGINX, {"", 0}, {"X-Pawl-Command-Token", 20}};
static const struct pawl_authz_config ENVOY = {PAWL_AUTHZ_ENVOY, {"/authz", 6}, {"", 0}};

static void test_nginx_bearer(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    char detail[256];
    const char *hs[] = {"Host: pawld", "X-Original-Method: POST",
                        "X-Original-URI: /v/" VIN "/unlock?x=1", f->auth};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", hs, 4, &d, detail), PAWL_R_ALLOWED);
    char body[512], id[256];
    assert_true(pawl_authz_body(&d, body, sizeof body) > 0);
    assert_string_equal(body, "{\"reason\":\"allowed\"}");
    assert_true(pawl_authz_identity(&d, id, sizeof id) > 0);
    assert_string_equal(id, "sub=alice; roles=owner");
    /* another VIN: the engine's answer, with a JSON body naming it */
    const char *other[] = {"Host: pawld", "X-Original-Method: POST",
                           "X-Original-URI: /v/5YJ3E1EA7KF317000/unlock", f->auth};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", other, 4, &d, detail),
                     PAWL_R_NOT_YOUR_VEHICLE);
    assert_int_equal(d.status, 403);
    assert_true(pawl_authz_body(&d, body, sizeof body) > 0);
    assert_non_null(strstr(body, "\"reason\":\"not_your_vehicle\""));
    assert_non_null(strstr(body, "\"status\":403"));
    /* the method is the original one, not the subrequest's */
    const char *get[] = {"Host: pawld", "X-Original-Method: GET",
                         "X-Original-URI: /v/" VIN "/unlock", f->auth};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", get, 4, &d, detail),
                     PAWL_R_METHOD_NOT_ALLOWED);
    /* the token read as the proxy listener reads it: the scheme in any
     * case, more than one space before the token (review: "Bearer  t" was
     * token_malformed here and allowed inline) */
    char spaced[2200];
    snprintf(spaced, sizeof spaced, "Authorization: bEaReR   %s", f->tok);
    const char *sp[] = {"Host: pawld", "X-Original-Method: POST", "X-Original-URI: /v/" VIN "/unlock", spaced};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", sp, 4, &d, detail), PAWL_R_ALLOWED);
    pawl_str t = pawl_http_bearer((pawl_str){"Bearer   abc", 12});
    assert_int_equal(t.n, 3);
    assert_memory_equal(t.p, "abc", 3);
    assert_int_equal(pawl_http_bearer((pawl_str){"Basic abc", 9}).n, 0);
    assert_int_equal(pawl_http_bearer((pawl_str){"Bearer ", 7}).n, 0);
}

static void test_nginx_missing_or_repeated(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    char detail[256];
    const char *none[] = {"Host: pawld", f->auth};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", none, 2, &d, detail), PAWL_R_BAD_REQUEST);
    assert_non_null(strstr(detail, "X-Original-URI"));
    const char *two[] = {"Host: pawld", "X-Original-Method: GET", "X-Original-URI: /a",
                         "X-Original-URI: /b"};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", two, 4, &d, detail), PAWL_R_BAD_REQUEST);
    const char *rel[] = {"Host: pawld", "X-Original-Method: GET", "X-Original-URI: v/x"};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", rel, 3, &d, detail), PAWL_R_BAD_REQUEST);
    /* an empty or malformed method is refused, not decided and recorded as
     * the check request's own (review: "" was decided, POST recorded) */
    const char *nomethod[] = {"Host: pawld", "X-Original-Method: ", "X-Original-URI: /v/" VIN "/status", f->auth};
    assert_int_equal(check(f, &NGINX, "POST", "/authz", nomethod, 4, &d, detail), PAWL_R_BAD_REQUEST);
    assert_non_null(strstr(detail, "X-Original-Method"));
    const char *badmethod[] = {"Host: pawld", "X-Original-Method: G(E)T", "X-Original-URI: /v/" VIN "/status",
                               f->auth};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", badmethod, 4, &d, detail), PAWL_R_BAD_REQUEST);
    /* an ambiguous path goes through the core's normalizer */
    const char *dots[] = {"Host: pawld", "X-Original-Method: GET",
                          "X-Original-URI: /v/" VIN "/../" VIN "/status", f->auth};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", dots, 4, &d, detail), PAWL_R_BAD_PATH);
    const char *noauth[] = {"Host: pawld", "X-Original-Method: GET",
                            "X-Original-URI: /v/" VIN "/status"};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", noauth, 3, &d, detail),
                     PAWL_R_UNAUTHENTICATED);
}

/* X-Real-IP: the client's address, canonical; anything else is refused. */
static void test_client_address(void **state)
{
    (void)state;
    struct req r;
    struct pawl_authz_input *in = calloc(1, sizeof *in);
    char detail[256];
    const char *v4[] = {"X-Original-Method: GET", "X-Original-URI: /v", "X-Real-IP: 192.0.2.7"};
    build(&r, "GET", "/authz", v4, 3);
    assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail), PAWL_R_ALLOWED);
    assert_string_equal(in->client_ip, "192.0.2.7");
    const char *v6[] = {"X-Original-Method: GET", "X-Original-URI: /v", "X-Real-IP: 2001:DB8:0:0::1"};
    build(&r, "GET", "/authz", v6, 3);
    assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail), PAWL_R_ALLOWED);
    assert_string_equal(in->client_ip, "2001:db8::1");
    /* an IPv4-mapped address is the IPv4 address: one name per client */
    const char *mapped[] = {"X-Original-Method: GET", "X-Original-URI: /v", "X-Real-IP: ::FFFF:192.0.2.7"};
    build(&r, "GET", "/authz", mapped, 3);
    assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail), PAWL_R_ALLOWED);
    assert_string_equal(in->client_ip, "192.0.2.7");
    const char *none[] = {"X-Original-Method: GET", "X-Original-URI: /v"};
    build(&r, "GET", "/authz", none, 2);
    assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail), PAWL_R_ALLOWED);
    assert_string_equal(in->client_ip, "");
    const char *bad[][3] = {
        {"X-Original-Method: GET", "X-Original-URI: /v", "X-Real-IP: 192.0.2.7, 10.0.0.1"},
        {"X-Original-Method: GET", "X-Original-URI: /v", "X-Real-IP: evil.example"},
        {"X-Original-Method: GET", "X-Original-URI: /v", "X-Real-IP: "},
    };
    for (size_t i = 0; i < 3; i++) {
        build(&r, "GET", "/authz", bad[i], 3);
        assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail), PAWL_R_BAD_REQUEST);
        assert_non_null(strstr(detail, "X-Real-IP"));
    }
    const char *twice[] = {"X-Original-Method: GET", "X-Original-URI: /v", "X-Real-IP: 192.0.2.7",
                           "X-Real-IP: 192.0.2.8"};
    build(&r, "GET", "/authz", twice, 4);
    assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail), PAWL_R_BAD_REQUEST);
    assert_non_null(strstr(detail, "repeated"));
    const char *envoy[] = {"x-real-ip: 198.51.100.9"};
    build(&r, "GET", "/authz/v/x", envoy, 1);
    assert_int_equal(pawl_authz_input(&ENVOY, &r.head, T0, in, detail, sizeof detail), PAWL_R_ALLOWED);
    assert_string_equal(in->client_ip, "198.51.100.9");
    free(in);
}

static void test_nginx_client_certificate(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    char detail[256], cert[8300];
    snprintf(cert, sizeof cert, "X-SSL-Client-Cert: %s", f->cert_enc);
    const char *ok[] = {"Host: pawld", "X-Original-Method: GET",
                        "X-Original-URI: /v/" VIN "/status", cert, "X-SSL-Client-Verify: SUCCESS"};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", ok, 5, &d, detail), PAWL_R_ALLOWED);
    assert_string_equal(d.principal.uid, "svc-tcu");
    /* the SPKI hash and subject the core saw */
    struct req r;
    struct pawl_authz_input *in = calloc(1, sizeof *in);
    build(&r, "GET", "/authz", ok, 5);
    assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail),
                     PAWL_R_ALLOWED);
    assert_memory_equal(in->spki, f->spki, 32);
    assert_string_equal(in->subject, "CN=telematics,O=OEM");
    free(in);
    /* the gateway could not verify it: refused, not ignored */
    const char *failed[] = {"Host: pawld", "X-Original-Method: GET",
                            "X-Original-URI: /v/" VIN "/status", cert,
                            "X-SSL-Client-Verify: FAILED:certificate has expired"};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", failed, 5, &d, detail),
                     PAWL_R_UNAUTHENTICATED);
    assert_non_null(strstr(detail, "FAILED"));
    const char *junk[] = {"Host: pawld", "X-Original-Method: GET",
                          "X-Original-URI: /v/" VIN "/status", "X-SSL-Client-Cert: %ZZnot",
                          "X-SSL-Client-Verify: SUCCESS"};
    assert_int_equal(check(f, &NGINX, "GET", "/authz", junk, 5, &d, detail), PAWL_R_BAD_REQUEST);
}

/* A subject is never cut short (review finding: cut at 511 bytes, it could
 * be the whole subject of a policy entry another certificate is meant to
 * match): up to 1024 bytes, the policy's limit, it is whole; over that,
 * the certificate header is refused. */
static void test_nginx_long_subject(void **state)
{
    struct fx *f = *state;
    char detail[256], cert[8300];
    const char *hs[] = {"Host: pawld", "X-Original-Method: GET", "X-Original-URI: /v/" VIN "/status",
                        cert, "X-SSL-Client-Verify: SUCCESS"};
    struct req r;
    struct pawl_authz_input *in = calloc(1, sizeof *in);
    for (int ous = 10; ous <= 20; ous += 10) { /* subjects of 659 and 1,299 bytes */
        make_cert(f, ous);
        snprintf(cert, sizeof cert, "X-SSL-Client-Cert: %s", f->cert_enc);
        build(&r, "GET", "/authz", hs, 5);
        enum pawl_reason got = pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail);
        if (ous == 10) {
            assert_int_equal(got, PAWL_R_ALLOWED);
            assert_int_equal(strlen(in->subject), 10 * 64 + sizeof "CN=telematics,O=OEM" - 1);
            assert_non_null(strstr(in->subject, ",CN=telematics,O=OEM"));
        } else {
            assert_int_equal(got, PAWL_R_BAD_REQUEST);
        }
    }
    /* an empty subject is "", not unreadable (review finding: refused) */
    make_cert(f, -1);
    snprintf(cert, sizeof cert, "X-SSL-Client-Cert: %s", f->cert_enc);
    build(&r, "GET", "/authz", hs, 5);
    assert_int_equal(pawl_authz_input(&NGINX, &r.head, T0, in, detail, sizeof detail), PAWL_R_ALLOWED);
    assert_string_equal(in->subject, "");
    assert_memory_equal(in->spki, f->spki, 32);
    free(in);
    make_cert(f, 0);
}

/* An Envoy check of GET /v/VIN/status with x-forwarded-client-cert set to
 * the formatted value. */
static enum pawl_reason xfcc(struct fx *f, struct pawl_decision *d, char *detail, const char *fmt, ...)
    PAWL_PRINTF(4, 5);
static enum pawl_reason xfcc(struct fx *f, struct pawl_decision *d, char *detail, const char *fmt, ...)
{
    static char h[8400];
    va_list ap;
    int n = snprintf(h, sizeof h, "x-forwarded-client-cert: ");
    va_start(ap, fmt);
    vsnprintf(h + n, sizeof h - (size_t)n, fmt, ap);
    va_end(ap);
    const char *hs[] = {"Host: pawld", h};
    return check(f, &ENVOY, "GET", "/authz/v/" VIN "/status", hs, 2, d, detail);
}

static void test_envoy(void **state)
{
    struct fx *f = *state;
    struct pawl_decision d;
    char detail[256];
    const char *hs[] = {"Host: pawld", f->auth};
    assert_int_equal(check(f, &ENVOY, "POST", "/authz/v/" VIN "/unlock", hs, 2, &d, detail),
                     PAWL_R_ALLOWED);
    assert_int_equal(check(f, &ENVOY, "POST", "/v/" VIN "/unlock", hs, 2, &d, detail),
                     PAWL_R_BAD_REQUEST);
    assert_non_null(strstr(detail, "path_prefix"));
    assert_int_equal(xfcc(f, &d, detail, "By=spiffe://pawl;Hash=00;Cert=\"%s\";Subject=\"CN=telematics,O=OEM\"",
                          f->cert_enc),
                     PAWL_R_ALLOWED);
    assert_string_equal(d.principal.uid, "svc-tcu");
    assert_int_equal(xfcc(f, &d, detail, "Hash=00;Cert=\"%s\",Hash=11", f->cert_enc), PAWL_R_BAD_REQUEST);
    assert_non_null(strstr(detail, "more than one element"));
    /* a DNS SAN (Envoy writes it unquoted, after Cert=) that names a
     * certificate of its own: refused, not taken */
    assert_int_equal(xfcc(f, &d, detail, "Hash=00;Cert=\"%s\";DNS=a.example;Cert=%s", f->cert_enc,
                          f->cert_enc),
                     PAWL_R_BAD_REQUEST);
    assert_non_null(strstr(detail, "more than one Cert= field"));
    /* an escaped quote inside a quoted Subject does not end it */
    assert_int_equal(xfcc(f, &d, detail, "Hash=00;Cert=\"%s\";Subject=\"CN=a\\\";Cert=\\\"x,O=b\"",
                          f->cert_enc),
                     PAWL_R_ALLOWED);
    assert_string_equal(d.principal.uid, "svc-tcu");
    assert_int_equal(xfcc(f, &d, detail, "%s", "Hash=00;Subject=\"CN=x\""), PAWL_R_BAD_REQUEST);
}

static void test_identity_and_body_encoding(void **state)
{
    (void)state;
    struct pawl_decision d;
    char out[256];
    memset(&d, 0, sizeof d);
    snprintf(d.principal.uid, sizeof d.principal.uid, "a b;c=d");
    snprintf(d.principal.roles[0], sizeof d.principal.roles[0], "owner");
    snprintf(d.principal.roles[1], sizeof d.principal.roles[1], "x,y");
    d.principal.nroles = 2;
    snprintf(d.principal.org, sizeof d.principal.org, "org/1");
    assert_true(pawl_authz_identity(&d, out, sizeof out) > 0);
    assert_string_equal(out, "sub=a%20b%3Bc%3Dd; roles=owner,x%2Cy; org=org%2F1");
    assert_int_equal(pawl_authz_identity(&d, out, 10), 0);
    d.reason = PAWL_R_RATE_LIMITED;
    d.status = 429;
    d.retry_after_s = 7;
    snprintf(d.detail, sizeof d.detail, "bucket \"principal\" is empty");
    assert_true(pawl_authz_body(&d, out, sizeof out) > 0);
    assert_string_equal(out, "{\"reason\":\"rate_limited\",\"detail\":\"bucket \\\"principal\\\" "
                             "is empty\",\"status\":429,\"retry_after_s\":7}");
    assert_int_equal(pawl_authz_body(&d, out, 20), 0);
    /* a client's bytes in the detail that are not UTF-8: U+FFFD, the detail
     * kept (review: jansson refused the string and the detail went missing) */
    d.reason = PAWL_R_BAD_REQUEST;
    d.status = 400;
    snprintf(d.detail, sizeof d.detail, "Transfer-Encoding chunked\xa0 is not chunked");
    assert_true(pawl_authz_body(&d, out, sizeof out) > 0);
    assert_string_equal(out, "{\"reason\":\"bad_request\",\"detail\":\"Transfer-Encoding "
                             "chunked\\ufffd is not chunked\",\"status\":400}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nginx_bearer),
        cmocka_unit_test(test_nginx_missing_or_repeated),
        cmocka_unit_test(test_client_address),
        cmocka_unit_test(test_nginx_client_certificate),
        cmocka_unit_test(test_nginx_long_subject),
        cmocka_unit_test(test_envoy),
        cmocka_unit_test(test_identity_and_body_encoding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
