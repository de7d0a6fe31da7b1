/* pawl/edge_store_file.h: the vehicle's durable replay store (libpawl-edge, host).
 *
 * A struct pawl_edge_store (see pawl/edge_token.h) kept in a directory, for
 * `pawl vehicle verify --store DIR` and for ECUs with a POSIX file system.
 * It remembers which token ids (cti) were accepted and when, and the last
 * accepted sequence number, so that COMMAND-TOKEN.md steps 8, 9 and 11 hold
 * across restarts, crashes and concurrent verifier processes.
 *
 * ---- Guarantees -------------------------------------------------------------
 *
 * - admit() is one atomic step across threads and processes: it takes an
 *   exclusive flock() on DIR/replay.lock, reads what other processes appended
 *   since, decides, and when the token is fresh and `record` is true, appends
 *   a record and fdatasync()s it BEFORE it returns 0.
 * - After a crash (kill -9, power loss) at any point, a token whose admit()
 *   returned FRESH with record = true is never FRESH again: its cti counts as
 *   seen for as long as the store retains it (below), and its seq can never be
 *   admitted again because the last accepted seq never goes backwards, not
 *   even through compaction.
 * - Every failure (I/O, lock, a corrupted file, no room) makes admit() return
 *   -1; the verifier then refuses the token (fail closed). The store never
 *   forgets an accepted token to make room.
 *
 * ---- Files in DIR -----------------------------------------------------------
 *
 * replay.log   the state, an append-only log (format below)
 * replay.lock  empty; flock()ed around every step, never replaced
 * replay.tmp   compaction output before it is renamed over replay.log
 *
 * ---- replay.log format (version 1) --------------------------------------------
 *
 * A sequence of 40-byte slots, integers little-endian, packed byte by byte:
 *
 *   header (slot 0)  0..7   "PAWLRPLY"
 *                    8..11  u32 version = 1
 *                    12..15 u32 record size = 40
 *                    16..31 zero
 *                    32..39 u64 check
 *   record           0..15  cti
 *                    16..23 u64 seq
 *                    24..31 u64 at (UNIX seconds: the `now` of the admit)
 *                    32..39 u64 check
 *
 * check = 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3) over the slot's bytes 0..31. It detects torn and damaged
 * writes, not tampering: whoever can write DIR can also delete it.
 *
 * The state is the set of records: a cti is seen at the largest `at` any of
 * its records has, the last accepted seq is the largest seq of all records,
 * and an empty log means no seq was accepted yet.
 *
 * Damage, as found when the log is read (at open and in every admit):
 * - A partial slot at the end, or a bad check on the last slot with nothing
 *   after it, is a torn write: the admit() writing it never returned, so
 *   nothing was promised for it. It is ignored and cut off (ftruncate) before
 *   the next append. (A media error on the last, acknowledged record looks the
 *   same and loses that one record; the seq of the record before it still
 *   holds. This is the usual write-ahead-log trade-off.)
 * - A bad check anywhere else, a bad header or an unknown version is
 *   corruption: open() and admit() fail with a message naming the file and
 *   the slot, and keep failing until a person repairs or removes the store.
 *   The store never silently forgets accepted tokens.
 * - replay.log vanishing or shrinking under an open store is an error too.
 *
 * ---- Bounds and compaction ----------------------------------------------------
 *
 * The struct holds every distinct cti of the log (at most
 * PAWL_EDGE_FILE_STORE_MAX), so memory is fixed and lookups are O(1).
 * Before a record is appended to a log of `compact_at` records or more, the
 * log is rewritten with only the records still needed: a cti seen at `at` is
 * kept while at > now or now - at < max(window, retain_s), and the record with
 * the largest seq is always kept. The new log goes to replay.tmp, is fsync()ed,
 * renamed over replay.log, and DIR is fsync()ed; a crash leaves either the old
 * or the new log, both complete. When compaction would drop nothing it is
 * skipped. When the log still holds PAWL_EDGE_FILE_STORE_MAX records, a fresh
 * token cannot be recorded and admit() returns -1.
 *
 * retain_s (default 24 h) covers a verifier whose window later grows (e.g. a
 * trust policy with a longer max_lifetime): entries younger than retain_s are
 * kept whatever window the compacting call passed. A vehicle may thus accept
 * at most PAWL_EDGE_FILE_STORE_MAX tokens per retain_s.
 *
 * ---- Use ----------------------------------------------------------------------
 *
 * NULL is never a valid argument unless a comment says so. The struct is large
 * (about 150 KiB): keep it static or on the heap, not on a small stack. Its
 * fields are private except the two tunables, which a caller may change
 * between open() and the first admit() (tests lower them to compact often).
 *
 * Threads: admit() may be called from several threads on one struct (it holds
 * the directory lock, taken on a descriptor of its own, while it touches the
 * struct); open() and close() must not race with anything. After fork() both
 * processes may keep using their copy: the lock and the reads follow the file.
 */
#ifndef PAWL_EDGE_STORE_FILE_H
#define PAWL_EDGE_STORE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "pawl/edge_token.h"

#define PAWL_EDGE_FILE_STORE_MAX 4096u        /* distinct cti, and records per log */
#define PAWL_EDGE_FILE_STORE_RETAIN_S 86400u  /* default retain_s */
#define PAWL_EDGE_FILE_STORE_REC 40u          /* bytes per slot */
#define PAWL_EDGE_FILE_STORE_VERSION 1u
#define PAWL_EDGE_FILE_STORE_ERR_MAX 256u     /* bytes of a message, NUL included */

struct pawl_edge_file_entry {
    uint8_t cti[PAWL_EDGE_CTI_LEN];
    uint64_t seq;
    uint64_t at;
};

struct pawl_edge_file_store {
    /* tunables, set by open() */
    uint64_t compact_at; /* compact before appending to a log this long; default and
                            upper bound PAWL_EDGE_FILE_STORE_MAX */
    uint64_t retain_s;   /* keep entries this young at compaction; default 24 h */
    /* private */
    int dirfd, logfd;
    dev_t dev;
    ino_t ino;
    bool reload;         /* re-read the log from slot 1 at the next admit */
    bool has_seq;
    uint64_t last_seq;
    uint64_t nrec;       /* records in the log, header excluded */
    uint32_t n;          /* entries in e[] */
    char dir[128];       /* for messages, may be cut */
    char err[PAWL_EDGE_FILE_STORE_ERR_MAX];
    uint16_t index[2u * PAWL_EDGE_FILE_STORE_MAX]; /* hash of cti -> 1 + entry, 0 free */
    struct pawl_edge_file_entry e[PAWL_EDGE_FILE_STORE_MAX];
};

/* Opens (creating DIR with mode 0700 when it is missing; its parent must
 * exist) the store in DIR and reads its log, creating an empty one when there
 * is none. Returns 0, or -1 with a message saying what failed and where in
 * err (cut to errn bytes, NUL-terminated; err may be NULL when errn is 0).
 * After -1 the struct holds nothing to close. */
PAWL_EDGE_MUST_CHECK int pawl_edge_file_store_open(struct pawl_edge_file_store *fs,
                                                   const char *dir, char *err, size_t errn);

/* The admit() interface of edge_token.h over fs (opened). admit() returns -1
 * on any failure, with *out set to something other than FRESH;
 * pawl_edge_file_store_error() then says why. */
struct pawl_edge_store pawl_edge_file_store(struct pawl_edge_file_store *fs);

/* The message of the last failure of open() or admit() on fs, "" when none.
 * Never NULL. Stable until the next call on fs. */
const char *pawl_edge_file_store_error(const struct pawl_edge_file_store *fs);

/* Releases the descriptors. Everything admitted is already durable. */
void pawl_edge_file_store_close(struct pawl_edge_file_store *fs);

#endif
