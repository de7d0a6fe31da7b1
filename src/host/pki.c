/* pki.c: certificate requests checked, certificates and CRLs signed in a
 * PKCS#11 vault (pki.h). */
#include "pki.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* Writes the error; returns -1. */
static int say(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *const PROFILES[] = {"vehicle", "service", "dealer"};

int pawl_pki_profile_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, PROFILES[i]) == 0)
            return i;
    return -1;
}

const char *pawl_pki_profile_name(enum pawl_pki_profile p)
{
    return PROFILES[p];
}

bool pawl_pki_vin_ok(const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'O' && c != 'Q');
        if (!ok || i >= 17)
            return false;
    }
    return i == 17;
}

static bool alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A host name: dot-separated labels of letters, digits and inner '-'. */
static bool dns_ok(const char *s)
{
    size_t len = strlen(s), label = 0;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!alnum(s[i]) && !(s[i] == '-' && label > 0))
            return false;
        label++;
    }
    return true;
}

static bool dealer_ok(const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0'; i++)
        if (i >= 64 || !(alnum(s[i]) || (i > 0 && (s[i] == '.' || s[i] == '_' || s[i] == '-'))))
            return false;
    return i > 0;
}

static int key_ok(EVP_PKEY *k, char *err, size_t n)
{
    char group[32] = "";
    int bits = EVP_PKEY_get_bits(k);
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_ED25519: return 0;
    case EVP_PKEY_RSA:
        if (bits >= 2048 && bits <= 4096)
            return 0;
        return say(err, n, "an RSA key of %d bits (2048 to 4096 are accepted)", bits);
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(k, group, sizeof group, NULL) == 1 &&
            (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0))
            return 0;
        return say(err, n, "an EC key on %s (P-256 and P-384 are accepted)", group[0] ? group : "?");
    default:
        return say(err, n, "a %s key (Ed25519, EC P-256/P-384 and RSA are accepted)",
                    OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
    }
}

/* The one CN of name, as UTF-8 without NUL bytes. */
static int one_cn(const X509_NAME *name, char *cn, size_t cap, char *err, size_t n)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0)
        return say(err, n, "the subject has no CN");
    if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return say(err, n, "the subject has more than one CN");
    unsigned char *u = NULL;
    int len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (len < 0)
        return say(err, n, "the CN is not a valid string");
    bool bad = (size_t)len >= cap || memchr(u, '\0', (size_t)len) != NULL;
    if (!bad)
        memcpy(cn, u, (size_t)len + 1);
    OPENSSL_free(u);
    return bad ? say(err, n, "the CN is too long or holds a NUL byte") : 0;
}

static int cn_ok(enum pawl_pki_profile p, const char *cn, char *err, size_t n)
{
    bool ok = p == PAWL_PKI_VEHICLE ? pawl_pki_vin_ok(cn) : p == PAWL_PKI_SERVICE ? dns_ok(cn)
                                                                                  : dealer_ok(cn);
    static const char *const want[] = {
        "a VIN (17 characters of 0-9 and A-Z without I, O, Q)",
        "a host name (letters, digits, '-' and '.', no wildcard)",
        "a dealer tool id (up to 64 letters, digits, '.', '_' and '-')",
    };
    if (!ok)
        say(err, n, "the CN '%.80s' is not %s", cn, want[p]);
    return ok ? 0 : -1;
}

/* subjectAltName of a service request: DNS names of the CN's form only. */
static int san_ok(X509_EXTENSION *ext, struct pawl_pki_request *out, char *err, size_t n)
{
    GENERAL_NAMES *gens = X509V3_EXT_d2i(ext);
    int rc = gens ? 0 : say(err, n, "the subjectAltName cannot be parsed");
    for (int i = 0; rc == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const ASN1_IA5STRING *d = g->type == GEN_DNS ? g->d.dNSName : NULL;
        char name[PAWL_PKI_CN_MAX];
        if (g->type == GEN_IPADD) {
            rc = say(err, n, "the subjectAltName holds an IP address: only DNS names are issued "
                             "(name the service, e.g. localhost)");
            break;
        }
        if (d == NULL || d->length <= 0 || (size_t)d->length >= sizeof name) {
            rc = say(err, n, "the subjectAltName holds a name that is not a host name");
            break;
        }
        memcpy(name, d->data, (size_t)d->length);
        name[d->length] = '\0';
        if (strlen(name) != (size_t)d->length || !dns_ok(name))
            rc = say(err, n, "the subjectAltName DNS name '%.80s' is not a host name", name);
        else if (strcmp(name, out->cn) != 0 && out->ndns == PAWL_PKI_MAX_DNS)
            rc = say(err, n, "more than %d DNS names", PAWL_PKI_MAX_DNS);
        else if (strcmp(name, out->cn) != 0)
            memcpy(out->dns[out->ndns++], name, strlen(name) + 1);
    }
    GENERAL_NAMES_free(gens);
    return rc;
}

static int extensions_ok(X509_REQ *req, enum pawl_pki_profile p, struct pawl_pki_request *out,
                         char *err, size_t n)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    int rc = 0;
    for (int i = 0; rc == 0 && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
        if (nid == NID_subject_alt_name && p == PAWL_PKI_SERVICE)
            rc = san_ok(e, out, err, n);
        else
            rc = say(err, n, "the request asks for a %s extension; pawl sets the %s profile's own",
                     nid == NID_undef ? "unknown" : OBJ_nid2sn(nid), PROFILES[p]);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

int pawl_pki_check_csr(X509_REQ *req, enum pawl_pki_profile p, struct pawl_pki_request *out,
                       char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *key = X509_REQ_get0_pubkey(req);
    if (key == NULL)
        return say(err, n, "the request has no usable public key");
    if (key_ok(key, err, n) != 0)
        return -1;
    if (X509_REQ_verify(req, key) != 1)
        return say(err, n, "the request's signature does not verify with its key");
    if (one_cn(X509_REQ_get_subject_name(req), out->cn, sizeof out->cn, err, n) != 0 ||
        cn_ok(p, out->cn, err, n) != 0)
        return -1;
    if (p == PAWL_PKI_SERVICE) {
        memcpy(out->dns[0], out->cn, sizeof out->cn);
        out->ndns = 1;
    }
    return extensions_ok(req, p, out, err, n);
}

/* ---- signing in the vault -------------------------------------------------- */

/* A throw-away key of the vault key's kind: signing with it first makes
 * OpenSSL fill in both algorithm identifiers; the signature is replaced. */
static EVP_PKEY *stand_in(struct pawl_vault_key *k)
{
    return pawl_vault_key_type(k) == PAWL_VAULT_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                                                        : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static const EVP_MD *stand_in_md(struct pawl_vault_key *k)
{
    return pawl_vault_key_type(k) == PAWL_VAULT_ED25519 ? NULL : EVP_sha256();
}

/* The vault's signature over tbs, into the structure's signature field. */
static int put_signature(struct pawl_vault_key *k, const unsigned char *tbs, int tbslen,
                         const ASN1_BIT_STRING *field, char *err, size_t n)
{
    uint8_t raw[64];
    unsigned char *der = NULL;
    int len = 64;
    if (tbslen <= 0 || pawl_vault_sign(k, tbs, (size_t)tbslen, raw, err, n) != 0)
        return tbslen <= 0 ? say(err, n, "cannot encode the structure to sign") : -1;
    if (pawl_vault_key_type(k) == PAWL_VAULT_P256) { /* r||s as an ECDSA-Sig-Value */
        ECDSA_SIG *s = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(raw, 32, NULL), *sv = BN_bin2bn(raw + 32, 32, NULL);
        if (s == NULL || r == NULL || sv == NULL || ECDSA_SIG_set0(s, r, sv) != 1) {
            BN_free(r);
            BN_free(sv);
            ECDSA_SIG_free(s);
            return say(err, n, "out of memory");
        }
        len = i2d_ECDSA_SIG(s, &der);
        ECDSA_SIG_free(s);
    }
    /* the field belongs to the structure being built (OpenSSL has no setter) */
    ASN1_BIT_STRING *bits = (ASN1_BIT_STRING *)(uintptr_t)field;
    int ok = len > 0 && ASN1_BIT_STRING_set(bits, der ? der : raw, len) == 1;
    OPENSSL_free(der);
    return ok ? 0 : say(err, n, "cannot set the signature");
}

static int sign_x509(X509 *x, struct pawl_vault_key *k, EVP_PKEY *issuer_pub, char *err, size_t n)
{
    EVP_PKEY *tmp = stand_in(k);
    unsigned char *tbs = NULL;
    const ASN1_BIT_STRING *sig;
    int rc = -1;
    if (tmp != NULL && X509_sign(x, tmp, stand_in_md(k)) > 0) {
        int len = i2d_re_X509_tbs(x, &tbs);
        X509_get0_signature(&sig, NULL, x);
        rc = put_signature(k, tbs, len, sig, err, n);
    } else {
        say(err, n, "cannot prepare the certificate for signing");
    }
    if (rc == 0 && X509_verify(x, issuer_pub) != 1)
        rc = say(err, n, "the vault's signature does not verify with the issuer's key");
    OPENSSL_free(tbs);
    EVP_PKEY_free(tmp);
    return rc;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* subjectAltName from checked names, built as GENERAL_NAMEs (never parsed
 * from a string, so nothing in a name can add another). */
static int add_san(X509 *x, const struct pawl_pki_request *r)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int ok = gens != NULL;
    for (size_t i = 0; ok && i < r->ndns; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        ok = g && s && ASN1_STRING_set(s, r->dns[i], (int)strlen(r->dns[i])) == 1;
        if (ok) {
            GENERAL_NAME_set0_value(g, GEN_DNS, s);
            ok = sk_GENERAL_NAME_push(gens, g) > 0;
            if (!ok)
                GENERAL_NAME_free(g);
        } else {
            GENERAL_NAME_free(g);
            ASN1_IA5STRING_free(s);
        }
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok ? 0 : -1;
}

static int extensions(X509 *x, const struct pawl_pki_cert *c)
{
    static const char *const eku[] = {"clientAuth", "serverAuth,clientAuth", "clientAuth"};
    char bc[64];
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, c->issuer ? (X509 *)(uintptr_t)c->issuer : x, x, NULL, NULL, 0);
    if (c->ca_pathlen >= 0)
        snprintf(bc, sizeof bc, "critical,CA:TRUE,pathlen:%d", c->ca_pathlen);
    else
        snprintf(bc, sizeof bc, "critical,CA:FALSE");
    if (add_ext(x, &ctx, NID_basic_constraints, bc) != 0 ||
        add_ext(x, &ctx, NID_key_usage, c->ca_pathlen >= 0 ? "critical,keyCertSign,cRLSign"
                                                           : "critical,digitalSignature") != 0 ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0)
        return -1;
    if (c->ca_pathlen >= 0)
        return 0;
    if (add_ext(x, &ctx, NID_ext_key_usage, eku[c->profile]) != 0)
        return -1;
    return c->names && c->names->ndns > 0 ? add_san(x, c->names) : 0;
}

static int random_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[0] &= 0x7f; /* positive */
    b[0] |= 0x40; /* and 16 bytes long */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

X509 *pawl_pki_issue(const struct pawl_pki_cert *c, struct pawl_vault_key *k, char *err, size_t n)
{
    X509 *x = X509_new();
    const X509_NAME *issuer = c->issuer ? X509_get_subject_name(c->issuer) : c->subject;
    EVP_PKEY *issuer_pub = c->issuer ? X509_get0_pubkey(c->issuer) : c->pub;
    bool ok = x != NULL && X509_set_version(x, X509_VERSION_3) == 1 && random_serial(x) == 0 &&
              X509_set_subject_name(x, c->subject) == 1 && X509_set_issuer_name(x, issuer) == 1 &&
              X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &(time_t){(time_t)c->not_before}) &&
              X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &(time_t){(time_t)c->not_after}) &&
              X509_set_pubkey(x, c->pub) == 1 && extensions(x, c) == 0;
    if (!ok) {
        say(err, n, "cannot build the certificate");
        X509_free(x);
        return NULL;
    }
    if (sign_x509(x, k, issuer_pub, err, n) != 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* ---- CRLs ------------------------------------------------------------------- */

static int add_revoked(X509_CRL *crl, const struct pawl_pki_revoked *r)
{
    X509_REVOKED *rv = X509_REVOKED_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)r->at);
    ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
    bool ok = rv && t && reason && X509_REVOKED_set_serialNumber(rv, (ASN1_INTEGER *)(uintptr_t)r->serial) == 1 &&
              X509_REVOKED_set_revocationDate(rv, t) == 1 && ASN1_ENUMERATED_set(reason, r->reason) == 1 &&
              (r->reason == CRL_REASON_NONE ||
               X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, reason, 0, 0) == 1);
    ok = ok && X509_CRL_add0_revoked(crl, rv) == 1;
    if (!ok)
        X509_REVOKED_free(rv);
    ASN1_TIME_free(t);
    ASN1_ENUMERATED_free(reason);
    return ok ? 0 : -1;
}

static int sign_crl(X509_CRL *crl, struct pawl_vault_key *k, EVP_PKEY *issuer_pub, char *err, size_t n)
{
    EVP_PKEY *tmp = stand_in(k);
    unsigned char *tbs = NULL;
    const ASN1_BIT_STRING *sig;
    int rc = -1;
    if (tmp != NULL && X509_CRL_sign(crl, tmp, stand_in_md(k)) > 0) {
        int len = i2d_re_X509_CRL_tbs(crl, &tbs);
        X509_CRL_get0_signature(crl, &sig, NULL);
        rc = put_signature(k, tbs, len, sig, err, n);
    } else {
        say(err, n, "cannot prepare the CRL for signing");
    }
    if (rc == 0 && X509_CRL_verify(crl, issuer_pub) != 1)
        rc = say(err, n, "the vault's signature does not verify with the issuer's key");
    OPENSSL_free(tbs);
    EVP_PKEY_free(tmp);
    return rc;
}

X509_CRL *pawl_pki_crl(const X509 *issuer, const struct pawl_pki_revoked *r, size_t nr,
                       int64_t now, int64_t next, int64_t number, struct pawl_vault_key *k,
                       char *err, size_t n)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)now), *nxt = ASN1_TIME_set(NULL, (time_t)next);
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    X509V3_CTX ctx;
    bool ok = crl && last && nxt && num && X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1 &&
              X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1 &&
              X509_CRL_set1_lastUpdate(crl, last) == 1 && X509_CRL_set1_nextUpdate(crl, nxt) == 1 &&
              ASN1_INTEGER_set_int64(num, number) == 1 &&
              X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1;
    for (size_t i = 0; ok && i < nr; i++)
        ok = add_revoked(crl, &r[i]) == 0;
    if (ok) {
        X509V3_set_ctx(&ctx, (X509 *)(uintptr_t)issuer, NULL, NULL, crl, 0);
        X509_EXTENSION *aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
        ok = aki && X509_CRL_add_ext(crl, aki, -1) == 1 && X509_CRL_sort(crl) == 1;
        X509_EXTENSION_free(aki);
    }
    ASN1_TIME_free(last);
    ASN1_TIME_free(nxt);
    ASN1_INTEGER_free(num);
    if (!ok)
        say(err, n, "cannot build the CRL");
    if (!ok || sign_crl(crl, k, X509_get0_pubkey(issuer), err, n) != 0) {
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

int pawl_pki_pin(EVP_PKEY *pub, char out[PAWL_PKI_PIN_LEN])
{
    unsigned char *der = NULL, md[32];
    int len = i2d_PUBKEY(pub, &der);
    int ok = len > 0 && EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    if (!ok)
        return -1;
    memcpy(out, "sha256//", 8);
    return EVP_EncodeBlock((unsigned char *)out + 8, md, 32) == 44 ? 0 : -1;
}
