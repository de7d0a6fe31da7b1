/* The TUF client's host I/O: a directory store for trusted metadata and
 * target files written through a temporary file that is renamed only after
 * verification. The fetchers: tuf_http.c (plain HTTP), tuf_curl.c. */
#include "tuf_internal.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK 65536

/* ---- files ------------------------------------------------------------ */

int pawl__tuf_make_temp(const char *dir, char *tmp, size_t cap)
{
    if ((size_t)snprintf(tmp, cap, "%s/.pawl-tuf-XXXXXX", dir) >= cap)
        return -1;
    return mkstemp(tmp);
}

int pawl__tuf_commit_temp(int fd, const char *tmp, const char *path, const char *dir)
{
    int rc = fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc == 0)
        rc = pawl__fsync_dir(dir);
    else
        unlink(tmp);
    return rc;
}

static int dir_load(void *ctx, const char *name, uint64_t max, uint8_t **data, size_t *n,
                    char *err, size_t errn)
{
    char path[4096];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", (const char *)ctx, name) >= sizeof path)
        return TUF_ERR(err, errn, "%s: path too long", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? PAWL_TUF_NOTFOUND
                               : TUF_ERR(err, errn, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return TUF_ERR(err, errn, "%s: not a regular file of at most %llu bytes", path,
                       (unsigned long long)max);
    }
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *p = malloc(len ? len : 1);
    while (p != NULL && got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (p == NULL || got != len) {
        free(p);
        return TUF_ERR(err, errn, "%s: cannot read", path);
    }
    *data = p;
    *n = len;
    return 0;
}

static int dir_save(void *ctx, const char *name, const uint8_t *data, size_t n, char *err,
                    size_t errn)
{
    const char *dir = ctx;
    char path[4096], tmp[4096];
    if (strchr(name, '/') != NULL || !strcmp(name, ".") || !strcmp(name, "..") ||
        !strncmp(name, ".pawl-tuf-", 10) ||
        (size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return TUF_ERR(err, errn, "%s: not a plain file name", name);
    int fd = pawl__tuf_make_temp(dir, tmp, sizeof tmp);
    if (fd < 0)
        return TUF_ERR(err, errn, "%s: cannot create a temporary file: %s", dir,
                       strerror(errno));
    if (pawl__write_all(fd, data, n) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return TUF_ERR(err, errn, "%s: %s", tmp, strerror(e));
    }
    if (pawl__tuf_commit_temp(fd, tmp, path, dir) != 0)
        return TUF_ERR(err, errn, "%s: %s", path, strerror(errno));
    return 0;
}

struct pawl_tuf_store pawl_tuf_dir_store(const char *dir)
{
    struct pawl_tuf_store s = {dir_load, dir_save, (void *)(uintptr_t)dir};
    return s;
}

int pawl_tuf_init_root(const struct pawl_tuf_store *s, const uint8_t *root, size_t n, char *err,
                       size_t errn)
{
    struct tuf_trusted ts;
    if (pawl__tuf_trusted_init(&ts, root, n, 0, err, errn) != 0)
        return -1;
    pawl__tuf_trusted_free(&ts);
    return s->save(s->ctx, "root.json", root, n, err, errn);
}

/* ---- target files ----------------------------------------------------- */

int pawl_tuf_check_file(const char *file, const struct pawl_tuf_target *t, char *err,
                        size_t errn)
{
    struct tuf_hasher h;
    uint8_t buf[READ_CHUNK];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TUF_ERR(err, errn, "%s: %s", file, strerror(errno));
    if (pawl__tuf_hasher_init(&h, t, err, errn) != 0) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || h.total + (uint64_t)r > t->length) {
            close(fd);
            return TUF_ERR(err, errn, "%s: %s", file,
                           r < 0 ? strerror(errno) : "longer than the metadata says");
        }
        if (r == 0)
            break;
        pawl__tuf_hasher_update(&h, buf, (size_t)r);
    }
    close(fd);
    return pawl__tuf_hasher_finish(&h, t, err, errn);
}
