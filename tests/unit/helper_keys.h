/* Test helpers: keys made in-process. */
#ifndef PAWL_HELPER_KEYS_H
#define PAWL_HELPER_KEYS_H

#include <openssl/evp.h>

/* A fresh Ed25519 key pair; aborts the test run on failure. */
EVP_PKEY *pawl_test_ed25519(void);

#endif
