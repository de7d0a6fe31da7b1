#!/usr/bin/env bash
# Commands to vehicles, end to end on loopback: an API caller asks pawld for
# a command with its command token; pawld decides, publishes the token to
# vehicles/{VIN}/commands/{cmd} on a real mosquitto (mutual TLS, the
# shipped ACL); pawl-vehicle-sim (libpawl-edge) verifies it, acts, and
# answers on vehicles/{VIN}/events/command-result; the caller gets the
# vehicle's verdict. Also: a replay and a token the backend alone signed
# are refused by the vehicle itself, a missing or mismatched token never
# leaves pawld, a silent vehicle is a 504 (the same token sent again while
# the first waits: 503, never published) and a lost broker a 503.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}" "${PAWL_SIM_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
. "$here/lib_pawld.sh"
. "$here/lib_mqtt.sh"
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
    [ -n "$pawld_pid" ] && kill -9 "$pawld_pid" 2>/dev/null || true
    mqtt_stop
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/sim.out" ] && tail -3 "$tmp/sim.out" >&2; exit 1; }
cd "$tmp"
mqtt_certs "$tmp"
mqtt_start "$tmp"
cp "$PAWL_SRC/examples/policy.yaml" "$PAWL_SRC/examples/jwks.json" "$PAWL_SRC/examples/grants.jsonl" .

# keys: the backend's command authority and the owner's phone
openssl genpkey -algorithm ed25519 -out authority.pem 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out owner.pem 2>/dev/null
pem_json() { openssl pkey -pubout -in "$1" | awk 'BEGIN{ORS=""} {printf "%s\\n", $0}'; }
cat >trust.json <<JSON
{"vin": "$V1", "skew_s": 30, "max_lifetime_s": 120,
 "keys": [{"role": "authority", "alg": "EdDSA", "spki_pem": "$(pem_json authority.pem)"},
          {"role": "owner", "alg": "ES256", "spki_pem": "$(pem_json owner.pem)"}],
 "require": {"door.unlock": ["authority", "owner"], "engine.start": ["authority", "owner"],
             "*": ["authority"]},
 "stationary_only": ["door.unlock", "engine.start", "engine.stop"]}
JSON
# what pawld checks on step-up routes: the owner's co-signature (every
# signer of a token must be known, so the authority's key is listed too)
mkdir owners
cat >"owners/$V1.json" <<JSON
{"vin": "$V1", "max_lifetime_s": 120,
 "keys": [{"role": "owner", "alg": "ES256", "spki_pem": "$(pem_json owner.pem)"},
          {"role": "authority", "alg": "EdDSA", "spki_pem": "$(pem_json authority.pem)"}],
 "require": {"*": ["owner"]}}
JSON

proxy_port=$(free_port) admin_port=$(free_port)
cat >pawld.yaml <<EOF
$(pawld_yaml_head 2)
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams: {none: {servers: ["http://127.0.0.1:9"]}}
routes: {default: none}
step_up:
  trust_dir: owners
  commands: {engine-start: engine.start, dealer-key-codes: dealer.key-codes,
             ownership-transfer: ownership.transfer}
vehicle_link:
  broker: 127.0.0.1:$mqtt_port
  ca: mqtt-ca.pem
  cert: pawl-backend.pem
  key: pawl-backend.key
  commands: {door-lock: door.lock, door-unlock: door.unlock, engine-start: engine.start}
  result_timeout: 2s
logs: {json: pawld.log, ocsf: events.jsonl}
EOF
pawld_start "$tmp/pawld.yaml"
for _ in $(seq 50); do grep -q 'vehicle link: subscribed' pawld.log && break; sleep 0.1; done
grep -q 'vehicle link: subscribed' pawld.log || fail "pawld did not subscribe: $(tail -3 pawld.log)"

sim_start() {
    "$PAWL_SIM_BIN" --broker "127.0.0.1:$mqtt_port" --ca mqtt-ca.pem --cert "$V1.pem" --key "$V1.key" \
        --vin "$V1" --trust trust.json --store store >>sim.out 2>sim.err &
    sim_pid=$!
    for _ in $(seq 50); do grep -q subscribed sim.err && return 0; sleep 0.1; done
    fail "the simulator did not subscribe: $(cat sim.err)"
}
sim_start
# parked and locked: what the twin must know for door.unlock and engine.start
# (stationary-only; engine.start also wants the doors locked)
# shellcheck disable=SC2046
mosquitto_pub $(mqtt_opts "$tmp" "$V1") -q 1 -t "vehicles/$V1/telemetry" \
    -m "{\"time\":$(date +%s%3N),\"vin\":\"$V1\",\"signals\":{\"Vehicle.Speed\":0,\"Vehicle.Cabin.Door.Row1.DriverSide.IsLocked\":true}}"

owner_jwt=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
seq=0
token() { # out cmd [cosign]
    seq=$((seq + 1))
    "$PAWL_BIN" token issue --key authority.pem --iss pawl-authority --sub u-1042 --vin "$V1" \
        --cmd "$2" --seq $seq --ttl 60 --out "$1"
    [ -z "${3:-}" ] || "$PAWL_BIN" token cosign --key owner.pem "$1"
}
b64() { basenc --base64url -w0 "$1" | tr -d =; }
ask() { # cmd [token-file]; prints the status, body in body.json
    local h=()
    [ -z "${2:-}" ] || h=(-H "X-Pawl-Command-Token: $(b64 "$2")")
    curl -s -o body.json -w '%{http_code}' -X POST -H "Authorization: Bearer $owner_jwt" "${h[@]}" \
        "http://127.0.0.1:$proxy_port/api/v1/vehicles/$V1/commands/$1"
}
results() { wc -l <sim.out | tr -d ' '; }
expect() { # what want-status got-status [body-grep]
    [ "$3" = "$2" ] || fail "$1: status $3, want $2: $(cat body.json)"
    [ -z "${4:-}" ] || grep -q -- "$4" body.json || fail "$1: body lacks $4: $(cat body.json)"
}

# 1. door.lock (the authority's signature is enough): the vehicle acts
token lock.cbor door.lock
expect "door.lock" 200 "$(ask door.lock lock.cbor)" '"verdict":"accept"'
grep -q '"cmd":"door.lock","cti":"[0-9a-f]\{32\}","reason":"ok","seq":1,"verdict":"accept"' body.json || fail "the vehicle's verdict is not passed on: $(cat body.json)"
tail -1 sim.out | grep -q '"locked":true' || fail "the simulator did not lock: $(tail -1 sim.out)"
# 2. the same token again: the vehicle refuses a replay
expect "replay" 409 "$(ask door.lock lock.cbor)" '"reason":"vehicle_refused"'
grep -q '"reason":"replay"' body.json || fail "replay: $(cat body.json)"
# 3. engine.start is a step-up route: pawld checks the owner's signature first
token start.cbor engine.start cosign
expect "engine.start" 200 "$(ask engine.start start.cbor)" '"verdict":"accept"'
tail -1 sim.out | grep -q '"engine":true' || fail "the engine did not start"
token start2.cbor engine.start
expect "engine.start without owner" 428 "$(ask engine.start start2.cbor)" step_up_required
# 4. door.unlock signed by the backend alone: the vehicle wants the owner too
token unlock1.cbor door.unlock
expect "unlock without owner" 409 "$(ask door.unlock unlock1.cbor)" '"reason":"missing_signer"'
tail -1 sim.out | grep -q '"locked":true' || fail "the car unlocked without the owner"
# 5. co-signed by the owner: it unlocks
token unlock2.cbor door.unlock cosign
expect "unlock co-signed" 200 "$(ask door.unlock unlock2.cbor)" '"verdict":"accept"'
tail -1 sim.out | grep -q '"locked":false' || fail "the simulator did not unlock: $(tail -1 sim.out)"
echo "vehicle commands: lock, unlock and start reach the simulator; replay and backend-only unlock refused by it"

# 6. no token, or a token for another command: nothing is published
n=$(results)
expect "no token" 428 "$(ask door.lock)" 'a command token'
token other.cbor door.unlock
expect "token for another command" 428 "$(ask door.lock other.cbor)" 'another vehicle or command'
sleep 0.5
[ "$(results)" = "$n" ] || fail "a refused request reached the vehicle"
echo "vehicle commands: a missing or mismatched token never leaves pawld"

# 7. the vehicle is gone: 504 after result_timeout (2 s)
kill "$sim_pid"
wait "$sim_pid" 2>/dev/null || true
sim_pid=
token lock2.cbor door.lock
for i in 1 2 3 4 5 6 7 8; do token "wait$i.cbor" door.lock; done
sent() { grep -c 'command sent to the vehicle' pawld.log; }
n=$(sent)
ask door.lock lock2.cbor >first.status &
first=$!
for _ in $(seq 50); do [ "$(sent)" -gt "$n" ] && break; sleep 0.05; done
[ "$(sent)" = $((n + 1)) ] || fail "the command was not sent to the vehicle: $(tail -3 pawld.log)"
# the same token while the first waits: the vehicle's one answer could go
# to either, so the second is refused and never published
expect "the same token twice at once" 503 "$(ask door.lock lock2.cbor)" 'already waits for the vehicle'
# at most 8 commands wait for one vehicle: one caller's offline car cannot
# take the waits every vehicle shares (review: 4,096 refused everyone)
waiters=()
for i in 1 2 3 4 5 6 7; do
    (cd "$tmp" && mkdir -p "w$i" && cd "w$i" && ask door.lock "../wait$i.cbor" >status) &
    waiters+=($!)
done
for _ in $(seq 60); do [ "$(sent)" -ge $((n + 8)) ] && break; sleep 0.05; done
[ "$(sent)" = $((n + 8)) ] || fail "8 commands were not all sent: $(sent) of $((n + 8))"
expect "a ninth command for one vehicle" 503 "$(ask door.lock wait8.cbor)" "8 commands already wait for $V1"
wait "$first"
for w in "${waiters[@]}"; do wait "$w"; done
expect "silent vehicle" 504 "$(cat first.status)" vehicle_timeout
for i in 1 2 3 4 5 6 7; do [ "$(cat "w$i/status")" = 504 ] || fail "waiter $i: $(cat "w$i/status")"; done
[ "$(sent)" = $((n + 8)) ] || fail "the same token or a ninth command was sent"
# 8. the broker is gone: 503 at once
mqtt_stop
for _ in $(seq 50); do grep -q 'vehicle link: disconnected' pawld.log && break; sleep 0.1; done
token lock3.cbor door.lock
expect "no broker" 503 "$(ask door.lock lock3.cbor)" 'not connected'
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc: $(tail -5 pawld.stderr)"
echo "vehicle commands: a silent vehicle is 504, a lost broker 503"
echo "vehicle commands: all passed"
