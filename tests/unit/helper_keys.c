/* see helper_keys.h */
#include "helper_keys.h"

#include <stdio.h>
#include <stdlib.h>

EVP_PKEY *pawl_test_ed25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (k == NULL) {
        fputs("cannot generate an Ed25519 key\n", stderr);
        abort();
    }
    return k;
}

EVP_PKEY *pawl_test_keygen(const char *type, const char *param, size_t bits)
{
    EVP_PKEY *k = bits    ? EVP_PKEY_Q_keygen(NULL, NULL, type, bits)
                  : param ? EVP_PKEY_Q_keygen(NULL, NULL, type, param)
                          : EVP_PKEY_Q_keygen(NULL, NULL, type);
    if (k == NULL) {
        fprintf(stderr, "cannot generate a %s key\n", type);
        abort();
    }
    return k;
}
