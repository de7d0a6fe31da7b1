/* Wycheproof signature vectors (../shared/vectors/wycheproof), read in place:
 * nothing third-party is copied into the tree. */
#ifndef PAWL_HELPER_WYCHEPROOF_H
#define PAWL_HELPER_WYCHEPROOF_H

#include <stdbool.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "helper_common.h"

/* Verifies sig over msg with k; true for a valid signature. */
typedef bool (*th_wp_verify)(void *ctx, EVP_PKEY *k, const uint8_t *msg, size_t mn,
                             const uint8_t *sig, size_t sn);
/* Optional check of a group's key (e.g. through another parser). */
typedef void (*th_wp_group)(void *ctx, json_t *group, EVP_PKEY *k);

/* Runs every test of the file: "valid" must verify, "invalid" must not
 * ("acceptable" may do either), and all numberOfTests must be seen. When the
 * files are absent (PAWL_SHARED unset and no ../shared) the test is skipped
 * loudly, never passed. */
void th_wycheproof_run(const char *file, th_wp_group group, th_wp_verify verify, void *ctx);

#endif
