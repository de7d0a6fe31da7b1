/* pawl/discover.h: API discovery from traffic (API Activity lines of
 * docs/formats/ocsf-profile.md, or nginx access logs in the combined format):
 * object ids in paths are recognised and templated, operations are counted
 * into an inventory with bounded memory, and each operation gets a risk
 * score whose parts are shown (docs/detection.md). No I/O. */
#ifndef PAWL_DISCOVER_H
#define PAWL_DISCOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "pawl/common.h"

typedef struct json_t json_t;

#define PAWL_DISC_MAX_ROLES 8

/* Kinds of object ids found in a path segment (a bit set). */
enum pawl_id_kind {
    PAWL_ID_VIN = 1,   /* ISO 3779: 17 characters of 0-9, A-Z without I O Q, valid check digit */
    PAWL_ID_UUID = 2,  /* 8-4-4-4-12 hexadecimal */
    PAWL_ID_INT = 4,   /* 1 to 19 decimal digits */
    PAWL_ID_HEX = 8,   /* 12 to 64 hexadecimal digits with letters and digits */
    PAWL_ID_EMAIL = 16,
    PAWL_ID_PLATE = 32, /* 5 to 10 of A-Z 0-9 '-', letters and digits both */
    PAWL_ID_TOKEN = 64  /* 16 to 64 of A-Z a-z 0-9 _ -, random-looking (all three classes) */
};

/* The placeholder a segment becomes ({vin}, {uuid}, {int}, {hex}, {email},
 * {plate}, {id}) and its kind, or 0 when it is not an object id. */
unsigned pawl_id_kind_of(pawl_str seg);
const char *pawl_id_placeholder(unsigned kind);

/* Whether a 17-character VIN's 9th character is its ISO 3779 check digit. */
bool pawl_vin_check_digit_ok(pawl_str vin);

/* path with every object id replaced by its placeholder, NUL-terminated in
 * out; the kinds found are or-ed into *kinds. Returns the length, or 0 when
 * cap is too small, the path does not start with '/' or holds control
 * bytes. */
size_t pawl_path_template(pawl_str path, char *out, size_t cap, unsigned *kinds);

/* One request, from either source; strings point into the source. */
struct pawl_api_event {
    int64_t time_ms;
    pawl_str method, path;
    pawl_str principal;            /* empty: unauthenticated */
    pawl_str src_ip, country;      /* country: ISO 3166-1 alpha-2, or empty */
    pawl_str session;              /* token or session id, or empty */
    pawl_str user_type;            /* "User", "Admin", "Service", "Other" or empty */
    pawl_str roles[PAWL_DISC_MAX_ROLES];
    unsigned nroles;
    int status;                    /* HTTP status, 100..599 */
    int64_t resp_len;              /* -1 when unknown */
};

/* The members of an API Activity object as a JSON reader found them,
 * before any check: pawl_api_event_from_json fills it from jansson, the CLI's
 * fast reader (src/host/event_simd.h) from simdjson; both then go through
 * pawl_api_event_check, so that they accept and refuse alike. Strings point
 * into the reader's document; absent or of another type: empty. */
struct pawl_api_fields {
    bool is_object;
    bool has_class, class_int, time_int, code_int, len_int; /* present and an integer */
    int64_t class_uid, time, code, len;
    pawl_str method, path, principal, session, src_ip, country, user_type;
    pawl_str roles[PAWL_DISC_MAX_ROLES];  /* non-empty actor.user.groups[].name, in order */
    unsigned nroles;
};

/* Checks f and fills e (its strings are f's): the checks of
 * pawl_api_event_from_json, with the same messages. */
PAWL_MUST_CHECK pawl_err pawl_api_event_check(const struct pawl_api_fields *f, struct pawl_api_event *e,
                                              const char *where, unsigned lineno, struct pawl_diag *d);

/* An API Activity object (already parsed JSON). Requires time,
 * http_request.http_method, http_request.url.path and http_response.code. */
PAWL_MUST_CHECK pawl_err pawl_api_event_from_json(json_t *j, struct pawl_api_event *e,
                                                  const char *where, unsigned lineno,
                                                  struct pawl_diag *d);

/* One nginx "combined" line:
 *   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
 * $remote_user ("-" when none) is the principal; the query string is cut
 * off the path. */
PAWL_MUST_CHECK pawl_err pawl_nginx_parse(const char *line, size_t n, struct pawl_api_event *e,
                                          const char *where, unsigned lineno, struct pawl_diag *d);

struct pawl_inventory;

/* At most max_ops operations are kept (later new ones are counted in
 * "dropped"); memory per operation is fixed (distinct principals are
 * estimated with a 1 KiB HyperLogLog). */
PAWL_MUST_CHECK pawl_err pawl_inventory_new(size_t max_ops, struct pawl_inventory **out);
void pawl_inventory_free(struct pawl_inventory *inv);
/* PAWL_EINVAL for a method that is not 1-16 capitals or a path that cannot
 * be templated; PAWL_ENOMEM. An operation over max_ops is counted as
 * dropped (PAWL_OK). */
PAWL_MUST_CHECK pawl_err pawl_inventory_add(struct pawl_inventory *inv, const struct pawl_api_event *e);

/* {"operations":[...], "events":N, "dropped":N}, operations sorted by risk
 * (highest first), each with its counts and "risk":{"score":S,"parts":{...}}.
 * A new object (decref), NULL on allocation failure. */
json_t *pawl_inventory_json(const struct pawl_inventory *inv);

/* Compares an inventory (pawl_inventory_json's output, changed in place)
 * with an OpenAPI 3 document: each operation gets "documented", and
 * "openapi" lists shadow operations (in traffic, not in the document),
 * zombies (an older version of a documented path that still answers 2xx),
 * drift (status classes the document does not declare; unauthenticated
 * successes on an operation the document secures) and unused documented
 * operations. Document paths are joined to the first server URL's path; a
 * parameter segment matches any segment. PAWL_EINVAL with d set when spec
 * is not an OpenAPI 3 document. */
PAWL_MUST_CHECK pawl_err pawl_inventory_openapi(json_t *inventory, json_t *spec, const char *where,
                                                struct pawl_diag *d);

#endif
