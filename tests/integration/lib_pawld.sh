# Sourced by the pawld integration tests: the example backend and pawld
# started on loopback by the test itself, on free ports.
#   free_port                      prints a free TCP port on 127.0.0.1
#   backend_start DIR [ARGS...]    the example backend recording to DIR/rec.jsonl;
#                                  sets backend_port, backend_pid
#   pawld_start CONFIG             sets pawld_pid; waits until the admin
#                                  listener (admin_port) answers /readyz
#   pawld_stop                     SIGTERM, then waits; sets pawld_rc
#   recorded                       how many requests the backend has seen
#   example_setup                  a temporary directory (tmp, removed on exit
#                                  unless KEEP_TMP is set) holding the example
#                                  policy with the per-principal limit raised,
#                                  JWKS and grants; the backend started in it
#   check_refuses CONFIG REGEX     pawld --check of CONFIG must fail with a message
#                                  grep finds REGEX in (else the test fails)
#   dealer_step_up_setup           a dealer grant (dealer-tool-17, org dealer-17) on
#                                  1HGCM82633A004352 and that vehicle's trust policy
#                                  in owners/, signed by owner.pem (made here)
#   consecutive_vins N             N VINs with valid check digits and
#                                  consecutive serials (an enumeration)
#   audited_setup WORKERS          example_setup, the example audit key (audit.key,
#                                  audit.pub) and a pawld.yaml with WORKERS workers:
#                                  a plain proxy listener (proxy_port) and the admin
#                                  one (admin_port) in front of the backend, writing
#                                  pawld.log, events.jsonl and audit.log
#   pawld_yaml_head WORKERS [GRANTS]  the head of a test's pawld.yaml: version,
#                                  workers, the example policy and JWKS, GRANTS
#                                  (default grants.jsonl; "" for none), then
#                                  "listeners:" for the test's own to follow
#   proxy_yaml WORKERS PORT ADMIN  pawld_yaml_head, a plain proxy listener on PORT,
#                                  an admin one on ADMIN, the backend as default
#   metric ADMIN NAME              the value of the first /metrics line starting NAME
#   redis_setup                    a Redis as deploy/redis/pawl-step-up.conf has it
#                                  (redis_port; redis_start, redis_stop, rcli)
#   vehicle_get PORT TOKEN VIN     the status of GET /api/v1/vehicles/VIN/status
#                                  through PORT with TOKEN (the body in body.json)
#   blocked_at PORT TOKEN VIN      waits up to 5 s for TOKEN's principal to be
#                                  refused as blocked_by_detector on VIN
py=/usr/bin/python3
[ -x $py ] || py=python3
backend_pid=
pawld_pid=
free_port() {
    $py "$PAWL_SRC/tests/integration/free_port.py" $$ # never the same port twice in one test
}
wait_port() { # PORT PID
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}
backend_start() {
    local dir=$1
    shift
    backend_port=$(free_port)
    $py "$PAWL_SRC/examples/backend/vehicle-backend.py" --listen "127.0.0.1:$backend_port" \
        --record "$dir/rec.jsonl" "$@" &
    backend_pid=$!
    touch "$dir/rec.jsonl"
    backend_rec=$dir/rec.jsonl
    wait_port "$backend_port" "$backend_pid" || { echo "FAIL: the backend did not start" >&2; return 1; }
}
backend_stop() {
    if [ -n "$backend_pid" ]; then
        kill "$backend_pid" 2>/dev/null || true
        wait "$backend_pid" 2>/dev/null || true
        backend_pid=
    fi
}
recorded() { wc -l <"$backend_rec" | tr -d ' '; }
pawld_start() {
    "$PAWLD_BIN" --config "$1" 2>>"$(dirname "$1")/pawld.stderr" &
    pawld_pid=$!
    for _ in $(seq 100); do
        kill -0 "$pawld_pid" 2>/dev/null || { echo "FAIL: pawld exited: $(cat "$(dirname "$1")/pawld.stderr")" >&2; return 1; }
        if curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "FAIL: pawld did not become ready" >&2
    return 1
}
pawld_stop() {
    pawld_rc=0
    if [ -n "$pawld_pid" ]; then
        kill -TERM "$pawld_pid" 2>/dev/null || true
        wait "$pawld_pid" || pawld_rc=$?
        pawld_pid=
    fi
}
example_cleanup() {
    [ -n "$pawld_pid" ] && kill -9 "$pawld_pid" 2>/dev/null || true
    backend_stop
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
example_setup() {
    tmp=$(mktemp -d)
    trap example_cleanup EXIT
    cd "$tmp"
    cp "$PAWL_SRC/examples/policy.yaml" "$PAWL_SRC/examples/jwks.json" "$PAWL_SRC/examples/grants.jsonl" .
    sed -i 's/principal: {rate: 600, per: 1m, burst: 120}/principal: {rate: 1000000, per: 1s, burst: 1000000}/' \
        policy.yaml
    backend_start "$tmp"
}
pawld_yaml_head() {
    printf 'version: 1\nworkers: %s\npolicy: policy.yaml\njwks: jwks.json\n' "$1"
    [ -z "${2-grants.jsonl}" ] || printf 'grants: %s\n' "${2-grants.jsonl}"
    printf 'listeners:\n'
}
proxy_yaml() { # WORKERS PROXY-PORT ADMIN-PORT: a config's head, one proxy and one admin listener, the backend
    pawld_yaml_head "$1"
    printf '  - {name: plain, listen: 127.0.0.1:%s, mode: proxy}\n' "$2"
    printf '  - {name: admin, listen: 127.0.0.1:%s, mode: admin}\n' "$3"
    printf 'upstreams:\n  backend: {servers: ["http://127.0.0.1:%s"]}\nroutes: {default: backend}\n' "$backend_port"
}
audited_setup() {
    example_setup
    cp "$PAWL_SRC/examples/keys/audit-ed25519.pem" audit.key
    openssl pkey -in audit.key -pubout -out audit.pub 2>/dev/null
    proxy_port=$(free_port) admin_port=$(free_port)
    cat >pawld.yaml <<EOF
$(proxy_yaml "$1" "$proxy_port" "$admin_port")
logs: {json: pawld.log, ocsf: events.jsonl, audit: audit.log, audit_key: audit.key}
EOF
}
check_refuses() {
    local out
    out=$("$PAWLD_BIN" --config "$1" --check 2>&1) && { echo "FAIL: --check accepted $1: $out" >&2; exit 1; }
    grep -q -- "$2" <<<"$out" || { echo "FAIL: --check of $1 did not say '$2': $out" >&2; exit 1; }
}
dealer_step_up_setup() {
    local vin=1HGCM82633A004352 now_ms=$(($(date +%s) * 1000))
    echo '{"principal": "dealer-tool-17", "vin": "'$vin'", "role": "dealer", "since": '$((now_ms - 3600000))', "until": '$((now_ms + 86400000))', "org": "dealer-17"}' >>grants.jsonl
    mkdir owners
    openssl genpkey -algorithm ed25519 -out owner.pem 2>/dev/null
    $py - "$(openssl pkey -in owner.pem -pubout)" "$vin" >"owners/$vin.json" <<'PY'
import json, sys
print(json.dumps({"vin": sys.argv[2], "max_lifetime_s": 300,
                  "keys": [{"role": "owner", "alg": "EdDSA", "spki_pem": sys.argv[1] + "\n"}],
                  "require": {"*": ["owner"]}}))
PY
}
consecutive_vins() {
    $py - "$1" <<'PY'
import sys
W = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
V = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9]))
for k in range(int(sys.argv[1])):
    body = "1HGCM826" + "0" + "3A" + "%06d" % (100 + k)
    c = sum((int(x) if x.isdigit() else V[x]) * w for x, w in zip(body, W)) % 11
    print(body[:8] + ("X" if c == 10 else str(c)) + body[9:])
PY
}
# The value on the first /metrics line of ADMIN-PORT that starts with NAME
# (all of it read: awk leaving early would cut curl off, an error under
# pipefail).
metric() { # ADMIN-PORT NAME
    curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($0, m) == 1 && !done { print $2; done = 1 }'
}
# Redis as deploy/redis/pawl-step-up.conf has it, on a free port (redis_port)
# in $tmp/redis, with an admin for the test (the default user, password
# $pass) and pawld's user, whose permissions are the file's (its password in
# redis.pass). Defines redis_start, redis_stop (redis_pid) and rcli (as the
# admin); uses the test's fail.
redis_setup() {
    command -v redis-server >/dev/null || fail "redis-server is not installed (bash scripts/setup.sh)"
    redis_port=$(free_port)
    pass='s3cret-admin' pawld_pass='s3cret-pawld' # an ACL file's passwords have no spaces
    printf '%s\n' "$pawld_pass" >redis.pass
    chmod 600 redis.pass
    mkdir redis
    {
        echo "user default on >$pass ~* &* +@all"
        sed -n 's/^#   user pawld on #<sha256 of the password> /user pawld on >'"$pawld_pass"' /p' \
            "$PAWL_SRC/deploy/redis/pawl-step-up.conf"
    } >users.acl
    grep -q '^user pawld on >' users.acl || fail "no pawld user in deploy/redis/pawl-step-up.conf"
    sed -e "s|^port 6379$|port $redis_port|" -e "s|^dir /var/lib/pawl-redis$|dir $tmp/redis|" \
        -e "s|^aclfile /etc/pawl/redis/users.acl$|aclfile $tmp/users.acl|" \
        "$PAWL_SRC/deploy/redis/pawl-step-up.conf" >redis.conf
    grep -q "^port $redis_port$" redis.conf && grep -q "^dir $tmp/redis$" redis.conf &&
        grep -q "^aclfile $tmp/users.acl$" redis.conf || fail "deploy/redis/pawl-step-up.conf: port, dir or aclfile moved"
    redis_start() {
        redis-server "$tmp/redis.conf" --enable-debug-command local --daemonize no >>redis.log 2>&1 &
        redis_pid=$!
        wait_port "$redis_port" "$redis_pid" || fail "redis-server did not start: $(tail -5 redis.log)"
    }
    redis_stop() {
        kill "$redis_pid"
        wait "$redis_pid" || true
        redis_pid=
    }
    rcli() { redis-cli -p "$redis_port" --no-auth-warning -a "$pass" "$@"; }
}
vehicle_get() { # PORT TOKEN VIN
    curl -s -o body.json -w '%{http_code}' -H "Authorization: Bearer $2" \
        "http://127.0.0.1:$1/api/v1/vehicles/$3/status"
}
blocked_at() { # PORT TOKEN VIN
    for _ in $(seq 50); do
        [ "$(vehicle_get "$1" "$2" "$3")" = 403 ] && grep -q blocked_by_detector body.json && return 0
        sleep 0.1
    done
    return 1
}
