#!/usr/bin/env bash
# Source checker: bans unsafe libc calls and flags over-long functions.
# Usage: scripts/checksrc.sh [files...]   (default: every .c/.h in the tree)
# Exit 1 with "file:line: why" for each finding.
set -euo pipefail
cd "$(dirname "$0")/.."
max_lines=${PAWL_MAX_FUNCTION_LINES:-80}
if [ $# -eq 0 ]; then
    mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find include src tests fuzz bench -name '*.[ch]')
else
    files=("$@")
fi
status=0
# Banned: no bound (sprintf, strcpy, strcat, gets), hidden state (strtok), no
# error reporting (atoi), unchecked conversions (sscanf).
banned='(^|[^A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets|sscanf)[[:space:]]*\('
for f in "${files[@]}"; do
    # Strip /* */ and // comments and string literals before matching.
    if hits=$(sed -e 's://.*$::' -e 's:/\*.*\*/::g' -e 's:"[^"]*"::g' "$f" | grep -nE "$banned"); then
        while IFS= read -r h; do
            echo "$f:${h%%:*}: banned call: $(echo "$h" | grep -oE "$banned" | head -1 | tr -d '( ')"
        done <<<"$hits"
        status=1
    fi
    # A function body runs from a '{' in column 0 to the next '}' in column 0.
    if ! awk -v max="$max_lines" -v f="$f" '
        /^\{/ { start = NR; next }
        /^\}/ { if (start && NR - start - 1 > max) {
                    printf "%s:%d: function body is %d lines (limit %d): split it\n", f, start, NR - start - 1, max
                    bad = 1 }
                start = 0 }
        END { exit bad }' "$f"; then
        status=1
    fi
done
if [ $status -eq 0 ]; then
    echo "checksrc: ${#files[@]} files clean (banned calls, functions <= $max_lines lines)"
fi
exit $status
