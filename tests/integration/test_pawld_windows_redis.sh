#!/usr/bin/env bash
# detect.windows: shared: two pawld instances behind one balancer judge the
# whole fleet's requests, through a real redis-server on loopback. A
# principal that walks consecutive VINs, alternately through A and B, is
# seen by neither alone (each sees every other VIN: no run) and blocked by
# both once they share the windows; the finding is written once, not
# twice. With Redis down each instance judges its own requests, alone.
# Batches of the stream that are not pawld's are ignored and counted.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
redis_pid= a_pid= b_pid= proxy_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
    for p in $a_pid $b_pid; do kill -9 "$p" 2>/dev/null || true; done
    example_cleanup
}
example_setup
trap cleanup EXIT
own=1HGCM82633A004352
redis_setup
write_config() { # NAME PROXY-PORT ADMIN-PORT WINDOWS
    cat >"$1.yaml" <<EOF
$(proxy_yaml 2 "$2" "$3")
logs: {json: $1.log, findings: $1.findings.jsonl}
detect:
  block: [enumeration]
  block_for: 1h
  redis: {server: 127.0.0.1:$redis_port, user: pawld, password_file: redis.pass}
  windows: $4
EOF
}
a_port=$(free_port) a_admin=$(free_port) b_port=$(free_port) b_admin=$(free_port)
owner=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
fleet=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" fleet-ops-7 '["fleet_manager"]')
fleet_car=WVWZZZ1JZXW000001
alternate() { # TOKEN FROM: ten consecutive VIN serials from FROM on, alternately through A and B
    local i=0 v port
    for v in $(consecutive_vins $(($2 + 10)) | tail -10); do
        port=$a_port
        [ $((i % 2)) = 1 ] && port=$b_port
        [ "$(vehicle_get "$port" "$1" "$v")" = 403 ] || fail "another car's VIN: $(cat body.json)"
        i=$((i + 1))
    done
}
start_both() { # WINDOWS
    write_config a "$a_port" "$a_admin" "$1"
    write_config b "$b_port" "$b_admin" "$1"
    admin_port=$a_admin pawld_start "$tmp/a.yaml"
    a_pid=$pawld_pid
    admin_port=$b_admin pawld_start "$tmp/b.yaml"
    b_pid=$pawld_pid
}
stop_both() {
    for p in $a_pid $b_pid; do kill -TERM "$p"; wait "$p" || true; done
    a_pid= b_pid=
}
findings() { # PRINCIPAL: its enumeration findings in both files
    cat a.findings.jsonl b.findings.jsonl 2>/dev/null | grep '"enumeration' | grep -c "\"uid\":\"$1\"" || true
}
redis_start

# 1. Local windows: a walk spread over A and B is seen by neither.
start_both local
alternate "$owner" 0
sleep 1
[ "$(vehicle_get "$a_port" "$owner" $own)" = 200 ] || fail "local windows: A blocked u-1042: $(cat body.json)"
[ "$(vehicle_get "$b_port" "$owner" $own)" = 200 ] || fail "local windows: B blocked u-1042: $(cat body.json)"
[ "$(findings u-1042)" = 0 ] || fail "local windows: a finding: $(cat a.findings.jsonl b.findings.jsonl)"
stop_both
echo "windows in redis: local windows, a walk spread over two instances: no finding, no block"

# 2. Shared windows: the same walk is one enumeration; both block, one writes.
start_both shared
[ "$(vehicle_get "$b_port" "$fleet" $fleet_car)" = 200 ] || fail "B before: $(cat body.json)"
alternate "$owner" 20
blocked_at "$a_port" "$owner" $own || fail "shared windows: A did not block u-1042: $(tail -3 a.log)"
blocked_at "$b_port" "$owner" $own || fail "shared windows: B did not block u-1042: $(tail -3 b.log)"
sleep 0.5 # both claimed
[ "$(findings u-1042)" = 1 ] || fail "shared windows: $(findings u-1042) findings: $(cat a.findings.jsonl b.findings.jsonl)"
told=$(($(metric "$a_admin" 'pawld_detect_events_shared_total{direction="told"}') +
        $(metric "$b_admin" 'pawld_detect_events_shared_total{direction="told"}')))
[ "$told" -ge 11 ] || fail "the instances told $told events (11 requests at least)"
elsewhere=$(($(metric "$a_admin" pawld_detect_findings_elsewhere_total) + $(metric "$b_admin" pawld_detect_findings_elsewhere_total)))
[ "$elsewhere" = 1 ] || fail "the other instance's finding was not counted as written elsewhere: $elsewhere"
[ "$(vehicle_get "$b_port" "$fleet" $fleet_car)" = 200 ] || fail "another principal was blocked too: $(cat body.json)"
echo "windows in redis: shared windows, the same walk: both block u-1042, one finding written ($told events told)"

# 3. Redis down: each instance judges its own requests alone.
redis_stop
for v in $(consecutive_vins 60 | tail -10); do vehicle_get "$a_port" "$fleet" "$v" >/dev/null; done
blocked_at "$a_port" "$fleet" $fleet_car || fail "Redis down: A did not block fleet-ops-7: $(tail -3 a.log)"
for _ in $(seq 50); do [ "$(metric "$a_admin" pawld_detect_events_alone_total)" -ge 10 ] && break; sleep 0.1; done
[ "$(metric "$a_admin" pawld_detect_events_alone_total)" -ge 10 ] || fail "A did not count the events it judged alone"
grep -q 'the detectors judge this instance.s requests alone' a.log || fail "A did not say it judges alone: $(tail -3 a.log)"
[ "$(findings fleet-ops-7)" = 1 ] || fail "Redis down: $(findings fleet-ops-7) findings for fleet-ops-7"
redis_start
echo "windows in redis: Redis down, A judged its own requests alone and blocked fleet-ops-7"

# 4. Batches pawld does not write are ignored and counted.
ok=$(metric "$b_admin" 'pawld_block_syncs_total{result="ok"}')
for _ in $(seq 50); do # B is back on Redis
    [ "$(metric "$b_admin" 'pawld_block_syncs_total{result="ok"}')" -gt "$ok" ] && break
    sleep 0.1
done
refused=$(metric "$b_admin" pawld_detect_events_refused_total)
rcli xadd pawl:blocks:events '*' from ffff b 'not a batch' >/dev/null
rcli xadd pawl:blocks:events '*' from ffff >/dev/null
for _ in $(seq 50); do [ "$(metric "$b_admin" pawld_detect_events_refused_total)" -ge $((refused + 2)) ] && break; sleep 0.1; done
[ "$(metric "$b_admin" pawld_detect_events_refused_total)" = $((refused + 2)) ] || fail "B did not count the 2 forged batches"
kill -0 "$b_pid" || fail "B died on a forged batch"
[ "$(vehicle_get "$b_port" "$owner" $own)" = 403 ] || fail "B forgot its block: $(cat body.json)"
echo "windows in redis: batches pawld does not write are ignored and counted"

# lift_both: u-1042's block lifted (on A, shared to B), both serve it again;
# after the last walk was judged whole (the horizon, 300 ms, and a sync: its
# requests after the finding's are repeats that block again)
lift_both() {
    sleep 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$a_admin/blocks?principal=u-1042")" = 200 ] ||
        fail "the lift on A"
    for _ in $(seq 50); do [ "$(vehicle_get "$b_port" "$owner" $own)" = 200 ] && break; sleep 0.1; done
    [ "$(vehicle_get "$b_port" "$owner" $own)" = 200 ] || fail "B did not learn the lift: $(cat body.json)"
}

# 5. An entry no reader takes (40,000 fields: hiredis's reader is bounded
# at 65,536 elements) is skipped after two failed reads; before review 17
# it stopped the sharing at every instance until it was trimmed.
lift_both
refused=$(metric "$a_admin" pawld_detect_events_refused_total)
rcli xadd pawl:blocks:events '*' $(for i in $(seq 40000); do echo "f$i v"; done) >/dev/null
sleep 0.5 # both stuck on it, then past it
for _ in $(seq 80); do grep -q 'no reader takes it: skipped' a.log && grep -q 'no reader takes it: skipped' b.log && break; sleep 0.1; done
grep -q 'pawl:blocks:events: entry [0-9-]* has more fields or bytes than any pawld writes, and no reader takes it: skipped' a.log ||
    fail "A did not skip the entry it cannot read: $(grep detect a.log | tail -3)"
[ "$(metric "$a_admin" pawld_detect_events_refused_total)" -gt "$refused" ] || fail "A did not count the skipped entry"
alternate "$owner" 100
blocked_at "$b_port" "$owner" $own || fail "after the entry no reader takes, B did not block u-1042: $(tail -3 b.log)"
blocked_at "$a_port" "$owner" $own || fail "after the entry no reader takes, A did not block u-1042: $(tail -3 a.log)"
echo "windows in redis: an entry no reader takes is skipped, and the instances share again"

# 6. A forged entry id ahead of Redis's clock (every later id would follow
# it, and no entry could be trimmed any more, review 17): the stream is
# deleted and started again; the instances share again.
lift_both
rcli xadd pawl:blocks:events 99999999999999-0 from ffff b x >/dev/null
for _ in $(seq 50); do grep -q 'its ids are ahead of Redis.s clock' a.log b.log && break; sleep 0.1; done
grep -q 'its ids are ahead of Redis.s clock.*deleted' a.log b.log || fail "no instance restarted the stream"
first=$(rcli xrange pawl:blocks:events - + count 1 | head -1)
case "$first" in 9999*) fail "the forged id is still first: $first" ;; esac
alternate "$owner" 200
blocked_at "$a_port" "$owner" $own || fail "after the forged id, A did not block u-1042: $(tail -3 a.log)"
blocked_at "$b_port" "$owner" $own || fail "after the forged id, B did not block u-1042: $(tail -3 b.log)"
echo "windows in redis: a forged id ahead of the clock: the stream started again, the instances share again"
stop_both

# 7. An XADD that Redis ran but whose answer was lost (the connection
# closed at the wrong moment, through lossy_proxy.py): the batch is judged
# here alone, and skipped when read back, so every request is judged once
# (review 17: that batch was judged twice).
proxy_port=$(free_port) c_port=$(free_port) c_admin=$(free_port)
$py "$here/lossy_proxy.py" "$proxy_port" "$redis_port" "$tmp/drop" "$tmp/delay" "XADD,pawl:blocks:events" &
proxy_pid=$!
wait_port "$proxy_port" "$proxy_pid" || fail "the proxy did not start"
real_port=$redis_port redis_port=$proxy_port
write_config c "$c_port" "$c_admin" shared
redis_port=$real_port
admin_port=$c_admin pawld_start "$tmp/c.yaml"
a_pid=$pawld_pid
sent=0
for _ in $(seq 5); do vehicle_get "$c_port" "$owner" $own >/dev/null; sent=$((sent + 1)); done
sleep 0.5
touch "$tmp/drop"
for _ in $(seq 10); do vehicle_get "$c_port" "$owner" $own >/dev/null; sent=$((sent + 1)); done
for _ in $(seq 50); do [ -e "$tmp/drop" ] || break; sleep 0.1; done
[ -e "$tmp/drop" ] && fail "C sent no XADD of its events through the proxy"
ok=$(metric "$c_admin" 'pawld_block_syncs_total{result="ok"}')
for _ in $(seq 60); do # past the back-off, and its own entries read back
    [ "$(metric "$c_admin" 'pawld_block_syncs_total{result="ok"}')" -gt $((ok + 3)) ] && break
    sleep 0.1
done
alone=$(metric "$c_admin" pawld_detect_events_alone_total)
read=$(metric "$c_admin" 'pawld_detect_events_shared_total{direction="read"}')
[ "$alone" -gt 0 ] || fail "C judged nothing alone: the XADD's answer was not lost"
[ $((alone + read)) = "$sent" ] || fail "C judged $alone requests alone and read $read back, for $sent requests"
kill "$proxy_pid"
echo "windows in redis: a batch whose XADD answer was lost: judged alone ($alone), not again when read back ($read read)"
