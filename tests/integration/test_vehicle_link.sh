#!/usr/bin/env bash
# pawld's vehicle link: telemetry a vehicle publishes over MQTT (mosquitto
# on loopback, mutual TLS, pawl's ACL) feeds the twin the decisions read.
# door.unlock is stationary-only in the example policy: refused while the
# state is unknown, allowed once the car reports standing still, refused when
# it reports driving; an implausible line (from the future, a speed jump)
# and a line another car's certificate tries to publish change nothing; nor
# does a line on a topic whose VIN is not one (a certificate from a CA that,
# unlike pawl pki, lets any CN through), and the JSON log stays JSON.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
. "$here/lib_pawld.sh"
. "$here/lib_mqtt.sh"
cleanup() {
    [ -n "$pawld_pid" ] && kill -9 "$pawld_pid" 2>/dev/null || true
    backend_stop
    mqtt_stop
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
mqtt_certs "$tmp"
notvin='AB","evil":"12345' # 17 characters, as a VIN has
_mqtt_leaf "$tmp" mqtt-ca "$notvin"
mqtt_start "$tmp"
backend_start "$tmp"
cp "$PAWL_SRC/examples/policy.yaml" "$PAWL_SRC/examples/jwks.json" "$PAWL_SRC/examples/grants.jsonl" .
# this test is about the twin: door.unlock's rate limits are raised so that
# polling for a telemetry line to land does not run into them
sed -i -e 's/principal_route: {rate: 10, per: 1m, burst: 3}/principal_route: {rate: 600, per: 1m, burst: 100}/' \
    -e 's/vin_command: {rate: 6, per: 1m, burst: 2}/vin_command: {rate: 600, per: 1m, burst: 100}/' policy.yaml
grep -q 'vin_command: {rate: 600' policy.yaml || fail "could not raise the unlock rate limits"
proxy_port=$(free_port) admin_port=$(free_port)
cat >pawld.yaml <<EOF
$(pawld_yaml_head 2)
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams:
  backend: {servers: [http://127.0.0.1:$backend_port]}
routes: {default: backend}
vehicle_link: {broker: 127.0.0.1:$mqtt_port, ca: mqtt-ca.pem, cert: pawl-backend.pem, key: pawl-backend.key}
logs: {json: pawld.log}
EOF
"$PAWLD_BIN" --config pawld.yaml --check >/dev/null || fail "--check refused the link's configuration"
sed 's/key: pawl-backend.key/key: mqtt-ca.pem/' pawld.yaml >bad.yaml # not pawld's key
out=$("$PAWLD_BIN" --config bad.yaml --check 2>&1) && fail "--check accepted the link with a wrong key"
grep -q 'vehicle_link: the CA' <<<"$out" || fail "--check did not name the link's files: $out"
pawld_start "$tmp/pawld.yaml"
for _ in $(seq 50); do grep -q 'vehicle link: subscribed' pawld.log && break; sleep 0.1; done
grep -q 'vehicle link: subscribed' pawld.log || fail "pawld did not subscribe: $(tail -3 pawld.log)"
owner=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
unlock() { curl -s -o body.json -w '%{http_code}' -X POST -H "Authorization: Bearer $owner" \
    "http://127.0.0.1:$proxy_port/api/v1/vehicles/$V1/commands/door.unlock"; }
telemetry() { # cn vin time_ms speed
    # shellcheck disable=SC2046
    mosquitto_pub $(mqtt_opts "$tmp" "$1") -q 1 -t "vehicles/$2/telemetry" \
        -m "{\"time\":$3,\"vin\":\"$2\",\"signals\":{\"Vehicle.Speed\":$4}}"
}
expect() { # code reason what
    local code
    for _ in $(seq 30); do
        code=$(unlock)
        [ "$code" = "$1" ] && { [ -z "$2" ] || grep -q "\"reason\":\"$2\"" body.json; } && return 0
        sleep 0.1
    done
    fail "$3: unlock answered $code $(cat body.json), want $1 $2"
}
now() { echo $(($(date +%s%3N))); }

[ "$(unlock)" = 409 ] && grep -q vehicle_state_unknown body.json || fail "unlock before any telemetry: $(cat body.json)"
t=$(now)
telemetry "$V1" "$V1" "$t" 0
expect 202 '' "the car reported standing still"
grep -q '"result": "accepted"' body.json || fail "the backend did not take the unlock: $(cat body.json)"
telemetry "$V1" "$V1" $((t + 2000)) 20         # 0 -> 20 km/h in 2 s: a car
expect 409 unsafe_vehicle_state "the car reported driving"
telemetry "$V1" "$V1" $((t + 600000)) 0          # ten minutes ahead of the clock
telemetry "$V1" "$V1" $((t + 2200)) 0            # 20 -> 0 km/h in 0.2 s
telemetry "$V2" "$V1" $((t + 5000)) 0            # another car's certificate: the ACL drops it
telemetry "$V1" "$V2" $((t + 5000)) 0            # its own topic, another VIN: not its to publish either
telemetry "$notvin" "$notvin" $((t + 5000)) 0    # the ACL lets it through: pawld refuses it
sleep 1
[ "$(unlock)" = 409 ] && grep -q unsafe_vehicle_state body.json ||
    fail "an implausible or foreign line changed the twin: $(cat body.json)"
curl -fsS "http://127.0.0.1:$admin_port/metrics" >metrics.txt
grep -q '^pawld_telemetry_total{result="applied"} 2$' metrics.txt || fail "applied count: $(grep telemetry metrics.txt)"
grep -q '^pawld_telemetry_total{result="refused"} 3$' metrics.txt || fail "refused count: $(grep telemetry metrics.txt)"
grep -q 'time is in the future' pawld.log && grep -q 'speed changed faster' pawld.log ||
    fail "refused telemetry was not logged with its reason"
# what a vehicle sends is logged in bursts of 20, then once a second, each
# line counting those left out before it: 60 malformed results at once, then
# one more a while later
# shellcheck disable=SC2046
printf 'not a result\n%.0s' $(seq 60) |
    mosquitto_pub $(mqtt_opts "$tmp" "$V1") -q 1 -t "vehicles/$V1/events/command-result" -l
sleep 1.5
# shellcheck disable=SC2046
mosquitto_pub $(mqtt_opts "$tmp" "$V1") -q 1 -t "vehicles/$V1/events/command-result" -m 'nor this'
for _ in $(seq 30); do [ "$(grep -c 'malformed command result' pawld.log)" -gt 0 ] &&
    grep 'malformed command result' pawld.log | tail -1 | grep -q '"not_logged_before":[1-9]' && break; sleep 0.1; done
python3 -c 'import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if "malformed command result" in l]
assert 15 <= len(lines) <= 25, f"{len(lines)} lines logged for 61 results"
assert len(lines) - 1 + lines[-1]["not_logged_before"] == 60, [l["not_logged_before"] for l in lines]' pawld.log ||
    fail "malformed results were not logged in bounded bursts with a count of those left out"
python3 -c 'import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        sys.exit(f"pawld.log:{n}: not JSON ({e}): {line}")
    if "evil" in o:
        sys.exit(f"pawld.log:{n}: a topic wrote a field of its own: {line}")' pawld.log ||
    fail "the JSON log has a line that is not JSON, or one a topic wrote a field into"
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc"
echo "vehicle link: telemetry over mTLS MQTT drives the twin; implausible and foreign lines are refused"
