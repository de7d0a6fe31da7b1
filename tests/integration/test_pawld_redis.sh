#!/usr/bin/env bash
# step_up.redis: two pawld instances behind one balancer share the step-up
# record in a real redis-server on loopback, so a command token one of them
# accepted is refused by the other (each kept its own record before, and
# the dealer's key codes, which the backend answers with no vehicle to
# refuse a replay, could be pulled once per instance). With Redis down a
# step-up request is refused (503), never forwarded, and the token is not
# used up; with Redis back (its append-only file kept the ids) the token
# serves and the old one is still a replay. --check warns of a Redis it
# cannot reach or log in to; state and redis together are an error; a
# reload that changes step_up.redis is refused.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
redis_pid= a_pid= b_pid= proxy_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    for p in $a_pid $b_pid $proxy_pid; do kill -9 "$p" 2>/dev/null || true; done
    example_cleanup
}
example_setup
trap cleanup EXIT
V=1HGCM82633A004352
dealer_step_up_setup
redis_setup
new_keys() { rcli --scan --pattern 'pawl:step-up:*' | { grep -v -x -F "$had" || true; }; } # keys not in $had
write_config() { # NAME PROXY-PORT ADMIN-PORT
    cat >"$1.yaml" <<EOF
$(proxy_yaml 1 "$2" "$3")
step_up:
  trust_dir: owners
  redis: {server: 127.0.0.1:$redis_port, user: pawld, password_file: redis.pass, timeout: 100ms}
  commands: {dealer-key-codes: dealer.key-codes, engine-start: engine.start,
             ownership-transfer: ownership.transfer}
logs: {json: $1.log}
EOF
}
a_port=$(free_port) a_admin=$(free_port) b_port=$(free_port) b_admin=$(free_port)
write_config a "$a_port" "$a_admin"
write_config b "$b_port" "$b_admin"
dealer=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" dealer-tool-17 '["dealer"]' dealer-17)
token() {
    "$PAWL_BIN" token issue --key owner.pem --iss owner-app --sub u-1042 --vin "$V" --cmd dealer.key-codes \
        --seq 1 --ttl 60 | basenc --base64url -w0 | tr -d '='
}
pull() { # PORT TOKEN: the status; the body in body.json
    curl -sS -o body.json -w '%{http_code}' "http://127.0.0.1:$1/api/v1/dealer/vehicles/$V/key-codes" \
        -H "Authorization: Bearer $dealer" -H "X-Pawl-Command-Token: $2"
}
lose_answer() { # PORT TOKEN: pulled while Redis sleeps past pawld's timeout, then runs the SET
    rcli debug sleep 0.5 >/dev/null &
    local sleeper=$!
    sleep 0.1
    [ "$(pull "$1" "$2")" = 503 ] || fail "Redis busy past the timeout: $(cat body.json)"
    wait $sleeper
}

# 1. --check: a Redis it cannot reach is a warning, not an error.
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check refused a Redis that is down: $out"
grep -q "warning: step_up.redis: 127.0.0.1:$redis_port: Connection refused: step-up requests are refused (503)" \
    <<<"$out" || fail "--check did not warn of the Redis it cannot reach: $out"
redis_start
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check: $out"
grep -q "step_up.redis" <<<"$out" && fail "--check warned of a Redis that answers: $out"
echo 'wrong' >wrong.pass
write_config wrong "$a_port" "$a_admin"
sed -i 's/password_file: redis.pass/password_file: wrong.pass/' wrong.yaml
out=$("$PAWLD_BIN" --config wrong.yaml --check 2>&1) || fail "--check: $out"
grep -q "warning: step_up.redis: AUTH: WRONGPASS" <<<"$out" || fail "--check did not warn of a wrong password: $out"
# a Redis that may evict keys with a lifetime could forget ids (review)
rcli config set maxmemory 64mb >/dev/null
rcli config set maxmemory-policy volatile-lru >/dev/null
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check: $out"
grep -q "warning: step_up.redis: maxmemory-policy volatile-lru with maxmemory set: Redis may evict step-up ids" \
    <<<"$out" || fail "--check did not warn of an evicting Redis: $out"
rcli config set maxmemory-policy noeviction >/dev/null
rcli config set maxmemory 0 >/dev/null
# nor one without its append-only file (a restart forgets every id), nor a
# login that may not run the release script (review 13)
rcli config set appendonly no >/dev/null
out=$("$PAWLD_BIN" --config a.yaml --check 2>&1) || fail "--check: $out"
grep -q "warning: step_up.redis: appendonly is off: a restart of Redis forgets the step-up ids" <<<"$out" ||
    fail "--check did not warn of a Redis without its append-only file: $out"
rcli config set appendonly yes >/dev/null
rcli acl setuser noeval on '>pw2' '~pawl:step-up:*' +set +get +auth +ping +info >/dev/null
echo pw2 >noeval.pass
sed 's/user: pawld, password_file: redis.pass/user: noeval, password_file: noeval.pass/' a.yaml >noeval.yaml
out=$("$PAWLD_BIN" --config noeval.yaml --check 2>&1) || fail "--check: $out"
grep -q "warning: step_up.redis: EVAL (pawld releases the keys of attempts whose answer was lost): NOPERM" <<<"$out" ||
    fail "--check did not warn of a user without EVAL: $out"
sed 's/^step_up:/step_up:\n  state: stepup.state/' a.yaml >both.yaml
check_refuses both.yaml "state and redis are two records of the token ids"
echo "step-up redis: --check warns of a Redis down or a wrong password, and refuses state with redis"

# 2. Two instances, one record.
admin_port=$a_admin pawld_start "$tmp/a.yaml"
a_pid=$pawld_pid
admin_port=$b_admin pawld_start "$tmp/b.yaml"
b_pid=$pawld_pid
t1=$(token) t2=$(token)
before=$(recorded)
[ "$(pull "$a_port" "$t1")" = 200 ] || fail "a fresh token through A: $(cat body.json)"
[ "$(pull "$b_port" "$t1")" = 428 ] && grep -q 'replay (recorded in step_up.redis)' body.json ||
    fail "the token A accepted, through B: $(cat body.json)"
[ "$(pull "$a_port" "$t1")" = 428 ] && grep -q replay body.json || fail "a replay through A: $(cat body.json)"
[ "$(recorded)" = $((before + 1)) ] || fail "the backend saw $(($(recorded) - before)) pulls, not 1"
keys=$(rcli --scan --pattern 'pawl:step-up:*')
[ "$(wc -l <<<"$keys")" = 1 ] || fail "keys in Redis: $keys"
ttl=$(rcli ttl "$keys")
[ "$ttl" -gt 0 ] && [ "$ttl" -le 660 ] || fail "the key's TTL: $ttl"
echo "step-up redis: a token accepted by one pawld is a replay at the other; one key, TTL $ttl s"

# 3. Redis down: 503, not forwarded, the token not used up; Redis back.
redis_stop
before=$(recorded)
[ "$(pull "$b_port" "$t2")" = 503 ] && grep -q '"reason":"dependency_unavailable"' body.json ||
    fail "Redis down: $(cat body.json)"
grep -q "step_up.redis: the shared record of token ids cannot be reached" body.json || fail "the detail: $(cat body.json)"
[ "$(recorded)" = "$before" ] || fail "a step-up request went to the backend with Redis down"
grep -q '"msg":"step_up.redis: cannot record a token id: the request is refused".*Connection refused' b.log ||
    fail "B did not log why: $(tail -3 b.log)"
# within the back-off (a second) the worker does not try, and says why not
[ "$(pull "$b_port" "$t2")" = 503 ] || fail "Redis down, again: $(cat body.json)"
grep -q '"msg":"step_up.redis: cannot record a token id.*Connection refused (not tried again for [0-9]* ms)' b.log ||
    fail "B's back-off did not say the failure that began it: $(tail -2 b.log)"
redis_start
# clients retrying as told (every 0.3 s, inside the back-off) do not keep
# the worker on 503 (review 13: each refused retry restarted the back-off)
ok=
for _ in $(seq 20); do
    [ "$(pull "$b_port" "$(token)")" = 200 ] && { ok=1; break; }
    sleep 0.3
done
[ -n "$ok" ] || fail "B still refuses step-up requests, retried every 0.3 s, after Redis came back: $(cat body.json)"
[ "$(rcli exists "$keys")" = 1 ] || fail "the first token's id is gone after Redis restarted on its append-only file"
[ "$(pull "$b_port" "$t1")" = 428 ] && grep -q replay body.json || fail "the first token after Redis restarted: $(cat body.json)"
[ "$(pull "$b_port" "$t2")" = 200 ] || fail "the token refused while Redis was down, once it is back: $(cat body.json)"
[ "$(pull "$a_port" "$t2")" = 428 ] || fail "that token through A: $(cat body.json)"
echo "step-up redis: Redis down refuses (503) without forwarding or using the token up; back, both serve"

# 4. An answer lost (Redis busy past the timeout, then running the SET):
# 503, and once Redis answers again the worker deletes the key its attempt
# left, so the token the client was told to retry with serves (review: it
# was used up by an attempt never forwarded).
t3=$(token)
before=$(recorded) had=$(rcli --scan --pattern 'pawl:step-up:*')
lose_answer "$b_port" "$t3" # B's one worker holds a connection (it answered t2): the SET goes out
[ "$(recorded)" = "$before" ] || fail "a step-up request went to the backend with its answer lost"
for _ in $(seq 40); do [ -z "$(new_keys)" ] && break; sleep 0.1; done
[ -z "$(new_keys)" ] || fail "the key of the lost attempt stayed: $(new_keys)"
[ "$(pull "$a_port" "$t3")" = 200 ] || fail "the token whose attempt was lost, through A: $(cat body.json)"
[ "$(pull "$b_port" "$t3")" = 428 ] || fail "that token again through B: $(cat body.json)"
[ "$(recorded)" = $((before + 1)) ] || fail "the backend saw $(($(recorded) - before)) pulls, not 1"
echo "step-up redis: an attempt whose answer was lost is released: the token serves once, then is a replay"

# 5. The connection closed after the SET went out, through a proxy that
# loses the answer: pawld tries once more on a new connection, finds the
# key holding its own attempt's value and goes on (review: a first use was
# called a replay).
proxy_port=$(free_port) c_port=$(free_port) c_admin=$(free_port)
$py "$here/lossy_proxy.py" "$proxy_port" "$redis_port" "$tmp/drop" "$tmp/delay" &
proxy_pid=$!
wait_port "$proxy_port" "$proxy_pid" || fail "the proxy did not start"
write_config c "$c_port" "$c_admin"
sed -i "s/server: 127.0.0.1:$redis_port/server: 127.0.0.1:$proxy_port/" c.yaml
admin_port=$c_admin pawld_start "$tmp/c.yaml"
c_pid=$pawld_pid
[ "$(pull "$c_port" "$(token)")" = 200 ] || fail "through the proxy: $(cat body.json)"
touch drop
before=$(recorded)
[ "$(pull "$c_port" "$(token)")" = 200 ] || fail "a first use whose answer the proxy lost: $(cat body.json)"
[ ! -e drop ] || fail "the proxy lost no answer"
[ "$(recorded)" = $((before + 1)) ] || fail "the backend saw $(($(recorded) - before)) pulls, not 1"
echo "step-up redis: a first use whose answer was lost with the connection serves (taken back), once"
# a SET that lands 2.5 s late, after the worker gave up on it: its key is
# released when it comes (review 13: the release had found no key and
# given up, and the token stayed used up)
t5=$(token) had=$(rcli --scan --pattern 'pawl:step-up:*')
touch delay
[ "$(pull "$c_port" "$t5")" = 503 ] || fail "a SET held back: $(cat body.json)"
for _ in $(seq 100); do [ -e delay.sent ] && break; sleep 0.1; done
[ -e delay.sent ] || fail "the proxy never passed the held-back SET on"
for _ in $(seq 40); do [ -z "$(new_keys)" ] && break; sleep 0.1; done
[ -z "$(new_keys)" ] || fail "the key of a SET that landed late stayed: $(new_keys)"
[ "$(pull "$a_port" "$t5")" = 200 ] || fail "the token whose SET landed late, through A: $(cat body.json)"
pawld_pid=$c_pid
pawld_stop
[ "$pawld_rc" = 0 ] || fail "C exited $pawld_rc"
echo "step-up redis: a SET that lands late is released when it comes"

# 6. A reload that changes step_up.redis is refused whole.
pawld_pid=$a_pid
sed -i 's/timeout: 100ms/timeout: 300ms/' a.yaml
kill -HUP "$a_pid"
for _ in $(seq 50); do grep -q 'reload refused: step_up.redis changed' a.log && break; sleep 0.1; done
grep -q 'reload refused: step_up.redis changed' a.log || fail "a reload changing step_up.redis: $(tail -3 a.log)"
pawld_stop
a_pid=
[ "$pawld_rc" = 0 ] || fail "A exited $pawld_rc"
echo "step-up redis: a reload changing step_up.redis is refused"
# SIGTERM within the back-off after a lost answer: the key is released on
# the way out (review 13: it stayed, and the token with it)
t6=$(token) had=$(rcli --scan --pattern 'pawl:step-up:*')
lose_answer "$b_port" "$t6"
pawld_pid=$b_pid
pawld_stop
b_pid=
[ "$pawld_rc" = 0 ] || fail "B exited $pawld_rc"
[ -z "$(new_keys)" ] || fail "B left the key of its lost attempt: $(new_keys)"
admin_port=$a_admin pawld_start "$tmp/a.yaml"
a_pid=$pawld_pid
[ "$(pull "$a_port" "$t6")" = 200 ] || fail "the token B's lost attempt held, after B stopped: $(cat body.json)"
pawld_stop
a_pid=
echo "step-up redis: SIGTERM releases what a lost answer held; all passed"
