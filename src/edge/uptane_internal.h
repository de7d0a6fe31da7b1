/* uptane_internal.h: strict JSON access shared by uptane.c (mapping, full
 * verification) and uptane_report.c (version reports, manifests). */
#ifndef PAWL_UPTANE_INTERNAL_H
#define PAWL_UPTANE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pawl/uptane.h"
#include "tuf_internal.h"

/* A check in progress: the document's name for messages, where errors go,
 * and the first failure (once set, later failures do not overwrite it). */
struct upt_chk {
    const char *what;
    char *err;
    size_t errn;
    pawl_uptane_status st;
};

/* Records failure st with "what: ..." (the first one wins); returns st. */
pawl_uptane_status pawl__upt_fail(struct upt_chk *c, pawl_uptane_status st, const char *fmt,
                                  ...) __attribute__((format(printf, 3, 4)));

/* obj[key] of type t (JSON_TRUE: a boolean); NULL and an EINPUT failure
 * naming ctx and key when missing (if required) or of another type. */
json_t *pawl__upt_field(struct upt_chk *c, json_t *obj, const char *ctx, const char *key,
                        json_type t, bool required);

/* v is a string of 1..max bytes with no NUL; with id, only printable ASCII
 * other than space (serials, VINs, hardware ids, names). */
bool pawl__upt_string_ok(const json_t *v, size_t max, bool id);
bool pawl__upt_cstr_ok(const char *s, size_t max, bool id);

/* obj has no key outside the NULL-terminated list. */
pawl_uptane_status pawl__upt_only_keys(struct upt_chk *c, json_t *obj, const char *ctx,
                                       const char *const *keys);

/* Parses n bytes (at most max) as a JSON object, duplicate keys refused. */
json_t *pawl__upt_load(struct upt_chk *c, const uint8_t *data, size_t n, size_t max);

#endif
