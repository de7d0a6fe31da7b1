#!/usr/bin/env bash
# rate_limits.redis: two pawld instances behind one balancer hold the
# policy's rate limits together through a real redis-server on loopback
# (each let the whole limit through before: two instances, twice the
# limit). The route vehicle-location allows an owner a burst of 10: after 6
# through A, B lets through 4 and refuses the next, where alone it would
# have let through 10. With Redis down each instance limits alone and no
# request waits for Redis; with Redis back the sharing resumes. An instance
# started while Redis is down shares once Redis answers. A new seed in
# Redis is adopted. --check warns of a Redis it cannot reach or whose user
# may not run the script; rate_limits without redis is an error; a reload
# that changes rate_limits is refused.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
redis_pid= a_pid= b_pid= c_pid= d_pid= f_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    for p in $a_pid $b_pid $c_pid $d_pid $f_pid; do kill -9 "$p" 2>/dev/null || true; done
    example_cleanup
}
example_setup
trap cleanup EXIT
V=1HGCM82633A004352
redis_setup
write_config() { # NAME PROXY-PORT ADMIN-PORT
    cat >"$1.yaml" <<EOF
$(proxy_yaml 2 "$2" "$3")
rate_limits:
  redis: {server: 127.0.0.1:$redis_port, user: pawld, password_file: redis.pass, timeout: 100ms}
  sync: 50ms
logs: {json: $1.log}
EOF
}
a_port=$(free_port) a_admin=$(free_port) b_port=$(free_port) b_admin=$(free_port)
write_config a "$a_port" "$a_admin"
write_config b "$b_port" "$b_admin"
owner=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]' "" 3600)
locate() { # PORT: the status of one vehicle-location request (the policy: burst 10 per owner)
    curl -sS -o body.json -w '%{http_code}' "http://127.0.0.1:$1/api/v1/vehicles/$V/location" \
        -H "Authorization: Bearer $owner"
}
statuses() { # PORT N: the statuses of N requests, space-separated
    local s=() i
    for ((i = 0; i < $2; i++)); do s+=("$(locate "$1")"); done
    echo "${s[*]}"
}
synced() { # ADMIN-PORT: returns once the instance has synced twice more
    local want=$(($(metric "$1" 'pawld_rate_limit_syncs_total{result="ok"}') + 2))
    for _ in $(seq 100); do
        [ "$(metric "$1" 'pawld_rate_limit_syncs_total{result="ok"}')" -ge "$want" ] && return 0
        sleep 0.05
    done
    fail "the instance on $1 did not sync: $(tail -3 "$tmp"/*.log)"
}
failed_syncs() { metric "$1" 'pawld_rate_limit_syncs_total{result="failed"}'; }

# 1. --check: a Redis it cannot reach is a warning; a user that may not run
# the script too; rate_limits without redis is an error.
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check refused a Redis that is down: $out"
grep -q "warning: rate_limits.redis: 127.0.0.1:$redis_port: Connection refused: each pawld instance applies the rate limits alone" \
    <<<"$out" || fail "--check did not warn of the Redis it cannot reach: $out"
redis_start
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check: $out"
grep -q "rate_limits" <<<"$out" && fail "--check warned of a Redis that answers: $out"
rcli acl setuser notime on '>pw2' '~pawl:rl:*' +set +get +eval +auth >/dev/null
echo pw2 >notime.pass
sed -e 's/user: pawld, password_file: redis.pass/user: notime, password_file: notime.pass/' a.yaml >notime.yaml
out=$("$PAWLD_BIN" --config notime.yaml --check 2>&1) || fail "--check: $out"
grep -q "warning: rate_limits.redis: EVAL (pawld shares the rate limits with a script): .*can't run this command" <<<"$out" ||
    fail "--check did not warn of a user that may not read the clock: $out"
rcli config set maxmemory 64mb >/dev/null
rcli config set maxmemory-policy allkeys-lru >/dev/null
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check: $out"
grep -q "warning: rate_limits.redis: maxmemory-policy allkeys-lru with maxmemory set: Redis may evict the shared counts" \
    <<<"$out" || fail "--check did not warn of an evicting Redis: $out"
rcli config set maxmemory-policy noeviction >/dev/null
rcli config set maxmemory 0 >/dev/null
sed '/^  redis: /d' a.yaml >noredis.yaml
check_refuses noredis.yaml "rate_limits: needs redis:"
sed 's/sync: 50ms/sync: 1ms/' a.yaml >fast.yaml
check_refuses fast.yaml "rate_limits.sync must be from 10ms to 10s"
echo "rate limits in redis: --check warns of a Redis down or a user without TIME; rate_limits needs redis"

# 2. Two instances, one limit: 6 through A, then B lets 4 through.
admin_port=$a_admin pawld_start "$tmp/a.yaml"
a_pid=$pawld_pid
admin_port=$b_admin pawld_start "$tmp/b.yaml"
b_pid=$pawld_pid
[ "$(metric "$a_admin" pawld_rate_limit_shared)" = 1 ] || fail "A does not share: $(cat a.log)"
seed=$(rcli get pawl:rl:seed)
[[ $seed =~ ^[0-9a-f]{16}$ ]] || fail "no seed in Redis: '$seed'"
before=$(recorded)
got=$(statuses "$a_port" 6)
[ "$got" = "200 200 200 200 200 200" ] || fail "A, 6 requests: $got"
synced "$a_admin"
# B has not charged this key yet: it lets one through on its own count, and
# learns the 6 at its next sync (docs/gateway.md: an instance learns a key's
# shared count when it charges it)
[ "$(locate "$b_port")" = 200 ] || fail "B's first: $(cat body.json)"
synced "$b_admin"
got=$(statuses "$b_port" 4)
[ "$got" = "200 200 200 429" ] || fail "B after A's 6 and its own 1 (burst 10 in all): $got"
grep -q '"reason":"rate_limited"' body.json || fail "B's refusal: $(cat body.json)"
[ "$(($(recorded) - before))" = 10 ] || fail "the backend got $(($(recorded) - before)) requests, not 10"
# the count is in Redis (a key with a lifetime), and A learns it too
# (the route's key lives a second past its TAT, 11 minutes ahead; the
# principal's, a million a second, owes microseconds at most)
ttl=0
for k in $(rcli --scan --pattern 'pawl:rl:*' | grep -v -x -e pawl:rl:seed -e pawl:rl:probe); do
    t=$(rcli pttl "$k")
    [ "$t" -gt 0 ] || fail "the rate-limit key $k has no lifetime ($t)"
    [ "$t" -gt "$ttl" ] && ttl=$t
done
[ "$ttl" -gt 500000 ] || fail "no key in Redis holds the route's count (longest lifetime: $ttl ms)"
[ "$(locate "$a_port")" = 200 ] || fail "A's 7th (its own count: 6): $(cat body.json)"
synced "$a_admin"
[ "$(locate "$a_port")" = 429 ] || fail "A after learning of B's: $(cat body.json)"
echo "rate limits in redis: 6 through A, then B refused the 5th it saw; A learnt it"

# 3. Redis down: each limits alone, no request waits for it; back: shared.
redis_stop
other=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]' "" 3599) # same owner: still limited
t0=$(date +%s%N)
[ "$(curl -sS -o body.json -w '%{http_code}' "http://127.0.0.1:$b_port/api/v1/vehicles/$V/location" \
    -H "Authorization: Bearer $other")" = 429 ] || fail "B with Redis down forgot the limit: $(cat body.json)"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$b_port/api/v1/vehicles/$V/status" \
    -H "Authorization: Bearer $owner")" = 200 ] || fail "B with Redis down refused an allowed request"
ms=$((($(date +%s%N) - t0) / 1000000))
for _ in $(seq 100); do [ "$(failed_syncs "$b_admin")" -ge 1 ] && break; sleep 0.05; done
[ "$(failed_syncs "$b_admin")" -ge 1 ] || fail "B did not count a failed sync"
grep -q 'rate_limits.redis: cannot share the rate limits: each instance limits alone until Redis answers' b.log ||
    fail "B did not log the failed sync: $(tail -3 b.log)"
for _ in $(seq 40); do [ "$(metric "$b_admin" pawld_rate_limit_unshared_total)" -ge 1 ] && break; sleep 0.05; done
[ "$(metric "$b_admin" pawld_rate_limit_unshared_total)" -ge 1 ] ||
    fail "B could tell nobody of the status request, yet did not count it as unshared"
redis_start # its append-only file kept the seed and the counts
for _ in $(seq 60); do [ "$(rcli get pawl:rl:seed)" = "$seed" ] && break; sleep 0.1; done
[ "$(rcli get pawl:rl:seed)" = "$seed" ] || fail "Redis lost the seed over a restart"
synced "$b_admin"
echo "rate limits in redis: with Redis down B kept its limits (two requests answered in $ms ms); back, it syncs"

# 4. An instance started while Redis is down shares once it answers, and a
# new seed in Redis is adopted: keys derived from it, the counts afresh.
kill -TERM "$b_pid"
wait "$b_pid" || true
b_pid=
redis_stop
admin_port=$b_admin pawld_start "$tmp/b.yaml"
b_pid=$pawld_pid
[ "$(metric "$b_admin" pawld_rate_limit_shared)" = 0 ] || fail "B shares without Redis"
grep -q 'cannot get the shared seed: this instance limits alone until Redis answers' b.log ||
    fail "B did not say it limits alone: $(tail -3 b.log)"
redis_start
for _ in $(seq 60); do [ "$(metric "$b_admin" pawld_rate_limit_shared)" = 1 ] && break; sleep 0.1; done
[ "$(metric "$b_admin" pawld_rate_limit_shared)" = 1 ] || fail "B did not start sharing: $(tail -3 b.log)"
locate "$b_port" >/dev/null # its own count is empty: it learns the key's at the sync after
synced "$b_admin"
[ "$(locate "$b_port")" = 429 ] || fail "B, sharing, after the 11 others let through: $(cat body.json)"
rcli set pawl:rl:seed 0123456789abcdef >/dev/null
for _ in $(seq 60); do grep -q 'another instance set a new seed' a.log && break; sleep 0.1; done
grep -q 'another instance set a new seed' a.log || fail "A did not adopt the new seed: $(tail -3 a.log)"
synced "$a_admin"
[ "$(locate "$a_port")" = 200 ] || fail "A after the new seed (the counts start afresh): $(cat body.json)"
echo "rate limits in redis: B started with Redis down and shares once it answers; a new seed is adopted"

# 5. Redis answering while an instance is still making its workers (200
# here): the seed wakes only the workers already made (review 14: pawld
# crashed, waking the others).
c_port=$(free_port) c_admin=$(free_port)
write_config c "$c_port" "$c_admin"
sed -i 's/^workers: 2$/workers: 200/' c.yaml
redis_stop
"$PAWLD_BIN" --config "$tmp/c.yaml" 2>>pawld.stderr &
c_pid=$!
sleep 0.5
redis_start
for _ in $(seq 200); do
    kill -0 "$c_pid" 2>/dev/null || { wait "$c_pid" || fail "C died (status $?) when Redis came back"; }
    [ "$(metric "$c_admin" pawld_rate_limit_shared 2>/dev/null)" = 1 ] && break
    sleep 0.05
done
[ "$(metric "$c_admin" pawld_rate_limit_shared)" = 1 ] || fail "C does not share: $(tail -3 c.log)"
kill -TERM "$c_pid"
wait "$c_pid" || fail "C did not stop cleanly"
echo "rate limits in redis: an instance making 200 workers as Redis came back shares, and lives"

# 6. A client within a limit whose burst lasts less than a sync is never
# refused for the sharing: each sync adds its charges from the first one's
# time (review 14: from the sync's, and a client at half the rate was
# refused). vehicle-status, 20 a second with a burst of 2 (100 ms), synced
# every 500 ms, asked every 100 ms or so.
d_port=$(free_port) d_admin=$(free_port)
write_config d "$d_port" "$d_admin"
sed -i -e 's/sync: 50ms/sync: 500ms/' -e 's/^policy: policy.yaml$/policy: tight.yaml/' d.yaml
$py - <<'PY'
import re
p = open("policy.yaml").read()
p = p.replace("  - id: vehicle-status\n", "  - id: vehicle-status\n    rate_limits:\n      principal_route: {rate: 20, per: 1s, burst: 2}\n", 1)
open("tight.yaml", "w").write(p)
PY
grep -q 'principal_route: {rate: 20, per: 1s, burst: 2}' tight.yaml || fail "the tight policy"
admin_port=$d_admin pawld_start "$tmp/d.yaml"
d_pid=$pawld_pid
got=
for _ in $(seq 30); do
    got="$got $(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$d_port/api/v1/vehicles/$V/status" \
        -H "Authorization: Bearer $owner")"
    sleep 0.1
done
[ "$(metric "$d_admin" 'pawld_rate_limit_syncs_total{result="ok"}')" -ge 3 ] || fail "D hardly synced"
grep -q 429 <<<"$got" && fail "a client within its limit was refused: $got"
kill -TERM "$d_pid"
wait "$d_pid" || true
echo "rate limits in redis: 30 requests at 10 a second under a 20-a-second limit all served"

# 7. More keys than one script call takes (256): u-1042 asks for 300 of its
# cars once each on a route limited per vehicle; the sync at SIGTERM tells
# them all, in two calls (review 16: the second overran the arguments'
# array on the stack, which the sanitizer build of this test catches).
f_port=$(free_port) f_admin=$(free_port)
write_config f "$f_port" "$f_admin"
sed -i -e 's/sync: 50ms/sync: 10s/' -e 's/^policy: policy.yaml$/policy: per-car.yaml/' \
    -e 's/^grants: grants.jsonl$/grants: many.jsonl/' f.yaml
consecutive_vins 300 >cars.txt
$py - <<'PY'
import json
p = open("policy.yaml").read()
p = p.replace("  - id: vehicle-status\n", "  - id: vehicle-status\n    rate_limits:\n      vin_command: {rate: 1, per: 1h, burst: 5}\n", 1)
open("per-car.yaml", "w").write(p)
with open("many.jsonl", "w") as g:
    g.write(open("grants.jsonl").read())
    for v in open("cars.txt").read().split():
        g.write(json.dumps({"principal": "u-1042", "vin": v, "role": "owner", "since": 0, "until": None, "org": None}) + "\n")
PY
admin_port=$f_admin pawld_start "$tmp/f.yaml"
f_pid=$pawld_pid
$py - "$f_port" "$owner" <<'PY' || fail "F refused one of u-1042's cars"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for v in open("cars.txt").read().split():
    c.request("GET", "/api/v1/vehicles/%s/status" % v, headers={"Authorization": "Bearer " + sys.argv[2]})
    r = c.getresponse()
    r.read()
    assert r.status == 200, (v, r.status)
PY
had=$(rcli --scan --pattern 'pawl:rl:*' | wc -l)
kill -TERM "$f_pid"
wait "$f_pid" || fail "F did not stop cleanly (status $?): $(tail -5 pawld.stderr)"
f_pid=
now=$(rcli --scan --pattern 'pawl:rl:*' | wc -l)
[ $((now - had)) -ge 300 ] || fail "F's last sync told $((now - had)) keys of 300 cars"
echo "rate limits in redis: the sync at SIGTERM told 300 cars' keys, more than one script call takes"

# 8. A reload that changes rate_limits is refused.
sed -i 's/sync: 50ms/sync: 200ms/' a.yaml
kill -HUP "$a_pid"
for _ in $(seq 60); do grep -q 'reload refused: rate_limits changed' a.log && break; sleep 0.05; done
grep -q 'reload refused: rate_limits changed' a.log || fail "A took a changed rate_limits: $(tail -3 a.log)"
echo "rate limits in redis: a reload that changes rate_limits is refused"
