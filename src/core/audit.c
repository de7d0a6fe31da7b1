/* see pawl/audit.h; the line format is in docs/audit.md */
#include "pawl/audit.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>

#define HASH_HEX (2 * PAWL_AUDIT_HASH_LEN)
#define SIG_B64 86 /* base64url of 64 bytes, unpadded */
#define KEY_B64 43 /* base64url of 32 bytes, unpadded */
/* ,"hash":"<64 hex>"} */
#define SUFFIX_LEN (sizeof(",\"hash\":\"") - 1 + HASH_HEX + 2)

_Static_assert(PAWL_AUDIT_OVERHEAD > 200, "envelope bound too small");

static const char genesis_prefix[] = "{\"format\":\"" PAWL_AUDIT_FORMAT_ID "\",\"key\":\"";

/* ---- buffer ---------------------------------------------------------------- */

void pawl_audit_buf_init(struct pawl_audit_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void pawl_audit_buf_free(struct pawl_audit_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

PAWL_MUST_CHECK static pawl_err buf_reserve(struct pawl_audit_buf *b, size_t add)
{
    if (add > b->max || b->len > b->max - add)
        return PAWL_ELIMIT;
    size_t need = b->len + add;
    if (need <= b->cap)
        return PAWL_OK;
    size_t ncap = b->cap ? b->cap : 1024;
    while (ncap < need)
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    char *np = realloc(b->p, ncap);
    if (np == NULL)
        return PAWL_ENOMEM;
    b->p = np;
    b->cap = ncap;
    return PAWL_OK;
}

PAWL_MUST_CHECK static pawl_err buf_put(struct pawl_audit_buf *b, const void *s, size_t n)
{
    pawl_err e = buf_reserve(b, n);
    if (e != PAWL_OK)
        return e;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return PAWL_OK;
}

/* ---- crypto ---------------------------------------------------------------- */

/* SHA-256 fetched once: EVP_sha256() makes every EVP_Digest look the
 * implementation up again, which cost 200 of 860 ns per record (900 bytes,
 * measured alone). */
static EVP_MD *sha256_fetched;

static void fetch_sha256(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

PAWL_MUST_CHECK static pawl_err sha256(const void *p, size_t n, uint8_t out[PAWL_AUDIT_HASH_LEN])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    unsigned int len = 0;
    pthread_once(&once, fetch_sha256);
    const EVP_MD *md = sha256_fetched ? sha256_fetched : EVP_sha256();
    if (EVP_Digest(p, n, out, &len, md, NULL) != 1 || len != PAWL_AUDIT_HASH_LEN)
        return PAWL_ECRYPTO;
    return PAWL_OK;
}

pawl_err pawl_audit_sign_evp(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[PAWL_AUDIT_SIG_LEN])
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    size_t siglen = PAWL_AUDIT_SIG_LEN;
    pawl_err e = PAWL_ECRYPTO;
    if (mctx == NULL || ctx == NULL)
        goto out;
    if (EVP_DigestSignInit(mctx, NULL, NULL, NULL, ctx) != 1)
        goto out;
    if (EVP_DigestSign(mctx, sig, &siglen, msg, n) != 1 || siglen != PAWL_AUDIT_SIG_LEN)
        goto out;
    e = PAWL_OK;
out:
    EVP_MD_CTX_free(mctx);
    return e;
}

pawl_err pawl_audit_evp_public(const EVP_PKEY *pkey, uint8_t pub[PAWL_AUDIT_KEY_LEN])
{
    size_t len = PAWL_AUDIT_KEY_LEN;
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
        return PAWL_EINVAL;
    if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != PAWL_AUDIT_KEY_LEN)
        return PAWL_ECRYPTO;
    return PAWL_OK;
}

static bool ed25519_verify(EVP_PKEY *pkey, const uint8_t *msg, size_t n, const uint8_t *sig)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    bool ok = false;
    if (mctx == NULL)
        return false;
    if (EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, pkey) == 1)
        ok = EVP_DigestVerify(mctx, sig, PAWL_AUDIT_SIG_LEN, msg, n) == 1;
    EVP_MD_CTX_free(mctx);
    return ok;
}

/* The bytes a checkpoint signs: "pawl-audit-1 checkpoint <C> <head hex>". */
static size_t checkpoint_msg(char *buf, size_t cap, uint64_t covers, const uint8_t head[32])
{
    char hex[HASH_HEX + 1];
    pawl__hex(head, PAWL_AUDIT_HASH_LEN, hex);
    int r = snprintf(buf, cap, PAWL_AUDIT_FORMAT_ID " checkpoint %" PRIu64 " %s", covers, hex);
    return r > 0 && (size_t)r < cap ? (size_t)r : 0;
}

/* ---- writer ---------------------------------------------------------------- */

static bool kind_ok(const char *k, size_t n)
{
    if (n == 0 || n > PAWL_AUDIT_KIND_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
            return false;
    return true;
}

pawl_err pawl_audit_writer_init(struct pawl_audit_writer *w, const uint8_t pub[PAWL_AUDIT_KEY_LEN],
                                unsigned every_n, int64_t every_ms, pawl_audit_sign_fn sign,
                                void *sign_ctx)
{
    if (sign == NULL)
        return PAWL_EINVAL;
    memset(w, 0, sizeof *w);
    w->every_n = every_n ? every_n : PAWL_AUDIT_DEFAULT_EVERY_N;
    w->every_ms = every_ms ? every_ms : PAWL_AUDIT_DEFAULT_EVERY_MS;
    w->sign = sign;
    w->sign_ctx = sign_ctx;
    memcpy(w->pub, pub, PAWL_AUDIT_KEY_LEN);
    return PAWL_OK;
}

/* Writes the envelope up to and including "body":, then lets fill() write the
 * body, then hashes and closes the line. The writer advances on success. */
PAWL_MUST_CHECK static pawl_err emit_line(struct pawl_audit_writer *w, int64_t time_ms,
                                          const char *kind, const char *body, size_t n,
                                          struct pawl_audit_buf *out)
{
    char head[PAWL_AUDIT_OVERHEAD], prev[HASH_HEX + 1], hex[HASH_HEX + 1];
    uint8_t h[PAWL_AUDIT_HASH_LEN];
    size_t start = out->len;
    pawl_err e;
    struct pawl__out o = {head, 0, sizeof head, false};
    pawl__hex(w->head, PAWL_AUDIT_HASH_LEN, prev);
    pawl__out_cstr(&o, "{\"seq\":");
    pawl__out_u64(&o, w->seq);
    pawl__out_cstr(&o, ",\"time\":");
    pawl__out_i64(&o, time_ms);
    pawl__out_cstr(&o, ",\"kind\":\"");
    pawl__out_cstr(&o, kind);
    pawl__out_cstr(&o, "\",\"prev\":\"");
    pawl__out_put(&o, prev, HASH_HEX);
    pawl__out_cstr(&o, "\",\"body\":");
    if (o.full)
        return PAWL_ELIMIT;
    if ((e = buf_put(out, head, o.len)) != PAWL_OK || (e = buf_put(out, body, n)) != PAWL_OK)
        goto fail;
    if ((e = sha256(out->p + start, out->len - start, h)) != PAWL_OK)
        goto fail;
    pawl__hex(h, PAWL_AUDIT_HASH_LEN, hex);
    if ((e = buf_put(out, ",\"hash\":\"", 9)) != PAWL_OK || (e = buf_put(out, hex, HASH_HEX)) != PAWL_OK ||
        (e = buf_put(out, "\"}\n", 3)) != PAWL_OK)
        goto fail;
    memcpy(w->head, h, sizeof h);
    w->seq++;
    return PAWL_OK;
fail:
    out->len = start;
    return e;
}

PAWL_MUST_CHECK static pawl_err emit_checkpoint(struct pawl_audit_writer *w, int64_t time_ms,
                                                struct pawl_audit_buf *out,
                                                struct pawl_audit_emit *emit, struct pawl_diag *d)
{
    char msg[160], body[256], hex[HASH_HEX + 1], sigb[SIG_B64 + 1];
    uint8_t sig[PAWL_AUDIT_SIG_LEN];
    uint64_t covers = w->seq - 1;
    size_t mlen = checkpoint_msg(msg, sizeof msg, covers, w->head);
    size_t off = out->len;
    pawl_err e;
    if (mlen == 0 || w->sign(w->sign_ctx, (const uint8_t *)msg, mlen, sig) != PAWL_OK) {
        pawl__diagf(d, "audit", 0, 0, "checkpoint signing failed");
        return PAWL_ECRYPTO;
    }
    pawl__hex(w->head, PAWL_AUDIT_HASH_LEN, hex);
    pawl__b64url_encode(sig, sizeof sig, sigb);
    int r = snprintf(body, sizeof body, "{\"covers\":%" PRIu64 ",\"head\":\"%s\",\"sig\":\"%s\"}",
                     covers, hex, sigb);
    if (r <= 0 || (size_t)r >= sizeof body)
        return PAWL_ELIMIT;
    if ((e = emit_line(w, time_ms, "checkpoint", body, (size_t)r, out)) != PAWL_OK) {
        pawl__diagf(d, "audit", 0, 0, "checkpoint: %s", pawl_err_str(e));
        return e;
    }
    w->since_checkpoint = 0;
    w->last_checkpoint_ms = time_ms;
    if (emit != NULL) {
        emit->checkpoint = true;
        emit->cp_off = off;
        emit->cp_len = out->len - off;
    }
    return PAWL_OK;
}

pawl_err pawl_audit_genesis(struct pawl_audit_writer *w, int64_t time_ms, struct pawl_audit_buf *out,
                            struct pawl_diag *d)
{
    char body[sizeof genesis_prefix + KEY_B64 + 4];
    size_t n = sizeof genesis_prefix - 1;
    pawl_err e;
    if (w->seq != 0 || time_ms < 0) {
        pawl__diagf(d, "audit", 0, 0, w->seq ? "genesis on a started chain" : "negative time");
        return PAWL_EINVAL;
    }
    memcpy(body, genesis_prefix, n);
    n += pawl__b64url_encode(w->pub, PAWL_AUDIT_KEY_LEN, body + n);
    memcpy(body + n, "\"}", 2);
    n += 2;
    if ((e = emit_line(w, time_ms, "genesis", body, n, out)) != PAWL_OK) {
        pawl__diagf(d, "audit", 0, 0, "genesis: %s", pawl_err_str(e));
        return e;
    }
    w->since_checkpoint = 1;
    w->last_checkpoint_ms = time_ms;
    return PAWL_OK;
}

/* Parse body[0..n) as a JSON object and re-serialise it compactly into c. */
PAWL_MUST_CHECK static pawl_err canonical_body(const char *body, size_t n, struct pawl_audit_buf *c,
                                               struct pawl_diag *d)
{
    json_error_t jerr;
    json_t *j = NULL;
    pawl_err e = PAWL_EPARSE;
    if (n > PAWL_AUDIT_BODY_MAX) {
        pawl__diagf(d, "audit", 0, 0, "record body is %zu bytes, over the %u-byte limit", n,
                    PAWL_AUDIT_BODY_MAX);
        return PAWL_ELIMIT;
    }
    j = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        pawl__diagf(d, "audit", 0, (unsigned)jerr.column, "record body is not JSON: %s", jerr.text);
        goto out;
    }
    e = PAWL_EINVAL;
    if (!json_is_object(j)) {
        pawl__diagf(d, "audit", 0, 0, "record body is not a JSON object");
        goto out;
    }
    size_t need = json_dumpb(j, NULL, 0, JSON_COMPACT);
    e = PAWL_ELIMIT;
    if (need == 0 || need > PAWL_AUDIT_BODY_MAX) {
        pawl__diagf(d, "audit", 0, 0, "record body is over the %u-byte limit", PAWL_AUDIT_BODY_MAX);
        goto out;
    }
    if ((e = buf_reserve(c, need)) != PAWL_OK)
        goto out;
    c->len = json_dumpb(j, c->p, need, JSON_COMPACT);
    e = c->len == need ? PAWL_OK : PAWL_ENOMEM;
out:
    json_decref(j);
    return e;
}

/* A body already in compact form: one object, one line, within the limit. */
PAWL_MUST_CHECK static pawl_err dumped_body(const char *body, size_t n, struct pawl_audit_buf *c,
                                            struct pawl_diag *d)
{
    if (n > PAWL_AUDIT_BODY_MAX) {
        pawl__diagf(d, "audit", 0, 0, "record body is %zu bytes, over the %u-byte limit", n,
                    PAWL_AUDIT_BODY_MAX);
        return PAWL_ELIMIT;
    }
    if (n < 2 || body[0] != '{' || body[n - 1] != '}') {
        pawl__diagf(d, "audit", 0, 0, "record body is not a compact JSON object");
        return PAWL_EINVAL;
    }
    size_t bad = pawl__ctl_scan(body, n, false);
    if (bad < n) {
        pawl__diagf(d, "audit", 0, (unsigned)bad + 1, "record body holds a control byte");
        return PAWL_EINVAL;
    }
    c->p = (char *)(uintptr_t)body; /* borrowed: c is not freed by the caller below */
    c->len = n;
    return PAWL_OK;
}

static pawl_err append(struct pawl_audit_writer *w, int64_t time_ms, const char *kind,
                       const char *body, size_t n, bool dumped, struct pawl_audit_buf *out,
                       struct pawl_audit_emit *emit, struct pawl_diag *d);

pawl_err pawl_audit_append(struct pawl_audit_writer *w, int64_t time_ms, const char *kind,
                           const char *body, size_t n, struct pawl_audit_buf *out,
                           struct pawl_audit_emit *emit, struct pawl_diag *d)
{
    return append(w, time_ms, kind, body, n, false, out, emit, d);
}

pawl_err pawl_audit_append_dumped(struct pawl_audit_writer *w, int64_t time_ms, const char *kind,
                                  const char *body, size_t n, struct pawl_audit_buf *out,
                                  struct pawl_audit_emit *emit, struct pawl_diag *d)
{
    return append(w, time_ms, kind, body, n, true, out, emit, d);
}

static pawl_err append(struct pawl_audit_writer *w, int64_t time_ms, const char *kind,
                       const char *body, size_t n, bool dumped, struct pawl_audit_buf *out,
                       struct pawl_audit_emit *emit, struct pawl_diag *d)
{
    struct pawl_audit_writer saved = *w;
    struct pawl_audit_buf c;
    size_t klen = strnlen(kind, PAWL_AUDIT_KIND_MAX + 1), start = out->len;
    pawl_err e = PAWL_EINVAL;
    pawl_audit_buf_init(&c, PAWL_AUDIT_BODY_MAX);
    if (emit != NULL)
        emit->checkpoint = false;
    if (w->seq == 0 || time_ms < 0) {
        pawl__diagf(d, "audit", 0, 0, w->seq ? "negative record time" : "chain has no genesis");
        goto out;
    }
    if (!kind_ok(kind, klen) || strcmp(kind, "genesis") == 0 || strcmp(kind, "checkpoint") == 0) {
        pawl__diagf(d, "audit", 0, 0, "bad record kind (want [a-z_]{1,32}, not genesis/checkpoint)");
        goto out;
    }
    if ((e = dumped ? dumped_body(body, n, &c, d) : canonical_body(body, n, &c, d)) != PAWL_OK)
        goto out;
    if ((e = emit_line(w, time_ms, kind, c.p, c.len, out)) != PAWL_OK) {
        pawl__diagf(d, "audit", 0, 0, "record: %s", pawl_err_str(e));
        goto out;
    }
    w->since_checkpoint++;
    if (w->since_checkpoint >= w->every_n ||
        (w->every_ms >= 0 && time_ms - w->last_checkpoint_ms >= w->every_ms))
        e = emit_checkpoint(w, time_ms, out, emit, d);
out:
    if (e != PAWL_OK) {
        *w = saved;
        out->len = start;
        if (emit != NULL)
            emit->checkpoint = false;
    }
    if (!dumped)
        pawl_audit_buf_free(&c);
    return e;
}

pawl_err pawl_audit_append_decision(struct pawl_audit_writer *w, int64_t time_ms, const char *ocsf,
                                    size_t n, struct pawl_audit_buf *out,
                                    struct pawl_audit_emit *emit, struct pawl_diag *d)
{
    return pawl_audit_append(w, time_ms, "decision", ocsf, n, out, emit, d);
}

pawl_err pawl_audit_checkpoint(struct pawl_audit_writer *w, int64_t time_ms,
                               struct pawl_audit_buf *out, struct pawl_audit_emit *emit,
                               struct pawl_diag *d)
{
    struct pawl_audit_writer saved = *w;
    size_t start = out->len;
    if (emit != NULL)
        emit->checkpoint = false;
    if (w->seq == 0 || w->since_checkpoint == 0)
        return PAWL_OK;
    if (time_ms < 0) {
        pawl__diagf(d, "audit", 0, 0, "negative record time");
        return PAWL_EINVAL;
    }
    pawl_err e = emit_checkpoint(w, time_ms, out, emit, d);
    if (e != PAWL_OK) {
        *w = saved;
        out->len = start;
    }
    return e;
}

pawl_err pawl_audit_writer_resume(struct pawl_audit_writer *w, const struct pawl_audit_verifier *v)
{
    if (v->bad.fault != PAWL_AUDIT_OK || v->records == 0 ||
        !pawl__ct_eq(v->pub, w->pub, PAWL_AUDIT_KEY_LEN))
        return PAWL_EINVAL;
    w->seq = v->next_seq;
    memcpy(w->head, v->head, PAWL_AUDIT_HASH_LEN);
    w->since_checkpoint = v->unsigned_tail;
    w->last_checkpoint_ms = v->last_checkpoint_ms;
    return PAWL_OK;
}

/* ---- verifier -------------------------------------------------------------- */

struct rec {
    uint64_t seq;
    int64_t time;
    const char *kind;
    size_t klen;
    uint8_t prev[PAWL_AUDIT_HASH_LEN];
    const char *body;
    size_t blen;
    uint8_t hash[PAWL_AUDIT_HASH_LEN];
    size_t prefix_len; /* bytes covered by hash */
    bool seq_known;
};

struct cur {
    const char *p;
    size_t n, i;
};

static bool lit(struct cur *c, const char *s)
{
    size_t k = strlen(s);
    if (c->n - c->i < k || memcmp(c->p + c->i, s, k) != 0)
        return false;
    c->i += k;
    return true;
}

/* A canonical non-negative decimal (no sign, no leading zero) that fits int64. */
static bool num(struct cur *c, int64_t *out)
{
    size_t s = c->i;
    while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9' && c->i - s < 20)
        c->i++;
    size_t len = c->i - s;
    if (len == 0 || (len > 1 && c->p[s] == '0'))
        return false;
    return pawl__parse_i64(c->p + s, len, 0, INT64_MAX, out) == PAWL_OK;
}

/* 64 lower-case hex digits: one spelling per hash. */
static bool hex32(struct cur *c, uint8_t out[PAWL_AUDIT_HASH_LEN])
{
    if (c->n - c->i < HASH_HEX)
        return false;
    for (size_t k = 0; k < HASH_HEX; k++) {
        char ch = c->p[c->i + k];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
    }
    if (pawl__unhex(c->p + c->i, HASH_HEX, out, PAWL_AUDIT_HASH_LEN) != PAWL_OK)
        return false;
    c->i += HASH_HEX;
    return true;
}

/* Envelope only; *why is set when it returns false. */
static bool parse_record(const char *p, size_t n, struct rec *r, const char **why)
{
    struct cur c = { p, n, 0 };
    int64_t v;
    r->seq_known = false;
    if (n < SUFFIX_LEN + sizeof("{\"seq\":0,\"time\":0,\"kind\":\"k\",\"prev\":\"\",\"body\":{}") - 1 + HASH_HEX) {
        *why = "format: line too short for a record";
        return false;
    }
    if (!lit(&c, "{\"seq\":") || !num(&c, &v)) {
        *why = "format: expected {\"seq\":<decimal>";
        return false;
    }
    r->seq = (uint64_t)v;
    r->seq_known = true;
    if (!lit(&c, ",\"time\":") || !num(&c, &r->time)) {
        *why = "format: expected ,\"time\":<decimal>";
        return false;
    }
    if (!lit(&c, ",\"kind\":\"")) {
        *why = "format: expected ,\"kind\":";
        return false;
    }
    r->kind = p + c.i;
    while (c.i < n && ((p[c.i] >= 'a' && p[c.i] <= 'z') || p[c.i] == '_'))
        c.i++;
    r->klen = (size_t)(p + c.i - r->kind);
    if (!kind_ok(r->kind, r->klen) || !lit(&c, "\",\"prev\":\"") || !hex32(&c, r->prev) ||
        !lit(&c, "\",\"body\":")) {
        *why = "format: bad kind or prev (want [a-z_]{1,32} and 64 lower-case hex)";
        return false;
    }
    r->prefix_len = n - SUFFIX_LEN;
    if (c.i >= r->prefix_len) {
        *why = "format: empty body";
        return false;
    }
    r->body = p + c.i;
    r->blen = r->prefix_len - c.i;
    c.i = r->prefix_len;
    if (!lit(&c, ",\"hash\":\"") || !hex32(&c, r->hash) || !lit(&c, "\"}") || c.i != n) {
        *why = "format: line does not end with ,\"hash\":\"<64 lower-case hex>\"}";
        return false;
    }
    return true;
}

PAWL_PRINTF(5, 6)
static pawl_err fail(struct pawl_audit_report *rep, enum pawl_audit_fault f, uint64_t line,
                     const struct rec *r, const char *fmt, ...)
{
    rep->fault = f;
    rep->line = line;
    rep->seq_known = r != NULL && r->seq_known;
    rep->seq = rep->seq_known ? r->seq : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->what, sizeof rep->what, fmt, ap);
    va_end(ap);
    return PAWL_EINVAL;
}

static bool kind_is(const struct rec *r, const char *k)
{
    return r->klen == strlen(k) && memcmp(r->kind, k, r->klen) == 0;
}

/* {"covers":C,"head":"<hex>","sig":"<b64url>"}: covers == seq - 1, head == prev. */
PAWL_MUST_CHECK static pawl_err check_checkpoint_body(struct pawl_audit_verifier *v,
                                                      const struct rec *r, uint64_t line,
                                                      struct pawl_audit_report *rep)
{
    struct cur c = { r->body, r->blen, 0 };
    uint8_t head[PAWL_AUDIT_HASH_LEN], sig[PAWL_AUDIT_SIG_LEN];
    char msg[160];
    int64_t covers;
    size_t siglen = 0;
    if (!lit(&c, "{\"covers\":") || !num(&c, &covers) || !lit(&c, ",\"head\":\"") ||
        !hex32(&c, head) || !lit(&c, "\",\"sig\":\"") || c.n - c.i != SIG_B64 + 2 ||
        pawl__b64url_decode(c.p + c.i, SIG_B64, sig, sizeof sig, &siglen) != PAWL_OK ||
        siglen != sizeof sig || memcmp(c.p + c.i + SIG_B64, "\"}", 2) != 0)
        return fail(rep, PAWL_AUDIT_FORMAT, line, r,
                    "format: checkpoint body is not {\"covers\":C,\"head\":\"<hex>\",\"sig\":\"<b64url>\"}");
    if (r->seq == 0 || (uint64_t)covers != r->seq - 1 || !pawl__ct_eq(head, r->prev, sizeof head))
        return fail(rep, PAWL_AUDIT_CHECKPOINT, line, r,
                    "checkpoint covers %" PRId64 " / head do not match the previous record",
                    covers);
    size_t mlen = checkpoint_msg(msg, sizeof msg, (uint64_t)covers, head);
    if (mlen == 0 || !ed25519_verify(v->pkey, (const uint8_t *)msg, mlen, sig))
        return fail(rep, PAWL_AUDIT_SIGNATURE, line, r,
                    "bad checkpoint signature (forged, or signed by another key)");
    return PAWL_OK;
}

PAWL_MUST_CHECK static pawl_err check_genesis(struct pawl_audit_verifier *v, const struct rec *r,
                                              uint64_t line)
{
    char want[sizeof genesis_prefix + KEY_B64 + 4];
    size_t n = sizeof genesis_prefix - 1;
    memcpy(want, genesis_prefix, n);
    n += pawl__b64url_encode(v->pub, PAWL_AUDIT_KEY_LEN, want + n);
    memcpy(want + n, "\"}", 2);
    n += 2;
    if (r->blen == n && memcmp(r->body, want, n) == 0)
        return PAWL_OK;
    if (r->blen == n && memcmp(r->body, want, sizeof genesis_prefix - 1) == 0)
        return fail(&v->bad, PAWL_AUDIT_KEY, line, r,
                    "genesis key does not match the verification key");
    return fail(&v->bad, PAWL_AUDIT_FORMAT, line, r,
                "format: genesis body is not {\"format\":\"" PAWL_AUDIT_FORMAT_ID "\",\"key\":\"<b64url>\"}");
}

PAWL_MUST_CHECK static pawl_err check_body(struct pawl_audit_verifier *v, const struct rec *r,
                                           uint64_t line)
{
    if (r->seq == 0 && !kind_is(r, "genesis"))
        return fail(&v->bad, PAWL_AUDIT_GENESIS, line, r, "first record is not a genesis record");
    if (kind_is(r, "genesis")) {
        if (r->seq != 0)
            return fail(&v->bad, PAWL_AUDIT_GENESIS, line, r, "genesis record after seq 0");
        return check_genesis(v, r, line);
    }
    if (kind_is(r, "checkpoint"))
        return check_checkpoint_body(v, r, line, &v->bad);
    json_t *j = json_loadb(r->body, r->blen, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    if (!ok)
        return fail(&v->bad, PAWL_AUDIT_FORMAT, line, r, "format: body is not a JSON object");
    return PAWL_OK;
}

pawl_err pawl_audit_verifier_init(struct pawl_audit_verifier *v, const uint8_t pub[PAWL_AUDIT_KEY_LEN])
{
    memset(v, 0, sizeof *v);
    memcpy(v->pub, pub, PAWL_AUDIT_KEY_LEN);
    v->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, PAWL_AUDIT_KEY_LEN);
    return v->pkey != NULL ? PAWL_OK : PAWL_ECRYPTO;
}

void pawl_audit_verifier_free(struct pawl_audit_verifier *v)
{
    EVP_PKEY_free(v->pkey);
    v->pkey = NULL;
}

static void advance(struct pawl_audit_verifier *v, const struct rec *r, const uint8_t h[32])
{
    bool cp = kind_is(r, "checkpoint");
    v->records++;
    v->next_seq = r->seq + 1;
    memcpy(v->head, h, PAWL_AUDIT_HASH_LEN);
    v->last_seq = r->seq;
    v->last_is_checkpoint = cp;
    if (cp || r->seq == 0)
        v->last_checkpoint_ms = r->time;
    if (cp) {
        v->have_checkpoint = true;
        v->last_checkpoint_seq = r->seq;
        v->unsigned_tail = 0;
    } else {
        v->unsigned_tail++;
    }
}

pawl_err pawl_audit_verify_line(struct pawl_audit_verifier *v, const char *line, size_t n,
                                uint64_t lineno)
{
    struct rec r;
    const char *why = "";
    uint8_t h[PAWL_AUDIT_HASH_LEN];
    if (v->bad.fault != PAWL_AUDIT_OK)
        return PAWL_EINVAL;
    if (!parse_record(line, n, &r, &why))
        return fail(&v->bad, PAWL_AUDIT_FORMAT, lineno, &r, "%s", why);
    if (sha256(line, r.prefix_len, h) != PAWL_OK)
        return fail(&v->bad, PAWL_AUDIT_HASH, lineno, &r, "cannot compute SHA-256");
    if (!pawl__ct_eq(h, r.hash, sizeof h))
        return fail(&v->bad, PAWL_AUDIT_HASH, lineno, &r, "hash mismatch: record altered");
    if (r.seq > v->next_seq)
        return fail(&v->bad, PAWL_AUDIT_SEQ, lineno, &r,
                    "seq gap: expected seq %" PRIu64 " (records deleted or reordered)", v->next_seq);
    if (r.seq < v->next_seq)
        return fail(&v->bad, PAWL_AUDIT_SEQ, lineno, &r,
                    "seq repeats or goes back: expected seq %" PRIu64
                    " (record duplicated or reordered)", v->next_seq);
    if (!pawl__ct_eq(r.prev, v->head, sizeof h))
        return fail(&v->bad, PAWL_AUDIT_PREV, lineno, &r,
                    "prev is not the hash of the previous record (record inserted or replaced)");
    if (check_body(v, &r, lineno) != PAWL_OK)
        return PAWL_EINVAL;
    advance(v, &r, h);
    return PAWL_OK;
}

pawl_err pawl_audit_verify_finish(struct pawl_audit_verifier *v)
{
    if (v->bad.fault != PAWL_AUDIT_OK)
        return PAWL_EINVAL;
    if (v->records == 0) {
        v->bad.fault = PAWL_AUDIT_EMPTY;
        snprintf(v->bad.what, sizeof v->bad.what, "empty log: no genesis record");
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

pawl_err pawl_audit_check_checkpoint(struct pawl_audit_verifier *v, const char *line, size_t n,
                                     uint64_t *seq, struct pawl_audit_report *rep)
{
    struct pawl_audit_report local;
    struct rec r;
    const char *why = "";
    uint8_t h[PAWL_AUDIT_HASH_LEN];
    pawl_err e = PAWL_EINVAL;
    memset(&local, 0, sizeof local);
    if (!parse_record(line, n, &r, &why))
        e = fail(&local, PAWL_AUDIT_FORMAT, 1, &r, "%s", why);
    else if (sha256(line, r.prefix_len, h) != PAWL_OK || !pawl__ct_eq(h, r.hash, sizeof h))
        e = fail(&local, PAWL_AUDIT_HASH, 1, &r, "hash mismatch: checkpoint altered");
    else if (!kind_is(&r, "checkpoint"))
        e = fail(&local, PAWL_AUDIT_FORMAT, 1, &r, "not a checkpoint record");
    else if ((e = check_checkpoint_body(v, &r, 1, &local)) == PAWL_OK)
        *seq = r.seq;
    if (rep != NULL)
        *rep = local;
    return e;
}

const char *pawl_audit_fault_name(enum pawl_audit_fault f)
{
    switch (f) {
    case PAWL_AUDIT_OK: return "ok";
    case PAWL_AUDIT_FORMAT: return "format";
    case PAWL_AUDIT_HASH: return "hash";
    case PAWL_AUDIT_SEQ: return "seq";
    case PAWL_AUDIT_PREV: return "prev";
    case PAWL_AUDIT_GENESIS: return "genesis";
    case PAWL_AUDIT_KEY: return "key";
    case PAWL_AUDIT_SIGNATURE: return "signature";
    case PAWL_AUDIT_CHECKPOINT: return "checkpoint";
    case PAWL_AUDIT_EMPTY: return "empty";
    }
    return "unknown";
}
