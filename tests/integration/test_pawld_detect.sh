#!/usr/bin/env bash
# pawld runs libpawl's detectors inline (logs.findings): a client walking
# consecutive VIN serials is refused by the policy and, from its eighth
# request, reported as enumeration; a reload swaps the grants the detectors
# read without stopping them.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
example_setup
proxy_port=$(free_port) admin_port=$(free_port)
cat >pawld.yaml <<EOF2
$(pawld_yaml_head 2)
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams: {backend: {servers: [http://127.0.0.1:$backend_port]}}
routes: {default: backend}
logs: {json: pawld.log, findings: findings.jsonl}
EOF2
pawld_start "$tmp/pawld.yaml"
tok=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
vins=$(consecutive_vins 10)
get() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://127.0.0.1:$proxy_port/api/v1/vehicles/$1/status"; }
n=0
for v in $vins; do
    n=$((n + 1))
    code=$(get "$v")
    [ "$code" = 403 ] || fail "request $n for another car's VIN got $code"
    if [ $n = 7 ]; then
        [ ! -s findings.jsonl ] || fail "a finding after 7 requests: $(cat findings.jsonl)"
        kill -HUP "$pawld_pid"   # a reload in the middle: the detectors go on
        for _ in $(seq 50); do grep -q '"reloaded"' pawld.log && break; sleep 0.1; done
    fi
done
for _ in $(seq 20); do [ -s findings.jsonl ] && break; sleep 0.1; done
$py - findings.jsonl <<'PY' || fail "no enumeration finding: $(cat findings.jsonl)"
import json, sys
f = [json.loads(l) for l in open(sys.argv[1])]
e = [x for x in f if x["finding_info"]["analytic"]["name"] == "enumeration"]
assert e and e[0]["actor"]["user"]["uid"] == "u-1042" and e[0]["class_uid"] == 2004, f
assert e[0]["attacks"][0]["technique"]["uid"] == "API1:2023"
print("pawld: enumeration found inline after", e[0]["finding_info"]["related_events_count"], "requests")
PY
[ "$(get 1HGCM82633A004352)" = 200 ] || fail "the owner's own car after the findings"
# an escaped character hides nothing: the walk again, first characters escaped,
# by another principal, is the same enumeration
s2=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-2042 '["owner"]')
for v in $(consecutive_vins 10); do
    curl -s -o /dev/null -H "Authorization: Bearer $s2" \
        "http://127.0.0.1:$proxy_port/api/v1/vehicles/%$(printf '%x' "'${v:0:1}")${v:1}/status"
done
for _ in $(seq 20); do grep -q '"uid":"u-2042"' findings.jsonl && break; sleep 0.1; done
grep '"uid":"u-2042"' findings.jsonl | grep -q '"name":"enumeration"' ||
    fail "a walk with escaped VINs made no enumeration finding"
curl -s "http://127.0.0.1:$admin_port/metrics" | grep '^pawld_detector_untracked_total 0$' >/dev/null ||
    fail "no pawld_detector_untracked_total in /metrics"
# the findings by detector, as many as the findings file holds
curl -s "http://127.0.0.1:$admin_port/metrics" >metrics.txt
want=$(grep -c '"name":"enumeration"' findings.jsonl)
grep -q "^pawld_detector_findings_total{detector=\"enumeration\"} $want\$" metrics.txt ||
    fail "pawld_detector_findings_total for $want enumeration findings: $(grep findings_total metrics.txt)"
grep -q '^pawld_detector_findings_total{detector="bola"} 0$' metrics.txt ||
    fail "a detector without findings is not at 0: $(grep findings_total metrics.txt)"
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc: $(tail -5 pawld.stderr)"
echo "pawld detect: inline detectors write findings, across a reload"
