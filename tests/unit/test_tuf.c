/* The TUF client against an in-memory repository (helper_tufrepo): each
 * attack the conformance suite covers (rollback, freeze, mix-and-match,
 * arbitrary and endless data, fast-forward recovery, key rotation,
 * delegation graphs), bad metadata, and target downloads. After every
 * refused refresh the client's trusted metadata must be what it was. */
#include "helper_common.h"
#include "helper_tufrepo.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tuf_internal.h"
#include <openssl/evp.h>

#define PAST "2023-01-01T00:00:00Z" /* before TREPO_NOW */

static int64_t ver(struct trepo *r, const char *name)
{
    return trepo_stored_version(r, name);
}

/* A copy of every stored file's bytes, to prove a refusal changed nothing. */
struct snap {
    char *text;
};

static struct snap snap_take(struct trepo *r)
{
    static const char *const names[] = {"root.json", "timestamp.json", "snapshot.json",
                                        "targets.json"};
    size_t cap = 1, n;
    char *s = calloc(1, 1);
    for (size_t i = 0; i < 4; i++) {
        const uint8_t *p = trepo_stored(r, names[i], &n);
        if (p == NULL)
            continue;
        s = realloc(s, cap + n + 64);
        assert_non_null(s);
        cap += (size_t)snprintf(s + cap - 1, n + 64, "%s=%.*s|", names[i], (int)n, p);
    }
    struct snap sn = {s};
    return sn;
}

static void snap_same(struct trepo *r, struct snap before)
{
    struct snap now = snap_take(r);
    assert_string_equal(before.text, now.text);
    free(now.text);
    free(before.text);
}

static struct trepo *ready(bool consistent)
{
    struct trepo *r = trepo_new(consistent);
    trepo_client_init(r, 1);
    assert_int_equal(trepo_refresh(r, 0), 0);
    (void)trepo_requests(r);
    return r;
}

static void test_basic_refresh_requests(void **state)
{
    (void)state;
    struct trepo *r = trepo_new(true);
    trepo_client_init(r, 1);
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_string_equal(trepo_requests(r),
                        "2.root.json timestamp.json 1.snapshot.json 1.targets.json");
    assert_int_equal(ver(r, "timestamp.json"), 1);
    assert_int_equal(ver(r, "targets.json"), 1);
    /* nothing new: the local snapshot and targets stay valid */
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_string_equal(trepo_requests(r), "2.root.json timestamp.json");
    trepo_free(r);

    r = trepo_new(false);
    trepo_client_init(r, 1);
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_string_equal(trepo_requests(r), "2.root.json timestamp.json snapshot.json targets.json");
    trepo_free(r);
}

static void test_metadata_stored_as_served(void **state)
{
    (void)state;
    struct trepo *r = trepo_new(true);
    size_t n, m;
    const uint8_t *ts = trepo_served(r, "timestamp.json", &n);
    char *spaced = malloc(n + 1);
    memcpy(spaced, ts, n);
    spaced[n] = ' ';
    trepo_serve(r, "timestamp.json", spaced, n + 1);
    trepo_client_init(r, 1);
    assert_int_equal(trepo_refresh(r, 0), 0);
    const uint8_t *stored = trepo_stored(r, "timestamp.json", &m);
    assert_int_equal(m, n + 1);
    assert_memory_equal(stored, spaced, m);
    free(spaced);
    trepo_free(r);
}

static void test_root_rotation(void **state)
{
    (void)state;
    struct trepo *r = trepo_new(true);
    trepo_client_init(r, 1);
    json_t *roles = json_object_get(trepo_signed(r, "root"), "roles");
    /* v2: a second root key, threshold 2, signed by both */
    int k2 = trepo_add_key(r, "root");
    json_integer_set(json_object_get(json_object_get(roles, "root"), "threshold"), 2);
    trepo_publish(r, "root");
    /* v3: the first key leaves; signed by k2 and a new k3 (old threshold 2
     * would need the first key: v3 is signed by it too, then it goes) */
    int k3 = trepo_add_key(r, "root");
    trepo_remove_key(r, "root", 0);
    trepo_publish(r, "root");
    trepo_remove_signer(r, "root", 0);
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_int_equal(ver(r, "root.json"), 3);
    assert_non_null(strstr(trepo_requests(r), "2.root.json 3.root.json 4.root.json"));
    /* v4 signed by k3 alone: below the trusted threshold of 2 */
    trepo_remove_signer(r, "root", k2);
    trepo_publish(r, "root");
    struct snap before = snap_take(r);
    assert_int_equal(trepo_refresh(r, 0), -1);
    snap_same(r, before);
    assert_int_equal(ver(r, "root.json"), 3);
    (void)k3;
    trepo_free(r);
}

static void test_root_signed_by_old_keys_only(void **state)
{
    (void)state;
    struct trepo *r = trepo_new(true);
    trepo_client_init(r, 1);
    /* v2 lists a new key with threshold 1 but only the old key signs: it
     * does not meet its own threshold */
    int k = trepo_add_key(r, "root");
    trepo_remove_key(r, "root", 0);
    trepo_remove_signer(r, "root", k);
    trepo_publish(r, "root");
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "root.json"), 1);
    trepo_free(r);
}

static void test_root_version_mismatch(void **state)
{
    (void)state;
    struct trepo *r = trepo_new(true);
    trepo_client_init(r, 1);
    trepo_publish(r, "root");
    trepo_publish(r, "root");
    size_t n;
    const uint8_t *v3 = trepo_served(r, "3.root.json", &n);
    trepo_serve(r, "2.root.json", v3, n); /* 2.root.json holds version 3 */
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "root.json"), 1);
    trepo_free(r);
}

static void test_rollback_timestamp(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    size_t n;
    const uint8_t *p = trepo_served(r, "timestamp.json", &n);
    char *v1 = malloc(n);
    memcpy(v1, p, n);
    trepo_publish(r, "timestamp");
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_int_equal(ver(r, "timestamp.json"), 2);
    trepo_serve(r, "timestamp.json", v1, n);
    free(v1);
    struct snap before = snap_take(r);
    assert_int_equal(trepo_refresh(r, 0), -1);
    snap_same(r, before);
    trepo_free(r);
}

static void test_rollback_snapshot_version(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_publish(r, "snapshot timestamp"); /* snapshot 2, timestamp 2 */
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_int_equal(ver(r, "snapshot.json"), 2);
    /* timestamp 3 names snapshot version 1 again */
    json_integer_set(json_object_get(trepo_signed(r, "snapshot"), "version"), 0);
    trepo_publish(r, "snapshot");
    trepo_publish(r, "timestamp");
    struct snap before = snap_take(r);
    assert_int_equal(trepo_refresh(r, 0), -1);
    snap_same(r, before);
    trepo_free(r);
}

static void test_rollback_targets_in_snapshot(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_publish(r, "targets snapshot timestamp"); /* targets 2 */
    assert_int_equal(trepo_refresh(r, 0), 0);
    /* snapshot 3 says targets.json is version 1 */
    json_integer_set(json_object_get(trepo_signed(r, "targets"), "version"), 0);
    trepo_publish(r, "targets snapshot timestamp");
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "snapshot.json"), 2);
    assert_int_equal(ver(r, "targets.json"), 2);
    trepo_free(r);
}

static void expire(struct trepo *r, const char *role)
{
    json_object_set_new(trepo_signed(r, role), "expires", json_string(PAST));
}

static void test_freeze(void **state)
{
    (void)state;
    static const char *const roles[] = {"timestamp", "snapshot", "targets", "root"};
    static const char *const publish[] = {"timestamp", "snapshot timestamp",
                                          "targets snapshot timestamp", "root"};
    for (size_t i = 0; i < 4; i++) {
        struct trepo *r = ready(true);
        expire(r, roles[i]);
        trepo_publish(r, publish[i]);
        assert_int_equal(trepo_refresh(r, 0), -1);
        /* the same repository is fine for a client whose clock is earlier */
        assert_int_equal(trepo_refresh(r, 1600000000), 0);
        trepo_free(r);
    }
}

static void test_freeze_frozen_timestamp(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    json_object_set_new(trepo_signed(r, "timestamp"), "expires",
                        json_string("2025-01-01T00:00:00Z"));
    trepo_publish(r, "timestamp");
    assert_int_equal(trepo_refresh(r, 0), 0);
    /* the attacker keeps serving that timestamp: once the clock passes its
     * expiry (2026 here), the client refuses to go on */
    assert_int_equal(trepo_refresh(r, 1767225600), -1);
    assert_int_equal(ver(r, "timestamp.json"), 2);
    trepo_free(r);
}

static void test_mix_and_match(void **state)
{
    (void)state;
    struct trepo *r = trepo_new(true);
    trepo_set_meta_hashes(r, true);
    trepo_publish(r, "targets snapshot timestamp");
    trepo_client_init(r, 1);
    assert_int_equal(trepo_refresh(r, 0), 0);
    /* snapshot 3 is served with the bytes of snapshot 2 re-signed as 3 by
     * the attacker? No key: serve snapshot 2's bytes under 3's name */
    trepo_publish(r, "targets snapshot timestamp");
    size_t n;
    const uint8_t *old = trepo_served(r, "2.snapshot.json", &n);
    trepo_serve(r, "3.snapshot.json", old, n);
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "snapshot.json"), 2);
    assert_int_equal(ver(r, "targets.json"), 2);
    trepo_free(r);

    /* without hashes, a snapshot whose version is not the one the
     * timestamp names is refused too */
    r = ready(true);
    trepo_publish(r, "snapshot timestamp");
    old = trepo_served(r, "1.snapshot.json", &n);
    trepo_serve(r, "2.snapshot.json", old, n);
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "snapshot.json"), 1);
    trepo_free(r);

    /* and targets whose version is not the snapshot's */
    r = ready(true);
    trepo_publish(r, "targets snapshot timestamp");
    old = trepo_served(r, "1.targets.json", &n);
    trepo_serve(r, "2.targets.json", old, n);
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "targets.json"), 1);
    trepo_free(r);
}

static void test_endless_and_arbitrary_data(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    size_t big = PAWL_TUF_TIMESTAMP_MAX + 1000;
    char *junk = malloc(big);
    memset(junk, ' ', big);
    trepo_serve(r, "timestamp.json", junk, big);
    struct snap before = snap_take(r);
    struct pawl_tuf_updater *u = trepo_updater(r, 0);
    assert_int_equal(pawl_tuf_refresh(u), -1);
    assert_non_null(strstr(pawl_tuf_error(u), "more than"));
    pawl_tuf_free(u);
    snap_same(r, before);
    /* arbitrary bytes, a JSON value of the wrong shape, a document signed
     * by nobody */
    static const char *const bad[] = {"\x01\x02garbage", "[]", "{\"signed\":{}}",
                                      "{\"signed\":{\"_type\":\"timestamp\"},\"signatures\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        trepo_serve(r, "timestamp.json", bad[i], strlen(bad[i]));
        before = snap_take(r);
        assert_int_equal(trepo_refresh(r, 0), -1);
        snap_same(r, before);
    }
    free(junk);
    trepo_free(r);
}

static void test_fast_forward_recovery(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    /* an attacker with the timestamp key pushed the client to version 99 */
    json_integer_set(json_object_get(trepo_signed(r, "timestamp"), "version"), 98);
    trepo_publish(r, "timestamp");
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_int_equal(ver(r, "timestamp.json"), 99);
    /* the repository rotates the timestamp key and starts again at 1 */
    int k = trepo_add_key(r, "timestamp");
    trepo_remove_key(r, "timestamp", 1);
    trepo_remove_signer(r, "timestamp", 1);
    trepo_publish(r, "root");
    json_integer_set(json_object_get(trepo_signed(r, "timestamp"), "version"), 0);
    trepo_publish(r, "timestamp");
    assert_int_equal(trepo_refresh(r, 0), 0);
    assert_int_equal(ver(r, "timestamp.json"), 1);
    (void)k;
    trepo_free(r);
}

static void test_threshold_and_duplicate_signatures(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    json_t *roles = json_object_get(trepo_signed(r, "root"), "roles");
    int k = trepo_add_key(r, "snapshot");
    json_integer_set(json_object_get(json_object_get(roles, "snapshot"), "threshold"), 2);
    trepo_publish(r, "root snapshot timestamp");
    assert_int_equal(trepo_refresh(r, 0), 0);
    /* one of the two signers drops out */
    trepo_remove_signer(r, "snapshot", k);
    trepo_publish(r, "snapshot timestamp");
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "snapshot.json"), 2);
    /* the remaining signature twice does not make two */
    size_t n;
    const uint8_t *p = trepo_served(r, "3.snapshot.json", &n);
    json_t *doc = json_loadb((const char *)p, n, 0, NULL);
    json_t *sigs = json_object_get(doc, "signatures");
    json_array_append(sigs, json_array_get(sigs, 0));
    char *text = json_dumps(doc, JSON_COMPACT);
    trepo_serve(r, "3.snapshot.json", text, strlen(text));
    assert_int_equal(trepo_refresh(r, 0), -1);
    assert_int_equal(ver(r, "snapshot.json"), 2);
    free(text);
    json_decref(doc);
    trepo_free(r);
}

static int find_target(struct trepo *r, const char *path, struct pawl_tuf_target *t,
                       struct pawl_tuf_updater **out)
{
    struct pawl_tuf_updater *u = trepo_updater(r, 0);
    int rc = pawl_tuf_find_target(u, path, t);
    if (out != NULL)
        *out = u;
    else
        pawl_tuf_free(u);
    return rc;
}

static void test_delegation_order_and_terminating(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_delegate(r, "targets", "A", false, "*", false);
    trepo_delegate(r, "A", "C", false, "*", false);
    trepo_delegate(r, "targets", "B", false, "*", false);
    trepo_add_target(r, "B", "file.txt", "in B", 4);
    trepo_publish(r, "C A B targets snapshot timestamp");
    struct pawl_tuf_target t;
    (void)trepo_requests(r);
    assert_int_equal(find_target(r, "file.txt", &t, NULL), 0);
    /* pre-order, depth first: A, then A's child C, then B */
    assert_non_null(strstr(trepo_requests(r), "1.A.json 1.C.json 1.B.json"));
    assert_int_equal(t.length, 4);

    /* A terminating: B is never consulted */
    json_t *roles = json_object_get(json_object_get(trepo_signed(r, "targets"), "delegations"),
                                    "roles");
    json_object_set_new(json_array_get(roles, 0), "terminating", json_true());
    trepo_publish(r, "targets snapshot timestamp");
    assert_int_equal(find_target(r, "file.txt", &t, NULL), PAWL_TUF_NOTFOUND);
    assert_null(strstr(trepo_requests(r), "B.json"));
    trepo_free(r);
}

static void test_delegation_paths_and_prefixes(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    char hash[65];
    uint8_t d[32];
    unsigned dn;
    assert_int_equal(EVP_Digest("bin/x", 5, d, &dn, EVP_sha256(), NULL), 1);
    snprintf(hash, 3, "%02x", d[0]);
    trepo_delegate(r, "targets", "fw", false, "fw/*.bin", false);
    trepo_delegate(r, "targets", "hashed", false, hash, true);
    trepo_add_target(r, "fw", "fw/ecu.bin", "ecu", 3);
    trepo_add_target(r, "fw", "other/ecu.bin", "no", 2); /* outside fw's paths */
    trepo_add_target(r, "hashed", "bin/x", "x", 1);
    trepo_publish(r, "fw hashed targets snapshot timestamp");
    struct pawl_tuf_target t;
    assert_int_equal(find_target(r, "fw/ecu.bin", &t, NULL), 0);
    assert_int_equal(find_target(r, "other/ecu.bin", &t, NULL), PAWL_TUF_NOTFOUND);
    assert_int_equal(find_target(r, "fw/sub/ecu.bin", &t, NULL), PAWL_TUF_NOTFOUND);
    assert_int_equal(find_target(r, "bin/x", &t, NULL), 0);
    trepo_free(r);
}

static void test_hash_bins(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_delegate_bins(r, "targets", "bin", 3);
    /* the bin of "images/a.img": top 3 bits of sha256's first byte */
    uint8_t d[32];
    unsigned dn;
    char bin[16];
    assert_int_equal(EVP_Digest("images/a.img", 12, d, &dn, EVP_sha256(), NULL), 1);
    snprintf(bin, sizeof bin, "bin-%x", d[0] >> 5);
    trepo_add_target(r, bin, "images/a.img", "image", 5);
    char list[512] = "";
    for (int b = 0; b < 8; b++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "bin-%x ", b);
    }
    strncat(list, "targets snapshot timestamp", sizeof list - strlen(list) - 1);
    trepo_publish(r, list);
    struct pawl_tuf_target t;
    (void)trepo_requests(r);
    assert_int_equal(find_target(r, "images/a.img", &t, NULL), 0);
    char want[32];
    snprintf(want, sizeof want, "1.%s.json", bin);
    const char *req = trepo_requests(r);
    assert_non_null(strstr(req, want));
    /* only that bin is fetched */
    assert_null(strstr(strstr(req, "bin-") + 1, "bin-"));
    trepo_free(r);
}

static void test_delegation_cycle_and_limit(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    /* A -> B -> A: each visited once */
    trepo_delegate(r, "targets", "A", false, "*", false);
    trepo_delegate(r, "A", "B", false, "*", false);
    json_t *td = json_object_get(trepo_signed(r, "targets"), "delegations");
    json_object_set_new(trepo_signed(r, "B"), "delegations",
                        json_pack("{s:O, s:[O]}", "keys", json_object_get(td, "keys"), "roles",
                                  json_array_get(json_object_get(td, "roles"), 0)));
    trepo_publish(r, "B A targets snapshot timestamp");
    struct pawl_tuf_target t;
    (void)trepo_requests(r);
    assert_int_equal(find_target(r, "missing", &t, NULL), PAWL_TUF_NOTFOUND);
    const char *req = trepo_requests(r);
    assert_non_null(strstr(req, "1.A.json 1.B.json"));
    assert_null(strstr(strstr(req, "A.json") + 1, "A.json"));
    trepo_free(r);

    /* a chain of 40 roles: the walk stops after 32 */
    r = ready(true);
    char prev[16] = "targets", name[16], list[1024] = "";
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "r%d", i);
        trepo_delegate(r, prev, name, false, "*", false);
        memcpy(prev, name, sizeof prev);
    }
    trepo_add_target(r, "r39", "deep", "deep", 4);
    for (int i = 39; i >= 0; i--) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "r%d ", i);
    }
    strncat(list, "targets snapshot timestamp", sizeof list - strlen(list) - 1);
    trepo_publish(r, list);
    struct pawl_tuf_updater *u;
    assert_int_equal(find_target(r, "deep", &t, &u), PAWL_TUF_NOTFOUND);
    assert_non_null(strstr(pawl_tuf_error(u), "delegation limit"));
    pawl_tuf_free(u);
    trepo_free(r);
}

static void test_unusual_role_name(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_delegate(r, "targets", "../evil", false, "*", false);
    trepo_publish(r, "../evil targets snapshot timestamp");
    struct pawl_tuf_target t;
    (void)trepo_requests(r);
    assert_int_equal(find_target(r, "x", &t, NULL), PAWL_TUF_NOTFOUND);
    assert_non_null(strstr(trepo_requests(r), "1...%2Fevil.json"));
    size_t n;
    assert_non_null(trepo_stored(r, "..%2Fevil.json", &n));
    trepo_free(r);
}

static void test_diamond_verified_per_delegator(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_delegate(r, "targets", "pa", false, "a/*", false);
    trepo_delegate(r, "targets", "pb", false, "b/*", false);
    trepo_delegate(r, "pa", "rel", false, "a/*", false);
    /* pb delegates "rel" too, to a key that never signs */
    json_t *rb = json_pack("{s:s, s:[], s:i, s:b, s:[s]}", "name", "rel", "keyids", "threshold",
                           1, "terminating", false, "paths", "b/*");
    json_t *pbd = json_object_get(trepo_signed(r, "pb"), "delegations");
    if (pbd == NULL) {
        pbd = json_pack("{s:{}, s:[]}", "keys", "roles");
        json_object_set_new(trepo_signed(r, "pb"), "delegations", pbd);
    }
    json_array_append_new(json_object_get(pbd, "roles"), rb);
    json_array_append_new(json_object_get(rb, "keyids"), json_string("00ff"));
    trepo_add_target(r, "rel", "a/good", "good", 4);
    trepo_add_target(r, "rel", "b/evil", "evil", 4);
    trepo_publish(r, "rel pa pb targets snapshot timestamp");
    struct pawl_tuf_target t;
    struct pawl_tuf_updater *u;
    assert_int_equal(find_target(r, "a/good", &t, &u), 0);
    /* the same updater, same role name, other delegator: verified again */
    assert_int_equal(pawl_tuf_find_target(u, "b/evil", &t), -1);
    pawl_tuf_free(u);
    trepo_free(r);
}

struct mem {
    char buf[256];
    size_t n;
};

static int mem_sink(void *ctx, const uint8_t *p, size_t n)
{
    struct mem *m = ctx;
    if (m->n + n > sizeof m->buf)
        return -1;
    memcpy(m->buf + m->n, p, n);
    m->n += n;
    return 0;
}

static void test_target_download(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_add_target(r, "targets", "dir/fw.bin", "firmware", 8);
    trepo_publish(r, "targets snapshot timestamp");
    struct pawl_tuf_target t;
    struct pawl_tuf_updater *u;
    assert_int_equal(find_target(r, "dir/fw.bin", &t, &u), 0);
    struct mem m = {{0}, 0};
    (void)trepo_requests(r);
    assert_int_equal(pawl_tuf_fetch_target(u, &t, mem_sink, &m), 0);
    assert_int_equal(m.n, 8);
    assert_memory_equal(m.buf, "firmware", 8);
    /* consistent snapshots: dir/<sha256>.fw.bin */
    char want[128];
    snprintf(want, sizeof want, "targets/dir/%s.fw.bin", t.hashes[0].hex);
    assert_string_equal(trepo_requests(r), want);

    /* to a directory: the right file, then cached */
    char dir[] = "/tmp/pawl-tuf-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    bool cached = true;
    assert_int_equal(pawl_tuf_download_target(u, &t, dir, &cached), 0);
    assert_false(cached);
    assert_int_equal(pawl_tuf_download_target(u, &t, dir, &cached), 0);
    assert_true(cached);
    char path[256];
    snprintf(path, sizeof path, "%s/dir%%2Ffw.bin", dir);
    char err[256];
    assert_int_equal(pawl_tuf_check_file(path, &t, err, sizeof err), 0);
    unlink(path);

    /* substituted and overlong artifacts: refused, nothing written */
    static const char *const evil[] = {"malware!", "firmware+more"};
    for (size_t i = 0; i < 2; i++) {
        trepo_serve(r, want + 0, evil[i], strlen(evil[i]));
        m.n = 0;
        assert_int_equal(pawl_tuf_fetch_target(u, &t, mem_sink, &m), -1);
        assert_int_equal(pawl_tuf_download_target(u, &t, dir, &cached), -1);
        DIR *dh = opendir(dir);
        struct dirent *e;
        int files = 0;
        while ((e = readdir(dh)) != NULL)
            files += e->d_name[0] != '.' || strncmp(e->d_name, ".pawl-tuf-", 10) == 0;
        closedir(dh);
        assert_int_equal(files, 0);
    }
    rmdir(dir);
    pawl_tuf_free(u);
    trepo_free(r);
}

static void test_unknown_hash_algorithm(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    trepo_add_target(r, "targets", "f", "data", 4);
    json_t *h = json_object_get(
        json_object_get(json_object_get(trepo_signed(r, "targets"), "targets"), "f"), "hashes");
    json_object_set_new(h, "md5", json_string("00"));
    trepo_publish(r, "targets snapshot timestamp");
    struct pawl_tuf_target t;
    struct pawl_tuf_updater *u;
    assert_int_equal(find_target(r, "f", &t, &u), 0);
    struct mem m = {{0}, 0};
    assert_int_equal(pawl_tuf_fetch_target(u, &t, mem_sink, &m), -1);
    assert_non_null(strstr(pawl_tuf_error(u), "unknown hash"));
    pawl_tuf_free(u);
    trepo_free(r);
}

/* Metadata that must be refused by the parser, with what it says. */
static void test_bad_metadata(void **state)
{
    (void)state;
    static const struct {
        int type;
        const char *doc, *says;
    } cases[] = {
        {1, "{\"signed\":{},\"signed\":{},\"signatures\":[]}", "duplicate"},
        {1,
         "{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"1.0\","
         "\"version\":99999999999999999999,\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{}}}",
         "too big"},
        {1,
         "{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"1.0\","
         "\"version\":\"3\",\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{}}}",
         "must be an integer"},
        {1,
         "{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"1.0\","
         "\"version\":0,\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{}}}",
         "at least 1"},
        {1,
         "{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"2.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{}}}",
         "spec_version"},
        {1,
         "{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-02-30T00:00:00Z\",\"meta\":{}}}",
         "expires"},
        {1,
         "{\"signatures\":[],\"signed\":{\"_type\":\"snapshot\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{}}}",
         "_type"},
        {1,
         "{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{}}}",
         "snapshot.json"},
        {1,
         "{\"signatures\":[{\"keyid\":\"a\",\"sig\":\"\"},{\"keyid\":\"a\",\"sig\":\"\"}],"
         "\"signed\":{}}",
         "signed twice"},
        {0,
         "{\"signatures\":[],\"signed\":{\"_type\":\"root\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"keys\":{},\"roles\":{"
         "\"root\":{\"keyids\":[],\"threshold\":0},\"timestamp\":{\"keyids\":[],\"threshold\":1},"
         "\"snapshot\":{\"keyids\":[],\"threshold\":1},\"targets\":{\"keyids\":[],"
         "\"threshold\":1}}}}",
         "threshold must be at least 1"},
        {0,
         "{\"signatures\":[],\"signed\":{\"_type\":\"root\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"keys\":{},\"roles\":{"
         "\"root\":{\"keyids\":[\"k\",\"k\"],\"threshold\":1}}}}",
         "exactly root"},
        {3,
         "{\"signatures\":[],\"signed\":{\"_type\":\"targets\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"targets\":{\"a\":{\"length\":-1,"
         "\"hashes\":{\"sha256\":\"00\"}}}}}",
         "negative"},
        {3,
         "{\"signatures\":[],\"signed\":{\"_type\":\"targets\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"targets\":{},\"delegations\":{"
         "\"keys\":{},\"roles\":[{\"name\":\"a\",\"keyids\":[],\"threshold\":1,"
         "\"terminating\":false,\"paths\":[],\"path_hash_prefixes\":[]}]}}}",
         "exactly one of paths"},
        {3,
         "{\"signatures\":[],\"signed\":{\"_type\":\"targets\",\"spec_version\":\"1.0\","
         "\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"targets\":{},\"delegations\":{"
         "\"keys\":{},\"roles\":[{\"name\":\"snapshot\",\"keyids\":[],\"threshold\":1,"
         "\"terminating\":false,\"paths\":[]}]}}}",
         "top-level role"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tuf_md md;
        char err[512] = "";
        assert_int_equal(pawl__tuf_parse((const uint8_t *)cases[i].doc, strlen(cases[i].doc),
                                         (enum tuf_type)cases[i].type, "doc", &md, err,
                                         sizeof err),
                         -1);
        if (strstr(err, cases[i].says) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].says);
    }
}

static void test_real_number_in_signed_is_refused(void **state)
{
    (void)state;
    struct trepo *r = ready(true);
    /* the repository could not sign it either: served by hand */
    size_t n;
    const uint8_t *p = trepo_served(r, "timestamp.json", &n);
    json_t *doc = json_loadb((const char *)p, n, 0, NULL);
    json_object_set_new(json_object_get(doc, "signed"), "x-float", json_real(1.5));
    json_integer_set(json_object_get(json_object_get(doc, "signed"), "version"), 2);
    char *text = json_dumps(doc, JSON_COMPACT);
    trepo_serve(r, "timestamp.json", text, strlen(text));
    struct pawl_tuf_updater *u = trepo_updater(r, 0);
    assert_int_equal(pawl_tuf_refresh(u), -1);
    assert_non_null(strstr(pawl_tuf_error(u), "canonical"));
    pawl_tuf_free(u);
    free(text);
    json_decref(doc);
    trepo_free(r);
}

static void test_canonical_json(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"b\":[1,true,null,\"q\\\"\\\\\\u00e9\"],\"a\":{\"z\":-3,\"y\":false}}",
                           0, NULL);
    struct tuf_buf b = {0};
    char err[128];
    assert_int_equal(pawl__tuf_cjson(v, &b, err, sizeof err), 0);
    const char want[] = "{\"a\":{\"y\":false,\"z\":-3},\"b\":[1,true,null,\"q\\\"\\\\\xc3\xa9\"]}";
    assert_int_equal(b.n, sizeof want - 1);
    assert_memory_equal(b.p, want, b.n);
    pawl__tuf_buf_free(&b);
    json_decref(v);
    char q[64];
    assert_int_equal(pawl_tuf_quote("../a b?#~", q, sizeof q), 17);
    assert_string_equal(q, "..%2Fa%20b%3F%23~");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_refresh_requests),
        cmocka_unit_test(test_metadata_stored_as_served),
        cmocka_unit_test(test_root_rotation),
        cmocka_unit_test(test_root_signed_by_old_keys_only),
        cmocka_unit_test(test_root_version_mismatch),
        cmocka_unit_test(test_rollback_timestamp),
        cmocka_unit_test(test_rollback_snapshot_version),
        cmocka_unit_test(test_rollback_targets_in_snapshot),
        cmocka_unit_test(test_freeze),
        cmocka_unit_test(test_freeze_frozen_timestamp),
        cmocka_unit_test(test_mix_and_match),
        cmocka_unit_test(test_endless_and_arbitrary_data),
        cmocka_unit_test(test_fast_forward_recovery),
        cmocka_unit_test(test_threshold_and_duplicate_signatures),
        cmocka_unit_test(test_delegation_order_and_terminating),
        cmocka_unit_test(test_delegation_paths_and_prefixes),
        cmocka_unit_test(test_hash_bins),
        cmocka_unit_test(test_delegation_cycle_and_limit),
        cmocka_unit_test(test_unusual_role_name),
        cmocka_unit_test(test_diamond_verified_per_delegator),
        cmocka_unit_test(test_target_download),
        cmocka_unit_test(test_unknown_hash_algorithm),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_real_number_in_signed_is_refused),
        cmocka_unit_test(test_canonical_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
