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
