/* see detect_state.h */
#include "detect_state.h"
#include "host.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fwrite_all(void *ctx, const void *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

static int fread_all(void *ctx, void *p, size_t n)
{
    return fread(p, 1, n, ctx) == n ? 0 : -1;
}

int pawl_host_detect_load(const char *path, struct pawl_detector *det, struct pawl_blocklist *bl, char *err,
                          size_t errlen)
{
    struct pawl_diag d = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    pawl_err e = pawl_detector_load(det, fread_all, f, path, &d);
    int c = e == PAWL_OK && bl != NULL ? fgetc(f) : EOF;
    bool no_blocks = e == PAWL_OK && bl != NULL && c == EOF;
    if (c != EOF && ungetc(c, f) == c)
        e = pawl_blocklist_load(bl, fread_all, f, path, &d);
    bool trailing = e == PAWL_OK && bl != NULL && fgetc(f) != EOF;
    fclose(f);
    if (e != PAWL_OK) {
        pawl_diag_format(&d, err, errlen);
        return -1;
    }
    if (no_blocks) { /* pawld always writes its block list, empty or not (review finding) */
        snprintf(err, errlen, "%s: no block list after the detectors' tables (cut short, or not "
                 "written by pawld)", path);
        return -1;
    }
    if (trailing) {
        snprintf(err, errlen, "%s: bytes after the block list (a damaged file)", path);
        return -1;
    }
    return 0;
}

char *pawl_host_detect_snapshot(const struct pawl_detector *det, const struct pawl_blocklist *bl, int64_t now_ms,
                                size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    if (m == NULL)
        return NULL;
    bool ok = pawl_detector_save(det, fwrite_all, m) == PAWL_OK &&
              (bl == NULL || pawl_blocklist_save(bl, now_ms, fwrite_all, m) == PAWL_OK);
    ok = fclose(m) == 0 && ok;
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

int pawl_host_detect_write(const char *path, const char *bytes, size_t len, char *err, size_t errlen)
{
    /* 0600: it names principals and addresses (review finding: 0644) */
    if (pawl_host_replace(path, bytes, len) != 0) {
        snprintf(err, errlen, "%s: cannot save the detectors' state (%s)", path, strerror(errno));
        return -1;
    }
    return 0;
}

int pawl_host_detect_save(const char *path, const struct pawl_detector *det, const struct pawl_blocklist *bl,
                          int64_t now_ms, char *err, size_t errlen)
{
    size_t len = 0;
    char *bytes = pawl_host_detect_snapshot(det, bl, now_ms, &len);
    if (bytes == NULL) {
        snprintf(err, errlen, "%s: cannot save the detectors' state (out of memory)", path);
        return -1;
    }
    int rc = pawl_host_detect_write(path, bytes, len, err, errlen);
    free(bytes);
    return rc;
}
