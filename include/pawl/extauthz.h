/* pawl/extauthz.h: pawld as an external authorization service behind a
 * gateway the user already runs. No I/O.
 *
 * nginx `auth_request`: the subrequest carries the client's headers
 * (Authorization among them) and, set by the nginx configuration, the
 * original method and URI and the client certificate:
 *
 *     proxy_set_header X-Original-Method   $request_method;
 *     proxy_set_header X-Original-URI      $request_uri;
 *     proxy_set_header X-SSL-Client-Cert   $ssl_client_escaped_cert;
 *     proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
 *     proxy_set_header X-Real-IP           $remote_addr;
 *
 * Envoy `ext_authz` (HTTP service): the check request has the original
 * method and the original path behind the configured path_prefix, the
 * allowed headers, and the client certificate in x-forwarded-client-cert
 * (forward_client_cert_details: SANITIZE_SET, set_current_client_cert_details:
 * {cert: true}); the client's address in X-Real-IP when the check request
 * adds it (authorization_request.headers_to_add: x-real-ip:
 * "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%").
 *
 * A client certificate counts only when the gateway says it verified it
 * (nginx: X-SSL-Client-Verify is SUCCESS; Envoy: XFCC is set only for a
 * verified peer). These headers are trusted only because pawld's ext-authz
 * listener accepts the gateway alone (loopback or mTLS): see docs/gateway.md. */
#ifndef PAWL_EXTAUTHZ_H
#define PAWL_EXTAUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/engine.h"
#include "pawl/http_check.h"

enum pawl_authz_flavor { PAWL_AUTHZ_NGINX, PAWL_AUTHZ_ENVOY };

struct pawl_authz_config {
    enum pawl_authz_flavor flavor;
    pawl_str path_prefix;    /* Envoy: stripped from the check request's path ("" if none) */
    pawl_str step_up_header; /* the owner co-signed command token, e.g. "X-Pawl-Command-Token" */
};

#define PAWL_AUTHZ_SUBJECT_MAX 1025 /* a policy's clients: subject is at most 1024 bytes */
#define PAWL_AUTHZ_URI_MAX 8192

/* What the engine needs, extracted from a check request. */
struct pawl_authz_input {
    struct pawl_request rq; /* strings point into the check request or into this struct */
    uint8_t spki[32];       /* the verified client certificate's SPKI SHA-256 */
    char subject[PAWL_AUTHZ_SUBJECT_MAX];
    pawl_str step_up_token; /* the raw header value, or empty */
    char uri[PAWL_AUTHZ_URI_MAX]; /* nginx: the decoded-nothing copy of X-Original-URI */
    char client_ip[46];     /* X-Real-IP, canonical; "" when the gateway sent none */
};

/* Fills in from the check request h (already through pawl_http_check).
 * Returns PAWL_R_ALLOWED, or bad_request with detail set: a missing or
 * repeated X-Original-Method / X-Original-URI (nginx), an unparsable
 * certificate header, a certificate header while the gateway reports the
 * verification failed, more than one XFCC element, a repeated X-Real-IP or
 * one that is not an IP address. time_ms is the clock. */
enum pawl_reason pawl_authz_input(const struct pawl_authz_config *c,
                                  const struct pawl_http_head *h, int64_t time_ms,
                                  struct pawl_authz_input *in, char *detail, size_t n);

/* The SPKI SHA-256 and RFC 2253 subject of the certificate x (an X509 *,
 * OpenSSL's struct x509_st), as the policy's clients: map knows them. False
 * when either cannot be made or the subject needs n bytes or more: never
 * cut, since a cut subject could be another certificate's whole one. */
struct x509_st;
bool pawl_authz_cert_identity(const struct x509_st *x, uint8_t spki[32], char *subject, size_t n);

/* The check response's JSON body for a decision:
 * {"reason":"<name>","detail":"...","status":N} (detail and status only on a
 * deny). Returns the length written (NUL-terminated), or 0 if cap is too
 * small. The HTTP status to answer with is d->status (pawl/reason.h). */
size_t pawl_authz_body(const struct pawl_decision *d, char *out, size_t cap);

/* The identity the gateway passes upstream on an allow, as the value of the
 * identity header: "sub=<subject>; roles=<r1,r2>; org=<org>" with every
 * value percent-encoded outside A-Z a-z 0-9 "-._~". 0 if cap is too small. */
size_t pawl_authz_identity(const struct pawl_decision *d, char *out, size_t cap);

#endif
