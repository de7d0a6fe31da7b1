/* libFuzzer driver for what pawld reads back from the shared Redis
 * (src/gateway/shared_reply.c): the input is RESP bytes, read by hiredis's
 * own reader as on the wire, and the answer goes through every reader:
 * TIME, XREAD with its entries as detect.redis entries, the rate-limit
 * script's answer, through a reader bounded as pawld's are. An accepted block entry names a subject, a known
 * detector, and ends within the bounds; an accepted debt is within a year. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/detect.h"
#include "shared_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000000LL
#define SKEW 1234

static void blocks(const redisReply *rep)
{
    const redisReply *entries, *fv;
    const char *id;
    if (pawl_xread_entries(rep, &entries) != 1)
        return;
    struct pawld_block_clock c = { NOW, SKEW, 1000 };
    for (size_t i = 0; i < entries->elements; i++) {
        struct pawld_block_event e;
        if (!pawl_stream_entry(entries->element[i], 48, &id, &fv) || strlen(id) >= 48)
            continue;
        if (!pawld_block_entry(&c, id, fv, &e))
            continue;
        if (e.subject_len == 0 || e.subject_len >= sizeof e.subject ||
            (e.op != PAWLD_BLOCK_SET && e.op != PAWLD_BLOCK_LIFT) ||
            (e.kind != PAWL_BLOCK_PRINCIPAL && e.kind != PAWL_BLOCK_ADDRESS))
            abort();
        if (e.op == PAWLD_BLOCK_SET &&
            (pawl_detector_index(e.detector) == PAWL_DETECTORS ||
             e.until_ms <= NOW - 2 * PAWLD_BLOCK_MAX_FOR_MS + SKEW ||
             e.until_ms > NOW + 60000 + PAWLD_BLOCK_MAX_FOR_MS + SKEW))
            abort();
        if (c.keep_ms > PAWLD_BLOCK_MAX_FOR_MS)
            abort();
    }
}

static void rate_limits(const redisReply *rep)
{
    static int64_t debts[64];
    char seed[17], why[300];
    size_t n = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 ? rep->elements - 1 : 0;
    if (n > 64)
        n = 64;
    for (int pass = 0; pass < 2; pass++) {
        why[0] = '\0';
        int rc = pawl_rl_reply(rep, pass ? "00112233445566ff" : NULL, n, seed, debts, why, sizeof why);
        if (rc < 0 && why[0] == '\0')
            abort(); /* a refusal says why */
        if (rc >= 0 && (strlen(seed) != 16 || strspn(seed, "0123456789abcdef") != 16))
            abort();
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (debts[i] != INT64_MIN && (debts[i] > PAWL_RL_MAX_DEBT_US || debts[i] < -PAWL_RL_MAX_DEBT_US))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    if (rd == NULL)
        return 0;
    pawl_redis_reader_bound(rd); /* as pawld's connections (hiredis 0.14 trusts a declared length) */
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK && redisReaderGetReply(rd, &rep) == REDIS_OK &&
        rep != NULL) {
        int64_t ms;
        if (pawl_redis_time_ms(rep, &ms) == 0 && (ms < 0 || ms > 100000000000LL * 1000 + 999))
            abort();
        blocks(rep);
        rate_limits(rep);
        freeReplyObject(rep);
    }
    redisReaderFree(rd);
    return 0;
}
