#!/usr/bin/env bash
# TUF client benchmark (issue: OTA integrity). A repository of 10,000 targets
# behind two levels of delegation (targets -> "vendor" for fw/* -> 16
# succinct hash bins), made by pawl ota and served by nginx on loopback. Each
# client starts from a fresh metadata directory holding only the trusted
# root, refreshes (root, timestamp, snapshot, targets) and downloads one
# target (walking targets -> vendor -> its bin). Wall time (median of RUNS
# runs) and peak resident memory (max over runs, GNU time) of:
#   pawl-tuf-client  (the download command: refresh + lookup + download)
#   python-tuf 5.1.0 ngclient (bench/tuf_peer.py) under Debian's python3, from
#     the fetched sources when MIRRORS is set (as ../shared/tools/tuf-conformance)
# and the ratios. Never passes or fails on time.
#
#   bench/tuf-bench.sh [--quick]        (quick: 2,000 targets, 3 runs)
#   MIRRORS=/work/.mirror bench/tuf-bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PAWL_BUILD:-$root/build/gcc}
ntargets=10000 runs=7
if [ "${1:-}" = --quick ]; then ntargets=2000 runs=3; fi
for b in "$bin/pawl" "$bin/pawl-tuf-client"; do
    [ -x "$b" ] || { echo "tuf-bench: $b not built (cmake --build build/gcc)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "tuf-bench: needs GNU time (Debian package: time)" >&2; exit 2; }
work=$(mktemp -d)
. "$root/tests/integration/lib_nginx.sh"
trap 'nginx_stop; rm -rf "$work"' EXIT
cd "$work"

# ---- the repository -------------------------------------------------------
for k in root targets snapshot timestamp vendor bins; do
    "$bin/pawl" ota keygen --type ed25519 --out "$k.pem" >/dev/null
done
mkdir -p img/fw
for ((i = 0; i < ntargets; i++)); do printf 'ecu image %05d\n' "$i" >"img/fw/ecu-$i.bin"; done
{
    "$bin/pawl" ota repo init --repo repo --root-key root.pem --targets-key targets.pem \
        --snapshot-key snapshot.pem --timestamp-key timestamp.pem
    "$bin/pawl" ota repo delegate --repo repo --from targets --to vendor --key vendor.pem \
        --path 'fw/*'
    "$bin/pawl" ota repo delegate --repo repo --from vendor --bins 4 --prefix bin --key bins.pem
    "$bin/pawl" ota repo add --repo repo --images img --role vendor
    "$bin/pawl" ota repo publish --repo repo
} >/dev/null
target=fw/ecu-$((ntargets * 4 / 10)).bin
meta_kb=$(du -sk repo/metadata | cut -f1)
nginx_start "$work/repo" "$work" >/dev/null
url=http://127.0.0.1:$nginx_port
echo "repository: $ntargets targets, targets -> vendor -> 16 hash bins, ${meta_kb} KiB of metadata" \
     "(all versions); download $target; nginx on loopback; $runs runs each"

# ---- measuring --------------------------------------------------------------
# run_one NAME CMD...: one run in a fresh directory; appends "ms kib" to NAME.t
run_one() {
    local name=$1; shift
    rm -rf md dl && mkdir md dl
    "$bin/pawl-tuf-client" --metadata-dir md init repo/metadata/1.root.json
    local t0=$EPOCHREALTIME
    /usr/bin/time -f %M -o rss.out "$@" >/dev/null 2>"$name.err" ||
        { echo "tuf-bench: $name failed: $(tail -3 "$name.err")" >&2; exit 1; }
    local t1=$EPOCHREALTIME
    [ "$(ls dl | wc -l)" = 1 ] || { echo "tuf-bench: $name downloaded nothing" >&2; exit 1; }
    echo "$(( (${t1/./} - ${t0/./}) / 1000 )) $(cat rss.out)" >>"$name.t"
}
# summary NAME: "median_ms max_kib"
summary() {
    local med rss
    med=$(cut -d' ' -f1 "$1.t" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    rss=$(cut -d' ' -f2 "$1.t" | sort -n | tail -1)
    echo "$med $rss"
}
pawl_cmd=("$bin/pawl-tuf-client" --metadata-dir md --metadata-url "$url/metadata"
          --target-name "$target" --target-base-url "$url/targets" --target-dir dl download)
for ((r = 0; r < runs; r++)); do run_one pawl "${pawl_cmd[@]}"; done
read -r pawl_ms pawl_kib < <(summary pawl)
printf '%-28s %8s ms %8s KiB peak RSS\n' "pawl-tuf-client" "$pawl_ms" "$pawl_kib"
# What a process costs before any work: shared libraries mapped (libcurl
# alone brings 30 of them) count in the peak RSS of both sides.
/usr/bin/time -q -f %M -o rss.out "$bin/pawl-tuf-client" >/dev/null 2>&1 || true
base_pawl=$(cat rss.out)
/usr/bin/time -f %M -o rss.out /usr/bin/python3 -c pass
base_py=$(cat rss.out)
echo "baselines (exit at once): pawl-tuf-client ${base_pawl} KiB, python3 ${base_py} KiB"

# ---- the peer: python-tuf 5.1.0 ----------------------------------------------
peer_env() { # sets py and PYTHONPATH, or returns 1 with the reason in why
    [ -n "${MIRRORS:-}" ] || { why="set MIRRORS to the fetched repositories"; return 1; }
    local cache=${TUFC_CACHE:-${TMPDIR:-/tmp}/pawl-tuf-conformance} r
    for r in theupdateframework+python-tuf:v5.1.0:python-tuf \
             secure-systems-lab+securesystemslib:v1.4.0:securesystemslib; do
        IFS=: read -r repo rev dir <<<"$r"
        [ -d "$MIRRORS/$repo/repo" ] || { why="missing $MIRRORS/$repo/repo"; return 1; }
        if [ ! -d "$cache/$dir" ]; then
            mkdir -p "$cache/$dir.part" &&
                git --git-dir="$MIRRORS/$repo/repo" archive "$rev" | tar -x -C "$cache/$dir.part" &&
                mv "$cache/$dir.part" "$cache/$dir"
        fi
    done
    py=/usr/bin/python3
    "$py" -c 'import requests, cryptography' 2>/dev/null ||
        { why="Debian's python3 lacks python3-requests or python3-cryptography"; return 1; }
    mkdir -p "$cache/shim"
    cat >"$cache/shim/sitecustomize.py" <<'PY'
try:  # securesystemslib 1.x names these; Debian 12's cryptography 38 does not
    import cryptography.hazmat.primitives.asymmetric.types as _t
    if not hasattr(_t, "PrivateKeyTypes"):
        _t.PrivateKeyTypes = _t.PRIVATE_KEY_TYPES
    if not hasattr(_t, "PublicKeyTypes"):
        _t.PublicKeyTypes = _t.PUBLIC_KEY_TYPES
except Exception:
    pass
PY
    export PYTHONPATH="$cache/shim:$cache/python-tuf:$cache/securesystemslib"
}
why=
if peer_env; then
    for ((r = 0; r < runs; r++)); do
        run_one python-tuf "$py" "$root/bench/tuf_peer.py" md repo/metadata/1.root.json \
            "$url/metadata/" "$url/targets/" dl "$target"
    done
    read -r peer_ms peer_kib < <(summary python-tuf)
    printf '%-28s %8s ms %8s KiB peak RSS\n' "python-tuf 5.1.0 (ngclient)" "$peer_ms" "$peer_kib"
    awk -v a="$peer_ms" -v b="$pawl_ms" -v c="$peer_kib" -v d="$pawl_kib" 'BEGIN {
        printf "ratio: pawl is %.1fx faster and uses %.2f of the memory (goal: >= 10x, <= 0.10)\n",
            a / (b > 0 ? b : 1), d / c }'
else
    echo "python-tuf 5.1.0: skipped ($why)"
fi
