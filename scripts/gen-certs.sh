#!/usr/bin/env bash
# A local PKI for the pawld demo and the gateway's integration tests, made
# with the OpenSSL command line: ECDSA P-256, SHA-256, 30 days. DEMO KEYS:
# never use them for anything else. Regenerates everything in DIR.
#
# usage: gen-certs.sh DIR
#   ca.pem ca.key                  root "CN=pawl demo CA"
#   server.pem server.key          pawld: DNS:localhost, IP:127.0.0.1, serverAuth
#   upstream.pem upstream.key      the example backend's HTTPS, same names
#   client-ota.pem/.key            CN=ota-orchestrator,O=Example OEM (examples/policy.yaml)
#   client-unknown.pem/.key        CN=unknown-tool,O=Example OEM (valid, not in the policy)
#   client-revoked.pem/.key        CN=revoked-tool,O=Example OEM, revoked in crl.pem
#   crl.pem                        the CA's CRL, next update in 30 days
#   rogue-ca.pem rogue-ca.key      another CA with the same name as ours
#   client-rogue.pem/.key          CN=ota-orchestrator,O=Example OEM from the rogue CA
# Client certificates carry clientAuth. Keys are mode 0600.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077

cat >"$tmp/x509.cnf" <<'CNF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

# ca NAME: a self-signed root NAME.pem / NAME.key
ca() {
    openssl req -x509 -config "$tmp/x509.cnf" -extensions ca -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout "$dir/$1.key" -out "$dir/$1.pem" \
        -subj "/CN=pawl demo CA" -sha256 -days 30 2>/dev/null
}

# leaf NAME PROFILE SUBJECT [CA]: NAME.pem / NAME.key issued by CA (default ca)
leaf() {
    local issuer=${4:-ca}
    openssl req -new -config "$tmp/x509.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -noenc -keyout "$dir/$1.key" -out "$tmp/$1.csr" -subj "$3" 2>/dev/null
    openssl x509 -req -in "$tmp/$1.csr" -CA "$dir/$issuer.pem" -CAkey "$dir/$issuer.key" \
        -extfile "$tmp/x509.cnf" -extensions "$2" -sha256 -days 30 -out "$dir/$1.pem" 2>/dev/null
}

ca ca
leaf server server "/CN=localhost"
leaf upstream server "/CN=localhost"
leaf client-ota client "/O=Example OEM/CN=ota-orchestrator"
leaf client-unknown client "/O=Example OEM/CN=unknown-tool"
leaf client-revoked client "/O=Example OEM/CN=revoked-tool"
ca rogue-ca
leaf client-rogue client "/O=Example OEM/CN=ota-orchestrator" rogue-ca

# The CRL: a throw-away `openssl ca` database holding the one revocation.
cat >"$tmp/ca.cnf" <<CNF
[ca]
default_ca = pawl
[pawl]
database = $tmp/index.txt
crlnumber = $tmp/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 30
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
CNF
: >"$tmp/index.txt"
echo 01 >"$tmp/crlnumber"
openssl ca -config "$tmp/ca.cnf" -revoke "$dir/client-revoked.pem" \
    -crl_reason keyCompromise 2>/dev/null
openssl ca -config "$tmp/ca.cnf" -gencrl -out "$dir/crl.pem" 2>/dev/null

chmod 644 "$dir"/*.pem
echo "certificates in $dir"
