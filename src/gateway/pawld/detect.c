/* detect.c: libpawl's detectors inline (pawl/detect.h, docs/detection.md).
 * One detector state for all workers, so that a principal's requests are
 * judged together whichever worker served them, under a mutex; its
 * findings are appended to logs.findings as Detection Finding lines. The
 * event of a decision: the request's method, path (no query), principal,
 * roles, address and the decision's status (200 for an allow: the
 * upstream's answer comes later).
 *
 * detect.block: a finding of a listed detector blocks its principal (or,
 * for findings about an address, that address) for detect.block_for; the
 * workers ask pawld_detect_blocked before carrying out an allow.
 * detect.state: the detectors' tables and the blocks are read at start and
 * written every minute, on reload and on stop. */
#include <fcntl.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "pawl/blocklist.h"
#include "pawl/detect.h"
#include "detect_state.h"
#include "pawld.h"
#include "shared_events.h"

struct pawld_detect {
    pthread_mutex_t lock;
    struct pawl_detector *det;
    struct pawld_world *world; /* whose grants det reads (a reference) */
    struct pawld_server_state *srv;
    struct pawl_blocklist *blocks;
    atomic_bool any_blocks;    /* false until a block was set or loaded: no lock taken before */
    atomic_bool save_asked;    /* a block changed: the main thread was asked to save (SIGUSR1) */
    const struct pawl_api_event *cur; /* the event being fed: whom its findings are about */
    char state[4300];          /* detect.state, resolved; "" when not kept */
    int fd;
    char run[17];
    uint64_t n, lost;
    uint64_t findings[PAWL_DETECTORS]; /* for /metrics, by detector */
    /* detect.redis: blocks set and lifted here, not yet told to the other
     * instances (blocks_share.c); NULL when off */
    struct pawld_block_event *outbox;
    size_t nout;
    uint64_t unsent; /* events that found the outbox full, or a subject too long */
    struct pawld_ratelog unsent_warned;
    /* detect.windows shared (windows_share.c): the events the workers
     * decided, packed for the other instances (times on Redis's clock:
     * this clock less skew_ms), and fed to the detectors by the sync
     * thread, in the order every instance feeds them; NULL when local */
    pthread_mutex_t events_lock;
    uint8_t *events[2];      /* the one filled, the one being told */
    size_t nevents, count;   /* bytes and events in events[0] */
    atomic_llong skew_ms;
    atomic_ullong fed_here;  /* events fed here at once: the buffer full */
    bool shared;             /* detect.windows shared: set at start, never changed */
    const struct pawld_event_origin *origin; /* the merged event being fed */
    struct pawld_found *found;               /* its findings, to be claimed and written */
    size_t nfound, found_cap;
};

/* detect.redis: queues what this instance did to a block, for
 * blocks_share.c to tell (until_ms: this instance's clock; it tells how
 * long is left). A change to a subject already queued replaces it, so a
 * lift never follows a set it should undo; extensions leave room for new
 * blocks and lifts (review 15: a blocked attacker's requests, each
 * extending its block, filled the queue). Under d->lock. */
static void tell(struct pawld_detect *d, enum pawld_block_op op, enum pawl_block_kind kind, pawl_str subject,
                 const char *detector, int64_t until_ms, bool extension)
{
    struct pawld_block_event *e = NULL;
    if (d->outbox == NULL)
        return;
    for (size_t i = 0; i < d->nout && e == NULL; i++)
        if (d->outbox[i].kind == kind && d->outbox[i].subject_len == subject.n &&
            memcmp(d->outbox[i].subject, subject.p, subject.n) == 0)
            e = &d->outbox[i];
    if (e == NULL && (d->nout + (extension ? PAWLD_BLOCK_OUTBOX / 8 : 0) >= PAWLD_BLOCK_OUTBOX ||
                      subject.n >= sizeof d->outbox[0].subject)) {
        uint64_t skipped;
        if (d->unsent++ == 0 || pawld_ratelog_take(&d->unsent_warned, pawld_wall_ms(), &skipped))
            pawld_log(d->srv->sinks, "error", "\"msg\":\"detect.redis: a block change cannot be queued for "
                      "the other instances (the queue is full while Redis cannot be told, or the subject "
                      "is over 255 bytes)\",\"unsent\":%llu", (unsigned long long)d->unsent);
        return;
    }
    if (e == NULL)
        e = &d->outbox[d->nout++];
    e->op = op;
    e->kind = kind;
    memcpy(e->subject, subject.p, subject.n);
    e->subject_len = subject.n;
    snprintf(e->detector, sizeof e->detector, "%s", detector ? detector : "");
    e->until_ms = until_ms;
}

/* A finding of a detector that blocks: its principal, or the address of a
 * finding about an address, is refused for block_for from now (a block
 * that is on is extended; so do the repeats the cooldown keeps out of the
 * findings file). Under d->lock. */
static void block(struct pawld_detect *d, const struct pawl_finding *f)
{
    const struct pawld_detect_config *dc = &d->world->cfg->detect;
    unsigned i = pawl_detector_index(f->detector);
    if (i == PAWL_DETECTORS || !dc->block[i])
        return;
    /* the finding's names are cleaned and cut for display; the block is on
     * the exact principal or address of the event that raised it */
    bool who = f->principal[0] != '\0';
    pawl_str subject = who ? d->cur->principal : d->cur->src_ip;
    char esc[300];
    int64_t now = pawld_wall_ms();
    enum pawl_block_kind kind = who ? PAWL_BLOCK_PRINCIPAL : PAWL_BLOCK_ADDRESS;
    const struct pawl_block *was = pawl_blocklist_find(d->blocks, kind, subject, now);
    bool going = was != NULL; /* extended: said before */
    int64_t left = was ? was->until_ms - now : 0;
    pawl_err e = pawl_blocklist_add(d->blocks, kind, subject, f->detector, now, now + dc->block_for_ms);
    pawld_json_escape(who ? f->principal : f->src_ip, esc, sizeof esc);
    if (e != PAWL_OK) {
        pawld_log(d->srv->sinks, "error", "\"msg\":\"cannot block: the block list is full (detect.max_blocks)\","
                  "\"%s\":\"%s\",\"detector\":\"%s\"", who ? "principal" : "address", esc, f->detector);
        return;
    }
    atomic_store(&d->any_blocks, true);
    /* an extension is told once it adds a tenth of block_for or more:
     * every request of a blocked attacker extends its block (review 15) */
    if (!going || left < dc->block_for_ms - dc->block_for_ms / 10)
        tell(d, PAWLD_BLOCK_SET, kind, subject, f->detector, now + dc->block_for_ms, going);
    /* saved within a moment, not at the next minute: a crash would lose it
     * (review finding); the main thread writes it, not this worker */
    if (d->state[0] != '\0' && !atomic_exchange(&d->save_asked, true))
        kill(getpid(), SIGUSR1);
    if (!going)
        pawld_log(d->srv->sinks, "warn", "\"msg\":\"blocked\",\"%s\":\"%s\",\"detector\":\"%s\",\"until\":%lld",
                  who ? "principal" : "address", esc, f->detector, (long long)(now + dc->block_for_ms));
}

/* One Detection Finding line to logs.findings. Under d->lock. */
static void write_finding(struct pawld_detect *d, const struct pawl_finding *f)
{
    char uid[64];
    unsigned i = pawl_detector_index(f->detector);
    if (i < PAWL_DETECTORS)
        d->findings[i]++;
    snprintf(uid, sizeof uid, "pawld-%s-%llu-%s", d->run, (unsigned long long)++d->n, f->detector);
    json_t *j = pawl_finding_json(f, uid);
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    size_t len = line ? strlen(line) : 0;
    if (line != NULL) /* one write per line: O_APPEND keeps lines whole */
        line[len] = '\n';
    if (line == NULL || write(d->fd, line, len + 1) != (ssize_t)(len + 1))
        d->lost++; /* said at the end (pawld_detect_stop) */
    free(line);
    json_decref(j);
}

/* A finding: written (a finding of a merged event waits to be claimed: every
 * instance raises it, one writes it), and its block set here. */
static void on_finding(void *ctx, const struct pawl_finding *f)
{
    struct pawld_detect *d = ctx;
    if (!f->repeat && d->origin != NULL && d->nfound == d->found_cap && d->found_cap < PAWLD_FOUND_MAX) {
        struct pawld_found *more = realloc(d->found, 2 * d->found_cap * sizeof *more);
        if (more != NULL) {
            d->found = more;
            d->found_cap *= 2;
        }
    }
    if (!f->repeat && d->origin != NULL && d->nfound < d->found_cap) {
        struct pawld_found *x = &d->found[d->nfound++];
        x->f = *f;
        snprintf(x->claim, sizeof x->claim, "%s.%u:%s", d->origin->entry, d->origin->index, f->detector);
    } else if (!f->repeat) { /* already written: a repeat only keeps a block going */
        write_finding(d, f);
    }
    block(d, f);
}

static void detect_free(struct pawld_detect *d)
{
    pawl_detector_free(d->det);
    pawl_blocklist_free(d->blocks);
    free(d->outbox);
    free(d->events[0]);
    free(d->events[1]);
    free(d->found);
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

/* detect.state (resolved into path) into det and bl: 0 when read, 1 when
 * there is none, -1 with err. */
static int read_state(const struct pawld_world *w, struct pawl_detector *det, struct pawl_blocklist *bl,
                      char *path, size_t pathlen, char *err, size_t errlen)
{
    char why[600];
    if (w->cfg->detect.state == NULL)
        return 1;
    pawld_path(w->dir, w->cfg->detect.state, path, pathlen);
    int rc = pawl_host_detect_load(path, det, bl, why, sizeof why);
    if (rc < 0)
        snprintf(err, errlen, "detect.state: %s (move the file away to start without the earlier state "
                 "and blocks)", why);
    return rc;
}

/* detect.state, when it exists: the tables and blocks of the last run. */
static int load_state(struct pawld_detect *d, const struct pawld_world *w, char *err, size_t errlen)
{
    int rc = read_state(w, d->det, d->blocks, d->state, sizeof d->state, err, errlen);
    if (rc != 0) /* none kept, or none yet: no blocks */
        return rc < 0 ? -1 : 0;
    size_t live = pawl_blocklist_live(d->blocks, pawld_wall_ms());
    atomic_store(&d->any_blocks, live > 0);
    pawld_log(d->srv->sinks, "info", "\"msg\":\"detector state read\",\"blocks\":%zu", live);
    return 0;
}

int pawld_detect_start(struct pawld_server_state *srv, char *err, size_t errlen)
{
    const struct pawld_world *w = srv->world;
    const char *p = w->cfg->findings;
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    char path[4300];
    unsigned char id[8];
    if (p == NULL)
        return 0;
    cfg.report_repeats = true; /* a block outlives the cooldown while the behaviour goes on */
    struct pawld_detect *d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(err, errlen, "out of memory for the detectors");
        return -1;
    }
    d->srv = srv;
    d->fd = -1;
    pawld_path(w->dir, p, path, sizeof path);
    if (RAND_bytes(id, sizeof id) != 1 ||
        (d->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
        snprintf(err, errlen, "logs.findings: %s: cannot open for appending", path);
        detect_free(d);
        return -1;
    }
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(d->run + 2 * i, 3, "%02x", id[i]);
    if (pawl_detector_new(&cfg, w->grants, &d->det) != PAWL_OK ||
        pawl_blocklist_new(w->cfg->detect.max_blocks, &d->blocks) != PAWL_OK) {
        detect_free(d);
        snprintf(err, errlen, "out of memory for the detectors");
        return -1;
    }
    if (load_state(d, w, err, errlen) != 0) {
        detect_free(d);
        return -1;
    }
    if (w->cfg->detect.redis.on && (d->outbox = calloc(PAWLD_BLOCK_OUTBOX, sizeof *d->outbox)) == NULL) {
        detect_free(d);
        snprintf(err, errlen, "out of memory for detect.redis");
        return -1;
    }
    if (w->cfg->detect.windows > 0 &&
        ((d->events[0] = malloc(PAWLD_EVENTS_BUF)) == NULL || (d->events[1] = malloc(PAWLD_EVENTS_BUF)) == NULL ||
         (d->found = calloc(256, sizeof *d->found)) == NULL)) {
        detect_free(d);
        snprintf(err, errlen, "out of memory for detect.windows");
        return -1;
    }
    if (d->events[0] != NULL) {
        pawld_events_begin(d->events[0], &d->nevents);
        d->shared = true;
        d->found_cap = 256;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->events_lock, NULL);
    d->world = srv->world;
    pawld_world_ref(d->world);
    srv->detect = d;
    return 0;
}

int pawld_detect_check(const struct pawld_world *w, char *err, size_t errlen)
{
    struct pawl_detect_config cfg = PAWL_DETECT_DEFAULTS;
    struct pawl_detector *det = NULL;
    struct pawl_blocklist *bl = NULL;
    char path[4300];
    int rc = -1;
    if (w->cfg->findings == NULL || w->cfg->detect.state == NULL)
        return 0;
    if (pawl_detector_new(&cfg, w->grants, &det) != PAWL_OK ||
        pawl_blocklist_new(w->cfg->detect.max_blocks, &bl) != PAWL_OK)
        snprintf(err, errlen, "out of memory for the detectors");
    else
        rc = read_state(w, det, bl, path, sizeof path, err, errlen) < 0 ? -1 : 0;
    pawl_detector_free(det);
    pawl_blocklist_free(bl);
    return rc;
}

void pawld_detect_world(struct pawld_server_state *srv, struct pawld_world *w)
{
    struct pawld_detect *d = srv->detect;
    if (d == NULL)
        return;
    pawld_world_ref(w);
    pthread_mutex_lock(&d->lock);
    struct pawld_world *old = d->world;
    d->world = w;
    pawl_detector_set_grants(d->det, w->grants);
    pthread_mutex_unlock(&d->lock);
    pawld_world_unref(old);
}

void pawld_detect_save(struct pawld_server_state *srv)
{
    struct pawld_detect *d = srv->detect;
    char err[4400];
    if (d == NULL || d->state[0] == '\0')
        return;
    size_t len = 0;
    atomic_store(&d->save_asked, false); /* a block set from now on asks again */
    pthread_mutex_lock(&d->lock); /* held for the copy only: the file is written after */
    char *bytes = pawl_host_detect_snapshot(d->det, d->blocks, pawld_wall_ms(), &len);
    pthread_mutex_unlock(&d->lock);
    if (bytes == NULL)
        snprintf(err, sizeof err, "%s: cannot save the detectors' state (out of memory)", d->state);
    if (bytes == NULL || pawl_host_detect_write(d->state, bytes, len, err, sizeof err) != 0)
        pawld_log(srv->sinks, "error", "\"msg\":\"%s\"", pawld_json_escape(err, err, sizeof err));
    free(bytes);
}

void pawld_detect_stop(struct pawld_server_state *srv)
{
    struct pawld_detect *d = srv->detect;
    if (d == NULL)
        return;
    pawld_detect_save(srv);
    if (d->lost > 0)
        pawld_log(srv->sinks, "error", "\"msg\":\"findings could not be written\",\"count\":%llu",
                  (unsigned long long)d->lost);
    pawld_world_unref(d->world);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->events_lock);
    detect_free(d);
    srv->detect = NULL;
}

bool pawld_detect_blocked(struct pawld_conn *c, const struct pawl_decision *d, char *detail, size_t n)
{
    struct pawld_detect *dt = c->w->srv->detect;
    if (dt == NULL || !atomic_load(&dt->any_blocks))
        return false;
    int64_t now = pawld_wall_ms();
    pthread_mutex_lock(&dt->lock);
    const struct pawl_block *b = NULL;
    if (d->authenticated)
        b = pawl_blocklist_find(dt->blocks, PAWL_BLOCK_PRINCIPAL,
                                (pawl_str){d->principal.uid, strlen(d->principal.uid)}, now);
    if (b == NULL)
        b = pawl_blocklist_find(dt->blocks, PAWL_BLOCK_ADDRESS, (pawl_str){c->client_ip, strlen(c->client_ip)},
                                now);
    if (b != NULL) /* which detector is for the findings log, not for the client */
        snprintf(detail, n, "this %s is blocked for %lld s more after a detection finding",
                 b->kind == PAWL_BLOCK_PRINCIPAL ? "principal" : "client address",
                 (long long)((b->until_ms - now + 999) / 1000));
    pthread_mutex_unlock(&dt->lock);
    return b != NULL;
}

/* The JSON of every live block, {"blocks":[...]}; NULL when out of memory. */
char *pawld_detect_blocks_json(struct pawld_server_state *srv)
{
    struct pawld_detect *d = srv->detect;
    json_t *arr = json_array(), *o = json_pack("{s:o}", "blocks", arr);
    if (d != NULL && o != NULL) {
        /* copied under the lock, written out after it: every worker takes
         * the lock on every request, and 100,000 blocks take a second */
        int64_t now = pawld_wall_ms();
        size_t it = 0, n = 0, cap;
        const struct pawl_block *b;
        pthread_mutex_lock(&d->lock);
        cap = pawl_blocklist_live(d->blocks, now);
        struct pawl_block *copy = malloc((cap ? cap : 1) * sizeof *copy);
        while (copy != NULL && n < cap && (b = pawl_blocklist_next(d->blocks, &it, now)) != NULL)
            copy[n++] = *b;
        pthread_mutex_unlock(&d->lock);
        if (copy == NULL) {
            json_decref(o);
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "kind",
                                                 copy[i].kind == PAWL_BLOCK_PRINCIPAL ? "principal" : "address",
                                                 "subject", copy[i].subject, "detector", copy[i].detector,
                                                 "since", (json_int_t)copy[i].since_ms, "until",
                                                 (json_int_t)copy[i].until_ms, "findings",
                                                 (json_int_t)copy[i].count));
        free(copy);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    return s;
}

int pawld_detect_unblock(struct pawld_server_state *srv, bool principal, pawl_str subject)
{
    struct pawld_detect *d = srv->detect;
    if (d == NULL)
        return -1;
    enum pawl_block_kind kind = principal ? PAWL_BLOCK_PRINCIPAL : PAWL_BLOCK_ADDRESS;
    pthread_mutex_lock(&d->lock);
    bool lifted = pawl_blocklist_remove(d->blocks, kind, subject, pawld_wall_ms());
    if (lifted)
        tell(d, PAWLD_BLOCK_LIFT, kind, subject, NULL, 0, false);
    pthread_mutex_unlock(&d->lock);
    return lifted ? 1 : 0;
}

/* e to the detectors, here and now (origin: the merged event it is, or
 * NULL for this instance's own when the windows are local). */
static size_t feed(struct pawld_detect *dt, const struct pawl_api_event *e, const struct pawld_event_origin *origin)
{
    pthread_mutex_lock(&dt->lock);
    dt->cur = e;
    dt->origin = origin;
    uint64_t untracked = pawl_detector_untracked(dt->det);
    pawl_detector_feed(dt->det, e, on_finding, dt);
    bool full = untracked == 0 && pawl_detector_untracked(dt->det) > 0;
    dt->cur = NULL;
    dt->origin = NULL;
    size_t waiting = dt->nfound;
    pthread_mutex_unlock(&dt->lock);
    if (full) /* once per run: nobody idle gave way, newcomers go unjudged */
        pawld_log(dt->srv->sinks, "warn", "\"msg\":\"the detectors' tables are full of principals, "
                  "addresses or vehicles seen lately: new ones are not tracked until others fall idle "
                  "(pawld_detector_untracked_total)\"");
    return waiting;
}

/* detect.windows shared: e packed for the sync thread (time on Redis's
 * clock); false when the buffer is full (the sync thread is behind). */
static bool queue(struct pawld_detect *dt, const struct pawl_api_event *e)
{
    pthread_mutex_lock(&dt->events_lock);
    bool ok = pawld_event_pack(e, e->time_ms - atomic_load(&dt->skew_ms), dt->events[0], PAWLD_EVENTS_BUF,
                               &dt->nevents);
    dt->count += ok;
    pthread_mutex_unlock(&dt->events_lock);
    return ok;
}

void pawld_detect_feed(struct pawld_conn *c, const struct pawl_http_head *h, const struct pawl_decision *d)
{
    struct pawld_detect *dt = c->w->srv->detect;
    if (dt == NULL)
        return;
    struct pawl_api_event e;
    memset(&e, 0, sizeof e);
    const char *q = memchr(h->target.p, '?', h->target.n);
    e.time_ms = pawld_wall_ms();
    e.method = h->method;
    e.path = (pawl_str){h->target.p, q ? (size_t)(q - h->target.p) : h->target.n};
    e.src_ip = (pawl_str){c->client_ip, strlen(c->client_ip)};
    e.status = d->reason == PAWL_R_ALLOWED ? 200 : d->status;
    e.resp_len = -1;
    if (d->authenticated) {
        e.principal = (pawl_str){d->principal.uid, strlen(d->principal.uid)};
        for (unsigned i = 0; i < d->principal.nroles && i < PAWL_DISC_MAX_ROLES; i++) {
            e.roles[e.nroles++] = (pawl_str){d->principal.roles[i], strlen(d->principal.roles[i])};
            if (strcmp(d->principal.roles[i], "service") == 0)
                e.user_type = (pawl_str){"Service", 7};
        }
    }
    if (dt->shared && queue(dt, &e))
        return;
    if (dt->shared) /* not packed: judged here alone, at once */
        atomic_fetch_add(&dt->fed_here, 1);
    (void)feed(dt, &e, NULL);
}

const uint8_t *pawld_detect_events_take(struct pawld_server_state *srv, int64_t skew_ms, size_t *n,
                                        size_t *count)
{
    struct pawld_detect *d = srv->detect;
    pthread_mutex_lock(&d->events_lock);
    uint8_t *full = d->events[0];
    *n = d->nevents;
    *count = d->count;
    d->count = 0;
    d->events[0] = d->events[1];
    d->events[1] = full;
    pawld_events_begin(d->events[0], &d->nevents);
    atomic_store(&d->skew_ms, skew_ms);
    pthread_mutex_unlock(&d->events_lock);
    return full;
}

size_t pawld_detect_feed_merged(struct pawld_server_state *srv, const struct pawl_api_event *e,
                                const struct pawld_event_origin *o)
{
    return feed(srv->detect, e, o);
}

size_t pawld_detect_found(struct pawld_server_state *srv, struct pawld_found *out, size_t max)
{
    struct pawld_detect *d = srv->detect;
    pthread_mutex_lock(&d->lock);
    size_t n = d->nfound < max ? d->nfound : max;
    memcpy(out, d->found, n * sizeof *out);
    memmove(d->found, d->found + n, (d->nfound - n) * sizeof *d->found);
    d->nfound -= n;
    pthread_mutex_unlock(&d->lock);
    return n;
}

void pawld_detect_write(struct pawld_server_state *srv, const struct pawl_finding *f)
{
    struct pawld_detect *d = srv->detect;
    pthread_mutex_lock(&d->lock);
    write_finding(d, f);
    pthread_mutex_unlock(&d->lock);
}

uint64_t pawld_detect_fed_here(struct pawld_server_state *srv)
{
    return srv->detect ? atomic_load(&srv->detect->fed_here) : 0;
}

void pawld_detect_findings(struct pawld_server_state *srv, uint64_t out[PAWL_DETECTORS])
{
    struct pawld_detect *dt = srv->detect;
    memset(out, 0, PAWL_DETECTORS * sizeof *out);
    if (dt == NULL)
        return;
    pthread_mutex_lock(&dt->lock);
    memcpy(out, dt->findings, PAWL_DETECTORS * sizeof *out);
    pthread_mutex_unlock(&dt->lock);
}

uint64_t pawld_detect_untracked(struct pawld_server_state *srv)
{
    struct pawld_detect *dt = srv->detect;
    if (dt == NULL)
        return 0;
    pthread_mutex_lock(&dt->lock);
    uint64_t n = pawl_detector_untracked(dt->det);
    pthread_mutex_unlock(&dt->lock);
    return n;
}

size_t pawld_detect_outbox(struct pawld_server_state *srv, struct pawld_block_event *out, size_t max)
{
    struct pawld_detect *d = srv->detect;
    pthread_mutex_lock(&d->lock);
    size_t n = d->nout < max ? d->nout : max;
    memcpy(out, d->outbox, n * sizeof *out);
    pthread_mutex_unlock(&d->lock);
    return n;
}

void pawld_detect_outbox_sent(struct pawld_server_state *srv, const struct pawld_block_event *sent,
                              const bool *told, size_t n)
{
    struct pawld_detect *d = srv->detect;
    size_t keep = 0;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->nout; i++) /* one replaced since it was copied stays, to be told */
        if (i >= n || !told[i] || memcmp(&d->outbox[i], &sent[i], sizeof sent[i]) != 0)
            d->outbox[keep++] = d->outbox[i];
    d->nout = keep;
    pthread_mutex_unlock(&d->lock);
}

uint64_t pawld_detect_unsent(struct pawld_server_state *srv)
{
    struct pawld_detect *d = srv->detect;
    pthread_mutex_lock(&d->lock);
    uint64_t n = d->unsent;
    pthread_mutex_unlock(&d->lock);
    return n;
}

int pawld_detect_apply(struct pawld_server_state *srv, const struct pawld_block_event *e)
{
    struct pawld_detect *d = srv->detect;
    pawl_str subject = { e->subject, e->subject_len };
    int64_t now = pawld_wall_ms();
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    if (e->op == PAWLD_BLOCK_LIFT) {
        rc = pawl_blocklist_remove(d->blocks, e->kind, subject, now) ? 1 : 0;
    } else if (e->until_ms > now) {
        const struct pawl_block *b = pawl_blocklist_find(d->blocks, e->kind, subject, now);
        rc = b == NULL ? 1 : b->until_ms < e->until_ms ? 2 : 0;
        if (rc > 0 && pawl_blocklist_add(d->blocks, e->kind, subject, e->detector, now, e->until_ms) != PAWL_OK)
            rc = -1, d->unsent++;
        if (rc > 0)
            atomic_store(&d->any_blocks, true);
    }
    pthread_mutex_unlock(&d->lock);
    if (rc > 0 && d->state[0] != '\0' && !atomic_exchange(&d->save_asked, true))
        kill(getpid(), SIGUSR1);
    return rc;
}
