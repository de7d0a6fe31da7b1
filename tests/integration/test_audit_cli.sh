#!/usr/bin/env bash
# pawl audit append/verify end to end: tampering, deletion, reordering,
# truncation (via the anchor), torn tails at every byte, and kill -9 crashes.
set -euo pipefail

: "${PAWL_BIN:?PAWL_BIN must point to the pawl binary}"
T=$(mktemp -d)
cleanup() {
    jobs -p | xargs -r kill -9 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# run WANT_RC CMD...: output in $T/out
run() {
    local want=$1 rc=0
    shift
    "$@" >"$T/out" 2>&1 || rc=$?
    if [ "$rc" -ne "$want" ]; then
        cat "$T/out" >&2
        fail "exit $rc, want $want: $*"
    fi
}
expect_out() { grep -q -- "$1" "$T/out" || { cat "$T/out" >&2; fail "output lacks '$1'"; }; }

gen() { # gen FIRST LAST: event lines with a record time
    awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++) printf "{\"i\":%d,\"time\":%d}\n", i, 1000 + i }'
}

openssl genpkey -algorithm ed25519 -out "$T/k.pem" 2>/dev/null
openssl pkey -in "$T/k.pem" -pubout -out "$T/p.pem"
K="$T/k.pem"
P="$T/p.pem"
PAWL="$PAWL_BIN"

# --- help and usage
run 0 "$PAWL" audit --help
expect_out "verify FILE"
run 0 "$PAWL" audit verify --help
run 0 "$PAWL" audit append --help
run 2 "$PAWL" audit verify "$T/none.log"
run 2 "$PAWL" audit frobnicate
run 3 "$PAWL" audit verify "$T/none.log" --key "$P"
run 3 "$PAWL" audit verify "$T/none.log" --key "$T/missing.pem"

# --- append + verify
L="$T/a.log"
gen 1 40 | run 0 "$PAWL" audit append "$L" --key "$K" --every 10
[ "$(stat -c %a "$L")" = 600 ] || fail "log mode is not 0600"
[ -f "$L.anchor" ] || fail "no anchor"
cp "$L.anchor" "$T/anchor.first"
gen 41 45 | run 0 "$PAWL" audit append "$L" --key "$K" --every 10
run 0 "$PAWL" audit verify "$L" --key "$P"
expect_out "ok: 52 records, last checkpoint seq 51, 0 unsigned"
# a bad input line is reported and skipped; the next lines still land
printf '{"i":46}\nnot json\n{"i":47}\n' | run 1 "$PAWL" audit append "$L" --key "$K"
expect_out "stdin:2:"
run 0 "$PAWL" audit verify "$L" --key "$P"
expect_out "ok: 55 records"
# the wrong public key
openssl genpkey -algorithm ed25519 -out "$T/k2.pem" 2>/dev/null
openssl pkey -in "$T/k2.pem" -pubout -out "$T/p2.pem"
run 1 "$PAWL" audit verify "$L" --key "$P" --anchor /dev/null
run 1 "$PAWL" audit verify "$L" --key "$T/p2.pem"
expect_out "bad checkpoint signature"
cp "$L" "$T/noanchor.log"
run 1 "$PAWL" audit verify "$T/noanchor.log" --key "$T/p2.pem"
expect_out "noanchor.log:1: seq 0: genesis key does not match"
# refuse to append with a key that is not the log's
echo '{"x":1}' | run 1 "$PAWL" audit append "$L" --key "$T/k2.pem"
expect_out "move it and its .anchor aside together"

# copy of the log with its anchor, for damaging
mk() { cp "$L" "$T/$1"; cp "$L.anchor" "$T/$1.anchor"; echo "$T/$1"; }

# --- tampering with one record names its line
X=$(mk t.log)
sed -i '5s/"i":4,/"i":9,/' "$X"
run 1 "$PAWL" audit verify "$X" --key "$P"
expect_out "t.log:5: seq 4: hash mismatch"
# ... even when the attacker re-hashes that line: the next line's prev breaks
X=$(mk t2.log)
line=$(sed -n 7p "$L")
prefix=${line%,\"hash\":*}
prefix=${prefix/\"i\":6,/\"i\":7,}
h=$(printf '%s' "$prefix" | sha256sum | cut -c1-64)
awk -v n=7 -v repl="$prefix,\"hash\":\"$h\"}" 'NR == n { print repl; next } { print }' "$L" >"$X"
run 1 "$PAWL" audit verify "$X" --key "$P"
expect_out "t2.log:8: seq 7: prev is not the hash"

# --- deleting a middle record
X=$(mk d.log)
sed -i '20d' "$X"
run 1 "$PAWL" audit verify "$X" --key "$P"
expect_out "d.log:20: seq 20: seq gap"

# --- reordering two records
X=$(mk r.log)
awk 'NR == 30 { held = $0; next } { print } NR == 31 { print held }' "$L" >"$X"
run 1 "$PAWL" audit verify "$X" --key "$P"
expect_out "r.log:30: seq 30: seq gap"

# --- truncating before the last checkpoint: caught by the anchor
X=$(mk tr.log)
last_cp=$(grep -n '"kind":"checkpoint"' "$X" | tail -n 2 | head -n 1 | cut -d: -f1)
head -n "$((last_cp - 1))" "$L" >"$X"
run 1 "$PAWL" audit verify "$X" --key "$P"
expect_out "truncated: anchored checkpoint seq 54 not in log"
run 1 "$PAWL" audit verify "$X" --key "$P" --anchor "$T/tr.log.anchor"
# without the anchor it is only a shorter log (documented limitation)
rm "$X.anchor"
run 0 "$PAWL" audit verify "$X" --key "$P"
run 3 "$PAWL" audit verify "$X" --key "$P" --anchor "$T/nope.anchor"
# a forged anchor is refused
X=$(mk fa.log)
sed -i 's/"covers":53/"covers":52/' "$X.anchor"
grep -q "covers\":52" "$X.anchor" || fail "anchor not forged"
run 1 "$PAWL" audit verify "$X" --key "$P"

# --- a torn last line, cut at every byte: the crash happened while the final
# checkpoint was being written, so the anchor still holds the one before it.
size=$(stat -c %s "$L")
lastlen=$(tail -n 1 "$L" | wc -c)   # with its '\n'
base=$((size - lastlen))
X="$T/torn.log"
grep '"kind":"checkpoint"' "$L" | tail -n 2 | head -n 1 >"$X.anchor"
for ((k = 1; k < lastlen; k++)); do
    head -c "$((base + k))" "$L" >"$X"
    run 0 "$PAWL" audit verify "$X" --key "$P"
    expect_out "torn tail: $k bytes at offset $base (incomplete last record)"
done
# reopening moves the torn bytes aside and continues the chain
head -c "$((base + 100))" "$L" >"$X"
echo '{"after":"torn"}' | run 0 "$PAWL" audit append "$X" --key "$K"
[ "$(stat -c %s "$X.torn.$base")" = 100 ] || fail "torn bytes not moved to $X.torn.$base"
run 0 "$PAWL" audit verify "$X" --key "$P"
expect_out "ok: 56 records"
grep -q "torn tail" "$T/out" && fail "torn tail still there"

# --- crash safety: kill -9 the appender at many moments
C="$T/crash.log"
slowgen() { # slowgen RUN: an endless-enough stream, 10 lines per ~2 ms
    awk -v r="$1" 'BEGIN { for (i = 1; i <= 50000; i++) {
        printf "{\"run\":%d,\"i\":%d}\n", r, i
        if (i % 10 == 0) { fflush(); system("sleep 0.002") } } }'
}
hits=0
for ((r = 1; r <= 26; r++)); do
    flags=(--every 25)
    [ $((r % 3)) -eq 0 ] && flags+=(--fsync)
    [ $((r % 4)) -eq 0 ] && flags+=(--every-ms 5)
    "$PAWL" audit append "$C" --key "$K" "${flags[@]}" < <(slowgen "$r") 2>"$T/append.err" &
    pid=$!
    sleep "$(awk -v r="$r" 'BEGIN { printf "%.3f", 0.005 + (r * 37 % 26) * 0.012 }')"
    kill -9 "$pid" 2>/dev/null && hits=$((hits + 1))
    wait "$pid" 2>/dev/null || true
    if [ -f "$C" ]; then
        run 0 "$PAWL" audit verify "$C" --key "$P"
    fi
    echo "{\"run\":$r,\"resumed\":true}" | run 0 "$PAWL" audit append "$C" --key "$K" --every 25
    run 0 "$PAWL" audit verify "$C" --key "$P"
    grep -q "torn tail" "$T/out" && fail "torn tail left after resume (run $r)"
done
[ "$hits" -ge 20 ] || fail "only $hits of 26 kills hit a running appender"
run 0 "$PAWL" audit verify "$C" --key "$P"
expect_out "0 unsigned records"
# every run's events are a gap-free prefix 1..k, followed by its resume record
awk '
    /"kind":"event"/ {
        if (match($0, /"body":[{]"run":[0-9]+,"i":[0-9]+[}]/)) {
            split(substr($0, RSTART, RLENGTH), f, /[:,}]/)
            run = f[3]; i = f[5]
            if (i != last[run] + 1) { printf "run %s: i %s after %s\n", run, i, last[run]; bad = 1 }
            last[run] = i
        } else if ($0 ~ /"resumed":true/) {
            match($0, /"run":[0-9]+/); r = substr($0, RSTART + 6, RLENGTH - 6)
            done[r] = 1
        }
    }
    END {
        for (r = 1; r <= 26; r++) if (!done[r]) { printf "run %d: no resume record\n", r; bad = 1 }
        exit bad
    }' "$C" || fail "records lost in the middle of a run"
echo "ok: $hits kills, $(wc -l <"$C") lines, $(ls "$T" | grep -c 'crash.log.torn' || true) torn tails moved aside"
