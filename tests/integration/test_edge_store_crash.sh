#!/usr/bin/env bash
# The file replay store under kill -9: a writer admits random tokens with
# record=true and prints each one only after admit() said FRESH; it is killed
# at random points (during open, appends, compactions, with a second writer
# on the same store). After every kill the store must open cleanly, no printed
# token may be FRESH again, and every printed token inside the retention must
# still be a REPLAY. The writer and checker are hidden modes of
# test_edge_store_file (built next to the pawl binary).
set -euo pipefail

: "${PAWL_BIN:?PAWL_BIN must point to the pawl binary}"
B="$(dirname "$PAWL_BIN")/test_edge_store_file"
[ -x "$B" ] || { echo "FAIL: $B not built" >&2; exit 1; }
T=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Three stores, each with its own settings (a retention is a property of the
# store's history, so modes are not mixed on one store):
#   plain: default compaction threshold, long retention
#   heavy: compaction every few appends (threshold 16, retention 12 s)
#   duo:   two writers at once, threshold 64, retention 40 s
declare -A CA=([plain]=4096 [heavy]=16 [duo]=64)
declare -A RET=([plain]=2000 [heavy]=12 [duo]=40)
modes=(plain heavy duo)
rounds=${PAWL_CRASH_ROUNDS:-42}

# complete lines only: a line cut by the kill names no token
complete() {
    if [ -n "$(tail -c1 "$1")" ]; then sed '$d' "$1"; else cat "$1"; fi
}

start=$SECONDS
for ((i = 0; i < rounds; i++)); do
    m=${modes[i % 3]}
    S="$T/$m"
    n=1
    [ "$m" = duo ] && n=2
    pids=()
    for ((w = 0; w < n; w++)); do
        "$B" --crash-writer "$S" "${CA[$m]}" "${RET[$m]}" >"$T/out.$w" 2>"$T/err.$w" &
        pids+=($!)
    done
    # from 1 ms (inside open) to about 0.4 s
    sleep "0.$(printf '%03d' $(( (RANDOM % 400) + 1 )))"
    for ((w = 0; w < n; w++)); do
        kill -0 "${pids[w]}" 2>/dev/null || { cat "$T/err.$w" >&2; fail "round $i ($m): writer exited before the kill"; }
        kill -9 "${pids[w]}"
        wait "${pids[w]}" 2>/dev/null || true
        complete "$T/out.$w" >>"$T/printed.$m"
    done
    pids=()
    res=$("$B" --crash-check "$S" "${RET[$m]}" "$T/printed.$m") || fail "round $i ($m): check failed"
    read -r checked kept nrec <<<"$res"
    if [ "$m" = heavy ] && [ "$nrec" -gt "${CA[heavy]}" ]; then
        fail "round $i (heavy): log holds $nrec records, compaction threshold ${CA[heavy]}"
    fi
done

for m in "${modes[@]}"; do
    total=$(wc -l <"$T/printed.$m")
    echo "$m: $total tokens accepted across the kills, all refused afterwards"
    [ "$total" -ge 20 ] || fail "$m: only $total tokens written; the test proves little"
done
# the heavy store compacted: far more tokens than its log can hold
[ "$(wc -l <"$T/printed.heavy")" -gt 64 ] || fail "heavy: too few tokens to compact often"
echo "ok: $rounds kills in $((SECONDS - start)) s"
