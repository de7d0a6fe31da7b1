#!/usr/bin/env bash
# Set up, build and run pawl's main job: see README.md ("Run it").
#
# Starts pawld (TLS, optional client certificates, the example policy) in
# front of the example vehicle backend, with a CA and certificates made
# here; sends requests that pawld allows and requests it denies; prints how
# to try it with curl; keeps serving until Ctrl-C (or exits at once with
# --once), then verifies the signed audit trail pawld wrote.
#   bash scripts/demo.sh [--once]
# Ports: 8443 (pawld), 9901 (admin), 9000 (authz), 8080 (backend).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
once=false
[ "${1:-}" = "--once" ] && once=true
bash scripts/setup.sh
echo "building pawl and pawld (release)..."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPAWL_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target pawl_cli pawld >/dev/null
pawl=$root/build/release/pawl
pawld=$root/build/release/pawld
py=/usr/bin/python3
[ -x $py ] || py=python3

for port in 8443 9901 9000 8080; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "demo: port $port is in use on 127.0.0.1; stop what listens there first" >&2
        exit 1
    fi
done

# A working directory with the configuration, its inputs and certificates.
work=$root/out/demo
rm -rf "$work"
mkdir -p "$work/keys"
cp examples/pawld.yaml examples/policy.yaml examples/jwks.json examples/grants.jsonl "$work/"
cp examples/keys/audit-ed25519.pem "$work/keys/"
chmod 600 "$work/keys/audit-ed25519.pem" # a signing key: its owner's alone (pawld warns otherwise)
# the example dealer grants are from 2025 and have ended: a current one
now_ms=$(($(date +%s) * 1000))
echo '{"principal": "dealer-tool-17", "vin": "1HGCM82633A004352", "role": "dealer", "since": '$((now_ms - 3600000))', "until": '$((now_ms + 86400000))', "org": "dealer-17"}' >>"$work/grants.jsonl"
bash scripts/gen-certs.sh "$work/certs" >/dev/null
# the owner's key (their phone's) and the trust policy pawld holds for the car
mkdir -p "$work/owners"
openssl genpkey -algorithm ed25519 -out "$work/keys/owner.pem" 2>/dev/null
$py - "$(openssl pkey -in "$work/keys/owner.pem" -pubout)" >"$work/owners/1HGCM82633A004352.json" <<'PY'
import json, sys
print(json.dumps({"vin": "1HGCM82633A004352", "keys": [{"role": "owner", "alg": "EdDSA",
                  "spki_pem": sys.argv[1] + "\n"}], "require": {"*": ["owner"]}}))
PY
"$pawld" --config "$work/pawld.yaml" --check

backend_pid= pawld_pid=
stop() {
    [ -n "$pawld_pid" ] && kill -TERM "$pawld_pid" 2>/dev/null && wait "$pawld_pid" 2>/dev/null
    [ -n "$backend_pid" ] && kill "$backend_pid" 2>/dev/null && wait "$backend_pid" 2>/dev/null
    pawld_pid= backend_pid=
}
trap stop EXIT
$py examples/backend/vehicle-backend.py --listen 127.0.0.1:8080 --record "$work/backend.jsonl" &
backend_pid=$!
touch "$work/backend.jsonl"
"$pawld" --config "$work/pawld.yaml" 2>"$work/pawld.stderr" &
pawld_pid=$!
for _ in $(seq 100); do
    curl -fs http://127.0.0.1:9901/readyz >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fs http://127.0.0.1:9901/readyz >/dev/null || { echo "pawld did not start:"; cat "$work/pawld.stderr"; exit 1; }

jwt() { bash scripts/mint-jwt.sh "$@"; }
owner=$(jwt u-1042 '["owner"]')
stranger=$(jwt u-6666 '["owner"]')
dealer=$(jwt dealer-tool-17 '["dealer"]' dealer-17)
none=$(printf '%s.%s.' "$(printf '{"alg":"none"}' | basenc --base64url -w0 | tr -d '=')" \
    "$(printf '{"sub":"u-1042","roles":["owner"]}' | basenc --base64url -w0 | tr -d '=')")
B=https://localhost:8443
V=/api/v1/vehicles/1HGCM82633A004352
C=(--cacert "$work/certs/ca.pem")
try() { # label, curl arguments...
    local label=$1 code reason
    shift
    code=$(curl -s -o "$work/answer.json" -w '%{http_code}' "${C[@]}" "$@")
    reason=$(grep -o '"reason":"[a-z_]*"' "$work/answer.json" | cut -d'"' -f4 || true)
    printf '  %-58s %s %s\n' "$label" "$code" "${reason:-(from the backend)}"
}
echo
echo "pawld is serving https://localhost:8443 in front of the backend on :8080."
echo "Requests and pawld's answers:"
try "owner reads their car's status" "$B$V/status" -H "Authorization: Bearer $owner"
try "owner locks their car" -X POST "$B$V/commands/door.lock" -H "Authorization: Bearer $owner"
try "OTA service with its client certificate" "$B/api/v1/ota/campaigns" \
    --cert "$work/certs/client-ota.pem" --key "$work/certs/client-ota.key"
try "no credential" "$B$V/status"
try "a token with alg none" "$B$V/status" -H "Authorization: Bearer $none"
try "another owner reads this car (the VIN is not a credential)" "$B$V/status" -H "Authorization: Bearer $stranger"
try "unlock while the car's state is unknown (fails closed)" -X POST "$B$V/commands/door.unlock" -H "Authorization: Bearer $owner"
try "path traversal to the admin API" "$B$V/..%2F..%2Fadmin/users/u-1" -H "Authorization: Bearer $owner"
try "dealer pulls key codes without the owner's co-signature" "$B/api/v1/dealer/vehicles/1HGCM82633A004352/key-codes" \
    -H "Authorization: Bearer $dealer"
cosigned=$("$pawl" token issue --key "$work/keys/owner.pem" --iss owner-app --sub u-1042 \
    --vin 1HGCM82633A004352 --cmd dealer.key-codes --seq 1 --ttl 60 | basenc --base64url -w0 | tr -d '=')
try "dealer pulls key codes with the owner's co-signed token" "$B/api/v1/dealer/vehicles/1HGCM82633A004352/key-codes" \
    -H "Authorization: Bearer $dealer" -H "X-Pawl-Command-Token: $cosigned"
try "... and replays the same token" "$B/api/v1/dealer/vehicles/1HGCM82633A004352/key-codes" \
    -H "Authorization: Bearer $dealer" -H "X-Pawl-Command-Token: $cosigned"
try "request smuggling: Content-Length and Transfer-Encoding" -X POST "$B$V/commands/door.lock" \
    -H "Authorization: Bearer $owner" -H 'Transfer-Encoding: chunked' -H 'Content-Length: 3' --data-binary 'abc'
echo
echo "The backend received $(wc -l <"$work/backend.jsonl") requests: only the allowed ones."
echo "Metrics: $(curl -s http://127.0.0.1:9901/metrics | grep -c '^pawld_requests_total') request counters at http://127.0.0.1:9901/metrics"
$once || cat <<EOF

Try it yourself while pawld runs (tokens expire in an hour):
  TOKEN=\$(bash scripts/mint-jwt.sh u-1042 '["owner"]')
  curl --cacert $work/certs/ca.pem -H "Authorization: Bearer \$TOKEN" $B$V/status
  curl --cacert $work/certs/ca.pem --cert $work/certs/client-ota.pem --key $work/certs/client-ota.key $B/api/v1/ota/campaigns
  curl http://127.0.0.1:9901/metrics
Logs in $work: pawld.log (JSON), events.jsonl (OCSF), audit.log (hash chain).
EOF
if ! $once; then
    echo
    echo "pawld keeps serving; press Ctrl-C to stop it and verify the audit trail."
    trap 'echo' INT
    wait "$pawld_pid" || true
fi
stop
trap - EXIT
echo
openssl pkey -in "$work/keys/audit-ed25519.pem" -pubout -out "$work/keys/audit.pub.pem" 2>/dev/null
"$pawl" audit verify "$work/audit.log" --key "$work/keys/audit.pub.pem"
echo
echo "Offline, the same core decides logged requests: $pawl decide --policy examples/policy.yaml --grants examples/grants.jsonl --jwks examples/jwks.json --telemetry examples/telemetry.jsonl --format text < examples/requests.jsonl"
