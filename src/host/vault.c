/* vault.c: PKCS#11 keys through p11-kit (URI parsing, module loading). */
#include "vault.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "host.h"

/* DER OIDs for CKA_EC_PARAMS: prime256v1 and id-Ed25519 (RFC 8410) */
static const CK_BYTE P256_PARAMS[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BYTE ED25519_PARAMS[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

struct pawl_vault_key {
    CK_FUNCTION_LIST *m;
    CK_SESSION_HANDLE session;
    bool open, logged_in;
    CK_OBJECT_HANDLE priv;
    enum pawl_vault_type type;
    EVP_PKEY *pub;
};

static void say(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static const char *rv_name(CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT: return "wrong PIN";
    case CKR_PIN_LOCKED: return "PIN locked";
    case CKR_PIN_LEN_RANGE: return "PIN of the wrong length";
    case CKR_USER_PIN_NOT_INITIALIZED: return "the token has no user PIN";
    case CKR_TOKEN_NOT_PRESENT: return "token not present";
    case CKR_MECHANISM_INVALID: return "mechanism not supported by the token";
    case CKR_DEVICE_ERROR: return "device error";
    default: return "PKCS#11 error";
    }
}

/* The PIN the URI or the environment gives; "" when none. */
static int read_pin(P11KitUri *uri, char *pin, size_t cap, char *err, size_t n)
{
    const char *v = p11_kit_uri_get_pin_value(uri), *src = p11_kit_uri_get_pin_source(uri);
    if (v == NULL && src == NULL)
        v = getenv("PAWL_PKCS11_PIN");
    if (v != NULL) {
        if (strlen(v) >= cap)
            return say(err, n, "the PIN is too long"), -1;
        memcpy(pin, v, strlen(v) + 1);
        return 0;
    }
    if (src == NULL) {
        pin[0] = '\0';
        return 0;
    }
    if (strncmp(src, "file:", 5) == 0)
        src += 5;
    size_t len;
    char e[600];
    char *text = pawl_host_slurp(src, cap - 1, &len, e, sizeof e);
    if (text == NULL)
        return say(err, n, "pin-source: %s", e), -1;
    len = strcspn(text, "\r\n");
    memcpy(pin, text, len);
    pin[len] = '\0';
    free(text);
    return 0;
}

/* Loads the module and opens a read-write session on the matching token. */
static int open_token(struct pawl_vault_key *k, P11KitUri *uri, const char *text, char *err, size_t n)
{
    const char *path = p11_kit_uri_get_module_path(uri);
    if (path == NULL)
        path = getenv("PAWL_PKCS11_MODULE");
    if (path == NULL)
        return say(err, n, "%s: no module-path= and no PAWL_PKCS11_MODULE", text), -1;
    if ((k->m = p11_kit_module_load(path, 0)) == NULL)
        return say(err, n, "%s: cannot load the PKCS#11 module: %s", path, p11_kit_message()), -1;
    CK_RV rv = p11_kit_module_initialize(k->m);
    if (rv != CKR_OK) {
        p11_kit_module_release(k->m);
        k->m = NULL;
        return say(err, n, "%s: C_Initialize: %s (0x%lx)", path, rv_name(rv), rv), -1;
    }
    CK_SLOT_ID slots[64];
    CK_ULONG ns = 64;
    if ((rv = k->m->C_GetSlotList(CK_TRUE, slots, &ns)) != CKR_OK)
        return say(err, n, "%s: C_GetSlotList: 0x%lx", path, rv), -1;
    for (CK_ULONG i = 0; i < ns; i++) {
        CK_TOKEN_INFO ti;
        if (k->m->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !p11_kit_uri_match_token_info(uri, &ti))
            continue;
        rv = k->m->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &k->session);
        if (rv != CKR_OK)
            return say(err, n, "%s: C_OpenSession: %s (0x%lx)", text, rv_name(rv), rv), -1;
        k->open = true;
        return 0;
    }
    return say(err, n, "%s: no token matches (%lu present in %s)", text, (unsigned long)ns, path), -1;
}

static int login(struct pawl_vault_key *k, P11KitUri *uri, const char *text, char *err, size_t n)
{
    char pin[256];
    if (read_pin(uri, pin, sizeof pin, err, n) != 0)
        return -1;
    if (pin[0] == '\0')
        return say(err, n, "%s: no PIN (pin-value=, pin-source= or PAWL_PKCS11_PIN)", text), -1;
    CK_RV rv = k->m->C_Login(k->session, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    OPENSSL_cleanse(pin, sizeof pin);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        return say(err, n, "%s: login: %s", text, rv_name(rv)), -1;
    k->logged_in = true;
    return 0;
}

/* Parses the URI, opens its token and logs in. The label is the URI's
 * object= (copied to label, NUL-terminated). */
static struct pawl_vault_key *start(const char *text, P11KitUri **urip, char *label, size_t lcap,
                                    char *err, size_t n)
{
    P11KitUri *uri = p11_kit_uri_new();
    struct pawl_vault_key *k = calloc(1, sizeof *k);
    *urip = uri;
    if (uri == NULL || k == NULL) {
        free(k);
        say(err, n, "out of memory");
        return NULL;
    }
    int r = p11_kit_uri_parse(text, P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE, uri);
    if (r != P11_KIT_URI_OK) {
        say(err, n, "%s: not a PKCS#11 URI (RFC 7512): %s", text, p11_kit_uri_message(r));
        free(k);
        return NULL;
    }
    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    if (a == NULL || a->ulValueLen == 0 || a->ulValueLen >= lcap) {
        say(err, n, "%s: names no key (object=LABEL)", text);
        free(k);
        return NULL;
    }
    memcpy(label, a->pValue, a->ulValueLen);
    label[a->ulValueLen] = '\0';
    if (open_token(k, uri, text, err, n) != 0 || login(k, uri, text, err, n) != 0) {
        pawl_vault_close(k);
        return NULL;
    }
    return k;
}

/* The first object of a class with the label; 0 when none. */
static CK_OBJECT_HANDLE find(struct pawl_vault_key *k, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG got = 0;
    if (k->m->C_FindObjectsInit(k->session, t, 2) != CKR_OK)
        return 0;
    if (k->m->C_FindObjects(k->session, &h, 1, &got) != CKR_OK || got == 0)
        h = 0;
    k->m->C_FindObjectsFinal(k->session);
    return h;
}

/* The raw point of CKA_EC_POINT (a DER OCTET STRING, or raw from some tokens). */
static EVP_PKEY *public_from(struct pawl_vault_key *k, CK_OBJECT_HANDLE pubh)
{
    CK_BYTE pt[160];
    CK_ATTRIBUTE a = {CKA_EC_POINT, pt, sizeof pt};
    if (k->m->C_GetAttributeValue(k->session, pubh, &a, 1) != CKR_OK)
        return NULL;
    const CK_BYTE *p = pt;
    size_t len = a.ulValueLen;
    if (len >= 2 && p[0] == 0x04 && p[1] == len - 2 && (len - 2 == 32 || len - 2 == 65)) {
        p += 2;
        len -= 2;
    }
    if (k->type == PAWL_VAULT_ED25519)
        return len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p, 32) : NULL;
    if (len != 65 || p[0] != 0x04)
        return NULL;
    EVP_PKEY *pk = NULL;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (b && ctx && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, p, 65) &&
        (params = OSSL_PARAM_BLD_to_param(b)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        (void)EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static int load_key(struct pawl_vault_key *k, const char *text, const char *label, char *err, size_t n)
{
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof kt};
    CK_OBJECT_HANDLE pubh = find(k, CKO_PUBLIC_KEY, label);
    k->priv = find(k, CKO_PRIVATE_KEY, label);
    if (k->priv == 0 || pubh == 0)
        return say(err, n, "%s: the token holds no key pair labelled '%s'", text, label), -1;
    if (k->m->C_GetAttributeValue(k->session, k->priv, &a, 1) != CKR_OK)
        return say(err, n, "%s: cannot read the key type", text), -1;
    if (kt == CKK_EC_EDWARDS)
        k->type = PAWL_VAULT_ED25519;
    else if (kt == CKK_EC)
        k->type = PAWL_VAULT_P256;
    else
        return say(err, n, "%s: key type 0x%lx is neither Ed25519 nor EC P-256", text, kt), -1;
    if ((k->pub = public_from(k, pubh)) == NULL)
        return say(err, n, "%s: the public key is not Ed25519 or P-256", text), -1;
    return 0;
}

struct pawl_vault_key *pawl_vault_open(const char *text, char *err, size_t n)
{
    P11KitUri *uri;
    char label[256];
    struct pawl_vault_key *k = start(text, &uri, label, sizeof label, err, n);
    p11_kit_uri_free(uri);
    if (k != NULL && load_key(k, text, label, err, n) != 0) {
        pawl_vault_close(k);
        return NULL;
    }
    return k;
}

struct pawl_vault_key *pawl_vault_generate(const char *text, enum pawl_vault_type type, char *err,
                                           size_t n)
{
    P11KitUri *uri;
    char label[256];
    struct pawl_vault_key *k = start(text, &uri, label, sizeof label, err, n);
    p11_kit_uri_free(uri);
    if (k == NULL)
        return NULL;
    if (find(k, CKO_PRIVATE_KEY, label) != 0 || find(k, CKO_PUBLIC_KEY, label) != 0) {
        say(err, n, "%s: the token already holds a key labelled '%s'", text, label);
        pawl_vault_close(k);
        return NULL;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    bool ed = type == PAWL_VAULT_ED25519;
    CK_MECHANISM mech = {ed ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pubt[] = {
        {CKA_EC_PARAMS, (void *)(uintptr_t)(ed ? ED25519_PARAMS : P256_PARAMS),
         ed ? sizeof ED25519_PARAMS : sizeof P256_PARAMS},
        {CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1}, {CKA_LABEL, label, strlen(label)},
        {CKA_ID, label, strlen(label)},
    };
    CK_ATTRIBUTE privt[] = {
        {CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &yes, 1},
        {CKA_EXTRACTABLE, &no, 1}, {CKA_SIGN, &yes, 1}, {CKA_LABEL, label, strlen(label)},
        {CKA_ID, label, strlen(label)},
    };
    CK_OBJECT_HANDLE pubh, privh;
    CK_RV rv = k->m->C_GenerateKeyPair(k->session, &mech, pubt, 5, privt, 7, &pubh, &privh);
    if (rv != CKR_OK) {
        say(err, n, "%s: generating an %s key: %s (0x%lx)", text, ed ? "Ed25519" : "EC P-256",
            rv_name(rv), rv);
        pawl_vault_close(k);
        return NULL;
    }
    if (load_key(k, text, label, err, n) != 0) {
        pawl_vault_close(k);
        return NULL;
    }
    return k;
}

void pawl_vault_close(struct pawl_vault_key *k)
{
    if (k == NULL)
        return;
    if (k->logged_in)
        k->m->C_Logout(k->session);
    if (k->open)
        k->m->C_CloseSession(k->session);
    if (k->m) {
        p11_kit_module_finalize(k->m);
        p11_kit_module_release(k->m);
    }
    EVP_PKEY_free(k->pub);
    free(k);
}

enum pawl_vault_type pawl_vault_key_type(const struct pawl_vault_key *k)
{
    return k->type;
}

EVP_PKEY *pawl_vault_public(const struct pawl_vault_key *k)
{
    return k->pub;
}

int pawl_vault_sign(struct pawl_vault_key *k, const uint8_t *msg, size_t n, uint8_t sig[64],
                    char *err, size_t errlen)
{
    uint8_t digest[32];
    const uint8_t *data = msg;
    size_t dlen = n;
    if (k->type == PAWL_VAULT_P256) {
        if (EVP_Digest(msg, n, digest, NULL, EVP_sha256(), NULL) != 1)
            return say(err, errlen, "SHA-256 failed"), -1;
        data = digest;
        dlen = sizeof digest;
    }
    CK_MECHANISM mech = {k->type == PAWL_VAULT_ED25519 ? CKM_EDDSA : CKM_ECDSA, NULL, 0};
    CK_ULONG siglen = 64;
    CK_RV rv = k->m->C_SignInit(k->session, &mech, k->priv);
    if (rv == CKR_OK)
        rv = k->m->C_Sign(k->session, (CK_BYTE *)(uintptr_t)data, dlen, sig, &siglen);
    if (rv != CKR_OK || siglen != 64)
        return say(err, errlen, "signing in the token: %s (0x%lx)", rv_name(rv), rv), -1;
    return 0;
}
