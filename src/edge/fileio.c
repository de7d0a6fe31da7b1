/* see fileio.h */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int pawl__write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int pawl__append_whole(int fd, const void *p, size_t n, long long *was)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1; /* nothing written */
    *was = (long long)st.st_size;
    if (pawl__write_all(fd, p, n) == 0)
        return 0;
    int e = errno;
    int rc = ftruncate(fd, st.st_size) == 0 ? -1 : -2;
    if (rc == -1)
        (void)fsync(fd); /* the cut, before a crash could keep part of what was refused */
    errno = e;
    return rc;
}

int pawl__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}
