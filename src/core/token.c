/* see pawl/token.h */
#include "pawl/token.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "cbor.h" /* libpawl-edge's strict reader */
#include "pawl/edge_host.h"
#include "util.h"

#define WHERE "command token"

/* ---- a bounded deterministic CBOR writer -------------------------------------- */

struct w {
    uint8_t *p;
    size_t cap, n;
    bool over;
};

static void put(struct w *w, const void *b, size_t n)
{
    if (w->over || w->cap - w->n < n) {
        w->over = true;
        return;
    }
    memcpy(w->p + w->n, b, n);
    w->n += n;
}

/* The shortest head for a major type and argument (RFC 8949 §4.2.1). */
static void head(struct w *w, unsigned major, uint64_t v)
{
    uint8_t b[9];
    size_t len = v < 24 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    b[0] = (uint8_t)(major << 5 | (len == 0 ? v : len == 1 ? 24 : len == 2 ? 25 : len == 4 ? 26 : 27));
    for (size_t i = 0; i < len; i++)
        b[1 + i] = (uint8_t)(v >> (8 * (len - 1 - i)));
    put(w, b, 1 + len);
}

static void str(struct w *w, unsigned major, const void *s, size_t n)
{
    head(w, major, n);
    put(w, s, n);
}

static void text(struct w *w, const char *s)
{
    str(w, 3, s, strlen(s));
}

static void sint(struct w *w, int64_t v)
{
    if (v >= 0)
        head(w, 0, (uint64_t)v);
    else
        head(w, 1, (uint64_t)(-(v + 1)));
}

/* ---- claims --------------------------------------------------------------------- */

/* Deterministic order of text keys: by encoded bytes, i.e. shorter first,
 * then bytewise (the head grows with the length). */
static int key_cmp(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    size_t an = strlen(a), bn = strlen(b);
    return an != bn ? (an < bn ? -1 : 1) : memcmp(a, b, an);
}

/* The shortest of half, single and double that holds d exactly
 * (RFC 8949 §4.2.1), with the vehicle reader's own narrowing rules. */
static void put_real(struct w *w, double d)
{
    uint8_t b[9];
    uint64_t u;
    uint32_t f;
    uint16_t h;
    size_t len = 8;
    memcpy(&u, &d, sizeof u);
    if (pawl__float_double_to_single(u, &f))
        len = pawl__float_single_to_half(f, &h) ? 2 : 4;
    if (len == 2)
        u = h;
    else if (len == 4)
        u = f;
    b[0] = len == 2 ? 0xf9 : len == 4 ? 0xfa : 0xfb;
    for (size_t i = 0; i < len; i++)
        b[1 + i] = (uint8_t)(u >> (8 * (len - 1 - i)));
    put(w, b, 1 + len);
}

static pawl_err put_json(struct w *w, const json_t *v, unsigned depth, struct pawl_diag *d);

static pawl_err put_object(struct w *w, const json_t *o, unsigned depth, struct pawl_diag *d)
{
    const char *keys[PAWL_TOKEN_MAX_MAP];
    size_t n = 0;
    const char *k;
    const json_t *v;
    if (json_object_size(o) > PAWL_TOKEN_MAX_MAP) {
        pawl__diagf(d, WHERE, 0, 0, "args: an object has more than %d members", PAWL_TOKEN_MAX_MAP);
        return PAWL_ELIMIT;
    }
    json_object_foreach((json_t *)(uintptr_t)o, k, v) keys[n++] = k;
    qsort(keys, n, sizeof keys[0], key_cmp);
    head(w, 5, n);
    for (size_t i = 0; i < n; i++) {
        text(w, keys[i]);
        pawl_err e = put_json(w, json_object_get(o, keys[i]), depth + 1, d);
        if (e != PAWL_OK)
            return e;
    }
    return PAWL_OK;
}

static pawl_err put_json(struct w *w, const json_t *v, unsigned depth, struct pawl_diag *d)
{
    if ((json_is_object(v) || json_is_array(v)) && depth > PAWL_EDGE_MAX_DEPTH) {
        pawl__diagf(d, WHERE, 0, 0, "args nest deeper than the vehicle reads (%u levels)",
                    PAWL_EDGE_MAX_DEPTH);
        return PAWL_ELIMIT;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: return put_object(w, v, depth, d);
    case JSON_ARRAY:
        if (json_array_size(v) > PAWL_TOKEN_MAX_MAP) {
            pawl__diagf(d, WHERE, 0, 0, "args: an array has more than %d items", PAWL_TOKEN_MAX_MAP);
            return PAWL_ELIMIT;
        }
        head(w, 4, json_array_size(v));
        for (size_t i = 0; i < json_array_size(v); i++) {
            pawl_err e = put_json(w, json_array_get(v, i), depth + 1, d);
            if (e != PAWL_OK)
                return e;
        }
        return PAWL_OK;
    case JSON_STRING: str(w, 3, json_string_value(v), json_string_length(v)); return PAWL_OK;
    case JSON_INTEGER: sint(w, json_integer_value(v)); return PAWL_OK;
    case JSON_REAL: put_real(w, json_real_value(v)); return PAWL_OK;
    case JSON_TRUE: head(w, 7, 21); return PAWL_OK;
    case JSON_FALSE: head(w, 7, 20); return PAWL_OK;
    default: head(w, 7, 22); return PAWL_OK;
    }
}

static pawl_err check_claims(const struct pawl_token_claims *c, struct pawl_diag *d)
{
    if (!c->iss || !c->sub || !c->aud || !c->cmd || c->cmd[0] == '\0') {
        pawl__diagf(d, WHERE, 0, 0, "iss, sub, aud and a non-empty cmd are required");
        return PAWL_EINVAL;
    }
    if (strlen(c->aud) != PAWL_EDGE_VIN_LEN) {
        pawl__diagf(d, WHERE, 0, 0, "aud \"%s\" is not a 17-character VIN", c->aud);
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

pawl_err pawl_token_claims_encode(const struct pawl_token_claims *c, uint8_t *out, size_t cap,
                                  size_t *n, struct pawl_diag *d)
{
    pawl_err e = check_claims(c, d);
    if (e != PAWL_OK)
        return e;
    if (c->args != NULL && !json_is_object(c->args)) {
        pawl__diagf(d, WHERE, 0, 0, "args must be a JSON object");
        return PAWL_EINVAL;
    }
    struct w w = { out, cap, 0, false };
    head(&w, 5, c->args != NULL ? 9 : 8);
    sint(&w, 1), text(&w, c->iss);
    sint(&w, 2), text(&w, c->sub);
    sint(&w, 3), text(&w, c->aud);
    sint(&w, 4), head(&w, 0, c->exp);
    sint(&w, 6), head(&w, 0, c->iat);
    sint(&w, 7), str(&w, 2, c->cti, sizeof c->cti);
    sint(&w, -70001), text(&w, c->cmd);
    if (c->args != NULL) {
        sint(&w, -70002);
        /* the claims map is level 1 and args level 2 for the vehicle */
        if ((e = put_object(&w, c->args, 2, d)) != PAWL_OK)
            return e;
    }
    sint(&w, -70003), head(&w, 0, c->seq);
    if (w.over) {
        pawl__diagf(d, WHERE, 0, 0, "claims do not fit in %zu bytes", cap);
        return PAWL_ELIMIT;
    }
    /* Check with the vehicle's own strict reader (UTF-8 above all), so the
     * issuer never emits claims a vehicle refuses. */
    struct pawl__cbor r = { out, out + w.n };
    if (!pawl__cbor_skip(&r, 1)) {
        pawl__diagf(d, WHERE, 0, 0, "claims the vehicle would refuse (text that is not UTF-8?)");
        return PAWL_EINVAL;
    }
    *n = w.n;
    return PAWL_OK;
}

/* ---- signatures ------------------------------------------------------------------- */

static const uint8_t *prot_for(int alg)
{
    static const uint8_t eddsa[] = { 0xa1, 0x01, 0x27 }, es256[] = { 0xa1, 0x01, 0x26 };
    return alg == PAWL_EDGE_ALG_EDDSA ? eddsa : es256;
}

/* One COSE_Signature by s over payload, appended to w. */
static pawl_err add_signature(struct w *w, const uint8_t *payload, size_t n,
                              const struct pawl_signer *s, struct pawl_diag *d)
{
    uint8_t msg[PAWL_EDGE_WORK_SIZE], sig[PAWL_EDGE_SIG_LEN];
    const uint8_t *prot = prot_for(s->alg);
    size_t m = pawl_edge_sig_structure(prot, 3, payload, n, msg, sizeof msg);
    if (s->alg != PAWL_EDGE_ALG_EDDSA && s->alg != PAWL_EDGE_ALG_ES256) {
        pawl__diagf(d, WHERE, 0, 0, "signer alg %d is not -8 (EdDSA) or -7 (ES256)", s->alg);
        return PAWL_EINVAL;
    }
    if (m == 0) {
        pawl__diagf(d, WHERE, 0, 0, "payload of %zu bytes is too large", n);
        return PAWL_ELIMIT;
    }
    if (s->sign(s->ctx, msg, m, sig) != 0) {
        pawl__diagf(d, WHERE, 0, 0, "the signer failed");
        return PAWL_ECRYPTO;
    }
    head(w, 4, 3);
    str(w, 2, prot, 3);
    head(w, 5, 1), head(w, 0, 4), str(w, 2, s->kid, sizeof s->kid);
    str(w, 2, sig, sizeof sig);
    return PAWL_OK;
}

static pawl_err finish(const struct w *w, size_t *outn, struct pawl_diag *d)
{
    if (w->over || w->n > PAWL_EDGE_TOKEN_MAX) {
        pawl__diagf(d, WHERE, 0, 0, "token over %u bytes", PAWL_EDGE_TOKEN_MAX);
        return PAWL_ELIMIT;
    }
    *outn = w->n;
    return PAWL_OK;
}

pawl_err pawl_token_sign(const uint8_t *payload, size_t n, const struct pawl_signer *s,
                         uint8_t *out, size_t cap, size_t *outn, struct pawl_diag *d)
{
    static const uint8_t start[] = { 0xd8, 0x62, 0x84, 0x40, 0xa0 };
    struct w w = { out, cap, 0, false };
    put(&w, start, sizeof start);
    str(&w, 2, payload, n);
    head(&w, 4, 1);
    pawl_err e = add_signature(&w, payload, n, s, d);
    return e != PAWL_OK ? e : finish(&w, outn, d);
}

pawl_err pawl_token_cosign(const uint8_t *tok, size_t n, const struct pawl_signer *s,
                           uint8_t *out, size_t cap, size_t *outn, struct pawl_diag *d)
{
    struct pawl_edge_token t;
    const char *why;
    if (pawl_edge_token_parse(tok, n, &t, &why) != PAWL_EDGE_OK) {
        pawl__diagf(d, WHERE, 0, 0, "malformed token: %s", why);
        return PAWL_EPARSE;
    }
    for (unsigned i = 0; i < t.nsigs; i++)
        if (memcmp(t.sigs[i].kid, s->kid, PAWL_EDGE_KID_LEN) == 0) {
            pawl__diagf(d, WHERE, 0, 0, "this key already signed the token (signature %u)", i + 1);
            return PAWL_EINVAL;
        }
    if (t.nsigs == PAWL_EDGE_MAX_SIGS) {
        pawl__diagf(d, WHERE, 0, 0, "the token already has %u signatures", t.nsigs);
        return PAWL_ELIMIT;
    }
    /* Everything up to the signatures array, a new array head, the old
     * signatures (the array is the last item), then the new one. */
    struct w w = { out, cap, 0, false };
    put(&w, tok, (size_t)(t.sigs_at.p - tok));
    head(&w, 4, t.nsigs + 1);
    put(&w, t.sigs_at.p + 1, t.sigs_at.n - 1);
    pawl_err e = add_signature(&w, t.payload.p, t.payload.n, s, d);
    return e != PAWL_OK ? e : finish(&w, outn, d);
}

/* ---- OpenSSL signer ------------------------------------------------------------------ */

/* DER ECDSA-Sig-Value to 64-byte r||s. */
static int der_to_p1363(const uint8_t *der, size_t n, uint8_t out[PAWL_EDGE_SIG_LEN])
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    const BIGNUM *r, *s;
    if (es == NULL)
        return -1;
    ECDSA_SIG_get0(es, &r, &s);
    int ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
    ECDSA_SIG_free(es);
    return ok ? 0 : -1;
}

static int openssl_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[PAWL_EDGE_SIG_LEN])
{
    EVP_PKEY *key = ctx;
    bool ec = pawl_edge_openssl_alg(key) == PAWL_EDGE_ALG_ES256;
    uint8_t der[80];
    size_t len = ec ? sizeof der : PAWL_EDGE_SIG_LEN;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return -1;
    ERR_set_mark();
    bool ok = EVP_DigestSignInit_ex(c, NULL, ec ? "SHA256" : NULL, NULL, NULL, key, NULL) == 1 &&
              EVP_DigestSign(c, ec ? der : sig, &len, msg, n) == 1;
    ERR_pop_to_mark();
    EVP_MD_CTX_free(c);
    if (!ok)
        return -1;
    return ec ? der_to_p1363(der, len, sig) : (len == PAWL_EDGE_SIG_LEN ? 0 : -1);
}

static bool has_private(EVP_PKEY *key, int alg)
{
    size_t len = 0;
    BIGNUM *d = NULL;
    if (alg == PAWL_EDGE_ALG_EDDSA)
        return EVP_PKEY_get_raw_private_key(key, NULL, &len) == 1 && len > 0;
    ERR_set_mark();
    bool ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1;
    ERR_pop_to_mark();
    BN_clear_free(d);
    return ok;
}

pawl_err pawl_signer_openssl(EVP_PKEY *key, struct pawl_signer *s)
{
    memset(s, 0, sizeof *s);
    s->alg = pawl_edge_openssl_alg(key);
    if (s->alg == 0 || !has_private(key, s->alg))
        return PAWL_EINVAL;
    if (pawl_edge_openssl_kid(key, s->kid) != 0)
        return PAWL_ECRYPTO;
    s->sign = openssl_sign;
    s->ctx = key;
    return PAWL_OK;
}
