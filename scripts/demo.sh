#!/usr/bin/env bash
# Set up, build and run pawl's main job: see README.md ("Run it").
# For now the main job is the decision core over the shipped example policy,
# grants, telemetry and requests: it prints each decision and a summary, writes
# a signed audit trail, and verifies it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPAWL_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target pawl_cli >/dev/null
pawl=build/release/pawl
out=$(mktemp -d)
ex=examples
echo "pawl decide over $ex/requests.jsonl (policy $ex/policy.yaml, grants, JWKS, telemetry):"
echo
"$pawl" decide --policy $ex/policy.yaml --grants $ex/grants.jsonl --jwks $ex/jwks.json \
    --telemetry $ex/telemetry.jsonl --format text \
    --audit "$out/audit.log" --audit-key $ex/keys/audit-ed25519.pem --checkpoint-every 10 \
    <$ex/requests.jsonl
echo
echo "audit trail: $out/audit.log"
"$pawl" audit verify "$out/audit.log" --key $ex/keys/audit-ed25519.pub.pem
echo
echo "OCSF output: $pawl decide --policy $ex/policy.yaml --grants $ex/grants.jsonl --jwks $ex/jwks.json --telemetry $ex/telemetry.jsonl < $ex/requests.jsonl"
