/* libpawl-edge command tokens: one test per reason code of COMMAND-TOKEN.md,
 * the strict CBOR reader, the issuing side, the trust-file loader, and the
 * Wycheproof vectors through the OpenSSL back end's verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor.h"
#include "helper_wycheproof.h"
#include "pawl/edge_host.h"
#include "pawl/token.h"

#define VIN "1HGCM82633A004352"
#define OTHER_VIN "5YJ3E1EA7JF000001"
#define T0 1767225600u
#define NOW (T0 + 10)

struct fx {
    EVP_PKEY *auth, *owner, *attacker;
    struct pawl_signer s_auth, s_owner, s_attacker;
    struct pawl_edge_trust trust;
    struct pawl_edge_mem_entry slots[8];
    struct pawl_edge_mem_store ms;
    struct pawl_edge_verifier v;
    struct pawl_edge_work work;
    struct pawl_edge_state st;
    struct pawl_edge_result r;
    uint8_t next_cti;
};

static char *pem_of(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *out;
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    long n = BIO_get_mem_data(b, &p);
    out = strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

static char *trust_json(EVP_PKEY *auth, EVP_PKEY *owner, const char *vin)
{
    char *a = pem_of(auth), *w = pem_of(owner);
    json_t *o = json_pack("{s:s, s:i, s:i, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}],"
                          " s:{s:[s,s], s:[s,s], s:[s]}, s:[s,s,s]}",
                          "vin", vin, "skew_s", 30, "max_lifetime_s", 120, "keys",
                          "role", "authority", "alg", "EdDSA", "spki_pem", a,
                          "role", "owner", "alg", "ES256", "spki_pem", w,
                          "require", "door.unlock", "authority", "owner", "engine.start", "authority",
                          "owner", "*", "authority", "stationary_only", "door.unlock",
                          "engine.start", "engine.stop");
    assert_non_null(o);
    char *s = json_dumps(o, 0);
    json_decref(o);
    free(a);
    free(w);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[512];
    f->auth = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    f->owner = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    f->attacker = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_int_equal(pawl_signer_openssl(f->auth, &f->s_auth), PAWL_OK);
    assert_int_equal(pawl_signer_openssl(f->owner, &f->s_owner), PAWL_OK);
    assert_int_equal(pawl_signer_openssl(f->attacker, &f->s_attacker), PAWL_OK);
    char *js = trust_json(f->auth, f->owner, VIN);
    if (pawl_edge_trust_load(js, strlen(js), "trust", &f->trust, err, sizeof err) != 0)
        fail_msg("%s", err);
    free(js);
    pawl_edge_mem_store_init(&f->ms, f->slots, 8);
    f->v.trust = &f->trust;
    f->v.crypto = pawl_edge_openssl_crypto();
    f->v.store = pawl_edge_mem_store(&f->ms);
    f->st.speed_known = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    pawl_edge_trust_release(&f->trust);
    EVP_PKEY_free(f->auth);
    EVP_PKEY_free(f->owner);
    EVP_PKEY_free(f->attacker);
    free(f);
    return 0;
}

/* Claims for cmd with a fresh cti, iat T0, a 60 s lifetime. */
static struct pawl_token_claims claims(struct fx *f, const char *cmd, uint64_t seq)
{
    struct pawl_token_claims c = { "pawl-authority", "user-42", VIN, cmd, T0 + 60, T0, seq,
                                   { 0 }, NULL };
    c.cti[0] = ++f->next_cti;
    c.cti[15] = 0xaa;
    return c;
}

/* A token over c signed by the NULL-terminated signer list. */
static size_t sign_list(const struct pawl_token_claims *c, uint8_t *out,
                        const struct pawl_signer *const *s)
{
    uint8_t payload[PAWL_EDGE_TOKEN_MAX], tmp[PAWL_EDGE_TOKEN_MAX];
    size_t pn, n;
    struct pawl_diag d;
    assert_int_equal(pawl_token_claims_encode(c, payload, sizeof payload, &pn, &d), PAWL_OK);
    assert_int_equal(pawl_token_sign(payload, pn, s[0], out, PAWL_EDGE_TOKEN_MAX, &n, &d), PAWL_OK);
    for (size_t i = 1; s[i] != NULL; i++) {
        assert_int_equal(pawl_token_cosign(out, n, s[i], tmp, sizeof tmp, &n, &d), PAWL_OK);
        memcpy(out, tmp, n);
    }
    return n;
}

static enum pawl_edge_reason verify_at(struct fx *f, const uint8_t *t, size_t n, uint64_t now)
{
    return pawl_edge_token_verify(&f->v, t, n, now, &f->st, &f->work, &f->r);
}

static enum pawl_edge_reason verify(struct fx *f, const uint8_t *t, size_t n)
{
    return verify_at(f, t, n, NOW);
}

#define AUTH(f) ((const struct pawl_signer *const[]){ &(f)->s_auth, NULL })
#define BOTH(f) ((const struct pawl_signer *const[]){ &(f)->s_auth, &(f)->s_owner, NULL })

/* ---- accept ---------------------------------------------------------------------- */

static void accepts_authority_command(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    size_t n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
    assert_true(f->r.tok_ok);
    assert_int_equal(f->r.tok.seq, 1);
    assert_memory_equal(f->r.tok.cmd.p, "door.lock", 9);
    assert_string_equal(pawl_edge_reason_str(f->r.reason), "ok");
}

static void accepts_dual_signed_unlock_when_parked(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    json_t *args = json_pack("{s:s, s:i, s:b}", "mode", "all", "delay_s", -5, "lights", 1);
    struct pawl_token_claims c = claims(f, "door.unlock", 2);
    c.args = args;
    size_t n = sign_list(&c, t, BOTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
    assert_int_equal(f->r.tok.nsigs, 2);
    assert_true(f->r.tok.args.n > 0);
    json_decref(args);
    /* the order of co-signatures does not matter */
    c = claims(f, "door.unlock", 3);
    n = sign_list(&c, t, (const struct pawl_signer *const[]){ &f->s_owner, &f->s_auth, NULL });
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
}

/* ---- one test per reason ----------------------------------------------------------- */

static void malformed_truncated_at_every_offset(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    size_t n = sign_list(&c, t, AUTH(f));
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(verify(f, t, cut), PAWL_EDGE_MALFORMED);
        assert_false(f->r.tok_ok);
        assert_non_null(f->r.detail);
    }
    t[n] = 0x00;
    assert_int_equal(verify(f, t, n + 1), PAWL_EDGE_MALFORMED);
    assert_string_equal(f->r.detail, "trailing bytes after the token");
    assert_int_equal(verify(f, t + 2, n - 2), PAWL_EDGE_MALFORMED); /* untagged */
    t[1] = 0x61; /* tag 97 (COSE_Mac) */
    assert_int_equal(verify(f, t, n), PAWL_EDGE_MALFORMED);
}

static void malformed_over_4096_bytes(void **state)
{
    struct fx *f = *state;
    static char big[4200];
    static uint8_t payload[8192], t[8400];
    struct pawl_diag d;
    size_t pn;
    memset(big, 'x', sizeof big - 1);
    json_t *a = json_pack("{s:s}", "blob", big);
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    c.args = a;
    assert_int_equal(pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d), PAWL_OK);
    /* The issuer refuses to build it... */
    assert_int_equal(pawl_token_sign(payload, pn, &f->s_auth, t, sizeof t, &pn, &d), PAWL_ELIMIT);
    /* ...and a hand-made one is refused by the vehicle before anything else. */
    size_t k = 0;
    memcpy(t, (const uint8_t[]){ 0xd8, 0x62, 0x84, 0x40, 0xa0, 0x59 }, 6);
    assert_int_equal(pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d), PAWL_OK);
    t[6] = (uint8_t)(pn >> 8), t[7] = (uint8_t)pn;
    memcpy(t + 8, payload, pn);
    k = 8 + pn;
    t[k++] = 0x80; /* no signatures: also malformed, but the size is reported */
    assert_int_equal(verify(f, t, k), PAWL_EDGE_MALFORMED);
    assert_string_equal(f->r.detail, "token is longer than 4096 bytes");
    json_decref(a);
}

/* Re-signs a hand-edited payload so only its shape is wrong. */
static size_t sign_payload(struct fx *f, const uint8_t *p, size_t pn, uint8_t *t)
{
    size_t n;
    struct pawl_diag d;
    assert_int_equal(pawl_token_sign(p, pn, &f->s_auth, t, PAWL_EDGE_TOKEN_MAX, &n, &d), PAWL_OK);
    return n;
}

static void malformed_claims(void **state)
{
    struct fx *f = *state;
    uint8_t p[512], t[PAWL_EDGE_TOKEN_MAX];
    size_t pn;
    struct pawl_diag d;
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    assert_int_equal(pawl_token_claims_encode(&c, p, sizeof p, &pn, &d), PAWL_OK);
    /* unknown claim: iat's key 6 becomes 5 (still sorted) */
    uint8_t *iat = memchr(p + 30, 0x06, pn - 30);
    assert_non_null(iat);
    *iat = 0x05;
    assert_int_equal(verify(f, t, sign_payload(f, p, pn, t)), PAWL_EDGE_MALFORMED);
    assert_non_null(strstr(f->r.detail, "does not define"));
    *iat = 0x06;
    /* missing seq: drop the last claim (5-byte key, 1-byte value) */
    p[0]--;
    assert_int_equal(verify(f, t, sign_payload(f, p, pn - 6, t)), PAWL_EDGE_MALFORMED);
    assert_non_null(strstr(f->r.detail, "required claim is missing"));
    p[0]++;
    /* duplicate key: seq's key repeated in place of cmd's (and unsorted) */
    uint8_t dup[512];
    memcpy(dup, p, pn);
    memcpy(dup + pn, p + pn - 6, 6);
    dup[0]++;
    assert_int_equal(verify(f, t, sign_payload(f, dup, pn + 6, t)), PAWL_EDGE_MALFORMED);
    /* aud of 16 characters, cti of 15 bytes: wrong shapes */
    c.aud = "1HGCM82633A00435";
    assert_int_equal(pawl_token_claims_encode(&c, p, sizeof p, &pn, &d), PAWL_EINVAL);
}

static void unsupported_alg(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    size_t n = sign_list(&c, t, AUTH(f));
    uint8_t *prot = th_find(t, n, "\x43\xa1\x01\x27", 4);
    assert_non_null(prot);
    prot[3] = 0x26; /* ES256 on the authority's Ed25519 key */
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNSUPPORTED_ALG);
    prot[3] = 0x25; /* -6: not a signature algorithm here */
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNSUPPORTED_ALG);
    /* alg is checked before the kid: an unknown key with a bad alg */
    n = sign_list(&c, t, (const struct pawl_signer *const[]){ &f->s_attacker, NULL });
    prot = th_find(t, n, "\x43\xa1\x01\x27", 4);
    prot[3] = 0x25;
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNSUPPORTED_ALG);
}

static void unknown_key(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    size_t n = sign_list(&c, t, (const struct pawl_signer *const[]){ &f->s_attacker, NULL });
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNKNOWN_KEY);
    n = sign_list(&c, t, (const struct pawl_signer *const[]){ &f->s_auth, &f->s_attacker, NULL });
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNKNOWN_KEY);
}

static void duplicate_signer(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX], d2[PAWL_EDGE_TOKEN_MAX];
    struct pawl_diag d;
    size_t m;
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    size_t n = sign_list(&c, t, AUTH(f));
    /* the issuer refuses... */
    assert_int_equal(pawl_token_cosign(t, n, &f->s_auth, d2, sizeof d2, &m, &d), PAWL_EINVAL);
    /* ...so repeat the signature by hand: [.., [sig]] -> [.., [sig, sig]] */
    struct pawl_edge_token tok;
    assert_int_equal(pawl_edge_token_parse(t, n, &tok, NULL), PAWL_EDGE_OK);
    size_t pre = (size_t)(tok.sigs_at.p - t), one = tok.sigs_at.n - 1;
    memcpy(d2, t, pre);
    d2[pre] = 0x82;
    memcpy(d2 + pre + 1, tok.sigs_at.p + 1, one);
    memcpy(d2 + pre + 1 + one, tok.sigs_at.p + 1, one);
    assert_int_equal(verify(f, d2, pre + 1 + 2 * one), PAWL_EDGE_DUPLICATE_SIGNER);
}

static void bad_signature(void **state)
{
    struct fx *f = *state;
    uint8_t a[PAWL_EDGE_TOKEN_MAX], b[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims ca = claims(f, "door.lock", 1), cb = claims(f, "door.lock", 2);
    size_t an = sign_list(&ca, a, AUTH(f)), bn = sign_list(&cb, b, AUTH(f));
    /* signatures swapped between two tokens */
    memcpy(a + an - 64, b + bn - 64, 64);
    assert_int_equal(verify(f, a, an), PAWL_EDGE_BAD_SIGNATURE);
    /* a flipped payload byte (the VIN's last digit) */
    uint8_t *vin = th_find(b, bn, VIN, 17);
    vin[16] ^= 1;
    assert_int_equal(verify(f, b, bn), PAWL_EDGE_BAD_SIGNATURE);
    /* the owner's ES256 signature broken in a dual-signed token */
    bn = sign_list(&cb, b, BOTH(f));
    b[bn - 1] ^= 0x80;
    assert_int_equal(verify(f, b, bn), PAWL_EDGE_BAD_SIGNATURE);
}

static void missing_signer_compromised_backend(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    /* The backend holds the authority key but not the owner's phone. */
    struct pawl_token_claims c = claims(f, "door.unlock", 1);
    size_t n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_MISSING_SIGNER);
    c = claims(f, "engine.start", 2);
    n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_MISSING_SIGNER);
    /* the owner alone cannot command either ("*" needs the authority) */
    c = claims(f, "horn.flash", 3);
    n = sign_list(&c, t, (const struct pawl_signer *const[]){ &f->s_owner, NULL });
    assert_int_equal(verify(f, t, n), PAWL_EDGE_MISSING_SIGNER);
    /* checked before the clock: an expired one still says missing_signer */
    c = claims(f, "door.unlock", 4);
    n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify_at(f, t, n, T0 + 1000), PAWL_EDGE_MISSING_SIGNER);
}

static void wrong_vehicle(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    c.aud = OTHER_VIN;
    size_t n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_WRONG_VEHICLE);
}

static void replay_to_another_vehicle(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    size_t n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
    /* the same bytes at a second car with the same keys */
    struct pawl_edge_trust other = f->trust;
    memcpy(other.vin, OTHER_VIN, 18);
    struct pawl_edge_mem_entry slots[4];
    struct pawl_edge_mem_store ms;
    pawl_edge_mem_store_init(&ms, slots, 4);
    struct pawl_edge_verifier v2 = { &other, f->v.crypto, pawl_edge_mem_store(&ms) };
    assert_int_equal(pawl_edge_token_verify(&v2, t, n, NOW, &f->st, &f->work, &f->r),
                     PAWL_EDGE_WRONG_VEHICLE);
}

static void time_window(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    size_t n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify_at(f, t, n, T0 + 60), PAWL_EDGE_EXPIRED);        /* now == exp */
    assert_int_equal(verify_at(f, t, n, T0 - 31), PAWL_EDGE_NOT_YET_VALID);  /* beyond skew */
    assert_int_equal(verify_at(f, t, n, T0 - 30), PAWL_EDGE_OK);             /* within skew */
    c = claims(f, "door.lock", 2);
    c.exp = T0 + 121;
    n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_LIFETIME_TOO_LONG);
    c.exp = T0 + 120;
    n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
}

static void replay_and_stale_sequence(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX], u[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.lock", 5);
    size_t n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
    assert_int_equal(verify(f, t, n), PAWL_EDGE_REPLAY);
    assert_int_equal(verify_at(f, t, n, NOW + 40), PAWL_EDGE_REPLAY);
    c = claims(f, "door.lock", 5); /* new cti, same seq */
    n = sign_list(&c, u, AUTH(f));
    assert_int_equal(verify(f, u, n), PAWL_EDGE_STALE_SEQUENCE);
    c = claims(f, "door.lock", 4);
    n = sign_list(&c, u, AUTH(f));
    assert_int_equal(verify(f, u, n), PAWL_EDGE_STALE_SEQUENCE);
    c = claims(f, "door.lock", 6);
    n = sign_list(&c, u, AUTH(f));
    assert_int_equal(verify(f, u, n), PAWL_EDGE_OK);
}

static void unsafe_state(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.unlock", 1);
    size_t n = sign_list(&c, t, BOTH(f));
    f->st.speed_kmh = 42.0f;
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNSAFE_STATE);
    f->st.speed_kmh = -3.0f; /* reversing */
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNSAFE_STATE);
    f->st.speed_known = false;
    assert_int_equal(verify(f, t, n), PAWL_EDGE_UNSAFE_STATE);
    /* not recorded while refused: once parked, the same token is accepted */
    f->st.speed_known = true;
    f->st.speed_kmh = 0.0f;
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
    /* commands not listed as stationary-only run while driving */
    f->st.speed_kmh = 80.0f;
    c = claims(f, "horn.flash", 2);
    n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
}

static void store_full_fails_closed(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    for (uint64_t i = 1; i <= 9; i++) {
        struct pawl_token_claims c = claims(f, "door.lock", i);
        size_t n = sign_list(&c, t, AUTH(f));
        assert_int_equal(verify(f, t, n), i <= 8 ? PAWL_EDGE_OK : PAWL_EDGE_STORE_ERROR);
    }
    /* once the window has passed the slots are reused */
    struct pawl_token_claims c = claims(f, "door.lock", 10);
    c.iat = T0 + 200, c.exp = T0 + 260;
    size_t n = sign_list(&c, t, AUTH(f));
    assert_int_equal(verify_at(f, t, n, T0 + 201), PAWL_EDGE_OK);
}

/* ES256 signatures are malleable: (r, n - s) verifies too. Such a token is
 * valid (other issuers need not normalize s), and it cannot be replayed,
 * because replay protection keys on cti, not on the signature bytes. */
static void es256_high_s_accepted_once(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c = claims(f, "door.unlock", 1);
    size_t n = sign_list(&c, t, BOTH(f));
    uint8_t *s = t + n - 32;
    BIGNUM *order = BN_new(), *bs = BN_bin2bn(s, 32, NULL);
    assert_non_null(BN_hex2bn(&order, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"));
    assert_int_equal(BN_sub(bs, order, bs), 1);
    uint8_t orig[32];
    memcpy(orig, s, 32);
    assert_int_equal(BN_bn2binpad(bs, s, 32), 32);
    assert_memory_not_equal(orig, s, 32);
    assert_int_equal(verify(f, t, n), PAWL_EDGE_OK);
    memcpy(s, orig, 32);
    assert_int_equal(verify(f, t, n), PAWL_EDGE_REPLAY);
    BN_free(order);
    BN_free(bs);
}

/* ---- the strict CBOR reader ----------------------------------------------------------- */

static bool item_ok(const uint8_t *b, size_t n)
{
    struct pawl__cbor c = { b, b + n };
    return pawl__cbor_skip(&c, 1) && c.p == c.end;
}

#define OK_ITEM(...) assert_true(item_ok((const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })))
#define BAD_ITEM(...) assert_false(item_ok((const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })))

static void cbor_strictness(void **state)
{
    (void)state;
    OK_ITEM(0x17);
    OK_ITEM(0x18, 0x18);
    BAD_ITEM(0x18, 0x17);                   /* 23 in two bytes */
    BAD_ITEM(0x19, 0x00, 0xff);             /* non-shortest */
    BAD_ITEM(0x1c);                         /* reserved */
    BAD_ITEM(0x9f, 0x01, 0xff);             /* indefinite array */
    BAD_ITEM(0xbf, 0x01, 0x02, 0xff);       /* indefinite map */
    BAD_ITEM(0x5f, 0x41, 0x00, 0xff);       /* indefinite bstr */
    OK_ITEM(0xa2, 0x01, 0x00, 0x02, 0x00);
    BAD_ITEM(0xa2, 0x02, 0x00, 0x01, 0x00); /* unsorted keys */
    BAD_ITEM(0xa2, 0x01, 0x00, 0x01, 0x00); /* duplicate keys */
    OK_ITEM(0xa2, 0x61, 'b', 0x00, 0x62, 'a', 'a', 0x00); /* shorter key first */
    BAD_ITEM(0xc1, 0x00);                   /* tag */
    OK_ITEM(0xf4);
    OK_ITEM(0xf6);
    BAD_ITEM(0xf7);                         /* undefined */
    BAD_ITEM(0xf8, 0x20);                   /* simple(32) */
    OK_ITEM(0xf9, 0x3c, 0x00);              /* half float 1.0 */
    BAD_ITEM(0xfa, 0x3f, 0x80, 0x00, 0x00); /* 1.0 as single: fits a half */
    BAD_ITEM(0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0); /* 1.0 as double */
    OK_ITEM(0xfa, 0x47, 0xc3, 0x50, 0x00);  /* 100000.0 needs a single */
    OK_ITEM(0xfb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a); /* 0.1 needs a double */
    OK_ITEM(0xf9, 0x00, 0x01);              /* smallest half subnormal */
    BAD_ITEM(0xfa, 0x33, 0x80, 0x00, 0x00); /* 2^-24 as single: a half subnormal */
    OK_ITEM(0x62, 0xc3, 0xa9);              /* "é" */
    BAD_ITEM(0x62, 0xc0, 0x80);             /* overlong NUL */
    BAD_ITEM(0x63, 0xed, 0xa0, 0x80);       /* surrogate */
    BAD_ITEM(0x61, 0xff);
    BAD_ITEM(0x42, 0x00);                   /* short bstr */
    BAD_ITEM(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff); /* huge count */
    /* nesting: 8 arrays are fine, 9 are not */
    OK_ITEM(0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x80);
    BAD_ITEM(0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x80);
}

static void args_nesting_limit(void **state)
{
    struct fx *f = *state;
    uint8_t p[512], t[PAWL_EDGE_TOKEN_MAX];
    size_t pn;
    struct pawl_diag d;
    json_t *a = json_pack("{s:i}", "x", 1);
    struct pawl_token_claims c = claims(f, "door.lock", 1);
    c.args = a;
    assert_int_equal(pawl_token_claims_encode(&c, p, sizeof p, &pn, &d), PAWL_OK);
    json_decref(a);
    /* replace the value 1 of "x" by nested arrays around it: claims map (1),
     * args map (2), then arrays from level 3; 6 fit in 8 levels, 7 do not. */
    uint8_t *x = th_find(p, pn, "\x61x\x01", 3);
    assert_non_null(x);
    for (int depth = 6; depth <= 7; depth++) {
        uint8_t q[512];
        size_t off = (size_t)(x - p) + 2;
        memcpy(q, p, off);
        memset(q + off, 0x81, (size_t)depth);
        memcpy(q + off + depth, p + off, pn - off);
        enum pawl_edge_reason want = depth == 6 ? PAWL_EDGE_OK : PAWL_EDGE_MALFORMED;
        assert_int_equal(verify(f, t, sign_payload(f, q, pn + (size_t)depth, t)), want);
    }
}

/* ---- issuing ------------------------------------------------------------------------------ */

static void issue_round_trip(void **state)
{
    struct fx *f = *state;
    uint8_t t[PAWL_EDGE_TOKEN_MAX];
    json_t *args = json_pack("{s:i, s:i}", "zz", 1, "a", 2);
    struct pawl_token_claims c = claims(f, "climate.start", 9);
    struct pawl_diag d;
    size_t n;
    c.args = json_pack("[i]", 1);
    assert_int_equal(pawl_token_claims_encode(&c, t, sizeof t, &n, &d), PAWL_EINVAL);
    json_decref((json_t *)(uintptr_t)c.args);
    c.args = args;
    n = sign_list(&c, t, BOTH(f));
    json_decref(args);
    struct pawl_edge_token tok;
    assert_int_equal(pawl_edge_token_parse(t, n, &tok, NULL), PAWL_EDGE_OK);
    assert_int_equal(tok.nsigs, 2);
    assert_int_equal(tok.sigs[0].alg, PAWL_EDGE_ALG_EDDSA);
    assert_int_equal(tok.sigs[1].alg, PAWL_EDGE_ALG_ES256);
    assert_memory_equal(tok.sigs[0].kid, f->s_auth.kid, 8);
    assert_int_equal(tok.iat, T0);
    assert_int_equal(tok.exp, T0 + 60);
    assert_memory_equal(tok.cti, c.cti, 16);
    /* args come out sorted: "a" before "zz" */
    assert_memory_equal(tok.args.p, "\xa2\x61\x61\x02\x62zz\x01", 8);
    /* a public key cannot sign */
    EVP_PKEY *pub = NULL;
    char *pem = pem_of(f->auth);
    BIO *b = BIO_new_mem_buf(pem, -1);
    pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    struct pawl_signer s;
    assert_int_equal(pawl_signer_openssl(pub, &s), PAWL_EINVAL);
    EVP_PKEY_free(pub);
    BIO_free(b);
    free(pem);
}

/* ---- trust file ------------------------------------------------------------------------------ */

static void trust_rejects(struct fx *f, const char *json, const char *want)
{
    struct pawl_edge_trust t;
    char err[512] = "";
    (void)f;
    assert_int_equal(pawl_edge_trust_load(json, strlen(json), "t.json", &t, err, sizeof err), -1);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, want);
}

static void trust_file_errors(void **state)
{
    struct fx *f = *state;
    char *good = trust_json(f->auth, f->owner, VIN);
    json_t *o = json_loads(good, 0, NULL);
    trust_rejects(f, "{", "t.json:1:");
    trust_rejects(f, "[]", "must be a JSON object");
    json_object_set_new(o, "extra", json_true());
    char *s = json_dumps(o, 0);
    trust_rejects(f, s, "unknown key \"extra\"");
    free(s);
    json_object_del(o, "extra");
    json_object_set_new(o, "vin", json_string("1HGCM82633A00435O"));
    s = json_dumps(o, 0);
    trust_rejects(f, s, "vin");
    free(s);
    json_object_set_new(o, "vin", json_string(VIN));
    json_object_set_new(json_array_get(json_object_get(o, "keys"), 1), "alg", json_string("EdDSA"));
    s = json_dumps(o, 0);
    trust_rejects(f, s, "keys[1]: alg EdDSA does not match");
    free(s);
    json_array_set(json_object_get(o, "keys"), 1, json_array_get(json_object_get(o, "keys"), 0));
    s = json_dumps(o, 0);
    trust_rejects(f, s, "keys[1]: the same key as keys[0]");
    free(s);
    json_object_set_new(o, "skew_s", json_integer(-1));
    s = json_dumps(o, 0);
    trust_rejects(f, s, "skew_s");
    free(s);
    json_decref(o);
    free(good);
    trust_rejects(f, "{\"vin\": \"" VIN "\", \"vin\": \"" VIN "\"}", "duplicate");
}

/* ---- Wycheproof through the back end ----------------------------------------------------------- */

static bool backend_verify(void *ctx, EVP_PKEY *k, const uint8_t *msg, size_t mn,
                           const uint8_t *sig, size_t sn)
{
    const int *alg = ctx;
    struct pawl_edge_key key = { .alg = *alg, .handle = k };
    struct pawl_edge_crypto c = pawl_edge_openssl_crypto();
    return c.verify(c.ctx, &key, msg, mn, sig, sn);
}

static void wycheproof_ed25519(void **state)
{
    int alg = PAWL_EDGE_ALG_EDDSA;
    (void)state;
    th_wycheproof_run("ed25519_test.json", NULL, backend_verify, &alg);
}

static void wycheproof_ecdsa_p256_p1363(void **state)
{
    int alg = PAWL_EDGE_ALG_ES256;
    (void)state;
    th_wycheproof_run("ecdsa_secp256r1_sha256_p1363_test.json", NULL, backend_verify, &alg);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(accepts_authority_command),
        T(accepts_dual_signed_unlock_when_parked),
        T(malformed_truncated_at_every_offset),
        T(malformed_over_4096_bytes),
        T(malformed_claims),
        T(unsupported_alg),
        T(unknown_key),
        T(duplicate_signer),
        T(bad_signature),
        T(missing_signer_compromised_backend),
        T(wrong_vehicle),
        T(replay_to_another_vehicle),
        T(time_window),
        T(replay_and_stale_sequence),
        T(unsafe_state),
        T(store_full_fails_closed),
        T(es256_high_s_accepted_once),
        cmocka_unit_test(cbor_strictness),
        T(args_nesting_limit),
        T(issue_round_trip),
        T(trust_file_errors),
        cmocka_unit_test(wycheproof_ed25519),
        cmocka_unit_test(wycheproof_ecdsa_p256_p1363),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
