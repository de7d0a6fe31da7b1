/* libFuzzer driver for pawl_jwks_parse: the input is a JWKS document. Every
 * result must be a value (a parsed set or an error with a message), never a
 * crash or a leak; a parsed set's keys must all be usable. */
#include "jwt_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_jwks *ks = NULL;
    struct pawl_diag d = { 0 };
    pawl_err e = pawl_jwks_parse((const char *)data, size, "fuzz", &ks, &d);
    if (e == PAWL_OK) {
        if (ks == NULL || pawl_jwks_count(ks) == 0 || pawl_jwks_count(ks) > PAWL_JWKS_KEYS_MAX)
            abort();
        for (size_t i = 0; i < ks->n; i++)
            if (ks->keys[i].pkey == NULL || ks->keys[i].alg == PAWL__ALG_NONE ||
                pawl__jwks_find(ks, ks->keys[i].kid, ks->keys[i].kid_len) != &ks->keys[i])
                abort();
    } else if (ks != NULL || d.msg[0] == '\0') {
        abort();
    }
    pawl_jwks_free(ks);
    return 0;
}
