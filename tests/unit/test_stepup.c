/* pawld's step-up check (src/gateway/stepup.h): owner co-signed command
 * tokens verified with the vehicle's trust policy, the gateway-wide replay
 * set, and every refusal with a reason a human can act on. */
#include "helper_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pawl/token.h"
#include "stepup.h"
#include "util.h"

#define VIN "1HGCM82633A004352"

struct fx {
    EVP_PKEY *owner, *intruder;
    struct pawl_signer s_owner, s_intruder;
    char *trust;
    struct pawld_replay replay;
    uint64_t now;
    uint8_t next_cti;
};

static EVP_PKEY *ed25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    return k;
}

static char *trust_for(EVP_PKEY *owner, const char *vin)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    assert_int_equal(PEM_write_bio_PUBKEY(b, owner), 1);
    long n = BIO_get_mem_data(b, &p);
    json_t *o = json_pack("{s:s, s:[{s:s, s:s, s:s%}], s:{s:[s]}}", "vin", vin, "keys", "role",
                          "owner", "alg", "EdDSA", "spki_pem", p, (size_t)n, "require", "*",
                          "owner");
    char *s = json_dumps(o, 0);
    json_decref(o);
    BIO_free(b);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->owner = ed25519();
    f->intruder = ed25519();
    assert_int_equal(pawl_signer_openssl(f->owner, &f->s_owner), PAWL_OK);
    assert_int_equal(pawl_signer_openssl(f->intruder, &f->s_intruder), PAWL_OK);
    f->trust = trust_for(f->owner, VIN);
    assert_int_equal(pawld_replay_init(&f->replay, 64), 0);
    f->now = (uint64_t)time(NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    EVP_PKEY_free(f->owner);
    EVP_PKEY_free(f->intruder);
    free(f->trust);
    pawld_replay_free(&f->replay);
    free(f);
    return 0;
}

/* The header value of a token for vin/cmd signed by s. */
static void header(struct fx *f, const struct pawl_signer *s, const char *vin, const char *cmd,
                   char *out)
{
    struct pawl_token_claims c = {"owner-app", "u-1042", vin, cmd, f->now + 60, f->now, 1, {0}, NULL};
    uint8_t payload[PAWL_EDGE_TOKEN_MAX], tok[PAWL_EDGE_TOKEN_MAX];
    size_t pn, n;
    struct pawl_diag d;
    c.cti[0] = ++f->next_cti;
    c.cti[9] = 0x5a;
    assert_int_equal(pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d), PAWL_OK);
    assert_int_equal(pawl_token_sign(payload, pn, s, tok, sizeof tok, &n, &d), PAWL_OK);
    pawl__b64url_encode(tok, n, out);
}

/* The same, with byte `from` of cmd replaced by `to` in the payload before
 * signing: a claim no honest encoder writes. */
static void header_patched(struct fx *f, const struct pawl_signer *s, const char *cmd, char from,
                           char to, char *out)
{
    struct pawl_token_claims c = {"owner-app", "u-1042", VIN, cmd, f->now + 60, f->now, 1, {0}, NULL};
    uint8_t payload[PAWL_EDGE_TOKEN_MAX], tok[PAWL_EDGE_TOKEN_MAX];
    size_t pn, n;
    struct pawl_diag d;
    c.cti[0] = ++f->next_cti;
    assert_int_equal(pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d), PAWL_OK);
    uint8_t *at = th_find(payload, pn, cmd, strlen(cmd));
    assert_non_null(at);
    at += strchr(cmd, from) - cmd;
    *at = (uint8_t)to;
    assert_int_equal(pawl_token_sign(payload, pn, s, tok, sizeof tok, &n, &d), PAWL_OK);
    pawl__b64url_encode(tok, n, out);
}

static bool check(struct fx *f, const char *hdr, struct pawld_step_up *su)
{
    pawl_str h = {hdr, strlen(hdr)};
    if (!pawld_step_up_parse(h, su))
        return false;
    return pawld_step_up_verify(su, f->trust, strlen(f->trust), "owners/" VIN ".json", f->now,
                                &f->replay);
}

/* A token is used up only when its request is allowed (the caller then
 * records it): verified and not recorded (its request refused for another
 * reason), it verifies again; recorded, it is a replay; and of two requests
 * that verified it at once, only the first to record it goes on. */
static void test_accepts_once(void **state)
{
    struct fx *f = *state;
    struct pawld_step_up su, twin;
    char h[8192];
    header(f, &f->s_owner, VIN, "engine.start", h);
    assert_true(check(f, h, &su));
    assert_string_equal(su.vin, VIN);
    assert_string_equal(su.cmd, "engine.start");
    assert_true(check(f, h, &su)); /* not recorded: not used up */
    assert_true(check(f, h, &twin));
    assert_true(pawld_step_up_record(&su, f->now, &f->replay));
    assert_false(pawld_step_up_record(&twin, f->now, &f->replay)); /* the other request, meanwhile */
    assert_non_null(strstr(twin.detail, "replay"));
    assert_false(check(f, h, &su)); /* the same token again */
    assert_non_null(strstr(su.detail, "replay"));
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct pawld_step_up su;
    char h[8192];
    header(f, &f->s_intruder, VIN, "engine.start", h);
    assert_false(check(f, h, &su));
    assert_non_null(strstr(su.detail, "unknown_key"));
    header(f, &f->s_owner, "5YJ3E1EA7KF317000", "engine.start", h);
    assert_false(check(f, h, &su)); /* the trust policy is for another car */
    assert_non_null(strstr(su.detail, "is for " VIN));
    assert_false(check(f, "not base64!", &su));
    assert_non_null(strstr(su.detail, "base64url"));
    assert_false(check(f, "2QBi", &su)); /* tag 98 and nothing else */
    assert_non_null(strstr(su.detail, "malformed"));
    header(f, &f->s_owner, VIN, "engine.start", h);
    pawl_str hv = {h, strlen(h)};
    assert_true(pawld_step_up_parse(hv, &su));
    assert_false(pawld_step_up_verify(&su, "{", 1, "bad.json", f->now, &f->replay));
    assert_non_null(strstr(su.detail, "trust policy"));
    assert_false(pawld_step_up_verify(&su, f->trust, strlen(f->trust), "t", f->now + 3600,
                                      &f->replay));
    assert_non_null(strstr(su.detail, "expired"));
}

/* pawld binds the token to the route by comparing cmd as a C string: a
 * NUL inside it ("engine.start\0x", which the vehicle's trust policy would
 * match against its "*" rule) or a name too long to hold whole is refused,
 * never cut to a prefix that names the route's command. */
static void test_cmd_nul_or_too_long(void **state)
{
    struct fx *f = *state;
    struct pawld_step_up su;
    char h[8192], longcmd[PAWL_EDGE_CMD_MAX + 2];
    header_patched(f, &f->s_owner, "engine.start#x", '#', '\0', h);
    assert_false(check(f, h, &su));
    assert_non_null(strstr(su.detail, "NUL"));
    assert_string_equal(su.cmd, "");
    memset(longcmd, 'a', sizeof longcmd - 1);
    longcmd[sizeof longcmd - 1] = '\0';
    header(f, &f->s_owner, VIN, longcmd, h);
    assert_false(check(f, h, &su));
    assert_non_null(strstr(su.detail, "over 63 bytes"));
    longcmd[PAWL_EDGE_CMD_MAX] = '\0'; /* 63 bytes: whole */
    header(f, &f->s_owner, VIN, longcmd, h);
    assert_true(check(f, h, &su));
    assert_string_equal(su.cmd, longcmd);
}

/* A full neighbourhood of live token ids refuses to record a fresh one
 * instead of forgetting an id that could be replayed. */
static void test_replay_set_fails_closed(void **state)
{
    struct fx *f = *state;
    struct pawld_step_up su;
    char h[8192];
    for (size_t i = 0; i < f->replay.nslots; i++) {
        memset(f->replay.slots[i].cti, 0xee, PAWL_EDGE_CTI_LEN);
        f->replay.slots[i].until = f->now + 1000;
    }
    header(f, &f->s_owner, VIN, "engine.start", h);
    assert_true(check(f, h, &su));
    assert_false(pawld_step_up_record(&su, f->now, &f->replay));
    assert_non_null(strstr(su.detail, "store"));
    for (size_t i = 0; i < f->replay.nslots; i++)
        f->replay.slots[i].until = f->now; /* expired: free again */
    assert_true(check(f, h, &su));
    assert_true(pawld_step_up_record(&su, f->now, &f->replay));
}

/* Where an id is kept is not the sender's choice: ids made to share their
 * first bytes modulo the table's size (all one neighbourhood when the bytes
 * were the place, so the 17th was refused) are spread by a random key. */
static void test_replay_ids_spread(void **state)
{
    struct fx *f = *state;
    struct pawld_step_up su;
    memset(&su, 0, sizeof su);
    for (unsigned i = 0; i < 24; i++) {
        uint64_t aimed = (uint64_t)i * f->replay.nslots;
        memcpy(su.cti, &aimed, sizeof aimed);
        su.until = f->now + 100;
        if (!pawld_step_up_record(&su, f->now, &f->replay))
            fail_msg("id %u refused: %s", i, su.detail);
    }
}

/* The record on disk (step_up.state): what is dumped loads back into a
 * fresh record (a new random key) and refuses the same tokens; expired ids
 * are left out, an end too far ahead is brought back, a cut last entry is
 * counted, and anything that is not a state file is refused with why. */
static void test_replay_state_round_trip(void **state)
{
    struct fx *f = *state;
    struct pawld_step_up su, again;
    struct pawld_replay fresh;
    char h[8192], err[200];
    size_t n = 0, cut = 99;
    header(f, &f->s_owner, VIN, "engine.start", h);
    assert_true(check(f, h, &su));
    assert_true(pawld_step_up_record(&su, f->now, &f->replay));
    memset(&again, 0, sizeof again); /* an id that lived once and is over */
    memset(again.cti, 0x11, PAWL_EDGE_CTI_LEN);
    again.until = f->now + 5;
    assert_true(pawld_step_up_record(&again, f->now, &f->replay));
    uint8_t *bytes = pawld_replay_dump(&f->replay, f->now, &n);
    assert_non_null(bytes);
    assert_int_equal(n, PAWLD_REPLAY_MAGIC_LEN + 2 * PAWLD_REPLAY_ENTRY);
    assert_int_equal(pawld_replay_init(&fresh, 64), 0);
    assert_int_equal(pawld_replay_load(&fresh, bytes, n, f->now + 10, &cut, err, sizeof err), 2);
    assert_int_equal(cut, 0);
    free(bytes);
    assert_false(pawld_step_up_record(&su, f->now + 10, &fresh)); /* a replay after the restart */
    assert_non_null(strstr(su.detail, "replay"));
    bytes = pawld_replay_dump(&fresh, f->now + 10, &n); /* the expired id was left out */
    assert_int_equal(n, PAWLD_REPLAY_MAGIC_LEN + PAWLD_REPLAY_ENTRY);
    assert_memory_equal(bytes + PAWLD_REPLAY_MAGIC_LEN, su.cti, PAWL_EDGE_CTI_LEN);
    pawld_replay_free(&fresh);
    /* an end years ahead is brought back; a cut last entry is counted */
    uint8_t file[PAWLD_REPLAY_MAGIC_LEN + 2 * PAWLD_REPLAY_ENTRY - 5];
    memcpy(file, PAWLD_REPLAY_MAGIC, PAWLD_REPLAY_MAGIC_LEN);
    pawld_replay_entry(su.cti, UINT64_MAX, file + PAWLD_REPLAY_MAGIC_LEN);
    memset(file + PAWLD_REPLAY_MAGIC_LEN + PAWLD_REPLAY_ENTRY, 0x22, PAWLD_REPLAY_ENTRY - 5);
    assert_int_equal(pawld_replay_init(&fresh, 64), 0);
    assert_int_equal(pawld_replay_load(&fresh, file, sizeof file, f->now, &cut, err, sizeof err), 1);
    assert_int_equal(cut, PAWLD_REPLAY_ENTRY - 5);
    free(bytes);
    bytes = pawld_replay_dump(&fresh, f->now, &n);
    assert_int_equal(n, PAWLD_REPLAY_MAGIC_LEN + PAWLD_REPLAY_ENTRY);
    uint64_t until = 0;
    for (int k = 7; k >= 0; k--)
        until = until << 8 | bytes[PAWLD_REPLAY_MAGIC_LEN + PAWL_EDGE_CTI_LEN + (size_t)k];
    assert_true(until == f->now + PAWLD_REPLAY_AHEAD_MAX);
    free(bytes);
    /* not a state file */
    assert_int_equal(pawld_replay_load(&fresh, (const uint8_t *)"PAWLSU0\n", 8, f->now, &cut, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a step-up state file"));
    assert_int_equal(pawld_replay_load(&fresh, (const uint8_t *)"", 0, f->now, &cut, err, sizeof err), -1);
    pawld_replay_free(&fresh);
    /* more live ids than the record holds: refused, never one forgotten */
    size_t many = 64 * 17;
    uint8_t *big = malloc(PAWLD_REPLAY_MAGIC_LEN + many * PAWLD_REPLAY_ENTRY);
    assert_non_null(big);
    memcpy(big, PAWLD_REPLAY_MAGIC, PAWLD_REPLAY_MAGIC_LEN);
    for (size_t i = 0; i < many; i++) {
        uint8_t cti[PAWL_EDGE_CTI_LEN] = { 0 };
        memcpy(cti, &i, sizeof i);
        pawld_replay_entry(cti, f->now + 100, big + PAWLD_REPLAY_MAGIC_LEN + i * PAWLD_REPLAY_ENTRY);
    }
    assert_int_equal(pawld_replay_init(&fresh, 64), 0);
    assert_int_equal(pawld_replay_load(&fresh, big, PAWLD_REPLAY_MAGIC_LEN + many * PAWLD_REPLAY_ENTRY, f->now,
                                       &cut, err, sizeof err), -1);
    assert_non_null(strstr(err, "no room"));
    pawld_replay_free(&fresh);
    free(big);
}

/* A vehicle's command result: accepted and refused answers become the
 * caller's 200 and 409; anything malformed is refused. */
static void test_command_result(void **state)
{
    (void)state;
    uint8_t cti[PAWL_EDGE_CTI_LEN];
    char body[512];
    int status = 0;
    const char *ok = "{\"cti\":\"00112233445566778899AABBCCDDEEFF\",\"verdict\":\"accept\","
                     "\"reason\":\"ok\",\"cmd\":\"door.lock\",\"seq\":7}";
    assert_int_equal(pawld_command_result_parse(ok, strlen(ok), cti, &status, body, sizeof body), 0);
    assert_int_equal(status, 200);
    assert_int_equal(cti[0], 0x00);
    assert_int_equal(cti[15], 0xff);
    assert_non_null(strstr(body, "\"reason\":\"allowed\""));
    assert_non_null(strstr(body, "\"seq\":7"));
    const char *no = "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"reject\","
                     "\"reason\":\"replay\"}";
    assert_int_equal(pawld_command_result_parse(no, strlen(no), cti, &status, body, sizeof body), 0);
    assert_int_equal(status, 409);
    assert_non_null(strstr(body, "refused the command: replay"));
    static const char *const bad[] = {
        "", "[]", "not json",
        "{\"cti\":\"0011\",\"verdict\":\"accept\",\"reason\":\"ok\"}",              /* short cti */
        "{\"cti\":\"00112233445566778899aabbccddeefg\",\"verdict\":\"accept\",\"reason\":\"ok\"}",
        "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"maybe\",\"reason\":\"ok\"}",
        "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"accept\"}",           /* no reason */
        "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"accept\",\"reason\":\"ok\",\"seq\":\"7\"}",
        "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"accept\",\"verdict\":\"reject\",\"reason\":\"ok\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pawld_command_result_parse(bad[i], strlen(bad[i]), cti, &status, body, sizeof body), -1);
    assert_int_equal(pawld_command_result_parse(ok, strlen(ok), cti, &status, body, 40), -1); /* no room */
    /* an answer too large to echo whole still reaches its caller: the
     * verdict, the token id and the reason's first 100 bytes */
    char big[1024];
    snprintf(big, sizeof big, "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"reject\","
             "\"reason\":\"%0400d\"}", 7);
    assert_int_equal(pawld_command_result_parse(big, strlen(big), cti, &status, body, sizeof body), 0);
    assert_int_equal(status, 409);
    assert_non_null(strstr(body, "\"vehicle\":{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"reject\"}"));
    assert_non_null(strstr(body, "refused the command: 0000"));
    assert_true(strlen(body) < 400);
    /* over PAWLD_RESULT_MAX: refused unparsed, however well formed */
    static char huge[PAWLD_RESULT_MAX + 64];
    int n = snprintf(huge, sizeof huge, "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"accept\","
                     "\"reason\":\"%0*d\"}", PAWLD_RESULT_MAX - 70, 7);
    assert_true(n > PAWLD_RESULT_MAX && (size_t)n < sizeof huge);
    assert_int_equal(pawld_command_result_parse(huge, (size_t)n, cti, &status, body, sizeof body), -1);
    n = snprintf(huge, sizeof huge, "{\"cti\":\"00112233445566778899aabbccddeeff\",\"verdict\":\"accept\","
                 "\"reason\":\"%0*d\"}", PAWLD_RESULT_MAX - 80, 7);
    assert_true(n <= PAWLD_RESULT_MAX);
    assert_int_equal(pawld_command_result_parse(huge, (size_t)n, cti, &status, body, sizeof body), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accepts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_ids_spread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_nul_or_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_set_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_state_round_trip, setup, teardown),
        cmocka_unit_test(test_command_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
