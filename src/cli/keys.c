/* see cli.h: PEM keys for the CLI's signing and verifying commands. */
#include "cli.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

/* Never prompt for a passphrase: an encrypted key is an unreadable key here. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

EVP_PKEY *pawl_cli_load_key(const char *path, bool private_key, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k;
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    k = private_key ? PEM_read_PrivateKey(f, NULL, no_passphrase, NULL)
                    : PEM_read_PUBKEY(f, NULL, no_passphrase, NULL);
    fclose(f);
    ERR_clear_error();
    if (k == NULL)
        snprintf(err, errlen, "%s: not a PEM %s key", path,
                 private_key ? "PKCS#8 private" : "public");
    return k;
}
