#!/usr/bin/env bash
# pawld's connection cap: with max_connections 4 and one worker, a fifth
# client connection is closed at once and counted, the four keep working,
# and once they are gone new clients are served again. A second pawld on
# the same ports refuses to start. Workers that cannot follow a reload (out
# of memory) refuse requests until they can.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
. "$here/lib_pawld.sh"
cleanup() {
    [ -n "$pawld_pid" ] && kill -9 "$pawld_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
cp "$PAWL_SRC/examples/policy.yaml" "$PAWL_SRC/examples/jwks.json" .
# a 64 MiB token cache per engine: a reload needs that much more (below)
sed -i 's/cache_entries: 16384/cache_entries: 262144/' policy.yaml
grep -q 'cache_entries: 262144' policy.yaml || fail "cannot enlarge the token cache"
proxy_port=$(free_port) admin_port=$(free_port)
cat >pawld.yaml <<EOF
max_connections: 4
$(pawld_yaml_head 1 "")
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams:
  none: {servers: ["http://127.0.0.1:9"]}
routes: {default: none}
logs: {json: pawld.log}
EOF
# no audit trail: said by --check and at start (a user review: unsaid)
"$PAWLD_BIN" --config pawld.yaml --check >check.out
grep -q "warning: no logs.audit" check.out || fail "--check said nothing of the missing audit trail: $(cat check.out)"
grep -q "warning: the policy has step-up routes and there is no step_up: section" check.out ||
    fail "--check said nothing of step-up routes that cannot be served: $(cat check.out)"
"$PAWLD_BIN" --version | grep -q '^pawld [0-9]*\.[0-9]*\.[0-9]* (OpenSSL 3' || fail "pawld --version: $("$PAWLD_BIN" --version)"
out=$("$PAWLD_BIN" --config 2>&1 || true)
grep -q "needs a FILE" <<<"$out" || fail "--config without a FILE: $out"
pawld_start "$tmp/pawld.yaml"
grep -q '"level":"warn".*"msg":"no logs.audit' pawld.log || fail "the start said nothing of the missing audit trail"
# five connections held open; each says whether the server still answers
$py - "$proxy_port" "$admin_port" <<'PY' >held.txt
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(5):
    socks.append(socket.create_connection(("127.0.0.1", port)))
    time.sleep(0.1)
time.sleep(0.5)
# the admin listener still answers: clients holding every connection
# cannot fail the health probes (review: /healthz went unanswered)
probe = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
probe.settimeout(2)
probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
if not probe.recv(100).startswith(b"HTTP/1.1 200"):
    sys.exit("/healthz unanswered while the proxy's connections were all held")
alive = 0
for s in socks:
    try:
        s.settimeout(2)
        s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        alive += s.recv(100).startswith(b"HTTP/1.1 ")
    except OSError:
        pass
print(alive)
PY
[ "$(cat held.txt)" = 4 ] || fail "with max_connections 4, $(cat held.txt) of 5 connections were served"
curl -fsS "http://127.0.0.1:$admin_port/metrics" | grep '^pawld_connections_refused_total 1$' >/dev/null ||
    fail "the refused connection was not counted"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$proxy_port/x")" = 404 ] ||
    fail "a new client was not served once the others had gone"
# a second pawld on the same ports does not start (SO_REUSEPORT would
# otherwise have it share the first one's connections), and the first one
# still has them all
rc=0
timeout 20 "$PAWLD_BIN" --config pawld.yaml 2>second.stderr || rc=$?
[ "$rc" != 0 ] && grep -q "listener plain: cannot listen on 127.0.0.1:$proxy_port: .*in use" second.stderr ||
    fail "a second pawld on the same port: exit $rc, $(cat second.stderr)"
kill -0 "$pawld_pid" || fail "the first pawld died"
for _ in 1 2 3 4 5 6 7 8; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$proxy_port/x")" = 404 ] ||
        fail "a request did not reach the first pawld"
done
# A reload that changes what pawld reads only at start (here logs.ocsf) is
# refused whole, with the key named, and the running configuration serves on.
cp pawld.yaml pawld.yaml.orig
sed -i 's/^logs: {json: pawld.log}/logs: {json: pawld.log, ocsf: events.jsonl}/' pawld.yaml
kill -HUP "$pawld_pid"
for _ in $(seq 50); do grep -q 'reload refused' pawld.log && break; sleep 0.1; done
grep -q '"msg":"reload refused: logs.ocsf changed; it is read at start' pawld.log ||
    fail "a reload changing logs.ocsf was not refused: $(tail -2 pawld.log)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$proxy_port/x")" = 404 ] ||
    fail "not serving after a refused reload"
[ ! -e events.jsonl ] || fail "the refused reload's OCSF file was opened"
echo "pawld limits: a reload changing logs.ocsf (read at start) was refused whole"
n=$(grep -c '"msg":"reloaded"' pawld.log || true)
cp pawld.yaml.orig pawld.yaml # the file watch reloads it: let that be over before what follows
for _ in $(seq 50); do [ "$(grep -c '"msg":"reloaded"' pawld.log || true)" -gt "$n" ] && break; sleep 0.1; done
# A reload the workers cannot follow for want of memory (an address-space
# limit 16 MiB above what pawld holds: the new configuration loads, the
# worker's new engine with its 64 MiB token cache does not fit): they
# refuse every request with 503 instead of deciding with the old keys,
# grants and rules, and switch once there is room. Not under ASan, whose
# allocator aborts when memory runs out.
if nm -D "$PAWLD_BIN" 2>/dev/null | grep __asan_init >/dev/null; then # not -q: nm must not get SIGPIPE (pipefail)
    echo "pawld limits: the out-of-memory reload is not tried under ASan"
else
    status() { curl -s -o body.json -w '%{http_code}' "http://127.0.0.1:$proxy_port/x"; }
    [ "$(status)" = 404 ] || fail "before the reload: $(cat body.json)"
    vm=$(awk '/^VmSize/ {print $2}' "/proc/$pawld_pid/status")
    prlimit --pid "$pawld_pid" --as=$(((vm + 16384) * 1024)):unlimited
    kill -HUP "$pawld_pid"
    for _ in $(seq 100); do grep -q 'reload failed in a worker' pawld.log 2>/dev/null && break; sleep 0.1; done
    [ "$(status)" = 503 ] && grep -q 'could not load the reloaded configuration' body.json ||
        fail "a worker that could not switch decided on: $(cat body.json) $(tail -2 pawld.log)"
    prlimit --pid "$pawld_pid" --as=unlimited:unlimited
    for _ in $(seq 30); do [ "$(status)" = 404 ] && break; sleep 0.1; done
    [ "$(status)" = 404 ] || fail "the workers did not switch once there was room: $(cat body.json)"
    echo "pawld limits: workers that could not follow a reload refused with 503, then switched"
fi
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc"
# the open-file limit: raised up to the hard limit for what max_connections
# asks (two files a connection: the client's and the upstream's), and a
# warning when even that is short
sed 's/^max_connections: 4/max_connections: 1000/' pawld.yaml >pawld-fl.yaml
(ulimit -Sn 256 && ulimit -Hn 512 && exec "$PAWLD_BIN" --config "$tmp/pawld-fl.yaml" 2>>"$tmp/pawld.stderr") &
pawld_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
soft=$(awk '/Max open files/ {print $4}' "/proc/$pawld_pid/limits" 2>/dev/null || true)
[ "$soft" = 512 ] || fail "the open-file limit was not raised to the hard limit: $soft"
grep -q '"msg":"the open-file limit is short.*"limit":512,"wanted":3024' pawld.log ||
    fail "no warning for a short open-file limit: $(tail -2 pawld.log)"
pawld_stop
echo "pawld limits: the open-file limit was raised to the hard one, with a warning that it is short"
# and so by a reload that raises max_connections (review: it stayed as the
# start had set it, and 1,202 idle clients used every descriptor up)
sed 's/^max_connections: 4/max_connections: 100/' pawld.yaml >pawld-fl.yaml
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=11024
(ulimit -Sn 256 && exec "$PAWLD_BIN" --config "$tmp/pawld-fl.yaml" 2>>"$tmp/pawld.stderr") &
pawld_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
soft=$(awk '/Max open files/ {print $4}' "/proc/$pawld_pid/limits" 2>/dev/null || true)
[ "$soft" = $((hard < 1224 ? hard : 1224)) ] || fail "the open-file limit at start, for max_connections 100: $soft"
sed -i 's/^max_connections: 100/max_connections: 5000/' pawld-fl.yaml
n=$(grep -c '"msg":"reloaded"' pawld.log || true)
kill -HUP "$pawld_pid"
for _ in $(seq 100); do [ "$(grep -c '"msg":"reloaded"' pawld.log)" -gt "$n" ] && break; sleep 0.05; done
soft=$(awk '/Max open files/ {print $4}' "/proc/$pawld_pid/limits" 2>/dev/null || true)
[ "$soft" = $((hard < 11024 ? hard : 11024)) ] || fail "the open-file limit after a reload to max_connections 5000: $soft (hard $hard)"
pawld_stop
echo "pawld limits: a reload raising max_connections raised the open-file limit with it"
echo "pawld limits: the fifth connection over max_connections 4 was refused and counted;" \
    "a second pawld on the same port refused to start"
