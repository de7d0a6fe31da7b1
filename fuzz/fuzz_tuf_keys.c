/* libFuzzer driver for the TUF client's key and signature readers
 * (src/edge/tuf_keys.c): PEM SubjectPublicKeyInfo through Nettle's base64
 * decoder and DER iterator, DER ECDSA signatures, RSA public keys, raw
 * Ed25519 keys. Input: one byte picking the key type, the key's "public"
 * text, a NUL, then the signature's bytes (passed as hex). Whatever the
 * input, the check returns, and returns the same answer twice. */
#include <stdlib.h>
#include <string.h>

#include "tuf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[][2] = {{"ed25519", "ed25519"},
                                           {"ecdsa", "ecdsa-sha2-nistp256"},
                                           {"rsa", "rsassa-pss-sha256"}};
    static const uint8_t msg[] = "{\"_type\":\"timestamp\",\"version\":1}";
    if (size < 1 || size > 8192)
        return 0;
    const char *const *t = types[data[0] % 3];
    const uint8_t *nul = memchr(data + 1, 0, size - 1);
    size_t kn = nul ? (size_t)(nul - data - 1) : size - 1;
    size_t sn = nul ? size - 1 - kn - 1 : 0;
    char *pub = strndup((const char *)data + 1, kn);
    char *hex = malloc(2 * sn + 1);
    if (pub == NULL || hex == NULL)
        abort();
    pawl__tuf_hex(nul ? nul + 1 : data, sn, hex);
    json_t *key = json_pack("{s:s, s:s, s:{s:s}}", "keytype", t[0], "scheme", t[1], "keyval",
                            "public", pub);
    if (key != NULL) { /* NULL when pub is not UTF-8 */
        bool a = pawl__tuf_sig_ok(key, hex, msg, sizeof msg - 1);
        if (pawl__tuf_sig_ok(key, hex, msg, sizeof msg - 1) != a)
            abort();
        json_decref(key);
    }
    free(hex);
    free(pub);
    return 0;
}
