/* see host.h */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "fileio.h"

static char *slurp_fail(FILE *f, char *buf, char *err, size_t errlen, const char *path,
                        const char *why)
{
    snprintf(err, errlen, "%s: %s", path, why);
    fclose(f);
    free(buf);
    return NULL;
}

char *pawl_host_slurp(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - n < 4096) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb;
            if (ncap > max + 1)
                ncap = max + 1;
            if (ncap <= n)
                return slurp_fail(f, buf, err, errlen, path, "file too large");
            if ((nb = realloc(buf, ncap + 1)) == NULL)
                return slurp_fail(f, buf, err, errlen, path, "out of memory");
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f))
        return slurp_fail(f, buf, err, errlen, path, "read error");
    if (n > max)
        return slurp_fail(f, buf, err, errlen, path, "file too large");
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Never prompt for a passphrase: an encrypted key is an unreadable key here. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

EVP_PKEY *pawl_host_load_key(const char *path, bool private_key, char *err, size_t errlen)
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

int pawl_host_replace_open(const char *path, const void *bytes, size_t len)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && pawl__write_all(fd, bytes, len) == 0 && fsync(fd) == 0 && rename(tmp, path) == 0)
        return fd;
    int was = errno;
    if (fd >= 0)
        close(fd);
    remove(tmp);
    errno = was;
    return -1;
}

int pawl_host_replace(const char *path, const void *bytes, size_t len)
{
    int fd = pawl_host_replace_open(path, bytes, len);
    return fd < 0 || close(fd) != 0 ? -1 : 0;
}
