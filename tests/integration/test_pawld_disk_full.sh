#!/usr/bin/env bash
# pawld when its logs cannot be written (a full disk, simulated with a file
# size limit on pawld: writes past it fail with EFBIG as they would with
# ENOSPC): requests are refused with 503 and never forwarded, the audit
# trail and the OCSF stream hold exactly the requests that were answered
# (none of the refused ones, no torn line), /readyz says unavailable, and
# once there is room again pawld serves on without a restart and the trail
# verifies. Quiet after that, its last records are signed within 10 s. A
# deleted anchor is written anew at the next start, with a warning.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
audited_setup 2
# every file pawld writes stops at 96 KiB (the soft limit; raised below)
(ulimit -S -f 96 && exec "$PAWLD_BIN" --config "$tmp/pawld.yaml" 2>>"$tmp/pawld.stderr") &
pawld_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
owner=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
# load: each of 4 keep-alive clients sends requests until it has seen 20 503s
# (or 2,000 requests); prints how many were answered 200 and 503
drive() { # max-503s max-requests
    $py - "$proxy_port" "$owner" "$1" "$2" <<'PY'
import http.client, sys, threading
port, tok, want, most = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
count = {200: 0, 503: 0}
lock = threading.Lock()
def client():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    seen = 0
    for _ in range(most):
        c.request("GET", "/api/v1/vehicles/1HGCM82633A004352/status", headers={"Authorization": "Bearer " + tok})
        r = c.getresponse()
        r.read()
        with lock:
            count[r.status] = count.get(r.status, 0) + 1
        if r.status == 503:
            seen += 1
            c.close()  # a refused request ends its connection
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            if seen >= want:
                break
ts = [threading.Thread(target=client) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print(count.get(200, 0), count.get(503, 0), sum(v for k, v in count.items() if k not in (200, 503)))
PY
}
read -r ok1 refused1 other1 < <(drive 20 2000)
[ "$other1" = 0 ] || fail "statuses other than 200 and 503: $other1"
[ "$refused1" -ge 20 ] || fail "the full disk never showed: $ok1 answered, $refused1 refused"
grep -q '"msg":"audit append failed".*cut back' pawld.log || grep -q '"msg":"writing the OCSF stream failed"' pawld.log ||
    grep -q 'cannot be written\|could not be written' pawld.stderr ||
    fail "the failure was not reported: $(tail -3 pawld.log)"
code=$(curl -s -o ready.json -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz")
[ "$code" = 503 ] && grep -q audit_unavailable ready.json || fail "/readyz while full: $code $(cat ready.json)"
curl -s "http://127.0.0.1:$admin_port/metrics" | grep '^pawld_unrecorded_total [1-9]' >/dev/null ||
    fail "the refused decisions are not counted"
echo "disk full: $ok1 answered, $refused1 refused with 503; /readyz 503"
# room again: served without a restart
prlimit --pid "$pawld_pid" --fsize=unlimited:unlimited
read -r ok2 refused2 other2 < <(drive 1 50)
[ "$refused2" = 0 ] && [ "$other2" = 0 ] && [ "$ok2" = 200 ] ||
    fail "after room came back: $ok2 answered, $refused2 refused, $other2 other"
sleep 5.2 # the time /readyz stays unavailable after the last failure
code=$(curl -s -o ready.json -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz")
[ "$code" = 200 ] || fail "/readyz after room came back: $code $(cat ready.json)"
# quiet now: within 10 s of the last record a checkpoint signs the tail
# (before, it waited for the next request)
for _ in $(seq 60); do tail -1 audit.log | grep -q '"kind":"checkpoint"' && break; sleep 0.2; done
tail -1 audit.log | grep -q '"kind":"checkpoint"' || fail "the quiet trail's tail stayed unsigned: $(tail -c 200 audit.log)"
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc: $(tail -5 pawld.stderr)"
# exactly the answered requests, in the trail, the stream and the backend
answered=$((ok1 + ok2))
"$PAWL_BIN" audit verify --key audit.pub audit.log >verify.out 2>&1 || fail "the trail does not verify: $(cat verify.out)"
records=$(grep -c '"kind":"decision"' audit.log)
[ "$records" = "$answered" ] || fail "$records decisions in the trail, $answered requests answered"
$py - events.jsonl "$answered" <<'PY' || fail "the OCSF stream"
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "the stream does not end in a newline"
for n, l in enumerate(lines[:-1], 1):
    json.loads(l)  # a torn line fails here
assert len(lines) - 1 == int(sys.argv[2]), "%d events, %s answered" % (len(lines) - 1, sys.argv[2])
PY
forwarded=$(wc -l <"$backend_rec" | tr -d ' ')
[ "$forwarded" = "$answered" ] || fail "the backend saw $forwarded requests, $answered were answered"
echo "disk full: trail verifies; $answered decisions in the trail, the OCSF stream and the backend alike"
# a deleted anchor no longer guards the trail against a rollback: pawld
# writes it anew at the next start, and says so
rm audit.log.anchor
pawld_start "$tmp/pawld.yaml"
pawld_stop
grep '"msg":"audit trail repaired at open"' pawld.log | grep -q 'anchor: missing' ||
    fail "a missing anchor was recreated without a word: $(tail -3 pawld.log)"

# A real full file system (tmpfs, when root may mount one): pawld quiet
# while it is full, so that the next checkpoint's anchor (a new file) fails
# where the log's last block still had room; once there is room again the
# anchor is written and pawld serves on without a restart.
mnt=$tmp/mnt
mkdir "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k tmpfs "$mnt" 2>/dev/null; then
    trap 'umount "$mnt" 2>/dev/null || true; example_cleanup' EXIT
    sed -i "s|audit: audit.log|audit: $mnt/audit.log|" pawld.yaml
    pawld_start "$tmp/pawld.yaml"
    req() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $owner" \
        "http://127.0.0.1:$proxy_port/api/v1/vehicles/1HGCM82633A004352/status"; }
    [ "$(req)" = 200 ] || fail "tmpfs: the first request"
    dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
    dd if=/dev/zero of="$mnt/filler2" bs=1 2>/dev/null || true
    for _ in $(seq 70); do # the quiet tail's checkpoint comes within 10 s
        curl -s "http://127.0.0.1:$admin_port/readyz" | grep -q 'anchor' && break
        sleep 0.2
    done
    curl -s "http://127.0.0.1:$admin_port/readyz" | grep -q 'anchor lags' ||
        fail "tmpfs: the failed anchor is not reported: $(curl -s "http://127.0.0.1:$admin_port/readyz")"
    rm -f "$mnt/filler" "$mnt/filler2"
    for _ in $(seq 30); do
        curl -s "http://127.0.0.1:$admin_port/readyz" | grep -q '"ready"' && break
        sleep 0.1
    done
    curl -s "http://127.0.0.1:$admin_port/readyz" | grep -q '"ready"' ||
        fail "tmpfs: not ready once there was room: $(curl -s "http://127.0.0.1:$admin_port/readyz")"
    [ "$(req)" = 200 ] && [ "$(req)" = 200 ] || fail "tmpfs: refused once there was room"
    pawld_stop
    "$PAWL_BIN" audit verify --key audit.pub "$mnt/audit.log" >verify.out 2>&1 || fail "tmpfs: $(cat verify.out)"
    umount "$mnt"
    echo "disk full: on a full tmpfs the anchor was tried again and written once there was room"
else
    echo "disk full: the tmpfs case needs root (mount); not run"
fi
echo "disk full: all passed"
