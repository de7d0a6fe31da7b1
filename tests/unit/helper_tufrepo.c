/* see helper_tufrepo.h */
#include "helper_tufrepo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tuf_internal.h"

#define MAX_KEYS 64
#define MAX_ROLES 300
#define MAX_FILES 2048
#define EXPIRES "2030-01-01T00:00:00Z"
#define MD_PREFIX "http://repo.test/metadata/"
#define TG_PREFIX "http://repo.test/targets/"

struct file {
    char *name;
    uint8_t *data;
    size_t n;
};

struct files {
    struct file f[MAX_FILES];
    size_t n;
};

struct role {
    char *name;
    char *delegator; /* NULL for top-level roles */
    json_t *signed_;
    bool signers[MAX_KEYS];
};

struct trepo {
    EVP_PKEY *keys[MAX_KEYS];
    char keyid[MAX_KEYS][65];
    json_t *keyobj[MAX_KEYS];
    int nkeys;
    struct role roles[MAX_ROLES];
    int nroles;
    bool consistent, meta_hashes;
    struct files served, stored;
    char requests[16384];
};

static void die(const char *what)
{
    fprintf(stderr, "helper_tufrepo: %s\n", what);
    abort();
}

static struct file *find(struct files *fs, const char *name)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->f[i].name, name) == 0)
            return &fs->f[i];
    return NULL;
}

static void put(struct files *fs, const char *name, const void *data, size_t n)
{
    struct file *f = find(fs, name);
    if (f == NULL) {
        if (fs->n == MAX_FILES)
            die("too many files");
        f = &fs->f[fs->n++];
        f->name = strdup(name);
    } else {
        free(f->data);
    }
    f->data = malloc(n ? n : 1);
    if (f->name == NULL || f->data == NULL)
        die("out of memory");
    memcpy(f->data, data, n);
    f->n = n;
}

static void drop(struct files *fs, const char *name)
{
    struct file *f = find(fs, name);
    if (f == NULL)
        return;
    free(f->name);
    free(f->data);
    *f = fs->f[--fs->n];
}

static struct role *role_of(struct trepo *r, const char *name)
{
    for (int i = 0; i < r->nroles; i++)
        if (strcmp(r->roles[i].name, name) == 0)
            return &r->roles[i];
    return NULL;
}

static struct role *new_role(struct trepo *r, const char *name, const char *delegator,
                             const char *type)
{
    if (r->nroles == MAX_ROLES)
        die("too many roles");
    struct role *ro = &r->roles[r->nroles++];
    memset(ro, 0, sizeof *ro);
    ro->name = strdup(name);
    ro->delegator = delegator ? strdup(delegator) : NULL;
    ro->signed_ = json_pack("{s:s, s:s, s:i, s:s}", "_type", type, "spec_version", "1.0.31",
                            "version", 0, "expires", EXPIRES);
    if (ro->name == NULL || ro->signed_ == NULL)
        die("out of memory");
    return ro;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int new_key(struct trepo *r)
{
    uint8_t pub[32], d[32];
    size_t pn = sizeof pub;
    char pubhex[65];
    unsigned dn = 0;
    struct tuf_buf b = {0};
    char err[128];
    if (r->nkeys == MAX_KEYS)
        die("too many keys");
    int k = r->nkeys++;
    r->keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (r->keys[k] == NULL || EVP_PKEY_get_raw_public_key(r->keys[k], pub, &pn) != 1)
        die("keygen");
    hex(pub, 32, pubhex);
    r->keyobj[k] = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "ed25519", "scheme", "ed25519",
                             "keyval", "public", pubhex);
    if (r->keyobj[k] == NULL || pawl__tuf_cjson(r->keyobj[k], &b, err, sizeof err) != 0 ||
        EVP_Digest(b.p, b.n, d, &dn, EVP_sha256(), NULL) != 1)
        die("keyid");
    hex(d, 32, r->keyid[k]);
    pawl__tuf_buf_free(&b);
    return k;
}

/* The {keys, role} pair that lists role's keys: root's, or the delegator's. */
static json_t *keys_obj(struct trepo *r, struct role *ro, json_t **keyids)
{
    if (ro->delegator == NULL) {
        json_t *root = role_of(r, "root")->signed_;
        *keyids = json_object_get(json_object_get(json_object_get(root, "roles"), ro->name),
                                  "keyids");
        return json_object_get(root, "keys");
    }
    json_t *d = json_object_get(role_of(r, ro->delegator)->signed_, "delegations");
    json_t *sr = json_object_get(d, "succinct_roles");
    *keyids = sr ? json_object_get(sr, "keyids") : NULL;
    json_t *roles = json_object_get(d, "roles");
    for (size_t i = 0; *keyids == NULL && i < json_array_size(roles); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(roles, i), "name")),
                    ro->name))
            *keyids = json_object_get(json_array_get(roles, i), "keyids");
    return json_object_get(d, "keys");
}

int trepo_add_key(struct trepo *r, const char *role)
{
    struct role *ro = role_of(r, role);
    json_t *keyids;
    int k = new_key(r);
    json_t *keys = keys_obj(r, ro, &keyids);
    json_object_set(keys, r->keyid[k], r->keyobj[k]);
    json_array_append_new(keyids, json_string(r->keyid[k]));
    ro->signers[k] = true;
    return k;
}

void trepo_add_signer(struct trepo *r, const char *role, int k)
{
    role_of(r, role)->signers[k] = true;
}

void trepo_remove_signer(struct trepo *r, const char *role, int k)
{
    role_of(r, role)->signers[k] = false;
}

void trepo_remove_key(struct trepo *r, const char *role, int k)
{
    json_t *keyids;
    (void)keys_obj(r, role_of(r, role), &keyids);
    for (size_t i = 0; i < json_array_size(keyids); i++)
        if (!strcmp(json_string_value(json_array_get(keyids, i)), r->keyid[k]))
            json_array_remove(keyids, i);
}

struct trepo *trepo_new(bool consistent_snapshot)
{
    static const char *const top[] = {"root", "timestamp", "snapshot", "targets"};
    struct trepo *r = calloc(1, sizeof *r);
    if (r == NULL)
        die("out of memory");
    r->consistent = consistent_snapshot;
    for (int i = 0; i < 4; i++)
        new_role(r, top[i], NULL, top[i]);
    json_t *root = role_of(r, "root")->signed_;
    json_object_set_new(root, "consistent_snapshot", json_boolean(consistent_snapshot));
    json_object_set_new(root, "keys", json_object());
    json_object_set_new(root, "roles", json_object());
    for (int i = 0; i < 4; i++)
        json_object_set_new(json_object_get(root, "roles"), top[i],
                            json_pack("{s:[], s:i}", "keyids", "threshold", 1));
    json_object_set_new(role_of(r, "timestamp")->signed_, "meta", json_object());
    json_object_set_new(role_of(r, "snapshot")->signed_, "meta", json_object());
    json_object_set_new(role_of(r, "targets")->signed_, "targets", json_object());
    for (int i = 0; i < 4; i++)
        trepo_add_key(r, top[i]);
    trepo_publish(r, "root targets snapshot timestamp");
    r->requests[0] = '\0';
    return r;
}

void trepo_free(struct trepo *r)
{
    for (int i = 0; i < r->nkeys; i++) {
        EVP_PKEY_free(r->keys[i]);
        json_decref(r->keyobj[i]);
    }
    for (int i = 0; i < r->nroles; i++) {
        free(r->roles[i].name);
        free(r->roles[i].delegator);
        json_decref(r->roles[i].signed_);
    }
    struct files *fs[] = {&r->served, &r->stored};
    for (int j = 0; j < 2; j++)
        while (fs[j]->n > 0)
            drop(fs[j], fs[j]->f[0].name);
    free(r);
}

json_t *trepo_signed(struct trepo *r, const char *role)
{
    struct role *ro = role_of(r, role);
    if (ro == NULL)
        die("no such role");
    return ro->signed_;
}

static json_t *delegations(struct trepo *r, const char *from)
{
    json_t *s = trepo_signed(r, from), *d = json_object_get(s, "delegations");
    if (d == NULL) {
        d = json_pack("{s:{}, s:[]}", "keys", "roles");
        json_object_set_new(s, "delegations", d);
    }
    return d;
}

void trepo_delegate(struct trepo *r, const char *from, const char *name, bool terminating,
                    const char *patterns, bool hash_prefixes)
{
    json_t *list = json_array();
    char *copy = strdup(patterns), *save = NULL;
    for (char *p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save))
        json_array_append_new(list, json_string(p));
    free(copy);
    json_t *role = json_pack("{s:s, s:[], s:i, s:b}", "name", name, "keyids", "threshold", 1,
                             "terminating", terminating);
    json_object_set_new(role, hash_prefixes ? "path_hash_prefixes" : "paths", list);
    json_array_append_new(json_object_get(delegations(r, from), "roles"), role);
    struct role *ro = new_role(r, name, from, "targets");
    json_object_set_new(ro->signed_, "targets", json_object());
    trepo_add_key(r, name);
}

void trepo_delegate_bins(struct trepo *r, const char *from, const char *prefix, int bits)
{
    json_t *d = delegations(r, from);
    json_object_del(d, "roles");
    json_object_set_new(d, "succinct_roles",
                        json_pack("{s:[], s:i, s:i, s:s}", "keyids", "threshold", 1,
                                  "bit_length", bits, "name_prefix", prefix));
    int k = -1;
    for (int b = 0; b < (1 << bits); b++) {
        char name[128];
        snprintf(name, sizeof name, "%s-%0*x", prefix, (bits + 3) / 4, b);
        struct role *ro = new_role(r, name, from, "targets");
        json_object_set_new(ro->signed_, "targets", json_object());
        if (k < 0)
            k = trepo_add_key(r, name);
        else
            ro->signers[k] = true;
    }
}

static void digest_hex(const EVP_MD *md, const void *data, size_t n, char *out)
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dn = 0;
    if (EVP_Digest(data, n, d, &dn, md, NULL) != 1)
        die("digest");
    hex(d, dn, out);
}

void trepo_add_target(struct trepo *r, const char *role, const char *path, const void *data,
                      size_t n)
{
    char h256[65], h512[129], name[1024];
    digest_hex(EVP_sha256(), data, n, h256);
    digest_hex(EVP_sha512(), data, n, h512);
    json_object_set_new(json_object_get(trepo_signed(r, role), "targets"), path,
                        json_pack("{s:I, s:{s:s, s:s}}", "length", (json_int_t)n, "hashes",
                                  "sha256", h256, "sha512", h512));
    const char *base = strrchr(path, '/');
    int dirlen = base ? (int)(base - path) + 1 : 0;
    base = base ? base + 1 : path;
    snprintf(name, sizeof name, "targets/%s", path);
    put(&r->served, name, data, n);
    snprintf(name, sizeof name, "targets/%.*s%s.%s", dirlen, path, h256, base);
    put(&r->served, name, data, n);
    snprintf(name, sizeof name, "targets/%.*s%s.%s", dirlen, path, h512, base);
    put(&r->served, name, data, n);
}

void trepo_set_target_custom(struct trepo *r, const char *role, const char *path,
                             json_t *custom)
{
    json_t *t = json_object_get(json_object_get(trepo_signed(r, role), "targets"), path);
    if (t == NULL)
        die("set_target_custom: no such target");
    if (custom != NULL)
        json_object_set_new(t, "custom", custom);
    else
        json_object_del(t, "custom");
}

void trepo_set_custom(struct trepo *r, const char *role, json_t *custom)
{
    if (custom != NULL)
        json_object_set_new(trepo_signed(r, role), "custom", custom);
    else
        json_object_del(trepo_signed(r, role), "custom");
}

static json_t *metafile(struct trepo *r, const char *served, int64_t version)
{
    json_t *m = json_pack("{s:I}", "version", (json_int_t)version);
    struct file *f = find(&r->served, served);
    if (r->meta_hashes && f != NULL) {
        char h[65];
        digest_hex(EVP_sha256(), f->data, f->n, h);
        json_object_set_new(m, "length", json_integer((json_int_t)f->n));
        json_object_set_new(m, "hashes", json_pack("{s:s}", "sha256", h));
    }
    return m;
}

static void served_name(struct trepo *r, struct role *ro, int64_t v, char *out, size_t cap)
{
    char q[1024];
    if (pawl_tuf_quote(ro->name, q, sizeof q) == 0)
        die("role name");
    bool versioned = strcmp(ro->name, "root") == 0 ||
                     (r->consistent && strcmp(ro->name, "timestamp") != 0);
    if (versioned)
        snprintf(out, cap, "%lld.%s.json", (long long)v, q);
    else
        snprintf(out, cap, "%s.json", q);
}

static void update_meta(struct trepo *r, const char *which)
{
    char name[1100];
    if (!strcmp(which, "snapshot")) {
        json_t *meta = json_object();
        for (int i = 0; i < r->nroles; i++) {
            struct role *ro = &r->roles[i];
            int64_t v = json_integer_value(json_object_get(ro->signed_, "version"));
            if (strcmp(json_string_value(json_object_get(ro->signed_, "_type")), "targets") ||
                v == 0)
                continue;
            char fname[1024];
            snprintf(fname, sizeof fname, "%s.json", ro->name);
            served_name(r, ro, v, name, sizeof name);
            json_object_set_new(meta, fname, metafile(r, name, v));
        }
        json_object_set_new(trepo_signed(r, "snapshot"), "meta", meta);
    } else if (!strcmp(which, "timestamp")) {
        struct role *ro = role_of(r, "snapshot");
        int64_t v = json_integer_value(json_object_get(ro->signed_, "version"));
        served_name(r, ro, v, name, sizeof name);
        json_object_set_new(trepo_signed(r, "timestamp"), "meta",
                            json_pack("{s:o}", "snapshot.json", metafile(r, name, v)));
    }
}

static void sign_and_serve(struct trepo *r, struct role *ro)
{
    struct tuf_buf b = {0};
    char err[128], name[1100], q[1024];
    json_t *sigs = json_array();
    if (pawl__tuf_cjson(ro->signed_, &b, err, sizeof err) != 0)
        die(err);
    for (int k = 0; k < r->nkeys; k++) {
        uint8_t sig[64];
        size_t sn = sizeof sig;
        char sighex[129];
        if (!ro->signers[k])
            continue;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        if (c == NULL || EVP_DigestSignInit(c, NULL, NULL, NULL, r->keys[k]) != 1 ||
            EVP_DigestSign(c, sig, &sn, b.p, b.n) != 1)
            die("sign");
        EVP_MD_CTX_free(c);
        hex(sig, sn, sighex);
        json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid", r->keyid[k], "sig", sighex));
    }
    pawl__tuf_buf_free(&b);
    json_t *doc = json_pack("{s:o, s:O}", "signatures", sigs, "signed", ro->signed_);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text == NULL)
        die("dump");
    int64_t v = json_integer_value(json_object_get(ro->signed_, "version"));
    served_name(r, ro, v, name, sizeof name);
    put(&r->served, name, text, strlen(text));
    if (pawl_tuf_quote(ro->name, q, sizeof q) == 0)
        die("role name");
    snprintf(name, sizeof name, "%s.json", q); /* the latest, unversioned */
    if (strcmp(ro->name, "root") != 0)
        put(&r->served, name, text, strlen(text));
    free(text);
}

void trepo_publish(struct trepo *r, const char *roles)
{
    char *copy = strdup(roles), *save = NULL;
    for (char *p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
        struct role *ro = role_of(r, p);
        if (ro == NULL)
            die("publish: no such role");
        update_meta(r, p);
        json_t *v = json_object_get(ro->signed_, "version");
        json_integer_set(v, json_integer_value(v) + 1);
        sign_and_serve(r, ro);
    }
    free(copy);
}

void trepo_set_meta_hashes(struct trepo *r, bool on)
{
    r->meta_hashes = on;
}

const uint8_t *trepo_served(struct trepo *r, const char *name, size_t *n)
{
    struct file *f = find(&r->served, name);
    if (f == NULL)
        return NULL;
    *n = f->n;
    return f->data;
}

void trepo_serve(struct trepo *r, const char *name, const void *data, size_t n)
{
    put(&r->served, name, data, n);
}

void trepo_unserve(struct trepo *r, const char *name)
{
    drop(&r->served, name);
}

/* ---- client side ------------------------------------------------------ */

static int fetch(void *ctx, const char *url, uint64_t max, pawl_tuf_sink_fn sink, void *sctx,
                 char *err, size_t errn)
{
    struct trepo *r = ctx;
    char name[2048];
    if (!strncmp(url, MD_PREFIX, strlen(MD_PREFIX)))
        snprintf(name, sizeof name, "%s", url + strlen(MD_PREFIX));
    else if (!strncmp(url, TG_PREFIX, strlen(TG_PREFIX)))
        snprintf(name, sizeof name, "targets/%s", url + strlen(TG_PREFIX));
    else
        return pawl__tuf_fail(err, errn, "unknown URL %s", url);
    size_t l = strlen(r->requests);
    snprintf(r->requests + l, sizeof r->requests - l, "%s%s", l ? " " : "", name);
    struct file *f = find(&r->served, name);
    if (f == NULL)
        return PAWL_TUF_NOTFOUND;
    for (size_t off = 0; off < f->n; off += 1000) {
        size_t n = f->n - off < 1000 ? f->n - off : 1000;
        if (off + n > max)
            return pawl__tuf_fail(err, errn, "more than the %llu bytes allowed",
                                  (unsigned long long)max);
        if (sink(sctx, f->data + off, n) != 0)
            return pawl__tuf_fail(err, errn, "the receiver refused the data");
    }
    return 0;
}

struct pawl_tuf_fetcher trepo_fetcher(struct trepo *r)
{
    struct pawl_tuf_fetcher f = {fetch, r};
    return f;
}

static int load(void *ctx, const char *name, uint64_t max, uint8_t **data, size_t *n, char *err,
                size_t errn)
{
    struct file *f = find(&((struct trepo *)ctx)->stored, name);
    if (f == NULL)
        return PAWL_TUF_NOTFOUND;
    if (f->n > max)
        return pawl__tuf_fail(err, errn, "%s: too large", name);
    *data = malloc(f->n ? f->n : 1);
    if (*data == NULL)
        die("out of memory");
    memcpy(*data, f->data, f->n);
    *n = f->n;
    return 0;
}

static int save(void *ctx, const char *name, const uint8_t *data, size_t n, char *err,
                size_t errn)
{
    (void)err;
    (void)errn;
    put(&((struct trepo *)ctx)->stored, name, data, n);
    return 0;
}

struct pawl_tuf_store trepo_store(struct trepo *r)
{
    struct pawl_tuf_store s = {load, save, r};
    return s;
}

const char *trepo_requests(struct trepo *r)
{
    static char out[sizeof r->requests];
    memcpy(out, r->requests, sizeof out);
    r->requests[0] = '\0';
    return out;
}

const uint8_t *trepo_stored(struct trepo *r, const char *name, size_t *n)
{
    struct file *f = find(&r->stored, name);
    if (f == NULL)
        return NULL;
    *n = f->n;
    return f->data;
}

int64_t trepo_stored_version(struct trepo *r, const char *name)
{
    size_t n;
    const uint8_t *p = trepo_stored(r, name, &n);
    if (p == NULL)
        return 0;
    json_t *doc = json_loadb((const char *)p, n, 0, NULL);
    int64_t v = json_integer_value(json_object_get(json_object_get(doc, "signed"), "version"));
    json_decref(doc);
    return v;
}

void trepo_client_init(struct trepo *r, int64_t root_version)
{
    char name[64], err[256];
    size_t n;
    snprintf(name, sizeof name, "%lld.root.json", (long long)root_version);
    const uint8_t *p = trepo_served(r, name, &n);
    struct pawl_tuf_store s = trepo_store(r);
    if (p == NULL || pawl_tuf_init_root(&s, p, n, err, sizeof err) != 0)
        die("client init");
    r->requests[0] = '\0';
}

struct pawl_tuf_updater *trepo_updater(struct trepo *r, int64_t now)
{
    struct pawl_tuf_config cfg = {.metadata_url = "http://repo.test/metadata",
                                  .targets_url = "http://repo.test/targets/",
                                  .now = now ? now : TREPO_NOW};
    struct pawl_tuf_fetcher f = trepo_fetcher(r);
    struct pawl_tuf_store s = trepo_store(r);
    struct pawl_tuf_updater *u = pawl_tuf_new(&cfg, &f, &s);
    if (u == NULL)
        die("updater");
    return u;
}

int trepo_refresh(struct trepo *r, int64_t now)
{
    struct pawl_tuf_updater *u = trepo_updater(r, now);
    int rc = pawl_tuf_refresh(u);
    if (rc != 0)
        fprintf(stderr, "  (refresh refused: %s)\n", pawl_tuf_error(u));
    pawl_tuf_free(u);
    return rc;
}
