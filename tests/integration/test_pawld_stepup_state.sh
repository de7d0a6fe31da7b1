#!/usr/bin/env bash
# step_up.state: a command token pawld accepted is refused as a replay after
# a restart (before, the record was in memory only, and the dealer's key
# codes, which the backend answers with no vehicle to refuse a replay, could
# be pulled once more with the same token). A damaged file stops --check and
# the start with its name. When the file cannot be written (a full file
# system, root only: tmpfs) the request is refused with 503 and never
# forwarded, and the token is not used up: once there is room it serves.
set -euo pipefail
: "${PAWL_SRC:?}" "${PAWL_BIN:?}" "${PAWLD_BIN:?}"
here=$PAWL_SRC/tests/integration
. "$here/lib_pawld.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
mnt=
cleanup() {
    [ -n "$mnt" ] && umount "$mnt" 2>/dev/null || true
    example_cleanup
}
example_setup
trap cleanup EXIT
V=1HGCM82633A004352
dealer_step_up_setup
proxy_port=$(free_port) admin_port=$(free_port)
write_config() { # STATE-FILE
    cat >pawld.yaml <<EOF
$(pawld_yaml_head 2)
  - {name: plain, listen: 127.0.0.1:$proxy_port, mode: proxy}
  - {name: admin, listen: 127.0.0.1:$admin_port, mode: admin}
upstreams:
  backend: {servers: ["http://127.0.0.1:$backend_port"]}
routes: {default: backend}
step_up:
  trust_dir: owners
  state: $1
  commands: {dealer-key-codes: dealer.key-codes, engine-start: engine.start,
             ownership-transfer: ownership.transfer}
logs: {json: pawld.log}
EOF
}
dealer=$(bash "$PAWL_SRC/scripts/mint-jwt.sh" dealer-tool-17 '["dealer"]' dealer-17)
token() {
    "$PAWL_BIN" token issue --key owner.pem --iss owner-app --sub u-1042 --vin "$V" --cmd dealer.key-codes \
        --seq 1 --ttl 60 | basenc --base64url -w0 | tr -d '='
}
KC=http://127.0.0.1:$proxy_port/api/v1/dealer/vehicles/$V/key-codes
pull() { # TOKEN: the status; the body in body.json
    curl -sS -o body.json -w '%{http_code}' "$KC" -H "Authorization: Bearer $dealer" -H "X-Pawl-Command-Token: $1"
}

# 1. Across a restart.
write_config stepup.state
"$PAWLD_BIN" --config pawld.yaml --check | grep -q "configuration OK" || fail "--check without the file yet"
pawld_start "$tmp/pawld.yaml"
[ -f stepup.state ] || fail "the state file was not created at start"
[ "$(stat -c %a stepup.state)" = 600 ] || fail "the state file's mode: $(stat -c %a stepup.state)"
a=$(token) b=$(token)
[ "$(pull "$a")" = 200 ] || fail "a fresh token: $(cat body.json)"
[ "$(pull "$a")" = 428 ] && grep -q replay body.json || fail "a replay before the restart: $(cat body.json)"
pawld_stop
[ "$pawld_rc" = 0 ] || fail "pawld exited $pawld_rc: $(tail -5 pawld.stderr)"
"$PAWLD_BIN" --config pawld.yaml --check | grep -q "configuration OK" || fail "--check with the file"
before=$(recorded)
pawld_start "$tmp/pawld.yaml"
grep -q '"msg":"step-up state read","entries":1,"live":1' pawld.log || fail "the start did not say what it read: $(tail -3 pawld.log)"
[ "$(pull "$a")" = 428 ] && grep -q replay body.json || fail "the token accepted before the restart: $(pull "$a") $(cat body.json)"
[ "$(recorded)" = "$before" ] || fail "the replay after the restart reached the backend"
[ "$(pull "$b")" = 200 ] || fail "another fresh token after the restart: $(cat body.json)"
# A second pawld on the same file, started while the first still runs (a
# restart overlapping the drain): it waits until the first lets go, then
# reads what the first recorded (review: it rewrote the file while the
# first still appended to it, and the first's last ids were lost).
"$PAWLD_BIN" --config pawld.yaml 2>>pawld2.stderr &
second=$!
for _ in $(seq 100); do grep -q 'waiting for another pawld' pawld.log && break; sleep 0.05; done
grep -q 'waiting for another pawld' pawld.log || fail "the second pawld did not wait: $(tail -3 pawld.log) $(cat pawld2.stderr)"
c=$(token)
[ "$(pull "$c")" = 200 ] || fail "the first pawld, while the second waits: $(cat body.json)"
pawld_stop
pawld_pid=$second
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
[ "$(pull "$c")" = 428 ] && grep -q replay body.json || fail "the second pawld accepted the first's last token: $(cat body.json)"
pawld_stop
[ "$pawld_rc" = 0 ] || fail "the second pawld exited $pawld_rc: $(cat pawld2.stderr)"
echo "step-up state: a token accepted before a restart is refused after it (replay), another one serves;" \
    "a second pawld waits for the first to let go of the file"

# 2. A damaged file: --check and the start name it; a last entry cut short
# (a host that lost power while appending) is left out with a warning.
cp stepup.state good.state
printf 'PAWLSU0\n' >stepup.state
out=$("$PAWLD_BIN" --config pawld.yaml --check 2>&1) && fail "--check accepted a damaged state file"
echo "$out" | grep -q "step_up.state: .*stepup.state: not a step-up state file" || fail "--check: $out"
"$PAWLD_BIN" --config pawld.yaml >start.out 2>&1 && fail "pawld started with a damaged state file"
grep -q "step_up.state: .*move the file away" start.out || fail "the start: $(cat start.out)"
{ cat good.state; printf 'cut-short'; } >stepup.state
pawld_start "$tmp/pawld.yaml"
grep -q '"level":"warn".*"msg":"step-up state read","entries":3,"live":3,"cut_bytes":9' pawld.log ||
    fail "a cut entry: $(tail -3 pawld.log)"
[ "$(pull "$b")" = 428 ] && grep -q replay body.json || fail "the ids before the cut entry were lost: $(cat body.json)"
pawld_stop
echo "step-up state: a damaged file stops --check and the start; a cut last entry is left out with a warning"

# 3. A full file system: the id cannot be written, so the request is refused
# (503) and not forwarded, and the token is not used up.
if [ "$(id -u)" != 0 ]; then
    echo "step-up state: the full file system case needs root (mount); not run"
    echo "step-up state: all passed"
    exit 0
fi
mnt=$tmp/mnt
mkdir "$mnt"
mount -t tmpfs -o size=16k tmpfs "$mnt" || fail "cannot mount a tmpfs"
# 169 live entries: at start they are rewritten into one page, 4,064 bytes;
# the next entry still fits that page, the one after needs a page of its own
$py - "$mnt/stepup.state" <<'PY'
import os, struct, sys, time
with open(sys.argv[1], "wb") as f:
    f.write(b"PAWLSU1\n")
    for _ in range(169):
        f.write(os.urandom(16) + struct.pack("<Q", int(time.time()) + 3600))
PY
write_config "$mnt/stepup.state"
pawld_start "$tmp/pawld.yaml"
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
c=$(token) d=$(token)
[ "$(pull "$c")" = 200 ] || fail "full: the entry that still fits its page: $(cat body.json)"
before=$(recorded)
[ "$(pull "$d")" = 503 ] && grep -q '"reason":"dependency_unavailable"' body.json && grep -q 'step_up.state' body.json ||
    fail "full: the entry that does not fit: $(cat body.json)"
[ "$(recorded)" = "$before" ] || fail "full: the refused request reached the backend"
grep -q '"msg":"step_up.state: cannot record a token id' pawld.log || fail "full: not logged: $(tail -3 pawld.log)"
[ $(( $(stat -c %s "$mnt/stepup.state") % 24 )) = 8 ] || fail "full: a torn entry was left: $(stat -c %s "$mnt/stepup.state")"
rm "$mnt/filler"
[ "$(pull "$d")" = 200 ] || fail "room again: the token refused for want of room: $(cat body.json)"
pawld_stop
pawld_start "$tmp/pawld.yaml"
grep -q '"msg":"step-up state read","entries":171,"live":171' pawld.log || fail "full: after the restart: $(tail -3 pawld.log)"
[ "$(pull "$d")" = 428 ] && grep -q replay body.json || fail "full: a replay after the restart: $(cat body.json)"
pawld_stop
echo "step-up state: on a full file system the request is refused (503), the token kept, served once there is room"
echo "step-up state: all passed"
