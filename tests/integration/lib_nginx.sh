# Sourced by integration tests: a real nginx (Debian's) serving a directory
# on loopback, started and stopped by the test itself.
#   nginx_start DIR WORKDIR   sets nginx_port and nginx_pid; NGINX_EXTRA, when
#                             set, is added inside the server block, and
#                             NGINX_HTTP_EXTRA inside the http block
#   nginx_stop
# Runs in the foreground of its own process (daemon off, master_process off),
# so it needs no root and stops with the test.
nginx_pid=
nginx_port=
nginx_start() {
    local root=$1 work=$2 bin
    bin=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$bin" ] || { echo "FAIL: nginx is not installed (deps/debian-packages.txt: nginx-light)" >&2; return 1; }
    mkdir -p "$work/nginx"
    for _ in $(seq 20); do
        nginx_port=$((20000 + RANDOM % 40000))
        cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 128; }
http {
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    default_type application/octet-stream;
    ${NGINX_HTTP_EXTRA:-}
    server {
        listen 127.0.0.1:$nginx_port;
        root $root;
        ${NGINX_EXTRA:-}
    }
}
CONF
        "$bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
        nginx_pid=$!
        for _ in $(seq 50); do
            if ! kill -0 "$nginx_pid" 2>/dev/null; then break; fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null; then return 0; fi
            sleep 0.1
        done
        nginx_stop # port taken or slow: try another
    done
    echo "FAIL: nginx did not start: $(tail -3 "$work/nginx/error.log" 2>/dev/null)" >&2
    return 1
}
nginx_stop() {
    if [ -n "$nginx_pid" ]; then
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=
    fi
}
