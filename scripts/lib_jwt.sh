# Sourced: JWS compact tokens signed with the OpenSSL command line only, so
# the demo's and the tests' tokens come from an implementation that shares no
# code with pawl.  sign ALG KEY HEADER_JSON PAYLOAD_JSON -> compact JWS
b64url() { basenc --base64url -w0 | tr -d '='; }
hex2bin() { perl -ne 'chomp; print pack("H*", $_)'; }

# sign ALG KEY HEADER_JSON PAYLOAD_JSON -> compact JWS
sign() {
    local alg=$1 key=$2 h p input sig
    h=$(printf '%s' "$3" | b64url)
    p=$(printf '%s' "$4" | b64url)
    input="$h.$p"
    case $alg in
    RS256) sig=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" | b64url) ;;
    EdDSA) local f; f=$(mktemp); printf '%s' "$input" >"$f"
           sig=$(openssl pkeyutl -sign -rawin -inkey "$key" -in "$f" | b64url); rm -f "$f" ;;
    HS256) sig=$(printf '%s' "$input" | openssl dgst -sha256 -hmac secret -binary | b64url) ;;
    none)  sig="" ;;
    esac
    printf '%s.%s' "$input" "$sig"
}
