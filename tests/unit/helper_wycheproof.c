/* see helper_wycheproof.h */
#include "helper_wycheproof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "util.h"

static json_t *load_vectors(const char *name)
{
    char path[1024];
    const char *shared = getenv("PAWL_SHARED");
    json_error_t je;
    snprintf(path, sizeof path, "%s/vectors/wycheproof/%s", shared && *shared ? shared : "../shared",
             name);
    if (access(path, R_OK) != 0) {
        print_message("SKIPPED: Wycheproof vectors not found at %s (set PAWL_SHARED)\n", path);
        skip();
    }
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL)
        fail_msg("cannot read %s: %s", path, je.text);
    return root;
}

static uint8_t *unhex(json_t *s, size_t *n)
{
    size_t len = json_string_length(s);
    uint8_t *b = malloc(len / 2 + 1);
    assert_non_null(b);
    *n = len / 2;
    assert_int_equal(pawl__unhex(json_string_value(s), len, b, *n), PAWL_OK);
    return b;
}

static EVP_PKEY *group_key(json_t *g)
{
    size_t n;
    uint8_t *der = unhex(json_object_get(g, "publicKeyDer"), &n);
    const uint8_t *p = der;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)n);
    free(der);
    assert_non_null(k);
    return k;
}

void th_wycheproof_run(const char *file, th_wp_group group, th_wp_verify verify, void *ctx)
{
    json_t *root = load_vectors(file);
    size_t gi, ti, count = 0;
    json_t *g, *t;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        EVP_PKEY *k = group_key(g);
        if (group != NULL)
            group(ctx, g, k);
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            size_t mn, sn;
            uint8_t *msg = unhex(json_object_get(t, "msg"), &mn);
            uint8_t *sig = unhex(json_object_get(t, "sig"), &sn);
            const char *want = json_string_value(json_object_get(t, "result"));
            bool ok = verify(ctx, k, msg, mn, sig, sn);
            long long id = (long long)json_integer_value(json_object_get(t, "tcId"));
            if (strcmp(want, "valid") == 0 && !ok)
                fail_msg("%s tcId %lld: valid signature rejected", file, id);
            if (strcmp(want, "invalid") == 0 && ok)
                fail_msg("%s tcId %lld: invalid signature accepted", file, id);
            free(msg);
            free(sig);
            count++;
        }
        EVP_PKEY_free(k);
    }
    assert_int_equal(count, json_integer_value(json_object_get(root, "numberOfTests")));
    json_decref(root);
}
