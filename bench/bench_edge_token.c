/* Prints command-token verification figures for the vehicle
 * (pawl_edge_token_verify, OpenSSL back end, in-memory replay store) against
 * the floor: the raw signature verifications alone, through the same back
 * end, over the same bytes, measured in the same run. Goal (issue): parsing
 * and policy add at most 10% to the signature time. Never passes or fails on
 * time. Run: ./build/gcc/bench_edge_token [--quick] */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pawl/edge_host.h"
#include "pawl/token.h"

#define VIN "1HGCM82633A004352"
#define T0 1767225600u
#define SLOTS 256

struct set {
    uint8_t (*tok)[PAWL_EDGE_TOKEN_MAX];
    size_t *len;
    int n;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *pub_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    if (PEM_write_bio_PUBKEY(b, k) != 1)
        abort();
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

static void trust_for(EVP_PKEY *auth, EVP_PKEY *owner, struct pawl_edge_trust *t)
{
    char *a = pub_pem(auth), *o = pub_pem(owner), err[256];
    json_t *j = json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}], s:{s:[s,s], s:[s]},"
                          " s:[s]}", "vin", VIN, "keys", "role", "authority", "alg", "EdDSA",
                          "spki_pem", a, "role", "owner", "alg", "ES256", "spki_pem", o,
                          "require", "door.unlock", "authority", "owner", "*", "authority",
                          "stationary_only", "door.unlock");
    char *s = json_dumps(j, 0);
    if (pawl_edge_trust_load(s, strlen(s), "bench", t, err, sizeof err) != 0)
        abort();
    json_decref(j);
    free(s), free(a), free(o);
}

/* Token i is issued at T0 + i and verified then: one command a second. */
static void make(struct set *s, int n, const char *cmd, const struct pawl_signer *const *signers)
{
    uint8_t payload[1024], tmp[PAWL_EDGE_TOKEN_MAX];
    struct pawl_diag d;
    s->n = n;
    s->tok = malloc((size_t)n * sizeof *s->tok);
    s->len = malloc((size_t)n * sizeof *s->len);
    for (int i = 0; i < n; i++) {
        struct pawl_token_claims c = { "pawl-authority", "user-42", VIN, cmd, T0 + i + 60, T0 + i,
                                       (uint64_t)i + 1, { 0 }, NULL };
        size_t pn, tn;
        memcpy(c.cti, &i, sizeof i);
        if (pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d) != PAWL_OK ||
            pawl_token_sign(payload, pn, signers[0], s->tok[i], PAWL_EDGE_TOKEN_MAX, &tn, &d) != PAWL_OK)
            abort();
        for (int k = 1; signers[k] != NULL; k++) {
            if (pawl_token_cosign(s->tok[i], tn, signers[k], tmp, sizeof tmp, &tn, &d) != PAWL_OK)
                abort();
            memcpy(s->tok[i], tmp, tn);
        }
        s->len[i] = tn;
    }
}

/* Full verification of every token; microseconds per token. */
static double full(const struct pawl_edge_trust *trust, const struct set *s)
{
    static struct pawl_edge_mem_entry slots[SLOTS];
    static struct pawl_edge_work work;
    struct pawl_edge_mem_store ms;
    struct pawl_edge_result r;
    struct pawl_edge_state st = { true, 0.0f };
    pawl_edge_mem_store_init(&ms, slots, SLOTS);
    struct pawl_edge_verifier v = { trust, pawl_edge_openssl_crypto(), pawl_edge_mem_store(&ms) };
    double t = now_s();
    for (int i = 0; i < s->n; i++)
        if (pawl_edge_token_verify(&v, s->tok[i], s->len[i], T0 + (uint64_t)i, &st, &work, &r) !=
            PAWL_EDGE_OK)
            abort();
    return (now_s() - t) / s->n * 1e6;
}

/* The floor: only the back end's signature checks over the signed bytes
 * (built beforehand, outside the timed loop). */
static double floor_only(const struct pawl_edge_trust *trust, const struct set *s)
{
    static uint8_t msg[8][PAWL_EDGE_WORK_SIZE];
    size_t mlen[8];
    struct pawl_edge_token t[1];
    struct pawl_edge_crypto c = pawl_edge_openssl_crypto();
    double total = 0;
    for (int i = 0; i < s->n; i++) {
        if (pawl_edge_token_parse(s->tok[i], s->len[i], t, NULL) != PAWL_EDGE_OK)
            abort();
        for (unsigned k = 0; k < t->nsigs; k++)
            mlen[k] = pawl_edge_sig_structure(t->sigs[k].prot.p, t->sigs[k].prot.n, t->payload.p,
                                              t->payload.n, msg[k], sizeof msg[k]);
        double a = now_s();
        for (unsigned k = 0; k < t->nsigs; k++)
            if (!c.verify(c.ctx, &trust->keys[t->sigs[k].alg == PAWL_EDGE_ALG_EDDSA ? 0 : 1],
                          msg[k], mlen[k], t->sigs[k].sig.p, t->sigs[k].sig.n))
                abort();
        total += now_s() - a;
    }
    return total / s->n * 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, const struct pawl_edge_trust *trust, const struct set *s,
                   int rounds)
{
    double f[16], v[16];
    for (int r = 0; r < rounds; r++) { /* interleaved, so drift hits both */
        f[r] = floor_only(trust, s);
        v[r] = full(trust, s);
    }
    qsort(f, (size_t)rounds, sizeof f[0], cmp);
    qsort(v, (size_t)rounds, sizeof v[0], cmp);
    double fm = f[rounds / 2], vm = v[rounds / 2];
    printf("%-34s %5zu-byte token: verify %7.2f us, signatures alone %7.2f us, "
           "overhead %+6.2f us (%+.1f%%)\n", what, s->len[0], vm, fm, vm - fm, (vm - fm) / fm * 100);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int n = quick ? 200 : 2000, rounds = quick ? 3 : 7;
    EVP_PKEY *auth = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *owner = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct pawl_signer sa, so;
    static struct pawl_edge_trust trust;
    struct set one, two;
    if (pawl_signer_openssl(auth, &sa) != PAWL_OK || pawl_signer_openssl(owner, &so) != PAWL_OK)
        return 1;
    trust_for(auth, owner, &trust);
    make(&one, n, "door.lock", (const struct pawl_signer *const[]){ &sa, NULL });
    make(&two, n, "door.unlock", (const struct pawl_signer *const[]){ &sa, &so, NULL });
    printf("command tokens: %d tokens per round, median of %d rounds, %s\n", n, rounds,
           OpenSSL_version(OPENSSL_VERSION));
    report("1 signature (EdDSA)", &trust, &one, rounds);
    report("2 signatures (EdDSA + ES256)", &trust, &two, rounds);
    pawl_edge_trust_release(&trust);
    EVP_PKEY_free(auth);
    EVP_PKEY_free(owner);
    free(one.tok), free(one.len), free(two.tok), free(two.len);
    return 0;
}
