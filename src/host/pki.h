/* pki.h: certificates and CRLs signed by a key in a PKCS#11 vault, and the
 * checks a certificate request must pass before anything is issued.
 *
 * OpenSSL builds every structure; the signature is made in the token over
 * the DER of the to-be-signed part, then checked against the issuer's
 * public key before the result is returned. */
#ifndef PAWL_PKI_H
#define PAWL_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "vault.h"

enum pawl_pki_profile { PAWL_PKI_VEHICLE, PAWL_PKI_SERVICE, PAWL_PKI_DEALER };

#define PAWL_PKI_CN_MAX 254     /* a DNS name's 253 bytes and a NUL */
#define PAWL_PKI_MAX_DNS 8      /* subjectAltName DNS names of a service */
#define PAWL_PKI_PIN_LEN 53     /* "sha256//" + 44 base64 characters + NUL */

/* "vehicle", "service", "dealer"; -1 for anything else. */
int pawl_pki_profile_parse(const char *s);
const char *pawl_pki_profile_name(enum pawl_pki_profile p);

/* ISO 3779 shape: 17 characters of 0-9 and A-Z without I, O and Q. */
bool pawl_pki_vin_ok(const char *s);

/* What a request asks for, once it passed pawl_pki_check_csr. */
struct pawl_pki_request {
    char cn[PAWL_PKI_CN_MAX];
    char dns[PAWL_PKI_MAX_DNS][PAWL_PKI_CN_MAX]; /* services: the CN first */
    size_t ndns;
};

/* A request is accepted only when its self-signature verifies (the
 * requester holds the key), its key is Ed25519, EC P-256 or P-384, or RSA
 * of 2048 to 4096 bits, its subject has exactly one CN that is right for
 * the profile (a VIN for vehicles; a host name without wildcards for
 * services; letters, digits, '.', '_' and '-' for dealer tools, so no '/',
 * '+', '#' or '*' can reach a topic pattern or a name check), and it asks
 * for no extension but, for services, subjectAltName DNS names of the same
 * form. 0, or -1 with err saying what is wrong. */
int pawl_pki_check_csr(X509_REQ *req, enum pawl_pki_profile p, struct pawl_pki_request *out,
                       char *err, size_t n);

/* A certificate to sign. issuer NULL: self-signed (the root). */
struct pawl_pki_cert {
    const X509_NAME *subject;
    EVP_PKEY *pub;
    const X509 *issuer;
    int64_t not_before, not_after; /* seconds since the epoch */
    int ca_pathlen;                /* >= 0: a CA with this path length; -1: an end entity */
    enum pawl_pki_profile profile; /* end entities: the extended key usage */
    const struct pawl_pki_request *names; /* end entities: subjectAltName (services) */
};

/* Builds and signs with k (the issuer's key, or the subject's for a root).
 * NULL with err set. */
X509 *pawl_pki_issue(const struct pawl_pki_cert *c, struct pawl_vault_key *k, char *err, size_t n);

struct pawl_pki_revoked {
    const ASN1_INTEGER *serial;
    int64_t at;
    int reason; /* CRL_REASON_* */
};

/* A CRL by issuer over the revoked list, valid from now until next. */
X509_CRL *pawl_pki_crl(const X509 *issuer, const struct pawl_pki_revoked *r, size_t nr,
                       int64_t now, int64_t next, int64_t number, struct pawl_vault_key *k,
                       char *err, size_t n);

/* "sha256//" + base64 of SHA-256 over the SubjectPublicKeyInfo (the pin
 * form of curl's --pinnedpubkey and of pawl's edge pinning). */
int pawl_pki_pin(EVP_PKEY *pub, char out[PAWL_PKI_PIN_LEN]);

#endif
