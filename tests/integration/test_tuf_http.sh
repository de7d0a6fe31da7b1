#!/usr/bin/env bash
# pawl-tuf-client against a real nginx on loopback serving a repository
# made by pawl ota: a good update, then the network attacker's moves on the
# served files (substituted target, endless data, rollback of the timestamp
# and of the snapshot, a missing snapshot, a foreign root), each refused with
# the trusted metadata and the target directory left as they were; then a
# root and timestamp key rotation the client follows.
set -euo pipefail
: "${PAWL_BIN:?}" "${PAWL_SRC:?}"
here=$PAWL_SRC/tests/integration
client=$(dirname "$PAWL_BIN")/pawl-tuf-client
[ -x "$client" ] || { echo "FAIL: $client not built" >&2; exit 1; }
tmp=$(mktemp -d)
. "$here/lib_nginx.sh"
cleanup() { nginx_stop; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
pawl() { "$PAWL_BIN" "$@" >/dev/null 2>"$tmp/pawl.err" || fail "pawl $*: $(cat "$tmp/pawl.err")"; }

for k in root root2 targets snapshot timestamp timestamp2 fw; do
    pawl ota keygen --type ed25519 --out "$k.pem"
done
pawl ota repo init --repo repo --root-key root.pem --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key timestamp.pem
mkdir -p imgfw/ecu imgtop
printf 'brake controller 1.0\n' >imgfw/ecu/brake.bin
printf 'infotainment 7.2\n' >imgtop/head-unit.img
pawl ota repo delegate --repo repo --from targets --to fw --key fw.pem --path 'ecu/*'
pawl ota repo add --repo repo --images imgfw --role fw
pawl ota repo add --repo repo --images imgtop
pawl ota repo publish --repo repo

nginx_start "$tmp/repo" "$tmp" || fail "nginx"
url=http://127.0.0.1:$nginx_port
mkdir md dl
"$client" --metadata-dir md init repo/metadata/1.root.json || fail "init"
run() { # expected-exit args...
    local want=$1; shift
    set +e
    "$client" --metadata-dir md --metadata-url "$url/metadata" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    set -e
    [ "$rc" = "$want" ] || fail "pawl-tuf-client $* exited $rc, want $want: $(cat "$tmp/err")"
}
download() { # expected-exit target
    run "$1" --target-name "$2" --target-base-url "$url/targets" --target-dir dl download
}
state() { (cd md && sha256sum ./*.json) ; ls -A dl; }
says() { grep -q -- "$1" "$tmp/err" || fail "expected '$1' in: $(cat "$tmp/err")"; }

run 0 refresh
path=ecu/brake.bin
download 0 "$path"
cmp -s dl/ecu%2Fbrake.bin imgfw/ecu/brake.bin || fail "downloaded bytes differ"
download 0 head-unit.img
cmp -s dl/head-unit.img imgtop/head-unit.img || fail "downloaded head-unit.img differs"
download 1 ecu/unknown.bin
says "no trusted role lists it"

# 1. a substituted artifact: every hashed name serves other bytes
rm -rf dl && mkdir dl
before=$(state)
for f in $(find repo/targets -name '*brake.bin'); do printf 'evil firmware\n' >"$f"; done
download 1 "$path"
says "does not match\|length is"
[ "$(state)" = "$before" ] || fail "a refused download changed the client"

# 2. endless data in place of the timestamp
cp repo/metadata/timestamp.json ts.good
head -c 5000000 /dev/zero >repo/metadata/timestamp.json
run 1 refresh
says "more than the 16384 bytes allowed"
[ "$(state)" = "$before" ] || fail "endless data changed the client"
cp ts.good repo/metadata/timestamp.json

# 3. rollback: the client has timestamp N+1, the attacker replays N
cp repo/metadata/timestamp.json ts.old
pawl ota repo publish --repo repo --refresh timestamp
run 0 refresh
before=$(state)
cp repo/metadata/timestamp.json ts.new
cp ts.old repo/metadata/timestamp.json
run 1 refresh
says "older than the trusted"
[ "$(state)" = "$before" ] || fail "a rollback changed the client"
cp ts.new repo/metadata/timestamp.json

# 4. a snapshot that is gone (404), then one of another version
pawl ota repo publish --repo repo --refresh snapshot
snap=$(ls repo/metadata | grep -E '^[0-9]+\.snapshot\.json$' | sort -n | tail -1)
mv "repo/metadata/$snap" snap.hidden
run 1 refresh
says "not found on the repository"
prev=$(ls repo/metadata | grep -E '^[0-9]+\.snapshot\.json$' | sort -n | tail -1)
cp "repo/metadata/$prev" "repo/metadata/$snap"
run 1 refresh
says "sha256 does not match\|the timestamp names"
mv snap.hidden "repo/metadata/$snap"
run 0 refresh

# 5. a next root nobody signed for: version N+1 with root v1's signatures
next=$(( $(ls repo/metadata | grep -E '^[0-9]+\.root\.json$' | sort -n | tail -1 | cut -d. -f1) + 1 ))
sed 's/"version": *[0-9]*/"version": '"$next"'/' "repo/metadata/1.root.json" >"repo/metadata/$next.root.json"
run 1 refresh
says "root version $next"
rm "repo/metadata/$next.root.json"

# 6. rotation: new root and timestamp keys; the client follows
pawl ota repo rotate --repo repo --role root --add-key root2.pem --remove-key root.pem
pawl ota repo rotate --repo repo --role timestamp --add-key timestamp2.pem --remove-key timestamp.pem
run 0 refresh
[ "$(grep -o '"version": *[0-9]*' md/root.json | tail -1 | grep -o '[0-9]*$')" = 3 ] || fail "client root is not version 3"
grep -q '"GET /metadata/3.root.json HTTP/1.1" 200' "$tmp/nginx/access.log" || fail "nginx log"
echo "ok: pawl-tuf-client over nginx (good update, 6 attacks refused, rotation followed)"
