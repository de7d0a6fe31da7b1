# Sourced by the vault tests: a SoftHSM2 set-up of the test's own (tokens in
# its temporary directory), exported so that pawl finds module and PIN.
#   softhsm_setup DIR LABEL...   one token per label, user PIN 4711; sets
#                                SOFTHSM2_CONF, PAWL_PKCS11_MODULE, PAWL_PKCS11_PIN
softhsm_setup() {
    local dir=$1 module=/usr/lib/softhsm/libsofthsm2.so label
    shift
    command -v softhsm2-util >/dev/null && [ -f $module ] ||
        { echo "FAIL: softhsm2 is not installed (deps/debian-packages.txt)" >&2; return 1; }
    mkdir -p "$dir/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" \
        >"$dir/softhsm2.conf"
    export SOFTHSM2_CONF=$dir/softhsm2.conf PAWL_PKCS11_MODULE=$module PAWL_PKCS11_PIN=4711
    # under ASan: whole stacks for leaks, so that tests/lsan.supp can name
    # SoftHSM2's own (the fast unwinder stops in libcrypto)
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
    for label in "$@"; do
        softhsm2-util --init-token --free --label "$label" --pin 4711 --so-pin 8080 >/dev/null || return 1
    done
}
