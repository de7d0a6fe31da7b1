/* event_simd.h: the CLI's fast reader of API Activity lines (simdjson's
 * DOM parser, docs/decisions/0012-simdjson-event-reader.md). It reads the
 * lines the strict reader (jansson, pawl_api_event_from_json) accepts and
 * gives the same event; anything unusual it leaves to the strict reader,
 * which then says what is wrong: a JSON error, a duplicate key, a NUL in a
 * string, an integer beyond int64, nesting deeper than 1024, or an event
 * the shared checks refuse (pawl_api_event_check). */
#ifndef PAWL_EVENT_SIMD_H
#define PAWL_EVENT_SIMD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" { /* libpawl's headers are C */
#endif

#include "pawl/discover.h"

struct pawl_event_reader;

/* NULL when out of memory. */
struct pawl_event_reader *pawl_event_reader_new(void);
void pawl_event_reader_free(struct pawl_event_reader *r);

/* 1: line[0..n) is an API Activity object and e holds its event (its
 * strings point into r until the next call); 0: use the strict reader. */
int pawl_event_reader_read(struct pawl_event_reader *r, const char *line, size_t n, struct pawl_api_event *e);

#ifdef __cplusplus
}
#endif

#endif
