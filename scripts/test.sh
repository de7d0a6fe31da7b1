#!/usr/bin/env bash
# Set up and run every test: see README.md ("Run all tests").
#   1. gcc build, -Werror; unit + CLI integration tests (CTest)
#   2. clang build with ASan + UBSan; the same tests under the sanitizers
#   3. the source checker (banned calls, over-long functions) and its self-test;
#      docs/formats/ against the shared contracts, when ../shared is there
#   4. a short libFuzzer smoke run of every driver in fuzz/ over its corpus
#   5. a short benchmark run (prints figures; never fails on time)
# Environment: PAWL_FUZZ_SECONDS (default 10) per fuzz driver; JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
jobs=${JOBS:-$(nproc)}
fuzz_s=${PAWL_FUZZ_SECONDS:-10}
step() { printf '\n==== %s\n' "$*"; }

step "gcc build and tests"
cmake -S . -B build/gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/gcc -j "$jobs"
ctest --test-dir build/gcc -j "$jobs" --output-on-failure

step "clang build with ASan + UBSan and tests"
cmake -S . -B build/asan -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DPAWL_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan -j "$jobs" --output-on-failure

step "source checker"
bash scripts/checksrc.sh
bash tests/checksrc_selftest.sh
# docs/formats/ holds copies of the project's shared contracts; where the
# shared originals are at hand (../shared), the copies must match them
for f in COMMAND-TOKEN:command-token OCSF-PROFILE:ocsf-profile; do
    orig=../shared/${f%%:*}.md copy=docs/formats/${f#*:}.md
    if [ -f "$orig" ] && ! cmp -s "$orig" "$copy"; then
        echo "$copy differs from $orig: copy it again" >&2
        exit 1
    fi
done

step "fuzz smoke (${fuzz_s}s per driver)"
cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPAWL_FUZZ=ON -DPAWL_TESTS=OFF >/dev/null
cmake --build build/fuzz -j "$jobs" --target $(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    corpus=fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    dict=()
    for d in "fuzz/${name#fuzz_}.dict" fuzz/json.dict; do
        if [ -f "$d" ]; then dict=(-dict="$root/$d"); break; fi
    done
    echo "-- $name ($corpus)"
    if ! (cd "$work" && "$root/build/fuzz/$name" "${dict[@]}" -max_total_time="$fuzz_s" \
        -max_len=65536 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$root/build/fuzz/" \
        "$work" >"$work.log" 2>&1); then
        tail -40 "$work.log"
        echo "FUZZ FAILURE in $name: reproducer in build/fuzz/ (crash-*, leak-*, timeout-*)"
        exit 1
    fi
    grep -E '^#[0-9]+ +DONE' "$work.log" || tail -1 "$work.log"
    rm -rf "$work" "$work.log"
done

step "benchmark (figures only)"
./build/gcc/bench_decide --quick
./build/gcc/bench_edge_token --quick
PAWL_BUILD=$PWD/build/gcc bash bench/tuf-bench.sh --quick
PAWL_BUILD=$PWD/build/gcc bash bench/pawld-bench.sh --quick
PAWL_BUILD=$PWD/build/gcc bash bench/share-bench.sh --quick
PAWL_BUILD=$PWD/build/gcc bash bench/analyze-bench.sh --quick

printf '\nall tests passed\n'
