#!/usr/bin/env bash
# Client addresses as pawld records them: on a listener bound to [::] (both
# address families), an IPv4 client is its IPv4 address, not the
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
dual_port=$(free_port) admin_port=$(free_port)
cat >pawld.yaml <<EOF
$(pawld_yaml_head 1)
  - {name: dual, listen: '[::]:$dual_port', mode: proxy, tls: {cert: certs/server.pem, key: certs/server.key}}
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
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc"
$py - events.jsonl <<'PY' || fail "client addresses in the OCSF events: $(cat events.jsonl)"
import json, sys
ips = [json.loads(l)["src_endpoint"]["ip"] for l in open(sys.argv[1])]
assert ips == ["127.0.0.1", "::1"], ips
PY
echo "pawld addresses: an IPv4 client of a [::] listener is 127.0.0.1, an IPv6 one ::1"
