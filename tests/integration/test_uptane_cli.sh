#!/usr/bin/env bash
# Uptane end to end: an Image repository (with a supplier delegation) and a
# Director repository made by pawl ota, served by a real nginx on loopback,
# and pawl vehicle update verifying as a Primary: the ordered image is
# installed; a rollback below the installed release counter, another
# vehicle's VIN, a wrong hardware id, an ECU the vehicle lacks and a
# Director that orders an image the Image repository never signed are
# refused, with nothing new written.
set -euo pipefail
: "${PAWL_BIN:?}" "${PAWL_SRC:?}"
here=$PAWL_SRC/tests/integration
tmp=$(mktemp -d)
. "$here/lib_nginx.sh"
cleanup() { nginx_stop; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
pawl() { "$PAWL_BIN" "$@" >/dev/null 2>"$tmp/pawl.err" || fail "pawl $*: $(cat "$tmp/pawl.err")"; }
VIN=1HGCM82633A004352

for k in root targets snapshot timestamp supplier droot dtargets dsnapshot dtimestamp; do
    pawl ota keygen --type ed25519 --out "$k.pem"
done
# The Image repository: the supplier's role signs ecu/*.
mkdir -p www brake/ecu
printf 'brake controller 2.0\n' >brake/ecu/brake-2.0.bin
pawl ota repo init --repo www/image --root-key root.pem --targets-key targets.pem \
    --snapshot-key snapshot.pem --timestamp-key timestamp.pem
pawl ota repo delegate --repo www/image --from targets --to supplier --key supplier.pem --path 'ecu/*'
pawl ota repo add --repo www/image --images brake --role supplier \
    --custom '{"releaseCounter":5,"hardwareIds":["brake-hw-1"]}'
pawl ota repo publish --repo www/image
# The Director: this vehicle's order, the same image for ECU BRAKE-01.
director() { # custom-of-target
    rm -rf www/director
    pawl ota repo init --repo www/director --root-key droot.pem --targets-key dtargets.pem \
        --snapshot-key dsnapshot.pem --timestamp-key dtimestamp.pem
    pawl ota repo set-custom --repo www/director --custom "{\"vin\":\"$VIN\"}"
    pawl ota repo add --repo www/director --images "$2" --custom "$1"
    pawl ota repo publish --repo www/director
}
director '{"ecuIdentifiers":{"BRAKE-01":{"hardwareId":"brake-hw-1"}},"releaseCounter":5}' brake

nginx_start "$tmp/www" "$tmp" || fail "nginx"
cat >map.json <<JSON
{"repositories": {"director": ["http://127.0.0.1:$nginx_port/director"],
                  "image": ["http://127.0.0.1:$nginx_port/image"]},
 "mapping": [{"paths": ["*", "*/*"], "repositories": ["director", "image"],
              "threshold": 2, "terminating": true}]}
JSON
update() { # expected-exit vin ecu...
    local want=$1 vin=$2; shift 2
    local args=(--map map.json --metadata-dir md --target-dir dl --vin "$vin")
    for e in "$@"; do args+=(--ecu "$e"); done
    set +e
    "$PAWL_BIN" vehicle update "${args[@]}" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    set -e
    [ "$rc" = "$want" ] || fail "vehicle update exited $rc, want $want: $(cat "$tmp/out" "$tmp/err")"
}
says() { grep -q -- "$1" "$tmp/out" || fail "expected '$1' in: $(cat "$tmp/out" "$tmp/err")"; }
mkdir md dl
"$PAWL_BIN" vehicle update --map map.json --metadata-dir md --target-dir dl --vin "$VIN" \
    --ecu BRAKE-01=brake-hw-1:4 --root director=www/director/metadata/1.root.json \
    --root image=www/image/metadata/1.root.json >"$tmp/out" 2>"$tmp/err" ||
    fail "first update: $(cat "$tmp/out" "$tmp/err")"
says '"verdict":"install","ecu":"BRAKE-01","target":"ecu/brake-2.0.bin","release_counter":5'
cmp -s dl/ecu%2Fbrake-2.0.bin brake/ecu/brake-2.0.bin || fail "installed image differs"
update 0 "$VIN" BRAKE-01=brake-hw-1:5
says '"cached":true'
files=$(ls dl | wc -l)

update 1 "$VIN" BRAKE-01=brake-hw-1:6
says '"status":"rollback"'
update 1 2T1BURHE0JC043821 BRAKE-01=brake-hw-1:4
says '"status":"wrong_vehicle"'
update 1 "$VIN" BRAKE-01=brake-hw-2:4
says '"status":"hardware_id"'

# A compromised Director alone orders an image the Image repository never
# signed, for the head unit.
mkdir -p evil/ecu
printf 'evil head unit\n' >evil/ecu/hu-9.9.bin
director '{"ecuIdentifiers":{"HU-01":{"hardwareId":"hu-hw"}},"releaseCounter":9}' evil
rm -rf md/director && mkdir md/director
cp www/director/metadata/1.root.json md/director/root.json
update 1 "$VIN" BRAKE-01=brake-hw-1:5
says '"status":"unknown_ecu"'
update 1 "$VIN" BRAKE-01=brake-hw-1:5 HU-01=hu-hw:0
says '"status":"missing_image"'
[ "$(ls dl | wc -l)" = "$files" ] || fail "a refused update wrote into the target directory"
grep -q '"GET /image/metadata/timestamp.json HTTP/1.1" 200' "$tmp/nginx/access.log" ||
    fail "nginx did not serve the Image repository"
echo "ok: Uptane full verification over nginx (install, cache, 5 refusals)"
