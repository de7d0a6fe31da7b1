/* host.h: file helpers shared by the programs (pawl, pawld): whole-file
 * reads with a bound, PEM keys. Errors are "path: why" in err. */
#ifndef PAWL_HOST_H
#define PAWL_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/types.h>

/* Reads the whole file (at most max bytes) into a NUL-terminated buffer the
 * caller frees; NULL with err set on failure. */
char *pawl_host_slurp(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* Loads a PEM key: private (PKCS#8, never prompting for a passphrase) or
 * public (SubjectPublicKeyInfo). NULL with err set on failure. */
EVP_PKEY *pawl_host_load_key(const char *path, bool private_key, char *err, size_t errlen);

#endif
