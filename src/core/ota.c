/* see pawl/ota.h: keys, signers, canonical JSON and signed documents.
 * The metadata builders are in ota_meta.c. */
#include "pawl/ota.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "tuf_internal.h" /* pawl__tuf_cjson: the encoder the TUF client verifies with */
#include "util.h"

#define WHERE "ota"

/* ---- keys ------------------------------------------------------------------------ */

enum kind { K_NONE, K_ED25519, K_ECDSA, K_RSA };

static enum kind kind_of(EVP_PKEY *k, struct pawl_diag *d)
{
    if (EVP_PKEY_is_a(k, "ED25519"))
        return K_ED25519;
    if (EVP_PKEY_is_a(k, "EC")) {
        char curve[64] = "";
        size_t n = 0;
        if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve,
                                           &n) != 1 ||
            strcmp(curve, "prime256v1") != 0) {
            ERR_clear_error();
            pawl__diagf(d, WHERE, 0, 0, "EC key on curve '%s': only P-256 (ecdsa-sha2-nistp256)",
                        curve);
            return K_NONE;
        }
        return K_ECDSA;
    }
    if (EVP_PKEY_is_a(k, "RSA")) {
        int bits = EVP_PKEY_get_bits(k);
        if (bits < PAWL_OTA_RSA_MIN_BITS || bits > PAWL_OTA_RSA_MAX_BITS) {
            pawl__diagf(d, WHERE, 0, 0, "RSA key of %d bits: %d..%d bits only", bits,
                        PAWL_OTA_RSA_MIN_BITS, PAWL_OTA_RSA_MAX_BITS);
            return K_NONE;
        }
        return K_RSA;
    }
    pawl__diagf(d, WHERE, 0, 0, "key type %s: only Ed25519, EC P-256 and RSA",
                EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "(unknown)");
    return K_NONE;
}

static const char *const keytypes[] = { "", "ed25519", "ecdsa", "rsa" };
static const char *const schemes[] = { "", "ed25519", "ecdsa-sha2-nistp256", "rsassa-pss-sha256" };

/* keyval.public: raw hex for Ed25519, PEM SubjectPublicKeyInfo otherwise. */
static json_t *public_value(EVP_PKEY *k, enum kind kd)
{
    if (kd == K_ED25519) {
        uint8_t raw[32];
        char hex[65];
        size_t n = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(k, raw, &n) != 1 || n != sizeof raw)
            return NULL;
        pawl__hex(raw, n, hex);
        return json_string(hex);
    }
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    json_t *v = NULL;
    if (b != NULL && PEM_write_bio_PUBKEY(b, k) == 1) {
        long n = BIO_get_mem_data(b, &p);
        if (n > 0)
            v = json_stringn(p, (size_t)n);
    }
    BIO_free(b);
    return v;
}

pawl_err pawl_ota_key_from_pkey(EVP_PKEY *key, json_t **out, struct pawl_diag *d)
{
    enum kind kd = kind_of(key, d);
    if (kd == K_NONE)
        return PAWL_EINVAL;
    json_t *pub = public_value(key, kd);
    if (pub == NULL) {
        ERR_clear_error();
        pawl__diagf(d, WHERE, 0, 0, "cannot export the %s public key", keytypes[kd]);
        return PAWL_ECRYPTO;
    }
    json_t *o = json_pack("{s:s, s:s, s:{s:o}}", "keytype", keytypes[kd], "scheme", schemes[kd],
                          "keyval", "public", pub);
    if (o == NULL) {
        pawl__diagf(d, WHERE, 0, 0, "out of memory");
        return PAWL_ENOMEM;
    }
    *out = o;
    return PAWL_OK;
}

pawl_err pawl_ota_keyid(const json_t *key, char out[PAWL_OTA_KEYID_LEN + 1], struct pawl_diag *d)
{
    const json_t *kv = json_object_get(key, "keyval");
    if (!json_is_string(json_object_get(key, "keytype")) ||
        !json_is_string(json_object_get(key, "scheme")) ||
        !json_is_string(json_object_get(kv, "public"))) {
        pawl__diagf(d, WHERE, 0, 0, "key: needs string keytype, scheme and keyval.public");
        return PAWL_EINVAL;
    }
    uint8_t *c, md[32];
    size_t n;
    pawl_err e = pawl_ota_canonical(key, &c, &n, d);
    if (e != PAWL_OK)
        return e;
    unsigned mdn = 0;
    int ok = EVP_Digest(c, n, md, &mdn, EVP_sha256(), NULL);
    free(c);
    if (ok != 1) {
        pawl__diagf(d, WHERE, 0, 0, "SHA-256 failed");
        return PAWL_ECRYPTO;
    }
    pawl__hex(md, sizeof md, out);
    return PAWL_OK;
}

/* ---- the OpenSSL signer -------------------------------------------------------------- */

static bool has_private(EVP_PKEY *k, enum kind kd)
{
    bool ok;
    if (kd == K_ED25519) {
        size_t n = 0;
        ok = EVP_PKEY_get_raw_private_key(k, NULL, &n) == 1 && n == 32;
    } else {
        BIGNUM *bn = NULL;
        ok = EVP_PKEY_get_bn_param(k, kd == K_RSA ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY,
                                   &bn) == 1;
        BN_clear_free(bn);
    }
    ERR_clear_error();
    return ok;
}

static int ossl_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t *sig, size_t *siglen)
{
    EVP_PKEY *k = ctx;
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ed = EVP_PKEY_is_a(k, "ED25519"), rsa = EVP_PKEY_is_a(k, "RSA");
    int rc = -1;
    if (mc == NULL || EVP_DigestSignInit(mc, &pc, ed ? NULL : EVP_sha256(), NULL, k) != 1)
        goto out;
    /* securesystemslib signs PSS with MGF1-SHA256 and a salt as long as the digest. */
    if (rsa && (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto out;
    /* *siglen is the capacity: OpenSSL refuses to write past it. */
    if (EVP_DigestSign(mc, sig, siglen, msg, n) == 1)
        rc = 0;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(mc);
    return rc;
}

static void ossl_release(void *ctx)
{
    EVP_PKEY_free(ctx);
}

pawl_err pawl_ota_signer_openssl(EVP_PKEY *key, struct pawl_ota_signer *s, struct pawl_diag *d)
{
    memset(s, 0, sizeof *s);
    enum kind kd = kind_of(key, d);
    if (kd == K_NONE)
        return PAWL_EINVAL;
    if (!has_private(key, kd)) {
        pawl__diagf(d, WHERE, 0, 0, "%s key: a private key is needed to sign", keytypes[kd]);
        return PAWL_EINVAL;
    }
    json_t *pub = NULL;
    pawl_err e = pawl_ota_key_from_pkey(key, &pub, d);
    if (e == PAWL_OK)
        e = pawl_ota_keyid(pub, s->keyid, d);
    if (e == PAWL_OK && EVP_PKEY_up_ref(key) != 1) {
        pawl__diagf(d, WHERE, 0, 0, "cannot hold a reference to the key");
        e = PAWL_ECRYPTO;
    }
    if (e != PAWL_OK) {
        json_decref(pub);
        memset(s, 0, sizeof *s);
        return e;
    }
    s->keytype = keytypes[kd];
    s->scheme = schemes[kd];
    s->public_key = pub;
    s->sign = ossl_sign;
    s->release = ossl_release;
    s->ctx = key;
    return PAWL_OK;
}

void pawl_ota_signer_clear(struct pawl_ota_signer *s)
{
    if (s == NULL)
        return;
    json_decref(s->public_key);
    if (s->release != NULL)
        s->release(s->ctx);
    memset(s, 0, sizeof *s);
}

/* ---- documents ---------------------------------------------------------------------- */

pawl_err pawl_ota_canonical(const json_t *v, uint8_t **out, size_t *n, struct pawl_diag *d)
{
    struct tuf_buf b = { 0 };
    char err[256];
    /* The encoder only reads v; it takes a non-const pointer for jansson's iterators. */
    if (pawl__tuf_cjson((json_t *)(uintptr_t)v, &b, err, sizeof err) != 0) {
        pawl__tuf_buf_free(&b);
        pawl__diagf(d, WHERE, 0, 0, "%s", err);
        return PAWL_EINVAL;
    }
    if (b.p == NULL && (b.p = malloc(1)) == NULL) {
        pawl__diagf(d, WHERE, 0, 0, "out of memory");
        return PAWL_ENOMEM;
    }
    *out = b.p;
    *n = b.n;
    return PAWL_OK;
}

static pawl_err check_signers(const struct pawl_ota_signer *const *signers, size_t n,
                              struct pawl_diag *d)
{
    if (n == 0 || n > PAWL_OTA_MAX_SIGNERS) {
        pawl__diagf(d, WHERE, 0, 0, "%zu signers: 1..%d", n, PAWL_OTA_MAX_SIGNERS);
        return PAWL_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (signers[i] == NULL || signers[i]->sign == NULL ||
            strlen(signers[i]->keyid) != PAWL_OTA_KEYID_LEN) {
            pawl__diagf(d, WHERE, 0, 0, "signer %zu has no keyid or no sign function", i + 1);
            return PAWL_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(signers[i]->keyid, signers[j]->keyid) == 0) {
                pawl__diagf(d, WHERE, 0, 0, "key %s signs twice", signers[i]->keyid);
                return PAWL_EINVAL;
            }
    }
    return PAWL_OK;
}

/* {"keyid", "sig"} of one signer over msg. */
static pawl_err one_signature(const struct pawl_ota_signer *s, const uint8_t *msg, size_t n,
                              json_t *sigs, struct pawl_diag *d)
{
    uint8_t sig[PAWL_OTA_SIG_MAX];
    char hex[2 * PAWL_OTA_SIG_MAX + 1];
    size_t len = sizeof sig;
    if (s->sign(s->ctx, msg, n, sig, &len) != 0 || len == 0 || len > sizeof sig) {
        pawl__diagf(d, WHERE, 0, 0, "key %s (%s) failed to sign", s->keyid,
                    s->scheme ? s->scheme : "?");
        return PAWL_ECRYPTO;
    }
    pawl__hex(sig, len, hex);
    if (json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid", s->keyid, "sig", hex)) != 0) {
        pawl__diagf(d, WHERE, 0, 0, "out of memory");
        return PAWL_ENOMEM;
    }
    return PAWL_OK;
}

pawl_err pawl_ota_sign(const json_t *signed_, const struct pawl_ota_signer *const *signers,
                       size_t nsigners, char **out, size_t *outn, struct pawl_diag *d)
{
    uint8_t *msg = NULL;
    size_t n;
    json_t *doc = NULL, *sigs = json_array();
    char *text = NULL;
    pawl_err e = PAWL_ENOMEM;
    if (!json_is_object(signed_)) {
        pawl__diagf(d, WHERE, 0, 0, "\"signed\" must be a JSON object");
        e = PAWL_EINVAL;
        goto out;
    }
    if ((e = check_signers(signers, nsigners, d)) != PAWL_OK ||
        (e = pawl_ota_canonical(signed_, &msg, &n, d)) != PAWL_OK)
        goto out;
    for (size_t i = 0; i < nsigners; i++)
        if ((e = one_signature(signers[i], msg, n, sigs, d)) != PAWL_OK)
            goto out;
    e = PAWL_ENOMEM;
    doc = json_pack("{s:O, s:O}", "signatures", sigs, "signed", signed_);
    if (doc == NULL || (text = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(1))) == NULL) {
        pawl__diagf(d, WHERE, 0, 0, "out of memory");
        goto out;
    }
    size_t len = strlen(text);
    char *t = realloc(text, len + 2);
    if (t == NULL) {
        pawl__diagf(d, WHERE, 0, 0, "out of memory");
        goto out;
    }
    t[len] = '\n';
    t[len + 1] = '\0';
    *out = t;
    *outn = len + 1;
    text = NULL;
    e = PAWL_OK;
out:
    free(text);
    free(msg);
    json_decref(doc);
    json_decref(sigs);
    return e;
}

pawl_err pawl_ota_expires(int64_t t, char out[PAWL_OTA_EXPIRES_LEN], struct pawl_diag *d)
{
    struct tm tm;
    time_t tt = (time_t)t;
    /* 253402300799 = 9999-12-31T23:59:59Z */
    if (t < 0 || t > 253402300799LL || (int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
        strftime(out, PAWL_OTA_EXPIRES_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) != PAWL_OTA_EXPIRES_LEN - 1) {
        pawl__diagf(d, WHERE, 0, 0, "expiry %lld is outside 1970..9999", (long long)t);
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

pawl_err pawl_ota_set_version(json_t *signed_, int64_t version, int64_t expires,
                              struct pawl_diag *d)
{
    char exp[PAWL_OTA_EXPIRES_LEN];
    pawl_err e;
    if (!json_is_object(signed_) || version < 1) {
        pawl__diagf(d, WHERE, 0, 0, "version %lld: must be >= 1 on a signed object",
                    (long long)version);
        return PAWL_EINVAL;
    }
    if ((e = pawl_ota_expires(expires, exp, d)) != PAWL_OK)
        return e;
    if (json_object_set_new(signed_, "version", json_integer(version)) != 0 ||
        json_object_set_new(signed_, "expires", json_string(exp)) != 0) {
        pawl__diagf(d, WHERE, 0, 0, "out of memory");
        return PAWL_ENOMEM;
    }
    return PAWL_OK;
}
