/* audit_log.h: the audit trail on disk (files, fsync, anchor, torn tails).
 * The chain itself is built and checked by the core (pawl/audit.h); the file
 * layout is in docs/audit.md. Single writer per log: open takes a POSIX
 * record lock on the file and fails if another process holds it. */
#ifndef PAWL_AUDIT_LOG_H
#define PAWL_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/audit.h"

struct pawl_audit_log;

/* Open the log at path for appending, creating it (mode 0600, with a genesis
 * record, atomically) when missing. key_pem_path: Ed25519 private key, PKCS#8
 * PEM. every_n / every_ms: checkpoint cadence (0 = defaults 1000 / 10000 ms,
 * every_ms < 0 = only every_n and on close). fsync_each: fsync every record
 * (checkpoints are always fsynced, then copied to <path>.anchor).
 * An existing log is verified in full with the key's public half (and against
 * <path>.anchor when present); a torn tail is moved to <path>.torn.<offset>
 * and cut off. Returns 0 and *out, or 1 when the existing log fails
 * verification (nothing is appended), or 3 for a key, file or I/O problem;
 * err then says where and why. */
int pawl_audit_log_open(const char *path, const char *key_pem_path, unsigned every_n,
                        int64_t every_ms, bool fsync_each, struct pawl_audit_log **out,
                        char *err, size_t errlen);

/* Append one record (kind [a-z_]{1,32}; body a JSON object of n bytes),
 * followed by a checkpoint when one is due. Returns 0; 1 when the record is
 * refused (bad body or kind; the log is unchanged and stays usable); -1 when
 * it could not be written (err says why). After -1 the file holds none of it:
 * a failed or short write (a full disk) is cut back off, and the next append
 * tries again; only when that cut fails, or an fsync fails, is the log
 * unusable (every append then fails: close it and open it again). One
 * exception, without pawl_audit_log_sync_in_background: when the write
 * succeeded but the checkpoint in it could not be made durable (its fsync or
 * anchor failed), -1 comes with the records in the file. */
int pawl_audit_log_append(struct pawl_audit_log *log, int64_t time_ms, const char *kind,
                          const char *body_json, size_t n, char *err, size_t errlen);

/* Several records at once, in order, with one write of them all and the
 * checkpoints that fall among them (the last one is fsynced and anchored).
 * Returns like pawl_audit_log_append: on -1 none of them is written; on 1 (a
 * refused record) the records before it are written and the rest are not.
 * A batch whose lines need more than PAWL_AUDIT_BATCH_MAX bytes is refused
 * whole (-1). */
#define PAWL_AUDIT_BATCH_MAX (32u << 20)
struct pawl_audit_item {
    int64_t time_ms;
    const char *kind;
    const char *body;
    size_t n;
    bool dumped; /* body is jansson's compact dump of an object: pawl_audit_append_dumped */
};
int pawl_audit_log_append_many(struct pawl_audit_log *log, const struct pawl_audit_item *items,
                               size_t n, char *err, size_t errlen);

/* From now on checkpoints are made durable (fsync, then <path>.anchor) by a
 * thread of the log's own while appends go on, instead of before append
 * returns: records are written (not fsynced) either way, and a background
 * failure makes the next append fail before it writes anything (and the log
 * unusable). For a server whose threads must not wait for the disk. At
 * most one fsync and anchor each gap_ms (<= 0: 100); checkpoints that come
 * meanwhile replace each other, so the anchor may lag the log by that much.
 * Returns 0, or -1 with err. */
int pawl_audit_log_sync_in_background(struct pawl_audit_log *log, int64_t gap_ms, char *err,
                                      size_t errlen);

/* What opening the log repaired, for the operator to know: a torn tail moved
 * aside, an anchor that was missing (deleted?) or older than the log and was
 * written anew from the log's last checkpoint. NULL when nothing. */
const char *pawl_audit_log_notice(const struct pawl_audit_log *log);

/* Once a second or so: a checkpoint when records are unsigned and every_ms
 * has passed since the last one (so that a burst followed by quiet does not
 * leave its records unsigned, and deletable without trace, until traffic
 * resumes); and a log whose file was deleted becomes unusable (what would be
 * written goes nowhere). now_ms is the record time (at least the last
 * record's). Returns 0, or -1 with err. Same serialisation as appends. */
int pawl_audit_log_tick(struct pawl_audit_log *log, int64_t now_ms, char *err, size_t errlen);

/* False (with why) when appends fail until the log is opened again: an
 * I/O error that could not be cut back, or a checkpoint the sync thread
 * could not make durable. Not thread-safe against appends: the caller
 * serialises them. */
bool pawl_audit_log_usable(struct pawl_audit_log *log, char *why, size_t n);

/* Write the final checkpoint (when a record is unsigned), fsync, release the
 * lock and free log (always, even on error). Returns 0 or -1. log may be NULL. */
int pawl_audit_log_close(struct pawl_audit_log *log, int64_t time_ms, char *err, size_t errlen);

/* ---- shared with cli_audit.c ------------------------------------------------ */

/* A bounded line reader over a file descriptor. */
struct pawl__lines {
    int fd;
    char *buf;
    size_t cap, max, start, end;
    uint64_t off;     /* stream offset of buf[0] */
    uint64_t lineno;  /* 1-based number of the line last returned */
    bool eof, skipping;
};

enum pawl__line_kind {
    PAWL__LINE,      /* a '\n'-terminated line (without the '\n') */
    PAWL__LINE_EOF,  /* end of input */
    PAWL__LINE_TORN, /* bytes after the last '\n' at end of input */
    PAWL__LINE_LONG, /* a line over max bytes; the rest of it is skipped */
    PAWL__LINE_ERR,  /* read error (errno set) */
};

void pawl__lines_init(struct pawl__lines *r, int fd, size_t max);
void pawl__lines_free(struct pawl__lines *r);
/* *off receives the stream offset of the line's first byte. */
enum pawl__line_kind pawl__lines_next(struct pawl__lines *r, const char **p, size_t *n,
                                      uint64_t *off);

/* Load an Ed25519 key from a PEM file (private: PKCS#8; else SubjectPublicKeyInfo)
 * and its raw public half. Returns NULL and fills err on failure. */
EVP_PKEY *pawl__audit_load_key(const char *path, bool private_key, uint8_t pub[PAWL_AUDIT_KEY_LEN],
                               char *err, size_t errlen);

/* The result of reading and verifying a whole log file. */
struct pawl__audit_scan {
    struct pawl_audit_verifier v;
    bool torn;
    uint64_t torn_off, torn_len;
    char *last_cp;            /* last checkpoint line, no '\n' (malloc'd), or NULL */
    size_t last_cp_len;
    bool have_anchor;
    uint64_t anchor_seq;
    char msg[640];            /* on failure: "FILE:LINE: seq S: what" */
};

/* Verify the log readable on fd (from its current offset, which must be 0).
 * anchor: checkpoint file to hold the log to, or NULL; a missing anchor is an
 * error only when anchor_required. Returns 0 (good; torn tail allowed),
 * 1 (verification failed) or 3 (unreadable), with s->msg set on failure.
 * Free s with pawl__audit_scan_free in every case. */
int pawl__audit_scan(int fd, const char *path, const uint8_t pub[PAWL_AUDIT_KEY_LEN],
                     const char *anchor, bool anchor_required, struct pawl__audit_scan *s);
void pawl__audit_scan_free(struct pawl__audit_scan *s);

#endif
