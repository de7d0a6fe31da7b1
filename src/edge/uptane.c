/* see pawl/uptane.h: repository mapping and full verification. The rules
 * and formats are docs/uptane.md's; comments name the Standard's sections. */
#include "uptane_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pawl_uptane_status_name(pawl_uptane_status s)
{
    static const char *const names[] = {
        "ok",           "bad_input",     "out_of_memory", "repository_refused",
        "mapping",      "delegation",    "wrong_vehicle", "unknown_ecu",
        "duplicate_ecu", "hardware_id",  "missing_image", "image_mismatch",
        "rollback",     "bad_signature", "replay",        "time",
        "incomplete"};
    if ((unsigned)s >= sizeof names / sizeof names[0])
        return "unknown";
    return names[s];
}

/* ---- strict JSON helpers (uptane_internal.h) ------------------------- */

pawl_uptane_status pawl__upt_fail(struct upt_chk *c, pawl_uptane_status st, const char *fmt,
                                  ...)
{
    if (c->st != PAWL_UPTANE_OK)
        return c->st;
    c->st = st;
    if (c->errn > 0) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(c->err, c->errn, "%s: %s", c->what, msg);
    }
    return st;
}

json_t *pawl__upt_field(struct upt_chk *c, json_t *obj, const char *ctx, const char *key,
                        json_type t, bool required)
{
    static const char *const tn[] = {"an object", "an array", "a string", "an integer",
                                     "a number", "true or false", "true or false", "null"};
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s has no \"%s\"", ctx, key);
        return NULL;
    }
    bool ok = t == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == t;
    if (!ok) {
        pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s \"%s\" must be %s", ctx, key, tn[t]);
        return NULL;
    }
    return v;
}

bool pawl__upt_cstr_ok(const char *s, size_t max, bool id)
{
    if (s == NULL)
        return false;
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; id && i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

bool pawl__upt_string_ok(const json_t *v, size_t max, bool id)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    /* An embedded NUL would make two different values compare equal. */
    return strlen(s) == json_string_length(v) && pawl__upt_cstr_ok(s, max, id);
}

pawl_uptane_status pawl__upt_only_keys(struct upt_chk *c, json_t *obj, const char *ctx,
                                       const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        size_t i = 0;
        (void)v;
        while (keys[i] != NULL && strcmp(keys[i], k) != 0)
            i++;
        if (keys[i] == NULL)
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s has an unknown key \"%.64s\"", ctx,
                                  k);
    }
    return PAWL_UPTANE_OK;
}

json_t *pawl__upt_load(struct upt_chk *c, const uint8_t *data, size_t n, size_t max)
{
    json_error_t je;
    if (n > max) {
        pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%zu bytes, more than the %zu allowed", n, max);
        return NULL;
    }
    json_t *doc = json_loadb((const char *)data, n, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "line %d column %d: %s", je.line, je.column,
                       je.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "not a JSON object");
        return NULL;
    }
    return doc;
}

/* ---- repository mapping (TAP 4) --------------------------------------- */

struct pawl_uptane_map {
    json_t *doc; /* checked in full by map_parse */
};

static pawl_uptane_status check_repositories(struct upt_chk *c, json_t *repos)
{
    const char *name;
    json_t *urls;
    size_t nr = json_object_size(repos);
    if (nr == 0 || nr > PAWL_UPTANE_MAP_MAX_REPOS)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "\"repositories\" must name 1 to %d",
                              PAWL_UPTANE_MAP_MAX_REPOS);
    json_object_foreach(repos, name, urls)
    {
        if (!pawl__upt_cstr_ok(name, PAWL_UPTANE_ID_MAX, true))
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                  "repository name \"%.64s\" must be 1 to %d printable bytes",
                                  name, PAWL_UPTANE_ID_MAX);
        size_t nu = json_array_size(urls);
        if (!json_is_array(urls) || nu == 0 || nu > PAWL_UPTANE_MAP_MAX_URLS)
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                  "repository \"%s\" must be an array of 1 to %d URLs", name,
                                  PAWL_UPTANE_MAP_MAX_URLS);
        for (size_t i = 0; i < nu; i++)
            if (!pawl__upt_string_ok(json_array_get(urls, i), PAWL_UPTANE_URL_MAX, true))
                return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                      "repository \"%s\" URL %zu must be a string of 1 to %d "
                                      "printable bytes",
                                      name, i, PAWL_UPTANE_URL_MAX);
    }
    return PAWL_UPTANE_OK;
}

static pawl_uptane_status check_paths(struct upt_chk *c, json_t *paths, const char *ctx)
{
    size_t np = json_array_size(paths);
    if (np == 0 || np > PAWL_UPTANE_MAP_MAX_PATHS)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s \"paths\" must list 1 to %d patterns",
                              ctx, PAWL_UPTANE_MAP_MAX_PATHS);
    for (size_t i = 0; i < np; i++)
        if (!pawl__upt_string_ok(json_array_get(paths, i), PAWL_UPTANE_PATH_MAX, false))
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                  "%s paths[%zu] must be a string of 1 to %d bytes", ctx, i,
                                  PAWL_UPTANE_PATH_MAX);
    return PAWL_UPTANE_OK;
}

static pawl_uptane_status check_mapping(struct upt_chk *c, json_t *m, size_t i, json_t *repos)
{
    static const char *const keys[] = {"paths", "repositories", "threshold", "terminating",
                                       NULL};
    char ctx[32];
    snprintf(ctx, sizeof ctx, "mapping[%zu]", i);
    if (!json_is_object(m))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s must be an object", ctx);
    json_t *paths = pawl__upt_field(c, m, ctx, "paths", JSON_ARRAY, true);
    json_t *names = pawl__upt_field(c, m, ctx, "repositories", JSON_ARRAY, true);
    json_t *th = pawl__upt_field(c, m, ctx, "threshold", JSON_INTEGER, true);
    pawl__upt_field(c, m, ctx, "terminating", JSON_TRUE, true);
    if (c->st != PAWL_UPTANE_OK || pawl__upt_only_keys(c, m, ctx, keys) != PAWL_UPTANE_OK ||
        check_paths(c, paths, ctx) != PAWL_UPTANE_OK)
        return c->st;
    size_t nn = json_array_size(names);
    if (nn == 0 || nn > PAWL_UPTANE_MAP_MAX_REPOS)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s must name 1 to %d repositories", ctx,
                              PAWL_UPTANE_MAP_MAX_REPOS);
    for (size_t j = 0; j < nn; j++) {
        json_t *nm = json_array_get(names, j);
        if (!json_is_string(nm) || json_object_get(repos, json_string_value(nm)) == NULL ||
            !pawl__upt_string_ok(nm, PAWL_UPTANE_ID_MAX, true))
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                  "%s repositories[%zu] must name a repository of "
                                  "\"repositories\"",
                                  ctx, j);
        for (size_t k = 0; k < j; k++)
            if (json_equal(nm, json_array_get(names, k)))
                return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s names \"%s\" twice", ctx,
                                      json_string_value(nm));
    }
    json_int_t t = json_integer_value(th);
    if (t < 1 || (size_t)t > nn)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "%s \"threshold\" must be 1 to %zu", ctx,
                              nn);
    return PAWL_UPTANE_OK;
}

pawl_uptane_status pawl_uptane_map_parse(const uint8_t *data, size_t n,
                                         struct pawl_uptane_map **out, char *err, size_t errn)
{
    static const char *const keys[] = {"repositories", "mapping", NULL};
    struct upt_chk c = {"map.json", err, errn, PAWL_UPTANE_OK};
    *out = NULL;
    if (errn > 0)
        err[0] = '\0';
    json_t *doc = pawl__upt_load(&c, data, n, PAWL_UPTANE_MAP_MAX);
    if (doc == NULL)
        return c.st;
    json_t *repos = pawl__upt_field(&c, doc, "document", "repositories", JSON_OBJECT, true);
    json_t *mapping = pawl__upt_field(&c, doc, "document", "mapping", JSON_ARRAY, true);
    if (c.st == PAWL_UPTANE_OK && pawl__upt_only_keys(&c, doc, "document", keys) == 0 &&
        check_repositories(&c, repos) == 0) {
        size_t nm = json_array_size(mapping);
        if (nm == 0 || nm > PAWL_UPTANE_MAP_MAX_MAPPINGS)
            pawl__upt_fail(&c, PAWL_UPTANE_EINPUT, "\"mapping\" must hold 1 to %d mappings",
                           PAWL_UPTANE_MAP_MAX_MAPPINGS);
        for (size_t i = 0; c.st == PAWL_UPTANE_OK && i < nm; i++)
            check_mapping(&c, json_array_get(mapping, i), i, repos);
    }
    if (c.st == PAWL_UPTANE_OK) {
        *out = malloc(sizeof **out);
        if (*out == NULL)
            pawl__upt_fail(&c, PAWL_UPTANE_ENOMEM, "out of memory");
    }
    if (c.st != PAWL_UPTANE_OK) {
        json_decref(doc);
        return c.st;
    }
    (*out)->doc = doc;
    return PAWL_UPTANE_OK;
}

void pawl_uptane_map_free(struct pawl_uptane_map *m)
{
    if (m == NULL)
        return;
    json_decref(m->doc);
    free(m);
}

size_t pawl_uptane_map_urls(const struct pawl_uptane_map *m, const char *name,
                            const char **urls, size_t cap)
{
    json_t *list = json_object_get(json_object_get(m->doc, "repositories"), name);
    size_t n = json_array_size(list);
    for (size_t i = 0; i < n && i < cap; i++)
        urls[i] = json_string_value(json_array_get(list, i));
    return n;
}

static bool names_repo(json_t *names, const char *name)
{
    for (size_t i = 0; i < json_array_size(names); i++)
        if (strcmp(json_string_value(json_array_get(names, i)), name) == 0)
            return true;
    return false;
}

pawl_uptane_status pawl_uptane_map_check(const struct pawl_uptane_map *m, const char *path,
                                         const char *director, const char *image, char *err,
                                         size_t errn)
{
    struct upt_chk c = {"map.json", err, errn, PAWL_UPTANE_OK};
    json_t *mapping = json_object_get(m->doc, "mapping");
    for (size_t i = 0; i < json_array_size(mapping); i++) {
        json_t *mp = json_array_get(mapping, i), *paths = json_object_get(mp, "paths");
        bool match = false;
        for (size_t j = 0; !match && j < json_array_size(paths); j++)
            match = pawl__tuf_path_matches(json_string_value(json_array_get(paths, j)), path);
        if (!match)
            continue;
        /* TAP 4 would go on to later mappings when a non-terminating one is
         * not satisfied; every mapping pawl accepts is the same Director +
         * Image consensus, so the first match decides. */
        json_t *names = json_object_get(mp, "repositories");
        if (json_array_size(names) != 2 || !names_repo(names, director) ||
            !names_repo(names, image) || json_integer_value(json_object_get(mp, "threshold")) != 2)
            return pawl__upt_fail(&c, PAWL_UPTANE_EMAPPING,
                                  "mapping[%zu], the first for target %.256s, does not require "
                                  "both \"%s\" and \"%s\" (threshold 2)",
                                  i, path, director, image);
        return PAWL_UPTANE_OK;
    }
    return pawl__upt_fail(&c, PAWL_UPTANE_EMAPPING, "no mapping covers target %.256s", path);
}

/* ---- full verification ------------------------------------------------ */

/* One image the Director orders for one ECU, before the Image check. */
struct plan {
    size_t ecu; /* index in p->ecus */
    struct pawl_tuf_target dt;
    uint64_t counter;
};

struct director_walk {
    const struct pawl_uptane_primary *p;
    struct upt_chk *c;
    const bool *delegates;
    size_t ntargets;
    struct plan plans[PAWL_UPTANE_MAX_ECUS];
    size_t nplans;
};

static pawl_uptane_status check_ecus(const struct pawl_uptane_primary *p, struct upt_chk *c)
{
    if (p->necus > PAWL_UPTANE_MAX_ECUS || (p->necus > 0 && p->ecus == NULL))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "a vehicle has at most %d ECUs",
                              PAWL_UPTANE_MAX_ECUS);
    for (size_t i = 0; i < p->necus; i++) {
        const struct pawl_uptane_ecu *e = &p->ecus[i];
        if (!pawl__upt_cstr_ok(e->serial, PAWL_UPTANE_ID_MAX, true) ||
            !pawl__upt_cstr_ok(e->hardware_id, PAWL_UPTANE_ID_MAX, true))
            return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                                  "ECU %zu: serial and hardware id must be 1 to %d printable "
                                  "bytes",
                                  i, PAWL_UPTANE_ID_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->ecus[j].serial, e->serial) == 0)
                return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "ECU %s is listed twice",
                                      e->serial);
    }
    return PAWL_UPTANE_OK;
}

static pawl_uptane_status check_primary(const struct pawl_uptane_primary *p, struct upt_chk *c)
{
    if (!pawl__upt_cstr_ok(p->vin, PAWL_UPTANE_ID_MAX, true))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "the VIN must be 1 to %d printable bytes",
                              PAWL_UPTANE_ID_MAX);
    if (check_ecus(p, c) != PAWL_UPTANE_OK || p->map == NULL)
        return c->st;
    const char *u;
    if (p->director_name == NULL || p->image_name == NULL ||
        strcmp(p->director_name, p->image_name) == 0 ||
        pawl_uptane_map_urls(p->map, p->director_name, &u, 1) == 0 ||
        pawl_uptane_map_urls(p->map, p->image_name, &u, 1) == 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EMAPPING,
                              "the Director and the Image repository must be two repositories "
                              "of map.json");
    return PAWL_UPTANE_OK;
}

static const struct pawl_uptane_ecu *find_ecu(const struct pawl_uptane_primary *p,
                                              const char *serial, size_t *idx)
{
    for (size_t i = 0; i < p->necus; i++)
        if (strcmp(p->ecus[i].serial, serial) == 0) {
            *idx = i;
            return &p->ecus[i];
        }
    return NULL;
}

/* Standard, "Targets metadata": the Director's targets carry a vehicle
 * identifier against replay to another vehicle (pawl: always, in "custom"). */
static pawl_uptane_status check_vehicle(const json_t *top_custom, const char *vin,
                                        struct upt_chk *c)
{
    json_t *custom = (json_t *)(uintptr_t)top_custom; /* read only */
    json_t *v = json_object_get(custom, "vin");
    if (!json_is_object(custom) || !pawl__upt_string_ok(v, PAWL_UPTANE_ID_MAX, true))
        return pawl__upt_fail(c, PAWL_UPTANE_EVEHICLE,
                              "director targets: signed \"custom\" has no vehicle identifier "
                              "\"vin\" of 1 to %d printable bytes",
                              PAWL_UPTANE_ID_MAX);
    if (strcmp(json_string_value(v), vin) != 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EVEHICLE,
                              "director targets are for vehicle %s, this is %s",
                              json_string_value(v), vin);
    return PAWL_UPTANE_OK;
}

/* One ECU identifier of a Director target (Standard, "How to check Targets
 * metadata": present in the vehicle, at most once; "Verify image": the
 * hardware id; the release counter never goes down). */
static int plan_ecu(struct director_walk *w, const struct pawl_tuf_target *t,
                    const char *serial, json_t *entry, uint64_t counter)
{
    struct upt_chk *c = w->c;
    size_t idx = 0;
    const struct pawl_uptane_ecu *e = find_ecu(w->p, serial, &idx);
    if (e == NULL)
        return pawl__upt_fail(c, PAWL_UPTANE_EUNKNOWN_ECU,
                              "target %s: ECU %.64s is not an ECU of vehicle %s", t->path,
                              serial, w->p->vin);
    json_t *hw = json_object_get(entry, "hardwareId");
    if (!json_is_object(entry) || !pawl__upt_string_ok(hw, PAWL_UPTANE_ID_MAX, true))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "target %s: ecuIdentifiers \"%s\" must be an object with a "
                              "\"hardwareId\" of 1 to %d printable bytes",
                              t->path, serial, PAWL_UPTANE_ID_MAX);
    for (size_t i = 0; i < w->nplans; i++)
        if (w->plans[i].ecu == idx)
            return pawl__upt_fail(c, PAWL_UPTANE_EDUPLICATE_ECU,
                                  "ECU %s is given two images: %s and %s", serial,
                                  w->plans[i].dt.path, t->path);
    if (strcmp(json_string_value(hw), e->hardware_id) != 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EHARDWARE,
                              "target %s for ECU %s: hardware id %s, the ECU is %s", t->path,
                              serial, json_string_value(hw), e->hardware_id);
    if (counter < e->release_counter)
        return pawl__upt_fail(c, PAWL_UPTANE_EROLLBACK,
                              "target %s for ECU %s: release counter %llu is below the "
                              "installed %llu",
                              t->path, serial, (unsigned long long)counter,
                              (unsigned long long)e->release_counter);
    struct plan *pl = &w->plans[w->nplans++];
    pl->ecu = idx;
    pl->dt = *t;
    pl->counter = counter;
    return PAWL_UPTANE_OK;
}

static int director_target(void *ctx, const struct pawl_tuf_target *t)
{
    struct director_walk *w = ctx;
    struct upt_chk *c = w->c;
    /* Standard, "How to check Targets metadata": no delegations. */
    if (*w->delegates)
        return pawl__upt_fail(c, PAWL_UPTANE_EDELEGATION,
                              "director targets delegate: the Director must not");
    if (++w->ntargets > PAWL_UPTANE_MAX_TARGETS)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "director lists more than %d targets",
                              PAWL_UPTANE_MAX_TARGETS);
    if (!pawl__upt_cstr_ok(t->path, PAWL_UPTANE_PATH_MAX, false))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "target %.64s...: path over %d bytes",
                              t->path, PAWL_UPTANE_PATH_MAX);
    json_t *custom = (json_t *)(uintptr_t)t->custom; /* read only */
    char ctx_[300];
    snprintf(ctx_, sizeof ctx_, "director target %s custom", t->path);
    if (!json_is_object(custom))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT, "director target %s has no \"custom\" "
                              "object", t->path);
    json_t *ids = pawl__upt_field(c, custom, ctx_, "ecuIdentifiers", JSON_OBJECT, true);
    json_t *rc = pawl__upt_field(c, custom, ctx_, "releaseCounter", JSON_INTEGER, true);
    if (c->st != PAWL_UPTANE_OK)
        return c->st;
    if (json_object_size(ids) == 0 || json_integer_value(rc) < 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "%s needs at least one ECU identifier and a releaseCounter >= 0",
                              ctx_);
    const char *serial;
    json_t *entry;
    json_object_foreach(ids, serial, entry)
    {
        if (plan_ecu(w, t, serial, entry, (uint64_t)json_integer_value(rc)) != 0)
            return c->st;
    }
    return 0;
}

/* The Director phase: refresh, vehicle identifier, every target's ECUs. */
static pawl_uptane_status director_phase(struct director_walk *w,
                                         struct pawl_tuf_updater *director)
{
    struct upt_chk *c = w->c;
    bool delegates = false;
    if (pawl_tuf_refresh(director) != 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EREPO, "director: %s", pawl_tuf_error(director));
    if (check_vehicle(pawl_tuf_top_custom(director), w->p->vin, c) != PAWL_UPTANE_OK)
        return c->st;
    w->delegates = &delegates;
    int rc = pawl_tuf_top_targets(director, director_target, w, &delegates);
    if (rc == -1 && c->st == PAWL_UPTANE_OK)
        pawl__upt_fail(c, PAWL_UPTANE_EREPO, "director: %s", pawl_tuf_error(director));
    /* An empty target list never reaches director_target. */
    if (c->st == PAWL_UPTANE_OK && delegates)
        pawl__upt_fail(c, PAWL_UPTANE_EDELEGATION,
                       "director targets delegate: the Director must not");
    return c->st;
}

/* Standard, "Full verification", step 10: non-custom metadata identical,
 * the SHALL-match custom fields (release counter, hardware id) agree. */
static pawl_uptane_status compare_image(struct upt_chk *c, const struct plan *pl,
                                        const struct pawl_uptane_ecu *e,
                                        const struct pawl_tuf_target *it)
{
    const struct pawl_tuf_target *dt = &pl->dt;
    size_t common = 0;
    if (dt->length != it->length)
        return pawl__upt_fail(c, PAWL_UPTANE_EMISMATCH,
                              "target %s for ECU %s: length %llu in the Director, %llu in the "
                              "Image repository",
                              dt->path, e->serial, (unsigned long long)dt->length,
                              (unsigned long long)it->length);
    for (size_t i = 0; i < dt->nhashes; i++) {
        for (size_t j = 0; j < it->nhashes; j++) {
            if (strcmp(dt->hashes[i].alg, it->hashes[j].alg) != 0)
                continue;
            if (strcmp(dt->hashes[i].hex, it->hashes[j].hex) != 0)
                return pawl__upt_fail(c, PAWL_UPTANE_EMISMATCH,
                                      "target %s for ECU %s: %s differs between the Director "
                                      "and the Image repository",
                                      dt->path, e->serial, dt->hashes[i].alg);
            common++;
        }
    }
    if (common == 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EMISMATCH,
                              "target %s for ECU %s: no hash algorithm in common with the "
                              "Image repository",
                              dt->path, e->serial);
    return PAWL_UPTANE_OK;
}

static pawl_uptane_status compare_custom(struct upt_chk *c, const struct plan *pl,
                                         const struct pawl_uptane_ecu *e,
                                         const struct pawl_tuf_target *it)
{
    json_t *custom = (json_t *)(uintptr_t)it->custom; /* read only */
    json_t *rc = json_object_get(custom, "releaseCounter");
    json_t *hw = json_object_get(custom, "hardwareIds");
    if (!json_is_integer(rc))
        return pawl__upt_fail(c, PAWL_UPTANE_EMISMATCH,
                              "target %s for ECU %s: the Image repository gives no integer "
                              "custom \"releaseCounter\"",
                              pl->dt.path, e->serial);
    if (json_integer_value(rc) < 0 || (uint64_t)json_integer_value(rc) != pl->counter)
        return pawl__upt_fail(c, PAWL_UPTANE_EMISMATCH,
                              "target %s for ECU %s: release counter %llu in the Director, "
                              "%lld in the Image repository",
                              pl->dt.path, e->serial, (unsigned long long)pl->counter,
                              (long long)json_integer_value(rc));
    if (hw == NULL)
        return PAWL_UPTANE_OK;
    if (!json_is_array(hw))
        return pawl__upt_fail(c, PAWL_UPTANE_EINPUT,
                              "image repository target %s: custom \"hardwareIds\" must be an "
                              "array",
                              pl->dt.path);
    for (size_t i = 0; i < json_array_size(hw); i++) {
        json_t *h = json_array_get(hw, i);
        if (pawl__upt_string_ok(h, PAWL_UPTANE_ID_MAX, true) &&
            strcmp(json_string_value(h), e->hardware_id) == 0)
            return PAWL_UPTANE_OK;
    }
    return pawl__upt_fail(c, PAWL_UPTANE_EHARDWARE,
                          "target %s for ECU %s: the Image repository does not list hardware "
                          "id %s",
                          pl->dt.path, e->serial, e->hardware_id);
}

static pawl_uptane_status image_phase(struct director_walk *w, struct pawl_tuf_updater *image,
                                      struct pawl_uptane_install *inst)
{
    struct upt_chk *c = w->c;
    const struct pawl_uptane_primary *p = w->p;
    if (pawl_tuf_refresh(image) != 0)
        return pawl__upt_fail(c, PAWL_UPTANE_EREPO, "image repository: %s",
                              pawl_tuf_error(image));
    for (size_t i = 0; i < w->nplans; i++) {
        const struct plan *pl = &w->plans[i];
        const struct pawl_uptane_ecu *e = &p->ecus[pl->ecu];
        struct pawl_tuf_target it;
        char e2[400] = "";
        if (p->map != NULL && pawl_uptane_map_check(p->map, pl->dt.path, p->director_name,
                                                    p->image_name, e2, sizeof e2) != 0)
            return pawl__upt_fail(c, PAWL_UPTANE_EMAPPING, "%s", e2);
        int rc = pawl_tuf_find_target(image, pl->dt.path, &it);
        if (rc == PAWL_TUF_NOTFOUND)
            return pawl__upt_fail(c, PAWL_UPTANE_EMISSING,
                                  "target %s for ECU %s: the Image repository does not list "
                                  "it (%s)",
                                  pl->dt.path, e->serial, pawl_tuf_error(image));
        if (rc != 0)
            return pawl__upt_fail(c, PAWL_UPTANE_EREPO, "image repository: %s",
                                  pawl_tuf_error(image));
        if (compare_image(c, pl, e, &it) != 0 || compare_custom(c, pl, e, &it) != 0)
            return c->st;
        inst[i].ecu_serial = e->serial;
        inst[i].target = it;
        inst[i].release_counter = pl->counter;
    }
    return PAWL_UPTANE_OK;
}

pawl_uptane_status pawl_uptane_full_verify(const struct pawl_uptane_primary *p,
                                           struct pawl_tuf_updater *director,
                                           struct pawl_tuf_updater *image,
                                           struct pawl_uptane_install *out, size_t cap,
                                           size_t *n, char *err, size_t errn)
{
    struct upt_chk c = {"full verification", err, errn, PAWL_UPTANE_OK};
    struct director_walk *w = calloc(1, sizeof *w);
    struct pawl_uptane_install *inst = calloc(PAWL_UPTANE_MAX_ECUS, sizeof *inst);
    *n = 0;
    if (errn > 0)
        err[0] = '\0';
    if (w == NULL || inst == NULL) {
        pawl__upt_fail(&c, PAWL_UPTANE_ENOMEM, "out of memory");
        goto out;
    }
    w->p = p;
    w->c = &c;
    if (check_primary(p, &c) != 0 || director_phase(w, director) != 0)
        goto out;
    /* Standard, "Full verification", step 6: nothing new, nothing more. */
    if (w->nplans == 0)
        goto out;
    if (cap < w->nplans) {
        pawl__upt_fail(&c, PAWL_UPTANE_EINPUT, "room for %zu installs, the Director orders %zu",
                       cap, w->nplans);
        goto out;
    }
    if (image_phase(w, image, inst) != 0)
        goto out;
    memcpy(out, inst, w->nplans * sizeof *inst);
    *n = w->nplans;
out:
    free(w);
    free(inst);
    return c.st;
}
