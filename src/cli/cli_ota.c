/* pawl ota keygen | repo init | repo rotate, and the repository's files:
 * the OEM side of TUF. See docs/ota-publish.md; add, delegate and publish
 * are in cli_ota_repo.c. */
#define _XOPEN_SOURCE 700 /* realpath: keys.json names key files absolutely */
#include "cli_ota.h"
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "util.h"

static void usage_ota(FILE *f)
{
    fputs("usage: pawl ota keygen --type ed25519|ecdsa|rsa [--bits N] --out KEY.pem\n"
          "       pawl ota repo init --repo DIR --root-key K.pem... --targets-key K.pem...\n"
          "                          --snapshot-key K.pem... --timestamp-key K.pem...\n"
          "                          [--threshold ROLE=N]... [--expires ROLE=DAYS]...\n"
          "                          [--no-consistent-snapshot]\n"
          "       pawl ota repo add --repo DIR --images DIR [--role NAME] [--custom JSON]\n"
          "       pawl ota repo delegate --repo DIR --from ROLE --to NAME --key K.pem...\n"
          "                          [--threshold N] (--path PATTERN... | --hash-prefix HEX...)\n"
          "                          [--terminating]\n"
          "       pawl ota repo delegate --repo DIR --from ROLE --bins BITS --prefix NAME\n"
          "                          --key K.pem... [--threshold N]\n"
          "       pawl ota repo publish --repo DIR [--refresh ROLE|all]...\n"
          "       pawl ota repo rotate --repo DIR --role ROLE [--add-key K.pem]...\n"
          "                          [--remove-key K.pem|KEYID]... [--threshold N]\n"
          "       pawl ota repo set-custom --repo DIR [--role ROLE] --custom JSON|null\n"
          "\n"
          "Creates and signs TUF 1.0 repositories from directories of images; keys are\n"
          "PKCS#8 PEM files (Ed25519, EC P-256, RSA >= 2048 bits) that DIR/keys.json names.\n"
          "See docs/ota-publish.md. Exit codes: 0 ok, 1 error, 2 usage.\n",
          f);
}

/* ---- options ------------------------------------------------------------------------ */

int pawl__ota_opts(const char *verb, int argc, char **argv, const struct ota_opt *opts, size_t n)
{
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < n && strcmp(argv[i], opts[k].name) != 0)
            k++;
        if (k == n) {
            fprintf(stderr, "pawl: ota %s: unknown option '%s'\n", verb, argv[i]);
            return -1;
        }
        if (opts[k].flag != NULL) {
            *opts[k].flag = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "pawl: ota %s: %s needs a value\n", verb, argv[i]);
            return -1;
        }
        if (opts[k].val != NULL) {
            *opts[k].val = argv[++i];
        } else if (opts[k].multi->n == OTA_MAX_MULTI) {
            fprintf(stderr, "pawl: ota %s: %s given more than %d times\n", verb, argv[i],
                    OTA_MAX_MULTI);
            return -1;
        } else {
            opts[k].multi->v[opts[k].multi->n++] = argv[++i];
        }
    }
    return 0;
}

/* ---- files ---------------------------------------------------------------------------- */

int pawl__ota_mkdirs(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        fprintf(stderr, "pawl: ota: %s: path too long\n", dir);
        return -1;
    }
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "pawl: ota: %s: %s\n", p, strerror(errno));
            return -1;
        }
        if (end)
            return 0;
        *s = '/';
    }
}

int pawl__ota_write(const char *path, const void *p, size_t n, unsigned mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash != NULL && slash != path) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if (pawl__ota_mkdirs(dir) != 0)
            return -1;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        fprintf(stderr, "pawl: ota: %s: path too long\n", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)mode);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    bool ok = f != NULL && fwrite(p, 1, n, f) == n;
    if (f != NULL)
        ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    else if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "pawl: ota: %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int pawl__ota_write_json(const char *path, const json_t *v)
{
    char *s = json_dumps(v, JSON_SORT_KEYS | JSON_INDENT(2));
    if (s == NULL) {
        fprintf(stderr, "pawl: ota: %s: out of memory\n", path);
        return -1;
    }
    size_t n = strlen(s);
    s[n] = '\n'; /* overwrites the NUL: the length is passed */
    int rc = pawl__ota_write(path, s, n + 1, 0644);
    free(s);
    return rc;
}

int pawl__ota_read_json(const char *path, bool missing_ok, json_t **out)
{
    size_t n;
    json_error_t je;
    *out = NULL;
    if (missing_ok && access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    char *b = pawl_cli_slurp(path, OTA_JSON_MAX, &n);
    if (b == NULL)
        return -1;
    *out = json_loadb(b, n, JSON_REJECT_DUPLICATES, &je);
    free(b);
    if (*out == NULL || !json_is_object(*out)) {
        fprintf(stderr, "pawl: ota: %s:%d:%d: %s\n", path, je.line, je.column,
                *out ? "not a JSON object" : je.text);
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int pawl__ota_path(const struct ota_repo *r, const char *sub, const char *name, char *out,
                   size_t cap)
{
    int n = snprintf(out, cap, "%s/%s%s%s", r->dir, sub, name[0] ? "/" : "", name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "pawl: ota: %s/%s/%s: path too long\n", r->dir, sub, name);
        return -1;
    }
    return 0;
}

static int role_file(const struct ota_repo *r, const char *sub, const char *role, int64_t version,
                     char *out, size_t cap)
{
    char f[PAWL_OTA_NAME_MAX + 1];
    struct pawl_diag d = { 0 };
    if (pawl_ota_role_filename(role, version, f, sizeof f, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: ota: %s\n", d.msg);
        return -1;
    }
    return pawl__ota_path(r, sub, f, out, cap);
}

int pawl__ota_staged_load(const struct ota_repo *r, const char *role, json_t **out)
{
    char p[PATH_MAX];
    if (role_file(r, "staged", role, 0, p, sizeof p) != 0 || pawl__ota_read_json(p, false, out) != 0)
        return -1;
    if (!json_is_object(json_object_get(*out, "targets"))) {
        fprintf(stderr, "pawl: ota: %s: role '%s' is not a targets document\n", p, role);
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int pawl__ota_staged_save(const struct ota_repo *r, const char *role, const json_t *v)
{
    char p[PATH_MAX];
    return role_file(r, "staged", role, 0, p, sizeof p) == 0 ? pawl__ota_write_json(p, v) : -1;
}

/* ---- the repository ---------------------------------------------------------------------- */

int pawl__ota_open(struct ota_repo *r, const char *dir)
{
    char p[PATH_MAX];
    json_t *doc = NULL;
    memset(r, 0, sizeof *r);
    r->dir = dir;
    r->now = (int64_t)time(NULL);
    if (pawl__ota_path(r, "keys.json", "", p, sizeof p) != 0 ||
        pawl__ota_read_json(p, false, &r->cfg) != 0)
        return -1;
    if (!json_is_object(json_object_get(r->cfg, "roles")) ||
        !json_is_object(json_object_get(r->cfg, "expires_days"))) {
        fprintf(stderr, "pawl: ota: %s: not a pawl repository's keys.json (no roles)\n", p);
        return -1;
    }
    if (pawl__ota_path(r, "metadata", "root.json", p, sizeof p) != 0 ||
        pawl__ota_read_json(p, false, &doc) != 0)
        return -1;
    r->root = json_incref(json_object_get(doc, "signed"));
    json_decref(doc);
    if (!json_is_object(json_object_get(r->root, "roles"))) {
        fprintf(stderr, "pawl: ota: %s: no signed root\n", p);
        return -1;
    }
    return 0;
}

void pawl__ota_close(struct ota_repo *r)
{
    json_decref(r->cfg);
    json_decref(r->root);
    r->cfg = r->root = NULL;
}

json_t *pawl__ota_cfg_role(const struct ota_repo *r, const char *name)
{
    return json_object_get(json_object_get(json_object_get(r->cfg, "roles"), name), "keys");
}

int64_t pawl__ota_days(const struct ota_repo *r, const char *role)
{
    static const char *const top[] = { "root", "timestamp", "snapshot", "targets" };
    const char *k = "targets";
    for (size_t i = 0; i < 4; i++)
        if (strcmp(role, top[i]) == 0)
            k = top[i];
    json_int_t v = json_integer_value(json_object_get(json_object_get(r->cfg, "expires_days"), k));
    return v > 0 ? v : 1;
}

/* ---- keys ---------------------------------------------------------------------------------- */

const struct pawl_ota_signer *pawl__ota_key(struct ota_keys *ks, const char *file,
                                            const char *role)
{
    char err[PATH_MAX + 64];
    struct pawl_diag d = { 0 };
    struct ota_key *k;
    for (size_t i = 0; i < ks->n; i++)
        if (strcmp(ks->k[i]->file, file) == 0)
            return &ks->k[i]->s;
    if (!pawl__grow(&ks->k, &ks->cap, ks->n, sizeof *ks->k, 8) ||
        (k = calloc(1, sizeof *k)) == NULL) {
        fputs("pawl: ota: out of memory\n", stderr);
        return NULL;
    }
    if (pawl_vault_is_uri(file)) { /* a key in a PKCS#11 token; the signer owns it */
        struct pawl_vault_key *vk = pawl_vault_open(file, err, sizeof err);
        if (vk == NULL || pawl_vault_ota_signer(vk, &k->s, &d) != 0) {
            fprintf(stderr, "pawl: ota: role '%s': %s\n", role, vk ? d.msg : err);
            free(k);
            return NULL;
        }
    } else if ((k->pkey = pawl_host_load_key(file, true, err, sizeof err)) == NULL) {
        fprintf(stderr, "pawl: ota: role '%s': %s\n", role, err);
        free(k);
        return NULL;
    }
    if ((k->pkey == NULL ? PAWL_OK : pawl_ota_signer_openssl(k->pkey, &k->s, &d)) != PAWL_OK ||
        (k->file = pawl__strndup(file, strlen(file))) == NULL) {
        fprintf(stderr, "pawl: ota: role '%s': %s: %s\n", role, file,
                d.msg[0] ? d.msg : "out of memory");
        pawl_ota_signer_clear(&k->s);
        EVP_PKEY_free(k->pkey);
        free(k);
        return NULL;
    }
    ks->k[ks->n++] = k;
    return &k->s;
}

void pawl__ota_keys_free(struct ota_keys *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        pawl_ota_signer_clear(&ks->k[i]->s);
        EVP_PKEY_free(ks->k[i]->pkey);
        free(ks->k[i]->file);
        free(ks->k[i]);
    }
    free(ks->k);
    memset(ks, 0, sizeof *ks);
}

json_t *pawl__ota_key_entry(struct ota_keys *ks, const char *file, const char *role,
                            const json_t **pub)
{
    char abs[PATH_MAX];
    if (pawl_vault_is_uri(file)) /* a key in a PKCS#11 token: kept as named */
        snprintf(abs, sizeof abs, "%s", file);
    else if (realpath(file, abs) == NULL) {
        fprintf(stderr, "pawl: ota: role '%s': %s: %s\n", role, file, strerror(errno));
        return NULL;
    }
    const struct pawl_ota_signer *s = pawl__ota_key(ks, abs, role);
    if (s == NULL)
        return NULL;
    if (pub != NULL)
        *pub = s->public_key;
    return json_pack("{s:s, s:s}", "file", abs, "keyid", s->keyid);
}

static bool listed(const json_t *keyids, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(keyids, i, v) if (strcmp(json_string_value(v), id) == 0) return true;
    return false;
}

int pawl__ota_sign_role(struct ota_repo *r, struct ota_keys *ks, const char *role,
                        const char *cfgname, const json_t *signed_, const json_t *keyids,
                        int64_t threshold, const struct pawl_ota_signer *const *extra,
                        size_t nextra, char **out, size_t *outn)
{
    const struct pawl_ota_signer *use[PAWL_OTA_MAX_SIGNERS];
    size_t n = 0, i;
    json_t *e;
    struct pawl_diag d = { 0 };
    json_array_foreach(pawl__ota_cfg_role(r, cfgname), i, e)
    {
        const char *file = json_string_value(json_object_get(e, "file"));
        const struct pawl_ota_signer *s = file ? pawl__ota_key(ks, file, role) : NULL;
        if (s == NULL)
            return -1;
        if (listed(keyids, s->keyid) && n < PAWL_OTA_MAX_SIGNERS)
            use[n++] = s;
    }
    if ((int64_t)n < threshold) {
        fprintf(stderr, "pawl: ota: role '%s': %zu of its keys are in keys.json, its threshold is "
                "%lld\n", role, n, (long long)threshold);
        return -1;
    }
    for (i = 0; i < nextra; i++) {
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup = dup || strcmp(use[j]->keyid, extra[i]->keyid) == 0;
        if (!dup && n < PAWL_OTA_MAX_SIGNERS)
            use[n++] = extra[i];
    }
    if (pawl_ota_sign(signed_, use, n, out, outn, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: ota: role '%s': %s\n", role, d.msg);
        return -1;
    }
    return 0;
}

/* ---- keygen -------------------------------------------------------------------------------------- */

static EVP_PKEY *generate(const char *type, const char *bits_s)
{
    int64_t bits = 3072;
    if (bits_s != NULL &&
        (strcmp(type, "rsa") != 0 ||
         pawl__parse_i64(bits_s, strlen(bits_s), PAWL_OTA_RSA_MIN_BITS, PAWL_OTA_RSA_MAX_BITS,
                         &bits) != PAWL_OK)) {
        fprintf(stderr, "pawl: ota keygen: --bits is for rsa, %d..%d\n", PAWL_OTA_RSA_MIN_BITS,
                PAWL_OTA_RSA_MAX_BITS);
        return NULL;
    }
    EVP_PKEY *k = strcmp(type, "ed25519") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                  : strcmp(type, "ecdsa") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                               : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (k == NULL)
        fprintf(stderr, "pawl: ota keygen: generating a %s key failed\n", type);
    ERR_clear_error();
    return k;
}

static int cmd_keygen(int argc, char **argv)
{
    const char *type = NULL, *bits = NULL, *out = NULL;
    const struct ota_opt opts[] = { { "--type", &type, NULL, NULL },
                                    { "--bits", &bits, NULL, NULL },
                                    { "--out", &out, NULL, NULL } };
    if (pawl__ota_opts("keygen", argc, argv, opts, 3) != 0)
        return PAWL_EXIT_USAGE;
    if (type == NULL || out == NULL ||
        (strcmp(type, "ed25519") != 0 && strcmp(type, "ecdsa") != 0 && strcmp(type, "rsa") != 0)) {
        fputs("pawl: ota keygen: --type ed25519|ecdsa|rsa and --out FILE are required\n", stderr);
        return PAWL_EXIT_USAGE;
    }
    EVP_PKEY *k = generate(type, bits);
    struct pawl_ota_signer s = { 0 };
    struct pawl_diag d = { 0 };
    int rc = PAWL_EXIT_FAIL, fd = -1;
    FILE *f = NULL;
    if (k == NULL)
        return bits != NULL ? PAWL_EXIT_USAGE : PAWL_EXIT_FAIL;
    if (pawl_ota_signer_openssl(k, &s, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: ota keygen: %s\n", d.msg);
        goto out;
    }
    /* Never replace a key: O_EXCL; readable by the owner only. */
    if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 || (f = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "pawl: ota keygen: %s: %s\n", out, strerror(errno));
        goto out;
    }
    fd = -1;
    bool ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "pawl: ota keygen: %s: writing failed\n", out);
        remove(out);
        goto out;
    }
    printf("%s %s %s\n", s.keyid, s.scheme, out);
    rc = PAWL_EXIT_OK;
out:
    if (fd >= 0)
        close(fd);
    ERR_clear_error();
    pawl_ota_signer_clear(&s);
    EVP_PKEY_free(k);
    return rc;
}

/* ---- repo init ------------------------------------------------------------------------------------ */

static const char *const top_roles[] = { "root", "timestamp", "snapshot", "targets" };

static int top_index(const char *role)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(role, top_roles[i]) == 0)
            return i;
    return -1;
}

/* "ROLE=N" with ROLE a top-level role and N in [1, max]. */
static int role_value(const char *verb, const char *opt, const char *s, int64_t max, int *role,
                      int64_t *v)
{
    const char *eq = strchr(s, '=');
    char name[16];
    if (eq != NULL && (size_t)(eq - s) < sizeof name) {
        snprintf(name, sizeof name, "%.*s", (int)(eq - s), s);
        *role = top_index(name);
        if (*role >= 0 && pawl__parse_i64(eq + 1, strlen(eq + 1), 1, max, v) == PAWL_OK)
            return 0;
    }
    fprintf(stderr, "pawl: ota %s: %s '%s': want ROLE=N, ROLE root|timestamp|snapshot|targets, "
            "N 1..%lld\n", verb, opt, s, (long long)max);
    return -1;
}

struct init_opts {
    const char *repo;
    struct ota_strv keys[4], thresholds, expires;
    bool no_cs;
};

static int parse_init(int argc, char **argv, struct init_opts *o, int64_t days[4],
                      int64_t th[4])
{
    const struct ota_opt opts[] = {
        { "--repo", &o->repo, NULL, NULL },          { "--root-key", NULL, &o->keys[0], NULL },
        { "--timestamp-key", NULL, &o->keys[1], NULL }, { "--snapshot-key", NULL, &o->keys[2], NULL },
        { "--targets-key", NULL, &o->keys[3], NULL }, { "--threshold", NULL, &o->thresholds, NULL },
        { "--expires", NULL, &o->expires, NULL },    { "--no-consistent-snapshot", NULL, NULL, &o->no_cs },
    };
    int role;
    int64_t v;
    if (pawl__ota_opts("repo init", argc, argv, opts, sizeof opts / sizeof opts[0]) != 0)
        return -1;
    if (o->repo == NULL || !o->keys[0].n || !o->keys[1].n || !o->keys[2].n || !o->keys[3].n) {
        fputs("pawl: ota repo init: --repo and at least one key of each role (--root-key, "
              "--targets-key, --snapshot-key, --timestamp-key) are required\n", stderr);
        return -1;
    }
    for (size_t i = 0; i < o->expires.n; i++) {
        if (role_value("repo init", "--expires", o->expires.v[i], 36500, &role, &v) != 0)
            return -1;
        days[role] = v;
    }
    for (size_t i = 0; i < o->thresholds.n; i++) {
        if (role_value("repo init", "--threshold", o->thresholds.v[i], OTA_MAX_MULTI, &role,
                       &v) != 0)
            return -1;
        th[role] = v;
    }
    return 0;
}

/* Adds each key file of a top-level role to root and to the config. */
static int init_role(struct ota_repo *r, struct ota_keys *ks, json_t *root, int i,
                     const struct ota_strv *files, int64_t threshold)
{
    json_t *arr = json_array();
    struct pawl_diag d = { 0 };
    if (arr == NULL || json_object_set_new(json_object_get(r->cfg, "roles"), top_roles[i],
                                           json_pack("{s:o}", "keys", arr)) != 0)
        return -1;
    for (size_t k = 0; k < files->n; k++) {
        const json_t *pub;
        json_t *e = pawl__ota_key_entry(ks, files->v[k], top_roles[i], &pub);
        if (e == NULL)
            return -1;
        if (json_array_append_new(arr, e) != 0 ||
            pawl_ota_add_key(root, top_roles[i], pub, &d) != PAWL_OK) {
            fprintf(stderr, "pawl: ota repo init: %s: %s\n", files->v[k], d.msg);
            return -1;
        }
    }
    if (pawl_ota_set_threshold(root, top_roles[i], threshold, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: ota repo init: %s\n", d.msg);
        return -1;
    }
    return 0;
}

/* Writes N.root.json and root.json: clients walk every root version. */
int pawl__ota_write_root(struct ota_repo *r, struct ota_keys *ks, json_t *root,
                      const struct pawl_ota_signer *const *extra, size_t nextra)
{
    const json_t *ids;
    int64_t th, v = json_integer_value(json_object_get(root, "version"));
    char *doc = NULL, p[PATH_MAX], name[64];
    size_t n;
    int rc = -1;
    if (pawl_ota_role_keys(root, "root", &ids, &th, NULL) != PAWL_OK ||
        pawl__ota_sign_role(r, ks, "root", "root", root, ids, th, extra, nextra, &doc, &n) != 0)
        return -1;
    snprintf(name, sizeof name, "%lld.root.json", (long long)v);
    if (pawl__ota_path(r, "metadata", name, p, sizeof p) == 0 &&
        pawl__ota_write(p, doc, n, 0644) == 0 &&
        pawl__ota_path(r, "metadata", "root.json", p, sizeof p) == 0 &&
        pawl__ota_write(p, doc, n, 0644) == 0)
        rc = 0;
    if (rc == 0)
        printf("published root v%lld\n", (long long)v);
    free(doc);
    return rc;
}

static int init_repo(struct ota_repo *r, struct ota_keys *ks, const struct init_opts *o,
                     const int64_t days[4], const int64_t th[4])
{
    char p[PATH_MAX];
    json_t *root = NULL, *t = NULL;
    struct pawl_diag d = { 0 };
    int rc = -1;
    r->cfg = json_pack("{s:i, s:b, s:{s:I, s:I, s:I, s:I}, s:{}}", "pawl_ota_repo", 1,
                       "consistent_snapshot", !o->no_cs, "expires_days", "root", (json_int_t)days[0],
                       "timestamp", (json_int_t)days[1], "snapshot", (json_int_t)days[2],
                       "targets", (json_int_t)days[3], "roles");
    if (r->cfg == NULL ||
        pawl_ota_root_new(1, r->now + days[0] * OTA_DAY, !o->no_cs, &root, &d) != PAWL_OK ||
        pawl_ota_targets_new(1, r->now + days[3] * OTA_DAY, &t, &d) != PAWL_OK) {
        fprintf(stderr, "pawl: ota repo init: %s\n", d.msg[0] ? d.msg : "out of memory");
        goto out;
    }
    for (int i = 0; i < 4; i++)
        if (init_role(r, ks, root, i, &o->keys[i], th[i]) != 0)
            goto out;
    if (pawl__ota_path(r, "targets", "", p, sizeof p) != 0 || pawl__ota_mkdirs(p) != 0 ||
        pawl__ota_write_root(r, ks, root, NULL, 0) != 0 || pawl__ota_staged_save(r, "targets", t) != 0 ||
        pawl__ota_path(r, "keys.json", "", p, sizeof p) != 0 ||
        pawl__ota_write_json(p, r->cfg) != 0)
        goto out;
    r->root = json_incref(root);
    rc = pawl__ota_publish(r, ks, NULL);
out:
    json_decref(root);
    json_decref(t);
    return rc;
}

static int cmd_init(int argc, char **argv)
{
    struct init_opts o = { 0 };
    int64_t days[4] = { 365, 1, 7, 90 }, th[4] = { 1, 1, 1, 1 };
    struct ota_repo r = { 0 };
    struct ota_keys ks = { 0 };
    char p[PATH_MAX];
    if (parse_init(argc, argv, &o, days, th) != 0)
        return PAWL_EXIT_USAGE;
    r.dir = o.repo;
    r.now = (int64_t)time(NULL);
    if (pawl__ota_path(&r, "keys.json", "", p, sizeof p) != 0)
        return PAWL_EXIT_FAIL;
    if (access(p, F_OK) == 0) {
        fprintf(stderr, "pawl: ota repo init: %s exists: a repository is there already\n", p);
        return PAWL_EXIT_FAIL;
    }
    int rc = init_repo(&r, &ks, &o, days, th) == 0 ? PAWL_EXIT_OK : PAWL_EXIT_FAIL;
    pawl__ota_keys_free(&ks);
    pawl__ota_close(&r);
    return rc;
}

/* ---- repo rotate ------------------------------------------------------------------------------------ */

struct rot {
    const char *role, *parent; /* parent: NULL for a top-level role */
    const char *arg;           /* the role as its delegator names it (NULL: hash bins) */
    json_t *delegator;         /* the new root, or the parent's staged targets */
    json_t *keys;              /* cfg.roles[role].keys */
    const struct pawl_ota_signer *extra[OTA_MAX_MULTI * 2];
    size_t nextra;
};

static int rot_fail(const char *what, const struct pawl_diag *d)
{
    fprintf(stderr, "pawl: ota repo rotate: %s: %s\n", what, d->msg);
    return -1;
}

static int rot_add(struct ota_keys *ks, struct rot *t, const char *file)
{
    const json_t *pub;
    struct pawl_diag d = { 0 };
    json_t *e = pawl__ota_key_entry(ks, file, t->role, &pub);
    if (e == NULL)
        return -1;
    if (pawl_ota_add_key(t->delegator, t->arg, pub, &d) != PAWL_OK) {
        json_decref(e);
        return rot_fail(file, &d);
    }
    return json_array_append_new(t->keys, e) == 0 ? 0 : -1;
}

static int rot_remove(struct ota_keys *ks, struct rot *t, const char *what)
{
    char keyid[PAWL_OTA_KEYID_LEN + 1];
    struct pawl_diag d = { 0 };
    size_t i;
    json_t *e;
    if (strlen(what) == PAWL_OTA_KEYID_LEN && strspn(what, "0123456789abcdef") == strlen(what) &&
        access(what, F_OK) != 0) {
        snprintf(keyid, sizeof keyid, "%s", what);
    } else {
        json_t *ent = pawl__ota_key_entry(ks, what, t->role, NULL);
        if (ent == NULL)
            return -1;
        const struct pawl_ota_signer *s =
            pawl__ota_key(ks, json_string_value(json_object_get(ent, "file")), t->role);
        snprintf(keyid, sizeof keyid, "%s", json_string_value(json_object_get(ent, "keyid")));
        json_decref(ent);
        /* A removed root key still signs this once: the old root's threshold. */
        if (s != NULL && strcmp(t->role, "root") == 0 &&
            t->nextra < sizeof t->extra / sizeof t->extra[0])
            t->extra[t->nextra++] = s;
    }
    if (pawl_ota_remove_key(t->delegator, t->arg, keyid, &d) != PAWL_OK)
        return rot_fail(what, &d);
    json_array_foreach(t->keys, i, e) if (strcmp(json_string_value(json_object_get(e, "keyid")),
                                                 keyid) == 0) break;
    if (i < json_array_size(t->keys))
        json_array_remove(t->keys, i);
    return 0;
}

/* The role to change: a top-level role in a copy of root, or a delegated
 * role (or a set of hash bins) in its parent's staged targets. */
static int rot_find(struct ota_repo *r, struct rot *t)
{
    json_t *c = json_object_get(json_object_get(r->cfg, "roles"), t->role);
    t->keys = json_object_get(c, "keys");
    if (!json_is_array(t->keys)) {
        fprintf(stderr, "pawl: ota repo rotate: no role '%s' in %s/keys.json\n", t->role, r->dir);
        return -1;
    }
    if (top_index(t->role) >= 0) {
        t->arg = t->role;
        t->delegator = json_deep_copy(r->root);
        return t->delegator != NULL ? 0 : -1;
    }
    t->parent = json_string_value(json_object_get(c, "delegated_by"));
    t->arg = json_object_get(c, "bit_length") != NULL ? NULL : t->role;
    return t->parent != NULL ? pawl__ota_staged_load(r, t->parent, &t->delegator) : -1;
}

/* Signs the new root with the old root's keys too, and checks both
 * thresholds: a client accepts root N+1 only then. */
static int rot_root(struct ota_repo *r, struct ota_keys *ks, struct rot *t)
{
    const json_t *old_ids;
    int64_t old_th, v = json_integer_value(json_object_get(r->root, "version"));
    struct pawl_diag d = { 0 };
    size_t i, have = 0;
    json_t *e;
    if (pawl_ota_role_keys(r->root, "root", &old_ids, &old_th, &d) != PAWL_OK)
        return rot_fail("root", &d);
    json_array_foreach(old_ids, i, e)
    {
        bool found = false;
        for (size_t k = 0; k < t->nextra && !found; k++)
            found = strcmp(t->extra[k]->keyid, json_string_value(e)) == 0;
        have += found;
    }
    if ((int64_t)have < old_th) {
        fprintf(stderr, "pawl: ota repo rotate: root v%lld: only %zu of the old root keys are at "
                "hand, its threshold is %lld (give removed keys as files)\n", (long long)v + 1,
                have, (long long)old_th);
        return -1;
    }
    if (pawl_ota_set_version(t->delegator, v + 1, r->now + pawl__ota_days(r, "root") * OTA_DAY,
                             &d) != PAWL_OK)
        return rot_fail("root", &d);
    return pawl__ota_write_root(r, ks, t->delegator, t->extra, t->nextra);
}

/* Loads the old root's keys (from keys.json before the change) as signers. */
static int rot_old_root_keys(struct ota_repo *r, struct ota_keys *ks, struct rot *t)
{
    size_t i;
    json_t *e;
    json_array_foreach(pawl__ota_cfg_role(r, "root"), i, e)
    {
        const struct pawl_ota_signer *s =
            pawl__ota_key(ks, json_string_value(json_object_get(e, "file")), "root");
        if (s == NULL)
            return -1;
        if (t->nextra < sizeof t->extra / sizeof t->extra[0])
            t->extra[t->nextra++] = s;
    }
    return 0;
}

static int rotate(struct ota_repo *r, struct ota_keys *ks, struct rot *t,
                  const struct ota_strv *add, const struct ota_strv *rm, const char *th_s)
{
    int64_t th = 0;
    struct pawl_diag d = { 0 };
    bool th_done = th_s == NULL;
    char p[PATH_MAX];
    if (th_s != NULL && pawl__parse_i64(th_s, strlen(th_s), 1, OTA_MAX_MULTI, &th) != PAWL_OK) {
        fprintf(stderr, "pawl: ota repo rotate: --threshold '%s': want 1..%d\n", th_s,
                OTA_MAX_MULTI);
        return -1;
    }
    if (rot_find(r, t) != 0 || (t->parent == NULL && rot_old_root_keys(r, ks, t) != 0))
        return -1;
    for (size_t i = 0; i < add->n; i++)
        if (rot_add(ks, t, add->v[i]) != 0)
            return -1;
    /* A lower threshold first lets keys go; a higher one waits for them. */
    if (!th_done && pawl_ota_set_threshold(t->delegator, t->arg, th, NULL) == PAWL_OK)
        th_done = true;
    for (size_t i = 0; i < rm->n; i++)
        if (rot_remove(ks, t, rm->v[i]) != 0)
            return -1;
    if (!th_done && pawl_ota_set_threshold(t->delegator, t->arg, th, &d) != PAWL_OK)
        return rot_fail(t->role, &d);
    if (t->parent == NULL ? rot_root(r, ks, t) != 0
                          : pawl__ota_staged_save(r, t->parent, t->delegator) != 0)
        return -1;
    if (t->parent == NULL) {
        json_decref(r->root);
        r->root = json_incref(t->delegator);
    }
    if (pawl__ota_path(r, "keys.json", "", p, sizeof p) != 0 || pawl__ota_write_json(p, r->cfg) != 0)
        return -1;
    /* Publishing now keeps the repository valid: the roles whose keys
     * changed are signed again by their new keys. */
    return pawl__ota_publish(r, ks, NULL);
}

static int cmd_rotate(int argc, char **argv)
{
    const char *repo = NULL, *th = NULL;
    struct ota_strv add = { 0 }, rm = { 0 };
    struct rot t = { 0 };
    const struct ota_opt opts[] = {
        { "--repo", &repo, NULL, NULL },     { "--role", &t.role, NULL, NULL },
        { "--add-key", NULL, &add, NULL },   { "--remove-key", NULL, &rm, NULL },
        { "--threshold", &th, NULL, NULL },
    };
    if (pawl__ota_opts("repo rotate", argc, argv, opts, sizeof opts / sizeof opts[0]) != 0)
        return PAWL_EXIT_USAGE;
    if (repo == NULL || t.role == NULL || (add.n == 0 && rm.n == 0 && th == NULL)) {
        fputs("pawl: ota repo rotate: --repo, --role and at least one of --add-key, "
              "--remove-key, --threshold are required\n", stderr);
        return PAWL_EXIT_USAGE;
    }
    struct ota_repo r;
    struct ota_keys ks = { 0 };
    int rc = pawl__ota_open(&r, repo) == 0 && rotate(&r, &ks, &t, &add, &rm, th) == 0
                 ? PAWL_EXIT_OK
                 : PAWL_EXIT_FAIL;
    json_decref(t.delegator);
    pawl__ota_keys_free(&ks);
    pawl__ota_close(&r);
    return rc;
}

/* ---- dispatch --------------------------------------------------------------------------------------- */

int pawl_cli_ota(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } verbs[] = {
        { "init", cmd_init },        { "add", pawl__ota_add },
        { "delegate", pawl__ota_delegate }, { "publish", pawl__ota_publish_cmd },
        { "rotate", cmd_rotate },    { "set-custom", pawl__ota_set_custom },
    };
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_ota(stdout);
        return PAWL_EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return cmd_keygen(argc - 1, argv + 1);
    if (argc >= 3 && strcmp(argv[1], "repo") == 0)
        for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
            if (strcmp(argv[2], verbs[i].name) == 0)
                return verbs[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "pawl: ota: unknown command '%s%s%s'\n", argc >= 2 ? argv[1] : "",
            argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
    usage_ota(stderr);
    return PAWL_EXIT_USAGE;
}
