/* step_up.state: the step-up record on disk, so that a token pawld accepted
 * is not accepted once more after a restart (noted in review: the dealer's
 * key codes are answered by the backend, with no vehicle to refuse a
 * replay). At start the file is read into the record and rewritten with
 * only the live ids (beside it, synced, renamed over it); then every id is
 * appended as it is recorded, before the request it allows goes on, and
 * every COMPACT_EVERY appends the file is rewritten the same way. The
 * appends are not synced: they survive pawld's crash or restart (the
 * kernel holds them), not the host losing power, after which the vehicle's
 * own replay state still refuses the token. One pawld at a time uses the
 * file: a lock file beside it is held for the process's life (a pawld
 * started while another drains waits for it). Format: stepup.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "host.h"
#include "pawld.h"

#define COMPACT_EVERY 65536
/* the live ids and at most COMPACT_EVERY appended since the last rewrite */
#define STATE_MAX ((size_t)16 << 20)
#define LOCK_WAIT_MS 40000 /* longer than a drain (30 s) */

/* Reads the file at path into r: 0, 1 when there is none, -1 with err. */
static int read_into(struct pawld_replay *r, const char *path, uint64_t now, long *entries, size_t *cut,
                     char *err, size_t n)
{
    char why[600];
    size_t len;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 1;
    char *bytes = pawl_host_slurp(path, STATE_MAX, &len, why, sizeof why);
    if (bytes == NULL)
        return snprintf(err, n, "step_up.state: %s", why), -1;
    /* a record four times the entries at most, so that ids a record of
     * another random key had room for find room again (a neighbourhood of
     * 16 at a quarter full is all taken with a chance of 2^-32) */
    size_t most = len / PAWLD_REPLAY_ENTRY;
    if (most > r->nslots / 4) {
        pawld_replay_free(r);
        if (pawld_replay_init(r, 4 * most) != 0) {
            free(bytes);
            return snprintf(err, n, "step_up.state: out of memory for %zu token ids", most), -1;
        }
    }
    *entries = pawld_replay_load(r, (const uint8_t *)bytes, len, now, cut, why, sizeof why);
    free(bytes);
    if (*entries < 0)
        return snprintf(err, n, "step_up.state: %s: %s (move the file away to start without the "
                        "token ids it holds)", path, why), -1;
    return 0;
}

/* Rewrites the file with r's live ids (pawl_host_replace_open: beside it,
 * synced, renamed over it) and appends through that very descriptor, so
 * that at no point do appends go to a file without the name (review: a
 * failed reopen after the rename left them in a deleted file). On failure
 * the file and the descriptor are as they were. *live: the ids written. */
static int rewrite(struct pawld_server_state *srv, uint64_t now, size_t *live)
{
    size_t len = 0;
    uint8_t *bytes = pawld_replay_dump(&srv->replay, now, &len);
    if (bytes == NULL)
        return -1;
    int fd = pawl_host_replace_open(srv->replay_path, bytes, len);
    free(bytes);
    if (fd < 0)
        return -1;
    if (srv->replay_fd >= 0)
        close(srv->replay_fd);
    srv->replay_fd = fd;
    srv->replay_appended = 0;
    srv->replay_torn = false;
    if (live != NULL)
        *live = (len - PAWLD_REPLAY_MAGIC_LEN) / PAWLD_REPLAY_ENTRY;
    return 0;
}

/* The lock beside the file, held while the process lives; waits for a
 * pawld that still drains. */
static int lock_state(struct pawld_server_state *srv, char *err, size_t n)
{
    char lock[4300];
    snprintf(lock, sizeof lock, "%s.lock", srv->replay_path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return snprintf(err, n, "step_up.state: %s: %s", lock, strerror(errno)), -1;
    for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited += 100) {
        if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS) {
            close(fd);
            return snprintf(err, n, "step_up.state: %s: another pawld holds it (%s)", lock,
                            errno == EWOULDBLOCK ? "still, after 40 s" : strerror(errno)), -1;
        }
        if (waited == 0)
            pawld_log(srv->sinks, "warn", "\"msg\":\"step_up.state: waiting for another pawld to "
                      "let go of it (one that drains)\"");
        nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
    }
    srv->replay_lock_fd = fd;
    return 0;
}

int pawld_replay_file_open(struct pawld_server_state *srv, const struct pawld_world *w, bool check_only,
                           char *err, size_t n)
{
    long entries = 0;
    size_t cut = 0, live = 0;
    uint64_t now = (uint64_t)(pawld_wall_ms() / 1000);
    srv->replay_fd = srv->replay_lock_fd = -1;
    srv->replay_on = false;
    pthread_mutex_init(&srv->replay_file_lock, NULL);
    if (w->cfg->step_up_state == NULL)
        return 0;
    pawld_path(w->dir, w->cfg->step_up_state, srv->replay_path, sizeof srv->replay_path);
    if (!check_only && lock_state(srv, err, n) != 0)
        return -1;
    int rc = read_into(&srv->replay, srv->replay_path, now, &entries, &cut, err, n);
    if (rc < 0 || check_only)
        return rc < 0 ? -1 : 0;
    if (rewrite(srv, now, &live) != 0)
        return snprintf(err, n, "step_up.state: %s: cannot write it (%s)", srv->replay_path, strerror(errno)), -1;
    srv->replay_on = true;
    if (rc == 0)
        pawld_log(srv->sinks, cut ? "warn" : "info", "\"msg\":\"step-up state read\",\"entries\":%ld,"
                  "\"live\":%zu,\"cut_bytes\":%zu", entries, live, cut);
    return 0;
}

void pawld_replay_file_close(struct pawld_server_state *srv)
{
    if (srv->replay_fd >= 0)
        close(srv->replay_fd);
    if (srv->replay_lock_fd >= 0)
        close(srv->replay_lock_fd); /* and the lock with it */
    srv->replay_fd = srv->replay_lock_fd = -1;
}

/* Appends su's entry whole or not at all (pawl__append_whole cuts a failed
 * or short write back off). When even the cut fails, the file is out of
 * step (later entries would be read shifted: review) and nothing more is
 * appended until a rewrite from the record has put it right. */
static bool append(struct pawld_server_state *srv, const struct pawld_step_up *su, uint64_t now, char *why,
                   size_t n)
{
    uint8_t e[PAWLD_REPLAY_ENTRY];
    long long was;
    if (srv->replay_torn && rewrite(srv, now, NULL) != 0) {
        snprintf(why, n, "a torn entry could not be cut back, and rewriting the file failed: %s",
                 strerror(errno));
        return false;
    }
    pawld_replay_entry(su->cti, su->until, e);
    int rc = pawl__append_whole(srv->replay_fd, e, sizeof e, &was);
    if (rc == 0)
        return true;
    snprintf(why, n, "%s%s", strerror(errno), rc == -2 ? ", and it cannot be cut back" : "");
    srv->replay_torn = rc == -2;
    return false;
}

bool pawld_replay_file_record(struct pawld_server_state *srv, struct pawld_step_up *su, uint64_t now,
                              bool *store_failed)
{
    char why[300], file[9000];
    *store_failed = false;
    if (!srv->replay_on) /* set at start, never changed */
        return pawld_step_up_record(su, now, &srv->replay);
    pthread_mutex_lock(&srv->replay_file_lock);
    /* on disk first: an id recorded only in memory would be accepted again
     * after a restart; an entry whose token turns out to be a replay is a
     * harmless duplicate */
    if (!append(srv, su, now, why, sizeof why)) {
        pthread_mutex_unlock(&srv->replay_file_lock);
        *store_failed = true;
        snprintf(su->detail, sizeof su->detail, "step_up.state: cannot record the token id: %s", why);
        uint64_t skipped;
        if (pawld_ratelog_take(&srv->replay_warned, pawld_wall_ms(), &skipped))
            pawld_log(srv->sinks, "error", "\"msg\":\"step_up.state: cannot record a token id: the "
                      "request is refused\",\"file\":\"%s\",\"why\":\"%s\",\"not_logged_before\":%llu",
                      pawld_json_escape(srv->replay_path, file, sizeof file), why,
                      (unsigned long long)skipped);
        return false;
    }
    bool ok = pawld_step_up_record(su, now, &srv->replay);
    if (++srv->replay_appended >= COMPACT_EVERY && rewrite(srv, now, NULL) != 0) {
        srv->replay_appended = 0; /* it grows on; tried again after as many more */
        pawld_log(srv->sinks, "warn", "\"msg\":\"step_up.state: cannot rewrite it with the live ids "
                  "only; appending on\",\"file\":\"%s\",\"why\":\"%s\"",
                  pawld_json_escape(srv->replay_path, file, sizeof file), strerror(errno));
    }
    pthread_mutex_unlock(&srv->replay_file_lock);
    return ok;
}
