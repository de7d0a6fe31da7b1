/* see pawl/edge_token.h */
#include "pawl/edge_token.h"

#include <string.h>

#include "cbor.h"

/* The Sig_structure's fixed parts plus two string heads must fit the work
 * area next to a maximal token's bytes. */
_Static_assert(PAWL_EDGE_WORK_SIZE >= PAWL_EDGE_TOKEN_MAX + 1 + 10 + 1 + 3 + 1 + 3,
               "work area too small for a Sig_structure");
_Static_assert(PAWL_EDGE_MAX_ROLES <= 32, "role masks are 32-bit");
_Static_assert(PAWL_EDGE_MAX_SIGS <= 255 && PAWL_EDGE_MAX_KEYS <= 255, "counts fit a byte");
_Static_assert(PAWL_EDGE_CMD_MAX <= 255, "command lengths fit a byte");

enum claim_bit {
    C_ISS = 1u << 0,
    C_SUB = 1u << 1,
    C_AUD = 1u << 2,
    C_EXP = 1u << 3,
    C_IAT = 1u << 4,
    C_CTI = 1u << 5,
    C_CMD = 1u << 6,
    C_ARGS = 1u << 7,
    C_SEQ = 1u << 8,
    C_REQUIRED = C_ISS | C_SUB | C_AUD | C_EXP | C_IAT | C_CTI | C_CMD | C_SEQ
};

#define CLAIM_CMD (-70001)
#define CLAIM_ARGS (-70002)
#define CLAIM_SEQ (-70003)

/* ---- step 1: structure ------------------------------------------------------ */

static bool text_claim(struct pawl__cbor *c, struct pawl_edge_bytes *b)
{
    return pawl__cbor_string(c, PAWL__CBOR_TSTR, &b->p, &b->n);
}

/* A map with text keys; values are any item the strict reader accepts. */
static bool args_claim(struct pawl__cbor *c, struct pawl_edge_bytes *b)
{
    uint64_t n;
    const uint8_t *start = c->p;
    if (!pawl__cbor_container(c, PAWL__CBOR_MAP, &n))
        return false;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *k;
        size_t kn;
        if (!pawl__cbor_string(c, PAWL__CBOR_TSTR, &k, &kn) || !pawl__cbor_skip(c, 3))
            return false;
    }
    b->p = start;
    b->n = (size_t)(c->p - start);
    return true;
}

/* One claim: sets *bit and returns NULL, or says what is wrong. */
static const char *claim(struct pawl__cbor *c, int64_t key, struct pawl_edge_token *t,
                         unsigned *bit)
{
    size_t n = 0;
    switch (key) {
    case 1:
        *bit = C_ISS;
        return text_claim(c, &t->iss) ? NULL : "claim 1 (iss) is not a text string";
    case 2:
        *bit = C_SUB;
        return text_claim(c, &t->sub) ? NULL : "claim 2 (sub) is not a text string";
    case 3:
        *bit = C_AUD;
        return text_claim(c, &t->aud) && t->aud.n == PAWL_EDGE_VIN_LEN
                   ? NULL : "claim 3 (aud) is not a 17-character text string";
    case 4:
        *bit = C_EXP;
        return pawl__cbor_uint(c, &t->exp) ? NULL : "claim 4 (exp) is not an unsigned integer";
    case 6:
        *bit = C_IAT;
        return pawl__cbor_uint(c, &t->iat) ? NULL : "claim 6 (iat) is not an unsigned integer";
    case 7:
        *bit = C_CTI;
        return pawl__cbor_string(c, PAWL__CBOR_BSTR, &t->cti, &n) && n == PAWL_EDGE_CTI_LEN
                   ? NULL : "claim 7 (cti) is not a 16-byte byte string";
    case CLAIM_CMD:
        *bit = C_CMD;
        return text_claim(c, &t->cmd) && t->cmd.n > 0
                   ? NULL : "claim -70001 (cmd) is not a non-empty text string";
    case CLAIM_ARGS:
        *bit = C_ARGS;
        return args_claim(c, &t->args) ? NULL : "claim -70002 (args) is not a map with text keys";
    case CLAIM_SEQ:
        *bit = C_SEQ;
        return pawl__cbor_uint(c, &t->seq) ? NULL : "claim -70003 (seq) is not an unsigned integer";
    default:
        return "payload: a claim this contract does not define (unknown claims are refused)";
    }
}

static const char *parse_claims(struct pawl_edge_token *t)
{
    struct pawl__cbor c = { t->payload.p, t->payload.p + t->payload.n };
    struct pawl__cbor whole = c;
    uint64_t n;
    unsigned seen = 0;
    const char *why;
    if (!pawl__cbor_skip(&whole, 1) || whole.p != whole.end)
        return "payload: not one well-formed, deterministically encoded CBOR item";
    if (!pawl__cbor_container(&c, PAWL__CBOR_MAP, &n))
        return "payload: not a map";
    for (uint64_t i = 0; i < n; i++) {
        int64_t key;
        unsigned bit = 0;
        if (!pawl__cbor_int(&c, &key))
            return "payload: a claim key is not an integer";
        if ((why = claim(&c, key, t, &bit)) != NULL)
            return why;
        seen |= bit; /* keys are strictly sorted, so each bit comes once */
    }
    if ((seen & C_REQUIRED) != C_REQUIRED)
        return "payload: a required claim is missing (iss, sub, aud, exp, iat, cti, cmd, seq)";
    return NULL;
}

/* sign_protected must be the map {1: alg}. */
static bool parse_protected(struct pawl_edge_sig *s)
{
    struct pawl__cbor c = { s->prot.p, s->prot.p + s->prot.n };
    struct pawl__cbor whole = c;
    uint64_t n, label;
    return pawl__cbor_skip(&whole, 1) && whole.p == whole.end &&
           pawl__cbor_container(&c, PAWL__CBOR_MAP, &n) && n == 1 &&
           pawl__cbor_uint(&c, &label) && label == 1 && pawl__cbor_int(&c, &s->alg) &&
           c.p == c.end;
}

static const char *parse_sig(struct pawl__cbor *c, struct pawl_edge_sig *s)
{
    uint64_t n, label;
    size_t kn;
    if (!pawl__cbor_container(c, PAWL__CBOR_ARRAY, &n) || n != 3)
        return "a COSE_Signature is not an array of 3";
    if (!pawl__cbor_string(c, PAWL__CBOR_BSTR, &s->prot.p, &s->prot.n) || !parse_protected(s))
        return "a sign_protected is not the encoded map {1: alg}";
    if (!pawl__cbor_container(c, PAWL__CBOR_MAP, &n) || n != 1 || !pawl__cbor_uint(c, &label) ||
        label != 4 || !pawl__cbor_string(c, PAWL__CBOR_BSTR, &s->kid, &kn) ||
        kn != PAWL_EDGE_KID_LEN)
        return "a signature's unprotected header is not {4: 8-byte kid}";
    if (!pawl__cbor_string(c, PAWL__CBOR_BSTR, &s->sig.p, &s->sig.n))
        return "a signature is not a byte string";
    return NULL;
}

/* After the tag: [h'', {}, payload, [+ COSE_Signature]]. */
static const char *parse_body(struct pawl__cbor *c, struct pawl_edge_token *t)
{
    uint64_t n;
    const uint8_t *bp;
    size_t bn;
    const char *why;
    if (!pawl__cbor_container(c, PAWL__CBOR_ARRAY, &n) || n != 4)
        return "COSE_Sign is not an array of 4";
    if (!pawl__cbor_string(c, PAWL__CBOR_BSTR, &bp, &bn) || bn != 0)
        return "body_protected is not the empty byte string";
    if (!pawl__cbor_container(c, PAWL__CBOR_MAP, &n) || n != 0)
        return "the body's unprotected header is not an empty map";
    if (!pawl__cbor_string(c, PAWL__CBOR_BSTR, &t->payload.p, &t->payload.n))
        return "payload is not a byte string";
    t->sigs_at.p = c->p;
    if (!pawl__cbor_container(c, PAWL__CBOR_ARRAY, &n) || n == 0)
        return "signatures is not a non-empty array";
    if (n > PAWL_EDGE_MAX_SIGS)
        return "more than 8 signatures";
    t->nsigs = (unsigned)n;
    for (unsigned i = 0; i < t->nsigs; i++)
        if ((why = parse_sig(c, &t->sigs[i])) != NULL)
            return why;
    t->sigs_at.n = (size_t)(c->p - t->sigs_at.p);
    return parse_claims(t);
}

enum pawl_edge_reason pawl_edge_token_parse(const uint8_t *buf, size_t n,
                                            struct pawl_edge_token *out, const char **where)
{
    static const uint8_t tag98[] = { 0xd8, 0x62 };
    const char *why = NULL;
    memset(out, 0, sizeof *out);
    if (n > PAWL_EDGE_TOKEN_MAX) {
        why = "token is longer than 4096 bytes";
    } else if (n < sizeof tag98 || memcmp(buf, tag98, sizeof tag98) != 0) {
        why = "token does not start with CBOR tag 98 (COSE_Sign)";
    } else {
        struct pawl__cbor c = { buf + 2, buf + n };
        struct pawl__cbor whole = c;
        if (!pawl__cbor_skip(&whole, 1))
            why = "not well-formed, deterministically encoded CBOR within depth 8";
        else if (whole.p != whole.end)
            why = "trailing bytes after the token";
        else
            why = parse_body(&c, out);
    }
    if (where != NULL)
        *where = why;
    return why == NULL ? PAWL_EDGE_OK : PAWL_EDGE_MALFORMED;
}

/* ---- steps 2 to 10 ------------------------------------------------------------- */

static size_t put_head(uint8_t *d, unsigned major, size_t v)
{
    uint8_t m = (uint8_t)(major << 5);
    if (v < 24) {
        d[0] = (uint8_t)(m | v);
        return 1;
    }
    if (v <= 0xff) {
        d[0] = m | 24;
        d[1] = (uint8_t)v;
        return 2;
    }
    d[0] = m | 25; /* both strings are inside a 4096-byte token */
    d[1] = (uint8_t)(v >> 8);
    d[2] = (uint8_t)v;
    return 3;
}

size_t pawl_edge_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                               size_t payload_len, uint8_t *dst, size_t cap)
{
    static const uint8_t head[] = { 0x85, 0x69, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', 0x40 };
    if (prot_len > 0xffff || payload_len > 0xffff ||
        cap < sizeof head + 3 + prot_len + 1 + 3 + payload_len)
        return 0;
    size_t k = sizeof head;
    memcpy(dst, head, k);
    k += put_head(dst + k, PAWL__CBOR_BSTR, prot_len);
    memcpy(dst + k, prot, prot_len);
    k += prot_len;
    dst[k++] = 0x40; /* external_aad */
    k += put_head(dst + k, PAWL__CBOR_BSTR, payload_len);
    memcpy(dst + k, payload, payload_len);
    return k + payload_len;
}

static const struct pawl_edge_key *find_key(const struct pawl_edge_trust *tr, const uint8_t *kid)
{
    for (unsigned i = 0; i < tr->nkeys; i++)
        if (memcmp(tr->keys[i].kid, kid, PAWL_EDGE_KID_LEN) == 0)
            return &tr->keys[i];
    return NULL;
}

/* Steps 2 and 3: algorithms, then known and distinct signers. */
static enum pawl_edge_reason check_signers(const struct pawl_edge_trust *tr,
                                           const struct pawl_edge_token *t,
                                           const struct pawl_edge_key **keys)
{
    for (unsigned i = 0; i < t->nsigs; i++) {
        int64_t alg = t->sigs[i].alg;
        if (alg != PAWL_EDGE_ALG_EDDSA && alg != PAWL_EDGE_ALG_ES256)
            return PAWL_EDGE_UNSUPPORTED_ALG;
        keys[i] = find_key(tr, t->sigs[i].kid);
        if (keys[i] != NULL && keys[i]->alg != alg)
            return PAWL_EDGE_UNSUPPORTED_ALG;
    }
    for (unsigned i = 0; i < t->nsigs; i++)
        if (keys[i] == NULL)
            return PAWL_EDGE_UNKNOWN_KEY;
    for (unsigned i = 0; i < t->nsigs; i++)
        for (unsigned j = 0; j < i; j++)
            if (keys[i] == keys[j])
                return PAWL_EDGE_DUPLICATE_SIGNER;
    return PAWL_EDGE_OK;
}

/* Step 4. */
static enum pawl_edge_reason check_signatures(const struct pawl_edge_verifier *v,
                                              const struct pawl_edge_token *t,
                                              const struct pawl_edge_key *const *keys,
                                              struct pawl_edge_work *w)
{
    for (unsigned i = 0; i < t->nsigs; i++) {
        const struct pawl_edge_sig *s = &t->sigs[i];
        size_t m = pawl_edge_sig_structure(s->prot.p, s->prot.n, t->payload.p, t->payload.n,
                                           w->buf, sizeof w->buf);
        if (m == 0 || s->sig.n != PAWL_EDGE_SIG_LEN ||
            !v->crypto.verify(v->crypto.ctx, keys[i], w->buf, m, s->sig.p, s->sig.n))
            return PAWL_EDGE_BAD_SIGNATURE;
    }
    return PAWL_EDGE_OK;
}

static const struct pawl_edge_rule *find_rule(const struct pawl_edge_rule *r, unsigned n,
                                              struct pawl_edge_bytes cmd)
{
    for (unsigned i = 0; i < n; i++)
        if (r[i].cmd_len == cmd.n && memcmp(r[i].cmd, cmd.p, cmd.n) == 0)
            return &r[i];
    return NULL;
}

/* Step 5. */
static enum pawl_edge_reason check_roles(const struct pawl_edge_trust *tr,
                                         const struct pawl_edge_token *t,
                                         const struct pawl_edge_key *const *keys)
{
    static const struct pawl_edge_bytes star = { (const uint8_t *)"*", 1 };
    const struct pawl_edge_rule *rule = find_rule(tr->rules, tr->nrules, t->cmd);
    uint32_t have = 0;
    if (rule == NULL)
        rule = find_rule(tr->rules, tr->nrules, star);
    if (rule == NULL)
        return PAWL_EDGE_MISSING_SIGNER; /* no rule: nobody may */
    for (unsigned i = 0; i < t->nsigs; i++)
        have |= UINT32_C(1) << keys[i]->role;
    return (have & rule->roles) == rule->roles ? PAWL_EDGE_OK : PAWL_EDGE_MISSING_SIGNER;
}

/* Step 7. */
static enum pawl_edge_reason check_time(const struct pawl_edge_trust *tr,
                                        const struct pawl_edge_token *t, uint64_t now)
{
    if (now >= t->exp)
        return PAWL_EDGE_EXPIRED;
    if (t->iat > now && t->iat - now > tr->skew_s)
        return PAWL_EDGE_NOT_YET_VALID;
    if (t->exp > t->iat && t->exp - t->iat > tr->max_lifetime_s)
        return PAWL_EDGE_LIFETIME_TOO_LONG;
    return PAWL_EDGE_OK;
}

/* Step 10: stationary-only commands need a vehicle known to stand still.
 * Any non-zero speed counts as moving (VSS reports reversing as negative);
 * an unknown speed or NaN is unsafe. */
static bool unsafe(const struct pawl_edge_trust *tr, const struct pawl_edge_token *t,
                   const struct pawl_edge_state *st)
{
    if (find_rule(tr->stationary, tr->nstationary, t->cmd) == NULL)
        return false;
    return !st->speed_known || !(st->speed_kmh == 0.0f);
}

static enum pawl_edge_reason checks(const struct pawl_edge_verifier *v, uint64_t now,
                                    const struct pawl_edge_state *st, struct pawl_edge_work *w,
                                    const struct pawl_edge_token *t)
{
    const struct pawl_edge_trust *tr = v->trust;
    const struct pawl_edge_key *keys[PAWL_EDGE_MAX_SIGS];
    enum pawl_edge_reason r;
    if ((r = check_signers(tr, t, keys)) != PAWL_EDGE_OK ||
        (r = check_signatures(v, t, keys, w)) != PAWL_EDGE_OK ||
        (r = check_roles(tr, t, keys)) != PAWL_EDGE_OK)
        return r;
    if (memcmp(t->aud.p, tr->vin, PAWL_EDGE_VIN_LEN) != 0)
        return PAWL_EDGE_WRONG_VEHICLE;
    if ((r = check_time(tr, t, now)) != PAWL_EDGE_OK)
        return r;
    /* Steps 8, 9 and the record of step 11 are one atomic store call; the
     * state check (10) is decided first so that only a token about to be
     * accepted is recorded. */
    bool bad_state = unsafe(tr, t, st);
    enum pawl_edge_admit a;
    uint64_t window = (uint64_t)tr->max_lifetime_s + tr->skew_s;
    if (v->store.admit(v->store.ctx, t->cti, t->seq, now, window, !bad_state, &a) != 0)
        return PAWL_EDGE_STORE_ERROR;
    if (a == PAWL_EDGE_ADMIT_REPLAY)
        return PAWL_EDGE_REPLAY;
    if (a != PAWL_EDGE_ADMIT_FRESH)
        return PAWL_EDGE_STALE_SEQUENCE;
    return bad_state ? PAWL_EDGE_UNSAFE_STATE : PAWL_EDGE_OK;
}

enum pawl_edge_reason pawl_edge_token_verify(const struct pawl_edge_verifier *v,
                                             const uint8_t *buf, size_t n, uint64_t now,
                                             const struct pawl_edge_state *state,
                                             struct pawl_edge_work *work,
                                             struct pawl_edge_result *out)
{
    out->tok_ok = false;
    out->reason = pawl_edge_token_parse(buf, n, &out->tok, &out->detail);
    if (out->reason == PAWL_EDGE_OK) {
        out->tok_ok = true;
        out->reason = checks(v, now, state, work, &out->tok);
    }
    return out->reason;
}

/* ---- in-memory store --------------------------------------------------------- */

void pawl_edge_mem_store_init(struct pawl_edge_mem_store *s, struct pawl_edge_mem_entry *slots,
                              size_t nslots)
{
    memset(slots, 0, nslots * sizeof *slots);
    s->slots = slots;
    s->nslots = nslots;
    s->last_seq = 0;
    s->has_seq = false;
}

static bool live(const struct pawl_edge_mem_entry *e, uint64_t now, uint64_t window)
{
    return e->used && (e->at > now || now - e->at < window);
}

static int mem_admit(void *ctx, const uint8_t cti[PAWL_EDGE_CTI_LEN], uint64_t seq, uint64_t now,
                     uint64_t window, bool record, enum pawl_edge_admit *out)
{
    struct pawl_edge_mem_store *s = ctx;
    struct pawl_edge_mem_entry *free_slot = NULL;
    for (size_t i = 0; i < s->nslots; i++) {
        struct pawl_edge_mem_entry *e = &s->slots[i];
        if (!live(e, now, window)) {
            if (free_slot == NULL)
                free_slot = e;
        } else if (memcmp(e->cti, cti, PAWL_EDGE_CTI_LEN) == 0) {
            *out = PAWL_EDGE_ADMIT_REPLAY;
            return 0;
        }
    }
    if (s->has_seq && seq <= s->last_seq) {
        *out = PAWL_EDGE_ADMIT_STALE;
        return 0;
    }
    *out = PAWL_EDGE_ADMIT_FRESH;
    if (!record)
        return 0;
    if (free_slot == NULL)
        return -1; /* full of live entries: refuse rather than forget one */
    memcpy(free_slot->cti, cti, PAWL_EDGE_CTI_LEN);
    free_slot->at = now;
    free_slot->used = true;
    s->last_seq = seq;
    s->has_seq = true;
    return 0;
}

struct pawl_edge_store pawl_edge_mem_store(struct pawl_edge_mem_store *s)
{
    struct pawl_edge_store st = { mem_admit, s };
    return st;
}
