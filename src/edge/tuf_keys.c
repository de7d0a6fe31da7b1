/* TUF signature checks on Nettle (hogweed, GMP): ed25519, ecdsa P-256 and
 * rsassa-pss-sha256. Nettle keeps the TUF client's footprint small (see
 * docs/decisions/0013-tuf-client-footprint.md); keys in PEM are read with
 * Nettle's base64 decoder and DER iterator. No I/O. */
#include "tuf_internal.h"

#include <string.h>

#include <nettle/asn1.h>
#include <nettle/base64.h>
#include <nettle/bignum.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <nettle/eddsa.h>
#include <nettle/pss.h>
#include <nettle/rsa.h>
#include <nettle/sha2.h>

#define MAX_PUBLIC_KEY 16384 /* bytes of a key's "public" value */
#define MAX_SIG_HEX 2048     /* RSA-8192 is 2048 hex digits */
#define MAX_DER 4096         /* a decoded public key */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define RSA_MAX_E_BITS 64 /* as OpenSSL for large moduli: bounds the work */

static const char PEM_BEGIN[] = "-----BEGIN PUBLIC KEY-----";
static const char PEM_END[] = "-----END PUBLIC KEY-----";

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    size_t l = strlen(s);
    if (l % 2 != 0 || l / 2 > cap)
        return -1;
    for (size_t i = 0; i < l; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(d << 4);
        else
            out[i / 2] |= (uint8_t)d;
    }
    *n = l / 2;
    return 0;
}

static bool only_space(const char *p, const char *end)
{
    for (; p < end; p++)
        if (strchr(" \t\r\n", *p) == NULL)
            return false;
    return true;
}

/* The DER inside a PEM "PUBLIC KEY" block (SubjectPublicKeyInfo), with
 * nothing but white space around the block. */
static bool pem_der(const char *pem, uint8_t *der, size_t cap, size_t *n)
{
    const char *b = strstr(pem, PEM_BEGIN), *e = b ? strstr(b, PEM_END) : NULL;
    if (e == NULL || !only_space(pem, b) || !only_space(e + strlen(PEM_END), pem + strlen(pem)))
        return false;
    b += strlen(PEM_BEGIN);
    if (BASE64_DECODE_LENGTH((size_t)(e - b)) > cap) /* Nettle writes up to that much */
        return false;
    struct base64_decode_ctx ctx;
    size_t got = 0;
    base64_decode_init(&ctx);
    return base64_decode_update(&ctx, &got, der, (size_t)(e - b), b) == 1 &&
           base64_decode_final(&ctx) == 1 && (*n = got) > 0;
}

/* Whether the iterator is at an OBJECT IDENTIFIER with these contents. */
static bool is_oid(const struct asn1_der_iterator *i, const uint8_t *oid, size_t n)
{
    return i->type == ASN1_IDENTIFIER && i->length == n && memcmp(i->data, oid, n) == 0;
}

/* SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { algorithm OID, parameters },
 * BIT STRING key }, nothing after it. Leaves alg at the algorithm OID and
 * key, kn at the bit string's bytes (no unused bits allowed). */
static bool spki(const uint8_t *der, size_t n, struct asn1_der_iterator *alg,
                 const uint8_t **key, size_t *kn)
{
    struct asn1_der_iterator top, seq;
    if (asn1_der_iterator_first(&top, n, der) != ASN1_ITERATOR_CONSTRUCTED ||
        top.type != ASN1_SEQUENCE || top.pos != n ||
        asn1_der_decode_constructed(&top, &seq) != ASN1_ITERATOR_CONSTRUCTED ||
        seq.type != ASN1_SEQUENCE ||
        asn1_der_decode_constructed(&seq, alg) != ASN1_ITERATOR_PRIMITIVE ||
        alg->type != ASN1_IDENTIFIER ||
        asn1_der_iterator_next(&seq) != ASN1_ITERATOR_PRIMITIVE ||
        seq.type != ASN1_BITSTRING || seq.length < 2 || seq.data[0] != 0 ||
        asn1_der_iterator_next(&seq) != ASN1_ITERATOR_END)
        return false;
    *key = seq.data + 1;
    *kn = seq.length - 1;
    return true;
}

/* ---- ecdsa-sha2-nistp256 ------------------------------------------------ */

static const uint8_t OID_EC_PUBLIC_KEY[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t OID_P256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* An uncompressed P-256 point (04 || X || Y) that lies on the curve. */
static bool p256_point(const uint8_t *der, size_t n, struct ecc_point *pub)
{
    struct asn1_der_iterator alg;
    const uint8_t *key;
    size_t kn;
    if (!spki(der, n, &alg, &key, &kn) ||
        !is_oid(&alg, OID_EC_PUBLIC_KEY, sizeof OID_EC_PUBLIC_KEY) ||
        asn1_der_iterator_next(&alg) != ASN1_ITERATOR_PRIMITIVE ||
        !is_oid(&alg, OID_P256, sizeof OID_P256) ||
        asn1_der_iterator_next(&alg) != ASN1_ITERATOR_END || kn != 65 || key[0] != 0x04)
        return false;
    mpz_t x, y;
    mpz_init(x);
    mpz_init(y);
    nettle_mpz_set_str_256_u(x, 32, key + 1);
    nettle_mpz_set_str_256_u(y, 32, key + 33);
    bool ok = ecc_point_set(pub, x, y) == 1;
    mpz_clear(x);
    mpz_clear(y);
    return ok;
}

/* A DER ECDSA-Sig-Value: SEQUENCE { INTEGER r, INTEGER s }, exactly. */
static bool ecdsa_sig(const uint8_t *p, size_t n, struct dsa_signature *sig)
{
    struct asn1_der_iterator i;
    return asn1_der_iterator_first(&i, n, p) == ASN1_ITERATOR_CONSTRUCTED &&
           i.type == ASN1_SEQUENCE && i.pos == n &&
           asn1_der_decode_constructed_last(&i) == ASN1_ITERATOR_PRIMITIVE &&
           i.type == ASN1_INTEGER && asn1_der_get_bignum(&i, sig->r, 256) &&
           asn1_der_iterator_next(&i) == ASN1_ITERATOR_PRIMITIVE && i.type == ASN1_INTEGER &&
           asn1_der_get_bignum(&i, sig->s, 256) &&
           asn1_der_iterator_next(&i) == ASN1_ITERATOR_END;
}

static bool verify_p256(const uint8_t *der, size_t dn, const uint8_t *sig, size_t sn,
                        const uint8_t *msg, size_t n)
{
    struct ecc_point pub;
    struct dsa_signature s;
    struct sha256_ctx h;
    uint8_t digest[SHA256_DIGEST_SIZE];
    ecc_point_init(&pub, nettle_get_secp_256r1());
    dsa_signature_init(&s);
    bool ok = p256_point(der, dn, &pub) && ecdsa_sig(sig, sn, &s);
    if (ok) {
        sha256_init(&h);
        sha256_update(&h, n, msg);
        sha256_digest(&h, sizeof digest, digest);
        ok = ecdsa_verify(&pub, sizeof digest, digest, &s) == 1;
    }
    dsa_signature_clear(&s);
    ecc_point_clear(&pub);
    return ok;
}

/* ---- rsassa-pss-sha256 --------------------------------------------------- */

static const uint8_t OID_RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

/* RSAPublicKey inside an rsaEncryption SPKI (parameters NULL). */
static bool rsa_key(const uint8_t *der, size_t n, struct rsa_public_key *pub)
{
    struct asn1_der_iterator alg, k;
    const uint8_t *key;
    size_t kn;
    if (!spki(der, n, &alg, &key, &kn) || !is_oid(&alg, OID_RSA, sizeof OID_RSA) ||
        asn1_der_iterator_next(&alg) != ASN1_ITERATOR_PRIMITIVE || alg.type != ASN1_NULL ||
        alg.length != 0 || asn1_der_iterator_next(&alg) != ASN1_ITERATOR_END)
        return false;
    /* the bit string holds the RSAPublicKey's DER */
    if (asn1_der_iterator_first(&k, kn, key) != ASN1_ITERATOR_CONSTRUCTED || k.pos != kn ||
        !rsa_public_key_from_der_iterator(pub, RSA_MAX_BITS, &k))
        return false;
    size_t bits = mpz_sizeinbase(pub->n, 2);
    return bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS &&
           mpz_sizeinbase(pub->e, 2) <= RSA_MAX_E_BITS && mpz_odd_p(pub->e) &&
           mpz_cmp_ui(pub->e, 1) > 0;
}

/* PSS with MGF1-SHA256 and any salt length (what OpenSSL and
 * securesystemslib accept as "auto"): m = s^e mod n once, then the
 * encoding checked for each salt length the modulus leaves room for, the
 * digest's length (the usual choice) first. */
static bool verify_pss(const uint8_t *der, size_t dn, const uint8_t *sig, size_t sn,
                       const uint8_t *msg, size_t n)
{
    struct rsa_public_key pub;
    struct sha256_ctx h;
    uint8_t digest[SHA256_DIGEST_SIZE];
    mpz_t s, m;
    rsa_public_key_init(&pub);
    mpz_init(s);
    mpz_init(m);
    bool ok = rsa_key(der, dn, &pub) && sn == pub.size;
    if (ok) {
        nettle_mpz_set_str_256_u(s, sn, sig);
        ok = mpz_cmp(s, pub.n) < 0;
    }
    if (ok) {
        mpz_powm(m, s, pub.e, pub.n);
        sha256_init(&h);
        sha256_update(&h, n, msg);
        sha256_digest(&h, sizeof digest, digest);
        size_t em_bits = mpz_sizeinbase(pub.n, 2) - 1, em_len = (em_bits + 7) / 8;
        ok = pss_verify_mgf1(m, em_bits, &nettle_sha256, SHA256_DIGEST_SIZE, digest) == 1;
        for (size_t salt = 0; !ok && salt + SHA256_DIGEST_SIZE + 2 <= em_len; salt++)
            ok = salt != SHA256_DIGEST_SIZE &&
                 pss_verify_mgf1(m, em_bits, &nettle_sha256, salt, digest) == 1;
    }
    mpz_clear(m);
    mpz_clear(s);
    rsa_public_key_clear(&pub);
    return ok;
}

/* ---- key objects ------------------------------------------------------- */

enum scheme { SCHEME_NONE, SCHEME_ED25519, SCHEME_ECDSA_P256, SCHEME_RSA_PSS };

static enum scheme scheme_of(const json_t *k)
{
    const char *kt = json_string_value(json_object_get(k, "keytype"));
    const char *scheme = json_string_value(json_object_get(k, "scheme"));
    if (!strcmp(kt, "ed25519") && !strcmp(scheme, "ed25519"))
        return SCHEME_ED25519;
    if ((!strcmp(kt, "ecdsa") || !strcmp(kt, "ecdsa-sha2-nistp256")) &&
        !strcmp(scheme, "ecdsa-sha2-nistp256"))
        return SCHEME_ECDSA_P256;
    if (!strcmp(kt, "rsa") && !strcmp(scheme, "rsassa-pss-sha256"))
        return SCHEME_RSA_PSS;
    return SCHEME_NONE;
}

/* see tuf_internal.h */
bool pawl__tuf_sig_ok(const json_t *k, const char *sighex, const uint8_t *msg, size_t n)
{
    const char *pub = json_string_value(json_object_get(json_object_get(k, "keyval"), "public"));
    enum scheme sc = scheme_of(k);
    uint8_t sig[MAX_SIG_HEX / 2], der[MAX_DER];
    size_t sn, dn;
    if (sc == SCHEME_NONE || strlen(sighex) > MAX_SIG_HEX ||
        unhex(sighex, sig, sizeof sig, &sn) != 0 || sn == 0 || strlen(pub) > MAX_PUBLIC_KEY)
        return false;
    if (sc == SCHEME_ED25519) {
        uint8_t raw[ED25519_KEY_SIZE];
        return strlen(pub) == 2 * ED25519_KEY_SIZE && unhex(pub, raw, sizeof raw, &dn) == 0 &&
               sn == ED25519_SIGNATURE_SIZE && ed25519_sha512_verify(raw, n, msg, sig) == 1;
    }
    if (!pem_der(pub, der, sizeof der, &dn))
        return false;
    return sc == SCHEME_ECDSA_P256 ? verify_p256(der, dn, sig, sn, msg, n)
                                   : verify_pss(der, dn, sig, sn, msg, n);
}
