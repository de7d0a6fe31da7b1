/* see pawl/ota.h: building root, targets (delegations, hash bins),
 * snapshot and timestamp metadata in python-tuf's exact shapes. */
#include "pawl/ota.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/tuf.h" /* pawl_tuf_quote: the client's file names, byte for byte */
#include "util.h"

#define WHERE "ota"

static const char *const top_roles[] = { "root", "timestamp", "snapshot", "targets" };

static pawl_err nomem(struct pawl_diag *d)
{
    pawl__diagf(d, WHERE, 0, 0, "out of memory");
    return PAWL_ENOMEM;
}

/* _type, spec_version, version, expires. */
static pawl_err common(const char *type, int64_t version, int64_t expires, json_t **out,
                       struct pawl_diag *d)
{
    json_t *o = json_pack("{s:s, s:s}", "_type", type, "spec_version", PAWL_OTA_SPEC_VERSION);
    if (o == NULL)
        return nomem(d);
    pawl_err e = pawl_ota_set_version(o, version, expires, d);
    if (e != PAWL_OK) {
        json_decref(o);
        return e;
    }
    *out = o;
    return PAWL_OK;
}

pawl_err pawl_ota_root_new(int64_t version, int64_t expires, bool consistent_snapshot,
                           json_t **out, struct pawl_diag *d)
{
    json_t *o = NULL, *roles = json_object();
    pawl_err e = common("root", version, expires, &o, d);
    if (e != PAWL_OK) {
        json_decref(roles);
        return e;
    }
    for (size_t i = 0; i < 4; i++)
        if (roles == NULL || json_object_set_new(roles, top_roles[i],
                                                 json_pack("{s:[], s:i}", "keyids", "threshold",
                                                           1)) != 0)
            goto fail;
    if (json_object_set_new(o, "consistent_snapshot", json_boolean(consistent_snapshot)) != 0 ||
        json_object_set_new(o, "keys", json_object()) != 0 ||
        json_object_set_new(o, "roles", roles) != 0) {
        roles = NULL;
        goto fail;
    }
    *out = o;
    return PAWL_OK;
fail:
    json_decref(roles);
    json_decref(o);
    return nomem(d);
}

/* ---- roles that delegate ------------------------------------------------------------ */

static bool is_root(const json_t *s)
{
    const char *t = json_string_value(json_object_get(s, "_type"));
    return t != NULL && strcmp(t, "root") == 0;
}

/* The role object (keyids, threshold) of `role` in a root or a targets
 * delegator, or NULL with a diag. */
static json_t *find_role(const json_t *delegator, const char *role, struct pawl_diag *d)
{
    if (is_root(delegator)) {
        json_t *r = role ? json_object_get(json_object_get(delegator, "roles"), role) : NULL;
        if (r == NULL)
            pawl__diagf(d, WHERE, 0, 0, "root: no role '%s'", role ? role : "(null)");
        return r;
    }
    json_t *dl = json_object_get(delegator, "delegations");
    if (role == NULL) {
        json_t *r = json_object_get(dl, "succinct_roles");
        if (r == NULL)
            pawl__diagf(d, WHERE, 0, 0, "targets: no succinct_roles (hash bins)");
        return r;
    }
    json_t *roles = json_object_get(dl, "roles"), *r;
    size_t i;
    json_array_foreach(roles, i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n != NULL && strcmp(n, role) == 0)
            return r;
    }
    pawl__diagf(d, WHERE, 0, 0, "targets: no delegation to '%s'", role);
    return NULL;
}

/* delegator's "keys", created in a targets role's "delegations" as needed. */
static json_t *keys_of(json_t *delegator)
{
    if (is_root(delegator))
        return json_object_get(delegator, "keys");
    json_t *dl = json_object_get(delegator, "delegations");
    if (dl == NULL) {
        if (json_object_set_new(delegator, "delegations", json_pack("{s:{}}", "keys")) != 0)
            return NULL;
        dl = json_object_get(delegator, "delegations");
    }
    json_t *k = json_object_get(dl, "keys");
    if (k == NULL && json_object_set_new(dl, "keys", json_object()) == 0)
        k = json_object_get(dl, "keys");
    return k;
}

static bool array_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
        return true;
    return false;
}

pawl_err pawl_ota_add_key(json_t *delegator, const char *role, const json_t *key,
                          struct pawl_diag *d)
{
    char id[PAWL_OTA_KEYID_LEN + 1];
    json_t *r = find_role(delegator, role, d), *keys;
    if (r == NULL)
        return PAWL_ENOTFOUND;
    pawl_err e = pawl_ota_keyid(key, id, d);
    if (e != PAWL_OK)
        return e;
    json_t *ids = json_object_get(r, "keyids");
    if (array_has(ids, id)) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s' already has key %s", role ? role : "(bins)", id);
        return PAWL_EINVAL;
    }
    if ((keys = keys_of(delegator)) == NULL || json_array_append_new(ids, json_string(id)) != 0 ||
        json_object_set_new(keys, id, json_deep_copy(key)) != 0)
        return nomem(d);
    return PAWL_OK;
}

/* Whether any role of delegator still lists keyid. */
static bool key_in_use(const json_t *delegator, const char *keyid)
{
    const char *name;
    json_t *r;
    size_t i;
    if (is_root(delegator)) {
        json_object_foreach(json_object_get(delegator, "roles"), name, r) if (
            array_has(json_object_get(r, "keyids"), keyid)) return true;
        return false;
    }
    json_t *dl = json_object_get(delegator, "delegations");
    json_array_foreach(json_object_get(dl, "roles"), i, r) if (
        array_has(json_object_get(r, "keyids"), keyid)) return true;
    return array_has(json_object_get(json_object_get(dl, "succinct_roles"), "keyids"), keyid);
}

pawl_err pawl_ota_remove_key(json_t *delegator, const char *role, const char *keyid,
                             struct pawl_diag *d)
{
    json_t *r = find_role(delegator, role, d);
    if (r == NULL)
        return PAWL_ENOTFOUND;
    json_t *ids = json_object_get(r, "keyids"), *v;
    json_int_t th = json_integer_value(json_object_get(r, "threshold"));
    size_t i;
    const char *rn = role ? role : "(bins)";
    if (!array_has(ids, keyid)) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s' has no key %s", rn, keyid);
        return PAWL_ENOTFOUND;
    }
    if ((json_int_t)json_array_size(ids) - 1 < th) {
        pawl__diagf(d, WHERE, 0, 0,
                    "role '%s': removing key %s leaves %zu keys, below its threshold %lld", rn,
                    keyid, json_array_size(ids) - 1, (long long)th);
        return PAWL_EINVAL;
    }
    json_array_foreach(ids, i, v) if (strcmp(json_string_value(v), keyid) == 0) break;
    if (json_array_remove(ids, i) != 0)
        return nomem(d);
    if (!key_in_use(delegator, keyid))
        json_object_del(keys_of(delegator), keyid);
    return PAWL_OK;
}

pawl_err pawl_ota_set_threshold(json_t *delegator, const char *role, int64_t threshold,
                                struct pawl_diag *d)
{
    json_t *r = find_role(delegator, role, d);
    if (r == NULL)
        return PAWL_ENOTFOUND;
    size_t n = json_array_size(json_object_get(r, "keyids"));
    if (threshold < 1 || (uint64_t)threshold > n) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s': threshold %lld is not in 1..%zu (its keys)",
                    role ? role : "(bins)", (long long)threshold, n);
        return PAWL_EINVAL;
    }
    if (json_object_set_new(r, "threshold", json_integer(threshold)) != 0)
        return nomem(d);
    return PAWL_OK;
}

pawl_err pawl_ota_role_keys(const json_t *delegator, const char *role, const json_t **keyids,
                            int64_t *threshold, struct pawl_diag *d)
{
    const json_t *r = find_role(delegator, role, d);
    if (r == NULL)
        return PAWL_ENOTFOUND;
    *keyids = json_object_get(r, "keyids");
    *threshold = json_integer_value(json_object_get(r, "threshold"));
    return PAWL_OK;
}

/* ---- targets --------------------------------------------------------------------------- */

pawl_err pawl_ota_targets_new(int64_t version, int64_t expires, json_t **out,
                              struct pawl_diag *d)
{
    json_t *o = NULL;
    pawl_err e = common("targets", version, expires, &o, d);
    if (e != PAWL_OK)
        return e;
    if (json_object_set_new(o, "targets", json_object()) != 0) {
        json_decref(o);
        return nomem(d);
    }
    *out = o;
    return PAWL_OK;
}

void pawl_ota_hasher_free(struct pawl_ota_hasher *h)
{
    EVP_MD_CTX_free(h->sha256);
    EVP_MD_CTX_free(h->sha512);
    h->sha256 = h->sha512 = NULL;
}

pawl_err pawl_ota_hasher_init(struct pawl_ota_hasher *h, struct pawl_diag *d)
{
    h->length = 0;
    h->sha256 = EVP_MD_CTX_new();
    h->sha512 = EVP_MD_CTX_new();
    if (h->sha256 == NULL || h->sha512 == NULL ||
        EVP_DigestInit_ex(h->sha256, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(h->sha512, EVP_sha512(), NULL) != 1) {
        pawl_ota_hasher_free(h);
        pawl__diagf(d, WHERE, 0, 0, "cannot start SHA-256/SHA-512");
        return PAWL_ECRYPTO;
    }
    return PAWL_OK;
}

pawl_err pawl_ota_hasher_update(struct pawl_ota_hasher *h, const void *p, size_t n,
                                struct pawl_diag *d)
{
    if (h->sha256 == NULL || EVP_DigestUpdate(h->sha256, p, n) != 1 ||
        EVP_DigestUpdate(h->sha512, p, n) != 1) {
        pawl__diagf(d, WHERE, 0, 0, "hashing failed");
        return PAWL_ECRYPTO;
    }
    h->length += n;
    return PAWL_OK;
}

pawl_err pawl_ota_hasher_final(struct pawl_ota_hasher *h, const json_t *custom, json_t **info,
                               uint8_t sha256[32], uint8_t sha512[64], struct pawl_diag *d)
{
    uint8_t a[32], b[64];
    char ha[65], hb[129];
    bool ok = h->sha256 != NULL && EVP_DigestFinal_ex(h->sha256, a, NULL) == 1 &&
              EVP_DigestFinal_ex(h->sha512, b, NULL) == 1;
    pawl_ota_hasher_free(h);
    if (!ok || h->length > (uint64_t)INT64_MAX) {
        pawl__diagf(d, WHERE, 0, 0, "hashing failed");
        return PAWL_ECRYPTO;
    }
    pawl__hex(a, sizeof a, ha);
    pawl__hex(b, sizeof b, hb);
    json_t *o = json_pack("{s:I, s:{s:s, s:s}}", "length", (json_int_t)h->length, "hashes",
                          "sha256", ha, "sha512", hb);
    if (o == NULL || (custom != NULL && json_object_set_new(o, "custom",
                                                            json_deep_copy(custom)) != 0)) {
        json_decref(o);
        return nomem(d);
    }
    if (sha256 != NULL)
        memcpy(sha256, a, sizeof a);
    if (sha512 != NULL)
        memcpy(sha512, b, sizeof b);
    *info = o;
    return PAWL_OK;
}

pawl_err pawl_ota_file_info(const void *data, size_t n, const json_t *custom, json_t **info,
                            struct pawl_diag *d)
{
    struct pawl_ota_hasher h;
    pawl_err e = pawl_ota_hasher_init(&h, d);
    if (e == PAWL_OK && (e = pawl_ota_hasher_update(&h, data, n, d)) != PAWL_OK)
        pawl_ota_hasher_free(&h);
    if (e == PAWL_OK)
        e = pawl_ota_hasher_final(&h, custom, info, NULL, NULL, d);
    return e;
}

/* UTF-8 (jansson's check) without control characters. */
static bool plain_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

pawl_err pawl_ota_check_target_path(const char *path, struct pawl_diag *d)
{
    size_t n = strlen(path);
    const char *why = NULL;
    if (n == 0 || n > PAWL_OTA_PATH_MAX)
        why = "must be 1..1024 bytes";
    else if (!plain_text(path) || strchr(path, '\\') != NULL)
        why = "has a control character, a '\\' or is not UTF-8";
    for (const char *p = path; why == NULL && p <= path + n; p++) {
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            why = "has an empty, '.' or '..' part";
        p += len;
    }
    if (why != NULL) {
        pawl__diagf(d, WHERE, 0, 0, "target path '%s' %s", path, why);
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

pawl_err pawl_ota_targets_add(json_t *targets, const char *path, const json_t *info,
                              struct pawl_diag *d)
{
    json_t *t = json_object_get(targets, "targets");
    pawl_err e = pawl_ota_check_target_path(path, d);
    if (e != PAWL_OK)
        return e;
    if (!json_is_object(t) || !json_is_object(info)) {
        pawl__diagf(d, WHERE, 0, 0, "target '%s': not a targets document or info not an object",
                    path);
        return PAWL_EINVAL;
    }
    if (json_object_set_new(t, path, json_deep_copy(info)) != 0)
        return nomem(d);
    return PAWL_OK;
}

/* ---- snapshot and timestamp --------------------------------------------------------- */

pawl_err pawl_ota_snapshot_new(int64_t version, int64_t expires, json_t **out,
                               struct pawl_diag *d)
{
    json_t *o = NULL;
    pawl_err e = common("snapshot", version, expires, &o, d);
    if (e != PAWL_OK)
        return e;
    if (json_object_set_new(o, "meta", json_object()) != 0) {
        json_decref(o);
        return nomem(d);
    }
    *out = o;
    return PAWL_OK;
}

pawl_err pawl_ota_meta_set(json_t *signed_, const char *fname, int64_t version, const void *data,
                           size_t n, struct pawl_diag *d)
{
    json_t *meta = json_object_get(signed_, "meta"), *mf;
    if (!json_is_object(meta) || version < 1 || !plain_text(fname) || fname[0] == '\0') {
        pawl__diagf(d, WHERE, 0, 0, "meta '%s': not a snapshot or timestamp, or version %lld < 1",
                    fname, (long long)version);
        return PAWL_EINVAL;
    }
    if ((mf = json_pack("{s:I}", "version", (json_int_t)version)) == NULL)
        return nomem(d);
    if (data != NULL) {
        uint8_t md[32];
        char hex[65];
        if (EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL) != 1) {
            json_decref(mf);
            pawl__diagf(d, WHERE, 0, 0, "SHA-256 failed");
            return PAWL_ECRYPTO;
        }
        pawl__hex(md, sizeof md, hex);
        if (json_object_set_new(mf, "length", json_integer((json_int_t)n)) != 0 ||
            json_object_set_new(mf, "hashes", json_pack("{s:s}", "sha256", hex)) != 0) {
            json_decref(mf);
            return nomem(d);
        }
    }
    if (json_object_set_new(meta, fname, mf) != 0)
        return nomem(d);
    return PAWL_OK;
}

pawl_err pawl_ota_timestamp_new(int64_t version, int64_t expires, int64_t snapshot_version,
                                const void *snapshot, size_t n, json_t **out,
                                struct pawl_diag *d)
{
    json_t *o = NULL;
    pawl_err e = common("timestamp", version, expires, &o, d);
    if (e != PAWL_OK)
        return e;
    if (json_object_set_new(o, "meta", json_object()) != 0) {
        json_decref(o);
        return nomem(d);
    }
    if ((e = pawl_ota_meta_set(o, "snapshot.json", snapshot_version, snapshot, n, d)) != PAWL_OK) {
        json_decref(o);
        return e;
    }
    *out = o;
    return PAWL_OK;
}

/* ---- delegations ------------------------------------------------------------------------ */

pawl_err pawl_ota_check_role_name(const char *name, struct pawl_diag *d)
{
    size_t n = strlen(name);
    const char *why = NULL;
    if (n == 0 || n > PAWL_OTA_NAME_MAX)
        why = "must be 1..255 bytes";
    else if (!plain_text(name))
        why = "has a control character or is not UTF-8";
    for (size_t i = 0; why == NULL && i < 4; i++)
        if (strcmp(name, top_roles[i]) == 0)
            why = "is a top-level role";
    if (why != NULL) {
        pawl__diagf(d, WHERE, 0, 0, "role name '%s' %s", name, why);
        return PAWL_EINVAL;
    }
    return PAWL_OK;
}

uint32_t pawl_ota_bin_index(const char *path, unsigned bit_length)
{
    uint8_t md[32];
    if (bit_length < 1 || bit_length > 32 ||
        EVP_Digest(path, strlen(path), md, NULL, EVP_sha256(), NULL) != 1)
        return 0;
    uint32_t v = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
    return bit_length == 32 ? v : v >> (32 - bit_length);
}

pawl_err pawl_ota_bin_name(const char *name_prefix, unsigned bit_length, uint32_t index,
                           char *out, size_t cap, struct pawl_diag *d)
{
    /* hex digits of 2^bit_length - 1, python-tuf's suffix_len */
    int width = (int)(bit_length + 3) / 4;
    if (bit_length < 1 || bit_length > PAWL_OTA_MAX_BIT_LENGTH ||
        (bit_length < 32 && index >> bit_length != 0)) {
        pawl__diagf(d, WHERE, 0, 0, "bin %u with bit_length %u: bit_length is 1..32, index < 2^bits",
                    index, bit_length);
        return PAWL_EINVAL;
    }
    int r = snprintf(out, cap, "%s-%0*x", name_prefix, width, index);
    if (r < 0 || (size_t)r >= cap) {
        pawl__diagf(d, WHERE, 0, 0, "bin name of prefix '%s' does not fit %zu bytes", name_prefix,
                    cap);
        return PAWL_ELIMIT;
    }
    return PAWL_OK;
}

static bool parts_match(const char *path, const char *pattern)
{
    /* python-tuf: as many parts as the pattern, each matched by fnmatch
     * (no escapes, '*' stays within its part since parts are split first). */
    for (;;) {
        const char *ps = strchr(path, '/'), *qs = strchr(pattern, '/');
        size_t pn = ps ? (size_t)(ps - path) : strlen(path);
        size_t qn = qs ? (size_t)(qs - pattern) : strlen(pattern);
        char *a = pawl__strndup(path, pn), *b = pawl__strndup(pattern, qn);
        bool ok = a != NULL && b != NULL && fnmatch(b, a, FNM_NOESCAPE) == 0;
        free(a);
        free(b);
        if (!ok || (ps == NULL) != (qs == NULL))
            return false;
        if (ps == NULL)
            return true;
        path = ps + 1;
        pattern = qs + 1;
    }
}

bool pawl_ota_delegation_covers(const json_t *role, const char *path)
{
    const json_t *paths = json_object_get(role, "paths");
    const json_t *pre = json_object_get(role, "path_hash_prefixes"), *v;
    size_t i;
    if (json_is_array(pre)) {
        uint8_t md[32];
        char hex[65];
        if (EVP_Digest(path, strlen(path), md, NULL, EVP_sha256(), NULL) != 1)
            return false;
        pawl__hex(md, sizeof md, hex);
        json_array_foreach(pre, i, v)
        {
            const char *p = json_string_value(v);
            if (p != NULL && strncmp(hex, p, strlen(p)) == 0)
                return true;
        }
        return false;
    }
    json_array_foreach(paths, i, v) if (json_is_string(v) &&
                                        parts_match(path, json_string_value(v))) return true;
    return false;
}

pawl_err pawl_ota_role_filename(const char *role, int64_t version, char *out, size_t cap,
                                struct pawl_diag *d)
{
    char enc[3 * PAWL_OTA_NAME_MAX + 1];
    size_t n = strlen(role) <= PAWL_OTA_NAME_MAX ? pawl_tuf_quote(role, enc, sizeof enc) : 0;
    int r = -1;
    if (n > 0 && version > 0)
        r = snprintf(out, cap, "%lld.%s.json", (long long)version, enc);
    else if (n > 0 && version == 0)
        r = snprintf(out, cap, "%s.json", enc);
    if (n == 0) {
        pawl__diagf(d, WHERE, 0, 0, "role name of %zu bytes: 1..%d", strlen(role),
                    PAWL_OTA_NAME_MAX);
        return PAWL_EINVAL;
    }
    if (r < 0 || (size_t)r >= cap || (size_t)r > PAWL_OTA_NAME_MAX) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s': its file name is over %d bytes (or %zu)", role,
                    PAWL_OTA_NAME_MAX, cap - 1);
        return PAWL_ELIMIT;
    }
    return PAWL_OK;
}

/* Checks nkeys keys and threshold, adds the keys to targets' delegations and
 * returns their keyids in a new array. */
static pawl_err put_keys(json_t *targets, const char *role, const json_t *const *keys,
                         size_t nkeys, int64_t threshold, json_t **ids, struct pawl_diag *d)
{
    char id[PAWL_OTA_KEYID_LEN + 1];
    json_t *dk;
    if (nkeys == 0 || nkeys > PAWL_OTA_MAX_SIGNERS || threshold < 1 ||
        (uint64_t)threshold > nkeys) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s': %zu keys (1..%d) with threshold %lld (1..keys)",
                    role, nkeys, PAWL_OTA_MAX_SIGNERS, (long long)threshold);
        return PAWL_EINVAL;
    }
    if ((*ids = json_array()) == NULL || (dk = keys_of(targets)) == NULL)
        return nomem(d);
    for (size_t i = 0; i < nkeys; i++) {
        pawl_err e = pawl_ota_keyid(keys[i], id, d);
        if (e == PAWL_OK && array_has(*ids, id)) {
            pawl__diagf(d, WHERE, 0, 0, "role '%s': key %s given twice", role, id);
            e = PAWL_EINVAL;
        }
        if (e == PAWL_OK && (json_array_append_new(*ids, json_string(id)) != 0 ||
                             json_object_set_new(dk, id, json_deep_copy(keys[i])) != 0))
            e = nomem(d);
        if (e != PAWL_OK) {
            json_decref(*ids);
            *ids = NULL;
            return e;
        }
    }
    return PAWL_OK;
}

static pawl_err check_delegation(const json_t *targets, const struct pawl_ota_delegation *del,
                                 struct pawl_diag *d)
{
    pawl_err e = pawl_ota_check_role_name(del->name, d);
    const json_t *dl = json_object_get(targets, "delegations");
    if (e != PAWL_OK)
        return e;
    if (json_object_get(dl, "succinct_roles") != NULL) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s': this targets role delegates to hash bins already "
                    "(TUF allows roles or bins, not both)", del->name);
        return PAWL_EINVAL;
    }
    if (find_role(targets, del->name, NULL) != NULL) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s' is delegated already", del->name);
        return PAWL_EINVAL;
    }
    if ((del->npaths > 0) == (del->nprefixes > 0)) {
        pawl__diagf(d, WHERE, 0, 0, "role '%s': give paths or hash prefixes (one of them)",
                    del->name);
        return PAWL_EINVAL;
    }
    for (size_t i = 0; i < del->npaths; i++)
        if (del->paths[i][0] == '\0' || !plain_text(del->paths[i])) {
            pawl__diagf(d, WHERE, 0, 0, "role '%s': path pattern %zu is empty or not text",
                        del->name, i + 1);
            return PAWL_EINVAL;
        }
    for (size_t i = 0; i < del->nprefixes; i++) {
        const char *p = del->hash_prefixes[i];
        size_t n = strspn(p, "0123456789abcdef");
        if (n == 0 || n > 64 || p[n] != '\0') {
            pawl__diagf(d, WHERE, 0, 0, "role '%s': hash prefix '%s' is not 1..64 lowercase hex "
                        "digits", del->name, p);
            return PAWL_EINVAL;
        }
    }
    return PAWL_OK;
}

static json_t *string_array(const char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(s[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

pawl_err pawl_ota_delegate(json_t *targets, const struct pawl_ota_delegation *del,
                           const json_t *const *keys, size_t nkeys, struct pawl_diag *d)
{
    json_t *ids = NULL, *r = NULL, *copy = json_deep_copy(targets);
    pawl_err e = check_delegation(targets, del, d);
    /* Work on a copy so that a failure leaves targets as it was. */
    if (e != PAWL_OK || copy == NULL ||
        (e = put_keys(copy, del->name, keys, nkeys, del->threshold, &ids, d)) != PAWL_OK)
        goto out;
    e = nomem(d);
    r = json_pack("{s:s, s:o, s:I, s:b}", "name", del->name, "keyids", ids, "threshold",
                  (json_int_t)del->threshold, "terminating", del->terminating);
    if (r == NULL)
        goto out;
    json_t *pats = del->npaths > 0 ? string_array(del->paths, del->npaths)
                                   : string_array(del->hash_prefixes, del->nprefixes);
    if (json_object_set_new(r, del->npaths > 0 ? "paths" : "path_hash_prefixes", pats) != 0)
        goto out;
    json_t *dl = json_object_get(copy, "delegations");
    if (json_object_get(dl, "roles") == NULL &&
        json_object_set_new(dl, "roles", json_array()) != 0)
        goto out;
    if (json_array_append(json_object_get(dl, "roles"), r) != 0 ||
        json_object_update(targets, copy) != 0)
        goto out;
    e = PAWL_OK;
out:
    json_decref(r);
    json_decref(copy);
    return e;
}

pawl_err pawl_ota_delegate_bins(json_t *targets, const char *name_prefix, unsigned bit_length,
                                const json_t *const *keys, size_t nkeys, int64_t threshold,
                                struct pawl_diag *d)
{
    char last[PAWL_OTA_NAME_MAX + 2];
    const json_t *dl = json_object_get(targets, "delegations");
    json_t *ids = NULL, *copy = NULL, *sr;
    pawl_err e = pawl_ota_bin_name(name_prefix, bit_length, 0, last, sizeof last, d);
    if (e != PAWL_OK || (e = pawl_ota_check_role_name(last, d)) != PAWL_OK)
        return e;
    if (json_array_size(json_object_get(dl, "roles")) > 0 ||
        json_object_get(dl, "succinct_roles") != NULL) {
        pawl__diagf(d, WHERE, 0, 0, "bins '%s': this targets role delegates already (TUF "
                    "allows roles or bins, not both, and one set of bins)", name_prefix);
        return PAWL_EINVAL;
    }
    if ((copy = json_deep_copy(targets)) == NULL)
        return nomem(d);
    if ((e = put_keys(copy, name_prefix, keys, nkeys, threshold, &ids, d)) != PAWL_OK)
        goto out;
    sr = json_pack("{s:o, s:I, s:i, s:s}", "keyids", ids, "threshold", (json_int_t)threshold,
                   "bit_length", (int)bit_length, "name_prefix", name_prefix);
    json_t *cdl = json_object_get(copy, "delegations");
    json_object_del(cdl, "roles"); /* an empty list: exactly one of roles and bins */
    e = nomem(d);
    if (sr != NULL && json_object_set_new(cdl, "succinct_roles", sr) == 0 &&
        json_object_update(targets, copy) == 0)
        e = PAWL_OK;
out:
    json_decref(copy);
    return e;
}
