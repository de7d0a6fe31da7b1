#!/usr/bin/env bash
# detect.redis: two pawld instances behind one balancer hold the blocks
# their detectors set (detect.block) through a real redis-server on
# loopback (a block held only by the instance whose detector fired, and the
# balancer sent the blocked principal to the other). A principal that walks
# consecutive VINs through A is refused by B too; a block lifted on B's
# admin listener is lifted on A; a block A sets while Redis is down reaches
# B once Redis is back; an instance started later holds every live block
# from the start. --check warns of a Redis it cannot reach; detect.redis
# with local windows and without detect.block is an error; a reload that changes it is refused.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
redis_pid= a_pid= b_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    for p in $a_pid $b_pid; do kill -9 "$p" 2>/dev/null || true; done
    example_cleanup
}
example_setup
trap cleanup EXIT
own=1HGCM82633A004352
redis_setup
write_config() { # NAME PROXY-PORT ADMIN-PORT
    cat >"$1.yaml" <<EOF
$(proxy_yaml 2 "$2" "$3")
logs: {json: $1.log, findings: $1.findings.jsonl}
detect:
  block: [enumeration]
  block_for: 1h
  redis: {server: 127.0.0.1:$redis_port, user: pawld, password_file: redis.pass}
  windows: local # the blocks alone (test_pawld_windows_redis.sh shares the windows)
EOF
}
a_port=$(free_port) a_admin=$(free_port) b_port=$(free_port) b_admin=$(free_port)
write_config a "$a_port" "$a_admin"
write_config b "$b_port" "$b_admin"
owner=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
fleet=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" fleet-ops-7 '["fleet_manager"]')
fleet_car=WVWZZZ1JZXW000001
walk() { # PORT TOKEN: consecutive VIN serials, each refused by the policy: enumeration
    local v
    for v in $(consecutive_vins 10); do
        [ "$(vehicle_get "$1" "$2" "$v")" = 403 ] || fail "another car's VIN: $(cat body.json)"
    done
}

# 1. --check: a Redis it cannot reach is a warning; detect.redis needs detect.block.
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check refused a Redis that is down: $out"
grep -q "warning: detect.redis: 127.0.0.1:$redis_port: Connection refused: each pawld instance holds only the blocks its own detectors set" \
    <<<"$out" || fail "--check did not warn of the Redis it cannot reach: $out"
redis_start
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check: $out"
grep -q "detect.redis" <<<"$out" && fail "--check warned of a Redis that answers: $out"
sed '/^  block: /d' a.yaml >noblock.yaml
check_refuses noblock.yaml "detect.redis with windows: local shares only the blocks: it needs detect.block"
echo "blocks in redis: --check warns of a Redis down; detect.redis needs detect.block"

# 2. A blocks u-1042; B refuses it too, and never forwards its request.
admin_port=$a_admin pawld_start "$tmp/a.yaml"
a_pid=$pawld_pid
admin_port=$b_admin pawld_start "$tmp/b.yaml"
b_pid=$pawld_pid
[ "$(vehicle_get "$b_port" "$owner" $own)" = 200 ] || fail "B before: $(cat body.json)"
walk "$a_port" "$owner"
blocked_at "$a_port" "$owner" $own || fail "A did not block u-1042: $(tail -3 a.log)"
for _ in $(seq 50); do # no request meanwhile: until B learns it, B serves u-1042 (the lag)
    [ "$(metric "$b_admin" 'pawld_blocks_shared_total{direction="learnt"}')" -ge 1 ] && break
    sleep 0.1
done
before=$(recorded)
[ "$(vehicle_get "$b_port" "$owner" $own)" = 403 ] && grep -q blocked_by_detector body.json ||
    fail "B did not learn A's block: $(cat body.json) $(tail -3 b.log)"
[ "$(recorded)" = "$before" ] || fail "B forwarded a blocked principal's request"
grep -q '"msg":"blocked by another pawld (detect.redis)","principal":"u-1042","detector":"enumeration"' b.log ||
    fail "B did not log the block it learnt: $(tail -3 b.log)"
curl -fsS "http://127.0.0.1:$b_admin/blocks" >blocks.json
grep -q '"subject":"u-1042"' blocks.json || fail "B's /blocks does not list u-1042: $(cat blocks.json)"
[ "$(vehicle_get "$b_port" "$fleet" $fleet_car)" = 200 ] || fail "another principal was blocked too: $(cat body.json)"
echo "blocks in redis: u-1042, blocked by A's detector, is refused by B"

# 3. Lifted on B's admin listener: lifted on A too.
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$b_admin/blocks?principal=u-1042")" = 200 ] ||
    fail "the lift on B"
for _ in $(seq 50); do [ "$(vehicle_get "$a_port" "$owner" $own)" = 200 ] && break; sleep 0.1; done
[ "$(vehicle_get "$a_port" "$owner" $own)" = 200 ] || fail "A still blocks u-1042 after B lifted it: $(cat body.json)"
grep -q '"msg":"block lifted by another pawld (detect.redis)","principal":"u-1042"' a.log ||
    fail "A did not log the lift: $(tail -3 a.log)"
echo "blocks in redis: lifted on B, lifted on A"

# 4. Redis down: A's block waits for it, and reaches B once it is back.
redis_stop
walk "$a_port" "$fleet"
blocked_at "$a_port" "$fleet" $fleet_car || fail "A did not block fleet-ops-7: $(tail -3 a.log)"
[ "$(vehicle_get "$b_port" "$fleet" $fleet_car)" = 200 ] || fail "B, with Redis down, knew of the block: $(cat body.json)"
failed=$(metric "$a_admin" 'pawld_block_syncs_total{result="failed"}')
for _ in $(seq 50); do # a sync fails with the block waiting: it must wait on
    [ "$(metric "$a_admin" 'pawld_block_syncs_total{result="failed"}')" -gt "$failed" ] && break
    sleep 0.1
done
[ "$(metric "$a_admin" 'pawld_block_syncs_total{result="failed"}')" -gt "$failed" ] || fail "A did not try Redis again"
grep -q 'detect.redis: cannot share the blocks' a.log || fail "A did not log the failed sync: $(tail -3 a.log)"
redis_start
blocked_at "$b_port" "$fleet" $fleet_car || fail "B did not learn the block A set while Redis was down: $(tail -3 b.log)"
echo "blocks in redis: a block set while Redis was down reached B when it came back"

# 5. An instance started later holds the live blocks from the start.
kill -TERM "$b_pid"
wait "$b_pid" || true
b_pid=
admin_port=$b_admin pawld_start "$tmp/b.yaml"
b_pid=$pawld_pid
[ "$(vehicle_get "$b_port" "$fleet" $fleet_car)" = 403 ] && grep -q blocked_by_detector body.json ||
    fail "B, restarted, forgot the live block: $(cat body.json)"
[ "$(vehicle_get "$b_port" "$owner" $own)" = 200 ] || fail "B, restarted, blocks the lifted u-1042: $(cat body.json)"
echo "blocks in redis: B, restarted, holds the live block and not the lifted one"

# 6. A blocked principal that goes on walking extends its block with every
# request; the stream gets an entry only when an extension adds a tenth of
# block_for (review 15: one per request, which filled the queue and Redis).
before=$(rcli xlen pawl:blocks:log)
codes=$(for v in $(consecutive_vins 150); do vehicle_get "$a_port" "$fleet" "$v"; echo; done | sort | uniq -c | tr -s ' \n' ' ')
sleep 0.3
after=$(rcli xlen pawl:blocks:log)
[ $((after - before)) -le 2 ] || fail "150 requests of a blocked principal added $((after - before)) entries ($codes)"
echo "blocks in redis: 150 more requests of a blocked principal added $((after - before)) entries to the stream"

# 7. While Redis is down, A blocks u-1042 and its admin lifts the block,
# and B blocks u-1042 on its own: once Redis is back the lift and B's block
# cross in the stream, and both instances hold what it says, the same,
# whichever came first (review 15: each skipped its own entries, and they
# disagreed for good).
redis_stop
for v in $(consecutive_vins 190 | tail -20); do vehicle_get "$a_port" "$owner" "$v" >/dev/null; done
blocked_at "$a_port" "$owner" $own || fail "A did not block u-1042 again: $(tail -3 a.log)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$a_admin/blocks?principal=u-1042")" = 200 ] ||
    fail "the lift on A"
for v in $(consecutive_vins 220 | tail -20); do vehicle_get "$b_port" "$owner" "$v" >/dev/null; done
blocked_at "$b_port" "$owner" $own || fail "B did not block u-1042: $(tail -3 b.log)"
[ "$(vehicle_get "$a_port" "$owner" $own)" = 200 ] || fail "A, lifted, blocks u-1042: $(cat body.json)"
redis_start
a_ok=$(metric "$a_admin" 'pawld_block_syncs_total{result="ok"}') b_ok=$(metric "$b_admin" 'pawld_block_syncs_total{result="ok"}')
for _ in $(seq 100); do # both told and read the other's
    [ "$(metric "$a_admin" 'pawld_block_syncs_total{result="ok"}')" -gt $((a_ok + 2)) ] &&
        [ "$(metric "$b_admin" 'pawld_block_syncs_total{result="ok"}')" -gt $((b_ok + 2)) ] && break
    sleep 0.1
done
a_says=$(vehicle_get "$a_port" "$owner" $own) b_says=$(vehicle_get "$b_port" "$owner" $own)
[ "$a_says" = "$b_says" ] || fail "A answers $a_says and B $b_says for u-1042 after a crossed lift and block"
echo "blocks in redis: a lift and a block crossed during an outage: both instances answer $a_says"

# 8. Entries pawld does not write (anyone with the Redis password can add
# them) are ignored and counted: a detector that is no detector, a block of
# a hundred years, an unknown op (review 15: a forged log line, a block for
# ever).
refused=$(metric "$b_admin" pawld_block_entries_refused_total) unshared=$(metric "$b_admin" pawld_blocks_unshared_total)
rcli xadd pawl:blocks:log '*' op block kind principal subject evil-1 detector 'x","msg":"forged' for 60000 from ffff >/dev/null
rcli xadd pawl:blocks:log '*' op block kind principal subject evil-2 detector enumeration for 3153600000000 from ffff >/dev/null
rcli xadd pawl:blocks:log '*' op unblock kind principal subject evil-3 detector enumeration for 60000 from ffff >/dev/null
for _ in $(seq 50); do [ "$(metric "$b_admin" pawld_block_entries_refused_total)" -ge $((refused + 3)) ] && break; sleep 0.1; done
[ "$(metric "$b_admin" pawld_block_entries_refused_total)" = $((refused + 3)) ] || fail "B did not count the 3 forged entries"
[ "$(metric "$b_admin" pawld_blocks_unshared_total)" = "$unshared" ] || fail "the forged entries were counted as unshared"
grep -q '"msg":"forged"' b.log && fail "a forged entry wrote a line of its own into B's log"
curl -fsS "http://127.0.0.1:$b_admin/blocks" >blocks.json
grep -q evil blocks.json && fail "B holds a forged block: $(cat blocks.json)"
grep -q 'detect.redis: an entry of the stream is not one pawld writes: ignored' b.log || fail "B did not log the forged entries"
echo "blocks in redis: entries pawld does not write are ignored and counted"

# 8b. An entry id ahead of Redis's clock (every later id would follow it,
# and every later block entry be refused as forged, review 17): the stream
# is started again; a lift on B reaches A, and so does a block B sets
# (review 18: a lift alone proved nothing, lifts carry no time).
rcli xadd pawl:blocks:log 99999999999999-0 op lift kind principal subject evil-4 from ffff >/dev/null
for _ in $(seq 50); do grep -q 'pawl:blocks:log: its ids are ahead of Redis.s clock' a.log b.log && break; sleep 0.1; done
grep -q 'pawl:blocks:log: its ids are ahead of Redis.s clock.*deleted' a.log b.log || fail "no instance started the stream again"
[ "$(vehicle_get "$a_port" "$fleet" $fleet_car)" = 403 ] || fail "A does not block fleet-ops-7 any more: $(cat body.json)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$b_admin/blocks?principal=fleet-ops-7")" = 200 ] ||
    fail "the lift on B"
for _ in $(seq 50); do [ "$(vehicle_get "$a_port" "$fleet" $fleet_car)" = 200 ] && break; sleep 0.1; done
[ "$(vehicle_get "$a_port" "$fleet" $fleet_car)" = 200 ] || fail "after the forged id, A did not learn B's lift: $(cat body.json)"
for v in $(consecutive_vins 310 | tail -10); do vehicle_get "$b_port" "$fleet" "$v" >/dev/null; done
blocked_at "$b_port" "$fleet" $fleet_car || fail "B did not block fleet-ops-7 again: $(tail -3 b.log)"
blocked_at "$a_port" "$fleet" $fleet_car || fail "after the forged id, A did not learn B's block: $(tail -3 a.log)"
echo "blocks in redis: an entry id ahead of the clock: the stream started again, B's lift and block reached A"

# 9. A reload that changes detect.redis is refused.
sed -i 's/password_file: redis.pass}/password_file: redis.pass, timeout: 50ms}/' a.yaml
kill -HUP "$a_pid"
for _ in $(seq 60); do grep -q 'reload refused: detect.redis changed' a.log && break; sleep 0.05; done
grep -q 'reload refused: detect.redis changed' a.log || fail "A took a changed detect.redis: $(tail -3 a.log)"
echo "blocks in redis: a reload that changes detect.redis is refused"
