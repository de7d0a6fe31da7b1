/* TUF signature checks (src/edge/tuf_keys.c, on Nettle) against keys and
 * signatures made by OpenSSL: every key type and salt length verifies,
 * changed messages and signatures do not, keys pawl must not trust count
 * for nothing, and on thousands of mutated signatures pawl and OpenSSL
 * give the same answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "helper_keys.h"
#include "tuf_internal.h"

static const uint8_t MSG[] = "{\"_type\":\"timestamp\",\"version\":7}";
#define MSG_N (sizeof MSG - 1)

/* A TUF key object for k: raw hex for Ed25519, PEM SPKI otherwise. */
static json_t *key_obj(EVP_PKEY *k, const char *keytype, const char *scheme)
{
    char pub[8192];
    if (EVP_PKEY_is_a(k, "ED25519")) {
        uint8_t raw[32];
        size_t n = sizeof raw;
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &n), 1);
        pawl__tuf_hex(raw, n, pub);
    } else {
        BIO *b = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
        int n = BIO_read(b, pub, sizeof pub - 1);
        assert_true(n > 0);
        pub[n] = '\0';
        BIO_free(b);
    }
    return json_pack("{s:s, s:s, s:{s:s}}", "keytype", keytype, "scheme", scheme, "keyval",
                     "public", pub);
}

static void pss(EVP_PKEY_CTX *pc, int salt)
{
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt), 1);
}

/* Signs msg with k (SHA-256 but for Ed25519; PSS salt length salt for
 * RSA); returns the signature's length. */
static size_t sign(EVP_PKEY *k, int salt, const uint8_t *msg, size_t n, uint8_t *sig, size_t cap)
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ed = EVP_PKEY_is_a(k, "ED25519");
    assert_int_equal(EVP_DigestSignInit(mc, &pc, ed ? NULL : EVP_sha256(), NULL, k), 1);
    if (EVP_PKEY_is_a(k, "RSA"))
        pss(pc, salt);
    size_t sn = cap;
    assert_int_equal(EVP_DigestSign(mc, sig, &sn, msg, n), 1);
    EVP_MD_CTX_free(mc);
    return sn;
}

/* OpenSSL's verdict, with what securesystemslib asks for RSA: any salt. */
static bool openssl_ok(EVP_PKEY *k, const uint8_t *sig, size_t sn, const uint8_t *msg, size_t n)
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ed = EVP_PKEY_is_a(k, "ED25519");
    assert_int_equal(EVP_DigestVerifyInit(mc, &pc, ed ? NULL : EVP_sha256(), NULL, k), 1);
    if (EVP_PKEY_is_a(k, "RSA"))
        pss(pc, RSA_PSS_SALTLEN_AUTO);
    bool ok = EVP_DigestVerify(mc, sig, sn, msg, n) == 1;
    EVP_MD_CTX_free(mc);
    return ok;
}

static bool pawl_ok(const json_t *key, const uint8_t *sig, size_t sn, const uint8_t *msg,
                    size_t n)
{
    char hex[2 * 1024 + 1];
    assert_true(sn <= 1024);
    pawl__tuf_hex(sig, sn, hex);
    return pawl__tuf_sig_ok(key, hex, msg, n);
}

/* sig verifies; a changed message, a changed byte anywhere in the
 * signature and a shortened signature do not. */
static void check_good(EVP_PKEY *k, const json_t *key, const uint8_t *sig, size_t sn)
{
    uint8_t bad[1024];
    assert_true(pawl_ok(key, sig, sn, MSG, MSG_N));
    assert_false(pawl_ok(key, sig, sn, MSG, MSG_N - 1));
    for (size_t i = 0; i < sn; i += sn / 8 + 1) {
        memcpy(bad, sig, sn);
        bad[i] ^= 0x01;
        assert_int_equal(pawl_ok(key, bad, sn, MSG, MSG_N), openssl_ok(k, bad, sn, MSG, MSG_N));
        assert_false(pawl_ok(key, bad, sn, MSG, MSG_N));
    }
    assert_false(pawl_ok(key, sig, sn - 1, MSG, MSG_N));
}

static void every_type_and_salt_verifies(void **state)
{
    (void)state;
    uint8_t sig[1024];
    struct {
        const char *type, *curve;
        size_t bits;
        const char *keytype, *scheme;
        int salt;
    } cases[] = {
        {"ED25519", NULL, 0, "ed25519", "ed25519", 0},
        {"EC", "P-256", 0, "ecdsa", "ecdsa-sha2-nistp256", 0},
        {"EC", "P-256", 0, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", 0},
        {"RSA", NULL, 2048, "rsa", "rsassa-pss-sha256", 32},
        {"RSA", NULL, 2048, "rsa", "rsassa-pss-sha256", 0},
        {"RSA", NULL, 2048, "rsa", "rsassa-pss-sha256", 20},
        {"RSA", NULL, 2048, "rsa", "rsassa-pss-sha256", RSA_PSS_SALTLEN_MAX},
        {"RSA", NULL, 3072, "rsa", "rsassa-pss-sha256", 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *k = pawl_test_keygen(cases[i].type, cases[i].curve, cases[i].bits);
        json_t *key = key_obj(k, cases[i].keytype, cases[i].scheme);
        size_t sn = sign(k, cases[i].salt, MSG, MSG_N, sig, sizeof sig);
        check_good(k, key, sig, sn);
        json_decref(key);
        EVP_PKEY_free(k);
    }
}

/* Keys whose signatures must count for nothing, though OpenSSL verifies
 * the signature itself. */
static void untrusted_keys_count_for_nothing(void **state)
{
    (void)state;
    uint8_t sig[1024];
    EVP_PKEY *p384 = pawl_test_keygen("EC", "P-384", 0);
    EVP_PKEY *rsa1024 = pawl_test_keygen("RSA", NULL, 1024);
    EVP_PKEY *ed = pawl_test_keygen("ED25519", NULL, 0);
    EVP_PKEY *p256 = pawl_test_keygen("EC", "P-256", 0);
    struct {
        EVP_PKEY *k;
        const char *keytype, *scheme;
    } cases[] = {
        {p384, "ecdsa", "ecdsa-sha2-nistp256"},   /* another curve */
        {rsa1024, "rsa", "rsassa-pss-sha256"},    /* too small */
        {p256, "rsa", "rsassa-pss-sha256"},       /* type and key disagree */
        {p256, "ecdsa", "ecdsa-sha2-nistp384"},   /* a scheme pawl does not verify */
        {ed, "ed25519", "ecdsa-sha2-nistp256"},   /* scheme of another type */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *key = key_obj(cases[i].k, cases[i].keytype, cases[i].scheme);
        size_t sn = sign(cases[i].k, 32, MSG, MSG_N, sig, sizeof sig);
        assert_true(openssl_ok(cases[i].k, sig, sn, MSG, MSG_N));
        assert_false(pawl_ok(key, sig, sn, MSG, MSG_N));
        json_decref(key);
    }
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(p256);
}

/* The key's "public" value, changed: text around the PEM block, another
 * block type, broken base64, a raw key of the wrong length. */
static void malformed_public_keys(void **state)
{
    (void)state;
    uint8_t sig[1024];
    EVP_PKEY *k = pawl_test_keygen("EC", "P-256", 0);
    json_t *key = key_obj(k, "ecdsa", "ecdsa-sha2-nistp256");
    size_t sn = sign(k, 0, MSG, MSG_N, sig, sizeof sig);
    json_t *keyval = json_object_get(key, "keyval");
    char pem[1024], bad[1100];
    snprintf(pem, sizeof pem, "%s", json_string_value(json_object_get(keyval, "public")));
    assert_true(pawl_ok(key, sig, sn, MSG, MSG_N));
    for (int i = 0; i < 4; i++) {
        if (i == 0)
            snprintf(bad, sizeof bad, "junk\n%s", pem); /* text before the block */
        else if (i == 1)
            snprintf(bad, sizeof bad, "%sjunk", pem); /* text after it */
        else /* cut inside the header, inside the base64 */
            snprintf(bad, sizeof bad, "%.*s", i == 2 ? 26 : 60, pem);
        json_object_set_new(keyval, "public", json_string(bad));
        assert_false(pawl_ok(key, sig, sn, MSG, MSG_N));
    }
    /* a block whose base64 would decode to more than a key can be (4.5 KiB):
     * refused before decoding (ASan watches the decoder's buffer) */
    char *big = malloc(9000);
    assert_non_null(big);
    int bn = snprintf(big, 9000, "-----BEGIN PUBLIC KEY-----\n");
    memset(big + bn, 'A', 6000);
    snprintf(big + bn + 6000, 9000 - (size_t)bn - 6000, "\n-----END PUBLIC KEY-----\n");
    json_object_set_new(keyval, "public", json_string(big));
    assert_false(pawl_ok(key, sig, sn, MSG, MSG_N));
    free(big);
    char *b64 = strchr(pem, '\n') + 1;
    b64[3] = '*'; /* not base64 */
    json_object_set_new(keyval, "public", json_string(pem));
    assert_false(pawl_ok(key, sig, sn, MSG, MSG_N));
    char *type = strstr(pem, "PUBLIC KEY");
    memcpy(type, "PUBLIC KEX", 10);
    json_object_set_new(keyval, "public", json_string(pem));
    assert_false(pawl_ok(key, sig, sn, MSG, MSG_N));
    json_decref(key);
    EVP_PKEY_free(k);

    EVP_PKEY *ed = pawl_test_keygen("ED25519", NULL, 0);
    key = key_obj(ed, "ed25519", "ed25519");
    sn = sign(ed, 0, MSG, MSG_N, sig, sizeof sig);
    keyval = json_object_get(key, "keyval");
    snprintf(bad, sizeof bad, "%s00", json_string_value(json_object_get(keyval, "public")));
    json_object_set_new(keyval, "public", json_string(bad));
    assert_false(pawl_ok(key, sig, sn, MSG, MSG_N));
    json_decref(key);
    EVP_PKEY_free(ed);
}

/* An Ed25519 signature whose S has the group order L added verifies the
 * same equation, but RFC 8032 (and OpenSSL) refuse S >= L. */
static void ed25519_noncanonical_s_refused(void **state)
{
    (void)state;
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                  0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                  0,    0,    0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0x10};
    uint8_t sig[64];
    EVP_PKEY *k = pawl_test_keygen("ED25519", NULL, 0);
    json_t *key = key_obj(k, "ed25519", "ed25519");
    assert_int_equal(sign(k, 0, MSG, MSG_N, sig, sizeof sig), 64);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) { /* S += L, little-endian */
        unsigned v = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t)v;
        carry = v >> 8;
    }
    assert_false(openssl_ok(k, sig, 64, MSG, MSG_N));
    assert_false(pawl_ok(key, sig, 64, MSG, MSG_N));
    json_decref(key);
    EVP_PKEY_free(k);
}

/* Random changes to good signatures (a byte changed, inserted or removed,
 * the length byte of the DER changed): pawl and OpenSSL agree on each. */
static void mutated_signatures_agree_with_openssl(void **state)
{
    (void)state;
    EVP_PKEY *keys[] = {pawl_test_keygen("EC", "P-256", 0), pawl_test_keygen("RSA", NULL, 2048),
                        pawl_test_keygen("ED25519", NULL, 0)};
    const char *types[][2] = {
        {"ecdsa", "ecdsa-sha2-nistp256"}, {"rsa", "rsassa-pss-sha256"}, {"ed25519", "ed25519"}};
    srand(7);
    for (size_t ki = 0; ki < 3; ki++) {
        json_t *key = key_obj(keys[ki], types[ki][0], types[ki][1]);
        uint8_t sig[1024], m[1025];
        size_t sn = sign(keys[ki], 32, MSG, MSG_N, sig, sizeof sig), agreed = 0;
        for (int round = 0; round < (ki == 1 ? 300 : 2000); round++) {
            size_t mn = sn, at = (size_t)rand() % sn;
            memcpy(m, sig, sn);
            switch (rand() % 4) {
            case 0:
                m[at] = (uint8_t)rand();
                break;
            case 1: /* insert, also after the end */
                at = (size_t)rand() % (sn + 1);
                memmove(m + at + 1, m + at, sn - at);
                m[at] = (uint8_t)rand();
                mn++;
                break;
            case 2: /* remove */
                memmove(m + at, m + at + 1, sn - at - 1);
                mn--;
                break;
            default:
                m[rand() % 4] = (uint8_t)rand();
            }
            bool want = openssl_ok(keys[ki], m, mn, MSG, MSG_N);
            assert_int_equal(pawl_ok(key, m, mn, MSG, MSG_N), want);
            agreed += !want;
        }
        assert_true(agreed > 0); /* the mutations did make bad signatures */
        json_decref(key);
        EVP_PKEY_free(keys[ki]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type_and_salt_verifies),
        cmocka_unit_test(untrusted_keys_count_for_nothing),
        cmocka_unit_test(malformed_public_keys),
        cmocka_unit_test(ed25519_noncanonical_s_refused),
        cmocka_unit_test(mutated_signatures_agree_with_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
