/* Test helpers: keys made in-process. */
#ifndef PAWL_HELPER_KEYS_H
#define PAWL_HELPER_KEYS_H

#include <openssl/evp.h>

/* A fresh Ed25519 key pair; aborts the test run on failure. */
EVP_PKEY *pawl_test_ed25519(void);

/* A fresh key of OpenSSL type `type` ("EC", "RSA", "ED25519"): of curve
 * param, or of bits bits when nonzero; aborts the test run on failure. */
EVP_PKEY *pawl_test_keygen(const char *type, const char *param, size_t bits);

#endif
