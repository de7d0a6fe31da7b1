#!/usr/bin/env bash
# pawl analyze, discovery: a real API's traffic (every operation of the
# crAPI OpenAPI document, called with realistic object ids, as nginx logs)
# must come out as exactly the document's operations; API Activity lines
# from stdin are read too; a vehicle API's risky operations rank first;
# refused lines are named (file:line) and the exit code says so.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
py=/usr/bin/python3
spec=
for d in "${PAWL_SHARED:-}" "$PAWL_SRC/../shared" /work/shared; do
    [ -n "$d" ] && [ -f "$d/data/crapi/crapi-openapi-spec.json" ] && { spec=$d/data/crapi/crapi-openapi-spec.json; break; }
done
[ -n "$spec" ] || fail "the crAPI document (../shared/data/crapi/crapi-openapi-spec.json) is missing"
cd "$tmp"

# 1. crAPI: the inventory's operations are the document's, placeholders aside
$py "$here/crapi_traffic.py" "$spec" crapi.log declared.txt
"$PAWL_BIN" analyze --events crapi.log --inventory inv.json 2>err.txt || fail "analyze: $(cat err.txt)"
$py - inv.json declared.txt <<'PY' || fail "the crAPI inventory does not match the document"
import json, re, sys
inv = json.load(open(sys.argv[1]))
declared = [l.strip() for l in open(sys.argv[2]) if l.strip()]
found = [o["operation"] for o in inv["operations"]]
norm = lambda op: re.sub(r"\{[^}]*\}", "{}", op)
want, got = sorted(norm(o) for o in declared), sorted(norm(o) for o in found)
if want != got:
    print("missing:", sorted(set(want) - set(got)), "\nextra:", sorted(set(got) - set(want)))
    sys.exit(1)
assert inv["events"] == 5 * len(declared) and inv["dropped"] == 0, inv["events"]
print("crAPI:", len(found), "operations, as declared")
PY

# 1b. against the document: a shadow, a zombie, drift, an unused operation
grep -v '/workshop/api/mechanic/signup' crapi.log >crapi2.log
{
    echo '10.9.9.9 - alice [22/Nov/2026:11:00:01 +0000] "GET /identity/api/v2/user/debug-dump HTTP/1.1" 200 10 "-" "x"'
    echo '10.9.9.9 - - [22/Nov/2026:11:00:02 +0000] "POST /identity/api/auth/v1/check-otp HTTP/1.1" 200 10 "-" "x"'
    echo '10.9.9.9 - - [22/Nov/2026:11:00:03 +0000] "GET /identity/api/v2/user/dashboard HTTP/1.1" 200 10 "-" "x"'
    echo '10.9.9.9 - bob [22/Nov/2026:11:00:04 +0000] "GET /workshop/api/shop/orders/12 HTTP/1.1" 500 10 "-" "x"'
} >extra.log
"$PAWL_BIN" analyze --events crapi2.log --events extra.log --openapi "$spec" --inventory spec.json 2>err.txt ||
    fail "analyze --openapi: $(cat err.txt)"
$py - spec.json <<'PY' || fail "the OpenAPI comparison"
import json, sys
inv = json.load(open(sys.argv[1]))
o = inv["openapi"]
assert o["shadow"] == ["GET /identity/api/v2/user/debug-dump"], o["shadow"]
assert o["zombie"] == [{"operation": "POST /identity/api/auth/v1/check-otp", "newer": "/identity/api/auth/v3/check-otp"}], o["zombie"]
assert o["unused"] == ["POST /workshop/api/mechanic/signup"], o["unused"]
why = {(d["operation"], d["why"]) for d in o["drift"]}
assert ("GET /identity/api/v2/user/dashboard", "unauthenticated calls succeed on an operation the document secures") in why
assert ("GET /workshop/api/shop/orders/{int}", "answers 5xx, which the document does not declare") in why
assert all("documented" in op for op in inv["operations"])
print("openapi: 1 shadow, 1 zombie, %d drift, 1 unused, as planted" % len(o["drift"]))
PY
echo '{"openapi": "2.0"}' >bad-spec.json
rc=0
"$PAWL_BIN" analyze --events extra.log --openapi bad-spec.json --inventory x.json 2>err.txt || rc=$?
[ "$rc" = 3 ] && grep -q "not an OpenAPI 3 document" err.txt || fail "a Swagger 2 document: exit $rc, $(cat err.txt)"

# 2. a vehicle API as API Activity lines on stdin
V=1HGCM82633A004352
ev() { # time method path user type code
    local actor=""
    [ -n "$4" ] && actor="\"actor\":{\"user\":{\"uid\":\"$4\",\"type\":\"$5\",\"groups\":[{\"name\":\"owner\"}]}},"
    echo "{\"class_uid\":6003,\"time\":$1,$actor\"http_request\":{\"http_method\":\"$2\",\"url\":{\"path\":\"$3\"}},\"http_response\":{\"code\":$6,\"length\":100}}"
}
{
    for i in $(seq 1 20); do ev $((1000 + i)) GET "/api/v1/vehicles/$V/status" "u-$i" User 200; done
    ev 2000 GET /api/v1/vehicles svc-fleet Service 200
    ev 2001 GET "/api/v1/vehicles/$V/location" u-1 User 200
    ev 2002 POST "/api/v1/vehicles/$V/commands/door.unlock" "" "" 200
    ev 2003 GET /api/v1/health "" "" 200
} | "$PAWL_BIN" analyze --events - --inventory veh.json 2>err.txt || fail "analyze stdin: $(cat err.txt)"
$py - veh.json <<'PY' || fail "vehicle API ranking"
import json, sys
ops = json.load(open(sys.argv[1]))["operations"]
names = [o["operation"] for o in ops]
assert names[0] == "POST /api/v1/vehicles/{vin}/commands/door.unlock", names
top = ops[0]["risk"]
assert top["score"] == 10 and top["parts"]["auth"]["why"] == "unauthenticated calls succeed", top
assert names[-1] in ("GET /api/v1/health", "GET /api/v1/vehicles"), names
status = [o for o in ops if o["operation"] == "GET /api/v1/vehicles/{vin}/status"][0]
assert status["count"] == 20 and 19 <= status["principals"] <= 21, status
print("vehicle API: unauthenticated door.unlock first (10/10), status read by", status["principals"], "principals")
PY

# 3. refused lines: named, counted, exit 3, the rest still analysed
printf '%s\n' "$(ev 1 GET /a u User 200)" 'not a log line' '{"class_uid":6003,"time":1}' "$(ev 2 GET /b u User 200)" >mixed.log
rc=0
"$PAWL_BIN" analyze --events mixed.log --inventory mixed.json 2>err.txt || rc=$?
[ "$rc" = 3 ] || fail "refused lines: exit $rc"
grep -q "mixed.log:2: not an nginx combined log line" err.txt || fail "line 2 not named: $(cat err.txt)"
grep -q "mixed.log:3: time (ms) and http_response.code" err.txt || fail "line 3 not named: $(cat err.txt)"
grep -q "2 events, 2 operations, 0 findings, 2 lines refused" err.txt || fail "summary: $(cat err.txt)"
rc=0
"$PAWL_BIN" analyze --events nosuch.log --inventory x.json 2>/dev/null || rc=$?
[ "$rc" = 3 ] || fail "missing input: exit $rc"
echo "analyze: crAPI inventory as declared, vehicle API ranked, bad lines named"
