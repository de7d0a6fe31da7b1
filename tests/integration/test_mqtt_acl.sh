#!/usr/bin/env bash
# The vehicle link's broker configuration (deploy/mosquitto/) against a real
# mosquitto on loopback with mutual TLS: a vehicle's certificate (CN = its
# VIN) publishes its own telemetry, cannot publish another VIN's, cannot
# read another vehicle's commands; the backend reads all telemetry and
# sends commands; a certificate from another CA, or none, gets no session.
set -euo pipefail
: "${PAWL_SRC:?}"
tmp=$(mktemp -d)
broker_pid=
subs=()
cleanup() {
    for p in "${subs[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
    wait 2>/dev/null || true
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in mosquitto mosquitto_pub mosquitto_sub openssl; do
    command -v $t >/dev/null || [ -x /usr/sbin/$t ] || fail "$t is not installed (deps/debian-packages.txt)"
done
broker=$(command -v mosquitto || echo /usr/sbin/mosquitto)
cd "$tmp"
V1=1HGCM82633A004352 V2=5YJ3E1EA7KF317000

# A CA and its leaves (ECDSA P-256), with the openssl command line.
ca() { # name
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -subj "/CN=$1" -days 2 2>/dev/null
}
leaf() { # ca cn [san]
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$2.key" -out "$2.csr" \
        -subj "/CN=$2" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\n%s\n' "${3:+subjectAltName=$3}" >"$2.ext"
    openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial -days 1 \
        -extfile "$2.ext" -out "$2.pem" 2>/dev/null
}
ca mqtt-ca
ca rogue-ca
leaf mqtt-ca broker "IP:127.0.0.1,DNS:localhost"
leaf mqtt-ca pawl-backend
leaf mqtt-ca "$V1"
leaf mqtt-ca "$V2"
leaf rogue-ca rogue && mv rogue.pem "rogue-$V1.pem" && mv rogue.key "rogue-$V1.key"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s|^listener 8883|listener $port 127.0.0.1|" -e "s|/etc/pawl/mqtt/ca.pem|$tmp/mqtt-ca.pem|" \
    -e "s|/etc/pawl/mqtt/broker.pem|$tmp/broker.pem|" -e "s|/etc/pawl/mqtt/broker.key|$tmp/broker.key|" \
    -e "s|/etc/pawl/mqtt/pawl-vehicles.acl|$PAWL_SRC/deploy/mosquitto/pawl-vehicles.acl|" \
    -e '/^crlfile/d' "$PAWL_SRC/deploy/mosquitto/pawl-vehicles.conf" >mosquitto.conf
# as root mosquitto would switch to its own user, which cannot read this
# test's files: it stays who runs the test
printf 'persistence false\nlog_dest file %s/broker.log\nuser %s\n' "$tmp" "$(id -un)" >>mosquitto.conf
"$broker" -c mosquitto.conf &
broker_pid=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

as() { # cn -> client TLS options
    echo "-h 127.0.0.1 -p $port --cafile $tmp/mqtt-ca.pem --cert $tmp/$1.pem --key $tmp/$1.key"
}
sub() { # out cn topic...
    local out=$1 who=$2 t topics=()
    shift 2
    for t in "$@"; do topics+=(-t "$t"); done
    # shellcheck disable=SC2046
    mosquitto_sub $(as "$who") -v -W 5 "${topics[@]}" >"$out" 2>"$out.err" &
    subs+=($!)
}
# shellcheck disable=SC2046
pub() { mosquitto_pub $(as "$1") -q 1 -t "$2" -m "$3"; }

sub backend.txt pawl-backend 'vehicles/+/telemetry'
sub v1cmd.txt "$V1" 'vehicles/+/commands/#'
sub v2cmd.txt "$V2" "vehicles/$V2/commands/#"
sleep 1
pub "$V1" "vehicles/$V1/telemetry" '{"vin":"'$V1'","signals":{"Vehicle.Speed":0}}'
pub "$V1" "vehicles/$V2/telemetry" '{"vin":"'$V2'","forged":true}'
pub pawl-backend "vehicles/$V2/commands/door.unlock" 'token-for-v2'
# shellcheck disable=SC2046
if mosquitto_pub -h 127.0.0.1 -p "$port" --cafile mqtt-ca.pem --cert "rogue-$V1.pem" --key "rogue-$V1.key" \
    -q 1 -t "vehicles/$V1/telemetry" -m rogue 2>/dev/null; then
    fail "a certificate from another CA was accepted"
fi
if mosquitto_pub -h 127.0.0.1 -p "$port" --cafile mqtt-ca.pem -q 1 -t "vehicles/$V1/telemetry" -m anon 2>/dev/null; then
    fail "a client without a certificate was accepted"
fi
sleep 1.5
grep -q "^vehicles/$V1/telemetry " backend.txt || fail "the backend did not get $V1's own telemetry: $(cat backend.txt)"
grep -q forged backend.txt && fail "$V1 published telemetry for $V2"
grep -q rogue backend.txt && fail "a rogue certificate's message got through"
grep -q "^vehicles/$V2/commands/door.unlock token-for-v2" v2cmd.txt || fail "$V2 did not get its command: $(cat v2cmd.txt)"
[ -s v1cmd.txt ] && fail "$V1 read another vehicle's commands: $(cat v1cmd.txt)"
echo "mqtt acl: own telemetry delivered, forged telemetry, foreign commands, rogue CA and no certificate refused"
