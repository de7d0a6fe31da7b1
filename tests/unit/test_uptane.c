/* Uptane on two in-memory TUF repositories (helper_tufrepo): a Director
 * and an Image repository. A valid update installs; each rule of full
 * verification, broken once, installs nothing and says which rule, ECU and
 * target; repository mapping files; version reports and manifests, made,
 * verified, and refused after each kind of tampering. */
#include "helper_common.h"
#include "helper_tufrepo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/uptane.h"

#define VIN "WVWZZZ1JZXW000001"
#define PRIMARY "ecu-primary"
#define BRAKE "ecu-brake"

/* ---- the vehicle and its two repositories ------------------------------ */

struct world {
    struct trepo *dir, *img;
    struct pawl_tuf_updater *du, *iu;
    struct pawl_tuf_store ds;
    struct pawl_uptane_ecu ecus[2];
    struct pawl_uptane_primary p;
    struct pawl_uptane_install out[PAWL_UPTANE_MAX_ECUS];
    size_t n;
    char err[512];
};

static struct world *world_new(void)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->dir = trepo_new(true);
    w->img = trepo_new(true);
    trepo_set_custom(w->dir, "targets", json_pack("{s:s}", "vin", VIN));
    trepo_publish(w->dir, "targets snapshot timestamp");
    trepo_client_init(w->dir, 1);
    trepo_client_init(w->img, 1);
    w->ecus[0] = (struct pawl_uptane_ecu){PRIMARY, "hw-main", 1};
    w->ecus[1] = (struct pawl_uptane_ecu){BRAKE, "hw-brake", 3};
    w->p = (struct pawl_uptane_primary){.vin = VIN, .ecus = w->ecus, .necus = 2};
    return w;
}

static void world_free(struct world *w)
{
    pawl_tuf_free(w->du);
    pawl_tuf_free(w->iu);
    trepo_free(w->dir);
    trepo_free(w->img);
    free(w);
}

/* Full verification on fresh updaters (as a Primary does after a reboot). */
static pawl_uptane_status verify(struct world *w)
{
    pawl_tuf_free(w->du);
    pawl_tuf_free(w->iu);
    w->du = trepo_updater(w->dir, 0);
    w->iu = trepo_updater(w->img, 0);
    w->ds = trepo_store(w->dir);
    w->n = 99;
    pawl_uptane_status st = pawl_uptane_full_verify(&w->p, w->du, w->iu, w->out,
                                                    PAWL_UPTANE_MAX_ECUS, &w->n, w->err,
                                                    sizeof w->err);
    if (st != PAWL_UPTANE_OK)
        assert_int_equal(w->n, 0); /* nothing to install after any refusal */
    return st;
}

static void expect(struct world *w, pawl_uptane_status want, const char *reason)
{
    pawl_uptane_status st = verify(w);
    if (st != want || strstr(w->err, reason) == NULL)
        fail_msg("got %s (%s), want %s with \"%s\"", pawl_uptane_status_name(st), w->err,
                 pawl_uptane_status_name(want), reason);
}

/* The Image repository offers path in role with a release counter and,
 * unless hw is NULL, a hardwareIds list of one. */
static void image_offer(struct world *w, const char *role, const char *path, const char *data,
                        int64_t counter, const char *hw)
{
    trepo_add_target(w->img, role, path, data, strlen(data));
    json_t *c = json_pack("{s:I}", "releaseCounter", (json_int_t)counter);
    if (hw != NULL)
        json_object_set_new(c, "hardwareIds", json_pack("[s]", hw));
    trepo_set_target_custom(w->img, role, path, c);
}

/* The Director orders path for ECU serial (hardware id hw). */
static void director_order(struct world *w, const char *path, const char *data,
                           const char *serial, const char *hw, int64_t counter)
{
    trepo_add_target(w->dir, "targets", path, data, strlen(data));
    trepo_set_target_custom(w->dir, "targets", path,
                            json_pack("{s:{s:{s:s}}, s:I}", "ecuIdentifiers", serial,
                                      "hardwareId", hw, "releaseCounter", (json_int_t)counter));
}

static void publish(struct world *w)
{
    trepo_publish(w->dir, "targets snapshot timestamp");
    trepo_publish(w->img, "targets snapshot timestamp");
}

/* A world where the Image repository holds brake firmware v4 (delegated to
 * the supplier) and main firmware v2, and the Director orders both. */
static struct world *ordered(void)
{
    struct world *w = world_new();
    trepo_delegate(w->img, "targets", "supplier", true, "brake/*", false);
    image_offer(w, "supplier", "brake/fw-4.bin", "brake firmware 4", 4, "hw-brake");
    image_offer(w, "targets", "main-2.bin", "main firmware 2", 2, NULL);
    trepo_publish(w->img, "supplier");
    director_order(w, "brake/fw-4.bin", "brake firmware 4", BRAKE, "hw-brake", 4);
    director_order(w, "main-2.bin", "main firmware 2", PRIMARY, "hw-main", 2);
    publish(w);
    return w;
}

struct mem {
    char buf[256];
    size_t n;
};

static int mem_put(void *ctx, const uint8_t *p, size_t n)
{
    struct mem *m = ctx;
    if (m->n + n >= sizeof m->buf)
        return -1;
    memcpy(m->buf + m->n, p, n);
    m->n += n;
    return 0;
}

static const struct pawl_uptane_install *install_for(struct world *w, const char *serial)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->out[i].ecu_serial, serial) == 0)
            return &w->out[i];
    return NULL;
}

/* ---- full verification ------------------------------------------------- */

static void test_valid_update_installs(void **state)
{
    (void)state;
    struct world *w = ordered();
    assert_int_equal(verify(w), PAWL_UPTANE_OK);
    assert_string_equal(w->err, "");
    assert_int_equal(w->n, 2);
    const struct pawl_uptane_install *b = install_for(w, BRAKE), *m = install_for(w, PRIMARY);
    assert_non_null(b);
    assert_non_null(m);
    assert_string_equal(b->target.path, "brake/fw-4.bin");
    assert_int_equal(b->target.length, strlen("brake firmware 4"));
    assert_int_equal(b->release_counter, 4);
    assert_string_equal(m->target.path, "main-2.bin");
    assert_int_equal(m->release_counter, 2);
    /* the image downloads from the Image repository and verifies */
    struct mem got = {{0}, 0};
    assert_int_equal(pawl_tuf_fetch_target(w->iu, &b->target, mem_put, &got), 0);
    assert_int_equal(got.n, strlen("brake firmware 4"));
    assert_memory_equal(got.buf, "brake firmware 4", got.n);
    /* the same release counter as installed is accepted (reinstall) */
    w->ecus[1].release_counter = 4;
    assert_int_equal(verify(w), PAWL_UPTANE_OK);
    assert_int_equal(w->n, 2);
    world_free(w);
}

static void test_nothing_to_install(void **state)
{
    (void)state;
    struct world *w = world_new();
    trepo_unserve(w->img, "timestamp.json"); /* not even asked */
    assert_int_equal(verify(w), PAWL_UPTANE_OK);
    assert_int_equal(w->n, 0);
    assert_string_equal(trepo_requests(w->img), "");
    world_free(w);
}

static void test_foreign_ecu(void **state)
{
    (void)state;
    struct world *w = ordered();
    director_order(w, "other.bin", "x", "ecu-of-another-car", "hw-main", 1);
    image_offer(w, "targets", "other.bin", "x", 1, NULL);
    publish(w);
    expect(w, PAWL_UPTANE_EUNKNOWN_ECU,
           "target other.bin: ECU ecu-of-another-car is not an ECU of vehicle " VIN);
    world_free(w);
}

static void test_ecu_given_two_images(void **state)
{
    (void)state;
    struct world *w = ordered();
    director_order(w, "brake/fw-5.bin", "brake firmware 5", BRAKE, "hw-brake", 5);
    image_offer(w, "supplier", "brake/fw-5.bin", "brake firmware 5", 5, "hw-brake");
    trepo_publish(w->img, "supplier");
    publish(w);
    expect(w, PAWL_UPTANE_EDUPLICATE_ECU, "ECU " BRAKE " is given two images");
    world_free(w);
}

static void test_wrong_hardware_id(void **state)
{
    (void)state;
    struct world *w = ordered();
    /* the Director orders the brake image for hardware the ECU is not */
    trepo_set_target_custom(w->dir, "targets", "brake/fw-4.bin",
                            json_pack("{s:{s:{s:s}}, s:i}", "ecuIdentifiers", BRAKE,
                                      "hardwareId", "hw-wiper", "releaseCounter", 4));
    publish(w);
    expect(w, PAWL_UPTANE_EHARDWARE,
           "target brake/fw-4.bin for ECU " BRAKE ": hardware id hw-wiper, the ECU is hw-brake");
    world_free(w);

    /* the Director agrees with the ECU but the Image repository built the
     * image for other hardware */
    w = ordered();
    image_offer(w, "supplier", "brake/fw-4.bin", "brake firmware 4", 4, "hw-wiper");
    trepo_publish(w->img, "supplier");
    publish(w);
    expect(w, PAWL_UPTANE_EHARDWARE, "the Image repository does not list hardware id hw-brake");
    world_free(w);
}

static void test_wrong_vehicle(void **state)
{
    (void)state;
    struct world *w = ordered();
    trepo_set_custom(w->dir, "targets", json_pack("{s:s}", "vin", "WVWZZZ1JZXW999999"));
    publish(w);
    expect(w, PAWL_UPTANE_EVEHICLE,
           "director targets are for vehicle WVWZZZ1JZXW999999, this is " VIN);
    world_free(w);

    w = ordered();
    trepo_set_custom(w->dir, "targets", NULL); /* no vehicle identifier at all */
    publish(w);
    expect(w, PAWL_UPTANE_EVEHICLE, "no vehicle identifier \"vin\"");
    world_free(w);

    /* an empty order replayed to another vehicle is refused as well */
    w = world_new();
    w->p.vin = "WVWZZZ1JZXW000002";
    expect(w, PAWL_UPTANE_EVEHICLE, "are for vehicle " VIN);
    world_free(w);
}

static void test_length_or_hash_mismatch(void **state)
{
    (void)state;
    struct world *w = ordered();
    director_order(w, "main-2.bin", "main firmware 2 + payload", PRIMARY, "hw-main", 2);
    publish(w);
    expect(w, PAWL_UPTANE_EMISMATCH,
           "target main-2.bin for ECU " PRIMARY ": length 25 in the Director, 15 in the Image");
    world_free(w);

    w = ordered();
    director_order(w, "main-2.bin", "main firmware X", PRIMARY, "hw-main", 2); /* same length */
    publish(w);
    expect(w, PAWL_UPTANE_EMISMATCH, "differs between the Director and the Image repository");
    world_free(w);
}

static void test_no_common_hash(void **state)
{
    (void)state;
    struct world *w = ordered();
    json_t *t = json_object_get(json_object_get(trepo_signed(w->dir, "targets"), "targets"),
                                "main-2.bin");
    json_object_set_new(t, "hashes",
                        json_pack("{s:s}", "sha384", "00112233445566778899aabbccddeeff"));
    publish(w);
    expect(w, PAWL_UPTANE_EMISMATCH, "no hash algorithm in common");
    world_free(w);
}

static void test_image_missing(void **state)
{
    (void)state;
    struct world *w = ordered();
    director_order(w, "brake/fw-4.bin", "brake firmware 4", BRAKE, "hw-brake", 4);
    json_object_del(json_object_get(trepo_signed(w->img, "supplier"), "targets"),
                    "brake/fw-4.bin");
    trepo_publish(w->img, "supplier");
    publish(w);
    expect(w, PAWL_UPTANE_EMISSING,
           "target brake/fw-4.bin for ECU " BRAKE ": the Image repository does not list it");
    world_free(w);
}

static void test_release_counter_below_installed(void **state)
{
    (void)state;
    struct world *w = ordered();
    w->ecus[1].release_counter = 5; /* the brake ECU runs v5; the Director orders v4 */
    expect(w, PAWL_UPTANE_EROLLBACK,
           "target brake/fw-4.bin for ECU " BRAKE ": release counter 4 is below the "
           "installed 5");
    world_free(w);
}

static void test_counter_differs_from_image(void **state)
{
    (void)state;
    struct world *w = ordered();
    director_order(w, "main-2.bin", "main firmware 2", PRIMARY, "hw-main", 7);
    publish(w);
    expect(w, PAWL_UPTANE_EMISMATCH,
           "target main-2.bin for ECU " PRIMARY ": release counter 7 in the Director, 2 in the "
           "Image repository");
    world_free(w);

    w = ordered();
    trepo_set_target_custom(w->img, "targets", "main-2.bin", NULL);
    publish(w);
    expect(w, PAWL_UPTANE_EMISMATCH, "the Image repository gives no integer custom");
    world_free(w);
}

static void test_director_must_not_delegate(void **state)
{
    (void)state;
    struct world *w = ordered();
    trepo_delegate(w->dir, "targets", "rogue", false, "*", false);
    trepo_publish(w->dir, "rogue");
    publish(w);
    expect(w, PAWL_UPTANE_EDELEGATION, "director targets delegate");
    world_free(w);

    w = world_new(); /* also with no target at all */
    trepo_delegate(w->dir, "targets", "rogue", false, "*", false);
    trepo_publish(w->dir, "rogue targets snapshot timestamp");
    expect(w, PAWL_UPTANE_EDELEGATION, "director targets delegate");
    world_free(w);
}

static void test_director_compromised_alone(void **state)
{
    (void)state;
    /* An attacker holding every Director key signs malware for the brake
     * ECU with a high release counter. The Image repository never saw it. */
    struct world *w = ordered();
    director_order(w, "brake/fw-4.bin", "malware", BRAKE, "hw-brake", 9999);
    json_object_del(json_object_get(trepo_signed(w->dir, "targets"), "targets"), "main-2.bin");
    director_order(w, "brake/evil.bin", "malware", PRIMARY, "hw-main", 9999);
    publish(w);
    expect(w, PAWL_UPTANE_EMISMATCH, "target brake/fw-4.bin for ECU " BRAKE);
    world_free(w);

    w = ordered();
    director_order(w, "evil.bin", "malware", BRAKE, "hw-brake", 9999);
    json_object_del(json_object_get(trepo_signed(w->dir, "targets"), "targets"),
                    "brake/fw-4.bin");
    publish(w);
    expect(w, PAWL_UPTANE_EMISSING, "target evil.bin for ECU " BRAKE);
    world_free(w);
}

static void test_repository_refused(void **state)
{
    (void)state;
    struct world *w = ordered();
    size_t n;
    const uint8_t *ts = trepo_served(w->dir, "timestamp.json", &n);
    char *bad = malloc(n);
    memcpy(bad, ts, n);
    bad[n / 2] ^= 1; /* one flipped bit in the Director's timestamp */
    trepo_serve(w->dir, "timestamp.json", bad, n);
    free(bad);
    expect(w, PAWL_UPTANE_EREPO, "director: ");
    world_free(w);

    w = ordered();
    trepo_unserve(w->img, "timestamp.json");
    expect(w, PAWL_UPTANE_EREPO, "image repository: ");
    world_free(w);
}

static void test_bad_primary_config(void **state)
{
    (void)state;
    struct world *w = ordered();
    w->ecus[1].serial = PRIMARY;
    expect(w, PAWL_UPTANE_EINPUT, "ECU " PRIMARY " is listed twice");
    w->ecus[1].serial = "bad serial";
    expect(w, PAWL_UPTANE_EINPUT, "ECU 1: serial and hardware id");
    world_free(w);
}

/* ---- repository mapping ------------------------------------------------- */

#define MAP_BASIC                                                                           \
    "{\"repositories\": {\"director\": [\"https://dir.example/\"], \"images\": "            \
    "[\"https://img.example/\", \"https://mirror.example/\"]}, \"mapping\": [{\"paths\": "  \
    "[\"*\", \"*/*\"], \"repositories\": [\"director\", \"images\"], \"threshold\": 2, "   \
    "\"terminating\": true}]}"

static pawl_uptane_status map_parse(const char *text, struct pawl_uptane_map **m, char *err)
{
    return pawl_uptane_map_parse((const uint8_t *)text, strlen(text), m, err, 256);
}

static void test_map_parse(void **state)
{
    (void)state;
    struct pawl_uptane_map *m = NULL;
    char err[256];
    const char *urls[4];
    assert_int_equal(map_parse(MAP_BASIC, &m, err), PAWL_UPTANE_OK);
    assert_int_equal(pawl_uptane_map_urls(m, "images", urls, 4), 2);
    assert_string_equal(urls[1], "https://mirror.example/");
    assert_int_equal(pawl_uptane_map_urls(m, "nobody", urls, 4), 0);
    assert_int_equal(pawl_uptane_map_check(m, "brake/fw.bin", "director", "images", err, 256),
                     PAWL_UPTANE_OK);
    assert_int_equal(pawl_uptane_map_check(m, "a/b/c", "director", "images", err, 256),
                     PAWL_UPTANE_EMAPPING);
    assert_string_equal(err, "map.json: no mapping covers target a/b/c");
    pawl_uptane_map_free(m);

    static const struct {
        const char *text, *reason;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"repositories\": {}, \"repositories\": {}, \"mapping\": []}", "duplicate"},
        {"{\"repositories\": {\"a\": [\"u\"]}}", "document has no \"mapping\""},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": [], \"x\": 1}", "unknown key \"x\""},
        {"{\"repositories\": {\"a\": []}, \"mapping\": []}", "repository \"a\" must be an array"},
        {"{\"repositories\": {\"a\": [\"\"]}, \"mapping\": []}", "repository \"a\" URL 0"},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": []}", "1 to 32 mappings"},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": [{\"paths\": [\"*\"], "
         "\"repositories\": [\"a\"], \"threshold\": 0, \"terminating\": true}]}",
         "mapping[0] \"threshold\" must be 1 to 1"},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": [{\"paths\": [\"*\"], "
         "\"repositories\": [\"a\", \"b\"], \"threshold\": 1, \"terminating\": true}]}",
         "mapping[0] repositories[1] must name a repository"},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": [{\"paths\": [\"*\"], "
         "\"repositories\": [\"a\", \"a\"], \"threshold\": 1, \"terminating\": true}]}",
         "names \"a\" twice"},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": [{\"paths\": [], "
         "\"repositories\": [\"a\"], \"threshold\": 1, \"terminating\": true}]}",
         "mapping[0] \"paths\" must list"},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": [{\"paths\": [\"*\"], "
         "\"repositories\": [\"a\"], \"threshold\": 1, \"terminating\": \"yes\"}]}",
         "mapping[0] \"terminating\" must be true or false"},
        {"{\"repositories\": {\"a\": [\"u\"]}, \"mapping\": [{\"paths\": [\"*\"], "
         "\"repositories\": [\"a\"], \"threshold\": 1.0, \"terminating\": true}]}",
         "\"threshold\" must be an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = (struct pawl_uptane_map *)1;
        assert_int_equal(map_parse(bad[i].text, &m, err), PAWL_UPTANE_EINPUT);
        assert_null(m);
        if (strstr(err, bad[i].reason) == NULL)
            fail_msg("map %zu: \"%s\" lacks \"%s\"", i, err, bad[i].reason);
    }
}

static void test_map_in_full_verification(void **state)
{
    (void)state;
    struct world *w = ordered();
    struct pawl_uptane_map *m = NULL;
    char err[256];
    assert_int_equal(map_parse(MAP_BASIC, &m, err), PAWL_UPTANE_OK);
    w->p.map = m;
    w->p.director_name = "director";
    w->p.image_name = "images";
    assert_int_equal(verify(w), PAWL_UPTANE_OK);
    assert_int_equal(w->n, 2);
    w->p.image_name = "mirror"; /* not in the map */
    expect(w, PAWL_UPTANE_EMAPPING, "two repositories of map.json");
    pawl_uptane_map_free(m);

    /* brake images need only the Image repository: weaker than Uptane */
    assert_int_equal(map_parse("{\"repositories\": {\"director\": [\"d\"], \"images\": [\"i\"]},"
                               " \"mapping\": [{\"paths\": [\"brake/*\"], \"repositories\": "
                               "[\"images\"], \"threshold\": 1, \"terminating\": true}, "
                               "{\"paths\": [\"*\"], \"repositories\": [\"director\", "
                               "\"images\"], \"threshold\": 2, \"terminating\": true}]}",
                               &m, err),
                     PAWL_UPTANE_OK);
    w->p.map = m;
    w->p.image_name = "images";
    expect(w, PAWL_UPTANE_EMAPPING,
           "mapping[0], the first for target brake/fw-4.bin, does not require both");
    pawl_uptane_map_free(m);
    world_free(w);
}

/* ---- version reports and manifests ------------------------------------- */

struct keys {
    uint8_t seed[3][32];
    struct pawl_uptane_signer s[3]; /* primary, brake, an attacker */
};

static void keys_init(struct keys *k)
{
    for (int i = 0; i < 3; i++) {
        memset(k->seed[i], 0x41 + i, 32);
        assert_int_equal(pawl_uptane_seed_signer(&k->s[i], k->seed[i]), PAWL_UPTANE_OK);
    }
}

static struct pawl_uptane_report report_of(const char *serial, uint64_t counter)
{
    struct pawl_uptane_report r;
    memset(&r, 0, sizeof r);
    snprintf(r.ecu_serial, sizeof r.ecu_serial, "%s", serial);
    snprintf(r.installed.path, sizeof r.installed.path, "brake/fw-3.bin");
    r.installed.length = 16;
    r.installed.nhashes = 1;
    snprintf(r.installed.hashes[0].alg, sizeof r.installed.hashes[0].alg, "sha256");
    snprintf(r.installed.hashes[0].hex, sizeof r.installed.hashes[0].hex, "%064d", 7);
    r.counter = counter;
    r.time = TREPO_NOW;
    return r;
}

static char *make_report(const struct pawl_uptane_report *r, const struct pawl_uptane_signer *s)
{
    char *out = malloc(PAWL_UPTANE_REPORT_MAX), err[256];
    size_t n = 0;
    assert_int_equal(pawl_uptane_report_make(r, s, out, PAWL_UPTANE_REPORT_MAX, &n, err, 256),
                     PAWL_UPTANE_OK);
    assert_int_equal(strlen(out), n);
    return out;
}

/* Replaces the first occurrence of from with to (same length or not). */
static char *edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

static void test_report_roundtrip_and_tampering(void **state)
{
    (void)state;
    struct keys k;
    keys_init(&k);
    struct pawl_uptane_report r = report_of(BRAKE, 5), got;
    snprintf(r.attacks, sizeof r.attacks, "slow retrieval of brake/fw-4.bin");
    char *text = make_report(&r, &k.s[1]), err[256];
    struct pawl_uptane_known_ecu ecu = {BRAKE, {0}, 4};
    memcpy(ecu.public_key, k.s[1].public_key, 32);
    assert_non_null(strstr(text, "\"_type\":\"ecu_version_report\""));
    assert_int_equal(pawl_uptane_report_verify(&ecu, (const uint8_t *)text, strlen(text), &got,
                                               err, sizeof err),
                     PAWL_UPTANE_OK);
    assert_string_equal(got.ecu_serial, BRAKE);
    assert_string_equal(got.installed.path, "brake/fw-3.bin");
    assert_int_equal(got.counter, 5);
    assert_string_equal(got.attacks, "slow retrieval of brake/fw-4.bin");

    static const struct {
        const char *from, *to;
        pawl_uptane_status st;
        const char *reason;
    } bad[] = {
        {"\"report_counter\":5", "\"report_counter\":6", PAWL_UPTANE_ESIGNATURE,
         "signed by 0 of the 1 keys"},
        {"brake/fw-3.bin", "brake/fw-9.bin", PAWL_UPTANE_ESIGNATURE, "signed by 0 of the 1"},
        {"\"time\":", "\"extra\":1,\"time\":", PAWL_UPTANE_EINPUT, "unknown key \"extra\""},
        {"\"report_counter\":5", "\"report_counter\":5,\"report_counter\":5",
         PAWL_UPTANE_EINPUT, "duplicate"},
        {"\"ecu_serial\":\"" BRAKE "\"", "\"ecu_serial\":\"ecu-wiper\"", PAWL_UPTANE_EUNKNOWN_ECU,
         "ECU ecu-wiper is not in the inventory"},
        {"\"signatures\":[", "\"signatures\":[{\"keyid\":\"00\",\"sig\":\"00\"},",
         PAWL_UPTANE_OK, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = edit(text, bad[i].from, bad[i].to);
        pawl_uptane_status st = pawl_uptane_report_verify(&ecu, (const uint8_t *)t, strlen(t),
                                                          &got, err, sizeof err);
        if (st != bad[i].st || strstr(err, bad[i].reason) == NULL)
            fail_msg("edit %zu: %s (%s)", i, pawl_uptane_status_name(st), err);
        if (st != PAWL_UPTANE_OK)
            assert_string_equal(got.ecu_serial, ""); /* nothing released */
        free(t);
    }
    /* the same report again: a replay */
    ecu.last_counter = 5;
    assert_int_equal(pawl_uptane_report_verify(&ecu, (const uint8_t *)text, strlen(text), &got,
                                                err, sizeof err),
                     PAWL_UPTANE_EREPLAY);
    assert_non_null(strstr(err, "counter 5 is not above the last accepted 5"));
    /* signed by another key */
    ecu.last_counter = 0;
    memcpy(ecu.public_key, k.s[2].public_key, 32);
    assert_int_equal(pawl_uptane_report_verify(&ecu, (const uint8_t *)text, strlen(text), &got,
                                                err, sizeof err),
                     PAWL_UPTANE_ESIGNATURE);
    free(text);
}

static void test_report_make_refuses_bad_fields(void **state)
{
    (void)state;
    struct keys k;
    keys_init(&k);
    char out[64], err[256];
    size_t n = 7;
    struct pawl_uptane_report r = report_of("has space", 1);
    assert_int_equal(pawl_uptane_report_make(&r, &k.s[1], out, sizeof out, &n, err, 256),
                     PAWL_UPTANE_EINPUT);
    assert_non_null(strstr(err, "\"ecu_serial\" must be 1 to 64 printable bytes"));
    assert_int_equal(n, 0);
    r = report_of(BRAKE, 0);
    assert_int_equal(pawl_uptane_report_make(&r, &k.s[1], out, sizeof out, &n, err, 256),
                     PAWL_UPTANE_EINPUT);
    r = report_of(BRAKE, 1);
    r.installed.hashes[0].hex[3] = 'G';
    assert_int_equal(pawl_uptane_report_make(&r, &k.s[1], out, sizeof out, &n, err, 256),
                     PAWL_UPTANE_EINPUT);
    r = report_of(BRAKE, 1); /* valid, but 64 bytes cannot hold it */
    assert_int_equal(pawl_uptane_report_make(&r, &k.s[1], out, sizeof out, &n, err, 256),
                     PAWL_UPTANE_EINPUT);
    assert_non_null(strstr(err, "bytes needed, room for 64"));
}

struct fleet {
    struct keys k;
    struct pawl_uptane_known_ecu ecus[2];
    struct pawl_uptane_inventory inv;
    struct pawl_uptane_report out[4];
    size_t n;
    char err[512];
};

static void fleet_init(struct fleet *f)
{
    keys_init(&f->k);
    f->ecus[0] = (struct pawl_uptane_known_ecu){PRIMARY, {0}, 10};
    f->ecus[1] = (struct pawl_uptane_known_ecu){BRAKE, {0}, 4};
    memcpy(f->ecus[0].public_key, f->k.s[0].public_key, 32);
    memcpy(f->ecus[1].public_key, f->k.s[1].public_key, 32);
    f->inv = (struct pawl_uptane_inventory){VIN, PRIMARY, f->ecus, 2, TREPO_NOW, 3600};
}

/* A manifest from vin and reports by (serial, counter, signer index). */
static char *manifest(struct fleet *f, const char *vin, size_t nr, const char *const *serials,
                      const uint64_t *counters, const int *signers)
{
    char *reps[4];
    size_t lens[4], n = 0;
    char *out = malloc(PAWL_UPTANE_MANIFEST_MAX), err[256];
    for (size_t i = 0; i < nr; i++) {
        struct pawl_uptane_report r = report_of(serials[i], counters[i]);
        reps[i] = make_report(&r, &f->k.s[signers[i]]);
        lens[i] = strlen(reps[i]);
    }
    assert_int_equal(pawl_uptane_manifest_make(vin, PRIMARY, (const char *const *)reps, lens,
                                               nr, &f->k.s[0], out, PAWL_UPTANE_MANIFEST_MAX,
                                               &n, err, 256),
                     PAWL_UPTANE_OK);
    for (size_t i = 0; i < nr; i++)
        free(reps[i]);
    return out;
}

static pawl_uptane_status check(struct fleet *f, const char *text)
{
    f->n = 99;
    pawl_uptane_status st = pawl_uptane_manifest_verify(
        &f->inv, (const uint8_t *)text, strlen(text), f->out, 4, &f->n, f->err, sizeof f->err);
    if (st != PAWL_UPTANE_OK)
        assert_int_equal(f->n, 0);
    return st;
}

static void expect_manifest(struct fleet *f, char *text, pawl_uptane_status want,
                            const char *reason)
{
    pawl_uptane_status st = check(f, text);
    if (st != want || strstr(f->err, reason) == NULL)
        fail_msg("got %s (%s), want %s with \"%s\"", pawl_uptane_status_name(st), f->err,
                 pawl_uptane_status_name(want), reason);
    free(text);
}

static void test_manifest_verified(void **state)
{
    (void)state;
    struct fleet f;
    fleet_init(&f);
    static const char *const serials[] = {PRIMARY, BRAKE};
    static const uint64_t counters[] = {11, 5};
    static const int signers[] = {0, 1};
    char *m = manifest(&f, VIN, 2, serials, counters, signers);
    assert_non_null(strstr(m, "\"_type\":\"vehicle_version_manifest\""));
    assert_int_equal(check(&f, m), PAWL_UPTANE_OK);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.out[1].ecu_serial, BRAKE);
    assert_int_equal(f.out[1].counter, 5);
    assert_int_equal(f.out[0].counter, 11);
    /* the Director records the counters: the same manifest again is a replay */
    f.ecus[0].last_counter = f.out[0].counter;
    f.ecus[1].last_counter = f.out[1].counter;
    expect_manifest(&f, m, PAWL_UPTANE_EREPLAY,
                    "reports[0] of ECU " PRIMARY ": counter 11 is not above");
}

static void test_manifest_tampering(void **state)
{
    (void)state;
    struct fleet f;
    fleet_init(&f);
    static const char *const serials[] = {PRIMARY, BRAKE, BRAKE};
    static const uint64_t counters[] = {11, 5, 6};
    int signers[] = {0, 1, 1};
    char *m;

    m = manifest(&f, "WVWZZZ1JZXW000666", 2, serials, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_EVEHICLE, "from vehicle WVWZZZ1JZXW000666");

    m = manifest(&f, VIN, 2, serials, counters, signers);
    /* the Primary's signature covers the list of reports */
    char *t = edit(m, "\"ecu_version_reports\":[", "\"ecu_version_reports\":[{},");
    expect_manifest(&f, t, PAWL_UPTANE_ESIGNATURE, "manifest of Primary: signed by 0");
    free(m);

    signers[1] = 2; /* the brake report signed by an attacker's key */
    m = manifest(&f, VIN, 2, serials, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_ESIGNATURE, "ecu_version_reports[1] of ECU " BRAKE);
    signers[1] = 1;

    m = manifest(&f, VIN, 3, serials, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_EDUPLICATE_ECU, "ECU " BRAKE " reports twice");

    m = manifest(&f, VIN, 1, serials, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_EINCOMPLETE, "ECU " BRAKE " sent no version report");

    static const char *const foreign[] = {PRIMARY, "ecu-stranger"};
    m = manifest(&f, VIN, 2, foreign, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_EUNKNOWN_ECU, "ECU ecu-stranger is not in the inventory");

    static const uint64_t old[] = {11, 4}; /* brake's last accepted is 4 */
    m = manifest(&f, VIN, 2, serials, old, signers);
    expect_manifest(&f, m, PAWL_UPTANE_EREPLAY, "counter 4 is not above the last accepted 4");

    f.inv.now = TREPO_NOW + 7200; /* reports two hours old */
    m = manifest(&f, VIN, 2, serials, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_ETIME, "more than 3600 s from now");
    f.inv.now = TREPO_NOW;

    f.ecus[0].public_key[0] ^= 1; /* the Director knows another Primary key */
    m = manifest(&f, VIN, 2, serials, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_ESIGNATURE, "manifest of Primary");
    f.ecus[0].public_key[0] ^= 1;

    f.inv.primary_serial = BRAKE; /* sent by the wrong Primary */
    m = manifest(&f, VIN, 2, serials, counters, signers);
    expect_manifest(&f, m, PAWL_UPTANE_EUNKNOWN_ECU, "sent by Primary " PRIMARY);
}

static void test_manifest_make_refuses_bad_reports(void **state)
{
    (void)state;
    struct keys k;
    keys_init(&k);
    const char *reps[] = {"{\"signatures\": [], \"signed\": {}}"};
    size_t lens[] = {strlen(reps[0])}, n = 5;
    char out[4096], err[256];
    assert_int_equal(pawl_uptane_manifest_make(VIN, PRIMARY, reps, lens, 1, &k.s[0], out,
                                               sizeof out, &n, err, sizeof err),
                     PAWL_UPTANE_ESIGNATURE);
    assert_string_equal(err, "report 0: report 0 must carry 1 to 8 signatures");
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_update_installs),
        cmocka_unit_test(test_nothing_to_install),
        cmocka_unit_test(test_foreign_ecu),
        cmocka_unit_test(test_ecu_given_two_images),
        cmocka_unit_test(test_wrong_hardware_id),
        cmocka_unit_test(test_wrong_vehicle),
        cmocka_unit_test(test_length_or_hash_mismatch),
        cmocka_unit_test(test_no_common_hash),
        cmocka_unit_test(test_image_missing),
        cmocka_unit_test(test_release_counter_below_installed),
        cmocka_unit_test(test_counter_differs_from_image),
        cmocka_unit_test(test_director_must_not_delegate),
        cmocka_unit_test(test_director_compromised_alone),
        cmocka_unit_test(test_repository_refused),
        cmocka_unit_test(test_bad_primary_config),
        cmocka_unit_test(test_map_parse),
        cmocka_unit_test(test_map_in_full_verification),
        cmocka_unit_test(test_report_roundtrip_and_tampering),
        cmocka_unit_test(test_report_make_refuses_bad_fields),
        cmocka_unit_test(test_manifest_verified),
        cmocka_unit_test(test_manifest_tampering),
        cmocka_unit_test(test_manifest_make_refuses_bad_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
