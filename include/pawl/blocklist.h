/* pawl/blocklist.h: principals and source addresses refused until a time,
 * because a detector found them abusing the API (pawld's detect.block,
 * docs/detection.md). Bounded memory; no I/O. A block is never dropped to
 * make room: when the list is full of live blocks, adding one fails and the
 * caller says so. */
#ifndef PAWL_BLOCKLIST_H
#define PAWL_BLOCKLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "pawl/common.h"

enum pawl_block_kind { PAWL_BLOCK_PRINCIPAL = 1, PAWL_BLOCK_ADDRESS = 2 };

#define PAWL_BLOCK_SUBJECT_MAX 128
#define PAWL_BLOCK_DETECTOR_MAX 40

struct pawl_block {
    uint64_t key;                   /* hash of kind and the whole subject; 0: free */
    int64_t since_ms, until_ms;     /* set at since_ms; refused while now < until_ms (also
                                     * when the clock stepped back before since_ms) */
    uint32_t kind;                  /* enum pawl_block_kind */
    uint32_t count;                 /* findings that set or extended it */
    char detector[PAWL_BLOCK_DETECTOR_MAX]; /* the last finding's detector */
    char subject[PAWL_BLOCK_SUBJECT_MAX];   /* for display: cleaned (pawl__clean_copy), cut when longer */
};

struct pawl_blocklist;

/* At most max live blocks (1 .. 2^24). */
PAWL_MUST_CHECK pawl_err pawl_blocklist_new(size_t max, struct pawl_blocklist **out);
void pawl_blocklist_free(struct pawl_blocklist *bl);

/* Blocks subject from now until until_ms, or extends its block to until_ms
 * (a block is never shortened here). PAWL_ELIMIT when the list is full of
 * live blocks; PAWL_EINVAL for an empty subject or until_ms <= now. */
PAWL_MUST_CHECK pawl_err pawl_blocklist_add(struct pawl_blocklist *bl, enum pawl_block_kind kind,
                                            pawl_str subject, const char *detector, int64_t now_ms,
                                            int64_t until_ms);

/* The live block of subject at now_ms, or NULL. Valid until the next call
 * that changes bl. */
const struct pawl_block *pawl_blocklist_find(const struct pawl_blocklist *bl, enum pawl_block_kind kind,
                                             pawl_str subject, int64_t now_ms);

/* Lifts subject's block: true if it was live at now_ms; false if it had
 * none or only an expired one (which is erased all the same). */
bool pawl_blocklist_remove(struct pawl_blocklist *bl, enum pawl_block_kind kind, pawl_str subject,
                           int64_t now_ms);

/* Live blocks at now_ms, one per call: start with *it = 0; NULL at the end. */
const struct pawl_block *pawl_blocklist_next(const struct pawl_blocklist *bl, size_t *it, int64_t now_ms);

/* Live blocks at now_ms (expired ones are not counted). */
size_t pawl_blocklist_live(const struct pawl_blocklist *bl, int64_t now_ms);

/* The live blocks, so that they survive a restart (the caller's I/O; write
 * and read return 0 on success). load replaces bl's blocks; a damaged or
 * foreign file is refused with d set and bl left as it was. */
PAWL_MUST_CHECK pawl_err pawl_blocklist_save(const struct pawl_blocklist *bl, int64_t now_ms,
                                             int (*write)(void *ctx, const void *p, size_t n), void *ctx);
PAWL_MUST_CHECK pawl_err pawl_blocklist_load(struct pawl_blocklist *bl,
                                             int (*read)(void *ctx, void *p, size_t n), void *ctx,
                                             const char *where, struct pawl_diag *d);

#endif
