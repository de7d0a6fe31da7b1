#!/usr/bin/env bash
# pawl ota end to end (docs/ota-publish.md): keygen, repo init, add,
# delegate (paths and hash bins), publish, rotate; exit codes and messages;
# every signature of every metadata file verified independently by
# ota_verify.py (Debian's python3 + python3-cryptography); and pawl's own
# TUF client (pawl-tuf-client, when built) refreshing and downloading from
# a real nginx on loopback.
set -euo pipefail
: "${PAWL_BIN:?}" "${PAWL_SRC:?}"
PY=/usr/bin/python3 # Debian's: the python3 on PATH may be another one
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
server=
. "$here/lib_nginx.sh"
cleanup() {
    nginx_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
"$PY" -c 'import cryptography' 2>/dev/null || fail "$PY lacks python3-cryptography (deps/debian-packages.txt)"
# jq if present (PAWL_TEST_NO_JQ=1: never), else Python's json: q FILE PATH,
# PATH a jq path such as .a."b.c"[0]
q() {
    if [ -z "${PAWL_TEST_NO_JQ:-}" ] && command -v jq >/dev/null; then jq -cr "$2" "$1"; else
        "$PY" - "$1" "$2" <<'PY'
import json, re, sys
v = json.load(open(sys.argv[1]))
for quoted, name, index in re.findall(r'\."([^"]+)"|\.([A-Za-z0-9_]+)|\[(\d+)\]', sys.argv[2]):
    v = v[int(index)] if index else v[quoted or name]
print(v if isinstance(v, str) else json.dumps(v, separators=(',', ':')))
PY
    fi
}
run() { # expected-rc cmd...: runs pawl, keeps stdout/stderr in $tmp/out, $tmp/err
    local want=$1 rc=0; shift
    "$PAWL_BIN" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = "$want" ] || fail "pawl $* exited $rc, want $want: $(cat "$tmp/err")"
}
has() { grep -qF -- "$2" "$tmp/$1" || fail "$1 of the last command lacks '$2': $(cat "$tmp/$1")"; }
cd "$tmp"

# 1. keygen: three key types, owner-only files, never overwritten.
for k in root1:ed25519 root2:ecdsa root3:rsa targets:rsa snapshot:ecdsa ts:ed25519 ts2:ed25519 \
    ecu:ecdsa ecu2:ed25519 bins:ed25519 team:ed25519; do
    run 0 ota keygen --type "${k#*:}" --out "${k%%:*}.pem"
    [ "$(stat -c %a "${k%%:*}.pem")" = 600 ] || fail "${k%%:*}.pem is not mode 600"
done
run 1 ota keygen --type ed25519 --out ts.pem
has err "ts.pem: File exists"
run 2 ota keygen --type dsa --out x.pem
run 2 ota keygen --type ed25519 --bits 2048 --out x.pem
openssl genrsa -out small.pem 1024 2>/dev/null
openssl genpkey -algorithm ed448 -out ed448.pem 2>/dev/null

# 2. init: two root keys with threshold 2, consistent snapshots.
run 2 ota repo init --repo repo --root-key root1.pem --targets-key targets.pem
has err "at least one key of each role"
run 2 ota repo init --repo repo --root-key root1.pem --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key ts.pem --threshold mirror=1
run 1 ota repo init --repo bad --root-key small.pem --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key ts.pem
has err "role 'root'"
has err "RSA key of 1024 bits"
run 1 ota repo init --repo bad --root-key ed448.pem --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key ts.pem
has err "only Ed25519, EC P-256 and RSA"
run 1 ota repo init --repo bad --root-key root1.pem --threshold root=2 --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key ts.pem
has err "threshold 2 is not in 1..1"
run 0 ota repo init --repo repo --root-key root1.pem --root-key root2.pem --threshold root=2 \
    --targets-key targets.pem --snapshot-key snapshot.pem --timestamp-key ts.pem \
    --expires timestamp=2
has out "published root v1"
has out "published timestamp v1"
run 1 ota repo init --repo repo --root-key root1.pem --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key ts.pem
has err "repo/keys.json exists"
m=repo/metadata
[ "$(q $m/1.root.json .signed.spec_version)" = 1.0.31 ] || fail "spec_version"
[ "$(q $m/root.json .signed.consistent_snapshot)" = true ] || fail "consistent_snapshot"
[ "$(q $m/root.json .signed.roles.root.threshold)" = 2 ] || fail "root threshold"
[ "$(q $m/root.json .signed.roles.root.keyids | tr -cd , | wc -c)" = 1 ] || fail "root keys"
[ "$(q $m/root.json .signed._type)" = root ] || fail "_type"
grep -q "PRIVATE KEY" repo/keys.json && fail "keys.json holds a private key"
grep -q "$tmp/root2.pem" repo/keys.json || fail "keys.json does not name root2.pem"
q $m/timestamp.json .signed.expires | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' ||
    fail "expires is not YYYY-MM-DDTHH:MM:SSZ"
for f in 1.targets.json targets.json 1.snapshot.json snapshot.json timestamp.json; do
    [ -f "$m/$f" ] || fail "init did not write $f"
done
[ -f $m/1.timestamp.json ] && fail "timestamp is never versioned"

# 3. delegations: a role with paths, hash bins below it, refusals.
run 0 ota repo delegate --repo repo --from targets --to ecu --key ecu.pem --path 'ecu/*/*' --terminating
run 1 ota repo delegate --repo repo --from targets --bins 4 --prefix bins --key bins.pem
has err "not both"
run 1 ota repo delegate --repo repo --from targets --to ecu --key ecu.pem --path 'x/*'
has err "exists"
run 1 ota repo delegate --repo repo --from targets --to snapshot --key ecu.pem --path 'x/*'
run 2 ota repo delegate --repo repo --from targets --to x --key ecu.pem
has err "--path PATTERN"
run 2 ota repo delegate --repo repo --from targets --to x --key ecu.pem --path a --hash-prefix ab
run 1 ota repo delegate --repo repo --from targets --to "" --key ecu.pem --path 'x/*'
has err "1..255 bytes"
run 1 ota repo delegate --repo repo --from nope --to x --key ecu.pem --path 'x/*'
has err "--from 'nope'"
run 1 ota repo delegate --repo repo --from targets --to x --key small.pem --path 'x/*'
has err "small.pem: RSA key of 1024 bits"
run 2 ota repo delegate --repo repo --from ecu --bins 17 --prefix ecubins --key bins.pem
run 0 ota repo delegate --repo repo --from ecu --bins 3 --prefix ecubins --key bins.pem
has out "8 hash bins"
run 1 ota repo delegate --repo repo --from targets --to ecubins-7 --key ecu.pem --path 'x/*'
has err "exists"
run 0 ota repo delegate --repo repo --from targets --to "a team/x" --key team.pem --threshold 1 \
    --hash-prefix 0 --hash-prefix 1 --hash-prefix 8

# 4. add: into targets, into the bins through ecu, refusals.
mkdir -p img/misc img2/ecu/door img3/x
printf 'top image\n' >img/top.img
printf 'a' >img/misc/a.txt
head -c 100000 /dev/urandom >img/misc/big.bin
printf 'door firmware v1\n' >img2/ecu/door/lock.bin
printf 'nope\n' >img3/x/y.bin
ln -s top.img img/link.img
run 0 ota repo add --repo repo --images img --custom '{"hardware":"tcu-7"}'
has out "added misc/big.bin to targets (100000 bytes)"
has err "skipping img/link.img: not a regular file"
bin=$("$PY" -c 'import hashlib; print("ecubins-%x" % (int.from_bytes(hashlib.sha256(b"ecu/door/lock.bin").digest()[:4], "big") >> 29))')
run 0 ota repo add --repo repo --images img2 --role ecu
has out "added ecu/door/lock.bin to $bin (17 bytes)"
run 1 ota repo add --repo repo --images img3 --role ecu
has err "target 'x/y.bin': role 'ecu' is not delegated this path"
run 1 ota repo add --repo repo --images img2 --role ecubins
has err "not a targets role"
run 1 ota repo add --repo repo --images nowhere
has err "nowhere"
run 2 ota repo add --repo repo --images img --custom '{'

# 5. publish: what changed, once.
run 0 ota repo publish --repo repo
for want in "published targets v2" "published ecu v1" "published $bin v1" "published ecubins-0 v1" \
    "published a team/x v1" "published snapshot v2" "published timestamp v2"; do has out "$want"; done
[ -f "$m/1.a%20team%2Fx.json" ] || fail "delegated role file name not percent-encoded"
[ "$(q $m/2.targets.json '.signed.targets."misc/a.txt".custom.hardware')" = tcu-7 ] || fail "custom"
[ "$(q $m/2.targets.json '.signed.delegations.roles[0].terminating')" = true ] || fail "terminating"
[ "$(q $m/1.ecu.json .signed.delegations.succinct_roles.bit_length)" = 3 ] || fail "bit_length"
[ "$(q $m/2.snapshot.json '.signed.meta."ecubins-5.json".version')" = 1 ] || fail "snapshot meta"
ls $m >"$tmp/before"
run 0 ota repo publish --repo repo
has out "nothing to publish"
ls $m | cmp -s - "$tmp/before" || fail "an idle publish wrote files"
run 0 ota repo publish --repo repo --refresh timestamp
has out "published timestamp v3"
run 2 ota repo publish
run 1 ota repo publish --repo nowhere
has err "nowhere/keys.json"
"$PY" "$here/ota_verify.py" repo >"$tmp/verify" || fail "ota_verify: $(tail -3 "$tmp/verify")"
# ... and the verifier is not a rubber stamp: one changed byte of a signed part fails it.
cp -r repo tampered
"$PY" - tampered/metadata/1.ecu.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["signed"]["delegations"]["succinct_roles"]["bit_length"] = 4
json.dump(d, open(sys.argv[1], "w"))
PY
if "$PY" "$here/ota_verify.py" tampered >"$tmp/verify"; then fail "ota_verify accepted a changed ecu"; fi
grep -q "1.ecu.json: signature by .* does not verify" "$tmp/verify" || fail "tamper: $(tail -1 "$tmp/verify")"

# 6. pawl's TUF client over HTTP: refresh, download from targets and a bin.
client=$(dirname "$PAWL_BIN")/pawl-tuf-client
start_server() {
    nginx_start "$PWD/repo" "$tmp" || fail "nginx"
    server=$nginx_pid
    port=$nginx_port
}
fetch() { # refresh [targets...]
    local args=(--metadata-dir client --metadata-url "http://127.0.0.1:$port/metadata")
    if [ $# -eq 0 ]; then "$client" "${args[@]}" refresh; return; fi
    for t in "$@"; do args+=(--target-name "$t"); done
    rm -rf dl && mkdir dl
    "$client" "${args[@]}" --target-base-url "http://127.0.0.1:$port/targets" --target-dir dl download
}
if [ -x "$client" ]; then
    start_server
    mkdir client
    "$client" --metadata-dir client init $m/1.root.json
    fetch >/dev/null 2>&1 || fail "pawl-tuf-client refused the repository"
    grep -q '"GET /metadata/timestamp.json HTTP/1.1" 200' "$tmp/nginx/access.log" ||
        fail "nginx did not serve the client"
    fetch misc/big.bin ecu/door/lock.bin >/dev/null 2>&1 || fail "download failed"
    cmp -s dl/misc%2Fbig.bin img/misc/big.bin || fail "downloaded big.bin differs"
    cmp -s dl/ecu%2Fdoor%2Flock.bin img2/ecu/door/lock.bin || fail "downloaded lock.bin differs"
else
    echo "note: $client not built; client check skipped" >&2
fi

# 7. rotate: root (old and new keys sign), timestamp, a delegated role, bins.
run 1 ota repo rotate --repo repo --role root --remove-key root1.pem
has err "below its threshold 2"
run 0 ota repo rotate --repo repo --role root --add-key root3.pem --remove-key root1.pem
has out "published root v2"
sigs=$(q $m/2.root.json .signatures | grep -o '"keyid"' | wc -l)
[ "$sigs" = 3 ] || fail "2.root.json has $sigs signatures, want root1+root2+root3"
run 0 ota repo rotate --repo repo --role timestamp --add-key ts2.pem --remove-key ts.pem
has out "published root v3"
has out "published timestamp v4"
run 0 ota repo rotate --repo repo --role ecu --add-key ecu2.pem --threshold 2
has out "published targets v3"
has out "published ecu v2"
[ "$(q $m/2.ecu.json .signatures | grep -o '"keyid"' | wc -l)" = 2 ] || fail "ecu v2 signatures"
run 0 ota repo rotate --repo repo --role ecubins --add-key ecu2.pem --remove-key bins.pem
has out "published ecubins-7 v2"
run 1 ota repo rotate --repo repo --role nope --add-key ecu2.pem
has err "no role 'nope'"
run 2 ota repo rotate --repo repo --role ecu
run 1 ota repo rotate --repo repo --role ecu --threshold 3
has err "threshold 3 is not in 1..2"
"$PY" "$here/ota_verify.py" repo >"$tmp/verify" || fail "ota_verify after rotation: $(tail -3 "$tmp/verify")"
grep -q "ok 3.root.json" "$tmp/verify" || fail "ota_verify did not walk the roots"
if [ -n "$server" ]; then
    printf 'door firmware v2\n' >img2/ecu/door/lock.bin
    run 0 ota repo add --repo repo --images img2 --role ecu
    run 0 ota repo publish --repo repo
    fetch >/dev/null 2>&1 || fail "pawl-tuf-client refused the rotated repository"
    fetch ecu/door/lock.bin >/dev/null 2>&1 || fail "download after rotation failed"
    cmp -s dl/ecu%2Fdoor%2Flock.bin img2/ecu/door/lock.bin || fail "lock.bin v2 differs"
fi

# 8. without consistent snapshots: plain names only.
run 0 ota repo init --repo plain --root-key root2.pem --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key ts2.pem --no-consistent-snapshot
run 0 ota repo add --repo plain --images img
run 0 ota repo publish --repo plain
[ -f plain/targets/misc/big.bin ] || fail "plain target not stored by its path"
[ -f plain/metadata/2.targets.json ] && fail "versioned targets without consistent snapshots"
[ -f plain/metadata/1.root.json ] || fail "root is always versioned"
"$PY" "$here/ota_verify.py" plain >"$tmp/verify" || fail "ota_verify plain: $(tail -3 "$tmp/verify")"
run 2 ota
run 2 ota repo frobnicate
run 0 ota --help
has out "pawl ota repo publish"
echo "ok: pawl ota end to end"
