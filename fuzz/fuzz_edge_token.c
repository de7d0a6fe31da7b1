/* libFuzzer driver for the vehicle's command-token verifier
 * (pawl_edge_token_verify, with the strict CBOR reader under it).
 *
 * Input starting with 0xd8 (CBOR tag, one byte): the bytes are the token,
 * verified against a trust policy over the fixture keys of fuzz_keys.h.
 * Any other input is a claims payload, signed here by the authority (and
 * co-signed by the owner when the first byte is odd), so the checks behind
 * the signatures (roles, VIN, clock, replay, state) are fuzzed as well.
 * Invariants: an accepted token parses, and the same bytes verified again
 * are a replay.
 *
 * PAWL_FUZZ_WRITE_SEEDS=<dir> ./fuzz_edge_token writes the seed corpus
 * (fuzz/corpus/edge_token) and exits. */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_keys.h"
#include "pawl/edge_host.h"
#include "pawl/token.h"

#define VIN "1HGCM82633A004352"
#define NOW 1767225610u

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *auth, *owner;
static struct pawl_signer s_auth, s_owner;
static struct pawl_edge_trust trust;

static EVP_PKEY *load(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (k == NULL)
        abort();
    return k;
}

static char *pub_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    if (b == NULL || PEM_write_bio_PUBKEY(b, k) != 1)
        abort();
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

static void load_trust(void)
{
    char json[4096], err[256];
    char *a = pub_pem(auth), *o = pub_pem(owner);
    json_t *ja = json_string(a), *jo = json_string(o);
    char *ea = json_dumps(ja, JSON_ENCODE_ANY), *eo = json_dumps(jo, JSON_ENCODE_ANY);
    snprintf(json, sizeof json,
             "{\"vin\":\"" VIN "\",\"keys\":[{\"role\":\"authority\",\"alg\":\"EdDSA\","
             "\"spki_pem\":%s},{\"role\":\"owner\",\"alg\":\"ES256\",\"spki_pem\":%s}],"
             "\"require\":{\"door.unlock\":[\"authority\",\"owner\"],\"*\":[\"authority\"]},"
             "\"stationary_only\":[\"door.unlock\"]}",
             ea, eo);
    if (pawl_edge_trust_load(json, strlen(json), "fuzz", &trust, err, sizeof err) != 0)
        abort();
    json_decref(ja), json_decref(jo);
    free(a), free(o), free(ea), free(eo);
}

/* A token over a payload; 0 when the issuer refuses it. */
static size_t sign(const uint8_t *p, size_t n, bool both, uint8_t *out)
{
    static uint8_t tmp[PAWL_EDGE_TOKEN_MAX];
    struct pawl_diag d;
    size_t tn;
    if (pawl_token_sign(p, n, &s_auth, tmp, sizeof tmp, &tn, &d) != PAWL_OK)
        return 0;
    if (!both) {
        memcpy(out, tmp, tn);
        return tn;
    }
    return pawl_token_cosign(tmp, tn, &s_owner, out, PAWL_EDGE_TOKEN_MAX, &tn, &d) == PAWL_OK ? tn
                                                                                             : 0;
}

static void write_seeds(const char *dir)
{
    static const char *const cmds[] = { "door.lock", "door.unlock", "horn.flash" };
    json_t *args = json_pack("{s:i, s:[f, b, n]}", "level", 3, "list", 21.5, 1);
    uint8_t payload[1024], tok[PAWL_EDGE_TOKEN_MAX];
    for (unsigned i = 0; i < 6; i++) {
        struct pawl_token_claims c = { "pawl-authority", "user-1", VIN, cmds[i % 3],
                                       NOW + 50, NOW - 10, i + 1, { (uint8_t)i },
                                       i & 1 ? args : NULL };
        struct pawl_diag d;
        size_t pn, tn;
        char path[1024];
        if (pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d) != PAWL_OK)
            abort();
        /* even seeds are signed tokens, odd ones bare payloads */
        const uint8_t *b = payload;
        if (i % 2 == 0) {
            tn = sign(payload, pn, i == 2, tok);
            b = tok, pn = tn;
        }
        snprintf(path, sizeof path, "%s/seed-%u", dir, i);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(b, 1, pn, f) != pn || fclose(f) != 0)
            abort();
    }
    json_decref(args);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    auth = load(fuzz_ed_pem);
    owner = load(fuzz_ec_pem);
    if (pawl_signer_openssl(auth, &s_auth) != PAWL_OK ||
        pawl_signer_openssl(owner, &s_owner) != PAWL_OK)
        abort();
    load_trust();
    const char *seeds = getenv("PAWL_FUZZ_WRITE_SEEDS");
    if (seeds != NULL) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t tok[PAWL_EDGE_TOKEN_MAX];
    static struct pawl_edge_work work;
    struct pawl_edge_mem_entry slots[16];
    struct pawl_edge_mem_store ms;
    struct pawl_edge_result r;
    const uint8_t *b = data;
    size_t n = size;
    if (size > 0 && data[0] != 0xd8) {
        if ((n = sign(data, size, data[0] & 1, tok)) == 0)
            return 0;
        b = tok;
    }
    pawl_edge_mem_store_init(&ms, slots, 16);
    struct pawl_edge_verifier v = { &trust, pawl_edge_openssl_crypto(), pawl_edge_mem_store(&ms) };
    struct pawl_edge_state st = { true, 0.0f };
    if (pawl_edge_token_verify(&v, b, n, NOW, &st, &work, &r) == PAWL_EDGE_OK) {
        struct pawl_edge_token t;
        if (!r.tok_ok || pawl_edge_token_parse(b, n, &t, NULL) != PAWL_EDGE_OK || t.nsigs == 0 ||
            pawl_edge_token_verify(&v, b, n, NOW, &st, &work, &r) != PAWL_EDGE_REPLAY)
            abort();
    }
    return 0;
}
