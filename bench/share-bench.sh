#!/usr/bin/env bash
# rate_limits.redis (decision 0018): what sharing the rate limits between
# pawld instances costs a request, and how close to the limit the instances
# hold together; what sharing the detectors' input costs (decision 0019). Prints figures; never passes or fails on them.
#
#   bash bench/share-bench.sh [--quick]       (PAWL_BUILD: build dir, default build/gcc)
#
# 1. Cost: one pawld worker alone on core 1 (the full policy: JWT, grants,
#    rate limits raised so that they run on every request and deny none, the
#    audit chain), wrk -t1 -c64, the upstream (nginx, 1 KiB) and Redis on
#    core 0; pawld without rate_limits.redis and with it (sync 100ms), in the
#    order off on on off; requests a second and pawld's CPU per request.
# 2. Holding the limit: three pawld instances (one worker each) and one
#    client that sends as fast as it can, round robin over them, for 10 s
#    (4 s with --quick), on a route limited to 10 a second with a burst of 10
#    (the limit lets through 10 + 10 a second); requests served, with the
#    instances sharing through Redis and without. Then, sharing, a client
#    within the limit (8 a second, round robin): how many it was refused.
# 3. detect.windows: shared (decision 0019) against local: one worker on
#    core 1 as in 1, the detectors on, in the order local shared shared
#    local; what packing every request and judging it on the sync thread
#    costs, and the size of the stream.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PAWL_BUILD:-$root/build/gcc}
quick=false
[ "${1:-}" = "--quick" ] && quick=true
dur=5 hold=10
$quick && dur=3 hold=4
pawld=$build/pawld
[ -x "$pawld" ] || { echo "share-bench: $pawld not built" >&2; exit 1; }
for t in wrk redis-server curl; do
    command -v $t >/dev/null || { echo "share-bench: $t is not installed (bash scripts/setup.sh)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
py=/usr/bin/python3
[ -x $py ] || py=python3
[ "$(nproc)" -ge 2 ] || { echo "share-bench: needs two cores (pawld alone on one)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$tmp/up/nginx.pid" ] && kill "$(cat "$tmp/up/nginx.pid" 2>/dev/null)" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
free_port() { $py "$root/tests/integration/free_port.py" $$; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

up_port=$(free_port) redis_port=$(free_port)
mkdir up
body=$(head -c 1024 /dev/zero | tr '\0' x)
cat >up/nginx.conf <<EOF
worker_processes 1; daemon off; pid $tmp/up/nginx.pid; error_log $tmp/up/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_timeout 300s; keepalive_requests 1000000;
  client_body_temp_path $tmp/up/b; proxy_temp_path $tmp/up/p; fastcgi_temp_path $tmp/up/f;
  uwsgi_temp_path $tmp/up/u; scgi_temp_path $tmp/up/s;
  server { listen 127.0.0.1:$up_port; default_type text/plain; location / { return 200 '$body'; } } }
EOF
[ "$(id -u)" = 0 ] && sed -i '1i user root;' up/nginx.conf
taskset -c 0 "$nginx_bin" -p "$tmp/up" -c "$tmp/up/nginx.conf" &
pids+=($!)
taskset -c 0 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >redis.log 2>&1 &
pids+=($!)
wait_port "$up_port" && wait_port "$redis_port" || { echo "share-bench: nginx or redis did not start" >&2; exit 1; }
cp "$root"/examples/{policy.yaml,jwks.json,grants.jsonl} .
cp "$root/examples/keys/audit-ed25519.pem" audit.key
chmod 600 audit.key
sed -i 's/principal: {rate: 600, per: 1m, burst: 120}/principal: {rate: 1000000, per: 1s, burst: 1000000}/' policy.yaml
$py - <<'PY'
p = open("policy.yaml").read()
p = p.replace("  - id: vehicle-status\n",
              "  - id: vehicle-status\n    rate_limits:\n      principal_route: {rate: 10, per: 1s, burst: 10}\n", 1)
open("limited.yaml", "w").write(p)
PY
token=$(bash "$root/scripts/mint-jwt.sh" u-1042 '["owner"]' "" 86400)
path=/api/v1/vehicles/1HGCM82633A004352/status

# config NAME POLICY SHARED(yes/no): a one-worker pawld; sets port, admin
config() {
    port=$(free_port) admin=$(free_port)
    cat >"$1.yaml" <<EOF
version: 1
workers: 1
watch: false
policy: $2
jwks: jwks.json
grants: grants.jsonl
listeners:
  - {name: bench, listen: 127.0.0.1:$port, mode: proxy, timeouts: {idle: 300s}}
  - {name: admin, listen: 127.0.0.1:$admin, mode: admin}
upstreams:
  up: {servers: [http://127.0.0.1:$up_port], max_idle: 64}
routes: {default: up}
logs: {json: $1.log, audit: $1.audit, audit_key: audit.key}
EOF
    [ "$3" = yes ] && printf 'rate_limits: {redis: {server: 127.0.0.1:%s}, sync: 100ms}\n' "$redis_port" >>"$1.yaml"
    case "${4:-}" in # the detectors: judging alone, or the fleet's requests through Redis
    local) printf 'detect: {block: [enumeration]}\n' >>"$1.yaml" ;;
    shared) printf 'detect: {block: [enumeration], redis: {server: 127.0.0.1:%s}, windows: shared}\n' \
        "$redis_port" >>"$1.yaml" ;;
    esac
    [ -n "${4:-}" ] && sed -i "s|^logs: {json: |logs: {findings: $1.findings.jsonl, json: |" "$1.yaml"
    return 0
}
# start NAME [CPU]: sets pid
start() {
    ${2:+taskset -c $2} "$pawld" --config "$1.yaml" 2>>pawld.stderr &
    pid=$!
    pids+=($pid)
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null && return 0; sleep 0.05; done
    echo "share-bench: pawld $1 did not start: $(tail -3 pawld.stderr)" >&2
    exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure NAME: wrk -t1 -c64 for dur seconds against the pawld just
# started (pid, port); sets r (requests a second) and c (µs CPU a request)
measure() {
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path"
    taskset -c 0 wrk -t1 -c64 -d1s -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path" >/dev/null
    t0=$(cpu_ticks $pid)
    r=$(taskset -c 0 wrk -t1 -c64 -d${dur}s -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path" |
        awk '/Requests\/sec/ {print $2}')
    t1=$(cpu_ticks $pid)
    c=$($py -c "print(round(($t1 - $t0) * 10000 / ($r * $dur), 2))")
}
# ratio LABEL "A runs" "B runs" "A cpu" "B cpu": B against A
ratio() {
    $py - "$@" <<'PY'
import sys
avg = lambda s: sum(map(float, s.split())) / len(s.split())
ro, rn, co, cn = (avg(a) for a in sys.argv[2:])
print(f"  {sys.argv[1]}: {rn / ro:.3f}x the requests a second, {cn - co:+.2f} µs CPU per request")
PY
}

# one NAME KEY LABEL METRIC WORDS CONFIG-ARGS...: a pawld (config NAME
# CONFIG-ARGS...) alone on core 1, measured; prints LABEL and the figures
# (with METRIC's value and WORDS after it, when METRIC is not ""), and adds
# them to rps[KEY] and cpu[KEY]
one() {
    local name=$1 key=$2 label=$3 m=$4 words=$5 extra=
    shift 5
    config "$name" "$@"
    start "$name" 1
    measure
    [ -n "$m" ] && extra=" ($(curl -fsS "http://127.0.0.1:$admin/metrics" |
        awk -v m="$m" 'index($0, m) == 1 && !done { print $2; done = 1 }') $words)"
    echo "  $label: $r req/s, $c µs CPU per request$extra"
    rps[$key]="${rps[$key]:-} $r" cpu[$key]="${cpu[$key]:-} $c"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

echo "== 1. cost: one pawld worker alone on core 1, wrk -t1 -c64 -d${dur}s, full policy + audit"
declare -A rps cpu
for run in off on on off; do
    if [ $run = on ]; then
        one "cost-$run" $run "rate_limits.redis $run" 'pawld_rate_limit_syncs_total{result="ok"}' syncs policy.yaml yes
    else
        one "cost-$run" $run "rate_limits.redis $run" "" "" policy.yaml no
    fi
done
ratio "sharing on / off" "${rps[off]}" "${rps[on]}" "${cpu[off]}" "${cpu[on]}"

echo "== 2. holding a limit of 10 a second, burst 10, over three instances: one client, round robin, ${hold} s"
for shared in no yes; do
    ports= held=
    for i in 1 2 3; do
        config "hold-$shared-$i" limited.yaml $shared
        start "hold-$shared-$i"
        ports="$ports,$port" held="$held $pid"
    done
    redis-cli -p "$redis_port" flushall >/dev/null
    $py - "${ports#,}" "$hold" "$token" "$path" "$shared" <<'PY'
import http.client, sys, time
ports, secs, token, path, shared = sys.argv[1].split(","), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
conns = [http.client.HTTPConnection("127.0.0.1", int(p)) for p in ports]
ok = refused = 0
end = time.monotonic() + secs
i = 0
while time.monotonic() < end:
    c = conns[i % len(conns)]
    i += 1
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    r.read()
    if r.status == 200:
        ok += 1
    elif r.status == 429:
        refused += 1
    else:
        sys.exit(f"share-bench: unexpected status {r.status}")
limit = 10 + 10 * secs
print(f"  sharing {shared:3}: {ok} served, {refused} refused; the limit lets through {limit:.0f} "
      f"({ok / limit:.2f}x)")
PY
    if [ $shared = yes ]; then
        sleep 2.5 # the count drains
        $py - "${ports#,}" "$hold" "$token" "$path" <<'PY'
import http.client, sys, time
ports, secs, token, path = sys.argv[1].split(","), float(sys.argv[2]), sys.argv[3], sys.argv[4]
conns = [http.client.HTTPConnection("127.0.0.1", int(p)) for p in ports]
ok = refused = 0
start = time.monotonic()
for i in range(int(secs * 8)):
    time.sleep(max(0.0, start + i / 8 - time.monotonic()))
    c = conns[i % len(conns)]
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    r.read()
    ok, refused = ok + (r.status == 200), refused + (r.status == 429)
print(f"  sharing yes, a client at 8 a second (within the limit): {ok} served, {refused} refused")
PY
    fi
    kill $held
    wait $held 2>/dev/null || true
done

echo "== 3. the detectors judging the fleet's requests (detect.windows: shared) against each its own (local):"
echo "   one pawld worker alone on core 1 as in 1, with the detectors on (logs.findings, detect.block)"
for run in local shared shared local; do
    if [ $run = shared ]; then
        one "win-$run" $run "windows $run" 'pawld_detect_events_shared_total{direction="told"}' \
            "requests told through Redis" policy.yaml no $run
    else
        one "win-$run" $run "windows $run" "" "" policy.yaml no $run
    fi
done
ratio "shared / local" "${rps[local]}" "${rps[shared]}" "${cpu[local]}" "${cpu[shared]}"
bytes=$(redis-cli -p "$redis_port" --raw memory usage pawl:blocks:events 2>/dev/null || echo ?)
n=$(redis-cli -p "$redis_port" --raw xlen pawl:blocks:events 2>/dev/null || echo ?)
echo "  the events stream in Redis at the end: $n entries, $bytes bytes (trimmed after a minute)"
