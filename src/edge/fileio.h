/* fileio.h: POSIX file helpers for the host-side code of libpawl-edge (the
 * TUF directory store and target files) and the CLI (the audit log). */
#ifndef PAWL_EDGE_FILEIO_H
#define PAWL_EDGE_FILEIO_H

#include <stddef.h>

/* Writes all n bytes (retrying short writes and EINTR); 0 or -1 (errno). */
int pawl__write_all(int fd, const void *p, size_t n);

/* fsync of directory dir, so a rename or create in it is durable; 0 or -1. */
int pawl__fsync_dir(const char *dir);

#endif
