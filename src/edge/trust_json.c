/* see pawl/edge_host.h */
#include "pawl/edge_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#define MAX_WINDOW_S 86400u /* a token living a day is no longer a command */

struct loader {
    struct pawl_edge_trust *t;
    const char *where;
    char *err;
    size_t errn;
};

static int fail(struct loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct loader *l, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l->errn > 0)
        snprintf(l->err, l->errn, "%s: %s", l->where, msg);
    return -1;
}

static bool vin_valid(const char *v)
{
    if (strlen(v) != PAWL_EDGE_VIN_LEN)
        return false;
    for (const char *p = v; *p; p++) {
        bool digit = *p >= '0' && *p <= '9', upper = *p >= 'A' && *p <= 'Z';
        if (!(digit || upper) || *p == 'I' || *p == 'O' || *p == 'Q')
            return false;
    }
    return true;
}

/* Index of a role name, added when new; -1 when the table is full. */
static int role_index(struct loader *l, const char *name)
{
    struct pawl_edge_trust *t = l->t;
    for (unsigned i = 0; i < t->nroles; i++)
        if (strcmp(t->roles[i], name) == 0)
            return (int)i;
    if (t->nroles == PAWL_EDGE_MAX_ROLES)
        return fail(l, "more than %u distinct roles", PAWL_EDGE_MAX_ROLES);
    snprintf(t->roles[t->nroles], sizeof t->roles[0], "%s", name);
    return (int)t->nroles++;
}

static int name_field(struct loader *l, json_t *v, size_t max, const char *what, unsigned i,
                      const char **out)
{
    *out = json_string_value(v);
    if (*out == NULL || **out == '\0' || strlen(*out) > max || strlen(*out) != json_string_length(v))
        return fail(l, "%s[%u]: must be a non-empty string of at most %zu bytes", what, i, max);
    return 0;
}

static EVP_PKEY *pem_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return k;
}

static int raw_public(EVP_PKEY *pk, struct pawl_edge_key *k)
{
    size_t n = sizeof k->pub;
    int ok = k->alg == PAWL_EDGE_ALG_EDDSA
                 ? EVP_PKEY_get_raw_public_key(pk, k->pub, &n)
                 : EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->pub,
                                                   sizeof k->pub, &n);
    k->pub_len = (uint8_t)n;
    return ok == 1 ? 0 : -1;
}

static int load_key(struct loader *l, json_t *o, unsigned i)
{
    struct pawl_edge_key *k = &l->t->keys[i];
    const char *key, *role = NULL, *alg = NULL, *pem = NULL;
    json_t *v;
    if (!json_is_object(o))
        return fail(l, "keys[%u]: must be an object", i);
    json_object_foreach(o, key, v) {
        const char **dst = strcmp(key, "role") == 0 ? &role : strcmp(key, "alg") == 0 ? &alg
                         : strcmp(key, "spki_pem") == 0 ? &pem : NULL;
        if (dst == NULL)
            return fail(l, "keys[%u]: unknown key \"%s\" (role, alg, spki_pem)", i, key);
        *dst = json_string_value(v);
    }
    if (role == NULL || alg == NULL || pem == NULL)
        return fail(l, "keys[%u]: role, alg and spki_pem are required strings", i);
    if (name_field(l, json_object_get(o, "role"), PAWL_EDGE_ROLE_MAX, "keys", i, &role) != 0)
        return -1;
    int want = strcmp(alg, "EdDSA") == 0 ? PAWL_EDGE_ALG_EDDSA
             : strcmp(alg, "ES256") == 0 ? PAWL_EDGE_ALG_ES256 : 0;
    if (want == 0)
        return fail(l, "keys[%u]: alg \"%s\" is not EdDSA or ES256", i, alg);
    EVP_PKEY *pk = pem_key(pem);
    if (pk == NULL)
        return fail(l, "keys[%u]: spki_pem is not a PEM public key", i);
    k->handle = pk;
    k->alg = want;
    if (pawl_edge_openssl_alg(pk) != want)
        return fail(l, "keys[%u]: alg %s does not match the key (%s)", i, alg,
                    want == PAWL_EDGE_ALG_EDDSA ? "need Ed25519" : "need EC P-256");
    if (pawl_edge_openssl_kid(pk, k->kid) != 0 || raw_public(pk, k) != 0)
        return fail(l, "keys[%u]: cannot encode the public key", i);
    for (unsigned j = 0; j < i; j++)
        if (memcmp(l->t->keys[j].kid, k->kid, PAWL_EDGE_KID_LEN) == 0)
            return fail(l, "keys[%u]: the same key as keys[%u]", i, j);
    int r = role_index(l, role);
    if (r < 0)
        return -1;
    k->role = (unsigned)r;
    return 0;
}

static int load_keys(struct loader *l, json_t *a)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0 || n > PAWL_EDGE_MAX_KEYS)
        return fail(l, "keys: must be an array of 1 to %u keys", PAWL_EDGE_MAX_KEYS);
    for (size_t i = 0; i < n; i++) {
        l->t->nkeys = (unsigned)i + 1; /* counted before the load so release frees it */
        if (load_key(l, json_array_get(a, i), (unsigned)i) != 0)
            return -1;
    }
    return 0;
}

static int set_cmd(struct loader *l, struct pawl_edge_rule *r, const char *cmd, size_t n,
                   const char *what)
{
    if (n == 0 || n > PAWL_EDGE_CMD_MAX || strlen(cmd) != n)
        return fail(l, "%s: command \"%s\" must be 1 to %u bytes", what, cmd, PAWL_EDGE_CMD_MAX);
    memcpy(r->cmd, cmd, n);
    r->cmd_len = (uint8_t)n;
    return 0;
}

static int load_require(struct loader *l, json_t *o)
{
    struct pawl_edge_trust *t = l->t;
    const char *cmd;
    json_t *roles;
    if (!json_is_object(o) || json_object_size(o) > PAWL_EDGE_MAX_RULES)
        return fail(l, "require: must be an object of at most %u commands", PAWL_EDGE_MAX_RULES);
    json_object_foreach(o, cmd, roles) {
        struct pawl_edge_rule *r = &t->rules[t->nrules++];
        if (set_cmd(l, r, cmd, strlen(cmd), "require") != 0)
            return -1;
        if (!json_is_array(roles))
            return fail(l, "require[\"%s\"]: must be an array of role names", cmd);
        for (size_t i = 0; i < json_array_size(roles); i++) {
            const char *name;
            if (name_field(l, json_array_get(roles, i), PAWL_EDGE_ROLE_MAX, "require", (unsigned)i,
                           &name) != 0)
                return -1;
            int ri = role_index(l, name);
            if (ri < 0)
                return -1;
            r->roles |= UINT32_C(1) << ri;
        }
    }
    return 0;
}

static int load_stationary(struct loader *l, json_t *a)
{
    struct pawl_edge_trust *t = l->t;
    if (!json_is_array(a) || json_array_size(a) > PAWL_EDGE_MAX_STATIONARY)
        return fail(l, "stationary_only: must be an array of at most %u commands",
                    PAWL_EDGE_MAX_STATIONARY);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s))
            return fail(l, "stationary_only[%zu]: must be a string", i);
        if (set_cmd(l, &t->stationary[t->nstationary++], json_string_value(s),
                    json_string_length(s), "stationary_only") != 0)
            return -1;
    }
    return 0;
}

static int load_seconds(struct loader *l, json_t *v, const char *what, uint32_t *out)
{
    json_int_t s = json_integer_value(v);
    if (!json_is_integer(v) || s < 0 || s > (json_int_t)MAX_WINDOW_S)
        return fail(l, "%s: must be an integer from 0 to %u", what, MAX_WINDOW_S);
    *out = (uint32_t)s;
    return 0;
}

static int load_field(struct loader *l, const char *key, json_t *v)
{
    if (strcmp(key, "vin") == 0) {
        if (!json_is_string(v) || !vin_valid(json_string_value(v)))
            return fail(l, "vin: must be 17 characters of the VIN alphabet (0-9, A-Z but I, O, Q)");
        memcpy(l->t->vin, json_string_value(v), PAWL_EDGE_VIN_LEN + 1);
        return 0;
    }
    if (strcmp(key, "skew_s") == 0)
        return load_seconds(l, v, key, &l->t->skew_s);
    if (strcmp(key, "max_lifetime_s") == 0)
        return load_seconds(l, v, key, &l->t->max_lifetime_s);
    if (strcmp(key, "keys") == 0)
        return load_keys(l, v);
    if (strcmp(key, "require") == 0)
        return load_require(l, v);
    if (strcmp(key, "stationary_only") == 0)
        return load_stationary(l, v);
    return fail(l, "unknown key \"%s\" (vin, skew_s, max_lifetime_s, keys, require, "
                   "stationary_only)", key);
}

int pawl_edge_trust_load(const char *json, size_t n, const char *where, struct pawl_edge_trust *t,
                         char *err, size_t errn)
{
    struct loader l = { t, where, err, errn };
    json_error_t je;
    const char *key;
    json_t *v;
    int rc = 0;
    memset(t, 0, sizeof *t);
    t->skew_s = 30;
    t->max_lifetime_s = 120;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (errn > 0)
            snprintf(err, errn, "%s:%d:%d: %s", where, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(root))
        rc = fail(&l, "must be a JSON object");
    json_object_foreach(root, key, v) {
        if (rc == 0)
            rc = load_field(&l, key, v);
    }
    if (rc == 0 && (json_object_get(root, "vin") == NULL || json_object_get(root, "keys") == NULL ||
                    json_object_get(root, "require") == NULL))
        rc = fail(&l, "vin, keys and require are required");
    json_decref(root);
    if (rc != 0)
        pawl_edge_trust_release(t);
    return rc;
}

void pawl_edge_trust_release(struct pawl_edge_trust *t)
{
    for (unsigned i = 0; i < t->nkeys && i < PAWL_EDGE_MAX_KEYS; i++) {
        EVP_PKEY_free((EVP_PKEY *)(uintptr_t)t->keys[i].handle);
        t->keys[i].handle = NULL;
    }
    t->nkeys = 0;
}
