#!/usr/bin/env bash
# pawld against an upstream with quirks and clients that misbehave: each
# case (pawld_edges.py) is a failure a code review found. One worker, so
# that connections share a thread (and OpenSSL's error queue).
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
. "$here/lib_pawld.sh"
up_pid=
cleanup() {
    [ -n "$pawld_pid" ] && kill -9 "$pawld_pid" 2>/dev/null || true
    [ -n "$up_pid" ] && kill "$up_pid" 2>/dev/null || true
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
bash "$PAWL_SRC/scripts/gen-certs.sh" "$tmp/certs" >/dev/null
cp "$PAWL_SRC/examples/policy.yaml" "$PAWL_SRC/examples/jwks.json" "$PAWL_SRC/examples/grants.jsonl" .
cp "$PAWL_SRC/examples/keys/audit-ed25519.pem" audit.key
sed -i 's/principal: {rate: 600, per: 1m, burst: 120}/principal: {rate: 1000000, per: 1s, burst: 1000000}/' policy.yaml
up_port=$(free_port) proxy_port=$(free_port) tls_port=$(free_port) authz_port=$(free_port)
admin_port=$(free_port) dead_port=$(free_port)
touch up.jsonl
$py "$here/quirky_upstream.py" "$up_port" "$tmp/up.jsonl" &
up_pid=$!
wait_port "$up_port" "$up_pid" || fail "the upstream did not start"
write_config() { # UPSTREAMS-YAML
    cat <<EOF2
watch: false
$(pawld_yaml_head 1)
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy, timeouts: {header: 5s, body: 20s, idle: 30s}}
  - {name: tls, listen: 127.0.0.1:$tls_port, mode: proxy, tls: {cert: certs/server.pem, key: certs/server.key}}
  - {name: authz, listen: 127.0.0.1:$authz_port, mode: authz, authz: {flavor: nginx}}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams:
$1
routes: {${2:-}default: quirky}
step_up_header: X-Cmd-Token # outside X-Pawl-: its lookalikes are not reserved names
logs: {json: pawld.log, ocsf: events.jsonl, audit: audit.log, audit_key: audit.key}
EOF2
}
# the location route's upstream is the third of three; the reload below
# removes the first two (so indexes from before it point past the end)
write_config "  dead: {servers: [http://127.0.0.1:$dead_port]}
  quirky: {servers: [http://127.0.0.1:$up_port], response_timeout: 1s}
  patient: {servers: [http://127.0.0.1:$up_port], response_timeout: 20s, max_conns: 2}" \
    "vehicle-location: patient, ota-campaigns: dead, " >pawld.yaml
write_config "  quirky: {servers: [http://127.0.0.1:$up_port], response_timeout: 5s}" >pawld-new.yaml
# pipelined_unread measures pawld's memory: under ASan, freed memory waits
# in a quarantine unless told otherwise (no effect on other builds)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" pawld_start "$tmp/pawld.yaml"
long_roles='["owner"'
for i in 1 2 3 4 5 6 7; do long_roles+=",\"r$i!!!!!!!!!!!!!!!!!!!!!!!!!!!!\""; done
long_roles+=']'
export TOKEN LONG_TOKEN SERVICE_TOKEN STEP_UP_HEADER=X-Cmd-Token VIN=1HGCM82633A004352 UPLOG=$tmp/up.jsonl EVENTS=$tmp/events.jsonl
TOKEN=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 '["owner"]')
LONG_TOKEN=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" u-1042 "$long_roles")
SERVICE_TOKEN=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" svc-ota '["service"]')
export PROXY=$proxy_port TLS=$tls_port AUTHZ=$authz_port ADMIN=$admin_port PAWLD_PID=$pawld_pid
export CONFIG=$tmp/pawld.yaml NEW_CONFIG=$tmp/pawld-new.yaml PAWLD_LOG=$tmp/pawld.log
failed=0
all="tls_error_queue retry_only_safe no_retry_after_timeout slow_upload no_body_statuses
     pipelined_unread tls_pipeline linger head_then_error repeated_step_up step_up_lookalikes
     reserved_lookalikes long_identity expect_reset upstream_max_conns upstream_failures_logged
     retry_after_reload idle_connections_follow_reloads reload_drops_upstream
     upload_held_then_resumed
     response_codings response_chunk_framing announced_body_not_reused http10_host
     memory_back_when_quiet"
for case in ${CASES:-$all}; do # CASES: some of them, for a quicker look
    $py "$here/pawld_edges.py" "$case" || failed=1
    kill -0 "$pawld_pid" 2>/dev/null || fail "pawld died in case $case: $(tail -20 pawld.stderr)"
done
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc: $(tail -20 pawld.stderr)"
[ "$failed" = 0 ] || fail "some cases failed (above)"
echo "pawld edge cases: all passed"
