#!/usr/bin/env bash
# Regenerate examples/jwks.json and examples/requests.jsonl with the OpenSSL
# command line only: the demo's tokens are signed by an implementation that
# shares no code with pawl. The keys in examples/keys/ are DEMO KEYS: never
# use them for anything else. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
k=examples/keys
[ -f $k/demo-rs256.pem ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $k/demo-rs256.pem 2>/dev/null
[ -f $k/demo-ed25519.pem ] || openssl genpkey -algorithm ed25519 -out $k/demo-ed25519.pem
[ -f $k/attacker-ed25519.pem ] || openssl genpkey -algorithm ed25519 -out $k/attacker-ed25519.pem
[ -f $k/audit-ed25519.pem ] || openssl genpkey -algorithm ed25519 -out $k/audit-ed25519.pem
openssl pkey -in $k/audit-ed25519.pem -pubout -out $k/audit-ed25519.pub.pem

. scripts/lib_jwt.sh

rsa_n=$(openssl rsa -in $k/demo-rs256.pem -noout -modulus 2>/dev/null | cut -d= -f2 | hex2bin | b64url)
ed_x=$(openssl pkey -in $k/demo-ed25519.pem -pubout -outform DER | tail -c 32 | b64url)
cat > examples/jwks.json <<JWKS
{"keys": [
  {"kty": "RSA", "kid": "demo-rs256-1", "alg": "RS256", "use": "sig", "e": "AQAB", "n": "$rsa_n"},
  {"kty": "OKP", "kid": "demo-ed25519-1", "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": "$ed_x"}
]}
JWKS

iss=https://id.example-oem.com aud=vehicle-api
claims() { # sub roles_json [org] [exp]
    local org=""
    [ -n "${3:-}" ] && org=",\"org\":\"$3\""
    printf '{"iss":"%s","aud":"%s","sub":"%s","roles":%s%s,"iat":1763799000,"exp":%s,"jti":"t-%s"}' \
        "$iss" "$aud" "$1" "$2" "$org" "${4:-1763900000}" "$1"
}
RS='{"alg":"RS256","typ":"JWT","kid":"demo-rs256-1"}'
ED='{"alg":"EdDSA","typ":"JWT","kid":"demo-ed25519-1"}'
owner=$(sign RS256 $k/demo-rs256.pem "$RS" "$(claims u-1042 '["owner"]')")
driver=$(sign EdDSA $k/demo-ed25519.pem "$ED" "$(claims u-2001 '["driver"]')")
fleet=$(sign EdDSA $k/demo-ed25519.pem "$ED" "$(claims fleet-ops-7 '["fleet_manager"]' acme-fleet)")
dealer=$(sign RS256 $k/demo-rs256.pem "$RS" "$(claims dealer-tool-17 '["dealer"]' dealer-17)")
dealer_other=$(sign RS256 $k/demo-rs256.pem "$RS" "$(claims dealer-tool-99 '["dealer"]' dealer-99)")
stranger=$(sign EdDSA $k/demo-ed25519.pem "$ED" "$(claims u-6666 '["owner"]')")
former=$(sign EdDSA $k/demo-ed25519.pem "$ED" "$(claims u-3003 '["owner"]')")
expired=$(sign RS256 $k/demo-rs256.pem "$RS" "$(claims u-1042 '["owner"]' "" 1763790000)")
none=$(sign none "" '{"alg":"none","typ":"JWT"}' "$(claims u-1042 '["owner"]')")
hs=$(sign HS256 "" '{"alg":"HS256","typ":"JWT","kid":"demo-rs256-1"}' "$(claims u-1042 '["owner"]')")
jku=$(sign EdDSA $k/attacker-ed25519.pem '{"alg":"EdDSA","kid":"demo-ed25519-1","jku":"https://evil.example/jwks.json"}' "$(claims u-1042 '["owner"]')")
forged=$(sign EdDSA $k/attacker-ed25519.pem "$ED" "$(claims u-1042 '["owner"]')")
wrong_aud=$(sign RS256 $k/demo-rs256.pem "$RS" "$(claims u-1042 '["owner"]' | sed 's/vehicle-api/partner-api/')")

V1=1HGCM82633A004352 V2=5YJ3E1EA7KF317000 V3=WVWZZZ1JZXW000001 V4=JH4KA8260MC000000
req() { # time method path token ip
    local hdr=""
    [ -n "$4" ] && hdr="{\"name\":\"Authorization\",\"value\":\"Bearer $4\"},"
    printf '{"class_uid":6003,"category_uid":6,"time":%s,"metadata":{"version":"1.3.0","product":{"name":"vehicle-api"}},"src_endpoint":{"ip":"%s"},"http_request":{"http_method":"%s","url":{"path":"%s"},"http_headers":[%s{"name":"User-Agent","value":"demo"}]}}\n' \
        "$1" "${5:-198.51.100.23}" "$2" "$3" "$hdr"
}
U=/api/v1/vehicles
{
    req 1763800010000 GET  $U/$V1/status "$owner"
    req 1763800011000 POST $U/$V1/commands/door.unlock "$owner"
    req 1763800012000 POST $U/$V1/commands/door.unlock "$owner"
    req 1763800013000 POST $U/$V1/commands/door.unlock "$owner"
    req 1763800014000 POST $U/$V1/commands/door.lock "$driver"
    req 1763800015000 POST $U/$V2/commands/door.unlock "$owner"
    req 1763800016000 POST $U/$V3/commands/door.unlock "$fleet" 192.0.2.10
    req 1763800017000 POST $U/$V1/commands/engine.start "$owner"
    req 1763800018000 GET  $U/$V1/location "$stranger" 203.0.113.66
    req 1763800019000 POST $U/$V1/commands/door.unlock "$dealer" 203.0.113.17
    req 1763800020000 GET  /api/v1/dealer/vehicles/$V1/key-codes "$dealer" 203.0.113.17
    req 1763800021000 GET  /api/v1/dealer/vehicles/$V1/key-codes "$dealer_other" 203.0.113.99
    req 1763800022000 GET  $U/$V4/status "$former"
    req 1763800023000 GET  $U/$V1/status ""
    req 1763800024000 GET  $U/$V1/status "$expired"
    req 1763800025000 GET  $U/$V1/status "$none" 203.0.113.66
    req 1763800026000 GET  $U/$V1/status "$hs" 203.0.113.66
    req 1763800027000 GET  $U/$V1/status "$jku" 203.0.113.66
    req 1763800028000 GET  $U/$V1/status "$forged" 203.0.113.66
    req 1763800029000 GET  $U/$V1/status "$wrong_aud"
    req 1763800030000 GET  $U/$V1/../../admin/users/u-1 "$owner" 203.0.113.66
    req 1763800031000 GET  $U/$V1%2Fstatus "$owner" 203.0.113.66
    req 1763800032000 GET  $U/1HGCM82633A00435/status "$owner"
    req 1763800033000 DELETE $U/$V1/status "$owner"
    req 1763800034000 GET  /api/v2/vehicles/$V1/status "$owner"
    req 1763800035000 GET  /api/v1/admin/users/u-1 "$owner"
    req 1763800120000 POST $U/$V3/commands/door.unlock "$fleet" 192.0.2.10
    echo '{"time":1763800036000,"http_request":{"http_method":"GET"}}'
    echo 'this is not json'
} > examples/requests.jsonl
echo "wrote examples/jwks.json and examples/requests.jsonl ($(wc -l < examples/requests.jsonl) requests)"
