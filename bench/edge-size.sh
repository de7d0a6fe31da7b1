#!/usr/bin/env bash
# Code size of libpawl-edge's verify path on a Cortex-M4 (issue goal: at most
# 12 KiB .text and 2 KiB static RAM). Builds the portable files only (CBOR
# reader, token verifier, in-memory replay store, reason names, pin-set
# parser) with arm-none-eabi-gcc -Os; the crypto back end is excluded, as
# the issue asks (a vehicle plugs in its HSM or a small Ed25519/P-256 library).
# Prints .text/.data/.bss; never fails on size.
#   bash bench/edge-size.sh            (needs Debian's gcc-arm-none-eabi)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cc=arm-none-eabi-gcc
if ! command -v "$cc" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-arm-none-eabi libnewlib-arm-none-eabi >/dev/null
    else
        echo "edge-size: needs arm-none-eabi-gcc: sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" >&2
        exit 2
    fi
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cpu=(-mcpu=cortex-m4 -mthumb)
cflags=("${cpu[@]}" -Os -std=c99 -ffunction-sections -fdata-sections -fstack-usage
        -Wall -Wextra -Werror -I"$root/include" -I"$root/src/edge")
verify_src=(cbor.c token.c reason.c)
pin_src=(pin.c)
for f in "${verify_src[@]}" "${pin_src[@]}"; do
    "$cc" "${cflags[@]}" -c "$root/src/edge/$f" -o "$out/${f%.c}.o"
done
# Everything the public verify API reaches, kept by --undefined; the rest of
# each object is collected away. libc (memcpy, memcmp, memset) is reported
# separately: a firmware already has one.
keep=(pawl_edge_token_verify pawl_edge_token_parse pawl_edge_sig_structure
      pawl_edge_reason_str pawl_edge_mem_store_init pawl_edge_mem_store)
link() { # name, symbols..., -- objects...
    local name=$1; shift
    local syms=() objs=()
    while [ "$1" != -- ]; do syms+=("-Wl,--undefined=$1"); shift; done
    shift
    objs=("$@")
    "$cc" "${cpu[@]}" -nostdlib -Wl,--gc-sections -Wl,-e,"${keep[0]}" "${syms[@]}" \
        "${objs[@]}" -Wl,--unresolved-symbols=ignore-all -o "$out/$name.elf"
    "$cc" "${cpu[@]}" -nostartfiles --specs=nano.specs -Wl,--gc-sections -Wl,-e,"${keep[0]}" \
        "${syms[@]}" "${objs[@]}" -lc -o "$out/$name-libc.elf"
}
sizes() { arm-none-eabi-size -A "$1" | awk '$1==".text"{t=$2} $1==".rodata"{r=$2} $1==".data"{d=$2} $1==".bss"{b=$2} END{printf "%6d .text (incl. %d .rodata)  %4d .data  %4d .bss", t+r, r, d, b}'; }
link verify "${keep[@]}" -- "$out"/cbor.o "$out"/token.o "$out"/reason.o
link verify-pin "${keep[@]}" pawl_edge_pin_parse pawl_edge_pin_match_digest -- \
    "$out"/cbor.o "$out"/token.o "$out"/reason.o "$out"/pin.o
# Caller-owned sizes, from the target compiler (its ABI, its padding).
cat >"$out/sizes.c" <<'C'
#include "pawl/edge_token.h"
char sz_work[sizeof(struct pawl_edge_work)];
char sz_trust[sizeof(struct pawl_edge_trust)];
char sz_result[sizeof(struct pawl_edge_result)];
char sz_mem_entry[sizeof(struct pawl_edge_mem_entry)];
C
"$cc" "${cflags[@]}" -c "$out/sizes.c" -o "$out/sizes.o"
stack=$(cat "$out"/token.su "$out"/cbor.su | sort -t$'\t' -k2 -n -r | head -3 | sed "s|$root/||" | awk -F'\t' '{printf "%s %s B; ", $1, $2}')
echo "libpawl-edge on Cortex-M4 ($($cc --version | head -1)), -Os, crypto back end excluded:"
printf '  verify path            %s\n' "$(sizes "$out/verify.elf")"
printf '  verify path + newlib   %s  (memcpy, memcmp, memset from newlib-nano)\n' "$(sizes "$out/verify-libc.elf")"
printf '  verify + pin parser    %s\n' "$(sizes "$out/verify-pin.elf")"
echo "  static RAM of the library: .data + .bss above (no globals: the caller owns all state)"
arm-none-eabi-nm -S --size-sort "$out/sizes.o" | while read -r _ size _ name; do
    printf '  caller-owned %-14s %6d bytes\n' "${name#sz_}" "$((16#$size))"
done
echo "  deepest stack frames: ${stack}(recursion in the CBOR reader is bounded by depth 8)"
echo "  goal: .text <= 12288 bytes, static RAM <= 2048 bytes"
