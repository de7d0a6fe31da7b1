/* pawl pki: a root and an intermediate CA whose keys live in a PKCS#11
 * token; short-lived certificates for vehicles, services and dealer tools
 * from checked requests; renewal, revocation, CRLs, SPKI pins. See
 * docs/pki.md.
 *
 * The CA directory holds public things only: pki.json (the key URIs,
 * never a PIN), root.pem, intermediate.pem, chain.pem and index.jsonl
 * (one line per certificate issued, one per revocation). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "vault.h"

#define DAY (24 * 3600)

struct pki_opts {
    const char *dir, *root_key, *int_key, *key, *key_type, *org, *csr, *cert, *out;
    const char *profile, *valid, *serial, *reason;
};

static void usage_pki(FILE *f)
{
    fputs("usage: pawl pki init  --dir DIR --root-key URI --intermediate-key URI\n"
          "                      [--key-type p256|ed25519] [--org NAME]\n"
          "       pawl pki issue --dir DIR --csr REQ.pem --profile vehicle|service|dealer\n"
          "                      [--valid 7d] --out CERT.pem [--key URI]\n"
          "       pawl pki renew --dir DIR --cert OLD.pem --csr REQ.pem [--valid D] --out CERT.pem\n"
          "       pawl pki revoke --dir DIR (--serial HEX | --cert CERT.pem) [--reason R]\n"
          "       pawl pki crl   --dir DIR --out CRL.pem [--valid 1d] [--key URI]\n"
          "       pawl pki pin   FILE.pem   (certificate, request or public key)\n"
          "       pawl pki keygen --key URI [--key-type ed25519|p256] [--out PUB.pem]\n"
          "       pawl pki pubkey --key URI [--out PUB.pem]\n"
          "\n"
          "Keys are RFC 7512 pkcs11: URIs (object= names the key; module-path= or\n"
          "PAWL_PKCS11_MODULE the module; pin-source= or PAWL_PKCS11_PIN the PIN).\n"
          "init generates both CA keys in the token; they never leave it. keygen makes\n"
          "a signing key for command tokens, audit checkpoints (Ed25519) or OTA roles\n"
          "(pawl token/ota/audit and pawld take the URI where they take a key file)\n"
          "and prints its public key; pubkey prints an existing one's. Validity:\n"
          "a number and h or d (vehicle 7d, service 30d, dealer 1d by default).\n"
          "Reasons: unspecified, keyCompromise, affiliationChanged, superseded,\n"
          "cessationOfOperation. Exit codes: 0 ok, 2 usage, 3 refused input (a bad\n"
          "request, an unknown serial, a vault error), 4 writing failed.\n",
          f);
}

/* ---- files ------------------------------------------------------------------ */

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Writes PEM through a temporary file and rename. */
static int write_pem(const char *path, int (*put)(BIO *, const void *), const void *obj)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    BIO *b = BIO_new_file(tmp, "w");
    bool ok = b != NULL && put(b, obj) == 1;
    ok = b != NULL && BIO_free(b) == 1 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "pawl: %s: cannot write (%s)\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

static int put_cert(BIO *b, const void *x)
{
    return PEM_write_bio_X509(b, (X509 *)(uintptr_t)x);
}

static int put_chain(BIO *b, const void *xs)
{
    X509 *const *two = xs;
    return PEM_write_bio_X509(b, two[0]) == 1 && PEM_write_bio_X509(b, two[1]) == 1;
}

static int put_crl(BIO *b, const void *c)
{
    return PEM_write_bio_X509_CRL(b, (X509_CRL *)(uintptr_t)c);
}

static X509 *read_cert(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (x == NULL)
        fprintf(stderr, "pawl: %s: not a PEM certificate\n", path);
    return x;
}

static X509 *ca_cert(const char *dir, const char *name)
{
    char p[4096];
    path_in(p, sizeof p, dir, name);
    return read_cert(p);
}

static int append_index(const char *dir, json_t *line)
{
    char p[4096];
    path_in(p, sizeof p, dir, "index.jsonl");
    char *s = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
    FILE *f = s ? fopen(p, "a") : NULL;
    bool ok = f != NULL && fprintf(f, "%s\n", s) > 0;
    ok = f != NULL && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    free(s);
    if (!ok)
        fprintf(stderr, "pawl: %s: cannot append (%s)\n", p, strerror(errno));
    return ok ? 0 : -1;
}

/* index.jsonl as an array of objects; NULL after an error message. */
static json_t *read_index(const char *dir)
{
    char p[4096];
    path_in(p, sizeof p, dir, "index.jsonl");
    json_t *all = json_array();
    FILE *f = fopen(p, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return all;
        fprintf(stderr, "pawl: %s: %s\n", p, strerror(errno));
        json_decref(all);
        return NULL;
    }
    json_error_t je;
    json_t *v;
    while ((v = json_loadf(f, JSON_DISABLE_EOF_CHECK, &je)) != NULL)
        json_array_append_new(all, v);
    bool bad = !feof(f) && je.text[0] != '\0' && strstr(je.text, "end of file") == NULL;
    fclose(f);
    if (bad) {
        fprintf(stderr, "pawl: %s:%d: %s\n", p, je.line, je.text);
        json_decref(all);
        return NULL;
    }
    return all;
}

static const char *conf_key(const char *dir, const char *which, char *buf, size_t cap)
{
    char p[4096], e[600];
    path_in(p, sizeof p, dir, "pki.json");
    size_t n;
    char *text = pawl_host_slurp(p, 1 << 16, &n, e, sizeof e);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(j, which));
    if (v != NULL)
        snprintf(buf, cap, "%s", v);
    json_decref(j);
    free(text);
    if (v == NULL)
        fprintf(stderr, "pawl: %s: %s\n", p, text ? "no key URI (run pawl pki init)" : e);
    return v ? buf : NULL;
}

/* ---- small parsers ------------------------------------------------------------ */

static int parse_valid(const char *s, int64_t dflt, int64_t *out)
{
    if (s == NULL) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int64_t unit = strcmp(end, "d") == 0 ? DAY : strcmp(end, "h") == 0 ? 3600 : 0;
    if (errno != 0 || end == s || v <= 0 || v > 36500 || unit == 0) {
        fprintf(stderr, "pawl: --valid '%s': want a number of hours or days (12h, 7d)\n", s);
        return -1;
    }
    *out = (int64_t)v * unit;
    return 0;
}

static const char *const REASONS[] = {"unspecified", "keyCompromise", NULL, "affiliationChanged",
                                      "superseded", "cessationOfOperation"};

static int parse_reason(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (REASONS[i] && strcmp(s, REASONS[i]) == 0)
            return i;
    fprintf(stderr, "pawl: --reason '%s': not a revocation reason pawl uses\n", s);
    return -1;
}

static char *serial_hex(const X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    return hex;
}

static struct pawl_vault_key *vault(const char *uri)
{
    char err[700];
    struct pawl_vault_key *k = pawl_vault_open(uri, err, sizeof err);
    if (k == NULL)
        fprintf(stderr, "pawl: %s\n", err);
    return k;
}

/* ---- init ---------------------------------------------------------------------- */

static X509_NAME *ca_name(const char *org, const char *what)
{
    char cn[256];
    snprintf(cn, sizeof cn, "%s %s", org, what);
    X509_NAME *n = X509_NAME_new();
    if (n && (X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0) != 1 ||
              X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

/* A CA certificate over k's public key, signed by signer (issuer NULL: itself). */
static X509 *make_ca(struct pawl_vault_key *k, struct pawl_vault_key *signer, const X509 *issuer,
                     const char *org, const char *what, int pathlen, int64_t days)
{
    char err[700];
    int64_t now = (int64_t)time(NULL);
    X509_NAME *name = ca_name(org, what);
    struct pawl_pki_cert c = {
        .subject = name, .pub = pawl_vault_public(k), .issuer = issuer,
        .not_before = now - 300, .not_after = now + days * DAY, .ca_pathlen = pathlen,
    };
    X509 *x = name ? pawl_pki_issue(&c, signer, err, sizeof err) : NULL;
    if (x == NULL)
        fprintf(stderr, "pawl: the %s: %s\n", what, name ? err : "bad --org");
    X509_NAME_free(name);
    return x;
}

static int write_conf(const struct pki_opts *o, const char *type)
{
    char p[4096];
    path_in(p, sizeof p, o->dir, "pki.json");
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "root_key", o->root_key, "intermediate_key",
                          o->int_key, "key_type", type, "org", o->org ? o->org : "pawl");
    int rc = j && json_dump_file(j, p, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? 0 : -1;
    json_decref(j);
    if (rc != 0)
        fprintf(stderr, "pawl: %s: cannot write\n", p);
    return rc;
}

static int check_init(const struct pki_opts *o, enum pawl_vault_type *type)
{
    if (o->dir == NULL || o->root_key == NULL || o->int_key == NULL) {
        usage_pki(stderr);
        return PAWL_EXIT_USAGE;
    }
    if (strstr(o->root_key, "pin-value=") || strstr(o->int_key, "pin-value=")) {
        fputs("pawl: the key URIs are stored in pki.json: give the PIN with pin-source= or "
              "PAWL_PKCS11_PIN, not pin-value=\n", stderr);
        return PAWL_EXIT_USAGE;
    }
    const char *t = o->key_type ? o->key_type : "p256";
    if (strcmp(t, "p256") != 0 && strcmp(t, "ed25519") != 0) {
        fprintf(stderr, "pawl: --key-type '%s': p256 or ed25519\n", t);
        return PAWL_EXIT_USAGE;
    }
    *type = strcmp(t, "p256") == 0 ? PAWL_VAULT_P256 : PAWL_VAULT_ED25519;
    char p[4096];
    path_in(p, sizeof p, o->dir, "pki.json");
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "pawl: %s: %s\n", o->dir, strerror(errno));
        return PAWL_EXIT_IO;
    }
    if (access(p, F_OK) == 0) {
        fprintf(stderr, "pawl: %s exists: this directory already holds a CA\n", p);
        return PAWL_EXIT_INPUT;
    }
    return PAWL_EXIT_OK;
}

static int pki_init(const struct pki_opts *o)
{
    enum pawl_vault_type type;
    int rc = check_init(o, &type);
    if (rc != PAWL_EXIT_OK)
        return rc;
    char err[700], p[4096];
    const char *org = o->org ? o->org : "pawl";
    struct pawl_vault_key *rk = pawl_vault_generate(o->root_key, type, err, sizeof err), *ik = NULL;
    if (rk != NULL)
        ik = pawl_vault_generate(o->int_key, type, err, sizeof err);
    X509 *root = NULL, *inter = NULL;
    rc = PAWL_EXIT_INPUT;
    if (ik == NULL)
        fprintf(stderr, "pawl: %s\n", err);
    else if ((root = make_ca(rk, rk, NULL, org, "pawl root CA", 1, 7300)) != NULL &&
             (inter = make_ca(ik, rk, root, org, "pawl intermediate CA", 0, 1825)) != NULL) {
        X509 *chain[2] = {inter, root};
        rc = PAWL_EXIT_IO;
        path_in(p, sizeof p, o->dir, "root.pem");
        if (write_pem(p, put_cert, root) == 0 &&
            (path_in(p, sizeof p, o->dir, "intermediate.pem"), write_pem(p, put_cert, inter)) == 0 &&
            (path_in(p, sizeof p, o->dir, "chain.pem"), write_pem(p, put_chain, chain)) == 0 &&
            write_conf(o, type == PAWL_VAULT_P256 ? "p256" : "ed25519") == 0) {
            printf("root CA:         %s/root.pem\nintermediate CA: %s/intermediate.pem\n", o->dir, o->dir);
            rc = PAWL_EXIT_OK;
        }
    }
    X509_free(root);
    X509_free(inter);
    pawl_vault_close(rk);
    pawl_vault_close(ik);
    return rc;
}

/* ---- issue and renew -------------------------------------------------------------- */

static X509_REQ *read_csr(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509_REQ *r = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (r == NULL)
        fprintf(stderr, "pawl: %s: not a PEM certificate request\n", path);
    return r;
}

static X509 *sign_leaf(const struct pki_opts *o, const X509 *inter, X509_REQ *req,
                       const struct pawl_pki_request *rq, enum pawl_pki_profile prof, int64_t valid)
{
    char uri[2048], err[700];
    const char *key = o->key ? o->key : conf_key(o->dir, "intermediate_key", uri, sizeof uri);
    struct pawl_vault_key *k = key ? vault(key) : NULL;
    if (k == NULL)
        return NULL;
    int64_t now = (int64_t)time(NULL);
    X509_NAME *name = X509_NAME_new();
    X509 *x = NULL;
    if (name && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)rq->cn,
                                           -1, -1, 0) == 1) {
        struct pawl_pki_cert c = {
            .subject = name, .pub = X509_REQ_get0_pubkey(req), .issuer = inter,
            .not_before = now - 300, .not_after = now + valid, .ca_pathlen = -1,
            .profile = prof, .names = rq,
        };
        if ((x = pawl_pki_issue(&c, k, err, sizeof err)) == NULL)
            fprintf(stderr, "pawl: %s\n", err);
    }
    X509_NAME_free(name);
    pawl_vault_close(k);
    return x;
}

/* Seconds since the epoch of an ASN.1 time (0 when unreadable). */
static int64_t epoch_s(const ASN1_TIME *t)
{
    int days = 0, secs = 0;
    ASN1_TIME *zero = ASN1_TIME_set(NULL, 0);
    bool ok = zero && ASN1_TIME_diff(&days, &secs, zero, t) == 1;
    ASN1_TIME_free(zero);
    return ok ? (int64_t)days * DAY + secs : 0;
}

static int record_issue(const char *dir, X509 *x, const char *cn, enum pawl_pki_profile prof)
{
    char *hex = serial_hex(x);
    int64_t nb = epoch_s(X509_get0_notBefore(x)), na = epoch_s(X509_get0_notAfter(x));
    json_t *line = hex ? json_pack("{s:s, s:s, s:s, s:I, s:I}", "serial", hex, "cn", cn, "profile",
                                   pawl_pki_profile_name(prof), "not_before", (json_int_t)nb,
                                   "not_after", (json_int_t)na)
                       : NULL;
    int rc = line ? append_index(dir, line) : -1;
    json_decref(line);
    OPENSSL_free(hex);
    return rc;
}

/* Checks the request, signs, records, writes. */
static int issue_from(const struct pki_opts *o, enum pawl_pki_profile prof, int64_t valid,
                      const char *same_cn)
{
    char err[600];
    struct pawl_pki_request rq;
    X509_REQ *req = read_csr(o->csr);
    X509 *inter = req ? ca_cert(o->dir, "intermediate.pem") : NULL, *x = NULL;
    int rc = PAWL_EXIT_INPUT;
    if (inter == NULL) {
        /* said */
    } else if (pawl_pki_check_csr(req, prof, &rq, err, sizeof err) != 0) {
        fprintf(stderr, "pawl: %s: refused (%s profile): %s; nothing issued\n", o->csr,
                pawl_pki_profile_name(prof), err);
    } else if (same_cn && strcmp(same_cn, rq.cn) != 0) {
        fprintf(stderr, "pawl: %s: the request is for '%s', the certificate renewed is for '%s'; "
                "nothing issued\n", o->csr, rq.cn, same_cn);
    } else if ((x = sign_leaf(o, inter, req, &rq, prof, valid)) != NULL) {
        rc = record_issue(o->dir, x, rq.cn, prof) == 0 && write_pem(o->out, put_cert, x) == 0
                 ? PAWL_EXIT_OK : PAWL_EXIT_IO;
        if (rc == PAWL_EXIT_OK)
            printf("%s: %s certificate for %s\n", o->out, pawl_pki_profile_name(prof), rq.cn);
    }
    X509_free(x);
    X509_free(inter);
    X509_REQ_free(req);
    return rc;
}

static int pki_issue(const struct pki_opts *o)
{
    static const int64_t dflt[] = {7 * DAY, 30 * DAY, DAY};
    int prof = o->profile ? pawl_pki_profile_parse(o->profile) : -1;
    int64_t valid;
    if (o->dir == NULL || o->csr == NULL || o->out == NULL || prof < 0) {
        if (o->profile && prof < 0)
            fprintf(stderr, "pawl: --profile '%s': vehicle, service or dealer\n", o->profile);
        else
            usage_pki(stderr);
        return PAWL_EXIT_USAGE;
    }
    if (parse_valid(o->valid, dflt[prof], &valid) != 0)
        return PAWL_EXIT_USAGE;
    return issue_from(o, (enum pawl_pki_profile)prof, valid, NULL);
}

/* The index entry of serial hex (its issue line) and whether it is revoked. */
static json_t *find_issued(json_t *index, const char *hex, bool *revoked)
{
    json_t *found = NULL, *v;
    size_t i;
    *revoked = false;
    json_array_foreach(index, i, v) {
        const char *s = json_string_value(json_object_get(v, "serial"));
        const char *r = json_string_value(json_object_get(v, "revoke"));
        if (s && strcmp(s, hex) == 0)
            found = v;
        if (r && strcmp(r, hex) == 0)
            *revoked = true;
    }
    return found;
}

/* A certificate this CA issued, not revoked: its index entry. */
static json_t *known_cert(const struct pki_opts *o, X509 *old, json_t *index)
{
    X509 *inter = ca_cert(o->dir, "intermediate.pem");
    char *hex = serial_hex(old);
    bool revoked = false;
    json_t *e = NULL;
    if (inter == NULL || hex == NULL) {
        /* said */
    } else if (X509_verify(old, X509_get0_pubkey(inter)) != 1) {
        fprintf(stderr, "pawl: %s: not issued by this CA\n", o->cert);
    } else if ((e = find_issued(index, hex, &revoked)) == NULL || revoked) {
        fprintf(stderr, "pawl: %s: serial %s is %s\n", o->cert, hex, e ? "revoked" : "not in the index");
        e = NULL;
    }
    OPENSSL_free(hex);
    X509_free(inter);
    return e;
}

static int pki_renew(const struct pki_opts *o)
{
    if (o->dir == NULL || o->cert == NULL || o->csr == NULL || o->out == NULL) {
        usage_pki(stderr);
        return PAWL_EXIT_USAGE;
    }
    X509 *old = read_cert(o->cert);
    json_t *index = old ? read_index(o->dir) : NULL;
    json_t *e = index ? known_cert(o, old, index) : NULL;
    int rc = PAWL_EXIT_INPUT;
    if (e != NULL) {
        const char *pname = json_string_value(json_object_get(e, "profile"));
        int prof = pawl_pki_profile_parse(pname ? pname : "");
        static const int64_t dflt[] = {7 * DAY, 30 * DAY, DAY};
        int64_t valid;
        if (prof < 0)
            fprintf(stderr, "pawl: index.jsonl: the entry for %s has no known profile\n", o->cert);
        else if (parse_valid(o->valid, dflt[prof], &valid) != 0)
            rc = PAWL_EXIT_USAGE;
        else
            rc = issue_from(o, (enum pawl_pki_profile)prof, valid,
                            json_string_value(json_object_get(e, "cn")));
    }
    json_decref(index);
    X509_free(old);
    return rc;
}

/* ---- revoke and crl ----------------------------------------------------------------- */

static int pki_revoke(const struct pki_opts *o)
{
    if (o->dir == NULL || (o->serial == NULL) == (o->cert == NULL)) {
        usage_pki(stderr);
        return PAWL_EXIT_USAGE;
    }
    int reason = o->reason ? parse_reason(o->reason) : 0;
    if (reason < 0)
        return PAWL_EXIT_USAGE;
    char hex[128];
    if (o->cert != NULL) {
        X509 *x = read_cert(o->cert);
        char *h = x ? serial_hex(x) : NULL;
        snprintf(hex, sizeof hex, "%s", h ? h : "");
        OPENSSL_free(h);
        X509_free(x);
        if (hex[0] == '\0')
            return PAWL_EXIT_INPUT;
    } else {
        BIGNUM *bn = NULL; /* the canonical form: upper case, no leading zeros */
        char *h = BN_hex2bn(&bn, o->serial) == (int)strlen(o->serial) ? BN_bn2hex(bn) : NULL;
        snprintf(hex, sizeof hex, "%s", h ? h : "");
        OPENSSL_free(h);
        BN_free(bn);
        if (hex[0] == '\0') {
            fprintf(stderr, "pawl: --serial '%s': not a hexadecimal serial number\n", o->serial);
            return PAWL_EXIT_USAGE;
        }
    }
    json_t *index = read_index(o->dir);
    bool revoked = false;
    json_t *e = index ? find_issued(index, hex, &revoked) : NULL;
    int rc = PAWL_EXIT_INPUT;
    if (index != NULL && (e == NULL || revoked)) {
        fprintf(stderr, "pawl: serial %s %s\n", hex, e ? "is already revoked" : "was not issued by this CA");
    } else if (e != NULL) {
        json_t *line = json_pack("{s:s, s:I, s:s}", "revoke", hex, "at", (json_int_t)time(NULL),
                                 "reason", REASONS[reason]);
        rc = line && append_index(o->dir, line) == 0 ? PAWL_EXIT_OK : PAWL_EXIT_IO;
        json_decref(line);
        if (rc == PAWL_EXIT_OK)
            printf("revoked %s (%s); publish a new CRL: pawl pki crl\n",
                   json_string_value(json_object_get(e, "cn")), hex);
    }
    json_decref(index);
    return rc;
}

/* The revocations in the index; serials are freed by the caller. */
static size_t revocations(json_t *index, struct pawl_pki_revoked *r, size_t cap)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(index, i, v) {
        const char *hex = json_string_value(json_object_get(v, "revoke"));
        const char *why = json_string_value(json_object_get(v, "reason"));
        BIGNUM *bn = NULL;
        if (hex == NULL || n == cap || BN_hex2bn(&bn, hex) == 0)
            continue;
        r[n].serial = BN_to_ASN1_INTEGER(bn, NULL);
        r[n].at = json_integer_value(json_object_get(v, "at"));
        r[n].reason = 0;
        for (int k = 0; why && k < 6; k++)
            if (REASONS[k] && strcmp(why, REASONS[k]) == 0)
                r[n].reason = k;
        BN_free(bn);
        if (r[n].serial != NULL)
            n++;
    }
    return n;
}

static int pki_crl(const struct pki_opts *o)
{
    int64_t valid;
    if (o->dir == NULL || o->out == NULL) {
        usage_pki(stderr);
        return PAWL_EXIT_USAGE;
    }
    if (parse_valid(o->valid, DAY, &valid) != 0)
        return PAWL_EXIT_USAGE;
    char uri[2048], err[700];
    json_t *index = read_index(o->dir);
    X509 *inter = index ? ca_cert(o->dir, "intermediate.pem") : NULL;
    const char *key = o->key ? o->key : inter ? conf_key(o->dir, "intermediate_key", uri, sizeof uri) : NULL;
    struct pawl_vault_key *k = key ? vault(key) : NULL;
    size_t cap = index ? json_array_size(index) : 0, nr = 0;
    struct pawl_pki_revoked *r = calloc(cap ? cap : 1, sizeof *r);
    int rc = PAWL_EXIT_INPUT;
    if (k != NULL && r != NULL) {
        nr = revocations(index, r, cap);
        int64_t now = (int64_t)time(NULL);
        X509_CRL *crl = pawl_pki_crl(inter, r, nr, now, now + valid, now, k, err, sizeof err);
        if (crl == NULL)
            fprintf(stderr, "pawl: %s\n", err);
        else
            rc = write_pem(o->out, put_crl, crl) == 0 ? PAWL_EXIT_OK : PAWL_EXIT_IO;
        if (rc == PAWL_EXIT_OK)
            printf("%s: %zu revoked, next update in %lld h\n", o->out, nr, (long long)(valid / 3600));
        X509_CRL_free(crl);
    }
    for (size_t i = 0; i < nr; i++)
        ASN1_INTEGER_free((ASN1_INTEGER *)(uintptr_t)r[i].serial);
    free(r);
    pawl_vault_close(k);
    X509_free(inter);
    json_decref(index);
    return rc;
}

/* ---- pin ------------------------------------------------------------------------------ */

static int pki_pin(const char *path)
{
    char pin[PAWL_PKI_PIN_LEN];
    BIO *b = BIO_new_file(path, "r");
    EVP_PKEY *pub = NULL;
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    X509_REQ *req = NULL;
    if (x != NULL) {
        pub = X509_get_pubkey(x);
    } else if (b != NULL && BIO_reset(b) == 0 && (req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL))) {
        pub = X509_REQ_get_pubkey(req);
    } else if (b != NULL && BIO_reset(b) == 0) {
        pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    }
    BIO_free(b);
    X509_free(x);
    X509_REQ_free(req);
    int rc = pub && pawl_pki_pin(pub, pin) == 0 ? PAWL_EXIT_OK : PAWL_EXIT_INPUT;
    EVP_PKEY_free(pub);
    if (rc != PAWL_EXIT_OK)
        fprintf(stderr, "pawl: %s: no certificate, request or public key in PEM\n", path);
    else
        printf("%s\n", pin);
    return rc;
}

/* ---- signing keys for tokens, audit and OTA ------------------------------------------- */

static int put_pub(BIO *b, const void *k)
{
    return PEM_write_bio_PUBKEY(b, (EVP_PKEY *)(uintptr_t)k);
}

static int pki_key(const struct pki_opts *o, bool generate)
{
    char err[700];
    const char *t = o->key_type ? o->key_type : "ed25519";
    if (o->key == NULL || (strcmp(t, "ed25519") != 0 && strcmp(t, "p256") != 0)) {
        if (o->key_type && o->key)
            fprintf(stderr, "pawl: --key-type '%s': ed25519 or p256\n", t);
        else
            usage_pki(stderr);
        return PAWL_EXIT_USAGE;
    }
    enum pawl_vault_type type = strcmp(t, "p256") == 0 ? PAWL_VAULT_P256 : PAWL_VAULT_ED25519;
    struct pawl_vault_key *k = generate ? pawl_vault_generate(o->key, type, err, sizeof err)
                                        : pawl_vault_open(o->key, err, sizeof err);
    if (k == NULL) {
        fprintf(stderr, "pawl: %s\n", err);
        return PAWL_EXIT_INPUT;
    }
    int rc = PAWL_EXIT_OK;
    if (o->out != NULL) {
        rc = write_pem(o->out, put_pub, pawl_vault_public(k)) == 0 ? PAWL_EXIT_OK : PAWL_EXIT_IO;
    } else {
        BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
        rc = b && put_pub(b, pawl_vault_public(k)) == 1 ? PAWL_EXIT_OK : PAWL_EXIT_IO;
        BIO_free(b);
    }
    pawl_vault_close(k);
    return rc;
}

/* ---- the command line ------------------------------------------------------------------- */

static int parse_opts(int argc, char **argv, struct pki_opts *o)
{
    struct { const char *name; const char **dst; } map[] = {
        {"--dir", &o->dir}, {"--root-key", &o->root_key}, {"--intermediate-key", &o->int_key},
        {"--key", &o->key}, {"--key-type", &o->key_type}, {"--org", &o->org}, {"--csr", &o->csr},
        {"--cert", &o->cert}, {"--out", &o->out}, {"--profile", &o->profile},
        {"--valid", &o->valid}, {"--serial", &o->serial}, {"--reason", &o->reason},
    };
    for (int i = 2; i < argc; i++) {
        size_t k = 0;
        while (k < sizeof map / sizeof map[0] && strcmp(argv[i], map[k].name) != 0)
            k++;
        if (k == sizeof map / sizeof map[0] || i + 1 >= argc) {
            fprintf(stderr, "pawl pki: %s '%s'\n", i + 1 >= argc && k < sizeof map / sizeof map[0]
                                                       ? "missing value for" : "unknown option", argv[i]);
            return -1;
        }
        *map[k].dst = argv[++i];
    }
    return 0;
}

int pawl_cli_pki(int argc, char **argv)
{
    struct pki_opts o = {0};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_pki(argc < 2 ? stderr : stdout);
        return argc < 2 ? PAWL_EXIT_USAGE : PAWL_EXIT_OK;
    }
    if (strcmp(argv[1], "pin") == 0) {
        if (argc != 3) {
            usage_pki(stderr);
            return PAWL_EXIT_USAGE;
        }
        return pki_pin(argv[2]);
    }
    if (parse_opts(argc, argv, &o) != 0)
        return PAWL_EXIT_USAGE;
    if (strcmp(argv[1], "init") == 0)
        return pki_init(&o);
    if (strcmp(argv[1], "issue") == 0)
        return pki_issue(&o);
    if (strcmp(argv[1], "renew") == 0)
        return pki_renew(&o);
    if (strcmp(argv[1], "revoke") == 0)
        return pki_revoke(&o);
    if (strcmp(argv[1], "crl") == 0)
        return pki_crl(&o);
    if (strcmp(argv[1], "keygen") == 0 || strcmp(argv[1], "pubkey") == 0)
        return pki_key(&o, strcmp(argv[1], "keygen") == 0);
    fprintf(stderr, "pawl pki: unknown verb '%s'\n", argv[1]);
    usage_pki(stderr);
    return PAWL_EXIT_USAGE;
}
