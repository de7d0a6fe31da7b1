#!/usr/bin/env bash
# pawld blocks on findings (detect.block): a principal caught walking
# consecutive VINs is refused on its own car afterwards, and a token used
# from six client addresses behind nginx auth_request (X-Real-IP) is
# refused from then on; other principals are not touched; blocked requests
# never reach the backend. The blocks are listed and lifted on the admin
# listener, survive a restart (detect.state), and a damaged state file
# stops pawld with an error naming it.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
example_setup
proxy_port=$(free_port) authz_port=$(free_port) admin_port=$(free_port)
cat >pawld.yaml <<EOF2
$(pawld_yaml_head 2)
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy}
  - {name: authz, listen: 127.0.0.1:$authz_port, mode: authz, authz: {flavor: nginx}}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams: {backend: {servers: [http://127.0.0.1:$backend_port]}}
routes: {default: backend}
logs: {json: pawld.log, ocsf: events.jsonl, findings: findings.jsonl}
detect: {block: [enumeration, token_many_addresses], block_for: 1h, state: detect.state}
EOF2
pawld_start "$tmp/pawld.yaml"
owner=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
fleet=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" fleet-ops-7 '["fleet_manager"]')
own=1HGCM82633A004352 fleet_car=WVWZZZ1JZXW000001
get() { # TOKEN VIN -> status; the body in body.json
    curl -s -o body.json -w '%{http_code}' -H "Authorization: Bearer $1" \
        "http://127.0.0.1:$proxy_port/api/v1/vehicles/$2/status"
}
authz() { # TOKEN VIN CLIENT-IP -> status of the auth_request check
    curl -s -o body.json -w '%{http_code}' -H "Authorization: Bearer $1" -H "X-Original-Method: GET" \
        -H "X-Original-URI: /api/v1/vehicles/$2/status" -H "X-Real-IP: $3" "http://127.0.0.1:$authz_port/auth"
}
[ "$(get "$owner" $own)" = 200 ] || fail "the owner's own car before: $(cat body.json)"
[ "$(get "$fleet" $fleet_car)" = 200 ] || fail "the fleet manager's car before: $(cat body.json)"

# 1. u-1042 walks consecutive VIN serials: refused by the policy, found by enumeration
vins=$(consecutive_vins 10)
for v in $vins; do
    code=$(get "$owner" "$v")
    [ "$code" = 403 ] && grep -q not_your_vehicle body.json || fail "another car's VIN: $code $(cat body.json)"
done
for _ in $(seq 50); do grep -q '"msg":"blocked"' pawld.log && break; sleep 0.1; done
grep '"msg":"blocked"' pawld.log | grep -q '"principal":"u-1042","detector":"enumeration"' ||
    fail "no block logged: $(cat pawld.log)"
before=$(recorded)
code=$(get "$owner" $own)
[ "$code" = 403 ] && grep -q '"reason":"blocked_by_detector"' body.json || fail "blocked owner: $code $(cat body.json)"
grep -q enumeration body.json && fail "the answer names the detector: $(cat body.json)"
[ "$(recorded)" = "$before" ] || fail "a blocked request reached the backend"
[ "$(get "$fleet" $fleet_car)" = 200 ] || fail "another principal was blocked too: $(cat body.json)"
[ "$(authz "$owner" $own 192.0.2.1)" = 403 ] && grep -q blocked_by_detector body.json ||
    fail "the block does not hold behind nginx: $(cat body.json)"

# 2. behind nginx, fleet-ops-7's token from five more client addresses
# (six in the hour with 127.0.0.1 above: the finding comes with the sixth)
codes=
for i in $(seq 1 8); do codes="$codes $(authz "$fleet" $fleet_car "198.51.100.$i")"; done
[ "$codes" = " 200 200 200 200 200 403 403 403" ] ||
    fail "token from many addresses: codes$codes (want 5 allowed, then blocked)"
grep -q blocked_by_detector body.json || fail "the last check: $(cat body.json)"
$py - events.jsonl <<'PY' || fail "OCSF events do not carry the client address from X-Real-IP"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
e = [x for x in ev if x["src_endpoint"]["ip"] == "198.51.100.8"]
assert e and "port" not in e[0]["src_endpoint"] and e[0]["disposition"] == "blocked_by_detector", e
PY
curl -fs "http://127.0.0.1:$admin_port/blocks" >blocks.json || fail "GET /blocks"
$py - blocks.json <<'PY' || fail "GET /blocks: $(cat blocks.json)"
import json, sys
b = {(x["kind"], x["subject"]): x for x in json.load(open(sys.argv[1]))["blocks"]}
assert set(b) == {("principal", "u-1042"), ("principal", "fleet-ops-7")}, b
assert b[("principal", "u-1042")]["detector"] == "enumeration"
assert b[("principal", "fleet-ops-7")]["detector"] == "token_many_addresses"
x = b[("principal", "u-1042")]
assert 3590000 <= x["until"] - x["since"] <= 3660000 and x["findings"] >= 1, x  # repeats extend it
PY

# 3. a crash keeps the blocks: detect.state is saved within a moment of a
# block, not only each minute and at stop
for _ in $(seq 30); do [ -s detect.state ] && break; sleep 0.1; done
sleep 0.3 # the second block's save, a moment after the first
kill -KILL "$pawld_pid"
wait "$pawld_pid" 2>/dev/null || true
pawld_pid=
pawld_start "$tmp/pawld.yaml"
grep -q '"msg":"detector state read","blocks":2' pawld.log || fail "blocks lost in a crash: $(tail -3 pawld.log)"
# and so does a restart (detect.state written at stop)
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc: $(tail -5 pawld.stderr)"
[ -s detect.state ] || fail "no detect.state written on stop"
[ "$(stat -c %a detect.state)" = 600 ] || fail "detect.state is mode $(stat -c %a detect.state), not 600 (it names principals and addresses)"
# --check reads the state as the start does: with detect.max_blocks below the
# live blocks, the start would fail, so --check does
sed 's/state: detect.state}/state: detect.state, max_blocks: 1}/' pawld.yaml >small.yaml
if "$PAWLD_BIN" --config small.yaml --check >check.out 2>&1; then fail "--check passed 2 blocks with max_blocks 1"; fi
grep -q "detect.state: .*2 blocks, more than the limit of 1" check.out || fail "--check, max_blocks: $(cat check.out)"
pawld_start "$tmp/pawld.yaml"
[ "$(grep -c '"msg":"detector state read","blocks":2' pawld.log)" = 2 ] || fail "state not read: $(tail -3 pawld.log)"
[ "$(get "$owner" $own)" = 403 ] && grep -q blocked_by_detector body.json || fail "block lost in a restart"

# 4. an operator lifts a block on the admin listener
adm() { curl -s -o adm.json -w '%{http_code}' -X "$1" "http://127.0.0.1:$admin_port$2"; }
[ "$(adm DELETE '/blocks?principal=u-1042')" = 200 ] && grep -q '"lifted":true' adm.json || fail "lift: $(cat adm.json)"
[ "$(get "$owner" $own)" = 200 ] || fail "the owner after the block was lifted: $(cat body.json)"
# walking VINs again, within the detector's 6-hour cooldown: no second
# finding is written, but the block comes back
nf=$(wc -l <findings.jsonl)
for v in $vins; do get "$owner" "$v" >/dev/null; done
[ "$(get "$owner" $own)" = 403 ] && grep -q blocked_by_detector body.json || fail "no block on a repeat: $(cat body.json)"
[ "$(wc -l <findings.jsonl)" = "$nf" ] || fail "a repeat within the cooldown was written as a finding"
[ "$(adm DELETE '/blocks?principal=u-1042')" = 200 ] || fail "lift again: $(cat adm.json)"
[ "$(adm DELETE '/blocks?principal=u-1042')" = 404 ] || fail "lifting twice: $(cat adm.json)"
[ "$(adm DELETE '/blocks?principal=fleet%2Dops%2D7')" = 200 ] || fail "percent-encoded lift: $(cat adm.json)"
[ "$(adm DELETE '/blocks?who=u-1042')" = 400 ] || fail "bad query: $(cat adm.json)"
[ "$(adm DELETE '/blocks?principal=%zz')" = 400 ] || fail "bad escape: $(cat adm.json)"
[ "$(adm POST '/blocks')" = 405 ] || fail "POST /blocks: $(cat adm.json)"
[ "$(adm DELETE "/blocks?principal=$(printf 'a%.0s' $(seq 600))")" = 400 ] || fail "an over-long subject: $(cat adm.json)"
[ "$(adm DELETE "/blocks?principal=$(printf 'a%.0s' $(seq 512))")" = 404 ] || fail "the longest subject: $(cat adm.json)"
grep -q '"msg":"block lifted by the admin listener","principal":"fleet-ops-7"' pawld.log || fail "lift not logged"

# a reload keeps the block list's limit and file, and says so
sed -i 's/state: detect.state}/state: detect.state, max_blocks: 50}/' pawld.yaml
kill -HUP "$pawld_pid"
for _ in $(seq 50); do grep -q '"reloaded","generation":2' pawld.log && break; sleep 0.1; done
grep -q '"msg":"detect.max_blocks: read at start only' pawld.log || fail "a reload changing detect.max_blocks: $(tail -3 pawld.log)"

# 5. a damaged state file: pawld says which file and does not start
pawld_stop
cp detect.state good.state
"$PAWLD_BIN" --config pawld.yaml --check >/dev/null || fail "--check refused the state pawld wrote"
printf 'x' >>detect.state # bytes after the block list
if timeout 10 "$PAWLD_BIN" --config pawld.yaml 2>start.err; then fail "pawld started on a state file with trailing bytes"; fi
grep -q "detect.state: bytes after the block list" start.err || fail "trailing bytes: $(cat start.err)"
# --check reads it as the start does: a configuration it passes starts
if "$PAWLD_BIN" --config pawld.yaml --check >check.out 2>&1; then fail "--check passed a damaged state file"; fi
grep -q "detect.state: bytes after the block list" check.out || fail "--check, trailing bytes: $(cat check.out)"
# cut just before its block list (the tables whole): refused, not loaded without the blocks
cut=$($py -c "import sys; print(open(sys.argv[1], 'rb').read().rfind(b'PAWLBLK1'))" good.state)
[ "$cut" -gt 0 ] || fail "no block list in the state file"
head -c "$cut" good.state >detect.state
if timeout 10 "$PAWLD_BIN" --config pawld.yaml 2>start.err; then fail "pawld started on a state file cut before its blocks"; fi
grep -q "detect.state: no block list" start.err || fail "cut before the blocks: $(cat start.err)"
head -c 100 good.state >detect.state
if timeout 10 "$PAWLD_BIN" --config pawld.yaml 2>start.err; then fail "pawld started on a damaged state file"; fi
grep -q "detect.state" start.err || fail "the error does not name the file: $(cat start.err)"
echo "pawld block: findings block principals (proxy and auth_request), kept across a restart, lifted by the admin"
