#!/usr/bin/env bash
# pawl pki against a real SoftHSM2 token the test initializes: CAs whose keys
# are generated in the token, certificates for vehicles, services and dealer
# tools checked with openssl, bad requests refused with nothing issued,
# vault errors (wrong PIN, missing token, missing key), renewal, revocation
# and the CRL (openssl and a real mosquitto refuse the revoked vehicle),
# SPKI pins, and an Ed25519 CA.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
. "$here/lib_mqtt.sh"
. "$here/lib_softhsm.sh"
cleanup() {
    mqtt_stop
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in openssl mosquitto_pub; do
    command -v $t >/dev/null || fail "$t is not installed (deps/debian-packages.txt)"
done
cd "$tmp"
softhsm_setup "$tmp" pawl-ca pawl-ed
pki() { "$PAWL_BIN" pki "$@"; }
csr() { $py "$here/make_csr.py" "$@"; }
py=/usr/bin/python3
V1=1HGCM82633A004352 V2=5YJ3E1EA7KF317000
verify() { openssl verify -CAfile ca/root.pem -untrusted ca/intermediate.pem "$@" 2>&1 || true; }

# --- the CA: both keys generated in the token ----------------------------------
pki init --dir ca --root-key "pkcs11:token=pawl-ca;object=root" \
    --intermediate-key "pkcs11:token=pawl-ca;object=intermediate" --org "Example OEM" >/dev/null
verify ca/intermediate.pem | grep -q ': OK' || fail "the intermediate does not chain to the root"
openssl x509 -in ca/root.pem -noout -ext basicConstraints | grep -q 'CA:TRUE, pathlen:1' || fail "root constraints"
openssl x509 -in ca/intermediate.pem -noout -ext basicConstraints | grep -q 'CA:TRUE, pathlen:0' ||
    fail "intermediate constraints"
grep -q pin ca/pki.json && fail "pki.json holds a PIN"
mkdir ca2
out=$(pki init --dir ca2 --root-key "pkcs11:token=pawl-ca;object=root" \
    --intermediate-key "pkcs11:token=pawl-ca;object=other" 2>&1) && fail "a second key labelled root was made"
grep -q "already holds a key labelled 'root'" <<<"$out" || fail "reuse of a label: $out"
out=$(pki init --dir ca2 --root-key "pkcs11:token=pawl-ca;object=r2?pin-value=4711" \
    --intermediate-key "pkcs11:token=pawl-ca;object=i2" 2>&1) && fail "a PIN in a stored URI was accepted"
echo "pki: root and intermediate CA made in the token"

# --- issuing ---------------------------------------------------------------------
csr v1.csr v1.key p256 $V1
pki issue --dir ca --csr v1.csr --profile vehicle --out v1.pem >/dev/null
verify -purpose sslclient v1.pem | grep -q ': OK' || fail "the vehicle certificate does not verify: $(verify v1.pem)"
openssl x509 -in v1.pem -noout -subject | grep -qx "subject=CN = $V1" || fail "vehicle subject"
openssl x509 -in v1.pem -noout -checkend $((7 * 86400 + 60)) >/dev/null &&
    fail "a vehicle certificate lives longer than 7 days"
openssl x509 -in v1.pem -noout -checkend $((6 * 86400)) >/dev/null || fail "a vehicle certificate lives less than 6 days"
csr v2.csr v2.key ed25519 $V2
pki issue --dir ca --csr v2.csr --profile vehicle --valid 12h --out v2.pem >/dev/null
verify v2.pem | grep -q ': OK' || fail "an Ed25519 vehicle key was not certified"
csr broker.csr broker.key p256 localhost --dns localhost
pki issue --dir ca --csr broker.csr --profile service --out broker.pem >/dev/null
openssl x509 -in broker.pem -noout -ext subjectAltName,extendedKeyUsage | tr -d '\n ' |
    grep -q 'TLSWebServerAuthentication.*DNS:localhost' || fail "service certificate extensions"
csr dealer.csr dealer.key rsa2048 dealer-tool-17
pki issue --dir ca --csr dealer.csr --profile dealer --valid 8h --out dealer.pem >/dev/null
verify dealer.pem | grep -q ': OK' || fail "dealer certificate"
[ "$(wc -l <ca/index.jsonl)" = 4 ] || fail "the index does not hold the 4 certificates"
echo "pki: vehicle (P-256, Ed25519), service and dealer certificates verify with openssl"

# --- bad requests: a clear error, exit 3, nothing issued ------------------------
refuse() { # expected-message csr-args... (-- profile)
    local want=$1 profile=$2
    shift 2
    csr bad.csr bad.key "$@"
    rm -f bad.pem
    local before out rc=0
    before=$(wc -l <ca/index.jsonl)
    out=$(pki issue --dir ca --csr bad.csr --profile "$profile" --out bad.pem 2>&1) || rc=$?
    [ "$rc" = 3 ] || fail "$* ($profile): exit $rc, not 3: $out"
    grep -q -- "$want" <<<"$out" || fail "$* ($profile): '$out' does not say '$want'"
    grep -q "nothing issued" <<<"$out" || fail "$*: no 'nothing issued'"
    [ ! -e bad.pem ] && [ "$(wc -l <ca/index.jsonl)" = "$before" ] || fail "$*: something was issued"
}
refuse "RSA key of 1024 bits" vehicle rsa1024 $V1
refuse "EC key on secp256k1" vehicle secp256k1 $V1
refuse "is not a VIN" vehicle p256 "1HGCM82633A00435/"
refuse "is not a VIN" vehicle p256 "1HGCM82633A00435+"
refuse "is not a VIN" vehicle p256 "1HGCM82633A00435#"
refuse "is not a VIN" vehicle p256 "1HGCM8263IA004352"
refuse "is not a VIN" vehicle p256 "1HGCM82633A0043521"
refuse "more than one CN" vehicle p256 $V1 --cn2 $V2
refuse "asks for a subjectAltName" vehicle p256 $V1 --dns evil.example.com
refuse "signature does not verify" vehicle p256 $V1 --bad-signature
refuse "is not a host name" service p256 "*.example.com"
refuse "'*.example.com' is not a host name" service p256 api.example.com --dns "*.example.com"
refuse "holds an IP address: only DNS names are issued" service p256 api.example.com --ip 10.0.0.1
refuse "is not a dealer tool id" dealer p256 "dealer/17"
refuse "is not a dealer tool id" dealer p256 "dealer+17"
echo "hello" >notcsr.pem
out=$(pki issue --dir ca --csr notcsr.pem --profile vehicle --out bad.pem 2>&1) && fail "a non-CSR was accepted"
grep -q "not a PEM certificate request" <<<"$out" || fail "non-CSR: $out"
echo "pki: 15 bad requests refused with their reason, nothing issued"

# --- the vault: wrong PIN, missing token, missing key ---------------------------
vault_refuses() { # want env-or-args...
    local want=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" = 3 ] || fail "$*: exit $rc: $out"
    grep -q -- "$want" <<<"$out" || fail "$*: '$out' does not say '$want'"
}
vault_refuses "wrong PIN" env PAWL_PKCS11_PIN=0000 "$PAWL_BIN" pki issue --dir ca --csr v1.csr --profile vehicle --out x.pem
vault_refuses "no PIN" env -u PAWL_PKCS11_PIN "$PAWL_BIN" pki issue --dir ca --csr v1.csr --profile vehicle --out x.pem
vault_refuses "no token matches" pki issue --dir ca --csr v1.csr --profile vehicle --out x.pem \
    --key "pkcs11:token=missing;object=intermediate"
vault_refuses "no key pair labelled 'nope'" pki issue --dir ca --csr v1.csr --profile vehicle --out x.pem \
    --key "pkcs11:token=pawl-ca;object=nope"
vault_refuses "cannot load the PKCS#11 module" env PAWL_PKCS11_MODULE=/nonexistent.so \
    "$PAWL_BIN" pki issue --dir ca --csr v1.csr --profile vehicle --out x.pem
echo "$PAWL_PKCS11_PIN" >pin.txt
PAWL_PKCS11_PIN= pki issue --dir ca --csr v1.csr --profile vehicle --out x.pem \
    --key "pkcs11:token=pawl-ca;object=intermediate?pin-source=file:$tmp/pin.txt" >/dev/null ||
    fail "pin-source= was not read"
[ ! -e x.pem ] || verify x.pem | grep -q ': OK' || fail "pin-source issue"
echo "pki: wrong PIN, no PIN, missing token, key and module refused; pin-source works"

# --- renew, revoke, CRL ---------------------------------------------------------
csr v1b.csr v1b.key p256 $V1
pki renew --dir ca --cert v1.pem --csr v1b.csr --out v1b.pem >/dev/null
verify v1b.pem | grep -q ': OK' || fail "the renewed certificate"
[ "$(openssl x509 -in v1.pem -noout -serial)" != "$(openssl x509 -in v1b.pem -noout -serial)" ] ||
    fail "renewal kept the serial"
out=$(pki renew --dir ca --cert v1.pem --csr v2.csr --out x2.pem 2>&1) && fail "renewed for another VIN"
grep -q "the certificate renewed is for '$V1'" <<<"$out" || fail "renew other VIN: $out"
pki revoke --dir ca --cert v2.pem --reason keyCompromise >/dev/null
out=$(pki revoke --dir ca --cert v2.pem 2>&1) && fail "revoked twice"
grep -q "already revoked" <<<"$out" || fail "double revoke: $out"
out=$(pki revoke --dir ca --serial 1234 2>&1) && fail "revoked an unknown serial"
out=$(pki renew --dir ca --cert v2.pem --csr v2.csr --out x3.pem 2>&1) && fail "renewed a revoked certificate"
pki crl --dir ca --out crl.pem >/dev/null
openssl crl -in crl.pem -noout -text | grep -q "Key Compromise" || fail "the CRL lacks the reason"
verify -crl_check -CRLfile crl.pem v2.pem | grep -q "certificate revoked" || fail "openssl accepted the revoked certificate"
verify -crl_check -CRLfile crl.pem v1b.pem | grep -q ': OK' || fail "the CRL refused a good certificate"
echo "pki: renewed, revoked (twice and unknown refused), the CRL makes openssl refuse the revoked one"

# --- pins -----------------------------------------------------------------------
want="sha256//$(openssl x509 -in broker.pem -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"
[ "$(pki pin broker.pem)" = "$want" ] || fail "pin of a certificate"
[ "$(pki pin broker.csr)" = "$want" ] || fail "pin of a request"
echo "pki: SPKI pins as openssl computes them"

# --- mosquitto with certificates from the vault CA ------------------------------
cat ca/intermediate.pem ca/root.pem >mqtt-ca.pem
cp ca/root.pem rogue-ca.pem
cp crl.pem mqtt-crl.pem
mqtt_start "$tmp"
mq() { # cert key topic
    mosquitto_pub -h localhost -p "$mqtt_port" --cafile mqtt-ca.pem --cert "$1" --key "$2" -q 1 \
        -t "$3" -m '{}' 2>&1
}
mq v1b.pem v1b.key "vehicles/$V1/telemetry" || fail "mosquitto refused the vault-issued vehicle certificate"
out=$(mq v2.pem v2.key "vehicles/$V2/telemetry") && fail "mosquitto accepted the revoked vehicle certificate"
echo "pki: mosquitto accepts the vehicle certificate and refuses the revoked one (CRL)"

# --- an Ed25519 CA --------------------------------------------------------------
pki init --dir ed --key-type ed25519 --root-key "pkcs11:token=pawl-ed;object=root" \
    --intermediate-key "pkcs11:token=pawl-ed;object=intermediate" >/dev/null
pki issue --dir ed --csr v1.csr --profile vehicle --out ed-v1.pem >/dev/null
openssl verify -CAfile ed/root.pem -untrusted ed/intermediate.pem ed-v1.pem | grep -q ': OK' ||
    fail "Ed25519 CA chain"
openssl x509 -in ed/intermediate.pem -noout -text | grep -q "Signature Algorithm: ED25519" || fail "not Ed25519"
pki crl --dir ed --out ed-crl.pem >/dev/null
openssl crl -in ed-crl.pem -CAfile ed/intermediate.pem -noout 2>&1 | grep -q "verify OK" || fail "Ed25519 CRL"
echo "pki: an Ed25519 CA in the token issues and publishes a CRL"
echo "pki: all passed"
