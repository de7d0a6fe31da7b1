#!/usr/bin/env bash
# The configuration example of docs/gateway.md passes `pawld --check`, with
# every file it names made (the example policy, JWKS, grants and audit key,
# certificates from scripts/gen-certs.sh) and its placeholder upstream host
# (api.internal) on loopback: the page shows what pawld accepts (review: it
# named a route the example policy does not have).
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWLD_BIN:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
awk '/^## Configuration/ {s = 1} s && /^```yaml/ {f = 1; next} f && /^```/ {exit} f' \
    "$PAWL_SRC/docs/gateway.md" >pawld.yaml
grep -q '^listeners:' pawld.yaml || fail "no configuration example found in docs/gateway.md"
grep -q 'https://api.internal:8443' pawld.yaml || fail "the example's upstream changed: update this test"
sed -i 's#https://api.internal:8443#https://localhost:8443#' pawld.yaml
bash "$PAWL_SRC/scripts/gen-certs.sh" c >/dev/null
cp c/server.pem c/server.key .
cp c/ca.pem clients-ca.pem
cp c/crl.pem clients.crl
cp c/ca.pem upstream-ca.pem
cp c/ca.pem mqtt-ca.pem
cp c/client-ota.pem pawl-backend.pem
cp c/client-ota.key pawl-backend.key
cp "$PAWL_SRC/examples/policy.yaml" "$PAWL_SRC/examples/jwks.json" "$PAWL_SRC/examples/grants.jsonl" .
cp "$PAWL_SRC/examples/keys/audit-ed25519.pem" audit.key
mkdir owners
out=$("$PAWLD_BIN" --config pawld.yaml --check 2>&1) || fail "the example of docs/gateway.md: $out"
echo "$out" | grep -q "configuration OK" || fail "--check said: $out"
echo "pawld docs config: the example of docs/gateway.md passes --check ($out)"
