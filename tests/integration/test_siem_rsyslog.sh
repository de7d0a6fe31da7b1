#!/usr/bin/env bash
# Alerts to a real rsyslog (Debian's, with its OpenSSL driver) over TLS with
# client certificates, started and restarted by the test on loopback: every
# finding arrives exactly once, when rsyslog restarts in the middle of a run
# and when it is down for a whole run (the alerts wait in the spool and go
# first on the next run).
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
rs_pid=
cleanup() {
    [ -n "$rs_pid" ] && kill "$rs_pid" 2>/dev/null || true
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$rsyslogd" ] || fail "rsyslog is not installed (deps/debian-packages.txt)"
ls /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1 || fail "rsyslog-openssl is not installed (deps/debian-packages.txt)"
py=/usr/bin/python3
cd "$tmp"
bash "$PAWL_SRC/scripts/gen-certs.sh" "$tmp/certs" >/dev/null
port=$($py "$PAWL_SRC/tests/integration/free_port.py" $$)
mkdir rs
cat >rsyslog.conf <<EOF2
global(workDirectory="$tmp/rs" DefaultNetstreamDriver="ossl"
       DefaultNetstreamDriverCAFile="$tmp/certs/ca.pem"
       DefaultNetstreamDriverCertFile="$tmp/certs/server.pem"
       DefaultNetstreamDriverKeyFile="$tmp/certs/server.key")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" port="$port" address="127.0.0.1")
template(name="raw" type="string" string="%msg%\n")
action(type="omfile" file="$tmp/received.log" template="raw")
EOF2
rs_start() {
    "$rsyslogd" -n -f rsyslog.conf -i "$tmp/rs/pid" >>rs.out 2>&1 &
    rs_pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    fail "rsyslog did not start: $(tail -3 rs.out)"
}
rs_stop() {
    kill "$rs_pid"
    wait "$rs_pid" 2>/dev/null || true
    rs_pid=
}
siem=(--siem "127.0.0.1:$port" --siem-ca certs/ca.pem --siem-cert certs/client-ota.pem
      --siem-key certs/client-ota.key --siem-spool spool)
$py "$here/gen_fleet_traffic.py" g1 11 >/dev/null
$py "$here/gen_fleet_traffic.py" g2 23 >/dev/null

# 1. rsyslog restarts while pawl analyze is running
rs_start
$py "$here/slow_feed.py" g1/events.jsonl $((1795000000000 + 52200000)) half resume |
    "$PAWL_BIN" analyze --events - --grants g1/grants.jsonl --findings f1.jsonl --inventory /dev/null \
        "${siem[@]}" --siem-timeout 30 2>err1 &
an=$!
for _ in $(seq 300); do [ -f half ] && break; sleep 0.1; done
[ -f half ] || fail "the feed did not reach its middle"
sleep 0.5
rs_stop
sleep 0.5
rs_start
touch resume
wait "$an" || fail "analyze across the restart: $(cat err1)"
# 2. rsyslog down for a whole run, then up for the next
rs_stop
rc=0
"$PAWL_BIN" analyze --events g2/events.jsonl --grants g2/grants.jsonl --findings f2.jsonl --inventory /dev/null \
    "${siem[@]}" --siem-timeout 2 2>err2 || rc=$?
[ "$rc" = 4 ] && grep -q "not delivered yet" err2 || fail "receiver down: exit $rc, $(cat err2)"
rs_start
: >empty.jsonl
"$PAWL_BIN" analyze --events empty.jsonl --findings f3.jsonl --inventory /dev/null "${siem[@]}" 2>err3 ||
    fail "the spooled alerts were not delivered: $(cat err3)"
rs_stop
# every finding exactly once
$py - f1.jsonl f2.jsonl received.log <<'PY' || fail "alerts lost or duplicated"
import collections, json, re, sys
want = []
for f in sys.argv[1:3]:
    want += [json.loads(l)["finding_info"]["uid"] for l in open(f)]
got = collections.Counter(re.search(r"externalId=(\S+)$", l).group(1) for l in open(sys.argv[3]) if "externalId=" in l)
missing = [u for u in want if got[u] == 0]
twice = [u for u, n in got.items() if n > 1]
extra = [u for u in got if u not in want]
print("siem: %d findings (%d in the run with the restart, %d while rsyslog was down), %d received, "
      "%d missing, %d twice, %d unknown" % (len(want), sum(1 for _ in open(sys.argv[1])),
      sum(1 for _ in open(sys.argv[2])), sum(got.values()), len(missing), len(twice), len(extra)))
sys.exit(0 if not missing and not twice and not extra and len(want) > 20 else 1)
PY
echo "siem: every alert reached rsyslog exactly once, across a restart and a whole run without it"
