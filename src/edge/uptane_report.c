/* see pawl/uptane.h: ECU version reports and the vehicle version manifest
 * (formats in docs/uptane.md). Signatures are TUF's: Ed25519 over the
 * canonical JSON of "signed", listed by key id. */
#include "uptane_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#define REPORT_TYPE "ecu_version_report"
#define MANIFEST_TYPE "vehicle_version_manifest"
#define MAX_SIGNATURES 8

static json_t *key_object(const uint8_t public_key[32])
{
    char hex[65];
    pawl__tuf_hex(public_key, 32, hex);
    return json_pack("{s:s, s:s, s:{s:s}}", "keytype", "ed25519", "scheme", "ed25519", "keyval",
                     "public", hex);
}

void pawl_uptane_keyid(const uint8_t public_key[32], char keyid[65])
{
    json_t *k = key_object(public_key);
    struct tuf_buf b = {0};
    char e[64];
    uint8_t d[32];
    unsigned dn = 0;
    keyid[0] = '\0';
    if (k != NULL && pawl__tuf_cjson(k, &b, e, sizeof e) == 0 &&
        EVP_Digest(b.p, b.n, d, &dn, EVP_sha256(), NULL) == 1 && dn == 32)
        pawl__tuf_hex(d, 32, keyid);
    json_decref(k);
    pawl__tuf_buf_free(&b);
}

static int seed_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ctx, 32);
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    size_t sn = 64;
    int ok = k != NULL && mc != NULL && EVP_DigestSignInit(mc, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestSign(mc, sig, &sn, msg, n) == 1 && sn == 64;
    EVP_MD_CTX_free(mc);
    EVP_PKEY_free(k); /* wipes its copy of the key */
    ERR_clear_error();
    return ok ? 0 : -1;
}

pawl_uptane_status pawl_uptane_seed_signer(struct pawl_uptane_signer *s, const uint8_t *seed)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t pn = sizeof s->public_key;
    memset(s, 0, sizeof *s);
    int ok = k != NULL && EVP_PKEY_get_raw_public_key(k, s->public_key, &pn) == 1 && pn == 32;
    EVP_PKEY_free(k);
    ERR_clear_error();
    if (!ok)
        return PAWL_UPTANE_EINPUT;
    s->sign = seed_sign;
    s->ctx = (void *)(uintptr_t)seed; /* only read */
    return PAWL_UPTANE_OK;
}

/* ---- signing and verifying TUF-style documents ------------------------ */

/* {"signatures": [{"keyid", "sig"}], "signed": signed_} (takes signed_). */
static json_t *sign_doc(struct upt_chk *c, json_t *signed_, const struct pawl_uptane_signer *s)
{
    struct tuf_buf b = {0};
    char e[128], keyid[65], sighex[129];
    uint8_t sig[64];
    json_t *doc = NULL;
    if (signed_ == NULL || pawl__tuf_cjson(signed_, &b, e, sizeof e) != 0) {
        pawl__upt_fail(c, PAWL_UPTANE_ENOMEM, "cannot encode the signed part");
        goto out;
    }
    if (s->sign(s->ctx, b.p, b.n, sig) != 0) {
        pawl__upt_fail(c, PAWL_UPTANE_ESIGNATURE, "the signer failed");
        goto out;
    }
    pawl_uptane_keyid(s->public_key, keyid);
    pawl__tuf_hex(sig, sizeof sig, sighex);
    doc = json_pack("{s:[{s:s, s:s}], s:O}", "signatures", "keyid", keyid, "sig", sighex,
                    "signed", signed_);
    if (doc == NULL)
        pawl__upt_fail(c, PAWL_UPTANE_ENOMEM, "out of memory");
out:
    json_decref(signed_);
    pawl__tuf_buf_free(&b);
    return doc;
}

/* doc is {"signatures": [...], "signed": {...}}, nothing else; returns
 * "signed". */
static json_t *check_envelope(struct upt_chk *c, json_t *doc, const char *ctx)
{
    static const char *const keys[] = {"signatures", "signed", NULL};
    static const char *const sigkeys[] = {"keyid", "sig", NULL};
    if (!json_is_object(doc)) {
        pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s must be an object", ctx);
        return NULL;
    }
    json_t *sigs = pawl__upt_field(c, doc, ctx, "signatures", JSON_ARRAY, true);
    json_t *signed_ = pawl__upt_field(c, doc, ctx, "signed", JSON_OBJECT, true);
    if (c->st != PAWL_UPTANE_OK || pawl__upt_only_keys(c, doc, ctx, keys) != 0)
        return NULL;
    size_t ns = json_array_size(sigs);
    if (ns == 0 || ns > MAX_SIGNATURES) {
        pawl__upt_fail(c, PAWL_UPTANE_ESIGNATURE, "%s must carry 1 to %d signatures", ctx,
                       MAX_SIGNATURES);
        return NULL;
    }
    for (size_t i = 0; i < ns; i++) {
        json_t *s = json_array_get(sigs, i);
        char sctx[300];
        snprintf(sctx, sizeof sctx, "%s signatures[%zu]", ctx, i);
        if (!json_is_object(s)) {
            pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s must be an object", sctx);
            return NULL;
        }
        json_t *id = pawl__upt_field(c, s, sctx, "keyid", JSON_STRING, true);
        pawl__upt_field(c, s, sctx, "sig", JSON_STRING, true);
        if (c->st != PAWL_UPTANE_OK || pawl__upt_only_keys(c, s, sctx, sigkeys) != 0)
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (json_equal(id, json_object_get(json_array_get(sigs, j), "keyid"))) {
                pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s: keyid signs twice", sctx);
                return NULL;
            }
    }
    return signed_;
}

/* Whether public_key signed doc's "signed" (envelope already checked). */
static pawl_uptane_status verify_doc(struct upt_chk *c, json_t *doc, const uint8_t pub[32],
                                     const char *ctx)
{
    char keyid[65], e[256];
    struct tuf_md md = {.doc = doc, .signed_ = json_object_get(doc, "signed")};
    pawl_uptane_keyid(pub, keyid);
    json_t *keys = json_pack("{s:o}", keyid, key_object(pub));
    json_t *ids = json_pack("[s]", keyid);
    if (keys == NULL || ids == NULL) {
        json_decref(keys);
        json_decref(ids);
        return pawl__upt_fail(c, PAWL_UPTANE_ENOMEM, "out of memory");
    }
    struct tuf_role role = {keys, ids, 1};
    int rc = pawl__tuf_verify(&role, &md, ctx, e, sizeof e);
    free(md.canon);
    json_decref(keys);
    json_decref(ids);
    if (rc != 0)
        return pawl__upt_fail(c, PAWL_UPTANE_ESIGNATURE, "%s", e);
    return PAWL_UPTANE_OK;
}

static pawl_uptane_status dump(struct upt_chk *c, json_t *doc, char *out, size_t cap, size_t *n)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return pawl__upt_fail(c, PAWL_UPTANE_ENOMEM, "out of memory");
    size_t len = strlen(text);
    if (len >= cap) {
        free(text);
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%zu bytes needed, room for %zu", len + 1,
                              cap);
    }
    memcpy(out, text, len + 1);
    *n = len;
    free(text);
    return PAWL_UPTANE_OK;
}

/* ---- the report's fields ---------------------------------------------- */

static bool alg_ok(const char *s)
{
    size_t n = strnlen(s, 16);
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return n >= 1 && n <= 15;
}

static bool hex_ok(const char *s)
{
    size_t n = strnlen(s, 129);
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return n >= 2 && n <= 128 && n % 2 == 0;
}

static bool attacks_ok(const char *s)
{
    size_t n = strnlen(s, PAWL_UPTANE_ATTACKS_MAX + 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n <= PAWL_UPTANE_ATTACKS_MAX;
}

/* The checks both sides make on a report's content. */
static pawl_uptane_status check_report(struct upt_chk *c, const struct pawl_uptane_report *r,
                                       const char *ctx)
{
    const struct pawl_uptane_image *im = &r->installed;
    if (!pawl__upt_cstr_ok(r->ecu_serial, PAWL_UPTANE_ID_MAX, true))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "%s \"ecu_serial\" must be 1 to %d printable bytes", ctx,
                              PAWL_UPTANE_ID_MAX);
    if (!pawl__upt_cstr_ok(im->path, PAWL_UPTANE_PATH_MAX, false))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s \"filepath\" must be 1 to %d bytes",
                              ctx, PAWL_UPTANE_PATH_MAX);
    if (im->nhashes == 0 || im->nhashes > PAWL_TUF_MAX_HASHES)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s must list 1 to %d hashes", ctx,
                              PAWL_TUF_MAX_HASHES);
    for (size_t i = 0; i < im->nhashes; i++) {
        if (!alg_ok(im->hashes[i].alg) || !hex_ok(im->hashes[i].hex))
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                  "%s hash %zu: the algorithm must be [a-z0-9-]{1,15}, the "
                                  "digest 2 to 128 lowercase hex digits",
                                  ctx, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(im->hashes[i].alg, im->hashes[j].alg) == 0)
                return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s lists hash %s twice", ctx,
                                      im->hashes[i].alg);
    }
    if (im->length > INT64_MAX || r->counter > INT64_MAX || r->counter == 0 || r->time < 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "%s: length and counter must fit 63 bits, the counter start "
                              "at 1 and the time not be negative",
                              ctx);
    if (!attacks_ok(r->attacks))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "%s \"attacks_detected\" must be at most %d bytes of text", ctx,
                              PAWL_UPTANE_ATTACKS_MAX);
    return PAWL_UPTANE_OK;
}

static json_t *report_to_json(const struct pawl_uptane_report *r)
{
    const struct pawl_uptane_image *im = &r->installed;
    json_t *hashes = json_object();
    for (size_t i = 0; hashes != NULL && i < im->nhashes; i++)
        if (json_object_set_new(hashes, im->hashes[i].alg, json_string(im->hashes[i].hex)) != 0)
            return json_decref(hashes), NULL;
    return json_pack("{s:s, s:s, s:{s:s, s:I, s:o}, s:I, s:I, s:s}", "_type", REPORT_TYPE,
                     "ecu_serial", r->ecu_serial, "installed_image", "filepath", im->path,
                     "length", (json_int_t)im->length, "hashes", hashes, "report_counter",
                     (json_int_t)r->counter, "time", (json_int_t)r->time, "attacks_detected",
                     r->attacks);
}

/* Copies a JSON string of at most cap-1 bytes, no NUL inside. */
static bool copy_str(char *dst, size_t cap, const json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return false;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static pawl_uptane_status image_from_json(struct upt_chk *c, json_t *im, const char *ctx,
                                          struct pawl_uptane_image *out)
{
    static const char *const keys[] = {"filepath", "length", "hashes", NULL};
    json_t *path = pawl__upt_field(c, im, ctx, "filepath", JSON_STRING, true);
    json_t *len = pawl__upt_field(c, im, ctx, "length", JSON_INTEGER, true);
    json_t *hashes = pawl__upt_field(c, im, ctx, "hashes", JSON_OBJECT, true);
    if (c->st != PAWL_UPTANE_OK || pawl__upt_only_keys(c, im, ctx, keys) != 0)
        return c->st;
    if (!copy_str(out->path, sizeof out->path, path) || json_integer_value(len) < 0 ||
        json_object_size(hashes) > PAWL_TUF_MAX_HASHES)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "%s: \"filepath\" of at most %d bytes, a \"length\" >= 0 and at "
                              "most %d hashes",
                              ctx, PAWL_UPTANE_PATH_MAX, PAWL_TUF_MAX_HASHES);
    out->length = (uint64_t)json_integer_value(len);
    const char *alg;
    json_t *hex;
    json_object_foreach(hashes, alg, hex)
    {
        size_t i = out->nhashes++;
        if (strlen(alg) >= sizeof out->hashes[i].alg ||
            !copy_str(out->hashes[i].hex, sizeof out->hashes[i].hex, hex))
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s hash %.16s is malformed", ctx,
                                  alg);
        memcpy(out->hashes[i].alg, alg, strlen(alg) + 1);
    }
    return PAWL_UPTANE_OK;
}

static pawl_uptane_status report_from_json(struct upt_chk *c, json_t *s, const char *ctx,
                                           struct pawl_uptane_report *out)
{
    static const char *const keys[] = {"_type", "ecu_serial", "installed_image",
                                       "report_counter", "time", "attacks_detected", NULL};
    memset(out, 0, sizeof *out);
    json_t *type = pawl__upt_field(c, s, ctx, "_type", JSON_STRING, true);
    json_t *serial = pawl__upt_field(c, s, ctx, "ecu_serial", JSON_STRING, true);
    json_t *im = pawl__upt_field(c, s, ctx, "installed_image", JSON_OBJECT, true);
    json_t *ctr = pawl__upt_field(c, s, ctx, "report_counter", JSON_INTEGER, true);
    json_t *time = pawl__upt_field(c, s, ctx, "time", JSON_INTEGER, true);
    json_t *att = pawl__upt_field(c, s, ctx, "attacks_detected", JSON_STRING, true);
    if (c->st != PAWL_UPTANE_OK || pawl__upt_only_keys(c, s, ctx, keys) != 0)
        return c->st;
    if (strcmp(json_string_value(type), REPORT_TYPE) != 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s \"_type\" must be \"%s\"", ctx,
                              REPORT_TYPE);
    if (!copy_str(out->ecu_serial, sizeof out->ecu_serial, serial) ||
        !copy_str(out->attacks, sizeof out->attacks, att) || json_integer_value(ctr) < 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "%s: \"ecu_serial\" or \"attacks_detected\" too long, or a "
                              "negative counter",
                              ctx);
    char ictx[300];
    snprintf(ictx, sizeof ictx, "%s installed_image", ctx);
    if (image_from_json(c, im, ictx, &out->installed) != 0)
        return c->st;
    out->counter = (uint64_t)json_integer_value(ctr);
    out->time = (int64_t)json_integer_value(time);
    return check_report(c, out, ctx);
}

pawl_uptane_status pawl_uptane_report_make(const struct pawl_uptane_report *r,
                                           const struct pawl_uptane_signer *s, char *out,
                                           size_t cap, size_t *n, char *err, size_t errn)
{
    struct upt_chk c = {"version report", err, errn, PAWL_UPTANE_OK};
    *n = 0;
    if (errn > 0)
        err[0] = '\0';
    if (check_report(&c, r, "report") != 0)
        return c.st;
    json_t *doc = sign_doc(&c, report_to_json(r), s);
    if (doc != NULL)
        (void)dump(&c, doc, out, cap, n);
    json_decref(doc);
    return c.st;
}

/* ---- the Director's side ---------------------------------------------- */

static const struct pawl_uptane_known_ecu *known(const struct pawl_uptane_known_ecu *ecus,
                                                 size_t n, const char *serial)
{
    for (size_t i = 0; i < n; i++)
        if (ecus[i].serial != NULL && strcmp(ecus[i].serial, serial) == 0)
            return &ecus[i];
    return NULL;
}

/* A signed report doc from one of ecus: schema, signer, counter. */
static pawl_uptane_status check_report_doc(struct upt_chk *c, json_t *doc, const char *ctx,
                                           const struct pawl_uptane_known_ecu *ecus,
                                           size_t necus, struct pawl_uptane_report *out)
{
    json_t *s = check_envelope(c, doc, ctx);
    if (s == NULL || report_from_json(c, s, ctx, out) != 0)
        return c->st;
    const struct pawl_uptane_known_ecu *e = known(ecus, necus, out->ecu_serial);
    if (e == NULL)
        return pawl__upt_fail(c, PAWL_UPTANE_EUNKNOWN_ECU, "%s: ECU %s is not in the inventory",
                              ctx, out->ecu_serial);
    char vctx[300];
    snprintf(vctx, sizeof vctx, "%s of ECU %s", ctx, out->ecu_serial);
    if (verify_doc(c, doc, e->public_key, vctx) != 0)
        return c->st;
    if (out->counter <= e->last_counter)
        return pawl__upt_fail(c, PAWL_UPTANE_EREPLAY,
                              "%s: counter %llu is not above the last accepted %llu (replay)",
                              vctx, (unsigned long long)out->counter,
                              (unsigned long long)e->last_counter);
    return PAWL_UPTANE_OK;
}

pawl_uptane_status pawl_uptane_report_verify(const struct pawl_uptane_known_ecu *ecu,
                                             const uint8_t *data, size_t n,
                                             struct pawl_uptane_report *out, char *err,
                                             size_t errn)
{
    struct upt_chk c = {"version report", err, errn, PAWL_UPTANE_OK};
    struct pawl_uptane_report r;
    if (errn > 0)
        err[0] = '\0';
    memset(out, 0, sizeof *out);
    json_t *doc = pawl__upt_load(&c, data, n, PAWL_UPTANE_REPORT_MAX);
    if (doc != NULL && check_report_doc(&c, doc, "report", ecu, 1, &r) == 0)
        *out = r;
    json_decref(doc);
    return c.st;
}

/* The manifest's envelope and header: vin, Primary, Primary's signature. */
static json_t *manifest_header(struct upt_chk *c, json_t *doc,
                               const struct pawl_uptane_inventory *inv)
{
    static const char *const keys[] = {"_type", "vin", "primary_ecu_serial",
                                       "ecu_version_reports", NULL};
    json_t *s = check_envelope(c, doc, "manifest");
    if (s == NULL)
        return NULL;
    json_t *type = pawl__upt_field(c, s, "signed", "_type", JSON_STRING, true);
    json_t *vin = pawl__upt_field(c, s, "signed", "vin", JSON_STRING, true);
    json_t *prim = pawl__upt_field(c, s, "signed", "primary_ecu_serial", JSON_STRING, true);
    json_t *reps = pawl__upt_field(c, s, "signed", "ecu_version_reports", JSON_ARRAY, true);
    if (c->st != PAWL_UPTANE_OK || pawl__upt_only_keys(c, s, "signed", keys) != 0)
        return NULL;
    if (strcmp(json_string_value(type), MANIFEST_TYPE) != 0) {
        pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "signed \"_type\" must be \"%s\"", MANIFEST_TYPE);
        return NULL;
    }
    if (!pawl__upt_string_ok(vin, PAWL_UPTANE_ID_MAX, true) ||
        strcmp(json_string_value(vin), inv->vin) != 0) {
        pawl__upt_fail(c, PAWL_UPTANE_EVEHICLE, "from vehicle %.64s, expected %s",
                       json_string_value(vin), inv->vin);
        return NULL;
    }
    const struct pawl_uptane_known_ecu *p = known(inv->ecus, inv->necus, inv->primary_serial);
    if (!pawl__upt_string_ok(prim, PAWL_UPTANE_ID_MAX, true) || p == NULL ||
        strcmp(json_string_value(prim), inv->primary_serial) != 0) {
        pawl__upt_fail(c, PAWL_UPTANE_EUNKNOWN_ECU, "sent by Primary %.64s, expected %s",
                       json_string_value(prim), inv->primary_serial);
        return NULL;
    }
    if (verify_doc(c, doc, p->public_key, "manifest of Primary") != 0)
        return NULL;
    return reps;
}

static pawl_uptane_status check_reports(struct upt_chk *c, json_t *reps,
                                        const struct pawl_uptane_inventory *inv,
                                        struct pawl_uptane_report *tmp)
{
    size_t nr = json_array_size(reps);
    for (size_t i = 0; i < nr; i++) {
        char ctx[48];
        snprintf(ctx, sizeof ctx, "ecu_version_reports[%zu]", i);
        if (check_report_doc(c, json_array_get(reps, i), ctx, inv->ecus, inv->necus, &tmp[i]))
            return c->st;
        for (size_t j = 0; j < i; j++)
            if (strcmp(tmp[j].ecu_serial, tmp[i].ecu_serial) == 0)
                return pawl__upt_fail(c, PAWL_UPTANE_EDUPLICATE_ECU,
                                      "%s: ECU %s reports twice", ctx, tmp[i].ecu_serial);
        int64_t age = inv->now - tmp[i].time;
        if (inv->max_age > 0 && (age > inv->max_age || age < -inv->max_age))
            return pawl__upt_fail(c, PAWL_UPTANE_ETIME,
                                  "%s: ECU %s reports time %lld, more than %lld s from now",
                                  ctx, tmp[i].ecu_serial, (long long)tmp[i].time,
                                  (long long)inv->max_age);
    }
    /* Standard, "Directing installation of images on vehicles": every ECU
     * of the inventory is represented. */
    for (size_t k = 0; k < inv->necus; k++) {
        size_t j = 0;
        while (j < nr && strcmp(tmp[j].ecu_serial, inv->ecus[k].serial) != 0)
            j++;
        if (j == nr)
            return pawl__upt_fail(c, PAWL_UPTANE_EINCOMPLETE, "ECU %s sent no version report",
                                  inv->ecus[k].serial);
    }
    return PAWL_UPTANE_OK;
}

static pawl_uptane_status check_inventory(struct upt_chk *c,
                                          const struct pawl_uptane_inventory *inv)
{
    if (!pawl__upt_cstr_ok(inv->vin, PAWL_UPTANE_ID_MAX, true) ||
        !pawl__upt_cstr_ok(inv->primary_serial, PAWL_UPTANE_ID_MAX, true) ||
        inv->necus > PAWL_UPTANE_MAX_ECUS || (inv->necus > 0 && inv->ecus == NULL) ||
        inv->max_age < 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "inventory: bad VIN, Primary or ECU list");
    for (size_t i = 0; i < inv->necus; i++)
        if (!pawl__upt_cstr_ok(inv->ecus[i].serial, PAWL_UPTANE_ID_MAX, true) ||
            known(inv->ecus, i, inv->ecus[i].serial) != NULL)
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                  "inventory: ECU %zu has a bad or repeated serial", i);
    return PAWL_UPTANE_OK;
}

pawl_uptane_status pawl_uptane_manifest_verify(const struct pawl_uptane_inventory *inv,
                                               const uint8_t *data, size_t n,
                                               struct pawl_uptane_report *out, size_t cap,
                                               size_t *nout, char *err, size_t errn)
{
    struct upt_chk c = {"vehicle manifest", err, errn, PAWL_UPTANE_OK};
    struct pawl_uptane_report *tmp = NULL;
    json_t *doc = NULL;
    *nout = 0;
    if (errn > 0)
        err[0] = '\0';
    if (check_inventory(&c, inv) != 0)
        return c.st;
    doc = pawl__upt_load(&c, data, n, PAWL_UPTANE_MANIFEST_MAX);
    json_t *reps = doc ? manifest_header(&c, doc, inv) : NULL;
    if (reps == NULL)
        goto out;
    size_t nr = json_array_size(reps);
    if (nr > PAWL_UPTANE_MAX_ECUS || nr > cap) {
        pawl__upt_fail(&c, PAWL_UPTANE_EINPUT, "%zu reports, more than %zu", nr,
                       cap < PAWL_UPTANE_MAX_ECUS ? cap : (size_t)PAWL_UPTANE_MAX_ECUS);
        goto out;
    }
    tmp = calloc(nr ? nr : 1, sizeof *tmp);
    if (tmp == NULL) {
        pawl__upt_fail(&c, PAWL_UPTANE_ENOMEM, "out of memory");
        goto out;
    }
    if (check_reports(&c, reps, inv, tmp) != 0)
        goto out;
    memcpy(out, tmp, nr * sizeof *tmp);
    *nout = nr;
out:
    free(tmp);
    json_decref(doc);
    return c.st;
}

/* ---- the Primary's side ----------------------------------------------- */

pawl_uptane_status pawl_uptane_manifest_make(const char *vin, const char *primary_serial,
                                             const char *const *reports,
                                             const size_t *report_lens, size_t nreports,
                                             const struct pawl_uptane_signer *s, char *out,
                                             size_t cap, size_t *n, char *err, size_t errn)
{
    struct upt_chk c = {"vehicle manifest", err, errn, PAWL_UPTANE_OK};
    struct pawl_uptane_report r;
    *n = 0;
    if (errn > 0)
        err[0] = '\0';
    if (!pawl__upt_cstr_ok(vin, PAWL_UPTANE_ID_MAX, true) ||
        !pawl__upt_cstr_ok(primary_serial, PAWL_UPTANE_ID_MAX, true) ||
        nreports > PAWL_UPTANE_MAX_ECUS)
        return pawl__upt_fail(&c, PAWL_UPTANE_EINPUT,
                              "VIN and serial must be 1 to %d printable bytes, at most %d "
                              "reports",
                              PAWL_UPTANE_ID_MAX, PAWL_UPTANE_MAX_ECUS);
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < nreports && c.st == PAWL_UPTANE_OK; i++) {
        char ctx[48];
        snprintf(ctx, sizeof ctx, "report %zu", i);
        struct upt_chk rc = {ctx, err, errn, PAWL_UPTANE_OK};
        json_t *doc = pawl__upt_load(&rc, (const uint8_t *)reports[i], report_lens[i],
                                     PAWL_UPTANE_REPORT_MAX);
        json_t *sg = doc ? check_envelope(&rc, doc, ctx) : NULL;
        if (sg != NULL)
            (void)report_from_json(&rc, sg, ctx, &r);
        if (rc.st == PAWL_UPTANE_OK)
            json_array_append(list, doc);
        c.st = rc.st;
        json_decref(doc);
    }
    json_t *signed_ = json_pack("{s:s, s:s, s:s, s:o}", "_type", MANIFEST_TYPE, "vin", vin,
                                "primary_ecu_serial", primary_serial, "ecu_version_reports",
                                list);
    if (c.st != PAWL_UPTANE_OK) {
        json_decref(signed_);
        return c.st;
    }
    json_t *doc = sign_doc(&c, signed_, s);
    if (doc != NULL)
        (void)dump(&c, doc, out, cap, n);
    json_decref(doc);
    return c.st;
}
