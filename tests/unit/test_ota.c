/* pawl/ota.h, the OEM side of TUF: keyids and signatures checked against
 * values computed independently (RFC 8032, Python's hashlib, OpenSSL's
 * verify), canonical bytes, hash-bin names, delegations and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "helper_keys.h"
#include "pawl/ota.h"
#include "util.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

/* A fixed Ed25519 seed (bytes 0..31); public key, signature of the empty
 * message and keyid computed with python3-cryptography and hashlib:
 * hashlib.sha256(b'{"keytype":"ed25519","keyval":{"public":"03a1...31b8"},"scheme":"ed25519"}') */
static const char rfc_sk[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char rfc_pk[] = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
static const char rfc_sig_empty[] =
    "9ca53579530654d5c3df77089ef45eda613e2fedf670e96bedac4639504e5845ef4b95d5793077233dd16817b2"
    "532e9c5525872a73a4ad74b759369a9e05c102";
static const char rfc_keyid[] = "63d00ee3cf4f5c61ad94efa696c68f13b608fe56ecea13fb144a6fd18e9235b9";

static EVP_PKEY *rfc_key(void)
{
    uint8_t sk[32];
    assert_int_equal(pawl__unhex(rfc_sk, 64, sk, sizeof sk), PAWL_OK);
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, sizeof sk);
    assert_non_null(k);
    return k;
}

static void keyid_known_answer(void **state)
{
    (void)state;
    EVP_PKEY *k = rfc_key();
    struct pawl_ota_signer s;
    struct pawl_diag d = { 0 };
    assert_int_equal(pawl_ota_signer_openssl(k, &s, &d), PAWL_OK);
    EVP_PKEY_free(k); /* the signer holds its own reference */
    assert_string_equal(s.keytype, "ed25519");
    assert_string_equal(s.scheme, "ed25519");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s.public_key, "keyval"),
                                                          "public")),
                        rfc_pk);
    assert_string_equal(s.keyid, rfc_keyid);
    /* Ed25519 is deterministic: the signature of the empty message. */
    uint8_t sig[PAWL_OTA_SIG_MAX];
    char hex[2 * 64 + 1];
    size_t n = sizeof sig;
    assert_int_equal(s.sign(s.ctx, (const uint8_t *)"", 0, sig, &n), 0);
    assert_int_equal(n, 64);
    pawl__hex(sig, n, hex);
    assert_string_equal(hex, rfc_sig_empty);
    pawl_ota_signer_clear(&s);
    pawl_ota_signer_clear(&s); /* a second clear is harmless */
}

static void canonical_bytes(void **state)
{
    (void)state;
    json_error_t je;
    json_t *v = json_loads("{\"b\": [1, true, null, \"q\\\"\\\\\\n\"], \"a\": {\"z\": -3, \"\\u00e9\": "
                           "\"\\u00e9\", \"y\": false}}",
                           0, &je);
    assert_non_null(v);
    uint8_t *c;
    size_t n;
    assert_int_equal(pawl_ota_canonical(v, &c, &n, NULL), PAWL_OK);
    static const char want[] = "{\"a\":{\"y\":false,\"z\":-3,\"\xc3\xa9\":\"\xc3\xa9\"},"
                               "\"b\":[1,true,null,\"q\\\"\\\\\n\"]}";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(c, want, n);
    free(c);
    json_decref(v);
    /* A real number has no canonical form. */
    struct pawl_diag d = { 0 };
    v = json_pack("{s:f}", "x", 1.5);
    assert_int_equal(pawl_ota_canonical(v, &c, &n, &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "real number"));
    json_decref(v);
}

/* Verifies hex sig over msg with the signer's own public key, as a client
 * holding only the key object would: PEM or raw Ed25519 from keyval. */
static void verify_with_openssl(const json_t *key, const uint8_t *msg, size_t n, const char *hex)
{
    const char *type = json_string_value(json_object_get(key, "keytype"));
    const char *pub = json_string_value(json_object_get(json_object_get(key, "keyval"), "public"));
    uint8_t sig[PAWL_OTA_SIG_MAX], raw[32];
    size_t sn = strlen(hex) / 2;
    EVP_PKEY *pk;
    assert_int_equal(pawl__unhex(hex, strlen(hex), sig, sn), PAWL_OK);
    if (strcmp(type, "ed25519") == 0) {
        assert_int_equal(pawl__unhex(pub, strlen(pub), raw, sizeof raw), PAWL_OK);
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, sizeof raw);
    } else {
        BIO *b = BIO_new_mem_buf(pub, -1);
        pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        BIO_free(b);
    }
    assert_non_null(pk);
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ed = strcmp(type, "ed25519") == 0;
    assert_int_equal(EVP_DigestVerifyInit(mc, &pc, ed ? NULL : EVP_sha256(), NULL, pk), 1);
    if (strcmp(type, "rsa") == 0) {
        /* exactly the salt length securesystemslib signs with: 32 */
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32), 1);
    }
    assert_int_equal(EVP_DigestVerify(mc, sig, sn, msg, n), 1);
    /* and a changed message does not verify */
    EVP_MD_CTX_free(mc);
    mc = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(mc, &pc, ed ? NULL : EVP_sha256(), NULL, pk), 1);
    if (strcmp(type, "rsa") == 0)
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
    assert_int_not_equal(EVP_DigestVerify(mc, sig, sn, msg, n - 1), 1);
    EVP_MD_CTX_free(mc);
    EVP_PKEY_free(pk);
}

static void sign_three_key_types(void **state)
{
    (void)state;
    EVP_PKEY *keys[3] = { pawl_test_keygen("ED25519", NULL, 0),
                          pawl_test_keygen("EC", "P-256", 0),
                          pawl_test_keygen("RSA", NULL, 2048) };
    static const char *const types[] = { "ed25519", "ecdsa", "rsa" };
    static const char *const schemes[] = { "ed25519", "ecdsa-sha2-nistp256", "rsassa-pss-sha256" };
    struct pawl_ota_signer s[3];
    const struct pawl_ota_signer *sp[3] = { &s[0], &s[1], &s[2] };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pawl_ota_signer_openssl(keys[i], &s[i], NULL), PAWL_OK);
        assert_string_equal(s[i].keytype, types[i]);
        assert_string_equal(s[i].scheme, schemes[i]);
        char id[PAWL_OTA_KEYID_LEN + 1];
        assert_int_equal(pawl_ota_keyid(s[i].public_key, id, NULL), PAWL_OK);
        assert_string_equal(id, s[i].keyid);
        const char *pub = json_string_value(
            json_object_get(json_object_get(s[i].public_key, "keyval"), "public"));
        if (i > 0)
            assert_non_null(strstr(pub, "-----BEGIN PUBLIC KEY-----\n"));
    }
    json_t *root = NULL;
    assert_int_equal(pawl_ota_root_new(1, T0, true, &root, NULL), PAWL_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pawl_ota_add_key(root, "root", s[i].public_key, NULL), PAWL_OK);
    char *doc;
    size_t n;
    assert_int_equal(pawl_ota_sign(root, sp, 3, &doc, &n, NULL), PAWL_OK);
    assert_int_equal(strlen(doc), n);
    assert_int_equal(doc[n - 1], '\n');
    json_error_t je;
    json_t *parsed = json_loads(doc, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(parsed);
    /* what is signed is the canonical form of "signed" as it was written */
    uint8_t *c;
    size_t cn;
    assert_true(json_equal(json_object_get(parsed, "signed"), root));
    assert_int_equal(pawl_ota_canonical(json_object_get(parsed, "signed"), &c, &cn, NULL), PAWL_OK);
    json_t *sigs = json_object_get(parsed, "signatures");
    assert_int_equal(json_array_size(sigs), 3);
    for (int i = 0; i < 3; i++) {
        json_t *sg = json_array_get(sigs, (size_t)i);
        assert_int_equal(json_object_size(sg), 2);
        assert_string_equal(json_string_value(json_object_get(sg, "keyid")), s[i].keyid);
        verify_with_openssl(s[i].public_key, c, cn,
                            json_string_value(json_object_get(sg, "sig")));
    }
    free(c);
    free(doc);
    json_decref(parsed);
    /* the same key twice, no signer */
    const struct pawl_ota_signer *twice[2] = { &s[0], &s[0] };
    struct pawl_diag d = { 0 };
    assert_int_equal(pawl_ota_sign(root, twice, 2, &doc, &n, &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "signs twice"));
    assert_int_equal(pawl_ota_sign(root, sp, 0, &doc, &n, &d), PAWL_EINVAL);
    json_decref(root);
    for (int i = 0; i < 3; i++) {
        pawl_ota_signer_clear(&s[i]);
        EVP_PKEY_free(keys[i]);
    }
}

static void refused_keys(void **state)
{
    (void)state;
    struct {
        EVP_PKEY *k;
        const char *why;
    } bad[] = {
        { pawl_test_keygen("RSA", NULL, 1024), "RSA key of 1024 bits" },
        { pawl_test_keygen("EC", "P-384", 0), "only P-256" },
        { pawl_test_keygen("X25519", NULL, 0), "only Ed25519, EC P-256 and RSA" },
    };
    struct pawl_ota_signer s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pawl_diag d = { 0 };
        json_t *j = NULL;
        assert_int_equal(pawl_ota_signer_openssl(bad[i].k, &s, &d), PAWL_EINVAL);
        assert_non_null(strstr(d.msg, bad[i].why));
        assert_null(s.public_key);
        assert_int_equal(pawl_ota_key_from_pkey(bad[i].k, &j, &d), PAWL_EINVAL);
        assert_null(j);
        EVP_PKEY_free(bad[i].k);
    }
    /* A public key alone can name a key but cannot sign. */
    EVP_PKEY *k = rfc_key(), *pub;
    uint8_t raw[32];
    size_t n = sizeof raw;
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &n), 1);
    pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, n);
    struct pawl_diag d = { 0 };
    json_t *j = NULL;
    char id[PAWL_OTA_KEYID_LEN + 1];
    assert_int_equal(pawl_ota_key_from_pkey(pub, &j, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_keyid(j, id, NULL), PAWL_OK);
    assert_string_equal(id, rfc_keyid);
    assert_int_equal(pawl_ota_signer_openssl(pub, &s, &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "private key is needed"));
    json_decref(j);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(k);
}

static void bins(void **state)
{
    (void)state;
    char name[64];
    struct {
        unsigned bits;
        uint32_t index;
        const char *want;
    } names[] = {
        { 1, 1, "bins-1" },         { 4, 15, "bins-f" },          { 5, 0, "bins-00" },
        { 8, 0x0a, "bins-0a" },     { 10, 0x3ff, "bins-3ff" },    { 9, 3, "bins-003" },
        { 16, 0xbeef, "bins-beef" }, { 32, 0x2c26b46b, "bins-2c26b46b" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_int_equal(pawl_ota_bin_name("bins", names[i].bits, names[i].index, name,
                                           sizeof name, NULL),
                         PAWL_OK);
        assert_string_equal(name, names[i].want);
    }
    assert_int_equal(pawl_ota_bin_name("bins", 8, 256, name, sizeof name, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_bin_name("bins", 0, 0, name, sizeof name, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_bin_name("bins", 33, 0, name, sizeof name, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_bin_name("bins", 8, 1, name, 7, NULL), PAWL_ELIMIT);
    /* sha256("foo") = 2c26b46b...; sha256("hello") = 2cf24dba... (hashlib) */
    assert_int_equal(pawl_ota_bin_index("foo", 32), 0x2c26b46bu);
    assert_int_equal(pawl_ota_bin_index("foo", 8), 0x2c);
    assert_int_equal(pawl_ota_bin_index("foo", 12), 0x2c2);
    assert_int_equal(pawl_ota_bin_index("foo", 1), 0);
    assert_int_equal(pawl_ota_bin_index("hello", 16), 0x2cf2);
    assert_int_equal(pawl_ota_bin_index("hello", 3), 1);
}

static json_t *key_json(EVP_PKEY *k)
{
    json_t *j = NULL;
    assert_int_equal(pawl_ota_key_from_pkey(k, &j, NULL), PAWL_OK);
    return j;
}

static void delegations(void **state)
{
    (void)state;
    EVP_PKEY *k1 = pawl_test_keygen("ED25519", NULL, 0);
    EVP_PKEY *k2 = pawl_test_keygen("EC", "P-256", 0);
    const json_t *keys[2] = { key_json(k1), key_json(k2) };
    json_t *t = NULL;
    struct pawl_diag d = { 0 };
    assert_int_equal(pawl_ota_targets_new(1, T0, &t, NULL), PAWL_OK);
    const char *paths[] = { "ecu/*/*.bin" }, *pre[] = { "2c2", "ff" };
    struct pawl_ota_delegation del = { "ecu", 2, paths, 1, NULL, 0, true };
    assert_int_equal(pawl_ota_delegate(t, &del, keys, 2, &d), PAWL_OK);
    json_t *r = json_array_get(json_object_get(json_object_get(t, "delegations"), "roles"), 0);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "ecu");
    assert_true(json_is_true(json_object_get(r, "terminating")));
    assert_int_equal(json_integer_value(json_object_get(r, "threshold")), 2);
    assert_int_equal(json_object_size(json_object_get(json_object_get(t, "delegations"), "keys")),
                     2);
    assert_true(pawl_ota_delegation_covers(r, "ecu/brake/fw.bin"));
    assert_false(pawl_ota_delegation_covers(r, "ecu/brake/x/fw.bin"));
    assert_false(pawl_ota_delegation_covers(r, "ecu/fw.bin"));
    assert_false(pawl_ota_delegation_covers(r, "ecu/brake/fw.img"));
    /* refusals leave the document unchanged */
    json_t *before = json_deep_copy(t);
    struct pawl_ota_delegation bad[] = {
        { "ecu", 1, paths, 1, NULL, 0, false },    /* taken */
        { "", 1, paths, 1, NULL, 0, false },       /* empty name */
        { "targets", 1, paths, 1, NULL, 0, false }, /* top-level */
        { "x", 1, paths, 1, pre, 2, false },       /* both */
        { "x", 1, NULL, 0, NULL, 0, false },       /* neither */
        { "x", 3, paths, 1, NULL, 0, false },      /* threshold > keys */
        { "x", 0, paths, 1, NULL, 0, false },      /* threshold 0 */
    };
    const char *bad_pre[] = { "2C" };
    struct pawl_ota_delegation upper = { "x", 1, NULL, 0, bad_pre, 1, false };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pawl_ota_delegate(t, &bad[i], keys, 2, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_delegate(t, &upper, keys, 2, &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "lowercase hex"));
    assert_int_equal(pawl_ota_delegate_bins(t, "bins", 4, keys, 1, 1, &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "not both"));
    assert_true(json_equal(t, before));
    /* hash prefixes */
    struct pawl_ota_delegation hp = { "by-hash", 1, NULL, 0, pre, 2, false };
    assert_int_equal(pawl_ota_delegate(t, &hp, keys + 1, 1, NULL), PAWL_OK);
    r = json_array_get(json_object_get(json_object_get(t, "delegations"), "roles"), 1);
    assert_true(pawl_ota_delegation_covers(r, "foo"));    /* 2c26..., prefix 2c2 */
    assert_false(pawl_ota_delegation_covers(r, "hello")); /* 2cf2... */
    assert_null(json_object_get(r, "paths"));
    /* keys, thresholds */
    const json_t *ids;
    int64_t th;
    char id1[PAWL_OTA_KEYID_LEN + 1];
    assert_int_equal(pawl_ota_keyid(keys[0], id1, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_remove_key(t, "ecu", id1, &d), PAWL_EINVAL); /* below 2 */
    assert_int_equal(pawl_ota_set_threshold(t, "ecu", 1, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_remove_key(t, "ecu", id1, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_role_keys(t, "ecu", &ids, &th, NULL), PAWL_OK);
    assert_int_equal(json_array_size(ids), 1);
    /* key 1 is no longer used by any role: gone from keys; key 2 stays */
    assert_int_equal(json_object_size(json_object_get(json_object_get(t, "delegations"), "keys")),
                     1);
    assert_int_equal(pawl_ota_role_keys(t, "nope", &ids, &th, NULL), PAWL_ENOTFOUND);
    json_decref(before);
    json_decref(t);
    /* succinct hash bins */
    assert_int_equal(pawl_ota_targets_new(1, T0, &t, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_delegate_bins(t, "bins", 0, keys, 1, 1, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_delegate_bins(t, "bins", 6, keys, 1, 1, NULL), PAWL_OK);
    json_t *sr = json_object_get(json_object_get(t, "delegations"), "succinct_roles");
    assert_int_equal(json_integer_value(json_object_get(sr, "bit_length")), 6);
    assert_string_equal(json_string_value(json_object_get(sr, "name_prefix")), "bins");
    assert_null(json_object_get(json_object_get(t, "delegations"), "roles"));
    assert_int_equal(pawl_ota_delegate(t, &hp, keys, 1, &d), PAWL_EINVAL);
    assert_int_equal(pawl_ota_add_key(t, NULL, keys[1], NULL), PAWL_OK);
    assert_int_equal(pawl_ota_set_threshold(t, NULL, 2, NULL), PAWL_OK);
    json_decref(t);
    for (int i = 0; i < 2; i++)
        json_decref((json_t *)(uintptr_t)keys[i]);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

static void names_and_paths(void **state)
{
    (void)state;
    char f[300];
    struct pawl_diag d = { 0 };
    assert_int_equal(pawl_ota_check_role_name("", &d), PAWL_EINVAL);
    assert_non_null(strstr(d.msg, "1..255 bytes"));
    assert_int_equal(pawl_ota_check_role_name("snapshot", NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_check_role_name("a\nb", NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_check_role_name("\xff", NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_check_role_name("../x", NULL), PAWL_OK);
    assert_int_equal(pawl_ota_role_filename("../x", 0, f, sizeof f, NULL), PAWL_OK);
    assert_string_equal(f, "..%2Fx.json");
    assert_int_equal(pawl_ota_role_filename("a b/ü~_-.", 7, f, sizeof f, NULL), PAWL_OK);
    assert_string_equal(f, "7.a%20b%2F%C3%BC~_-..json");
    assert_int_equal(pawl_ota_role_filename("", 0, f, sizeof f, NULL), PAWL_EINVAL);
    char longname[120];
    memset(longname, '/', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(pawl_ota_role_filename(longname, 0, f, sizeof f, &d), PAWL_ELIMIT);
    static const char *const bad[] = { "", "/a", "a/", "a//b", "./a", "a/../b", "..", "a\\b",
                                       "a\tb" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pawl_ota_check_target_path(bad[i], NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_check_target_path("ecu/brake/fw-1.2.bin", NULL), PAWL_OK);
    assert_int_equal(pawl_ota_check_target_path("..a/b..", NULL), PAWL_OK);
}

static void documents(void **state)
{
    (void)state;
    char e[PAWL_OTA_EXPIRES_LEN];
    assert_int_equal(pawl_ota_expires(0, e, NULL), PAWL_OK);
    assert_string_equal(e, "1970-01-01T00:00:00Z");
    assert_int_equal(pawl_ota_expires(T0, e, NULL), PAWL_OK);
    assert_string_equal(e, "2026-01-01T00:00:00Z");
    assert_int_equal(pawl_ota_expires(-1, e, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_expires(253402300800LL, e, NULL), PAWL_EINVAL);

    json_t *root = NULL, *t = NULL, *info = NULL, *snap = NULL, *ts = NULL;
    assert_int_equal(pawl_ota_root_new(0, T0, true, &root, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_root_new(3, T0, false, &root, NULL), PAWL_OK);
    uint8_t *c;
    size_t n;
    assert_int_equal(pawl_ota_canonical(root, &c, &n, NULL), PAWL_OK);
    static const char want_root[] =
        "{\"_type\":\"root\",\"consistent_snapshot\":false,\"expires\":\"2026-01-01T00:00:00Z\","
        "\"keys\":{},\"roles\":{\"root\":{\"keyids\":[],\"threshold\":1},\"snapshot\":{\"keyids\":"
        "[],\"threshold\":1},\"targets\":{\"keyids\":[],\"threshold\":1},\"timestamp\":{\"keyids\":"
        "[],\"threshold\":1}},\"spec_version\":\"1.0.31\",\"version\":3}";
    assert_int_equal(n, sizeof want_root - 1);
    assert_memory_equal(c, want_root, n);
    free(c);
    /* a threshold above the role's keys */
    assert_int_equal(pawl_ota_set_threshold(root, "targets", 1, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_add_key(root, "mirror", json_object_get(root, "keys"), NULL),
                     PAWL_ENOTFOUND);

    json_t *custom = json_pack("{s:s}", "hardware", "ecu-7");
    assert_int_equal(pawl_ota_file_info("hello", 5, custom, &info, NULL), PAWL_OK);
    json_decref(custom);
    assert_int_equal(json_integer_value(json_object_get(info, "length")), 5);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(info, "hashes"), "sha256")),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(info, "hashes"), "sha512"))), 128);
    assert_string_equal(json_string_value(json_object_get(json_object_get(info, "custom"),
                                                          "hardware")),
                        "ecu-7");
    assert_int_equal(pawl_ota_targets_new(1, T0, &t, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_targets_add(t, "a/hello.txt", info, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_targets_add(t, "../hello.txt", info, NULL), PAWL_EINVAL);
    assert_true(json_equal(json_object_get(json_object_get(t, "targets"), "a/hello.txt"), info));

    assert_int_equal(pawl_ota_snapshot_new(2, T0, &snap, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_meta_set(snap, "targets.json", 4, NULL, 0, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_meta_set(snap, "ecu.json", 0, NULL, 0, NULL), PAWL_EINVAL);
    assert_int_equal(pawl_ota_canonical(json_object_get(snap, "meta"), &c, &n, NULL), PAWL_OK);
    assert_memory_equal(c, "{\"targets.json\":{\"version\":4}}", n);
    free(c);
    assert_int_equal(pawl_ota_timestamp_new(9, T0, 2, "hello", 5, &ts, NULL), PAWL_OK);
    assert_int_equal(pawl_ota_canonical(json_object_get(ts, "meta"), &c, &n, NULL), PAWL_OK);
    static const char want_ts[] =
        "{\"snapshot.json\":{\"hashes\":{\"sha256\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7"
        "425e73043362938b9824\"},\"length\":5,\"version\":2}}";
    assert_int_equal(n, sizeof want_ts - 1);
    assert_memory_equal(c, want_ts, n);
    free(c);
    assert_string_equal(json_string_value(json_object_get(ts, "_type")), "timestamp");
    json_decref(root);
    json_decref(t);
    json_decref(info);
    json_decref(snap);
    json_decref(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keyid_known_answer), cmocka_unit_test(canonical_bytes),
        cmocka_unit_test(sign_three_key_types), cmocka_unit_test(refused_keys),
        cmocka_unit_test(bins), cmocka_unit_test(delegations),
        cmocka_unit_test(names_and_paths), cmocka_unit_test(documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
