# Sourced by the pawld integration tests: the example backend and pawld
# started on loopback by the test itself, on free ports.
#   free_port                      prints a free TCP port on 127.0.0.1
#   backend_start DIR [ARGS...]    the example backend recording to DIR/rec.jsonl;
#                                  sets backend_port, backend_pid
#   pawld_start CONFIG             sets pawld_pid; waits until the admin
#                                  listener (admin_port) answers /readyz
#   pawld_stop                     SIGTERM, then waits; sets pawld_rc
#   recorded                       how many requests the backend has seen
py=/usr/bin/python3
[ -x $py ] || py=python3
backend_pid=
pawld_pid=
free_port() {
    $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
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
