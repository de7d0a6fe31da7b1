/* see stepup.h */
#include "stepup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "pawl/edge_host.h"
#include "pawl/grants.h"
#include "util.h"

int pawld_replay_init(struct pawld_replay *r, size_t nslots)
{
    size_t n = 64;
    while (n < nslots && n < ((size_t)1 << 24))
        n *= 2;
    r->slots = calloc(n, sizeof *r->slots);
    r->nslots = r->slots ? n : 0;
    pthread_mutex_init(&r->lock, NULL);
    if (RAND_bytes((unsigned char *)&r->key, sizeof r->key) != 1)
        return -1;
    return r->slots ? 0 : -1;
}

void pawld_replay_free(struct pawld_replay *r)
{
    free(r->slots);
    r->slots = NULL;
    pthread_mutex_destroy(&r->lock);
}

static uint64_t mix64(uint64_t h) /* the splitmix64 finaliser */
{
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

/* Where a token id's probes start: its 16 bytes, keyed and mixed, so that a
 * sender choosing ids cannot aim them at one neighbourhood, and ids that
 * share their first half do not share it (the fuzzer's: a record written
 * to step_up.state then did not load back into a record of another key). */
static uint64_t replay_home(const struct pawld_replay *r, const uint8_t cti[PAWL_EDGE_CTI_LEN])
{
    uint64_t a, b;
    memcpy(&a, cti, sizeof a);
    memcpy(&b, cti + sizeof a, sizeof b);
    return mix64(mix64(a ^ r->key) ^ b);
}

/* Open addressing over at most 16 probes. A full neighbourhood of live
 * entries refuses the token rather than forget one that could be replayed. */
static int replay_admit(struct pawld_replay *r, const uint8_t cti[PAWL_EDGE_CTI_LEN], uint64_t now,
                        uint64_t until, bool record, enum pawl_edge_admit *out)
{
    uint64_t h = replay_home(r, cti);
    struct pawld_replay_slot *free_slot = NULL;
    pthread_mutex_lock(&r->lock);
    *out = PAWL_EDGE_ADMIT_FRESH;
    for (size_t i = 0; i < 16; i++) {
        struct pawld_replay_slot *sl = &r->slots[(h + i) & (r->nslots - 1)];
        bool live = sl->until > now;
        if (live && memcmp(sl->cti, cti, PAWL_EDGE_CTI_LEN) == 0) {
            *out = PAWL_EDGE_ADMIT_REPLAY;
            break;
        }
        if (!live && free_slot == NULL)
            free_slot = sl;
    }
    int rc = 0;
    if (*out == PAWL_EDGE_ADMIT_FRESH && record) {
        if (free_slot == NULL) {
            rc = -1;
        } else {
            memcpy(free_slot->cti, cti, PAWL_EDGE_CTI_LEN);
            free_slot->until = until;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

struct peek {
    struct pawld_replay *replay;
    struct pawld_step_up *su;
};

/* The verifier's store: a replay is found, a fresh id is kept in su for
 * pawld_step_up_record and not recorded yet. */
static int replay_peek(void *ctx, const uint8_t cti[PAWL_EDGE_CTI_LEN], uint64_t seq, uint64_t now,
                       uint64_t window, bool record, enum pawl_edge_admit *out)
{
    struct peek *p = ctx;
    (void)seq;
    (void)record;
    memcpy(p->su->cti, cti, PAWL_EDGE_CTI_LEN);
    p->su->until = now + window;
    return replay_admit(p->replay, cti, now, now + window, false, out);
}

bool pawld_step_up_record(struct pawld_step_up *s, uint64_t now, struct pawld_replay *replay)
{
    enum pawl_edge_admit a;
    if (replay_admit(replay, s->cti, now, s->until, true, &a) != 0) {
        snprintf(s->detail, sizeof s->detail, "command token refused: %s: too many token ids in use",
                 pawl_edge_reason_str(PAWL_EDGE_STORE_ERROR));
        return false;
    }
    if (a == PAWL_EDGE_ADMIT_REPLAY) {
        snprintf(s->detail, sizeof s->detail, "command token refused: %s",
                 pawl_edge_reason_str(PAWL_EDGE_REPLAY));
        return false;
    }
    return true;
}

void pawld_replay_entry(const uint8_t cti[PAWL_EDGE_CTI_LEN], uint64_t until,
                        uint8_t out[PAWLD_REPLAY_ENTRY])
{
    memcpy(out, cti, PAWL_EDGE_CTI_LEN);
    for (int i = 0; i < 8; i++)
        out[PAWL_EDGE_CTI_LEN + i] = (uint8_t)(until >> (8 * i));
}

long pawld_replay_load(struct pawld_replay *r, const uint8_t *p, size_t n, uint64_t now, size_t *cut,
                       char *err, size_t cap)
{
    if (n < PAWLD_REPLAY_MAGIC_LEN || memcmp(p, PAWLD_REPLAY_MAGIC, PAWLD_REPLAY_MAGIC_LEN) != 0) {
        snprintf(err, cap, "not a step-up state file (it does not start with PAWLSU1)");
        return -1;
    }
    size_t body = n - PAWLD_REPLAY_MAGIC_LEN, count = body / PAWLD_REPLAY_ENTRY;
    *cut = body % PAWLD_REPLAY_ENTRY;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = p + PAWLD_REPLAY_MAGIC_LEN + i * PAWLD_REPLAY_ENTRY;
        uint64_t until = 0;
        for (int k = 7; k >= 0; k--)
            until = until << 8 | e[PAWL_EDGE_CTI_LEN + k];
        if (until <= now)
            continue;
        if (until - now > PAWLD_REPLAY_AHEAD_MAX) /* the clock went back, or a foreign file */
            until = now + PAWLD_REPLAY_AHEAD_MAX;
        enum pawl_edge_admit a;
        if (replay_admit(r, e, now, until, true, &a) != 0) {
            snprintf(err, cap, "entry %zu: no room left in the record for its token id "
                     "(more live ids than the record holds)", i + 1);
            return -1;
        }
    }
    return (long)count;
}

uint8_t *pawld_replay_dump(struct pawld_replay *r, uint64_t now, size_t *n)
{
    pthread_mutex_lock(&r->lock);
    size_t live = 0;
    for (size_t i = 0; i < r->nslots; i++)
        live += r->slots[i].until > now;
    uint8_t *out = malloc(PAWLD_REPLAY_MAGIC_LEN + live * PAWLD_REPLAY_ENTRY);
    if (out != NULL) {
        memcpy(out, PAWLD_REPLAY_MAGIC, PAWLD_REPLAY_MAGIC_LEN);
        *n = PAWLD_REPLAY_MAGIC_LEN;
        for (size_t i = 0; i < r->nslots; i++)
            if (r->slots[i].until > now) {
                pawld_replay_entry(r->slots[i].cti, r->slots[i].until, out + *n);
                *n += PAWLD_REPLAY_ENTRY;
            }
    }
    pthread_mutex_unlock(&r->lock);
    return out;
}

static void copy_str(char *dst, size_t cap, struct pawl_edge_bytes b)
{
    size_t n = b.n < cap - 1 ? b.n : cap - 1;
    memcpy(dst, b.p, n);
    dst[n] = '\0';
}

bool pawld_step_up_parse(pawl_str header, struct pawld_step_up *s)
{
    struct pawl_edge_token t;
    const char *where = NULL;
    s->vin[0] = s->cmd[0] = s->detail[0] = '\0';
    if (pawl__b64url_decode(header.p, header.n, s->tok, sizeof s->tok, &s->len) != PAWL_OK) {
        snprintf(s->detail, sizeof s->detail, "command token: not base64url or over %u bytes",
                 PAWL_EDGE_TOKEN_MAX);
        return false;
    }
    if (pawl_edge_token_parse(s->tok, s->len, &t, &where) != PAWL_EDGE_OK) {
        snprintf(s->detail, sizeof s->detail, "command token: malformed: %s", where ? where : "?");
        return false;
    }
    pawl_str aud = {(const char *)t.aud.p, t.aud.n};
    if (!pawl_vin_valid(aud)) {
        snprintf(s->detail, sizeof s->detail, "command token: aud is not a VIN");
        return false;
    }
    /* cmd is compared with the route's command as a C string: a NUL or a
     * tail cut off would let a token for another command pass as this one */
    if (t.cmd.n > PAWL_EDGE_CMD_MAX || memchr(t.cmd.p, '\0', t.cmd.n) != NULL) {
        snprintf(s->detail, sizeof s->detail,
                 "command token: cmd is over %u bytes or holds a NUL byte", PAWL_EDGE_CMD_MAX);
        return false;
    }
    copy_str(s->vin, sizeof s->vin, t.aud);
    copy_str(s->cmd, sizeof s->cmd, t.cmd);
    return true;
}

bool pawld_step_up_verify(struct pawld_step_up *s, const char *trust_json, size_t n,
                          const char *where, uint64_t now, struct pawld_replay *replay)
{
    struct pawl_edge_trust *trust = calloc(1, sizeof *trust);
    struct pawl_edge_work *work = malloc(sizeof *work);
    struct pawl_edge_result res;
    struct pawl_edge_state state = {false, 0.0f}; /* the twin decides stationary_only */
    char err[256];
    bool ok = false;
    if (trust == NULL || work == NULL) {
        snprintf(s->detail, sizeof s->detail, "command token: out of memory");
    } else if (pawl_edge_trust_load(trust_json, n, where, trust, err, sizeof err) != 0) {
        snprintf(s->detail, sizeof s->detail, "trust policy: %s", err);
    } else if (strcmp(trust->vin, s->vin) != 0) {
        snprintf(s->detail, sizeof s->detail, "trust policy %s is for %s", where, trust->vin);
    } else {
        struct peek pk = {replay, s};
        struct pawl_edge_verifier v = {trust, pawl_edge_openssl_crypto(), {replay_peek, &pk}};
        enum pawl_edge_reason r = pawl_edge_token_verify(&v, s->tok, s->len, now, &state, work, &res);
        ok = r == PAWL_EDGE_OK;
        if (!ok)
            snprintf(s->detail, sizeof s->detail, "command token refused: %s%s%s",
                     pawl_edge_reason_str(r), res.detail ? ": " : "", res.detail ? res.detail : "");
    }
    if (trust)
        pawl_edge_trust_release(trust);
    free(trust);
    free(work);
    return ok;
}

/* ---- a vehicle's answer to a command -------------------------------------------------- */

static bool cti_hex(const char *s, uint8_t out[PAWL_EDGE_CTI_LEN])
{
    return s != NULL && pawl__unhex(s, strlen(s), out, PAWL_EDGE_CTI_LEN) == PAWL_OK;
}

int pawld_command_result_parse(const void *payload, size_t n, uint8_t cti[PAWL_EDGE_CTI_LEN],
                               int *status, char *body, size_t cap)
{
    if (n > PAWLD_RESULT_MAX)
        return -1;
    json_t *j = json_loadb(payload, n, JSON_REJECT_DUPLICATES, NULL);
    const char *verdict = json_string_value(json_object_get(j, "verdict"));
    const char *reason = json_string_value(json_object_get(j, "reason"));
    json_t *cmd = json_object_get(j, "cmd"), *seq = json_object_get(j, "seq");
    bool ok = json_is_object(j) && cti_hex(json_string_value(json_object_get(j, "cti")), cti) &&
              reason != NULL && verdict != NULL &&
              (strcmp(verdict, "accept") == 0 || strcmp(verdict, "reject") == 0) &&
              (cmd == NULL || json_is_string(cmd)) && (seq == NULL || json_is_integer(seq));
    bool accepted = ok && strcmp(verdict, "accept") == 0;
    char *s = NULL;
    /* the vehicle's answer echoed whole, or, when that does not fit, only
     * its token id and verdict: a result is never dropped for its size */
    for (int whole = 1; ok && whole >= 0 && (s == NULL || strlen(s) >= cap); whole--) {
        json_t *v = whole ? json_incref(j)
                          : json_pack("{s:O, s:s}", "cti", json_object_get(j, "cti"), "verdict", verdict);
        json_t *out = json_pack("{s:s, s:o*}", "reason", accepted ? "allowed" : "vehicle_refused",
                                "vehicle", v);
        if (out != NULL && !accepted) {
            char detail[160];
            snprintf(detail, sizeof detail, "the vehicle refused the command: %.100s", reason);
            json_object_set_new(out, "detail", json_string(detail));
            json_object_set_new(out, "status", json_integer(409));
        }
        free(s);
        s = out ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
        json_decref(out);
    }
    int rc = s != NULL && strlen(s) < cap ? 0 : -1;
    if (rc == 0) {
        memcpy(body, s, strlen(s) + 1);
        *status = accepted ? 200 : 409;
    }
    free(s);
    json_decref(j);
    return rc;
}
