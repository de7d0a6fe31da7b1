/* TUF metadata: parsing with full schema checks, signature thresholds,
 * hashes, target lookup and delegation matching. No I/O. */
#include "civil.h"
#include "tuf_internal.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

const char *pawl__tuf_type_name(enum tuf_type t)
{
    static const char *const names[] = {"root", "timestamp", "snapshot", "targets"};
    return names[t];
}

/* ---- schema checks ---------------------------------------------------- */

struct chk {
    const char *what; /* the document, for messages */
    char *err;
    size_t errn;
};

static json_t *field(struct chk *c, json_t *obj, const char *ctx, const char *key, json_type t,
                     bool required, int *rc)
{
    static const char *const tn[] = {"an object", "an array", "a string", "an integer",
                                     "a number", "true or false", "true or false", "null"};
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            *rc = TUF_ERR(c->err, c->errn, "%s: %s has no \"%s\"", c->what, ctx, key);
        return NULL;
    }
    bool ok = t == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == t;
    if (!ok) {
        *rc = TUF_ERR(c->err, c->errn, "%s: %s \"%s\" must be %s", c->what, ctx, key, tn[t]);
        return NULL;
    }
    return v;
}

int64_t pawl__days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ", exactly. */
static int parse_expires(const char *s, int64_t *out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;
    if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    *out = pawl__days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

static int check_keyids(struct chk *c, json_t *role, const char *ctx, int *rc)
{
    json_t *ids = field(c, role, ctx, "keyids", JSON_ARRAY, true, rc);
    json_t *th = field(c, role, ctx, "threshold", JSON_INTEGER, true, rc);
    if (ids == NULL || th == NULL)
        return -1;
    if (json_integer_value(th) < 1)
        return *rc = TUF_ERR(c->err, c->errn, "%s: %s threshold must be at least 1", c->what,
                             ctx);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        json_t *id = json_array_get(ids, i);
        if (!json_is_string(id))
            return *rc = TUF_ERR(c->err, c->errn, "%s: %s keyids[%zu] must be a string",
                                 c->what, ctx, i);
        for (size_t j = 0; j < i; j++)
            if (json_equal(id, json_array_get(ids, j)))
                return *rc = TUF_ERR(c->err, c->errn, "%s: %s lists keyid %s twice", c->what,
                                     ctx, json_string_value(id));
    }
    return 0;
}

static int check_keys(struct chk *c, json_t *keys, const char *ctx)
{
    const char *id;
    json_t *k;
    int rc = 0;
    json_object_foreach(keys, id, k)
    {
        char kctx[160];
        snprintf(kctx, sizeof kctx, "%s key %.64s", ctx, id);
        if (!json_is_object(k))
            return TUF_ERR(c->err, c->errn, "%s: %s must be an object", c->what, kctx);
        field(c, k, kctx, "keytype", JSON_STRING, true, &rc);
        field(c, k, kctx, "scheme", JSON_STRING, true, &rc);
        json_t *kv = field(c, k, kctx, "keyval", JSON_OBJECT, true, &rc);
        if (rc == 0 && kv != NULL)
            field(c, kv, kctx, "public", JSON_STRING, true, &rc);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool top_level_name(const char *n)
{
    return !strcmp(n, "root") || !strcmp(n, "timestamp") || !strcmp(n, "snapshot") ||
           !strcmp(n, "targets");
}

static int check_root(struct chk *c, json_t *s)
{
    int rc = 0;
    field(c, s, "root", "consistent_snapshot", JSON_TRUE, false, &rc);
    json_t *keys = field(c, s, "root", "keys", JSON_OBJECT, true, &rc);
    json_t *roles = field(c, s, "root", "roles", JSON_OBJECT, true, &rc);
    if (rc != 0 || check_keys(c, keys, "root") != 0)
        return -1;
    if (json_object_size(roles) != 4)
        return TUF_ERR(c->err, c->errn,
                       "%s: roles must be exactly root, timestamp, snapshot and targets",
                       c->what);
    const char *name;
    json_t *r;
    json_object_foreach(roles, name, r)
    {
        char ctx[64];
        if (!top_level_name(name))
            return TUF_ERR(c->err, c->errn, "%s: unknown role \"%.32s\" in roles", c->what,
                           name);
        if (!json_is_object(r))
            return TUF_ERR(c->err, c->errn, "%s: role %s must be an object", c->what, name);
        snprintf(ctx, sizeof ctx, "role %s", name);
        if (check_keyids(c, r, ctx, &rc) != 0)
            return -1;
    }
    return 0;
}

static int check_metafile(struct chk *c, json_t *mf, const char *name)
{
    int rc = 0;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "meta %.256s", name);
    if (!json_is_object(mf))
        return TUF_ERR(c->err, c->errn, "%s: %s must be an object", c->what, ctx);
    json_t *v = field(c, mf, ctx, "version", JSON_INTEGER, true, &rc);
    json_t *len = field(c, mf, ctx, "length", JSON_INTEGER, false, &rc);
    json_t *h = field(c, mf, ctx, "hashes", JSON_OBJECT, false, &rc);
    if (rc != 0)
        return -1;
    if (json_integer_value(v) < 1)
        return TUF_ERR(c->err, c->errn, "%s: %s version must be at least 1", c->what, ctx);
    if (len != NULL && json_integer_value(len) < 1)
        return TUF_ERR(c->err, c->errn, "%s: %s length must be positive", c->what, ctx);
    if (h != NULL && json_object_size(h) == 0)
        return TUF_ERR(c->err, c->errn, "%s: %s hashes must not be empty", c->what, ctx);
    const char *alg;
    json_t *x;
    json_object_foreach(h, alg, x) if (!json_is_string(x)) return TUF_ERR(
        c->err, c->errn, "%s: %s hash %.32s must be a string", c->what, ctx, alg);
    return 0;
}

static int check_meta(struct chk *c, json_t *s, bool timestamp)
{
    int rc = 0;
    json_t *meta = field(c, s, pawl__tuf_type_name(timestamp ? TUF_TIMESTAMP : TUF_SNAPSHOT),
                         "meta", JSON_OBJECT, true, &rc);
    if (rc != 0)
        return -1;
    if (timestamp && json_object_get(meta, "snapshot.json") == NULL)
        return TUF_ERR(c->err, c->errn, "%s: meta has no snapshot.json", c->what);
    const char *name;
    json_t *mf;
    json_object_foreach(meta, name, mf) if (check_metafile(c, mf, name) != 0) return -1;
    return 0;
}

static int check_targetfile(struct chk *c, json_t *tf, const char *path)
{
    int rc = 0;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "target %.256s", path);
    if (!json_is_object(tf))
        return TUF_ERR(c->err, c->errn, "%s: %s must be an object", c->what, ctx);
    json_t *len = field(c, tf, ctx, "length", JSON_INTEGER, true, &rc);
    json_t *h = field(c, tf, ctx, "hashes", JSON_OBJECT, true, &rc);
    if (rc != 0)
        return -1;
    if (json_integer_value(len) < 0)
        return TUF_ERR(c->err, c->errn, "%s: %s length must not be negative", c->what, ctx);
    size_t nh = json_object_size(h);
    if (nh == 0 || nh > PAWL_TUF_MAX_HASHES)
        return TUF_ERR(c->err, c->errn, "%s: %s must list 1 to %d hashes", c->what, ctx,
                       PAWL_TUF_MAX_HASHES);
    const char *alg;
    json_t *x;
    json_object_foreach(h, alg, x) if (!json_is_string(x)) return TUF_ERR(
        c->err, c->errn, "%s: %s hash %.32s must be a string", c->what, ctx, alg);
    return 0;
}

static int check_succinct(struct chk *c, json_t *sr)
{
    int rc = 0;
    if (check_keyids(c, sr, "succinct_roles", &rc) != 0)
        return -1;
    json_t *bits = field(c, sr, "succinct_roles", "bit_length", JSON_INTEGER, true, &rc);
    json_t *prefix = field(c, sr, "succinct_roles", "name_prefix", JSON_STRING, true, &rc);
    if (rc != 0)
        return -1;
    if (json_string_length(prefix) == 0 || json_string_length(prefix) > 256)
        return TUF_ERR(c->err, c->errn, "%s: succinct_roles name_prefix must be 1 to 256 bytes",
                       c->what);
    if (json_integer_value(bits) < 1 || json_integer_value(bits) > 32)
        return TUF_ERR(c->err, c->errn, "%s: succinct_roles bit_length must be 1 to 32",
                       c->what);
    return 0;
}

static int check_patterns(struct chk *c, json_t *arr, const char *ctx, const char *key)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!json_is_string(json_array_get(arr, i)))
            return TUF_ERR(c->err, c->errn, "%s: %s %s[%zu] must be a string", c->what, ctx,
                           key, i);
    return 0;
}

static int check_delegated_role(struct chk *c, json_t *r, size_t i, json_t *roles)
{
    int rc = 0;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "delegations.roles[%zu]", i);
    if (!json_is_object(r))
        return TUF_ERR(c->err, c->errn, "%s: %s must be an object", c->what, ctx);
    json_t *name = field(c, r, ctx, "name", JSON_STRING, true, &rc);
    field(c, r, ctx, "terminating", JSON_TRUE, true, &rc);
    json_t *paths = field(c, r, ctx, "paths", JSON_ARRAY, false, &rc);
    json_t *prefixes = field(c, r, ctx, "path_hash_prefixes", JSON_ARRAY, false, &rc);
    if (rc != 0 || check_keyids(c, r, ctx, &rc) != 0)
        return -1;
    const char *n = json_string_value(name);
    if (n[0] == '\0' || json_string_length(name) > 255 || top_level_name(n))
        return TUF_ERR(c->err, c->errn,
                       "%s: %s name \"%.32s\" is empty, over 255 bytes or a top-level role",
                       c->what, ctx, n);
    if ((paths == NULL) == (prefixes == NULL))
        return TUF_ERR(c->err, c->errn,
                       "%s: %s must have exactly one of paths and path_hash_prefixes", c->what,
                       ctx);
    for (size_t j = 0; j < i; j++)
        if (json_equal(name, json_object_get(json_array_get(roles, j), "name")))
            return TUF_ERR(c->err, c->errn, "%s: role \"%.64s\" is delegated twice", c->what,
                           n);
    return check_patterns(c, paths ? paths : prefixes, ctx,
                          paths ? "paths" : "path_hash_prefixes");
}

static int check_delegations(struct chk *c, json_t *d)
{
    int rc = 0;
    json_t *keys = field(c, d, "delegations", "keys", JSON_OBJECT, true, &rc);
    json_t *roles = field(c, d, "delegations", "roles", JSON_ARRAY, false, &rc);
    json_t *sr = field(c, d, "delegations", "succinct_roles", JSON_OBJECT, false, &rc);
    if (rc != 0 || check_keys(c, keys, "delegations") != 0)
        return -1;
    if ((roles == NULL) == (sr == NULL))
        return TUF_ERR(c->err, c->errn,
                       "%s: delegations must have exactly one of roles and succinct_roles",
                       c->what);
    if (sr != NULL)
        return check_succinct(c, sr);
    for (size_t i = 0; i < json_array_size(roles); i++)
        if (check_delegated_role(c, json_array_get(roles, i), i, roles) != 0)
            return -1;
    return 0;
}

static int check_targets(struct chk *c, json_t *s)
{
    int rc = 0;
    json_t *targets = field(c, s, "targets", "targets", JSON_OBJECT, true, &rc);
    json_t *d = field(c, s, "targets", "delegations", JSON_OBJECT, false, &rc);
    if (rc != 0)
        return -1;
    const char *path;
    json_t *tf;
    json_object_foreach(targets, path, tf) if (check_targetfile(c, tf, path) != 0) return -1;
    return d != NULL ? check_delegations(c, d) : 0;
}

static int check_signatures(struct chk *c, json_t *sigs)
{
    for (size_t i = 0; i < json_array_size(sigs); i++) {
        json_t *s = json_array_get(sigs, i);
        int rc = 0;
        char ctx[32];
        snprintf(ctx, sizeof ctx, "signatures[%zu]", i);
        if (!json_is_object(s))
            return TUF_ERR(c->err, c->errn, "%s: %s must be an object", c->what, ctx);
        json_t *id = field(c, s, ctx, "keyid", JSON_STRING, true, &rc);
        field(c, s, ctx, "sig", JSON_STRING, true, &rc);
        if (rc != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (json_equal(id, json_object_get(json_array_get(sigs, j), "keyid")))
                return TUF_ERR(c->err, c->errn, "%s: keyid %.64s signed twice", c->what,
                               json_string_value(id));
    }
    return 0;
}

/* "1.MINOR" or "1.MINOR.PATCH": the major version this client speaks. */
static bool spec_version_ok(const char *s)
{
    int parts = 0;
    if (strncmp(s, "1.", 2) != 0)
        return false;
    s += 2;
    for (;;) {
        const char *start = s;
        while (*s >= '0' && *s <= '9')
            s++;
        if (s == start)
            return false;
        parts++;
        if (*s == '\0')
            return parts <= 2;
        if (*s++ != '.')
            return false;
    }
}

static int check_common(struct chk *c, struct tuf_md *md, enum tuf_type want)
{
    int rc = 0;
    const char *tn = pawl__tuf_type_name(want);
    json_t *type = field(c, md->signed_, "signed", "_type", JSON_STRING, true, &rc);
    json_t *spec = field(c, md->signed_, "signed", "spec_version", JSON_STRING, true, &rc);
    json_t *ver = field(c, md->signed_, "signed", "version", JSON_INTEGER, true, &rc);
    json_t *exp = field(c, md->signed_, "signed", "expires", JSON_STRING, true, &rc);
    if (rc != 0)
        return -1;
    if (strcmp(json_string_value(type), tn) != 0)
        return TUF_ERR(c->err, c->errn, "%s: _type is \"%.32s\", expected \"%s\"", c->what,
                       json_string_value(type), tn);
    if (!spec_version_ok(json_string_value(spec)))
        return TUF_ERR(c->err, c->errn, "%s: spec_version \"%.32s\" is not 1.x or 1.x.y",
                       c->what, json_string_value(spec));
    md->version = json_integer_value(ver);
    if (md->version < 1)
        return TUF_ERR(c->err, c->errn, "%s: version must be at least 1", c->what);
    if (parse_expires(json_string_value(exp), &md->expires) != 0)
        return TUF_ERR(c->err, c->errn, "%s: expires \"%.40s\" is not YYYY-MM-DDTHH:MM:SSZ",
                       c->what, json_string_value(exp));
    md->type = want;
    return 0;
}

int pawl__tuf_parse(const uint8_t *data, size_t n, enum tuf_type want, const char *what,
                    struct tuf_md *md, char *err, size_t errn)
{
    struct chk c = {what, err, errn};
    json_error_t je;
    memset(md, 0, sizeof *md);
    md->raw_len = n;
    md->doc = json_loadb((const char *)data, n, JSON_REJECT_DUPLICATES, &je);
    if (md->doc == NULL)
        return TUF_ERR(err, errn, "%s: line %d column %d: %s", what, je.line, je.column,
                       je.text);
    int rc = 0;
    if (!json_is_object(md->doc)) {
        rc = TUF_ERR(err, errn, "%s: not a JSON object", what);
    } else {
        md->signed_ = field(&c, md->doc, "document", "signed", JSON_OBJECT, true, &rc);
        json_t *sigs = field(&c, md->doc, "document", "signatures", JSON_ARRAY, true, &rc);
        if (rc == 0)
            rc = check_signatures(&c, sigs);
        if (rc == 0)
            rc = check_common(&c, md, want);
        if (rc == 0 && want == TUF_ROOT)
            rc = check_root(&c, md->signed_);
        if (rc == 0 && (want == TUF_TIMESTAMP || want == TUF_SNAPSHOT))
            rc = check_meta(&c, md->signed_, want == TUF_TIMESTAMP);
        if (rc == 0 && want == TUF_TARGETS)
            rc = check_targets(&c, md->signed_);
    }
    if (rc != 0)
        pawl__tuf_md_clear(md);
    return rc;
}

void pawl__tuf_md_clear(struct tuf_md *md)
{
    json_decref(md->doc);
    free(md->canon);
    memset(md, 0, sizeof *md);
}

void pawl__tuf_md_move(struct tuf_md *dst, struct tuf_md *src)
{
    pawl__tuf_md_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

bool pawl__tuf_expired(const struct tuf_md *md, int64_t now)
{
    return now >= md->expires;
}

/* ---- roles and signatures --------------------------------------------- */

void pawl__tuf_root_role(const struct tuf_md *root, const char *name, struct tuf_role *r)
{
    json_t *role = json_object_get(json_object_get(root->signed_, "roles"), name);
    r->keys = json_object_get(root->signed_, "keys");
    r->keyids = json_object_get(role, "keyids");
    r->threshold = json_integer_value(json_object_get(role, "threshold"));
}

/* name_prefix-<hex index>, the index below 2^bits, in the width of the
 * largest index. */
static bool is_bin(const json_t *sr, const char *name)
{
    const char *prefix = json_string_value(json_object_get(sr, "name_prefix"));
    int bits = (int)json_integer_value(json_object_get(sr, "bit_length"));
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '-')
        return false;
    const char *hex = name + pl + 1;
    size_t width = (size_t)(bits + 3) / 4;
    if (strlen(hex) != width)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) {
        char ch = hex[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v * 16 + (uint64_t)d;
    }
    return v < ((uint64_t)1 << bits);
}

int pawl__tuf_delegated_role(const struct tuf_md *parent, const char *name, struct tuf_role *r)
{
    json_t *d = json_object_get(parent->signed_, "delegations");
    if (d == NULL)
        return PAWL_TUF_NOTFOUND;
    json_t *role = NULL, *sr = json_object_get(d, "succinct_roles");
    if (sr != NULL) {
        if (is_bin(sr, name))
            role = sr;
    } else {
        json_t *roles = json_object_get(d, "roles");
        for (size_t i = 0; role == NULL && i < json_array_size(roles); i++) {
            json_t *x = json_array_get(roles, i);
            if (strcmp(json_string_value(json_object_get(x, "name")), name) == 0)
                role = x;
        }
    }
    if (role == NULL)
        return PAWL_TUF_NOTFOUND;
    r->keys = json_object_get(d, "keys");
    r->keyids = json_object_get(role, "keyids");
    r->threshold = json_integer_value(json_object_get(role, "threshold"));
    return 0;
}

static json_t *sig_of(json_t *sigs, const char *keyid)
{
    for (size_t i = 0; i < json_array_size(sigs); i++) {
        json_t *s = json_array_get(sigs, i);
        if (!strcmp(json_string_value(json_object_get(s, "keyid")), keyid))
            return json_object_get(s, "sig");
    }
    return NULL;
}

int pawl__tuf_verify(const struct tuf_role *r, struct tuf_md *md, const char *what, char *err,
                     size_t errn)
{
    if (md->canon == NULL) {
        struct tuf_buf b = {0};
        if (pawl__tuf_buf_reserve(&b, md->raw_len) != 0 ||
            pawl__tuf_cjson(md->signed_, &b, err, errn) != 0) {
            pawl__tuf_buf_free(&b);
            return TUF_ERR(err, errn, "%s: signed part has no canonical form", what);
        }
        md->canon = b.p;
        md->canon_len = b.n;
    }
    json_t *sigs = json_object_get(md->doc, "signatures");
    int64_t good = 0;
    for (size_t i = 0; i < json_array_size(r->keyids) && good < r->threshold; i++) {
        const char *id = json_string_value(json_array_get(r->keyids, i));
        json_t *k = json_object_get(r->keys, id), *sig = sig_of(sigs, id);
        if (k != NULL && sig != NULL &&
            pawl__tuf_sig_ok(k, json_string_value(sig), md->canon, md->canon_len))
            good++;
    }
    if (good < r->threshold)
        return TUF_ERR(err, errn, "%s: signed by %lld of the %lld keys required",
                       what, (long long)good, (long long)r->threshold);
    return 0;
}

/* ---- meta files, hashes, targets -------------------------------------- */

int pawl__tuf_metafile(const struct tuf_md *md, const char *fname, struct tuf_metafile *mf)
{
    json_t *e = json_object_get(json_object_get(md->signed_, "meta"), fname);
    if (e == NULL)
        return PAWL_TUF_NOTFOUND;
    json_t *len = json_object_get(e, "length");
    mf->version = json_integer_value(json_object_get(e, "version"));
    mf->length = len ? json_integer_value(len) : -1;
    mf->hashes = json_object_get(e, "hashes");
    return 0;
}

static const struct nettle_hash *hash_alg(const char *name)
{
    if (!strcmp(name, "sha256"))
        return &nettle_sha256;
    if (!strcmp(name, "sha512"))
        return &nettle_sha512;
    return NULL;
}

/* Whether digest d (of alg) is the lowercase hex string want. */
static bool digest_is(const struct nettle_hash *alg, const uint8_t *d, const char *want)
{
    char hex[2 * SHA512_DIGEST_SIZE + 1];
    pawl__tuf_hex(d, alg->digest_size, hex);
    return strcmp(hex, want) == 0;
}

void pawl__tuf_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int pawl__tuf_check_data(const json_t *hashes, int64_t length, const uint8_t *data, size_t n,
                         const char *what, char *err, size_t errn)
{
    if (length >= 0 && (uint64_t)length != n)
        return TUF_ERR(err, errn, "%s: length is %zu, metadata says %lld", what, n,
                       (long long)length);
    const char *alg;
    json_t *want;
    json_object_foreach((json_t *)(uintptr_t)hashes, alg, want)
    {
        const struct nettle_hash *h = hash_alg(alg);
        union tuf_hash_ctx ctx;
        uint8_t d[SHA512_DIGEST_SIZE];
        if (h == NULL)
            return TUF_ERR(err, errn, "%s: unknown hash algorithm \"%.32s\"", what, alg);
        h->init(&ctx);
        h->update(&ctx, n, data);
        h->digest(&ctx, h->digest_size, d);
        if (!digest_is(h, d, json_string_value(want)))
            return TUF_ERR(err, errn, "%s: %s does not match the metadata", what, alg);
    }
    return 0;
}

int pawl__tuf_hasher_init(struct tuf_hasher *h, const struct pawl_tuf_target *t, char *err,
                          size_t errn)
{
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < t->nhashes; i++) {
        h->alg[i] = hash_alg(t->hashes[i].alg);
        if (h->alg[i] == NULL) {
            memset(h, 0, sizeof *h);
            return TUF_ERR(err, errn, "target %s: unknown hash algorithm \"%.32s\"", t->path,
                           t->hashes[i].alg);
        }
        h->alg[i]->init(&h->ctx[i]);
        h->n = i + 1;
    }
    return 0;
}

void pawl__tuf_hasher_update(struct tuf_hasher *h, const uint8_t *p, size_t n)
{
    h->total += n;
    for (size_t i = 0; i < h->n; i++)
        h->alg[i]->update(&h->ctx[i], n, p);
}

int pawl__tuf_hasher_finish(struct tuf_hasher *h, const struct pawl_tuf_target *t, char *err,
                            size_t errn)
{
    int rc = 0;
    if (h->total != t->length)
        rc = TUF_ERR(err, errn, "target %s: length is %llu, metadata says %llu", t->path,
                     (unsigned long long)h->total, (unsigned long long)t->length);
    for (size_t i = 0; rc == 0 && i < h->n; i++) {
        uint8_t d[SHA512_DIGEST_SIZE];
        h->alg[i]->digest(&h->ctx[i], h->alg[i]->digest_size, d);
        if (!digest_is(h->alg[i], d, t->hashes[i].hex))
            rc = TUF_ERR(err, errn, "target %s: %s does not match the metadata", t->path,
                         t->hashes[i].alg);
    }
    memset(h, 0, sizeof *h);
    return rc;
}

int pawl__tuf_target_info(const struct tuf_md *targets, const char *path,
                          struct pawl_tuf_target *t)
{
    json_t *tf = json_object_get(json_object_get(targets->signed_, "targets"), path);
    if (tf == NULL)
        return PAWL_TUF_NOTFOUND;
    memset(t, 0, sizeof *t);
    t->path = json_object_iter_key(
        json_object_iter_at(json_object_get(targets->signed_, "targets"), path));
    t->length = (uint64_t)json_integer_value(json_object_get(tf, "length"));
    t->custom = json_object_get(tf, "custom");
    const char *alg;
    json_t *hex;
    json_object_foreach(json_object_get(tf, "hashes"), alg, hex)
    {
        t->hashes[t->nhashes].alg = alg;
        t->hashes[t->nhashes].hex = json_string_value(hex);
        t->nhashes++;
    }
    return 0;
}

/* ---- delegation matching ---------------------------------------------- */

/* see tuf_internal.h */
bool pawl__tuf_path_matches(const char *pattern, const char *path)
{
    for (;;) {
        const char *ps = strchr(pattern, '/'), *ts = strchr(path, '/');
        if ((ps == NULL) != (ts == NULL))
            return false;
        size_t pl = ps ? (size_t)(ps - pattern) : strlen(pattern);
        size_t tl = ts ? (size_t)(ts - path) : strlen(path);
        char pbuf[1024], tbuf[1024];
        if (pl >= sizeof pbuf || tl >= sizeof tbuf)
            return false;
        memcpy(pbuf, pattern, pl);
        pbuf[pl] = '\0';
        memcpy(tbuf, path, tl);
        tbuf[tl] = '\0';
        if (fnmatch(pbuf, tbuf, FNM_NOESCAPE) != 0)
            return false;
        if (ps == NULL)
            return true;
        pattern = ps + 1;
        path = ts + 1;
    }
}

static void path_hash(const char *path, char hex[65])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, strlen(path), (const uint8_t *)path);
    sha256_digest(&c, sizeof d, d);
    pawl__tuf_hex(d, sizeof d, hex);
}

static bool role_matches(const json_t *role, const char *path, const char *hash)
{
    json_t *paths = json_object_get(role, "paths");
    json_t *prefixes = json_object_get(role, "path_hash_prefixes");
    for (size_t i = 0; i < json_array_size(paths); i++)
        if (pawl__tuf_path_matches(json_string_value(json_array_get(paths, i)), path))
            return true;
    for (size_t i = 0; i < json_array_size(prefixes); i++) {
        const char *p = json_string_value(json_array_get(prefixes, i));
        if (strncmp(hash, p, strlen(p)) == 0)
            return true;
    }
    return false;
}

void pawl__tuf_roles_for_target(const struct tuf_md *md, const char *path,
                                int (*fn)(void *ctx, const char *role, bool terminating),
                                void *ctx)
{
    json_t *d = json_object_get(md->signed_, "delegations");
    char hash[65];
    if (d == NULL)
        return;
    path_hash(path, hash);
    json_t *sr = json_object_get(d, "succinct_roles");
    if (sr != NULL) {
        int bits = (int)json_integer_value(json_object_get(sr, "bit_length"));
        uint32_t first = 0;
        for (int i = 0; i < 8; i++) {
            char ch = hash[i];
            first = first * 16 + (uint32_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
        }
        uint32_t bin = bits == 32 ? first : first >> (32 - bits);
        char name[600];
        snprintf(name, sizeof name, "%.512s-%0*x",
                 json_string_value(json_object_get(sr, "name_prefix")), (bits + 3) / 4, bin);
        fn(ctx, name, false);
        return;
    }
    json_t *roles = json_object_get(d, "roles");
    for (size_t i = 0; i < json_array_size(roles); i++) {
        json_t *r = json_array_get(roles, i);
        if (role_matches(r, path, hash) &&
            fn(ctx, json_string_value(json_object_get(r, "name")),
               json_is_true(json_object_get(r, "terminating"))) != 0)
            return;
    }
}
