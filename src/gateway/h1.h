/* h1.h: one connection's HTTP/1.x request reader for pawld, over Debian's
 * http-parser (docs/decisions/0009-http-engine.md). No I/O: the event loop
 * feeds it the bytes it read.
 *
 * The reader pauses when a request head is complete, before any body byte
 * is consumed, so that pawld checks the head (pawl_http_check) and decides
 * before the body is read, let alone forwarded. What http-parser lets
 * through and the checks cannot see afterwards is refused here: obs-fold
 * (a header line starting with whitespace, found in the raw bytes), more
 * headers than the limit, and a head larger than the limit. */
#ifndef PAWLD_H1_H
#define PAWLD_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "pawl/http_check.h"

enum pawld_h1_state {
    PAWLD_H1_HEAD_WAIT, /* reading a request head */
    PAWLD_H1_HEAD,      /* a head is complete: pawld_h1_head(), then resume or stop */
    PAWLD_H1_BODY,      /* body bytes are being delivered to on_body */
    PAWLD_H1_DONE,      /* the request is complete: pawld_h1_next() for the next one */
    PAWLD_H1_ERROR      /* refused: reason and detail say why; close after answering */
};

/* The raw framing of a chunked body, which http-parser (built without
 * strict mode) checks only in part: each size line is hex digits, an
 * optional extension (at most 1 KiB, no control bytes) and CRLF; each
 * chunk's data is followed by CRLF; the trailer lines end in CRLF, none
 * folded, none with a control byte. Used for requests (pawld_h1) and
 * for upstream responses (proxy.c). Zeroed: at the first size line. */
struct pawld_chunk_scan {
    uint8_t ck;       /* where in the chunk framing */
    bool head_lf;     /* the head's LF comes first: http-parser paused before it */
    uint16_t ext;     /* bytes of the current chunk extension */
    uint64_t left;    /* the chunk size being read, then its data bytes left */
};
/* Checks p[0..n) as the next bytes of the body (set head_lf first when
 * they begin with the head's last LF). NULL, or why the framing is wrong.
 * Looks no further than the end of the message: past it, NULL at once. */
const char *pawld_chunk_scan(struct pawld_chunk_scan *s, const char *p, size_t n);

struct pawld_h1 {
    http_parser parser;
    const struct pawl_http_limits *lim;
    enum pawld_h1_state state;
    enum pawl_reason reason;
    char detail[160];
    /* the head, copied: method, target, then name/value bytes */
    char *buf;
    size_t used, cap;
    size_t target_off, target_len;
    struct pawld_h1_hdr {
        size_t name_off, name_len, value_off, value_len;
    } *hdr;       /* lim->max_headers entries; view follows in the same block */
    size_t arrays_cap;
    size_t nhdr;
    bool in_value;
    size_t head_bytes; /* raw bytes of this head so far */
    bool line_start, cr_at_start, cr_pending, seen_content, head_end; /* the raw scan */
    struct pawld_chunk_scan ck; /* the raw scan of a chunked body */
    int (*on_body)(void *ctx, const char *p, size_t n);
    void *ctx;
    uint64_t body_bytes;
    struct pawl_http_header *view; /* lim->max_headers entries */
};

/* lim must outlive r. on_body (may be NULL: body bytes are dropped) gets
 * the decoded body of the current request. Allocates nothing (buffers come
 * with the first head); returns 0. */
int pawld_h1_init(struct pawld_h1 *r, const struct pawl_http_limits *lim,
                  int (*on_body)(void *ctx, const char *p, size_t n), void *ctx);
void pawld_h1_free(struct pawld_h1 *r);

/* Feeds n bytes; returns how many were consumed. Stops early (and changes
 * state) at a complete head, at the end of a request and on an error. */
size_t pawld_h1_feed(struct pawld_h1 *r, const char *p, size_t n);

/* The complete head (state PAWLD_H1_HEAD), valid until the next feed after
 * pawld_h1_next(). */
void pawld_h1_head(struct pawld_h1 *r, struct pawl_http_head *h);

/* Whether the connection may carry another request after this one. */
bool pawld_h1_keep_alive(const struct pawld_h1 *r);

/* After PAWLD_H1_HEAD: go on reading the body. */
void pawld_h1_resume(struct pawld_h1 *r);

/* After PAWLD_H1_DONE: start on the next request of the connection. */
void pawld_h1_next(struct pawld_h1 *r);

/* Whether r is between requests, nothing of the next head read yet: it
 * may then be freed (pawld_h1_free) and a new one started for the next. */
bool pawld_h1_idle(const struct pawld_h1 *r);

#endif
