/* see pawl/jwt.h: JWT verification and the verified-token cache */
#include "jwt_internal.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>

#include "pawl/edge_host.h"

#define WAYS 8                               /* cache associativity */
#define TIME_MAX_S INT64_C(253402300799)     /* 9999-12-31T23:59:59Z */
#define WHERE "jwt"

_Static_assert(PAWL_R__COUNT < 256, "reason fits a byte");
_Static_assert(PAWL_JWT_CACHE_MAX % WAYS == 0, "cache bound is whole sets");
_Static_assert(PAWL_JWT_CACHE_MAX / WAYS < (1ull << 32), "cache_slot maps 32 bits onto the sets");

/* A verification result as the checks produce it. */
struct result {
    uint8_t reason;     /* result of the time-independent checks */
    uint8_t cacheable;  /* the signature was checked: the result is worth keeping */
    uint8_t has_nbf;
    union {
        struct pawl_principal p;          /* reason == ALLOWED */
        char msg[sizeof(struct pawl_principal)]; /* otherwise: why */
    } u;
};

/* A result in the cache, packed: the principal's strings (uid, org, session,
 * then each role, each NUL-terminated) or the message follow one another in
 * text, so a typical entry is four cache lines, not twelve. Strings that do
 * not fit go to spill (allocated with the entry's result, freed with it). */
#define ENTRY_BYTES 256
struct centry {
    uint32_t tok_n;     /* length of the token (its copy is in the set) */
    uint8_t reason, has_nbf, nroles, via;
    uint32_t role_mask;
    int64_t exp_ms, nbf_ms;
    char *spill;        /* NULL: the strings are in text */
    char text[ENTRY_BYTES - 40];
};
_Static_assert(sizeof(struct centry) == ENTRY_BYTES, "an entry is four cache lines");

/* A set's ways at a glance, in two cache lines: a lookup reads them and
 * then only the entry whose tag matches, not the head of every way. The set
 * and the tag come from a keyed 64-bit hash of the token's tail, so the set
 * can be loaded early, and then the matching entry and its copy of the
 * token at once (the copy's address is here, not in the entry). The
 * token's bytes, compared with the copy, decide a hit (for a refusal, the
 * token's SHA-256: cache_find). */
struct cset {
    uint32_t tag[WAYS];  /* the token hash's high half */
    uint32_t tick[WAYS]; /* last use (wrapping), for LRU within the set; 0 = empty */
    char *tok[WAYS];     /* each way's copy of its token, or its digest (heap); NULL when empty */
    uint64_t who[WAYS];  /* pawl_key_of(the principal's uid).h, 0 for a refusal: a hint */
};
_Static_assert(sizeof(struct cset) == 192, "a set header is three cache lines");

struct pawl_jwt_verifier {
    const struct pawl_jwks *keys;
    char *issuer, *audience, *roles_claim, *org_claim;
    int64_t leeway_ms;
    pawl_role_lookup_fn role_lookup;
    void *role_ctx;
    uint64_t seed;        /* secret: set index is unpredictable to a token forger */
    size_t nsets;         /* 0 = cache disabled */
    uint32_t tick;
    struct cset *sets;    /* nsets: the ways' tags, one cache line per set */
    struct centry *cache; /* nsets * WAYS */
    struct pawl_jwt_stats st;
};

static enum pawl_reason fail(struct result *r, enum pawl_reason why, const char *fmt, ...)
    PAWL_PRINTF(3, 4);
static enum pawl_reason fail(struct result *r, enum pawl_reason why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->u.msg, sizeof r->u.msg, fmt, ap);
    va_end(ap);
    r->reason = (uint8_t)why;
    return why;
}

/* ---- signature ---------------------------------------------------------- */

pawl_err pawl__jwt_sig_verify(enum pawl__jwt_alg alg, EVP_PKEY *key, const uint8_t *msg,
                              size_t msgn, const uint8_t *sig, size_t sign)
{
    static const char *const type[] = { "", "RSA", "EC", "ED25519" };
    uint8_t der[72];
    const char *md = alg == PAWL__ALG_EDDSA ? NULL : "SHA256";
    if (key == NULL || alg == PAWL__ALG_NONE || !EVP_PKEY_is_a(key, type[alg]))
        return PAWL_ECRYPTO;
    if (alg == PAWL__ALG_ES256) {
        if (sign != 64)
            return PAWL_ECRYPTO;
        sign = pawl_edge_p1363_to_der(sig, der);
        sig = der;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return PAWL_ENOMEM;
    /* Failures must not leave entries on the thread's error queue: the
     * gateway's TLS code reads it (SSL_get_error). */
    ERR_set_mark();
    bool ok = EVP_DigestVerifyInit_ex(c, NULL, md, NULL, NULL, key, NULL) == 1 &&
              EVP_DigestVerify(c, sig, sign, msg, msgn) == 1;
    ERR_pop_to_mark();
    EVP_MD_CTX_free(c);
    return ok ? PAWL_OK : PAWL_ECRYPTO;
}

/* Parse an object; *oom tells an allocation failure (not the token's fault,
 * and not to be cached) from bad input. */
static json_t *load_object(const uint8_t *b, size_t n, bool *oom)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, &je);
    *oom = j == NULL && json_error_code(&je) == json_error_out_of_memory;
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* ---- header ------------------------------------------------------------- */

/* Step 2 of pawl_jwt_verify; on success *key is the JWKS key (step 3). */
static enum pawl_reason check_header(const struct pawl_jwks *ks, json_t *hdr, struct result *r,
                                     enum pawl__jwt_alg *alg, const struct pawl__jwk **key)
{
    static const char *const embedded[] = { "jku", "x5u", "jwk", "x5c" };
    char shown[64];
    json_t *a = json_object_get(hdr, "alg"), *kid = json_object_get(hdr, "kid");
    if (!json_is_string(a))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "header has no string \"alg\"");
    *alg = pawl__jwt_alg_from(json_string_value(a), json_string_length(a));
    if (*alg == PAWL__ALG_NONE) {
        pawl__jwt_printable(shown, sizeof shown, json_string_value(a), json_string_length(a));
        return fail(r, PAWL_R_TOKEN_ALG_FORBIDDEN,
                    "alg \"%s\" is not accepted (RS256, ES256, EdDSA only)", shown);
    }
    for (size_t i = 0; i < sizeof embedded / sizeof embedded[0]; i++)
        if (json_object_get(hdr, embedded[i]) != NULL)
            return fail(r, PAWL_R_TOKEN_EMBEDDED_KEY,
                        "header carries \"%s\"; keys come only from the configured JWKS",
                        embedded[i]);
    if (json_object_get(hdr, "crit") != NULL)
        return fail(r, PAWL_R_TOKEN_MALFORMED, "header has \"crit\"; no extension is supported");
    if (kid == NULL)
        return fail(r, PAWL_R_TOKEN_KEY_UNKNOWN, "header has no \"kid\"");
    if (!json_is_string(kid))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "header \"kid\" is not a string");
    pawl__jwt_printable(shown, sizeof shown, json_string_value(kid), json_string_length(kid));
    *key = pawl__jwks_find(ks, json_string_value(kid), json_string_length(kid));
    if (*key == NULL)
        return fail(r, PAWL_R_TOKEN_KEY_UNKNOWN, "kid \"%s\" is not in the JWKS", shown);
    if ((*key)->alg != *alg)
        return fail(r, PAWL_R_TOKEN_KEY_UNKNOWN, "kid \"%s\" is not a key for alg %s", shown,
                    json_string_value(a));
    return PAWL_R_ALLOWED;
}

/* ---- claims ------------------------------------------------------------- */

/* A NumericDate in seconds (integer or not) to ms. Expiry rounds down and
 * not-before rounds up, so rounding never widens the validity window. */
static bool claim_time(json_t *c, bool round_up, int64_t *ms)
{
    if (json_is_integer(c)) {
        json_int_t s = json_integer_value(c);
        if (s < 0 || s > TIME_MAX_S)
            return false;
        *ms = (int64_t)s * 1000;
        return true;
    }
    if (!json_is_real(c))
        return false;
    double s = json_real_value(c);
    if (!isfinite(s) || s < 0 || s > (double)TIME_MAX_S)
        return false;
    *ms = (int64_t)(round_up ? ceil(s * 1000.0) : floor(s * 1000.0));
    return true;
}

/* Optional (or required) string claim into dst[PAWL_ID_MAX]. */
static bool claim_id(json_t *c, bool required, char *dst)
{
    if (c == NULL)
        return !required;
    if (!json_is_string(c) || json_string_length(c) >= PAWL_ID_MAX ||
        (required && json_string_length(c) == 0))
        return false;
    memcpy(dst, json_string_value(c), json_string_length(c) + 1);
    return true;
}

/* The roles claim: role_mask from all of them; the first PAWL_MAX_ROLES
 * names kept are those the policy knows, in token order, then the others,
 * so that the identity passed upstream names every role that can have
 * allowed the request (review finding: with eight unknown roles first, the
 * header named none of them). */
static bool claim_roles(const struct pawl_jwt_verifier *v, json_t *c, struct pawl_principal *p)
{
    uint64_t known = 0; /* bit i: element i is a role the policy knows (i < 64) */
    if (c == NULL)
        return true;
    if (!json_is_array(c) || json_array_size(c) > PAWL_JWT_ROLES_IN_TOKEN_MAX)
        return false;
    _Static_assert(PAWL_JWT_ROLES_IN_TOKEN_MAX <= 64, "one bit per element");
    for (size_t i = 0; i < json_array_size(c); i++) {
        json_t *e = json_array_get(c, i);
        size_t n = json_string_length(e);
        if (!json_is_string(e) || n >= PAWL_ROLE_MAX)
            return false;
        uint32_t bits = v->role_lookup ? v->role_lookup(v->role_ctx, json_string_value(e), n) : 0;
        p->role_mask |= bits;
        known |= (uint64_t)(bits != 0) << i;
    }
    for (int pass = 1; pass >= 0; pass--)
        for (size_t i = 0; i < json_array_size(c) && p->nroles < PAWL_MAX_ROLES; i++)
            if ((int)((known >> i) & 1) == pass) {
                json_t *e = json_array_get(c, i);
                memcpy(p->roles[p->nroles++], json_string_value(e), json_string_length(e) + 1);
            }
    return true;
}

/* Step 5: shapes of the claims, filling r->u.p. */
static enum pawl_reason claim_shapes(const struct pawl_jwt_verifier *v, json_t *pl,
                                     struct result *r)
{
    struct pawl_principal *p = &r->u.p;
    json_t *exp = json_object_get(pl, "exp"), *nbf = json_object_get(pl, "nbf");
    json_t *iat = json_object_get(pl, "iat");
    int64_t ignored;
    memset(p, 0, sizeof *p);
    if (!claim_id(json_object_get(pl, "sub"), true, p->uid))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "\"sub\" missing, empty, not a string or too long");
    if (exp == NULL || !claim_time(exp, false, &p->exp_ms))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "\"exp\" missing or not a valid time");
    if (nbf != NULL && !claim_time(nbf, true, &p->nbf_ms))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "\"nbf\" is not a valid time");
    if (iat != NULL && !claim_time(iat, false, &ignored))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "\"iat\" is not a valid time");
    if (!claim_id(json_object_get(pl, "jti"), false, p->session))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "\"jti\" is not a string or too long");
    if (!claim_id(json_object_get(pl, v->org_claim), false, p->org))
        return fail(r, PAWL_R_TOKEN_MALFORMED, "org claim is not a string or too long");
    if (!claim_roles(v, json_object_get(pl, v->roles_claim), p))
        return fail(r, PAWL_R_TOKEN_MALFORMED,
                    "roles claim is not an array of at most %d strings shorter than %d bytes",
                    PAWL_JWT_ROLES_IN_TOKEN_MAX, PAWL_ROLE_MAX);
    p->via = PAWL_AUTH_JWT;
    r->has_nbf = nbf != NULL;
    return PAWL_R_ALLOWED;
}

/* aud (RFC 7519 4.1.3): one string or an array of strings. */
static enum pawl_reason check_aud(const char *want, json_t *aud, struct result *r)
{
    if (json_is_string(aud) && strcmp(json_string_value(aud), want) == 0)
        return PAWL_R_ALLOWED;
    if (json_is_array(aud)) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(aud); i++) {
            json_t *e = json_array_get(aud, i);
            if (!json_is_string(e))
                return fail(r, PAWL_R_TOKEN_MALFORMED, "\"aud\" array holds a non-string");
            found = found || strcmp(json_string_value(e), want) == 0;
        }
        if (found)
            return PAWL_R_ALLOWED;
    } else if (aud != NULL && !json_is_string(aud)) {
        return fail(r, PAWL_R_TOKEN_MALFORMED, "\"aud\" is neither a string nor an array");
    }
    return fail(r, PAWL_R_TOKEN_WRONG_AUDIENCE, "\"aud\" does not include the expected audience");
}

/* Steps 5-7. */
static enum pawl_reason check_claims(const struct pawl_jwt_verifier *v, const uint8_t *b, size_t n,
                                     struct result *r)
{
    bool oom;
    json_t *pl = load_object(b, n, &oom);
    enum pawl_reason res;
    if (pl == NULL) {
        r->cacheable = !oom;
        res = oom ? fail(r, PAWL_R_DEPENDENCY_UNAVAILABLE, "out of memory parsing the payload")
                  : fail(r, PAWL_R_TOKEN_MALFORMED, "payload is not a JSON object");
        goto out;
    }
    res = claim_shapes(v, pl, r);
    if (res != PAWL_R_ALLOWED)
        goto out;
    json_t *iss = json_object_get(pl, "iss");
    if (v->issuer != NULL && !(json_is_string(iss) && strcmp(json_string_value(iss), v->issuer) == 0)) {
        res = fail(r, PAWL_R_TOKEN_WRONG_ISSUER, "\"iss\" is missing or not the expected issuer");
        goto out;
    }
    if (v->audience != NULL)
        res = check_aud(v->audience, json_object_get(pl, "aud"), r);
out:
    json_decref(pl);
    return res;
}

/* ---- verification -------------------------------------------------------- */

/* Steps 1-7 (everything but time) into r. Buffers live on the stack: a token
 * is at most PAWL_JWT_TOKEN_MAX bytes, so its three decoded parts fit in dec. */
static enum pawl_reason verify_uncached(struct pawl_jwt_verifier *v, const char *t, size_t n,
                                        struct result *r)
{
    uint8_t dec[PAWL_JWT_TOKEN_MAX];
    size_t hn, pn, sn;
    enum pawl__jwt_alg alg = PAWL__ALG_NONE;
    const struct pawl__jwk *key = NULL;
    const char *d1 = memchr(t, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - t)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - t)) != NULL)
        return fail(r, PAWL_R_TOKEN_MALFORMED, "not a compact JWS (three dot-separated parts)");
    size_t hlen = (size_t)(d1 - t), plen = (size_t)(d2 - d1 - 1), slen = n - (size_t)(d2 + 1 - t);
    uint8_t *hb = dec, *pb, *sb;
    if (pawl__b64url_decode(t, hlen, hb, sizeof dec, &hn) != PAWL_OK ||
        pawl__b64url_decode(d1 + 1, plen, pb = hb + hn, sizeof dec - hn, &pn) != PAWL_OK ||
        pawl__b64url_decode(d2 + 1, slen, sb = pb + pn, sizeof dec - hn - pn, &sn) != PAWL_OK)
        return fail(r, PAWL_R_TOKEN_MALFORMED, "a part is not strict base64url (no padding)");
    bool oom;
    json_t *hdr = load_object(hb, hn, &oom);
    enum pawl_reason res =
        hdr  ? check_header(v->keys, hdr, r, &alg, &key)
        : oom ? fail(r, PAWL_R_DEPENDENCY_UNAVAILABLE, "out of memory parsing the header")
              : fail(r, PAWL_R_TOKEN_MALFORMED, "header is not a JSON object");
    json_decref(hdr);
    if (res != PAWL_R_ALLOWED)
        return res;
    v->st.verifications++;
    pawl_err err = pawl__jwt_sig_verify(alg, key->pkey, (const uint8_t *)t, (size_t)(d2 - t), sb, sn);
    if (err == PAWL_ENOMEM)
        return fail(r, PAWL_R_DEPENDENCY_UNAVAILABLE, "out of memory checking the signature");
    r->cacheable = 1;
    if (err != PAWL_OK)
        return fail(r, PAWL_R_TOKEN_BAD_SIGNATURE, "signature does not verify with kid \"%s\"",
                    key->kid);
    return check_claims(v, pb, pn, r);
}

/* Steps 8-9: run on fresh results and on cache hits alike. */
static enum pawl_reason check_time(const struct pawl_jwt_verifier *v, int64_t exp_ms, bool has_nbf,
                                   int64_t nbf_ms, int64_t now_ms, struct pawl_diag *d)
{
    /* exp_ms and nbf_ms are within +-TIME_MAX_S * 1000 and the leeway within
     * an hour: neither sum below can overflow. */
    if (now_ms > exp_ms + v->leeway_ms) {
        pawl__diagf(d, WHERE, 0, 0, "expired at %lld ms (now %lld, leeway %lld)",
                    (long long)exp_ms, (long long)now_ms, (long long)v->leeway_ms);
        return PAWL_R_TOKEN_EXPIRED;
    }
    if (has_nbf && now_ms < nbf_ms - v->leeway_ms) {
        pawl__diagf(d, WHERE, 0, 0, "not valid before %lld ms (now %lld, leeway %lld)",
                    (long long)nbf_ms, (long long)now_ms, (long long)v->leeway_ms);
        return PAWL_R_TOKEN_NOT_YET_VALID;
    }
    return PAWL_R_ALLOWED;
}

/* A fresh result, uncached. */
static enum pawl_reason finish(const struct pawl_jwt_verifier *v, const struct result *r,
                               int64_t now_ms, struct pawl_principal *out, struct pawl_diag *d)
{
    if (r->reason != PAWL_R_ALLOWED) {
        pawl__diagf(d, WHERE, 0, 0, "%s", r->u.msg);
        return (enum pawl_reason)r->reason;
    }
    enum pawl_reason t = check_time(v, r->u.p.exp_ms, r->has_nbf, r->u.p.nbf_ms, now_ms, d);
    if (t == PAWL_R_ALLOWED)
        memcpy(out, &r->u.p, sizeof *out);
    return t;
}

/* ---- packed entries -------------------------------------------------------- */

static size_t put_str(char *dst, size_t at, const char *src)
{
    size_t n = strlen(src) + 1;
    if (dst != NULL)
        memcpy(dst + at, src, n);
    return at + n;
}

/* The strings of r one after another into dst (NULL: only count them). */
static size_t pack_strings(const struct result *r, char *dst)
{
    if (r->reason != PAWL_R_ALLOWED)
        return put_str(dst, 0, r->u.msg);
    size_t at = put_str(dst, 0, r->u.p.uid);
    at = put_str(dst, at, r->u.p.org);
    at = put_str(dst, at, r->u.p.session);
    for (unsigned i = 0; i < r->u.p.nroles; i++)
        at = put_str(dst, at, r->u.p.roles[i]);
    return at;
}

/* r into e (whose old spill, if any, the caller has freed). False when the
 * strings need a spill and memory is short: e is then left empty. */
static bool pack(struct centry *e, const struct result *r)
{
    size_t n = pack_strings(r, NULL);
    e->spill = NULL;
    if (n > sizeof e->text && (e->spill = malloc(n)) == NULL)
        return false;
    pack_strings(r, e->spill ? e->spill : e->text);
    e->reason = r->reason;
    e->has_nbf = r->has_nbf;
    if (r->reason != PAWL_R_ALLOWED) { /* u holds the message, not a principal */
        e->nroles = e->via = 0;
        e->role_mask = 0;
        e->exp_ms = e->nbf_ms = 0;
        return true;
    }
    e->nroles = (uint8_t)r->u.p.nroles;
    e->via = (uint8_t)r->u.p.via;
    e->role_mask = r->u.p.role_mask;
    e->exp_ms = r->u.p.exp_ms;
    e->nbf_ms = r->u.p.nbf_ms;
    return true;
}

/* Copy the NUL-terminated string at s into dst; the next string's start. */
static const char *get_str(const char *s, char *dst)
{
    size_t n = strlen(s) + 1;
    memcpy(dst, s, n);
    return s + n;
}

/* A cached result: the same answer, byte for byte, as finish() on the fresh
 * result it was packed from. */
static enum pawl_reason finish_entry(const struct pawl_jwt_verifier *v, const struct centry *e,
                                     int64_t now_ms, struct pawl_principal *out, struct pawl_diag *d)
{
    const char *s = e->spill ? e->spill : e->text;
    if (e->reason != PAWL_R_ALLOWED) {
        pawl__diagf(d, WHERE, 0, 0, "%s", s);
        return (enum pawl_reason)e->reason;
    }
    enum pawl_reason t = check_time(v, e->exp_ms, e->has_nbf, e->nbf_ms, now_ms, d);
    if (t != PAWL_R_ALLOWED)
        return t;
    memset(out, 0, sizeof *out); /* a fresh principal starts zeroed too (claim_shapes) */
    out->via = (enum pawl_auth_via)e->via;
    s = get_str(s, out->uid);
    s = get_str(s, out->org);
    s = get_str(s, out->session);
    for (unsigned i = 0; i < e->nroles; i++)
        s = get_str(s, out->roles[i]);
    out->nroles = e->nroles;
    out->role_mask = e->role_mask;
    out->exp_ms = e->exp_ms;
    out->nbf_ms = e->nbf_ms;
    return PAWL_R_ALLOWED;
}

/* ---- cache --------------------------------------------------------------- */

/* Where a token goes: its set and its tag, from a keyed hash (the seed is
 * secret, so a forger cannot aim tokens at one set) of its length and its
 * last SLOT_TAIL bytes. Those lie in the signature, which differs between
 * any two tokens an issuer signs, so hashing the rest would only cost time;
 * tokens a forger gives the same tail share a set and merely evict each
 * other. The token's bytes decide a hit. */
#define SLOT_TAIL 64
struct cslot {
    size_t set;
    uint32_t tag;
};

struct pawl_jwt_spot pawl_jwt_spot(const struct pawl_jwt_verifier *v, const char *t, size_t n)
{
    size_t k = n < SLOT_TAIL ? n : SLOT_TAIL;
    if (n == 0 || n > PAWL_JWT_TOKEN_MAX) /* verify refuses it before any lookup */
        return (struct pawl_jwt_spot){ 0, 0 };
    return (struct pawl_jwt_spot){ pawl__hash64(v->seed ^ n, t + n - k, k), n };
}

/* The set from the hash's low half by multiply and shift (a division costs
 * tens of cycles, and a lookup computes this four times), the tag from its
 * high half. nsets < 2^32. */
static struct cslot cache_slot(const struct pawl_jwt_verifier *v, struct pawl_jwt_spot sp)
{
    return (struct cslot){ (size_t)(((sp.x & 0xffffffffu) * v->nsets) >> 32), (uint32_t)(sp.x >> 32) };
}

/* Ticks wrap; 0 marks an empty way. */
static uint32_t next_tick(struct pawl_jwt_verifier *v)
{
    return ++v->tick != 0 ? v->tick : ++v->tick;
}

/* A hint: the lines of the entry whose tag matches in s's set, and those of
 * its copy of the token (n bytes, the presented token's length; at most
 * 1 KiB of it). Reads the set's lines. */
static void cache_warm(const struct pawl_jwt_verifier *v, struct cslot s, size_t n)
{
    const struct cset *set = &v->sets[s.set];
    for (size_t w = 0; w < WAYS; w++)
        if (set->tick[w] != 0 && set->tag[w] == s.tag) {
            const char *e = (const char *)&v->cache[s.set * WAYS + w];
            for (size_t off = 0; off < sizeof(struct centry); off += 64)
                __builtin_prefetch(e + off);
            for (size_t off = 0; set->tok[w] != NULL && off < n && off < 1024; off += 64)
                __builtin_prefetch(set->tok[w] + off);
        }
}

/* What a way keeps of its token: a copy for an allow; for a refusal only
 * the token's SHA-256, since anyone can send refusals (8 KiB forgeries with
 * a random signature), and copies of them held 8 KiB each (review finding:
 * 441 MiB for 65,536 of them). Tokens a worker allows are as many as the
 * issuer signs, and their hits stay a plain compare. */
#define DIGEST_LEN 32
static bool token_digest(const char *t, size_t n, uint8_t md[DIGEST_LEN])
{
    unsigned int len = 0;
    return EVP_Digest(t, n, md, &len, EVP_sha256(), NULL) == 1 && len == DIGEST_LEN;
}

/* The entry holding this very token. memcmp's timing is no concern: an
 * entry is compared only when the keyed hash of the presented token's tail
 * (its signature) matches the entry's set and tag, which a forger without
 * the token hits only by chance, and the leading bytes whose match the time
 * could show are the header and payload, which are not secret. A refusal's
 * entry is compared by digest, computed once per lookup when needed. */
static struct centry *cache_find(struct pawl_jwt_verifier *v, struct cslot s, const char *t,
                                 size_t n)
{
    struct cset *set = &v->sets[s.set];
    uint8_t md[DIGEST_LEN];
    int have_md = 0; /* 1: md holds t's digest; -1: it could not be made */
    for (size_t w = 0; w < WAYS; w++) {
        struct centry *e = &v->cache[s.set * WAYS + w];
        if (set->tick[w] == 0 || set->tag[w] != s.tag || e->tok_n != n)
            continue;
        bool same;
        if (e->reason == PAWL_R_ALLOWED) {
            same = memcmp(set->tok[w], t, n) == 0;
        } else {
            if (have_md == 0)
                have_md = token_digest(t, n, md) ? 1 : -1;
            same = have_md == 1 && memcmp(set->tok[w], md, DIGEST_LEN) == 0;
        }
        if (same) {
            set->tick[w] = next_tick(v);
            return e;
        }
    }
    return NULL;
}

/* The way a new entry takes: an empty one, else the least recently used.
 * A refusal, which anyone can send as many as they like (forgeries cost
 * nothing to make), takes only a refusal's way once REFUSAL_WAYS of the set
 * hold refusals, so that a flood of them cannot push out the tokens allowed
 * (review finding: each pushed-out token costs a signature check when its
 * holder comes back). */
#define REFUSAL_WAYS 2
static size_t cache_victim(const struct pawl_jwt_verifier *v, size_t si, bool allowed)
{
    const struct cset *set = &v->sets[si];
    bool refusal[WAYS];
    size_t w = WAYS, refusals = 0;
    for (size_t k = 0; k < WAYS; k++) {
        refusal[k] = set->tick[k] != 0 && v->cache[si * WAYS + k].reason != PAWL_R_ALLOWED;
        refusals += refusal[k];
    }
    bool among_refusals = !allowed && refusals >= REFUSAL_WAYS;
    for (size_t k = 0; k < WAYS; k++) {
        if (set->tick[k] == 0 && !among_refusals)
            return k;
        if (among_refusals && !refusal[k])
            continue;
        if (w == WAYS || (uint32_t)(v->tick - set->tick[k]) > (uint32_t)(v->tick - set->tick[w]))
            w = k; /* oldest: longest since its tick */
    }
    return w;
}

/* Store r in its set (cache_victim's way); NULL when memory is short (the
 * caller answers from r, uncached). */
static const struct centry *cache_put(struct pawl_jwt_verifier *v, struct cslot s, const char *t,
                                      size_t n, const struct result *r)
{
    struct cset *set = &v->sets[s.set];
    uint8_t md[DIGEST_LEN];
    bool allowed = r->reason == PAWL_R_ALLOWED;
    if (!allowed && !token_digest(t, n, md)) /* before the way is touched: it stays as it was */
        return NULL;
    size_t w = cache_victim(v, s.set, allowed);
    if (set->tick[w] != 0)
        v->st.evictions++;
    struct centry *e = &v->cache[s.set * WAYS + w];
    free(e->spill);
    e->spill = NULL;
    free(set->tok[w]);
    set->tok[w] = NULL;
    e->tok_n = 0;
    size_t keep = allowed ? n : DIGEST_LEN;
    if (!pack(e, r) || (set->tok[w] = malloc(keep)) == NULL) {
        free(e->spill);
        e->spill = NULL;
        set->tick[w] = 0;
        return NULL;
    }
    memcpy(set->tok[w], allowed ? (const void *)t : md, keep);
    e->tok_n = (uint32_t)n;
    set->who[w] = r->reason == PAWL_R_ALLOWED
                      ? pawl_key_of((pawl_str){ r->u.p.uid, strlen(r->u.p.uid) }).h : 0;
    set->tag[w] = s.tag;
    set->tick[w] = next_tick(v);
    return e;
}

void pawl_jwt_prefetch(const struct pawl_jwt_verifier *v, struct pawl_jwt_spot sp, int step)
{
    if (v->nsets == 0)
        return;
    struct cslot s = cache_slot(v, sp);
    if (step <= 1) {
        __builtin_prefetch(&v->sets[s.set]);
        __builtin_prefetch(&v->sets[s.set].tok);
        __builtin_prefetch(&v->sets[s.set].who);
    } else {
        cache_warm(v, s, sp.n);
    }
}

uint64_t pawl_jwt_principal_hint(const struct pawl_jwt_verifier *v, struct pawl_jwt_spot sp)
{
    if (v->nsets == 0 || sp.n == 0)
        return 0;
    struct cslot s = cache_slot(v, sp);
    const struct cset *set = &v->sets[s.set];
    for (size_t w = 0; w < WAYS; w++)
        if (set->tick[w] != 0 && set->tag[w] == s.tag)
            return set->who[w];
    return 0;
}

static enum pawl_reason verify(struct pawl_jwt_verifier *v, const char *token, size_t n,
                               struct pawl_jwt_spot sp, int64_t now_ms, struct pawl_principal *out,
                               struct pawl_diag *d)
{
    struct result r;
    struct cslot s = { 0, 0 };
    const struct centry *e = NULL;
    if (n == 0) {
        pawl__diagf(d, WHERE, 0, 0, "no token presented");
        return PAWL_R_UNAUTHENTICATED;
    }
    if (n > PAWL_JWT_TOKEN_MAX) {
        pawl__diagf(d, WHERE, 0, 0, "token is %zu bytes; at most %d allowed", n,
                    PAWL_JWT_TOKEN_MAX);
        return PAWL_R_TOKEN_MALFORMED;
    }
    if (v->nsets > 0) {
        s = cache_slot(v, sp);
        e = cache_find(v, s, token, n);
        if (e != NULL)
            v->st.hits++;
        else
            v->st.misses++;
    }
    if (e == NULL) {
        r.cacheable = 0;
        r.has_nbf = 0;
        r.reason = (uint8_t)verify_uncached(v, token, n, &r);
        if (r.cacheable && v->nsets > 0)
            e = cache_put(v, s, token, n, &r);
        if (e == NULL)
            return finish(v, &r, now_ms, out, d);
    }
    return finish_entry(v, e, now_ms, out, d);
}

enum pawl_reason pawl_jwt_verify(struct pawl_jwt_verifier *v, const char *token, size_t n,
                                 int64_t now_ms, struct pawl_principal *out, struct pawl_diag *d)
{
    return pawl_jwt_verify_at(v, token, n, pawl_jwt_spot(v, token, n), now_ms, out, d);
}

enum pawl_reason pawl_jwt_verify_at(struct pawl_jwt_verifier *v, const char *token, size_t n,
                                    struct pawl_jwt_spot sp, int64_t now_ms,
                                    struct pawl_principal *out, struct pawl_diag *d)
{
    enum pawl_reason r = verify(v, token, n, sp, now_ms, out, d);
    if (r != PAWL_R_ALLOWED) /* an allow wrote all of out; a deny leaves it empty */
        memset(out, 0, sizeof *out);
    return r;
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Copy an optional rule string; "" is refused (it would match nothing useful). */
static pawl_err rule_str(const char *s, const char *dflt, char **out)
{
    if (s == NULL)
        s = dflt;
    if (s == NULL)
        return PAWL_OK;
    if (*s == '\0')
        return PAWL_EINVAL;
    *out = pawl__strndup(s, strlen(s));
    return *out ? PAWL_OK : PAWL_ENOMEM;
}

static pawl_err verifier_init(struct pawl_jwt_verifier *v, const struct pawl_jwt_rules *rules,
                              size_t cache_entries)
{
    pawl_err err;
    if ((err = rule_str(rules->issuer, NULL, &v->issuer)) != PAWL_OK ||
        (err = rule_str(rules->audience, NULL, &v->audience)) != PAWL_OK ||
        (err = rule_str(rules->roles_claim, "roles", &v->roles_claim)) != PAWL_OK ||
        (err = rule_str(rules->org_claim, "org", &v->org_claim)) != PAWL_OK)
        return err;
    v->nsets = (cache_entries + WAYS - 1) / WAYS;
    if (v->nsets > 0 && ((v->cache = pawl__table_alloc(v->nsets * WAYS * sizeof *v->cache)) == NULL ||
                         (v->sets = pawl__table_alloc(v->nsets * sizeof *v->sets)) == NULL))
        return PAWL_ENOMEM;
    return PAWL_OK;
}

pawl_err pawl_jwt_verifier_new(const struct pawl_jwt_rules *rules, const struct pawl_jwks *keys,
                               size_t cache_entries, struct pawl_jwt_verifier **out)
{
    struct pawl_jwt_verifier *v = NULL;
    pawl_err err = PAWL_EINVAL;
    *out = NULL;
    if (rules == NULL || keys == NULL || rules->leeway_ms < 0 ||
        rules->leeway_ms > PAWL_JWT_LEEWAY_MAX_MS)
        goto out;
    err = PAWL_ELIMIT;
    if (cache_entries > PAWL_JWT_CACHE_MAX)
        goto out;
    err = PAWL_ENOMEM;
    v = calloc(1, sizeof *v);
    if (v == NULL)
        goto out;
    v->keys = keys;
    v->leeway_ms = rules->leeway_ms;
    v->role_lookup = rules->role_lookup;
    v->role_ctx = rules->role_ctx;
    v->seed = pawl__seed();
    err = verifier_init(v, rules, cache_entries);
    if (err == PAWL_OK) {
        *out = v;
        v = NULL;
    }
out:
    pawl_jwt_verifier_free(v);
    return err;
}

void pawl_jwt_verifier_free(struct pawl_jwt_verifier *v)
{
    if (v == NULL)
        return;
    free(v->issuer);
    free(v->audience);
    free(v->roles_claim);
    free(v->org_claim);
    for (size_t i = 0; v->cache != NULL && i < v->nsets * WAYS; i++) {
        free(v->cache[i].spill);
        if (v->sets != NULL)
            free(v->sets[i / WAYS].tok[i % WAYS]);
    }
    free(v->cache);
    free(v->sets);
    free(v);
}

void pawl_jwt_verifier_stats(const struct pawl_jwt_verifier *v, struct pawl_jwt_stats *out)
{
    *out = v->st;
}
