#!/usr/bin/env bash
# pawld against nginx as a plain reverse proxy, in one run, on loopback, over
# the same upstream (an nginx answering 1 KiB on every path), keep-alive,
# the same number of workers on every side (one per core), wrk with the same
# threads and connections for every target, each warmed up for one second
# first. Prints figures and ratios; never passes or fails on time.
#
#   bash bench/pawld-bench.sh [--quick]       (PAWL_BUILD: build dir, default build/gcc)
#
# 1. Throughput: wrk -t2 -c64 against the upstream directly, then (twice
#    each, A B C C B A, and averaged) nginx-proxy and
#    pawld with the full policy as the issue sets it: JWT (RS256, cached),
#    grants, rate limits (raised so that they run on every request and deny
#    none) and the audit chain; then a second pawld that also writes the OCSF
#    event stream to a file (nginx-proxy writes no log at all).
# 2. Latency added at half pawld's saturating rate: wrk cannot hold a rate
#    (wrk2 is not in Debian), so each connection waits 1 ms after every answer
#    (pawld-delay.lua) and the number of connections is chosen so the offered
#    rate is about half the measured saturation; p50/p99 of each target at the
#    same pacing, and proxy minus direct.
#    The same unloaded: one connection, one request at a time.
# 3. Pinned (two cores or more): one worker each for nginx-proxy and pawld,
#    alone on core 1, wrk -t1 and a one-worker upstream on core 0; throughput
#    (nginx, pawld, pawld, nginx), CPU per request, and the added latency
#    paced at half pawld's saturation and unloaded.
# 4. Memory: RSS of pawld and of nginx-proxy (master + workers) at rest and
#    with 10,000 idle keep-alive connections (2,000 with --quick).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PAWL_BUILD:-$root/build/gcc}
quick=false
[ "${1:-}" = "--quick" ] && quick=true
dur=10s idle_n=10000
$quick && dur=3s idle_n=2000
pawld=$build/pawld
[ -x "$pawld" ] || { echo "pawld-bench: $pawld not built" >&2; exit 1; }
for t in wrk nginx curl openssl; do
    command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "pawld-bench: $t is not installed" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
py=/usr/bin/python3
[ -x $py ] || py=python3
ncpu=$(nproc)
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for f in "$tmp"/*/nginx.pid; do [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { $py "$root/tests/integration/free_port.py" $$; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# nginx NAME PORT SERVER_BLOCK [HTTP_EXTRA]: master + ncpu workers in $tmp/NAME
# (workers=N: N workers instead; pin=CPU: all of them on that core)
nginx_up() {
    local d=$tmp/$1 user=""
    mkdir -p "$d"
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$d/nginx.conf" <<EOF
$user
worker_processes ${workers:-$ncpu};
worker_rlimit_nofile 40000;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fcgi;
    uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    ${4:-}
    server { listen 127.0.0.1:$2 reuseport; $3 }
}
EOF
    ${pin:+taskset -c "$pin"} "$nginx_bin" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" &
    pids+=($!)
    wait_port "$2" || { echo "pawld-bench: nginx $1 did not start: $(tail -3 "$d/error.log")" >&2; exit 1; }
}

body=$(head -c 1024 /dev/zero | tr '\0' x)
up_port=$(free_port) nx_port=$(free_port) pd_port=$(free_port) adm_port=$(free_port)
nginx_up upstream "$up_port" "default_type text/plain; location / { return 200 '$body'; }"
nginx_up proxy "$nx_port" "location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }" \
    "upstream up { server 127.0.0.1:$up_port; keepalive 64; }"

# pawld with the example policy, grants and JWKS.
cp "$root"/examples/{policy.yaml,jwks.json,grants.jsonl} "$tmp/"
cp "$root/examples/keys/audit-ed25519.pem" "$tmp/audit.key"
sed -i 's/principal: {rate: 600, per: 1m, burst: 120}/principal: {rate: 1000000, per: 1s, burst: 1000000}/' "$tmp/policy.yaml"
grep -q 'rate: 1000000' "$tmp/policy.yaml" || { echo "pawld-bench: cannot raise the rate limit" >&2; exit 1; }
# pawld NAME PORT ADMIN_PORT LOGS: one instance, config $tmp/NAME.yaml
# (workers=N, pin=CPU as for nginx_up; up=PORT: that upstream instead)
pawld_up() {
    cat >"$tmp/$1.yaml" <<EOF
version: 1
workers: ${workers:-$ncpu}
watch: false
policy: policy.yaml
jwks: jwks.json
grants: grants.jsonl
listeners:
  - {name: bench, listen: 127.0.0.1:$2, mode: proxy, timeouts: {idle: 300s}}
  - {name: admin, listen: 127.0.0.1:$3, mode: admin}
upstreams:
  nginx: {servers: [http://127.0.0.1:${up:-$up_port}], max_idle: 64}
routes: {default: nginx}
logs: $4
EOF
    (ulimit -n 40000 2>/dev/null || true
     exec ${pin:+taskset -c "$pin"} "$pawld" --config "$tmp/$1.yaml" 2>"$tmp/$1.stderr") &
    pids+=($!)
    wait_port "$2" || { echo "pawld-bench: pawld did not start: $(cat "$tmp/$1.stderr")" >&2; exit 1; }
}
# the issue's configuration: the full policy and the audit chain
pawld_up pawld "$pd_port" "$adm_port" "{json: pawld.log, audit: audit.log, audit_key: audit.key}"
pd_pid=${pids[-1]}
# the same plus the OCSF event stream to a file
po_port=$(free_port) po_adm=$(free_port)
pawld_up pawld-ocsf "$po_port" "$po_adm" \
    "{json: pawld-ocsf.log, ocsf: events.jsonl, audit: audit-ocsf.log, audit_key: audit.key}"
po_pid=${pids[-1]}
token=$(bash "$root/scripts/mint-jwt.sh" u-1042 '["owner"]' "" 86400) # no org claim, valid for a day
path=/api/v1/vehicles/1HGCM82633A004352/status
auth="Authorization: Bearer $token"
for p in "$pd_port" "$po_port"; do
    curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:$p$path" || { echo "pawld-bench: pawld refused the request" >&2; exit 1; }
done

# wrk output -> "req/s p50_us p99_us non2xx errors"
parse() {
    $py - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = us(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = us(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", t)) else 0
err = sum(map(int, m.groups())) if (m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)) else 0
print(f"{rps:.0f} {p50:.0f} {p99:.0f} {non2xx} {err}")
PY
}
run() { # name url wrk-args...
    local name=$1 url=$2
    shift 2
    ${wpin:+taskset -c "$wpin"} wrk -t"${threads:-2}" "$@" -d"$dur" --latency -H "$auth" "$url" \
        >"$tmp/wrk-$name.txt" 2>&1
    parse "$tmp/wrk-$name.txt"
}
# CPU time (user + system, clock ticks) of the processes given
ticks() { local s=0 p; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $s; }
nginx_pids() { local m; m=$(cat "$tmp/$1/nginx.pid"); echo "$m $(pgrep -P "$m" | tr '\n' ' ')"; }
# measured NAME URL PIDS...: run's figures, and the CPU the PIDS spent per request (µs) in $tmp/cpu-NAME
measured() {
    local name=$1 url=$2 t0 line
    shift 2
    t0=$(ticks "$@")
    line=$(run "$name" "$url" -c64)
    $py -c "import os; print(f'{($(ticks "$@") - $t0) / os.sysconf(\"SC_CLK_TCK\") * 1e6 / ($(echo "$line" | cut -d' ' -f1) * ${dur%s}):.1f}')" >"$tmp/cpu-$name"
    echo "$line" | tee "$tmp/rps-$name"
}

# one second of the same load on every target first: connection pools,
# caches and first-touched pages are then not part of the figures
for u in "$up_port" "$nx_port" "$pd_port" "$po_port"; do
    wrk -t2 -c64 -d1s -H "$auth" "http://127.0.0.1:$u$path" >/dev/null 2>&1 || true
done
echo "pawld-bench: $(date -u +%Y-%m-%dT%H:%MZ), $ncpu cores (wrk and the servers share them), $dur per run"
echo
echo "== throughput: wrk -t2 -c64 -d$dur, keep-alive, 1 KiB responses"
read -r d_rps _ _ d_bad d_err < <(run direct "http://127.0.0.1:$up_port$path" -c64)
# the proxies twice, in the order A B C C B A, so that the machine's drift
# during the run (a third within minutes on a shared VM) falls on all alike;
# each figure is the mean of its two runs
target() { case $1 in nginx) echo "$nx_port" ;; pawld) echo "$pd_port" ;; pawld-ocsf) echo "$po_port" ;; esac; }
tpids() { case $1 in nginx) nginx_pids proxy ;; pawld) echo "$pd_pid" ;; pawld-ocsf) echo "$po_pid" ;; esac; }
declare -A sum_rps sum_bad sum_err cpus
k=0
for t in nginx pawld pawld-ocsf pawld-ocsf pawld nginx; do
    k=$((k + 1))
    read -r r _ _ b e < <(measured "$t-$k" "http://127.0.0.1:$(target $t)$path" $(tpids $t))
    sum_rps[$t]=$((${sum_rps[$t]:-0} + r)) sum_bad[$t]=$((${sum_bad[$t]:-0} + b))
    sum_err[$t]=$((${sum_err[$t]:-0} + e)) cpus[$t]="${cpus[$t]:-} $(cat "$tmp/cpu-$t-$k")"
done
mean() { $py -c "import sys; v = [float(x) for x in sys.argv[1:]]; print(f'{sum(v) / len(v):.1f}')" "$@"; }
n_rps=$((sum_rps[nginx] / 2)) n_bad=${sum_bad[nginx]} n_err=${sum_err[nginx]}
p_rps=$((sum_rps[pawld] / 2)) p_bad=${sum_bad[pawld]} p_err=${sum_err[pawld]}
o_rps=$((sum_rps[pawld-ocsf] / 2)) o_bad=${sum_bad[pawld-ocsf]} o_err=${sum_err[pawld-ocsf]}
printf '  %-38s %9s req/s  non-2xx %s, socket errors %s\n' "upstream directly" "$d_rps" "$d_bad" "$d_err" \
    "nginx reverse proxy" "$n_rps" "$n_bad" "$n_err" "pawld, full policy + audit chain" "$p_rps" "$p_bad" "$p_err" \
    "pawld, the same + OCSF event stream" "$o_rps" "$o_bad" "$o_err"
ratio=$($py -c "print(f'{$p_rps / $n_rps:.2f}')")
ratio_o=$($py -c "print(f'{$o_rps / $n_rps:.2f}')")
echo "  pawld / nginx-proxy throughput: ${ratio}x (goal >= 1.0x); with the OCSF stream as well: ${ratio_o}x"
echo "  CPU per request (user + system, the proxy's processes only): nginx-proxy $(mean ${cpus[nginx]}) us," \
    "pawld $(mean ${cpus[pawld]}) us, pawld with the OCSF stream $(mean ${cpus[pawld-ocsf]}) us"
echo "  (each the mean of two runs, in the order nginx, pawld, +OCSF, +OCSF, pawld, nginx;" \
    "req/s per run: nginx$(for i in 1 6; do printf ' %s' "$(cut -d' ' -f1 <"$tmp/rps-nginx-$i")"; done)," \
    "pawld$(for i in 2 5; do printf ' %s' "$(cut -d' ' -f1 <"$tmp/rps-pawld-$i")"; done)," \
    "+OCSF$(for i in 3 4; do printf ' %s' "$(cut -d' ' -f1 <"$tmp/rps-pawld-ocsf-$i")"; done))"

# three TAG UP_PORT NGINX_PORT PAWLD_PORT WRK-ARGS...: the same wrk run against
# the upstream directly, nginx-proxy and pawld; sets dr d50 d99, nr n50 n99,
# pr p50 p99 pbad (threads=, wpin= as for run)
three() {
    local tag=$1 u=$2 n=$3 p=$4
    shift 4
    read -r dr d50 d99 _ _ < <(run "${tag}direct" "http://127.0.0.1:$u$path" "$@")
    read -r nr n50 n99 _ _ < <(run "${tag}nginx" "http://127.0.0.1:$n$path" "$@")
    read -r pr p50 p99 pbad _ < <(run "${tag}pawld" "http://127.0.0.1:$p$path" "$@")
}
# paced RPS: half of RPS as "HALF CONNS", the connections that offer about
# that rate when each pauses 1 ms after every answer (pawld-delay.lua)
paced() {
    local half=$(($1 / 2))
    local conns=$(( (half * 12 / 10 + 999) / 1000 ))
    echo "$half $(( conns < 1 ? 1 : conns ))"
}
lua=$root/bench/pawld-delay.lua

echo
read -r half conns < <(paced "$p_rps")
echo "== latency at about half pawld's saturation ($half req/s): $conns connections, 1 ms pause after each answer"
three p "$up_port" "$nx_port" "$pd_port" -c"$conns" -s "$lua"
printf '  %-22s %7s req/s  p50 %6s us  p99 %6s us\n' "upstream directly" "$dr" "$d50" "$d99" \
    "nginx reverse proxy" "$nr" "$n50" "$n99" "pawld" "$pr" "$p50" "$p99"
echo "  added by nginx-proxy: p50 $((n50 - d50)) us, p99 $((n99 - d99)) us"
echo "  added by pawld:       p50 $((p50 - d50)) us, p99 $((p99 - d99)) us (goal p99 <= 100 us); non-2xx $pbad"

echo
echo "== latency unloaded: one connection, one request at a time (no queueing behind other requests)"
threads=1 three u "$up_port" "$nx_port" "$pd_port" -c1
printf '  %-22s p50 %6s us  p99 %6s us\n' "upstream directly" "$d50" "$d99" "nginx reverse proxy" "$n50" "$n99" \
    "pawld" "$p50" "$p99"
echo "  added by nginx-proxy: p50 $((n50 - d50)) us, p99 $((n99 - d99)) us"
echo "  added by pawld:       p50 $((p50 - d50)) us, p99 $((p99 - d99)) us; non-2xx $pbad"

# 3. The same with the proxy alone on a core: one worker each, pinned to
#    core 1; wrk (one thread) and the upstream (one worker) on core 0. The
#    proxies then do not wait behind wrk and the upstream for a core, so
#    the figures show the proxy's own cost with less of the scheduler's.
if [ "$ncpu" -ge 2 ]; then
    echo
    echo "== pinned: one worker each on core 1 (nginx-proxy, pawld with the full policy + audit chain);" \
        "wrk -t1 and the upstream on core 0"
    pu_port=$(free_port) pn_port=$(free_port) pp_port=$(free_port) pp_adm=$(free_port)
    workers=1 pin=0 nginx_up upstream1 "$pu_port" "default_type text/plain; location / { return 200 '$body'; }"
    workers=1 pin=1 nginx_up proxy1 "$pn_port" \
        "location / { proxy_pass http://up1; proxy_http_version 1.1; proxy_set_header Connection \"\"; }" \
        "upstream up1 { server 127.0.0.1:$pu_port; keepalive 64; }"
    workers=1 pin=1 up=$pu_port pawld_up pawld1 "$pp_port" "$pp_adm" \
        "{json: pawld1.log, audit: audit1.log, audit_key: audit.key}"
    pp_pid=${pids[-1]}
    for u in "$pu_port" "$pn_port" "$pp_port"; do
        taskset -c 0 wrk -t1 -c64 -d1s -H "$auth" "http://127.0.0.1:$u$path" >/dev/null 2>&1 || true
    done
    k=0
    declare -A pin_rps pin_cpu
    for t in nginx pawld pawld nginx; do
        k=$((k + 1))
        if [ $t = nginx ]; then u=$pn_port tp=$(nginx_pids proxy1); else u=$pp_port tp=$pp_pid; fi
        read -r r _ _ b e < <(threads=1 wpin=0 measured "pin-$t-$k" "http://127.0.0.1:$u$path" $tp)
        [ "$b" = 0 ] && [ "$e" = 0 ] || echo "  (run $k, $t: non-2xx $b, socket errors $e)"
        pin_rps[$t]="${pin_rps[$t]:-} $r" pin_cpu[$t]="${pin_cpu[$t]:-} $(cat "$tmp/cpu-pin-$t-$k")"
    done
    pn=$(mean ${pin_rps[nginx]}) pp=$(mean ${pin_rps[pawld]})
    echo "  nginx-proxy $pn req/s (runs:${pin_rps[nginx]}), pawld $pp req/s (runs:${pin_rps[pawld]})"
    echo "  pawld / nginx-proxy throughput: $($py -c "print(f'{$pp / $pn:.2f}')")x;" \
        "CPU per request: nginx-proxy $(mean ${pin_cpu[nginx]}) us, pawld $(mean ${pin_cpu[pawld]}) us" \
        "(order nginx, pawld, pawld, nginx)"
    read -r half conns < <(paced "$(printf '%.0f' "$pp")")
    threads=1 wpin=0 three q "$pu_port" "$pn_port" "$pp_port" -c"$conns" -s "$lua"
    echo "  at about half pawld's saturation ($half req/s, $conns connections, 1 ms pause):" \
        "added by nginx-proxy p50 $((n50 - d50)) us, p99 $((n99 - d99)) us;" \
        "by pawld p50 $((p50 - d50)) us, p99 $((p99 - d99)) us (goal p99 <= 100 us)"
    threads=1 wpin=0 three r "$pu_port" "$pn_port" "$pp_port" -c1
    echo "  unloaded (one connection): added by nginx-proxy p50 $((n50 - d50)) us, p99 $((n99 - d99)) us;" \
        "by pawld p50 $((p50 - d50)) us, p99 $((p99 - d99)) us"
fi

echo
echo "== memory with $idle_n idle keep-alive connections (each made one request first)"
rss() { # pids... -> KiB summed
    local s=0 p
    for p in "$@"; do s=$((s + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
    echo $s
}
idle() { # port pid-list-command
    $py "$root/bench/pawld-idle.py" "$1" "$idle_n" "$path" "$auth" &
    local ip=$!
    for _ in $(seq 600); do [ -f "$tmp/idle-ready" ] && break; sleep 0.1; done
    rm -f "$tmp/idle-ready"
    sleep 3 # idle, as the section says: pawld hands freed memory back once quiet for a second
    echo "$($2)"
    kill $ip 2>/dev/null || true
    wait $ip 2>/dev/null || true
}
export PAWLD_IDLE_READY=$tmp/idle-ready
p0=$(rss $pd_pid)
p1=$(idle "$pd_port" "rss $pd_pid")
n0=$(rss $(nginx_pids proxy))
n1=$(idle "$nx_port" "eval rss \$(nginx_pids proxy)")
printf '  %-22s at rest %8s KiB, with %s idle %8s KiB: %s KiB per connection\n' \
    "pawld" "$p0" "$idle_n" "$p1" "$($py -c "print(f'{($p1 - $p0) / $idle_n:.2f}')")" \
    "nginx reverse proxy" "$n0" "$idle_n" "$n1" "$($py -c "print(f'{($n1 - $n0) / $idle_n:.2f}')")"
echo
echo "pawld audited $(grep -c '"kind":"decision"' "$tmp/audit.log") decisions in this run."
