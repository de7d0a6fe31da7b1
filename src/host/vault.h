/* vault.h: signing keys that live in a PKCS#11 token (a hardware security
 * module, a smart card, SoftHSM2 in the tests) and never leave it.
 *
 * A key is named by an RFC 7512 URI, e.g.
 *   pkcs11:token=pawl-ca;object=intermediate?module-path=/usr/lib/softhsm/libsofthsm2.so
 * token=, serial=, manufacturer=, model= choose the token; object= (the
 * label) and id= choose the key. The module is module-path= or, when the URI
 * has none, $PAWL_PKCS11_MODULE. The user PIN is pin-value=, else the file
 * named by pin-source= (a path or a file: URI; the first line), else
 * $PAWL_PKCS11_PIN. The module is loaded with p11-kit and called directly
 * (no OpenSSL engine: libp11's crashes on tokens holding Ed25519 keys).
 *
 * Keys are Ed25519 or ECDSA P-256, generated in the token as token objects,
 * private, sensitive and not extractable. Signatures are 64 bytes: Ed25519
 * over the message, or r||s of ECDSA over SHA-256(message). */
#ifndef PAWL_VAULT_H
#define PAWL_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "pawl/common.h"

enum pawl_vault_type { PAWL_VAULT_ED25519, PAWL_VAULT_P256 };

struct pawl_vault_key;

/* Opens the key the URI names. NULL with err ("what: why") when the URI is
 * malformed, the module cannot be loaded, no token matches, the PIN is
 * missing or wrong, or the token holds no such key. */
struct pawl_vault_key *pawl_vault_open(const char *uri, char *err, size_t errlen);

/* Generates a new key pair in the token with the URI's object= as label
 * (refused when the token already holds a key of that label). */
struct pawl_vault_key *pawl_vault_generate(const char *uri, enum pawl_vault_type type, char *err,
                                           size_t errlen);

void pawl_vault_close(struct pawl_vault_key *k);

enum pawl_vault_type pawl_vault_key_type(const struct pawl_vault_key *k);

/* The public half, as an OpenSSL key (owned by k). */
EVP_PKEY *pawl_vault_public(const struct pawl_vault_key *k);

/* Signs msg with the key in the token. 0, or -1 with err set. */
int pawl_vault_sign(struct pawl_vault_key *k, const uint8_t *msg, size_t n, uint8_t sig[64],
                    char *err, size_t errlen);


/* ---- the signers pawl's formats take, over a vault key ----------------------- */

struct pawl_signer;
struct pawl_ota_signer;
struct pawl_diag;

/* Whether a key argument names a vault key rather than a PEM file. */
int pawl_vault_is_uri(const char *s);

/* Command tokens (COMMAND-TOKEN.md): alg and kid from the public key; k
 * must outlive s. */
int pawl_vault_token_signer(struct pawl_vault_key *k, struct pawl_signer *s);

/* TUF/Uptane metadata: ed25519 or ecdsa-sha2-nistp256 (DER signatures).
 * The signer owns k from here on (closed by pawl_ota_signer_clear), also
 * on failure. 0, or -1 with d set. */
int pawl_vault_ota_signer(struct pawl_vault_key *k, struct pawl_ota_signer *s, struct pawl_diag *d);

/* Audit checkpoints (pawl_audit_sign_fn; ctx is an Ed25519 vault key). */
pawl_err pawl_vault_audit_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[64]);

#endif
