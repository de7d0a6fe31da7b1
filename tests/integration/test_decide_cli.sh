#!/usr/bin/env bash
# pawl decide end to end over the shipped examples: every decision, exit
# codes, config errors with positions, and the audit chain it writes.
set -euo pipefail
: "${PAWL_BIN:?}" "${PAWL_SRC:?}"
ex=$PAWL_SRC/examples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
args=(--policy "$ex/policy.yaml" --grants "$ex/grants.jsonl" --jwks "$ex/jwks.json" --telemetry "$ex/telemetry.jsonl")

# 1. Each request gets exactly the decision the scenario was written for.
"$PAWL_BIN" decide "${args[@]}" <"$ex/requests.jsonl" >"$tmp/out.jsonl" 2>"$tmp/err" || fail "decide exited $?"
got=$(grep -o '"disposition":"[a-z_]*"' "$tmp/out.jsonl" | cut -d'"' -f4 | tr '\n' ' ')
want="allowed allowed allowed rate_limited allowed unsafe_vehicle_state allowed step_up_required \
not_your_vehicle forbidden_role step_up_required not_your_vehicle grant_expired unauthenticated \
token_expired token_alg_forbidden token_alg_forbidden token_embedded_key token_bad_signature \
token_wrong_audience bad_path bad_path bad_vin method_not_allowed route_not_found forbidden_role \
vehicle_state_stale bad_request bad_request "
[ "$got" = "$want" ] || fail "dispositions differ:
got:  $got
want: $want"
[ "$(wc -l <"$tmp/out.jsonl")" -eq "$(wc -l <"$ex/requests.jsonl")" ] || fail "one output line per request"
grep -q 'stdin:29:4: invalid JSON' "$tmp/err" || fail "malformed line not reported with its position"
grep -q '29 requests: 5 allowed, 24 denied, 2 malformed' "$tmp/err" || fail "summary: $(cat "$tmp/err")"
if grep -qE 'eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]' "$tmp/out.jsonl"; then fail "a bearer token leaked into the output"; fi
grep -q '"action_id":2' "$tmp/out.jsonl" || fail "no action_id"
head -1 "$tmp/out.jsonl" | grep -q '"actor":{"user":{"uid":"u-1042","type":"User","groups":\[{"name":"owner"}\]}' \
    || fail "actor.user not per the OCSF profile: $(head -1 "$tmp/out.jsonl")"

# 2. Text format and help.
"$PAWL_BIN" decide "${args[@]}" --format text <"$ex/requests.jsonl" >"$tmp/text" 2>/dev/null || fail "text run"
grep -q '^ALLOW 200 GET' "$tmp/text" || fail "text format"
"$PAWL_BIN" decide --help | grep -q 'Exit:' || fail "help"
set +e
"$PAWL_BIN" decide --policy "$ex/policy.yaml" </dev/null 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "missing --grants: exit $rc, want 2"

# 3. Bad configuration: exit 3 with file:line:column.
sed 's/capability: control/capability: drive/' "$ex/policy.yaml" >"$tmp/bad.yaml"
set +e
"$PAWL_BIN" decide --policy "$tmp/bad.yaml" --grants "$ex/grants.jsonl" </dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 3 ] || fail "bad policy: exit $rc, want 3"
grep -qE "bad.yaml:[0-9]+:[0-9]+: capability must be one of" "$tmp/err" || fail "bad policy message: $(cat "$tmp/err")"
printf '{"principal":"x","vin":"nope","role":"owner","since":0}\n' >"$tmp/bad.jsonl"
set +e
"$PAWL_BIN" decide --policy "$ex/policy.yaml" --grants "$tmp/bad.jsonl" </dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 3 ] && grep -q 'bad.jsonl:1: vin: not a VIN' "$tmp/err" || fail "bad grants: exit $rc, $(cat "$tmp/err")"
echo '{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}' >"$tmp/hs.json"
set +e
"$PAWL_BIN" decide --policy "$ex/policy.yaml" --grants "$ex/grants.jsonl" --jwks "$tmp/hs.json" </dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 3 ] || fail "HMAC JWKS accepted: exit $rc"

# 4. The audit chain it writes verifies, and tampering is caught.
openssl genpkey -algorithm ed25519 -out "$tmp/k.pem"
openssl pkey -in "$tmp/k.pem" -pubout -out "$tmp/k.pub"
"$PAWL_BIN" decide "${args[@]}" --audit "$tmp/audit.log" --audit-key "$tmp/k.pem" --checkpoint-every 10 \
    <"$ex/requests.jsonl" >/dev/null 2>&1 || fail "decide with audit"
"$PAWL_BIN" audit verify "$tmp/audit.log" --key "$tmp/k.pub" >/dev/null || fail "audit log does not verify"
[ "$(grep -c '"kind":"decision"' "$tmp/audit.log")" -eq 29 ] || fail "one audit record per decision"
# a JWT's header and payload (base64url, joined by a dot); the checkpoint
# signatures and the key are base64url too, and may hold "eyJ" by chance
if grep -qE 'eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]' "$tmp/audit.log"; then fail "a bearer token leaked into the audit log"; fi
sed -i '2s/"disposition":"allowed"/"disposition":"ALLOWED"/' "$tmp/audit.log"
grep -q ALLOWED "$tmp/audit.log" || fail "tamper step did not change the log"
set +e
"$PAWL_BIN" audit verify "$tmp/audit.log" --key "$tmp/k.pub" >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "tampered audit log: exit $rc, want 1"
echo "test_decide_cli: ok"
