/* Known-answer vectors for command tokens from an independent generator
 * (tests/vectors/command-token: Debian's python3-cbor2 and
 * python3-cryptography). pawl's issuer must rebuild every "build" token byte
 * for byte (ES256 signatures, which are random, are verified instead), and
 * the vehicle's verifier must give every "verify" vector its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_common.h"
#include "pawl/edge_host.h"
#include "pawl/token.h"
#include "util.h"

#define DIR "tests/vectors/command-token"

static json_t *root;

static int load(void **state)
{
    size_t n;
    json_error_t je;
    char *s = th_read_src(DIR "/vectors.json", &n);
    (void)state;
    root = json_loadb(s, n, 0, &je);
    free(s);
    if (root == NULL)
        fail_msg("vectors.json: %d: %s", je.line, je.text);
    return 0;
}

static int unload(void **state)
{
    (void)state;
    json_decref(root);
    return 0;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    assert_int_equal(pawl__unhex(hex, 2 * n, out, n), PAWL_OK);
    return n;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A uint64: a JSON integer, or a decimal string past int64 (README.md). */
static uint64_t u64(json_t *v)
{
    if (json_is_string(v)) {
        char *end;
        uint64_t x = strtoull(json_string_value(v), &end, 10);
        assert_true(*end == '\0');
        return x;
    }
    assert_true(json_is_integer(v));
    return (uint64_t)json_integer_value(v);
}

/* ---- verify ------------------------------------------------------------------------- */

static void load_trust(const char *name, struct pawl_edge_trust *t)
{
    json_t *j = strcmp(name, "default") == 0 ? json_object_get(root, "trust")
                                             : json_object_get(json_object_get(root, "trusts"), name);
    char err[512];
    assert_non_null(j);
    char *s = json_dumps(j, 0);
    if (pawl_edge_trust_load(s, strlen(s), name, t, err, sizeof err) != 0)
        fail_msg("trust %s: %s", name, err);
    free(s);
}

static void fill_store(json_t *store, struct pawl_edge_mem_store *ms,
                       struct pawl_edge_mem_entry *slots, size_t nslots)
{
    size_t i;
    json_t *e;
    pawl_edge_mem_store_init(ms, slots, nslots);
    json_array_foreach(json_object_get(store, "seen"), i, e) {
        assert_true(i < nslots);
        unhex(str(e, "cti"), slots[i].cti, sizeof slots[i].cti);
        slots[i].at = u64(json_object_get(e, "at"));
        slots[i].used = true;
    }
    json_t *last = json_object_get(store, "last_seq");
    if (last != NULL && !json_is_null(last)) {
        ms->has_seq = true;
        ms->last_seq = u64(last);
    }
}

/* Returns NULL when the vector passes, else why not (static buffer). */
static const char *run_verify(json_t *v)
{
    static char why[512];
    static struct pawl_edge_trust trust;
    static struct pawl_edge_work work;
    static uint8_t tok[8192];
    struct pawl_edge_mem_entry slots[16];
    struct pawl_edge_mem_store ms;
    struct pawl_edge_result r;
    json_t *speed = json_object_get(json_object_get(v, "signals"), "Vehicle.Speed");
    struct pawl_edge_state st = { speed != NULL, (float)json_number_value(speed) };
    size_t n = unhex(str(v, "token_hex"), tok, sizeof tok);
    load_trust(str(v, "trust"), &trust);
    fill_store(json_object_get(v, "store"), &ms, slots, 16);
    struct pawl_edge_verifier ver = { &trust, pawl_edge_openssl_crypto(), pawl_edge_mem_store(&ms) };
    uint64_t now = u64(json_object_get(v, "now"));
    enum pawl_edge_reason got = pawl_edge_token_verify(&ver, tok, n, now, &st, &work, &r);
    pawl_edge_trust_release(&trust);
    const char *want = str(v, "reason");
    if (strcmp(pawl_edge_reason_str(got), want) != 0) {
        snprintf(why, sizeof why, "%s: got %s, want %s (%s)", str(v, "name"),
                 pawl_edge_reason_str(got), want, r.detail ? r.detail : "");
        return why;
    }
    const char *cmd = str(v, "cmd");
    if (cmd != NULL && (!r.tok_ok || r.tok.cmd.n != strlen(cmd) ||
                        memcmp(r.tok.cmd.p, cmd, r.tok.cmd.n) != 0 ||
                        r.tok.seq != u64(json_object_get(v, "seq")))) {
        snprintf(why, sizeof why, "%s: cmd or seq differ", str(v, "name"));
        return why;
    }
    return NULL;
}

static void verify_vectors(void **state)
{
    size_t i, failed = 0, count = 0;
    json_t *v;
    (void)state;
    json_array_foreach(json_object_get(root, "verify"), i, v) {
        const char *why = run_verify(v);
        count++;
        if (why != NULL && failed++ < 20)
            print_message("FAIL %s\n", why);
    }
    print_message("%zu verify vectors, %zu failed\n", count, failed);
    assert_true(count >= 200);
    assert_int_equal(failed, 0);
}

/* ---- build -------------------------------------------------------------------------- */

static EVP_PKEY *private_key(const char *name)
{
    char rel[256];
    size_t n;
    snprintf(rel, sizeof rel, DIR "/keys/%s.pem", name);
    char *pem = th_read_src(rel, &n);
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    free(pem);
    assert_non_null(k);
    return k;
}

static void claims_of(json_t *j, struct pawl_token_claims *c)
{
    memset(c, 0, sizeof *c);
    c->iss = str(j, "iss"), c->sub = str(j, "sub"), c->aud = str(j, "aud"), c->cmd = str(j, "cmd");
    c->exp = u64(json_object_get(j, "exp"));
    c->iat = u64(json_object_get(j, "iat"));
    c->seq = u64(json_object_get(j, "seq"));
    unhex(str(j, "cti"), c->cti, sizeof c->cti);
    c->args = json_object_get(j, "args");
}

/* Our ES256 signatures are random too: each must verify over its bytes. */
static void check_es256(const uint8_t *tok, size_t n, EVP_PKEY **keys)
{
    struct pawl_edge_token t;
    static uint8_t msg[PAWL_EDGE_WORK_SIZE];
    assert_int_equal(pawl_edge_token_parse(tok, n, &t, NULL), PAWL_EDGE_OK);
    for (unsigned i = 0; i < t.nsigs; i++) {
        size_t m = pawl_edge_sig_structure(t.sigs[i].prot.p, t.sigs[i].prot.n, t.payload.p,
                                           t.payload.n, msg, sizeof msg);
        assert_true(pawl_edge_openssl_verify(t.sigs[i].alg, keys[i], msg, m, t.sigs[i].sig.p,
                                             t.sigs[i].sig.n));
    }
}

static void build_one(json_t *v)
{
    static uint8_t want[PAWL_EDGE_TOKEN_MAX], got[PAWL_EDGE_TOKEN_MAX], tmp[PAWL_EDGE_TOKEN_MAX],
        payload[PAWL_EDGE_TOKEN_MAX];
    struct pawl_token_claims c;
    struct pawl_diag d;
    struct pawl_signer s;
    EVP_PKEY *keys[PAWL_EDGE_MAX_SIGS];
    size_t pn, n, wn = unhex(str(v, "token_hex"), want, sizeof want), i;
    json_t *name, *m;
    claims_of(json_object_get(v, "claims"), &c);
    if (pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d) != PAWL_OK)
        fail_msg("%s: %s", str(v, "name"), d.msg);
    uint8_t wp[PAWL_EDGE_TOKEN_MAX];
    assert_int_equal(unhex(str(v, "payload_hex"), wp, sizeof wp), pn);
    assert_memory_equal(payload, wp, pn);
    json_array_foreach(json_object_get(v, "signers"), i, name) {
        keys[i] = private_key(json_string_value(name));
        assert_int_equal(pawl_signer_openssl(keys[i], &s), PAWL_OK);
        pawl_err e = i == 0 ? pawl_token_sign(payload, pn, &s, got, sizeof got, &n, &d)
                            : pawl_token_cosign(got, n, &s, tmp, sizeof tmp, &n, &d);
        if (e != PAWL_OK)
            fail_msg("%s: %s", str(v, "name"), d.msg);
        if (i > 0)
            memcpy(got, tmp, n);
    }
    assert_int_equal(n, wn);
    check_es256(got, n, keys);
    json_array_foreach(json_object_get(v, "masked"), i, m) {
        size_t off = (size_t)json_integer_value(json_object_get(m, "offset"));
        size_t len = (size_t)json_integer_value(json_object_get(m, "length"));
        assert_true(off + len <= n);
        memcpy(got + off, want + off, len);
    }
    if (memcmp(got, want, n) != 0)
        fail_msg("%s: token differs from the independent generator's", str(v, "name"));
    json_array_foreach(json_object_get(v, "signers"), i, name) EVP_PKEY_free(keys[i]);
}

static void build_vectors(void **state)
{
    size_t i;
    json_t *v;
    (void)state;
    json_array_foreach(json_object_get(root, "build"), i, v) build_one(v);
    assert_true(i >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_vectors),
        cmocka_unit_test(verify_vectors),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
