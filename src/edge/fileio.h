/* fileio.h: POSIX file helpers for the host-side code of libpawl-edge (the
 * TUF directory store and target files) and the CLI (the audit log). */
#ifndef PAWL_EDGE_FILEIO_H
#define PAWL_EDGE_FILEIO_H

#include <stddef.h>

/* Writes all n bytes (retrying short writes and EINTR); 0 or -1 (errno). */
int pawl__write_all(int fd, const void *p, size_t n);

/* Appends p[0..n) to fd (opened O_APPEND; its only writer) whole or not at
 * all: a failed or short write (a full disk) is cut back off with ftruncate,
 * then fsynced. *was: the file's size before (for a later cut back to it).
 * 0; -1 when nothing of it stayed; -2 when cutting back failed too. errno:
 * the write's error. */
int pawl__append_whole(int fd, const void *p, size_t n, long long *was);

/* fsync of directory dir, so a rename or create in it is durable; 0 or -1. */
int pawl__fsync_dir(const char *dir);

#endif
