/* pawl token issue | cosign | inspect: command tokens (COMMAND-TOKEN.md).
 * See docs/cli.md and docs/edge.md. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <math.h>
#include <openssl/rand.h>

#include "cbor.h"
#include "pawl/token.h"
#include "vault.h"
#include "util.h"

struct issue_opts {
    const char *key, *iss, *sub, *vin, *cmd, *out, *cti_hex, *args;
    const char *seq, *iat, *exp, *ttl;
};

static void usage_token(FILE *f)
{
    fputs("usage: pawl token issue --key KEY.pem --iss NAME --sub USER --vin VIN --cmd CMD\n"
          "                        --seq N [--iat UNIX] [--ttl SECONDS | --exp UNIX]\n"
          "                        [--cti HEX32] [--args JSON_OBJECT] [--out FILE]\n"
          "       pawl token cosign --key KEY.pem [--out FILE] TOKEN_FILE\n"
          "       pawl token inspect TOKEN_FILE\n"
          "\n"
          "issue signs a new token with KEY (Ed25519 or P-256, PKCS#8 PEM, or a key in a\n"
          "PKCS#11 token named by a pkcs11: URI, see pawl pki); iat defaults\n"
          "to now, the lifetime to 60 s, cti to 16 random bytes. cosign appends a\n"
          "signature (written to --out, else TOKEN_FILE is replaced atomically). inspect\n"
          "prints a token without verifying it. Tokens are raw CBOR; without --out,\n"
          "issue writes to stdout. Exit codes: 0 ok, 1 malformed token, 2 usage,\n"
          "3 unreadable key or token, 4 writing failed.\n",
          f);
}

/* ---- files ------------------------------------------------------------------------ */

/* Writes to path through a temporary file and rename, or to stdout. */
static int write_token(const char *path, const uint8_t *b, size_t n)
{
    if (path == NULL) {
        if (isatty(STDOUT_FILENO)) {
            fputs("pawl: refusing to write a binary token to a terminal (use --out)\n", stderr);
            return -1;
        }
        return fwrite(b, 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : -1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL && fwrite(b, 1, n, f) == n;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "pawl: %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* A key file, or a key in a PKCS#11 vault (a pkcs11: URI): *vk is then
 * set, to be closed after signing. */
static int signer_from_file(const char *path, EVP_PKEY **key, struct pawl_vault_key **vk,
                            struct pawl_signer *s)
{
    char err[700];
    if (pawl_vault_is_uri(path)) {
        if ((*vk = pawl_vault_open(path, err, sizeof err)) == NULL) {
            fprintf(stderr, "pawl: %s\n", err);
            return -1;
        }
        return pawl_vault_token_signer(*vk, s);
    }
    if ((*key = pawl_host_load_key(path, true, err, sizeof err)) == NULL) {
        fprintf(stderr, "pawl: %s\n", err);
        return -1;
    }
    if (pawl_signer_openssl(*key, s) != PAWL_OK) {
        fprintf(stderr, "pawl: %s: not an Ed25519 or P-256 private key\n", path);
        return -1;
    }
    return 0;
}

/* ---- issue -------------------------------------------------------------------------- */

static int parse_issue(int argc, char **argv, struct issue_opts *o)
{
    static const char *const names[] = { "--key", "--iss", "--sub", "--vin", "--cmd", "--out",
                                         "--cti", "--args", "--seq", "--iat", "--exp", "--ttl" };
    const char **slots[] = { &o->key, &o->iss, &o->sub, &o->vin, &o->cmd, &o->out,
                             &o->cti_hex, &o->args, &o->seq, &o->iat, &o->exp, &o->ttl };
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "pawl: token issue: %s needs a value\n", argv[i]);
            return -1;
        }
        size_t k = 0;
        while (k < sizeof names / sizeof names[0] && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == sizeof names / sizeof names[0]) {
            fprintf(stderr, "pawl: token issue: unknown option '%s'\n", argv[i]);
            return -1;
        }
        *slots[k] = argv[++i];
    }
    if (!o->key || !o->iss || !o->sub || !o->vin || !o->cmd || !o->seq) {
        fputs("pawl: token issue: --key, --iss, --sub, --vin, --cmd and --seq are required\n",
              stderr);
        return -1;
    }
    if (o->exp && o->ttl) {
        fputs("pawl: token issue: give --exp or --ttl, not both\n", stderr);
        return -1;
    }
    return 0;
}

static int number(const char *opt, const char *s, uint64_t *v)
{
    int64_t x;
    if (pawl__parse_i64(s, strlen(s), 0, INT64_MAX, &x) != PAWL_OK) {
        fprintf(stderr, "pawl: token issue: %s '%s' is not a non-negative integer\n", opt, s);
        return -1;
    }
    *v = (uint64_t)x;
    return 0;
}

/* --args: a JSON object; duplicate keys are an error, not "last wins". */
static int parse_args_json(const char *s, json_t **out)
{
    json_error_t je;
    *out = json_loads(s, JSON_REJECT_DUPLICATES, &je);
    if (*out == NULL || !json_is_object(*out)) {
        fprintf(stderr, "pawl: token issue: --args: %s\n",
                *out == NULL ? je.text : "must be a JSON object");
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int issue_claims(const struct issue_opts *o, struct pawl_token_claims *c, json_t **args)
{
    uint64_t ttl = 60;
    memset(c, 0, sizeof *c);
    c->iss = o->iss, c->sub = o->sub, c->aud = o->vin, c->cmd = o->cmd;
    if (o->args != NULL && parse_args_json(o->args, args) != 0)
        return -1;
    c->args = *args;
    c->iat = (uint64_t)time(NULL);
    if (number("--seq", o->seq, &c->seq) != 0 || (o->iat && number("--iat", o->iat, &c->iat) != 0) ||
        (o->ttl && number("--ttl", o->ttl, &ttl) != 0) ||
        (o->exp && number("--exp", o->exp, &c->exp) != 0))
        return -1;
    if (!o->exp)
        c->exp = c->iat + ttl;
    if (o->cti_hex) {
        if (pawl__unhex(o->cti_hex, strlen(o->cti_hex), c->cti, sizeof c->cti) != PAWL_OK) {
            fputs("pawl: token issue: --cti must be 32 hex digits\n", stderr);
            return -1;
        }
    } else if (RAND_bytes(c->cti, sizeof c->cti) != 1) {
        fputs("pawl: token issue: no randomness for cti\n", stderr);
        return -1;
    }
    return 0;
}

static int cmd_issue(int argc, char **argv)
{
    struct issue_opts o = { 0 };
    struct pawl_token_claims c;
    struct pawl_signer s;
    struct pawl_diag d = { 0 };
    uint8_t payload[PAWL_EDGE_TOKEN_MAX], tok[PAWL_EDGE_TOKEN_MAX];
    size_t pn, tn;
    EVP_PKEY *key = NULL;
    struct pawl_vault_key *vk = NULL;
    json_t *args = NULL;
    int rc = PAWL_EXIT_USAGE;
    if (parse_issue(argc, argv, &o) != 0 || issue_claims(&o, &c, &args) != 0)
        goto out;
    rc = PAWL_EXIT_INPUT;
    if (signer_from_file(o.key, &key, &vk, &s) != 0)
        goto out;
    rc = PAWL_EXIT_USAGE;
    if (pawl_token_claims_encode(&c, payload, sizeof payload, &pn, &d) != PAWL_OK ||
        pawl_token_sign(payload, pn, &s, tok, sizeof tok, &tn, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: token issue: %s\n", d.msg);
        goto out;
    }
    rc = write_token(o.out, tok, tn) == 0 ? PAWL_EXIT_OK : PAWL_EXIT_IO;
out:
    json_decref(args);
    EVP_PKEY_free(key);
    pawl_vault_close(vk);
    return rc;
}

/* ---- cosign ------------------------------------------------------------------------------ */

static int cmd_cosign(int argc, char **argv)
{
    const char *keyp = NULL, *out = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--key") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) {
            *(argv[i][2] == 'k' ? &keyp : &out) = argv[i + 1];
            i++;
        } else if (argv[i][0] != '-' && file == NULL) {
            file = argv[i];
        } else {
            fprintf(stderr, "pawl: token cosign: unexpected '%s'\n", argv[i]);
            return PAWL_EXIT_USAGE;
        }
    }
    if (keyp == NULL || file == NULL) {
        usage_token(stderr);
        return PAWL_EXIT_USAGE;
    }
    uint8_t in[PAWL_EDGE_TOKEN_MAX + 1], tok[PAWL_EDGE_TOKEN_MAX];
    size_t n, tn;
    struct pawl_signer s;
    struct pawl_diag d = { 0 };
    EVP_PKEY *key = NULL;
    struct pawl_vault_key *vk = NULL;
    int rc = PAWL_EXIT_INPUT;
    if (pawl_cli_read_token(file, in, &n) != 0 || signer_from_file(keyp, &key, &vk, &s) != 0)
        goto out;
    if (pawl_token_cosign(in, n, &s, tok, sizeof tok, &tn, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: token cosign: %s: %s\n", file, d.msg);
        rc = PAWL_EXIT_FAIL;
        goto out;
    }
    rc = write_token(out ? out : file, tok, tn) == 0 ? PAWL_EXIT_OK : PAWL_EXIT_IO;
out:
    EVP_PKEY_free(key);
    pawl_vault_close(vk);
    return rc;
}

/* ---- inspect --------------------------------------------------------------------------------- */

static void print_text(const struct pawl_edge_bytes *b)
{
    /* Claims are valid UTF-8 (the parser checked); escape controls only. */
    putchar('"');
    for (size_t i = 0; i < b->n; i++) {
        uint8_t ch = b->p[i];
        if (ch < 0x20 || ch == '"' || ch == '\\' || ch == 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* A half, single or double float from its bits (RFC 8949 Appendix D). */
static double float_value(uint64_t bits, size_t width)
{
    if (width == 2) {
        int e = (int)(bits >> 10 & 0x1f);
        double m = (double)(bits & 0x3ff);
        double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m == 0 ? INFINITY : NAN)
                                                    : ldexp(m + 1024, e - 25);
        return bits & 0x8000 ? -v : v;
    }
    if (width == 4) {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* One item of args in CBOR diagnostic notation (RFC 8949 §8). The parser
 * already checked it, so only the shapes it admits occur. */
static void print_item(struct pawl__cbor *c)
{
    unsigned major;
    uint64_t v;
    const uint8_t *start = c->p;
    if (!pawl__cbor_head(c, &major, &v))
        return;
    struct pawl_edge_bytes b = { c->p, (size_t)v };
    switch (major) {
    case PAWL__CBOR_UINT: printf("%" PRIu64, v); break;
    case PAWL__CBOR_NINT:
        if (v == UINT64_MAX)
            printf("-18446744073709551616");
        else
            printf("-%" PRIu64, v + 1);
        break;
    case PAWL__CBOR_BSTR:
        printf("h'");
        for (size_t i = 0; i < b.n; i++)
            printf("%02x", b.p[i]);
        printf("'");
        c->p += v;
        break;
    case PAWL__CBOR_TSTR: print_text(&b); c->p += v; break;
    case PAWL__CBOR_ARRAY:
    case PAWL__CBOR_MAP:
        putchar(major == PAWL__CBOR_MAP ? '{' : '[');
        for (uint64_t i = 0; i < v; i++) {
            printf(i ? ", " : "");
            print_item(c);
            if (major == PAWL__CBOR_MAP) {
                printf(": ");
                print_item(c);
            }
        }
        putchar(major == PAWL__CBOR_MAP ? '}' : ']');
        break;
    default:
        if (c->p - start == 1)
            printf("%s", v == 20 ? "false" : v == 21 ? "true" : "null");
        else
            printf("%.17g", float_value(v, (size_t)(c->p - start) - 1));
    }
}

static void print_time(const char *name, uint64_t t)
{
    char iso[32] = "out of range";
    time_t tt = (time_t)t;
    struct tm tm;
    if ((uint64_t)tt == t && gmtime_r(&tt, &tm) != NULL)
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("  %-4s %" PRIu64 " (%s)\n", name, t, iso);
}

static void print_claims(const struct pawl_edge_token *t)
{
    printf("claims:\n  iss  ");
    print_text(&t->iss);
    printf("\n  sub  ");
    print_text(&t->sub);
    printf("\n  aud  ");
    print_text(&t->aud);
    printf("\n  cmd  ");
    print_text(&t->cmd);
    if (t->args.n > 0) {
        struct pawl__cbor c = { t->args.p, t->args.p + t->args.n };
        printf("\n  args ");
        print_item(&c);
    }
    printf("\n  seq  %" PRIu64 "\n", t->seq);
    print_time("iat", t->iat);
    print_time("exp", t->exp);
    printf("  lifetime %s%" PRIu64 " s\n", t->exp < t->iat ? "-" : "",
           t->exp < t->iat ? t->iat - t->exp : t->exp - t->iat);
    printf("  cti  ");
    for (size_t i = 0; i < PAWL_EDGE_CTI_LEN; i++)
        printf("%02x", t->cti[i]);
    putchar('\n');
}

static int cmd_inspect(int argc, char **argv)
{
    uint8_t buf[PAWL_EDGE_TOKEN_MAX + 1];
    size_t n;
    struct pawl_edge_token t;
    const char *why;
    if (argc != 2 || argv[1][0] == '-' ) {
        usage_token(stderr);
        return PAWL_EXIT_USAGE;
    }
    if (pawl_cli_read_token(argv[1], buf, &n) != 0)
        return PAWL_EXIT_INPUT;
    if (pawl_edge_token_parse(buf, n, &t, &why) != PAWL_EDGE_OK) {
        printf("malformed: %s\n", why);
        return PAWL_EXIT_FAIL;
    }
    printf("COSE_Sign (tag 98), %zu bytes, %u signature%s (not verified here; the vehicle "
           "verifies: pawl vehicle verify)\n", n, t.nsigs, t.nsigs == 1 ? "" : "s");
    print_claims(&t);
    printf("signatures:\n");
    for (unsigned i = 0; i < t.nsigs; i++) {
        const struct pawl_edge_sig *s = &t.sigs[i];
        printf("  %u  alg %" PRId64 " (%s)  kid ", i + 1, s->alg,
               s->alg == PAWL_EDGE_ALG_EDDSA ? "EdDSA" : s->alg == PAWL_EDGE_ALG_ES256 ? "ES256"
                                                                                     : "unsupported");
        for (size_t k = 0; k < PAWL_EDGE_KID_LEN; k++)
            printf("%02x", s->kid[k]);
        printf("  %zu-byte signature\n", s->sig.n);
    }
    return PAWL_EXIT_OK;
}

int pawl_cli_token(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_token(argc < 2 ? stderr : stdout);
        return argc < 2 ? PAWL_EXIT_USAGE : PAWL_EXIT_OK;
    }
    if (strcmp(argv[1], "issue") == 0)
        return cmd_issue(argc - 1, argv + 1);
    if (strcmp(argv[1], "cosign") == 0)
        return cmd_cosign(argc - 1, argv + 1);
    if (strcmp(argv[1], "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    fprintf(stderr, "pawl: token: unknown command '%s'\n", argv[1]);
    usage_token(stderr);
    return PAWL_EXIT_USAGE;
}
