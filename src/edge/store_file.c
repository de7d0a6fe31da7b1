/* see pawl/edge_store_file.h */
#include "pawl/edge_store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC PAWL_EDGE_FILE_STORE_REC
#define MAXE PAWL_EDGE_FILE_STORE_MAX
#define NIDX (2u * PAWL_EDGE_FILE_STORE_MAX)
#define CHUNK 64u /* slots per read or write */
#define PATH_MAXLEN 4096u

#define LOG_NAME "replay.log"
#define LOCK_NAME "replay.lock"
#define TMP_NAME "replay.tmp"
static const uint8_t magic[8] = { 'P', 'A', 'W', 'L', 'R', 'P', 'L', 'Y' };

_Static_assert((NIDX & (NIDX - 1u)) == 0, "index size must be a power of two");
_Static_assert(MAXE <= 65535u, "index entries are uint16_t");
_Static_assert(REC == PAWL_EDGE_CTI_LEN + 3u * 8u, "record layout");

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ---- encoding ------------------------------------------------------------------ */

static void put_le64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static bool slot_ok(const uint8_t *s)
{
    return fnv1a(s, REC - 8) == get_le64(s + REC - 8);
}

static void put_header(uint8_t *s)
{
    memset(s, 0, REC);
    memcpy(s, magic, sizeof magic);
    s[8] = PAWL_EDGE_FILE_STORE_VERSION;
    s[12] = REC;
    put_le64(s + REC - 8, fnv1a(s, REC - 8));
}

static void put_record(uint8_t *s, const uint8_t *cti, uint64_t seq, uint64_t at)
{
    memcpy(s, cti, PAWL_EDGE_CTI_LEN);
    put_le64(s + 16, seq);
    put_le64(s + 24, at);
    put_le64(s + REC - 8, fnv1a(s, REC - 8));
}

/* ---- messages ------------------------------------------------------------------ */

/* Every failure goes through here: the message says which file, and the next
 * admit() re-reads the log from its start rather than trust the struct. */
PRINTF_LIKE(3, 4)
static int fail(struct pawl_edge_file_store *fs, const char *name, const char *fmt, ...)
{
    char msg[PAWL_EDGE_FILE_STORE_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(fs->err, sizeof fs->err, "%s%s%s: %s", fs->dir, name ? "/" : "", name ? name : "",
             msg);
    fs->reload = true;
    return -1;
}

static int fail_errno(struct pawl_edge_file_store *fs, const char *name, const char *what)
{
    char eb[96];
    int e = errno;
    if (strerror_r(e, eb, sizeof eb) != 0)
        snprintf(eb, sizeof eb, "errno %d", e);
    return fail(fs, name, "%s: %s", what, eb);
}

/* ---- the in-memory table: every distinct cti of the log ------------------------- */

static uint32_t hash_slot(const uint8_t *cti)
{
    uint64_t h = (get_le64(cti) ^ get_le64(cti + 8)) * 0x9e3779b97f4a7c15u;
    return (uint32_t)(h >> 32) & (NIDX - 1u);
}

/* Index of cti in e[], or -1. */
static long find(const struct pawl_edge_file_store *fs, const uint8_t *cti)
{
    for (uint32_t s = hash_slot(cti);; s = (s + 1u) & (NIDX - 1u)) {
        uint16_t i = fs->index[s];
        if (i == 0)
            return -1;
        if (memcmp(fs->e[i - 1u].cti, cti, PAWL_EDGE_CTI_LEN) == 0)
            return (long)i - 1;
    }
}

static void index_add(struct pawl_edge_file_store *fs, uint32_t i)
{
    uint32_t s = hash_slot(fs->e[i].cti);
    while (fs->index[s] != 0)
        s = (s + 1u) & (NIDX - 1u);
    fs->index[s] = (uint16_t)(i + 1u);
}

static void reset_table(struct pawl_edge_file_store *fs)
{
    memset(fs->index, 0, sizeof fs->index);
    fs->n = 0;
    fs->nrec = 0;
    fs->has_seq = false;
    fs->last_seq = 0;
}

/* Applies one record; -1 when it is a new cti and the table is full. */
static int table_put(struct pawl_edge_file_store *fs, const uint8_t *cti, uint64_t seq,
                     uint64_t at)
{
    long i = find(fs, cti);
    if (i < 0) {
        if (fs->n >= MAXE)
            return -1;
        i = (long)fs->n++;
        memcpy(fs->e[i].cti, cti, PAWL_EDGE_CTI_LEN);
        fs->e[i].seq = seq;
        fs->e[i].at = at;
        index_add(fs, (uint32_t)i);
    } else {
        if (at > fs->e[i].at)
            fs->e[i].at = at;
        if (seq > fs->e[i].seq)
            fs->e[i].seq = seq;
    }
    if (!fs->has_seq || seq > fs->last_seq)
        fs->last_seq = seq;
    fs->has_seq = true;
    return 0;
}

/* ---- I/O helpers ---------------------------------------------------------------- */

static int pwrite_full(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* 0 when n bytes were read; -1 with errno, or errno 0 when the file ended. */
static int pread_full(int fd, uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* The directory lock, on a descriptor of this call's own: flock() locks
 * belong to the open file description, so threads, forked children and
 * other processes all exclude each other. Closing it unlocks. */
static int lock_dir(struct pawl_edge_file_store *fs)
{
    int fd = openat(fs->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fail_errno(fs, LOCK_NAME, "open");
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            fail_errno(fs, LOCK_NAME, "flock");
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* ---- reading the log ------------------------------------------------------------ */

static int reopen_log(struct pawl_edge_file_store *fs)
{
    uint8_t h[REC];
    struct stat st;
    if (fs->logfd >= 0)
        close(fs->logfd);
    reset_table(fs);
    fs->logfd = openat(fs->dirfd, LOG_NAME, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fs->logfd < 0)
        return fail_errno(fs, LOG_NAME, "open");
    if (fstat(fs->logfd, &st) != 0)
        return fail_errno(fs, LOG_NAME, "fstat");
    if (!S_ISREG(st.st_mode))
        return fail(fs, LOG_NAME, "not a regular file");
    fs->dev = st.st_dev;
    fs->ino = st.st_ino;
    if (pread_full(fs->logfd, h, REC, 0) != 0) {
        if (errno == 0)
            return fail(fs, LOG_NAME, "shorter than its %u-byte header: damaged", REC);
        return fail_errno(fs, LOG_NAME, "read");
    }
    if (memcmp(h, magic, sizeof magic) != 0)
        return fail(fs, LOG_NAME, "not a pawl replay log (bad magic)");
    if (!slot_ok(h))
        return fail(fs, LOG_NAME, "header has a bad checksum: damaged");
    if (get_le32(h + 8) != PAWL_EDGE_FILE_STORE_VERSION || get_le32(h + 12) != REC)
        return fail(fs, LOG_NAME, "unsupported version %u (record size %u); this build reads %u",
                    (unsigned)get_le32(h + 8), (unsigned)get_le32(h + 12),
                    PAWL_EDGE_FILE_STORE_VERSION);
    fs->reload = false;
    return 0;
}

/* Applies the complete slots in buf (read at file offset off of a file of
 * `size` bytes). Returns how many were applied, which is fewer than nslots
 * only when the last slot of the file is torn; -1 on corruption. */
static long apply_slots(struct pawl_edge_file_store *fs, const uint8_t *buf, uint64_t nslots,
                        uint64_t off, uint64_t size)
{
    for (uint64_t i = 0; i < nslots; i++) {
        const uint8_t *s = buf + i * REC;
        uint64_t at = off + i * REC;
        if (!slot_ok(s)) {
            if (at + REC == size)
                return (long)i; /* torn write: never acknowledged */
            return fail(fs, LOG_NAME,
                        "record %llu (byte %llu) has a bad checksum: the store is corrupted "
                        "and will not forget accepted tokens; repair or remove it",
                        (unsigned long long)(at / REC), (unsigned long long)at);
        }
        if (table_put(fs, s, get_le64(s + 16), get_le64(s + 24)) != 0)
            return fail(fs, LOG_NAME, "more than %u distinct tokens", MAXE);
        fs->nrec++;
    }
    return (long)nslots;
}

/* Reads what was appended since the last call, and cuts a torn tail. */
static int read_tail(struct pawl_edge_file_store *fs)
{
    uint8_t buf[CHUNK * REC];
    struct stat st;
    if (fstat(fs->logfd, &st) != 0)
        return fail_errno(fs, LOG_NAME, "fstat");
    uint64_t size = (uint64_t)st.st_size, off = REC * (fs->nrec + 1u);
    if (size < off)
        return fail(fs, LOG_NAME, "shrank to %llu bytes under an open store (%llu expected)",
                    (unsigned long long)size, (unsigned long long)off);
    while (size - off >= REC) {
        uint64_t nslots = (size - off) / REC;
        if (nslots > CHUNK)
            nslots = CHUNK;
        if (pread_full(fs->logfd, buf, (size_t)(nslots * REC), off) != 0)
            return errno ? fail_errno(fs, LOG_NAME, "read")
                         : fail(fs, LOG_NAME, "shrank while locked");
        long got = apply_slots(fs, buf, nslots, off, size);
        if (got < 0)
            return -1;
        off += (uint64_t)got * REC;
        if ((uint64_t)got < nslots)
            break;
    }
    if (off != size && ftruncate(fs->logfd, (off_t)off) != 0)
        return fail_errno(fs, LOG_NAME, "cut torn tail");
    return 0;
}

/* Brings the struct up to date with the log; the caller holds the lock. */
static int sync_in(struct pawl_edge_file_store *fs)
{
    struct stat st;
    if (fstatat(fs->dirfd, LOG_NAME, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return fail(fs, LOG_NAME, "missing (removed while the store was open?)");
        return fail_errno(fs, LOG_NAME, "stat");
    }
    /* compaction by another process renamed a new log into place */
    if (fs->reload || fs->logfd < 0 || st.st_dev != fs->dev || st.st_ino != fs->ino) {
        if (reopen_log(fs) != 0)
            return -1;
    }
    return read_tail(fs);
}

/* ---- writing -------------------------------------------------------------------- */

static bool keep(const struct pawl_edge_file_store *fs, const struct pawl_edge_file_entry *e,
                 uint64_t now, uint64_t keepwin)
{
    return e->at > now || now - e->at < keepwin || (fs->has_seq && e->seq == fs->last_seq);
}

/* Writes the header and the kept entries to fd; returns how many or -1. */
static long write_entries(struct pawl_edge_file_store *fs, int fd, uint64_t now,
                          uint64_t keepwin)
{
    uint8_t buf[CHUNK * REC];
    size_t used = REC;
    uint64_t off = 0;
    long kept = 0;
    put_header(buf);
    for (uint32_t i = 0; i <= fs->n; i++) {
        if (used == sizeof buf || (i == fs->n && used > 0)) {
            if (pwrite_full(fd, buf, used, off) != 0)
                return fail_errno(fs, TMP_NAME, "write");
            off += used;
            used = 0;
        }
        if (i < fs->n && keep(fs, &fs->e[i], now, keepwin)) {
            put_record(buf + used, fs->e[i].cti, fs->e[i].seq, fs->e[i].at);
            used += REC;
            kept++;
        }
    }
    if (fsync(fd) != 0)
        return fail_errno(fs, TMP_NAME, "fsync");
    return kept;
}

/* Replaces the log with the header and the kept entries, atomically: a
 * crash leaves the old log or the new one, both complete. With n = 0 this
 * creates an empty log. */
static int write_log(struct pawl_edge_file_store *fs, uint64_t now, uint64_t keepwin)
{
    struct stat st;
    int fd = openat(fs->dirfd, TMP_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fail_errno(fs, TMP_NAME, "open");
    long kept = write_entries(fs, fd, now, keepwin);
    if (kept < 0 || renameat(fs->dirfd, TMP_NAME, fs->dirfd, LOG_NAME) != 0) {
        if (kept >= 0)
            fail_errno(fs, LOG_NAME, "rename " TMP_NAME " over it");
        close(fd);
        unlinkat(fs->dirfd, TMP_NAME, 0);
        return -1;
    }
    if (fsync(fs->dirfd) != 0 || fstat(fd, &st) != 0) {
        close(fd);
        return fail_errno(fs, NULL, "fsync after compaction");
    }
    if (fs->logfd >= 0)
        close(fs->logfd);
    fs->logfd = fd;
    fs->dev = st.st_dev;
    fs->ino = st.st_ino;
    uint32_t j = 0;
    for (uint32_t i = 0; i < fs->n; i++)
        if (keep(fs, &fs->e[i], now, keepwin))
            fs->e[j++] = fs->e[i];
    fs->n = j;
    fs->nrec = j;
    memset(fs->index, 0, sizeof fs->index);
    for (uint32_t i = 0; i < j; i++)
        index_add(fs, i);
    return 0;
}

static int compact(struct pawl_edge_file_store *fs, uint64_t now, uint64_t window)
{
    uint64_t keepwin = window > fs->retain_s ? window : fs->retain_s;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < fs->n; i++)
        kept += keep(fs, &fs->e[i], now, keepwin);
    if (kept == fs->n && fs->nrec == fs->n)
        return 0; /* it would drop nothing */
    return write_log(fs, now, keepwin);
}

static int record(struct pawl_edge_file_store *fs, const uint8_t *cti, uint64_t seq, uint64_t now,
                  uint64_t window)
{
    uint8_t s[REC];
    if (fs->nrec >= fs->compact_at || fs->nrec >= MAXE) {
        if (compact(fs, now, window) != 0)
            return -1;
    }
    if (fs->nrec >= MAXE)
        return fail(fs, LOG_NAME, "full: %u tokens inside the retention window; refusing "
                    "rather than forgetting one", MAXE);
    put_record(s, cti, seq, now);
    if (pwrite_full(fs->logfd, s, REC, REC * (fs->nrec + 1u)) != 0)
        return fail_errno(fs, LOG_NAME, "write");
    if (fdatasync(fs->logfd) != 0)
        return fail_errno(fs, LOG_NAME, "fdatasync");
    /* the log has at most MAXE records, so their distinct cti fit */
    (void)table_put(fs, cti, seq, now);
    fs->nrec++;
    return 0;
}

/* ---- the interface -------------------------------------------------------------- */

static int file_admit(void *ctx, const uint8_t cti[PAWL_EDGE_CTI_LEN], uint64_t seq,
                      uint64_t now, uint64_t window, bool record_it, enum pawl_edge_admit *out)
{
    struct pawl_edge_file_store *fs = ctx;
    *out = PAWL_EDGE_ADMIT_REPLAY; /* never FRESH on failure */
    int lk = lock_dir(fs);
    if (lk < 0)
        return -1;
    fs->err[0] = '\0';
    int rc = sync_in(fs);
    if (rc == 0) {
        long i = find(fs, cti);
        enum pawl_edge_admit a = PAWL_EDGE_ADMIT_FRESH;
        if (i >= 0 && (fs->e[i].at > now || now - fs->e[i].at < window))
            a = PAWL_EDGE_ADMIT_REPLAY;
        else if (fs->has_seq && seq <= fs->last_seq)
            a = PAWL_EDGE_ADMIT_STALE;
        if (a == PAWL_EDGE_ADMIT_FRESH && record_it)
            rc = record(fs, cti, seq, now, window);
        if (rc == 0)
            *out = a;
    }
    close(lk);
    return rc;
}

struct pawl_edge_store pawl_edge_file_store(struct pawl_edge_file_store *fs)
{
    struct pawl_edge_store st = { file_admit, fs };
    return st;
}

const char *pawl_edge_file_store_error(const struct pawl_edge_file_store *fs)
{
    return fs->err;
}

/* fsync()s the parent of a directory just created, so that the directory
 * itself survives a power loss along with what is written into it. */
static int sync_parent(struct pawl_edge_file_store *fs, const char *dir)
{
    char p[PATH_MAXLEN];
    size_t n = strlen(dir);
    if (n >= sizeof p)
        return fail(fs, NULL, "path too long");
    memcpy(p, dir, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    while (n > 0 && p[n - 1] != '/')
        n--;
    if (n == 0)
        memcpy(p, ".", 2);
    else
        p[n > 1 ? n - 1 : 1] = '\0';
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        fail_errno(fs, NULL, "fsync parent directory");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int open_dir(struct pawl_edge_file_store *fs, const char *dir)
{
    if (mkdir(dir, 0700) == 0) {
        if (sync_parent(fs, dir) != 0)
            return -1;
    } else if (errno != EEXIST) {
        return fail_errno(fs, NULL, "create directory");
    }
    fs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs->dirfd < 0)
        return fail_errno(fs, NULL, "open directory");
    return 0;
}

int pawl_edge_file_store_open(struct pawl_edge_file_store *fs, const char *dir, char *err,
                              size_t errn)
{
    struct stat st;
    int rc = -1, lk = -1;
    memset(fs, 0, sizeof *fs);
    fs->dirfd = fs->logfd = -1;
    fs->compact_at = MAXE;
    fs->retain_s = PAWL_EDGE_FILE_STORE_RETAIN_S;
    snprintf(fs->dir, sizeof fs->dir, "%s", dir);
    if (open_dir(fs, dir) != 0 || (lk = lock_dir(fs)) < 0)
        goto out;
    if (fstatat(fs->dirfd, LOG_NAME, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) {
            fail_errno(fs, LOG_NAME, "stat");
            goto out;
        }
        if (write_log(fs, 0, 0) != 0)
            goto out;
    }
    fs->reload = true;
    rc = sync_in(fs);
out:
    if (lk >= 0)
        close(lk);
    if (rc != 0) {
        if (errn > 0)
            snprintf(err, errn, "%s", fs->err);
        pawl_edge_file_store_close(fs);
    }
    return rc;
}

void pawl_edge_file_store_close(struct pawl_edge_file_store *fs)
{
    if (fs->logfd >= 0)
        close(fs->logfd);
    if (fs->dirfd >= 0)
        close(fs->dirfd);
    fs->logfd = fs->dirfd = -1;
}
