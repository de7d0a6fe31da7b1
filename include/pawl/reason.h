/* pawl/reason.h: every decision's reason code, its name (the OCSF
 * `disposition`) and the HTTP status a front end answers with.
 *
 * The names are a contract: logs, SIEM rules and tests match on them. Add new
 * codes at the end; never rename one. */
#ifndef PAWL_REASON_H
#define PAWL_REASON_H

#define PAWL_REASONS(X)                                                             \
    X(ALLOWED, "allowed", 200)                                                      \
    X(BAD_REQUEST, "bad_request", 400)          /* malformed request or event */    \
    X(BAD_PATH, "bad_path", 400)                /* ambiguous or invalid path */     \
    X(ROUTE_NOT_FOUND, "route_not_found", 404)                                      \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405)                                \
    X(UNAUTHENTICATED, "unauthenticated", 401)  /* no credential presented */       \
    X(TOKEN_MALFORMED, "token_malformed", 401)                                      \
    X(TOKEN_ALG_FORBIDDEN, "token_alg_forbidden", 401) /* none, HS*, unknown */     \
    X(TOKEN_EMBEDDED_KEY, "token_embedded_key", 401)   /* jku, x5u, jwk, x5c */     \
    X(TOKEN_KEY_UNKNOWN, "token_key_unknown", 401)     /* kid not in JWKS */        \
    X(TOKEN_BAD_SIGNATURE, "token_bad_signature", 401)                              \
    X(TOKEN_EXPIRED, "token_expired", 401)                                          \
    X(TOKEN_NOT_YET_VALID, "token_not_yet_valid", 401)                              \
    X(TOKEN_WRONG_ISSUER, "token_wrong_issuer", 401)                                \
    X(TOKEN_WRONG_AUDIENCE, "token_wrong_audience", 401)                            \
    X(CERT_UNKNOWN, "cert_unknown", 401)        /* client cert maps to nobody */    \
    X(FORBIDDEN_ROLE, "forbidden_role", 403)                                        \
    X(NOT_YOUR_VEHICLE, "not_your_vehicle", 403)                                    \
    X(GRANT_EXPIRED, "grant_expired", 403)                                          \
    X(GRANT_NOT_YET_VALID, "grant_not_yet_valid", 403)                              \
    X(ORG_MISMATCH, "org_mismatch", 403)        /* dealer/support outside org */    \
    X(BAD_VIN, "bad_vin", 422)                                                      \
    X(RATE_LIMITED, "rate_limited", 429)                                            \
    X(VEHICLE_STATE_UNKNOWN, "vehicle_state_unknown", 409)                          \
    X(VEHICLE_STATE_STALE, "vehicle_state_stale", 409)                              \
    X(UNSAFE_VEHICLE_STATE, "unsafe_vehicle_state", 409)                            \
    X(STEP_UP_REQUIRED, "step_up_required", 428)                                    \
    X(DEPENDENCY_UNAVAILABLE, "dependency_unavailable", 503)                        \
    X(HEADERS_TOO_LARGE, "headers_too_large", 431) /* pawld: head over its limits */ \
    X(BODY_TOO_LARGE, "body_too_large", 413)       /* pawld: body over its limit */ \
    X(REQUEST_TIMEOUT, "request_timeout", 408)     /* pawld: head or body too slow */ \
    X(UPSTREAM_UNAVAILABLE, "upstream_unavailable", 502) /* pawld: no upstream answer */ \
    X(UPSTREAM_TIMEOUT, "upstream_timeout", 504)   /* pawld: upstream too slow */ \
    X(BLOCKED_BY_DETECTOR, "blocked_by_detector", 403) /* pawld: detect.block */

enum pawl_reason {
#define PAWL_R_ENUM(id, name, status) PAWL_R_##id,
    PAWL_REASONS(PAWL_R_ENUM)
#undef PAWL_R_ENUM
    PAWL_R__COUNT
};

/* Reason name, e.g. "not_your_vehicle"; never NULL. */
const char *pawl_reason_name(enum pawl_reason r);
/* HTTP status a front end answers with for this reason. */
int pawl_reason_status(enum pawl_reason r);

#endif
