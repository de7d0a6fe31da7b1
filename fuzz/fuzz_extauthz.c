/* libFuzzer driver for pawld's external-authorization input
 * (pawl_authz_input): nginx auth_request headers (X-Original-*, the
 * URL-encoded client certificate) and Envoy's x-forwarded-client-cert. The
 * first byte picks nginx or Envoy; the rest is "name:value" lines. A
 * refusal always says why; an accepted input has an origin-form path and a
 * certificate identity only with a certificate header. */
#include <stdlib.h>
#include <string.h>

#include "pawl/extauthz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pawl_http_header hs[MAXH];
    static struct pawl_authz_input in;
    static const struct pawl_authz_config cfg[2] = {
        {PAWL_AUTHZ_NGINX, {"", 0}, {"X-Pawl-Command-Token", 20}},
        {PAWL_AUTHZ_ENVOY, {"/authz", 6}, {"", 0}}};
    struct pawl_http_head h = {{"GET", 3}, {"/authz/v/x", 10}, 1, hs, 0};
    char detail[256];
    if (size < 1)
        return 0;
    const struct pawl_authz_config *c = &cfg[data[0] & 1];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (p < end && h.nheaders < MAXH) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        struct pawl_http_header *hd = &hs[h.nheaders++];
        hd->name.p = p;
        hd->name.n = colon ? (size_t)(colon - p) : (size_t)(le - p);
        hd->value.p = colon ? colon + 1 : le;
        hd->value.n = (size_t)(le - hd->value.p);
        p = nl ? nl + 1 : end;
    }
    enum pawl_reason r = pawl_authz_input(c, &h, 1, &in, detail, sizeof detail);
    if (r != PAWL_R_ALLOWED) {
        if (detail[0] == '\0')
            abort();
        return 0;
    }
    if (in.rq.path.n == 0 || in.rq.path.p[0] != '/' || in.rq.method.p == NULL)
        abort();
    if (in.rq.cert_spki_sha256 != NULL && in.rq.cert_subject.n != strlen(in.subject))
        abort();
    return 0;
}
