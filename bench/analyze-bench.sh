#!/usr/bin/env bash
# pawl analyze throughput and peak memory over a file of API Activity lines
# (discovery and every detector, with grants), against `jq -c .` reading the
# same file as a parse-only reference, measured in the same run. Prints
# figures; never fails on time.
#
# usage: bench/analyze-bench.sh [--quick] [--mb N]
#   the file is N MB (default 1024; --quick: 32) of gen_fleet_traffic.py's
#   traffic, repeated. PAWL_BUILD: the build directory (default build/release,
#   else build/gcc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mb=1024
while [ $# -gt 0 ]; do
    case $1 in
    --quick) mb=32 ;;
    --mb) mb=$2; shift ;;
    *) echo "usage: $0 [--quick] [--mb N]" >&2; exit 2 ;;
    esac
    shift
done
build=${PAWL_BUILD:-$root/build/release}
[ -x "$build/pawl" ] || build=$root/build/gcc
pawl=$build/pawl
for t in jq /usr/bin/time; do
    command -v $t >/dev/null || { echo "analyze-bench: $t is not installed (deps/debian-packages.txt)" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/tests/integration/gen_fleet_traffic.py" "$tmp/g" 11 >/dev/null
: >"$tmp/events.jsonl"
while [ "$(stat -c %s "$tmp/events.jsonl")" -lt $((mb * 1024 * 1024)) ]; do
    cat "$tmp/g/events.jsonl" >>"$tmp/events.jsonl"
done
lines=$(wc -l <"$tmp/events.jsonl")
size=$(stat -c %s "$tmp/events.jsonl")
run() { # label cmd...: prints seconds and peak KiB
    /usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
    cat "$tmp/t"
}
cat "$tmp/events.jsonl" >/dev/null # in the page cache for both
read -r ps pk < <(run taskset -c 0 "$pawl" analyze --events "$tmp/events.jsonl" --grants "$tmp/g/grants.jsonl" \
    --findings /dev/null --inventory /dev/null)
read -r js jk < <(run taskset -c 0 jq -c . "$tmp/events.jsonl")
echo "analyze-bench: $(date -u +%Y-%m-%dT%H:%MZ), $lines events, $((size / 1048576)) MiB, one core (taskset -c 0)"
awk -v n="$lines" -v b="$size" -v ps="$ps" -v pk="$pk" -v js="$js" -v jk="$jk" 'BEGIN {
    printf "  pawl analyze (discovery + detectors)  %8.0f events/s  %6.1f MiB/s  peak %7d KiB\n", n / ps, b / ps / 1048576, pk
    printf "  jq -c . (parse only)                  %8.0f events/s  %6.1f MiB/s  peak %7d KiB\n", n / js, b / js / 1048576, jk
    printf "  pawl / jq: %.2fx (goal >= 5x); goal 500,000 events/s per core\n", js / ps
}'
