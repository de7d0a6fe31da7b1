#!/usr/bin/env bash
# Listeners on IPv6 addresses and client addresses as pawld records them.
# A [::] listener takes IPv6 clients only (as nginx and Envoy), so it can be
# listed beside an IPv4 listener of the same port; with ipv6only: false it
# takes both families, and an IPv4 client is its IPv4 address, not the
# IPv4-mapped ::ffff:a.b.c.d form the socket reports, so that its events,
# findings and blocks meet those of the same client on an IPv4 listener; an
# IPv6 client is its IPv6 address.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! $py -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    echo "SKIP: this machine has no IPv6 loopback"
    exit 0
fi
example_setup
bash "$PAWL_SRC/scripts/gen-certs.sh" "$tmp/certs" >/dev/null
dual_port=$(free_port) admin_port=$(free_port) both_port=$(free_port) mapped_port=$(free_port)
cat >pawld.yaml <<EOF
$(pawld_yaml_head 1)
  - {name: dual, listen: '[::]:$dual_port', ipv6only: false, mode: proxy, tls: {cert: certs/server.pem, key: certs/server.key}}
  - {name: six, listen: '[::]:$both_port', mode: proxy, tls: {cert: certs/server.pem, key: certs/server.key}}
  - {name: four, listen: '127.0.0.1:$both_port', mode: proxy}
  - {name: mapped, listen: '[::ffff:127.0.0.1]:$mapped_port', mode: proxy, tls: {cert: certs/server.pem, key: certs/server.key}}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams:
  backend: {servers: [http://127.0.0.1:$backend_port]}
routes: {default: backend}
logs: {json: pawld.log, ocsf: events.jsonl}
EOF
pawld_start "$tmp/pawld.yaml"
url=https://localhost:$dual_port/api/v1/vehicles/1HGCM82633A004352/status
code4=$(curl -s -o /dev/null -w '%{http_code}' --cacert certs/ca.pem --resolve "localhost:$dual_port:127.0.0.1" "$url")
code6=$(curl -s -o /dev/null -w '%{http_code}' --cacert certs/ca.pem --resolve "localhost:$dual_port:[::1]" "$url")
[ "$code4" = 401 ] && [ "$code6" = 401 ] || fail "no token: IPv4 got $code4, IPv6 got $code6 (want 401)"
# one port, two listeners: IPv4 clients reach the plain one, IPv6 the TLS one
path=/api/v1/vehicles/1HGCM82633A004352/status
code4=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$both_port$path")
code6=$(curl -s -o /dev/null -w '%{http_code}' --cacert certs/ca.pem --resolve "localhost:$both_port:[::1]" \
    "https://localhost:$both_port$path")
[ "$code4" = 401 ] && [ "$code6" = 401 ] || fail "[::] beside 127.0.0.1: IPv4 got $code4, IPv6 got $code6 (want 401)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$both_port$path" || true)
[ "$code" = 000 ] || fail "plain HTTP over IPv6 reached a listener ($code): the TLS one is [::]"
# an IPv4-mapped address takes IPv4 clients (it cannot be bound IPv6-only)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert certs/ca.pem --resolve "localhost:$mapped_port:127.0.0.1" \
    "https://localhost:$mapped_port$path")
[ "$code" = 401 ] || fail "the IPv4-mapped listener: $code"
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc"
$py - events.jsonl <<'PY' || fail "client addresses in the OCSF events: $(cat events.jsonl)"
import json, sys
ips = [json.loads(l)["src_endpoint"]["ip"] for l in open(sys.argv[1])]
assert ips == ["127.0.0.1", "::1", "127.0.0.1", "::1", "127.0.0.1"], ips
PY
# with ipv6only: false, [::]:P takes IPv4 too and overlaps 127.0.0.1:P, which --check names
sed "s#listen: '\[::\]:$both_port'#listen: '[::]:$both_port', ipv6only: false#" pawld.yaml >overlap.yaml
check_refuses overlap.yaml "listener 'four': 127.0.0.1:$both_port overlaps listener 'six' (::.*:$both_port)"
sed "s#listen: '127.0.0.1:$both_port'#listen: '127.0.0.1:$both_port', ipv6only: true#" pawld.yaml >v4only.yaml
check_refuses v4only.yaml "ipv6only is for an IPv6 address, not 127.0.0.1"
echo "pawld addresses: [::] is IPv6 only beside 127.0.0.1 on one port; with ipv6only: false an IPv4 client is 127.0.0.1, an IPv6 one ::1"
