#!/usr/bin/env bash
# Print a fresh demo JWT (RS256, examples/keys/demo-rs256.pem, kid demo-rs256-1)
# for the example policy's issuer and audience:
#   scripts/mint-jwt.sh SUB ROLES_JSON [ORG] [TTL_S]
#   scripts/mint-jwt.sh u-1042 '["owner"]'
# DEMO KEY: for the demo and the tests only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib_jwt.sh
[ $# -ge 2 ] || { echo "usage: $0 SUB ROLES_JSON [ORG] [TTL_S]" >&2; exit 2; }
now=$(date +%s)
org=""
[ -n "${3:-}" ] && org=",\"org\":\"$3\""
claims=$(printf '{"iss":"https://id.example-oem.com","aud":"vehicle-api","sub":"%s","roles":%s%s,"iat":%s,"exp":%s,"jti":"t-%s-%s"}' \
    "$1" "$2" "$org" "$now" $((now + ${4:-3600})) "$1" "$now")
sign RS256 examples/keys/demo-rs256.pem '{"alg":"RS256","typ":"JWT","kid":"demo-rs256-1"}' "$claims"
echo
