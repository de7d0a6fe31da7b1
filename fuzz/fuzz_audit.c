/* libFuzzer driver: the audit verifier fed arbitrary bytes split into lines,
 * plus the standalone checkpoint check on the first line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pawl/audit.h"
#include <openssl/evp.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed Ed25519 key: private seed = bytes 0x00..0x1f. The seed corpus
 * (fuzz/corpus/audit/) was written by `pawl audit append` with this key, as
 * PKCS#8 DER 302e020100300506032b657004220420 || seed, so seeds reach the
 * signature checks. */
static uint8_t pub[PAWL_AUDIT_KEY_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t seed[32];
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)i;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    if (k == NULL || pawl_audit_evp_public(k, pub) != PAWL_OK)
        abort();
    EVP_PKEY_free(k);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pawl_audit_verifier v;
    const char *p = (const char *)data, *end = p + size;
    uint64_t lineno = 0, seq = 0;
    if (pawl_audit_verifier_init(&v, pub) != PAWL_OK)
        abort();
    const char *nl = memchr(p, '\n', size);
    /* a checkpoint is never seq 0 (that is the genesis) */
    if (pawl_audit_check_checkpoint(&v, p, nl ? (size_t)(nl - p) : size, &seq, NULL) == PAWL_OK &&
        seq == 0)
        abort();
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (pawl_audit_verify_line(&v, p, n, ++lineno) != PAWL_OK)
            break;
        p += n + (nl != NULL);
    }
    if (pawl_audit_verify_finish(&v) == PAWL_OK && v.bad.fault != PAWL_AUDIT_OK)
        abort(); /* finish said OK while a record was bad */
    pawl_audit_verifier_free(&v);
    return 0;
}
