# Sourced by the vehicle-link tests: a CA and certificates made with the
# openssl command line, and a real mosquitto on loopback running pawl's
# broker configuration (deploy/mosquitto/), started by the test itself.
#   mqtt_certs DIR          mqtt-ca, rogue-ca, broker, pawl-backend, $V1, $V2,
#                           rogue-$V1 (.pem/.key) in DIR
#   mqtt_start DIR          sets mqtt_port and mqtt_pid; DIR/mqtt-crl.pem, when
#                           present, is the broker's CRL
#   mqtt_stop
#   mqtt_opts DIR CN        mosquitto_pub/sub options for CN's certificate
V1=1HGCM82633A004352 V2=5YJ3E1EA7KF317000
mqtt_pid=
mqtt_port=
_mqtt_ca() { # dir name
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$2.key" \
        -out "$1/$2.pem" -subj "/CN=$2" -days 2 2>/dev/null
}
_mqtt_leaf() { # dir ca cn [san]
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$3.key" \
        -out "$1/$3.csr" -subj "/CN=$3" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\n%s\n' "${4:+subjectAltName=$4}" >"$1/$3.ext"
    openssl x509 -req -in "$1/$3.csr" -CA "$1/$2.pem" -CAkey "$1/$2.key" -CAcreateserial -days 1 \
        -extfile "$1/$3.ext" -out "$1/$3.pem" 2>/dev/null
}
mqtt_certs() {
    _mqtt_ca "$1" mqtt-ca
    _mqtt_ca "$1" rogue-ca
    _mqtt_leaf "$1" mqtt-ca broker "IP:127.0.0.1,DNS:localhost"
    _mqtt_leaf "$1" mqtt-ca pawl-backend
    _mqtt_leaf "$1" mqtt-ca "$V1"
    _mqtt_leaf "$1" mqtt-ca "$V2"
    _mqtt_leaf "$1" rogue-ca rogue && mv "$1/rogue.pem" "$1/rogue-$V1.pem" && mv "$1/rogue.key" "$1/rogue-$V1.key"
}
mqtt_start() {
    local dir=$1 broker
    broker=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    [ -x "$broker" ] || { echo "FAIL: mosquitto is not installed (deps/debian-packages.txt)" >&2; return 1; }
    mqtt_port=$(python3 "$PAWL_SRC/tests/integration/free_port.py" $$)
    sed -e "s|^listener 8883|listener $mqtt_port 127.0.0.1|" -e "s|/etc/pawl/mqtt/ca.pem|$dir/mqtt-ca.pem|" \
        -e "s|/etc/pawl/mqtt/broker.pem|$dir/broker.pem|" -e "s|/etc/pawl/mqtt/broker.key|$dir/broker.key|" \
        -e "s|/etc/pawl/mqtt/pawl-vehicles.acl|$PAWL_SRC/deploy/mosquitto/pawl-vehicles.acl|" \
        -e "s|^crlfile .*|crlfile $dir/mqtt-crl.pem|" \
        "$PAWL_SRC/deploy/mosquitto/pawl-vehicles.conf" >"$dir/mosquitto.conf"
    [ -f "$dir/mqtt-crl.pem" ] || sed -i '/^crlfile/d' "$dir/mosquitto.conf"
    # as root mosquitto would switch to its own user, which cannot read the
    # test's files: it stays who runs the test
    printf 'persistence false\nlog_dest file %s/broker.log\nuser %s\n' "$dir" "$(id -un)" >>"$dir/mosquitto.conf"
    "$broker" -c "$dir/mosquitto.conf" 2>/dev/null &
    mqtt_pid=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$mqtt_port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "FAIL: mosquitto did not start: $(tail -3 "$dir/broker.log")" >&2
    return 1
}
mqtt_stop() {
    if [ -n "$mqtt_pid" ]; then
        kill "$mqtt_pid" 2>/dev/null || true
        wait "$mqtt_pid" 2>/dev/null || true
        mqtt_pid=
    fi
}
mqtt_opts() { echo "-h 127.0.0.1 -p $mqtt_port --cafile $1/mqtt-ca.pem --cert $1/$2.pem --key $1/$2.key"; }
