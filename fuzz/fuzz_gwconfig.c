/* libFuzzer driver for pawld's configuration loader (src/gateway/config.c).
 * Any bytes load or are refused with a message; a loaded config keeps the
 * rules the loader promises (plain HTTP only on loopback, TLS with a cert
 * and key, client certificates with a CA, upstreams for proxy listeners,
 * route maps that name existing upstreams). */
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawld_config *c = NULL;
    struct pawl_diag d;
    memset(&d, 0, sizeof d);
    if (pawld_config_load((const char *)data, size, "fuzz", &c, &d) != PAWL_OK) {
        if (d.msg[0] == '\0' && size > 0)
            abort();
        return 0;
    }
    bool proxy = false;
    if (c->nlisteners == 0 || c->policy == NULL || c->identity_header == NULL)
        abort();
    for (size_t i = 0; i < c->nlisteners; i++) {
        const struct pawld_listener *l = &c->listeners[i];
        if ((!l->tls_on && !l->loopback) || (l->tls_on && (!l->tls.cert || !l->tls.key)) ||
            (l->tls.client_certs != PAWLD_CERTS_OFF && l->tls.client_ca == NULL) ||
            l->port < 1 || l->port > 65535)
            abort();
        proxy |= l->mode == PAWLD_PROXY;
    }
    if (proxy && c->nupstreams == 0)
        abort();
    for (size_t i = 0; i < c->nroutes; i++)
        if (c->routes[i].upstream >= c->nupstreams)
            abort();
    pawld_config_free(c);
    return 0;
}
