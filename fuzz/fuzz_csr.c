/* libFuzzer driver for pawl pki's request checks (pawl_pki_check_csr):
 * DER from the fuzzer, parsed by OpenSSL, checked for each profile. A
 * refusal always says why; an accepted request has a CN right for its
 * profile and at most PAWL_PKI_MAX_DNS host names. */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)size);
    if (req == NULL)
        return 0;
    for (int prof = 0; prof < 3; prof++) {
        struct pawl_pki_request rq;
        char err[300] = "";
        if (pawl_pki_check_csr(req, (enum pawl_pki_profile)prof, &rq, err, sizeof err) != 0) {
            if (err[0] == '\0')
                abort();
            continue;
        }
        if (rq.ndns > PAWL_PKI_MAX_DNS || strlen(rq.cn) == 0 ||
            (prof == PAWL_PKI_VEHICLE && !pawl_pki_vin_ok(rq.cn)) || strpbrk(rq.cn, "/+#*") != NULL)
            abort();
    }
    X509_REQ_free(req);
    return 0;
}
