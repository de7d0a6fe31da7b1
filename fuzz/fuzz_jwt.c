/* libFuzzer driver for pawl_jwt_verify.
 *
 * Input not starting with '{': the bytes are the token, verified against a
 * fixed JWKS (the fixture keys of fuzz_keys.h) by a verifier with a small
 * cache, twice, so the cache hit path is fuzzed too.
 * Input starting with '{' (never a valid token): the bytes are a payload,
 * signed here with the Ed25519 fixture key, so the claim checks behind the
 * signature are fuzzed as well.
 *
 * PAWL_FUZZ_WRITE_SEEDS=<dir> ./fuzz_jwt writes the seed corpus
 * (fuzz/corpus/jwt) and exits. */
#include "../tests/unit/helper_jwt.c"
#include "fuzz_keys.h"
#include "jwt_internal.h"

#include <openssl/pem.h>
#include <stdlib.h>

#define NOW_MS INT64_C(1700000000000)

static const char *const algs[] = { "RS256", "ES256", "EdDSA" };
static const char *const kids[] = { "rsa-1", "ec-1", "ed-1" };
static EVP_PKEY *keys[3];
static struct pawl_jwks *jwks;
static struct pawl_jwt_verifier *ver;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t lookup(void *ctx, const char *name, size_t n)
{
    (void)ctx;
    return n > 0 ? 1u << (name[0] & 31) : 0;
}

static EVP_PKEY *load(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return k;
}

static void put(const char *dir, const char *name, const char *s)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(s, f) < 0 || fclose(f) != 0)
        abort();
}

static void write_seeds(const char *dir)
{
    static const char pl[] = "{\"sub\":\"user-1\",\"iss\":\"https://idp.example\",\"aud\":"
                             "\"pawl-gw\",\"exp\":4102444800,\"nbf\":1600000000.5,\"iat\":1600000000,"
                             "\"jti\":\"j1\",\"org\":\"o1\",\"roles\":[\"owner\",\"dealer\"]}";
    static const struct { const char *name; int key; const char *alg, *kid, *hdr, *pl; } s[] = {
        { "rs256", 0, "RS256", "rsa-1", NULL, pl },
        { "es256", 1, "ES256", "ec-1", NULL, pl },
        { "eddsa", 2, "EdDSA", "ed-1", NULL, pl },
        { "alg_none", -1, "none", "ed-1", NULL, pl },
        { "hs256", 1, "HS256", "ec-1", NULL, pl },
        { "jku", 2, "EdDSA", "ed-1", "\"jku\":\"https://evil.example/k\"", pl },
        { "x5c", 2, "EdDSA", "ed-1", "\"x5c\":[\"MIIB\"]", pl },
        { "crit", 2, "EdDSA", "ed-1", "\"crit\":[\"b64\"],\"b64\":false", pl },
        { "unknown_kid", 2, "EdDSA", "nope", NULL, pl },
        { "expired", 1, "ES256", "ec-1", NULL,
          "{\"sub\":\"u\",\"exp\":1000,\"iss\":\"https://idp.example\",\"aud\":\"pawl-gw\"}" },
        { "aud_array", 0, "RS256", "rsa-1", NULL,
          "{\"sub\":\"u\",\"exp\":4102444800,\"iss\":\"https://idp.example\",\"aud\":[\"x\",\"pawl-gw\"]}" },
    };
    char tok[4096];
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        if (th_jwt_sign(s[i].key < 0 ? NULL : keys[s[i].key], s[i].alg, s[i].kid, s[i].hdr,
                        s[i].pl, tok, sizeof tok) < 0)
            abort();
        put(dir, s[i].name, tok);
        if (i == 1) {
            tok[20] = '=';
            put(dir, "broken_base64", tok);
        }
    }
    put(dir, "payload_only", pl);
    put(dir, "two_parts", "eyJhbGciOiJFUzI1NiJ9.e30");
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char doc[8192];
    struct pawl_diag d;
    struct pawl_jwt_rules r = { .issuer = "https://idp.example", .audience = "pawl-gw",
                                .leeway_ms = 30000, .role_lookup = lookup };
    (void)argc;
    (void)argv;
    keys[0] = load(fuzz_rsa_pem);
    keys[1] = load(fuzz_ec_pem);
    keys[2] = load(fuzz_ed_pem);
    if (!keys[0] || !keys[1] || !keys[2] ||
        th_jwks_json(keys, algs, kids, 3, doc, sizeof doc) < 0 ||
        pawl_jwks_parse(doc, strlen(doc), "fuzz", &jwks, &d) != PAWL_OK ||
        pawl_jwt_verifier_new(&r, jwks, 16, &ver) != PAWL_OK)
        abort();
    if (getenv("PAWL_FUZZ_WRITE_SEEDS") != NULL)
        write_seeds(getenv("PAWL_FUZZ_WRITE_SEEDS"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tok[PAWL_JWT_TOKEN_MAX + 1];
    struct pawl_principal p;
    struct pawl_diag d;
    const char *t = (const char *)data;
    if (size > 0 && data[0] == '{') {
        char pl[4096];
        if (size >= sizeof pl)
            return 0;
        memcpy(pl, data, size);
        pl[size] = '\0';
        if (th_jwt_sign(keys[2], "EdDSA", "ed-1", NULL, pl, tok, sizeof tok) < 0)
            return 0;
        t = tok;
        size = strlen(tok);
    }
    enum pawl_reason r1 = pawl_jwt_verify(ver, t, size, NOW_MS, &p, &d);
    enum pawl_reason r2 = pawl_jwt_verify(ver, t, size, NOW_MS, &p, &d);
    if (r1 != r2) /* the cache must answer exactly as a fresh check did */
        abort();
    if (r1 == PAWL_R_ALLOWED && (p.via != PAWL_AUTH_JWT || p.uid[0] == '\0'))
        abort();
    return 0;
}
