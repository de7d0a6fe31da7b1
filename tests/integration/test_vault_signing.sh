#!/usr/bin/env bash
# Signing through the PKCS#11 vault wherever pawl signs, against a SoftHSM2
# token the test initializes: command tokens (pawl token issue, checked by
# pawl vehicle verify), audit checkpoints (pawl audit append, and pawld's
# audit trail, checked by pawl audit verify) and OTA metadata (pawl ota
# repo init, checked by ota_verify.py), each key made by pawl pki keygen.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
. "$here/lib_pawld.sh"
. "$here/lib_softhsm.sh"
cleanup() {
    [ -n "$pawld_pid" ] && kill -9 "$pawld_pid" 2>/dev/null || true
    backend_stop
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
softhsm_setup "$tmp" pawl-keys
uri() { echo "pkcs11:token=pawl-keys;object=$1"; }
pawl() { "$PAWL_BIN" "$@"; }
for k in authority:ed25519 owner:p256 audit:ed25519 ota-root:p256 ota-targets:ed25519; do
    pawl pki keygen --key "$(uri "${k%%:*}")" --key-type "${k#*:}" --out "${k%%:*}.pub" ||
        fail "keygen ${k%%:*}"
done
out=$(pawl pki keygen --key "$(uri authority)" 2>&1) && fail "a second key labelled authority"
pawl pki pubkey --key "$(uri owner)" | cmp -s - owner.pub || fail "pubkey does not print the keygen key"

# --- command tokens --------------------------------------------------------------
V=1HGCM82633A004352
pem_json() { awk 'BEGIN{ORS=""} {printf "%s\\n", $0}' "$1"; }
cat >trust.json <<JSON
{"vin": "$V", "skew_s": 30, "max_lifetime_s": 120,
 "keys": [{"role": "authority", "alg": "EdDSA", "spki_pem": "$(pem_json authority.pub)"},
          {"role": "owner", "alg": "ES256", "spki_pem": "$(pem_json owner.pub)"}],
 "require": {"door.unlock": ["authority", "owner"], "*": ["authority"]}}
JSON
now=$(date +%s)
pawl token issue --key "$(uri authority)" --iss pawl-authority --sub user-42 --vin $V --cmd door.unlock \
    --seq 1 --ttl 60 --out unlock.cbor
pawl token cosign --key "$(uri owner)" unlock.cbor
line=$(pawl vehicle verify --trust trust.json --store store --now "$now" unlock.cbor) ||
    fail "the vehicle refused a token signed in the vault: $line"
grep -q '"verdict":"accept"' <<<"$line" || fail "$line"
pawl token issue --key "$(uri owner)" --iss pawl-authority --sub user-42 --vin $V --cmd door.lock \
    --seq 2 --ttl 60 --out forged.cbor
line=$(pawl vehicle verify --trust trust.json --store store --now "$now" forged.cbor) &&
    fail "a token signed by the owner's key passed as the authority's: $line"
echo "vault signing: command tokens signed and co-signed in the token are accepted by the vehicle"

# --- audit checkpoints ------------------------------------------------------------
for i in $(seq 1 25); do echo "{\"i\":$i}"; done | pawl audit append cli.log --key "$(uri audit)" --every 10
pawl audit verify cli.log --key audit.pub | grep -q "ok: 29 records, last checkpoint seq 28, 0 unsigned" || fail "audit verify: $(pawl audit verify cli.log --key audit.pub)"
openssl genpkey -algorithm ed25519 -out other.pem 2>/dev/null
openssl pkey -in other.pem -pubout -out other.pub
pawl audit verify cli.log --key other.pub >/dev/null 2>&1 && fail "the audit log verified with another key"
out=$(echo '{"i":1}' | pawl audit append x.log --key "$(uri owner)" 2>&1) && fail "a P-256 key signed audit checkpoints"
grep -q "signed with Ed25519" <<<"$out" || fail "P-256 audit key: $out"
echo "vault signing: audit checkpoints signed in the token verify"

# --- pawld's audit trail ----------------------------------------------------------
cp "$PAWL_SRC/examples/policy.yaml" "$PAWL_SRC/examples/jwks.json" "$PAWL_SRC/examples/grants.jsonl" .
backend_start "$tmp"
proxy_port=$(free_port) admin_port=$(free_port)
cat >pawld.yaml <<EOF
$(pawld_yaml_head 1)
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams: {backend: {servers: [http://127.0.0.1:$backend_port]}}
routes: {default: backend}
logs: {json: pawld.log, audit: pawld-audit.log, audit_key: "$(uri audit)"}
EOF
"$PAWLD_BIN" --config pawld.yaml --check | grep -q "configuration OK" || fail "--check with the audit key in the token"
# --check opens the key in the token as the start does (a user review: a
# misspelt label passed --check, then pawld did not start)
sed "s/object=audit/object=audt/" pawld.yaml >bad.yaml
out=$("$PAWLD_BIN" --config bad.yaml --check 2>&1) && fail "--check passed a key the token does not hold: $out"
grep -q "logs.audit_key: .*audt" <<<"$out" || fail "--check did not name the missing key: $out"
sed "s/object=audit/object=owner/" pawld.yaml >bad.yaml # a P-256 key
out=$("$PAWLD_BIN" --config bad.yaml --check 2>&1) && fail "--check passed a P-256 audit key: $out"
grep -q "Ed25519" <<<"$out" || fail "--check on a P-256 audit key: $out"
pawld_start "$tmp/pawld.yaml"
tok=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
for i in $(seq 1 5); do
    curl -s -o /dev/null -H "Authorization: Bearer $tok" "http://127.0.0.1:$proxy_port/api/v1/vehicles/$V/status"
done
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc: $(tail -5 pawld.stderr)"
out=$(pawl audit verify pawld-audit.log --key audit.pub) || fail "pawld's audit trail: $out"
grep -q "ok: 7 records, last checkpoint seq 6, 0 unsigned" <<<"$out" ||
    fail "want 5 decisions between the genesis and a final checkpoint: $out"
echo "vault signing: pawld signs its audit trail in the token ($out)"

# --- OTA metadata -----------------------------------------------------------------
openssl genpkey -algorithm ed25519 -out snap.pem 2>/dev/null
openssl genpkey -algorithm ed25519 -out ts.pem 2>/dev/null
pawl ota repo init --repo repo --root-key "$(uri ota-root)" --targets-key "$(uri ota-targets)" \
    --snapshot-key snap.pem --timestamp-key ts.pem >/dev/null
grep -q "pkcs11:token=pawl-keys;object=ota-root" repo/keys.json || fail "keys.json does not name the vault key"
/usr/bin/python3 "$here/ota_verify.py" repo >verify.txt || fail "ota_verify: $(tail -3 verify.txt)"
echo "vault signing: TUF root (P-256) and targets (Ed25519) signed in the token verify"
echo "vault signing: all passed"
