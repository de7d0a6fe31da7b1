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

/* Replaces the file at path with len bytes: written beside it (path.tmp,
 * mode 0600), synced, then renamed over it, so that a crash leaves the old
 * file or the new one. -1 with errno set on failure (path.tmp removed). */
int pawl_host_replace(const char *path, const void *bytes, size_t len);
/* The same, and the descriptor that wrote the new file kept open for
 * appending to it (O_APPEND): it names the file at path, whatever a reopen
 * after the rename could meet. -1 with errno set on failure. */
int pawl_host_replace_open(const char *path, const void *bytes, size_t len);

/* Loads a PEM key: private (PKCS#8, never prompting for a passphrase) or
 * public (SubjectPublicKeyInfo). NULL with err set on failure. */
EVP_PKEY *pawl_host_load_key(const char *path, bool private_key, char *err, size_t errlen);

#endif
