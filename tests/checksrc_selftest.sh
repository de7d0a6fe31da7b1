#!/usr/bin/env bash
# The source checker must catch what it claims to: feed it bad files.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect_fail() {
    if out=$(bash scripts/checksrc.sh "$1" 2>&1); then
        echo "checksrc self-test: $1 passed but should fail ($2)"; exit 1
    fi
    grep -q "$2" <<<"$out" || { echo "checksrc self-test: wrong message: $out"; exit 1; }
}
for call in sprintf strcpy strcat strtok atoi gets sscanf; do
    printf 'void f(char *d, const char *s)\n{\n    %s(d, s);\n}\n' "$call" >"$tmp/$call.c"
    expect_fail "$tmp/$call.c" "banned call: $call"
done
{ printf 'int f(void)\n{\n'; for i in $(seq 1 90); do printf '    int x%d = %d;\n' "$i" "$i"; done; printf '    return 0;\n}\n'; } >"$tmp/long.c"
expect_fail "$tmp/long.c" "function body is"
printf 'int f(char *d)\n{\n    /* sprintf( in a comment is fine */\n    return snprintf(d, 4, "%%s", "sprintf(");\n}\n' >"$tmp/ok.c"
bash scripts/checksrc.sh "$tmp/ok.c" >/dev/null
echo "checksrc self-test: ok"
