/* detect_state.h: the detectors' state file (pawl analyze --state, pawld's
 * detect.state): the detector tables, then, in pawld's files, the blocks.
 * Written beside the file, synced, then renamed over it, so that a crash
 * leaves the old state or the new one, never half of one. */
#ifndef PAWL_DETECT_STATE_H
#define PAWL_DETECT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "pawl/blocklist.h"
#include "pawl/detect.h"

/* Reads path into det (and bl, when not NULL: the file must then hold a
 * block list, as pawld writes one, even empty; one cut before it is refused). 0 when read, 1 when the file does not exist, -1 with err
 * ("path: why") when it cannot be read or is damaged. */
int pawl_host_detect_load(const char *path, struct pawl_detector *det, struct pawl_blocklist *bl, char *err,
                          size_t errlen);

/* Writes det (and bl's blocks live at now_ms, when bl is not NULL). 0, or
 * -1 with err. */
int pawl_host_detect_save(const char *path, const struct pawl_detector *det, const struct pawl_blocklist *bl,
                          int64_t now_ms, char *err, size_t errlen);

/* The same in two steps, so that a caller holding a lock over det and bl
 * only copies them to memory under it: the bytes of the file (free()), or
 * NULL when out of memory; then writing them (0, or -1 with err). */
char *pawl_host_detect_snapshot(const struct pawl_detector *det, const struct pawl_blocklist *bl, int64_t now_ms,
                                size_t *len);
int pawl_host_detect_write(const char *path, const char *bytes, size_t len, char *err, size_t errlen);

#endif
