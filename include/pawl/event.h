/* pawl/event.h: OCSF API Activity (6003) in and out, exactly per
 * docs/formats/ocsf-profile.md. Fields not named there are kept and ignored. */
#ifndef PAWL_EVENT_H
#define PAWL_EVENT_H

#include "pawl/common.h"
#include "pawl/engine.h"

#define PAWL_EVENT_MAX_LINE (1u << 20) /* 1 MiB per JSON line */
#define PAWL_EVENT_MAX_TOKEN 8192

typedef struct json_t json_t;

/* A parsed request event. rq's strings point into root. */
struct pawl_event_in {
    json_t *root;
    struct pawl_request rq;
};

/* Parse one API Activity line. Requires time (ms), http_request.http_method
 * and http_request.url.path; a class_uid other than 6003 is refused; the bearer
 * token comes from the single Authorization header in
 * http_request.http_headers[] ("Bearer <token>", scheme case-insensitive;
 * two Authorization headers are refused as ambiguous). On failure out->root
 * may still hold the JSON (for echoing) and d says what and where. */
PAWL_MUST_CHECK pawl_err pawl_event_parse(const char *line, size_t n, const char *where,
                                          unsigned lineno, struct pawl_event_in *out,
                                          struct pawl_diag *d);
void pawl_event_in_free(struct pawl_event_in *ev);

/* Build the API Activity event for a decision: base (may be NULL) is copied,
 * then the decision's fields are set (action_id, disposition, status_detail,
 * http_response.code for denials, status_id, actor.user, api.operation,
 * resources, metadata). Authorization header values are redacted: tokens
 * never reach a log. Returns a new JSON object or NULL on allocation failure. */
json_t *pawl_event_decision(json_t *base, int64_t time_ms, pawl_str method,
                            const struct pawl_decision *dec);

/* What a front end knows about a request, for pawl_event_format. Strings
 * are borrowed; src_ip and svc_name may be NULL. */
struct pawl_event_req {
    int64_t time_ms;
    pawl_str method, path, user_agent;
    const char *src_ip;
    int src_port;
    const char *svc_name;
};

/* The API Activity line of a decision written straight into out (cap
 * bytes, NUL-terminated, no newline): the same fields and values as
 * pawl_event_decision over the base {src_endpoint:{ip,port},
 * http_request:{http_method, url:{path}, user_agent}, dst_endpoint:
 * {svc_name}}, ASCII only (\uXXXX escapes; bytes that are not UTF-8 become
 * U+FFFD). No allocation, no JSON tree. Returns the length, or 0 when cap
 * is too small. */
size_t pawl_event_format(const struct pawl_event_req *rq, const struct pawl_decision *dec,
                         char *out, size_t cap);

/* Serialize compactly on one line into a malloc'd string (caller frees). */
char *pawl_event_dump(json_t *ev, size_t *len);

#endif
