/* pawl/http_check.h: pawld's checks on a parsed HTTP/1.x request head,
 * before anything is decided or forwarded. No I/O.
 *
 * An HTTP library parses the bytes; these checks refuse what a lenient
 * parser lets through and what lets a proxy and its upstream disagree about
 * where one request ends (request smuggling): Content-Length together with
 * Transfer-Encoding, Content-Length repeated or not a plain decimal, any
 * Transfer-Encoding other than a single "chunked", obs-fold, NUL/CR/LF or
 * other control bytes in a header, header names that are not tokens, too
 * many or too large headers, a missing or repeated Host, an Upgrade header
 * (h2c, WebSocket: a client must not talk past the checks), and any request
 * target other than origin-form ("/path?query"): absolute-form, authority
 * form and "*" are refused. Header names compare case-insensitively. */
#ifndef PAWL_HTTP_CHECK_H
#define PAWL_HTTP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"
#include "pawl/reason.h"

struct pawl_http_header {
    pawl_str name, value; /* as the parser gives them (value without the line ending) */
};

struct pawl_http_head {
    pawl_str method, target;
    int version_minor; /* HTTP/1.<minor>: 0 or 1 */
    const struct pawl_http_header *headers;
    size_t nheaders;
};

struct pawl_http_limits {
    size_t max_headers;      /* count; default 64 */
    size_t max_header_bytes; /* one name + value; default 8192 */
    size_t max_head_bytes;   /* target and every header; default 32768 */
    uint64_t max_body_bytes; /* Content-Length or chunked total; default 1 MiB */
};
#define PAWL_HTTP_LIMITS_DEFAULT {64, 8192, 32768, 1048576}

enum pawl_http_framing { PAWL_HTTP_NO_BODY, PAWL_HTTP_LENGTH, PAWL_HTTP_CHUNKED };

struct pawl_http_verdict {
    enum pawl_reason reason;   /* PAWL_R_ALLOWED when the head may go on */
    enum pawl_http_framing framing;
    uint64_t content_length;   /* with PAWL_HTTP_LENGTH */
    pawl_str host;             /* the one Host header's value */
    pawl_str authorization;    /* the one Authorization header's value, or empty */
    char detail[160];          /* what and where, on a refusal */
};

/* Checks h against lim. Never fails: a refusal is a reason (bad_request,
 * headers_too_large or body_too_large) with a detail naming the header. */
void pawl_http_check(const struct pawl_http_head *h, const struct pawl_http_limits *lim,
                     struct pawl_http_verdict *out);

/* Whether name is one of the headers pawld strips from every client request
 * and sets itself (the verified identity, hop-by-hop headers and framing:
 * Content-Length, Expect), given the configured identity header (e.g.
 * "X-Pawl-Principal"). Names are compared as CGI does (case and '_' for
 * '-'), so Content_Length is one of them too. */
bool pawl_http_is_reserved(pawl_str name, pawl_str identity_header);
/* The token of an Authorization value "Bearer <token>" (the scheme in any
 * case, spaces before the token skipped: RFC 9110's 1*SP), the same for
 * the proxy and the authz listeners (review: they differed); empty for
 * anything else. */
pawl_str pawl_http_bearer(pawl_str auth);
/* Whether m is a request method pawld takes: an RFC 9110 token of at most
 * 16 bytes. */
bool pawl_http_method_ok(pawl_str m);
/* Whether two header names are the same to a CGI-style upstream:
 * case-insensitive, '_' the same as '-'. */
bool pawl_http_name_eq(pawl_str a, pawl_str b);

#endif
