#!/usr/bin/python3
"""Writes a certificate request with exactly the subject and extensions a
pki test asks for (openssl req cannot put '+', '/' or two CNs in a CN), to
check what pawl pki refuses.

usage: make_csr.py OUT.csr KEY.pem KEYTYPE CN [--cn2 CN] [--dns NAME]...
                   [--ip ADDR] [--bad-signature]
KEYTYPE: p256, p384, secp256k1, ed25519, rsa1024, rsa2048; the key is
written to KEY.pem (PKCS#8).
"""
import argparse
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID


def key_of(kind):
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    curve = {"p256": ec.SECP256R1, "p384": ec.SECP384R1, "secp256k1": ec.SECP256K1}[kind]
    return ec.generate_private_key(curve())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("keyfile")
    ap.add_argument("keytype")
    ap.add_argument("cn")
    ap.add_argument("--cn2")
    ap.add_argument("--dns", action="append", default=[])
    ap.add_argument("--ip")
    ap.add_argument("--bad-signature", action="store_true")
    a = ap.parse_args()
    key = key_of(a.keytype)
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, a.cn)]
    if a.cn2:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, a.cn2))
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    names = [x509.DNSName(d) for d in a.dns]
    if a.ip:
        names.append(x509.IPAddress(ipaddress.ip_address(a.ip)))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    csr = b.sign(key, None if a.keytype == "ed25519" else hashes.SHA256())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    if a.bad_signature:
        der[-3] ^= 0x01  # inside the signature value
    with open(a.keyfile, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(a.out, "wb") as f:
        f.write(x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
                if not a.bad_signature else pem_of(bytes(der)))


def pem_of(der):
    import base64
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN CERTIFICATE REQUEST-----\n" + "\n".join(lines) +
            "\n-----END CERTIFICATE REQUEST-----\n").encode()


if __name__ == "__main__":
    main()
