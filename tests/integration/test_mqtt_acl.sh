#!/usr/bin/env bash
# The vehicle link's broker configuration (deploy/mosquitto/) against a real
# mosquitto on loopback with mutual TLS: a vehicle's certificate (CN = its
# VIN) publishes its own telemetry, cannot publish another VIN's, cannot
# read another vehicle's commands; the backend reads all telemetry and
# sends commands; a certificate from another CA, or none, gets no session.
set -euo pipefail
: "${PAWL_SRC:?}"
tmp=$(mktemp -d)
. "$PAWL_SRC/tests/integration/lib_mqtt.sh"
subs=()
cleanup() {
    for p in "${subs[@]}"; do kill "$p" 2>/dev/null || true; done
    mqtt_stop
    wait 2>/dev/null || true
    [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in mosquitto_pub mosquitto_sub openssl; do
    command -v $t >/dev/null || fail "$t is not installed (deps/debian-packages.txt)"
done
cd "$tmp"
mqtt_certs "$tmp"
mqtt_start "$tmp"
port=$mqtt_port
as() { mqtt_opts "$tmp" "$1"; }
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
# a certificate from the right CA that expired yesterday
/usr/bin/python3 - "$tmp" "$V1" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
d, vin = sys.argv[1], sys.argv[2]
ca_key = serialization.load_pem_private_key(open(d + "/mqtt-ca.key", "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(d + "/mqtt-ca.pem", "rb").read())
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, vin)]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=3)).not_valid_after(now - datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256()))
open(d + "/expired.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(d + "/expired.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
     serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
if mosquitto_pub -h 127.0.0.1 -p "$port" --cafile mqtt-ca.pem --cert expired.pem --key expired.key \
    -q 1 -t "vehicles/$V1/telemetry" -m expired 2>/dev/null; then
    fail "an expired vehicle certificate was accepted"
fi
if mosquitto_pub -h 127.0.0.1 -p "$port" --cafile mqtt-ca.pem -q 1 -t "vehicles/$V1/telemetry" -m anon 2>/dev/null; then
    fail "a client without a certificate was accepted"
fi
sleep 1.5
grep -q "^vehicles/$V1/telemetry " backend.txt || fail "the backend did not get $V1's own telemetry: $(cat backend.txt)"
grep -q forged backend.txt && fail "$V1 published telemetry for $V2"
grep -q rogue backend.txt && fail "a rogue certificate's message got through"
grep -q expired backend.txt && fail "an expired certificate's message got through"
grep -q "^vehicles/$V2/commands/door.unlock token-for-v2" v2cmd.txt || fail "$V2 did not get its command: $(cat v2cmd.txt)"
[ -s v1cmd.txt ] && fail "$V1 read another vehicle's commands: $(cat v1cmd.txt)"
echo "mqtt acl: own telemetry delivered, forged telemetry, foreign commands, rogue CA, expired and no certificate refused"
