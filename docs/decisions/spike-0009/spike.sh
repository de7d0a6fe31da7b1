#!/bin/sh
# Spike 0009: build the three servers, start them with nginx, benchmark, probe parsing.
#   ./spike.sh build | certs | start | bench | latency | tls | idle | strict | stop
# Everything runs on 127.0.0.1; state lives in $RUN (default /tmp/spike-0009).
# Not part of the project build (CMake never sees this directory).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=${RUN:-/tmp/spike-0009}
N=${N:-2}                      # worker threads / processes on every server
DUR=${DUR:-10s}
P_H2O=18081 P_LEV=18082 P_UV=18083 P_NGX=18084 P_NGXPROXY=18085 P_H2OPROXY=18086 P_UP=18090
P_H2OTLS=18443 P_NGXTLS=18444
CFLAGS="-O2 -g -Wall -Wextra -std=gnu11"
mkdir -p "$RUN"

body() { python3 -c 'import sys; sys.stdout.write("".join(chr(97 + i % 26) for i in range(1023)) + "x")'; }

nginx_conf() { # $1 name, $2 server block
    cat > "$RUN/$1.conf" <<NGX
worker_processes $N;
pid $RUN/$1.pid;
error_log $RUN/$1.error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 1000000;
    default_type text/plain;
    client_body_temp_path $RUN/$1.tmp;
    proxy_temp_path $RUN/$1.tmp;
    $2
}
NGX
}

start_bg() { # name cmd...
    name=$1; shift
    "$@" > "$RUN/$name.log" 2>&1 &
    echo $! > "$RUN/$name.pid"
}

case "${1:-}" in
build)
    gcc $CFLAGS -o "$RUN/h2o" "$HERE/h2o.c" -lh2o-evloop -lssl -lcrypto -lpthread
    gcc $CFLAGS -o "$RUN/libevent" "$HERE/libevent.c" -levent -lpthread
    gcc $CFLAGS -o "$RUN/uv_httpparser" "$HERE/uv_httpparser.c" -luv -lhttp_parser -lpthread
    ;;
certs)
    cd "$RUN"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=spike-ca \
        -keyout ca.key -out ca.pem 2>/dev/null
    for n in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$n -keyout $n.key -out $n.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > $n.ext
        openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $n.ext -out $n.pem 2>/dev/null
    done
    ;;
start)
    B=$(body)
    nginx_conf ngx "server { listen 127.0.0.1:$P_NGX reuseport; location = / { return 200 \"$B\"; }
        location / { return 200 \"nginx \$request_method \$request_uri\\n\"; } }"
    nginx_conf up "server { listen 127.0.0.1:$P_UP reuseport; location / { return 200 \"$B\"; } }"
    nginx_conf ngxproxy "upstream up { server 127.0.0.1:$P_UP; keepalive 64; }
        server { listen 127.0.0.1:$P_NGXPROXY reuseport; location / { proxy_pass http://up;
            proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
    nginx_conf ngxtls "server { listen 127.0.0.1:$P_NGXTLS ssl reuseport; ssl_certificate $RUN/server.pem;
        ssl_certificate_key $RUN/server.key; ssl_protocols TLSv1.2 TLSv1.3;
        location = / { return 200 \"$B\"; } }"
    for c in ngx up ngxproxy ngxtls; do mkdir -p "$RUN/$c.tmp"; nginx -c "$RUN/$c.conf" -e "$RUN/$c.error.log"; done
    start_bg h2o "$RUN/h2o" $P_H2O $N
    start_bg h2oproxy "$RUN/h2o" $P_H2OPROXY $N proxy http://127.0.0.1:$P_UP/
    start_bg h2otls "$RUN/h2o" $P_H2OTLS $N tls "$RUN/server.pem" "$RUN/server.key"
    start_bg libevent "$RUN/libevent" $P_LEV $N
    start_bg uv_httpparser "$RUN/uv_httpparser" $P_UV $N
    sleep 0.5
    ;;
stop)
    for c in ngx up ngxproxy ngxtls; do [ -f "$RUN/$c.pid" ] && kill "$(cat "$RUN/$c.pid")" || true; done
    for s in h2o h2oproxy h2otls libevent uv_httpparser; do
        [ -f "$RUN/$s.pid" ] && kill "$(cat "$RUN/$s.pid")" 2>/dev/null || true; rm -f "$RUN/$s.pid"
    done
    ;;
bench) # throughput, keep-alive, 1 KiB, wrk -t2 -c64
    shift
    for t in ${*:-h2o:$P_H2O libevent:$P_LEV uv_httpparser:$P_UV nginx:$P_NGX h2o-proxy:$P_H2OPROXY nginx-proxy:$P_NGXPROXY}; do
        name=${t%%:*} port=${t#*:}
        echo "== $name: wrk -t2 -c64 -d$DUR --latency http://127.0.0.1:$port/"
        wrk -t2 -c64 -d$DUR --latency "http://127.0.0.1:$port/"
    done
    ;;
latency) # fixed lower rate: 16 connections, each waits 1 ms before its next request
    shift
    for t in ${*:-h2o:$P_H2O libevent:$P_LEV uv_httpparser:$P_UV nginx:$P_NGX h2o-proxy:$P_H2OPROXY nginx-proxy:$P_NGXPROXY up-direct:$P_UP}; do
        name=${t%%:*} port=${t#*:}
        echo "== $name: wrk -t2 -c16 -d$DUR --latency -s delay1ms.lua http://127.0.0.1:$port/"
        wrk -t2 -c16 -d$DUR --latency -s "$HERE/delay1ms.lua" "http://127.0.0.1:$port/"
    done
    ;;
tls)
    for t in h2o-tls:$P_H2OTLS nginx-tls:$P_NGXTLS; do
        name=${t%%:*} port=${t#*:}
        echo "== $name: wrk -t2 -c64 -d$DUR --latency https://127.0.0.1:$port/"
        wrk -t2 -c64 -d$DUR --latency "https://127.0.0.1:$port/"
    done
    ;;
idle) # resident memory with 10,000 idle keep-alive connections (after one request each)
    for t in h2o:$P_H2O libevent:$P_LEV uv_httpparser:$P_UV ngx:$P_NGX; do
        name=${t%%:*} port=${t#*:}
        python3 "$HERE/idle.py" $port ${IDLE:-10000} "$(cat "$RUN/$name.pid")"
    done
    ;;
strict)
    python3 "$HERE/strict.py" h2o=$P_H2O libevent=$P_LEV uv+http_parser=$P_UV nginx=$P_NGX
    ;;
*)
    echo "usage: $0 build|certs|start|bench|latency|tls|idle|strict|stop" >&2; exit 2 ;;
esac
