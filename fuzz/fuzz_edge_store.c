/* libFuzzer driver: the replay store's reader. The input is the whole of
 * replay.log; the store must open it or refuse it with a message, never
 * crash. When it opens, a fresh token recorded on top of it must survive a
 * reopen, and its seq must be the last. Files go to a private directory on
 * /dev/shm when there is one (fsync is cheap there). */
#include "pawl/edge_store_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], logp[96];
static struct pawl_edge_file_store fs;

static void cleanup(void)
{
    const char *names[] = { "replay.log", "replay.lock", "replay.tmp" };
    char p[96];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct stat st;
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/pawl-fuzz-store-XXXXXX",
             stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(logp, sizeof logp, "%s/replay.log", dir);
    atexit(cleanup);
    return 0;
}

static bool reopen(void)
{
    char err[PAWL_EDGE_FILE_STORE_ERR_MAX];
    err[0] = '\0';
    if (pawl_edge_file_store_open(&fs, dir, err, sizeof err) == 0)
        return true;
    if (strstr(err, dir) == NULL) /* a refusal always says where */
        abort();
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum pawl_edge_admit a;
    uint8_t cti[PAWL_EDGE_CTI_LEN] = { 0 };
    const uint64_t now = 2000, win = 150;
    int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) != 0)
        abort();
    if (!reopen())
        return 0;
    fs.compact_at = 4; /* reach compaction with fuzzed content */
    fs.retain_s = 100;
    /* a cti from the input, so that it may already be in the log */
    memcpy(cti, data + (size >= 56 ? 40 : 0), size >= 56 ? 16 : size < 16 ? size : 16);
    bool had = fs.has_seq;
    uint64_t seq = had ? fs.last_seq + 1 : 0;
    struct pawl_edge_store st = pawl_edge_file_store(&fs);
    int rc = st.admit(st.ctx, cti, seq, now, win, true, &a);
    if (rc != 0 && pawl_edge_file_store_error(&fs)[0] == '\0')
        abort();
    if (rc == 0 && had && seq == 0 && a == PAWL_EDGE_ADMIT_FRESH)
        abort(); /* seq wrapped: must be stale */
    pawl_edge_file_store_close(&fs);
    if (rc != 0 || a != PAWL_EDGE_ADMIT_FRESH)
        return 0;
    /* what was recorded is there after a reopen, with nothing torn left */
    if (!reopen())
        abort();
    if (!fs.has_seq || fs.last_seq != seq)
        abort();
    rc = st.admit(st.ctx, cti, seq + 1, now, win, false, &a);
    if (rc != 0 || a != PAWL_EDGE_ADMIT_REPLAY)
        abort();
    pawl_edge_file_store_close(&fs);
    return 0;
}
