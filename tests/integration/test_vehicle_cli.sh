#!/usr/bin/env bash
# pawl token issue | cosign | inspect and pawl vehicle verify end to end, as
# COMMAND-TOKEN.md's command-line section says: one JSON line, exit 0 accept,
# 1 reject, 2 usage or I/O error; replay state kept in --store across runs and
# across concurrent processes. Keys: the test-only vector keys.
set -euo pipefail
: "${PAWL_BIN:?}" "${PAWL_SRC:?}"
keys=$PAWL_SRC/tests/vectors/command-token/keys
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
VIN=1HGCM82633A004352
T0=1767225600
pem_json() { openssl pkey -pubout -in "$1" | awk 'BEGIN{ORS=""} {printf "%s\\n", $0}'; }
cat >"$tmp/trust.json" <<JSON
{"vin": "$VIN", "skew_s": 30, "max_lifetime_s": 120,
 "keys": [{"role": "authority", "alg": "EdDSA", "spki_pem": "$(pem_json "$keys/authority-ed25519.pem")"},
          {"role": "owner", "alg": "ES256", "spki_pem": "$(pem_json "$keys/owner-es256.pem")"}],
 "require": {"door.unlock": ["authority", "owner"], "engine.start": ["authority", "owner"],
             "*": ["authority"]},
 "stationary_only": ["door.unlock", "engine.start", "engine.stop"]}
JSON
issue() { # out cmd seq [extra...]
    local out=$1 cmd=$2 seq=$3; shift 3
    "$PAWL_BIN" token issue --key "$keys/authority-ed25519.pem" --iss pawl-authority --sub user-42 \
        --vin "$VIN" --cmd "$cmd" --seq "$seq" --iat "$T0" --ttl 60 --out "$tmp/$out" "$@"
}
verify() { # file [extra...]; prints the line, sets rc
    local f=$1; shift
    rc=0
    line=$("$PAWL_BIN" vehicle verify --trust "$tmp/trust.json" --store "$tmp/store" \
        --now $((T0 + 5)) "$@" "$tmp/$f" 2>"$tmp/err") || rc=$?
}
expect() { # rc line
    [ "$rc" = "$1" ] || fail "exit $rc, want $1 (line: $line; stderr: $(cat "$tmp/err"))"
    [ "$line" = "$2" ] || fail "printed: $line
want:    $2"
}

# 1. An authority command is accepted once; the store (created) remembers it.
issue lock.cbor door.lock 1
verify lock.cbor
expect 0 '{"verdict":"accept","reason":"ok","cmd":"door.lock","seq":1}'
[ -d "$tmp/store" ] || fail "--store DIR not created"
verify lock.cbor
expect 1 '{"verdict":"reject","reason":"replay","cmd":"door.lock","seq":1}'

# 2. door.unlock needs the owner: the backend's signature alone is refused.
issue unlock.cbor door.unlock 2 --args '{"doors": ["driver"], "relock_s": 30}'
verify unlock.cbor
expect 1 '{"verdict":"reject","reason":"missing_signer","cmd":"door.unlock","seq":2}'
"$PAWL_BIN" token cosign --key "$keys/owner-es256.pem" "$tmp/unlock.cbor" || fail "cosign"
if "$PAWL_BIN" token cosign --key "$keys/owner-es256.pem" "$tmp/unlock.cbor" 2>"$tmp/err"; then
    fail "the same key co-signed twice"
fi
grep -q "already signed" "$tmp/err" || fail "duplicate cosign not explained: $(cat "$tmp/err")"
# ... moving: refused, and not recorded ...
verify unlock.cbor --signal Vehicle.Speed=42.0 --signal Vehicle.Cabin.Door.Row1.DriverSide.IsLocked=true
expect 1 '{"verdict":"reject","reason":"unsafe_state","cmd":"door.unlock","seq":2}'
# ... parked: accepted.
verify unlock.cbor --signal Vehicle.Speed=0
expect 0 '{"verdict":"accept","reason":"ok","cmd":"door.unlock","seq":2}'

# 3. inspect shows the claims and both signers without verifying.
"$PAWL_BIN" token inspect "$tmp/unlock.cbor" >"$tmp/inspect" || fail "inspect exited $?"
for want in 'cmd  "door.unlock"' 'aud  "1HGCM82633A004352"' 'args {"doors": \["driver"\], "relock_s": 30}' \
    'seq  2' 'alg -8 (EdDSA)' 'alg -7 (ES256)' '2 signatures'; do
    grep -q "$want" "$tmp/inspect" || fail "inspect lacks '$want': $(cat "$tmp/inspect")"
done

# 4. Another VIN, an old sequence number, the clock, a malformed file.
"$PAWL_BIN" token issue --key "$keys/authority-ed25519.pem" --iss a --sub b --vin 5YJ3E1EA7JF000001 \
    --cmd horn.flash --seq 9 --iat "$T0" --out "$tmp/other.cbor"
verify other.cbor
expect 1 '{"verdict":"reject","reason":"wrong_vehicle","cmd":"horn.flash","seq":9}'
issue old.cbor horn.flash 2
verify old.cbor
expect 1 '{"verdict":"reject","reason":"stale_sequence","cmd":"horn.flash","seq":2}'
issue late.cbor horn.flash 10 --ttl 3
verify late.cbor
expect 1 '{"verdict":"reject","reason":"expired","cmd":"horn.flash","seq":10}'
issue long.cbor horn.flash 11 --ttl 600
verify long.cbor
expect 1 '{"verdict":"reject","reason":"lifetime_too_long","cmd":"horn.flash","seq":11}'
printf '\xd8\x62\x84\x40' >"$tmp/cut.cbor"
verify cut.cbor
expect 1 '{"verdict":"reject","reason":"malformed","cmd":null,"seq":null}'
grep -q "malformed" "$tmp/err" || fail "malformed without a reason on stderr"
head -c 5000 /dev/zero >"$tmp/big.cbor"
verify big.cbor
expect 1 '{"verdict":"reject","reason":"malformed","cmd":null,"seq":null}'

# 5. Usage and I/O errors exit 2 with a message, never a verdict.
usage() { # description, args...
    local what=$1; shift
    rc=0
    "$PAWL_BIN" vehicle verify "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = 2 ] || fail "$what: exit $rc, want 2"
    [ ! -s "$tmp/out" ] || fail "$what: printed a verdict: $(cat "$tmp/out")"
    [ -s "$tmp/err" ] || fail "$what: no message"
}
issue fresh.cbor horn.flash 20
usage "no --now" --trust "$tmp/trust.json" --store "$tmp/store" "$tmp/fresh.cbor"
usage "bad --now" --trust "$tmp/trust.json" --store "$tmp/store" --now soon "$tmp/fresh.cbor"
usage "bad signal" --trust "$tmp/trust.json" --store "$tmp/store" --now "$T0" --signal Speed "$tmp/fresh.cbor"
usage "signal value" --trust "$tmp/trust.json" --store "$tmp/store" --now "$T0" --signal Vehicle.Speed=fast "$tmp/fresh.cbor"
usage "no token" --trust "$tmp/trust.json" --store "$tmp/store" --now "$T0" "$tmp/missing.cbor"
echo '{"vin": "1HGCM82633A004352", "keys": [], "require": {}}' >"$tmp/bad-trust.json"
usage "empty keys" --trust "$tmp/bad-trust.json" --store "$tmp/store" --now "$T0" "$tmp/fresh.cbor"
grep -q "bad-trust.json: keys" "$tmp/err" || fail "trust error does not say where: $(cat "$tmp/err")"
touch "$tmp/file"
usage "store is a file" --trust "$tmp/trust.json" --store "$tmp/file" --now "$T0" "$tmp/fresh.cbor"

# 6. Eight processes verify one fresh token at once: exactly one accepts.
issue race.cbor horn.flash 30
for i in 1 2 3 4 5 6 7 8; do
    ("$PAWL_BIN" vehicle verify --trust "$tmp/trust.json" --store "$tmp/store" --now $((T0 + 5)) \
        "$tmp/race.cbor" >"$tmp/race.$i" 2>/dev/null || true) &
done
wait
accepts=$(cat "$tmp"/race.* | grep -c '"verdict":"accept"' || true)
[ "$accepts" = 1 ] || fail "$accepts of 8 concurrent verifications accepted: $(cat "$tmp"/race.*)"
echo "vehicle CLI: ok"
