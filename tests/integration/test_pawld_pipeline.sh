#!/usr/bin/env bash
# A client that pipelines 20,000 requests on one connection and reads none
# of the answers for a second: pawld decides its requests as the answers
# drain, one iteration's worth at a time, so its batch of records never
# fills. Every answer it sent is in the OCSF stream and the audit trail, and
# a well-behaved client beside it gets its answers, never a 503 (review:
# one connection filled the 4,096-record batch, others got 503 and 3,425
# denials were answered without a record).
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
audited_setup 1
pawld_start "$tmp/pawld.yaml"
owner=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
$py - "$proxy_port" "$owner" <<'PY' >pipe.out || fail "the pipelining run: $(cat pipe.out)"
import socket, sys, threading, time, urllib.request
port, owner = int(sys.argv[1]), sys.argv[2]
N = 20000
flood = socket.create_connection(("127.0.0.1", port))
def send():
    flood.sendall(b"GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n" * N)
sender = threading.Thread(target=send)
sender.start()
codes = {}
good = "http://127.0.0.1:%d/api/v1/vehicles/1HGCM82633A004352/status" % port
for _ in range(200):  # beside it, a client that reads its answers
    req = urllib.request.Request(good, headers={"Authorization": "Bearer " + owner})
    try:
        code = urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as e:
        code = e.code
    codes[code] = codes.get(code, 0) + 1
time.sleep(1)
buf = b""
flood.settimeout(20)
while buf.count(b"HTTP/1.1 404 ") < N:
    chunk = flood.recv(1 << 20)
    if not chunk:
        break
    buf += chunk
sender.join()
print(buf.count(b"HTTP/1.1 404 "), codes.get(200, 0), sum(codes.values()))
PY
read -r answered good total <pipe.out
[ "$answered" = 20000 ] || fail "the pipelining client got $answered of 20000 answers"
[ "$good" = 200 ] && [ "$total" = 200 ] || fail "the client beside it: $good of $total answered 200"
curl -fsS "http://127.0.0.1:$admin_port/metrics" >metrics.txt
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc"
events=$(wc -l <events.jsonl)
decisions=$(grep -c '"kind":"decision"' audit.log)
[ "$events" = 20200 ] && [ "$decisions" = 20200 ] ||
    fail "20,200 answered: $events OCSF events, $decisions audit records"
grep -q '^pawld_unrecorded_total 0$' metrics.txt || fail "unrecorded decisions: $(grep unrecorded metrics.txt)"
"$PAWL_BIN" audit verify audit.log --key audit.pub >verify.out || fail "audit trail: $(cat verify.out)"
echo "pawld pipeline: 20,000 pipelined answers and 200 beside them, every one in the OCSF stream and the audit trail"
