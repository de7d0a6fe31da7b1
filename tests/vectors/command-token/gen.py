#!/usr/bin/python3
"""Known-answer vectors for pawl command tokens (COMMAND-TOKEN.md, version 1).

An independent generator: valid tokens are encoded by python3-cbor2 in
canonical mode and signed by python3-cryptography (both from Debian), never
by pawl and never by hand. Malformed forms start from those canonical bytes
and are then modified by hand; their names say how.

Run by hand, with Debian's interpreter (the pyenv python3 on PATH lacks the
modules):

    /usr/bin/python3 tests/vectors/command-token/gen.py            # rewrite vectors.json
    /usr/bin/python3 tests/vectors/command-token/gen.py --check    # exit 1 if it would change
    /usr/bin/python3 tests/vectors/command-token/gen.py --fresh-es256

Everything is fixed (keys in keys/, cti derived from the vector's name,
times around NOW) except ES256 signatures, which OpenSSL randomizes. So that
a re-run reproduces vectors.json byte for byte, each ES256 signature made is
kept in es256-sigs.json, keyed by the signer's kid and the SHA-256 of the
bytes signed, and reused (after checking it still verifies) when the same
bytes are signed again. --fresh-es256 ignores that file and signs anew.
Consumers must still treat ES256 signature bytes as "verify, don't compare"
(see es256_sig_indexes / masked in README.md).
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import sys

import cbor2
from cbor2 import CBORTag
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

HERE = os.path.dirname(os.path.abspath(__file__))
KEYDIR = os.path.join(HERE, "keys")
OUT = os.path.join(HERE, "vectors.json")
CACHE_FILE = os.path.join(HERE, "es256-sigs.json")

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_L = 2**252 + 27742317777372353535851937790883648493
U64_MAX = 2**64 - 1

VIN = "1HGCM82633A004352"
OTHER_VIN = "5YJ3E1EA7JF000001"
NOW = 1767225600            # 2026-01-01T00:00:00Z
IAT = NOW - 10
EXP = IAT + 90
SEQ = 7
LAST_SEQ = 6

ALG_EDDSA = -8
ALG_ES256 = -7
ALG_OF = {"EdDSA": ALG_EDDSA, "ES256": ALG_ES256}

CLAIM_KEY = {"iss": 1, "sub": 2, "aud": 3, "exp": 4, "iat": 6, "cti": 7,
             "cmd": -70001, "args": -70002, "seq": -70003}


def enc(obj):
    """The one encoder for everything valid: cbor2, canonical mode."""
    return cbor2.dumps(obj, canonical=True)


def sha256(b):
    return hashlib.sha256(b).digest()


# ---- keys --------------------------------------------------------------------

class Key:
    def __init__(self, name):
        self.name = name
        with open(os.path.join(KEYDIR, name + ".pem"), "rb") as f:
            self.priv = serialization.load_pem_private_key(f.read(), password=None)
        if isinstance(self.priv, ed25519.Ed25519PrivateKey):
            self.alg = "EdDSA"
        elif isinstance(self.priv, ec.EllipticCurvePrivateKey) and \
                isinstance(self.priv.curve, ec.SECP256R1):
            self.alg = "ES256"
        else:
            raise SystemExit(f"{name}: neither Ed25519 nor P-256")
        pub = self.priv.public_key()
        self.spki_der = pub.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
        self.spki_pem = pub.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.kid = sha256(self.spki_der)[:8]
        self.cose_alg = ALG_OF[self.alg]


KEY_NAMES = ["authority-ed25519", "owner-es256", "authority2-ed25519", "attacker-ed25519",
             "attacker-es256", "witness1-ed25519", "witness2-ed25519", "witness3-ed25519",
             "witness4-ed25519", "witness5-es256"]
K = {n: Key(n) for n in KEY_NAMES}
AUTH, OWNER, AUTH2 = K["authority-ed25519"], K["owner-es256"], K["authority2-ed25519"]
ATK_ED, ATK_ES = K["attacker-ed25519"], K["attacker-es256"]
WITNESSES = [K[f"witness{i}-ed25519"] for i in range(1, 5)] + [K["witness5-es256"]]


# ---- ES256 signatures: random, so cached for reproducible output ------------------

CACHE = {}
USED = {}
FRESH = False


def es256_raw(key, msg):
    ck = key.kid.hex() + ":" + hashlib.sha256(msg).hexdigest()
    if ck in USED:
        return bytes.fromhex(USED[ck])
    sig = None
    if not FRESH and ck in CACHE:
        sig = bytes.fromhex(CACHE[ck])
        try:
            es256_verify(key, msg, sig)
        except InvalidSignature:
            sig = None
    if sig is None:
        r, s = decode_dss_signature(key.priv.sign(msg, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    USED[ck] = sig.hex()
    return sig


def es256_verify(key, msg, sig):
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    key.priv.public_key().verify(encode_dss_signature(r, s), msg, ec.ECDSA(hashes.SHA256()))


def sign_raw(key, msg):
    if key.alg == "EdDSA":
        return key.priv.sign(msg)
    return es256_raw(key, msg)


# ---- tokens ------------------------------------------------------------------

def cti_for(name):
    return sha256(b"pawl command-token vector cti: " + name.encode())[:16]


def claims(name, **over):
    """Claims as a dict by name (JSON-friendly: cti as hex). None drops a claim."""
    c = {"iss": "pawl-authority", "sub": "user-42", "aud": VIN, "exp": EXP, "iat": IAT,
         "cti": cti_for(name).hex(), "cmd": "door.lock", "seq": SEQ}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def claims_map(c):
    """The payload map (integer keys) for claims by name."""
    return {CLAIM_KEY[k]: (bytes.fromhex(v) if k == "cti" else v) for k, v in c.items()}


def payload_of(c):
    return enc(claims_map(c))


def sig_structure(payload, prot, body_protected=b"", context="Signature"):
    return enc([context, body_protected, prot, b"", payload])


def cose_sig(key, payload, alg=None, kid=None, prot=None, unprot=None, sig=None,
             signer=None, body_protected=b"", tbs=None):
    """One COSE_Signature [sign_protected, {4: kid}, signature]; every part overridable.
    By default signs the Sig_structure over what it carries with `signer` (key)."""
    if prot is None:
        prot = enc({1: key.cose_alg if alg is None else alg})
    if unprot is None:
        unprot = {4: key.kid if kid is None else kid}
    if sig is None:
        if tbs is None:
            tbs = sig_structure(payload, prot, body_protected)
        sig = sign_raw(signer or key, tbs)
    return [prot, unprot, sig]


def token(payload, sigs, body_protected=b"", unprotected=None, tag=98):
    arr = [body_protected, {} if unprotected is None else unprotected, payload, sigs]
    return enc(CBORTag(tag, arr) if tag is not None else arr)


def signed(payload, keys, **kw):
    return token(payload, [cose_sig(k, payload) for k in keys], **kw)


def std(name, keys=(AUTH,), **over):
    """A canonical token for claims(name, **over) signed by keys in order."""
    c = claims(name, **over)
    return signed(payload_of(c), list(keys)), c


def sub1(data, old, new):
    """Replace the one occurrence of old in data (asserting there is exactly one)."""
    assert data.count(old) == 1, (old.hex(), data.count(old))
    return data.replace(old, new)


def head(major, n):
    """A CBOR head in shortest form (for hand-assembled malformed forms only)."""
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError(n)


def raw_map(pairs, indefinite=False):
    """A map from already-encoded (key, value) pairs, in the order given."""
    body = b"".join(k + v for k, v in pairs)
    if indefinite:
        return b"\xbf" + body + b"\xff"
    return head(5, len(pairs)) + body


def claim_pairs(c):
    """Canonical (key, value) encodings of a claims dict, in canonical order."""
    m = claims_map(c)
    pairs = [(enc(k), enc(v)) for k, v in m.items()]
    pairs.sort(key=lambda kv: kv[0])
    return pairs


def masked_ranges(tok, sigs):
    out = []
    for s in sigs:
        assert tok.count(s) == 1
        out.append({"offset": tok.index(s), "length": len(s)})
    return out


# ---- trust policies ------------------------------------------------------------

REQUIRE = {"door.unlock": ["authority", "owner"], "engine.start": ["authority", "owner"],
           "*": ["authority"]}
STATIONARY = ["door.unlock", "engine.start", "engine.stop"]


def key_entry(role, key):
    return {"role": role, "alg": key.alg, "spki_pem": key.spki_pem}


def trust_policy(keys, skew=30, lifetime=120, require=None):
    t = {"vin": VIN}
    if skew is not None:
        t["skew_s"] = skew
    if lifetime is not None:
        t["max_lifetime_s"] = lifetime
    t["keys"] = [key_entry(r, k) for r, k in keys]
    t["require"] = REQUIRE if require is None else require
    t["stationary_only"] = STATIONARY
    return t


BASE_KEYS = [("authority", AUTH), ("owner", OWNER)]
TRUST = trust_policy(BASE_KEYS)
TRUSTS = {
    "rotation": trust_policy(BASE_KEYS + [("authority", AUTH2)]),
    "eight": trust_policy(BASE_KEYS + [("authority", AUTH2)] +
                          [("witness", w) for w in WITNESSES]),
    "short": trust_policy(BASE_KEYS, skew=0, lifetime=60),
    "defaults": trust_policy(BASE_KEYS, skew=None, lifetime=None),
    "no-default": trust_policy(BASE_KEYS, require={"door.unlock": ["authority", "owner"],
                                                    "door.lock": ["authority"]}),
}


# ---- vector lists ---------------------------------------------------------------

BUILD = []
VERIFY = []
NAMES = set()


def add_build(name, c, signers, note=None):
    assert name not in NAMES, name
    NAMES.add(name)
    keys = [K[s] for s in signers]
    payload = payload_of(c)
    sigs = [cose_sig(k, payload) for k in keys]
    tok = token(payload, sigs)
    es = [i for i, k in enumerate(keys) if k.alg == "ES256"]
    v = {"name": name, "claims": c, "signers": signers, "token_hex": tok.hex(),
         "payload_hex": payload.hex(), "es256_sig_indexes": es,
         "masked": masked_ranges(tok, [sigs[i][2] for i in es])}
    if note:
        v["note"] = note
    BUILD.append(v)
    return tok


def add(name, tok, reason, now=NOW, speed=0.0, seen=(), last_seq=LAST_SEQ, trust="default",
        basis="contract", note=None, claims_for=None):
    """One verify vector. claims_for: the claims dict when the token parses (so the
    expected cmd and seq are known)."""
    assert name not in NAMES, name
    NAMES.add(name)
    if basis == "pawl-strict":
        assert name.startswith("pawl-strict/"), name
    assert trust == "default" or trust in TRUSTS
    v = {"name": name, "token_hex": tok.hex(), "trust": trust, "now": now,
         "signals": {} if speed is None else {"Vehicle.Speed": speed},
         "store": {"seen": [{"cti": c if isinstance(c, str) else c.hex(), "at": t}
                            for c, t in seen],
                   "last_seq": last_seq},
         "verdict": "accept" if reason == "ok" else "reject", "reason": reason,
         "basis": basis}
    if reason != "malformed" and claims_for is not None:
        v["cmd"] = claims_for["cmd"]
        v["seq"] = claims_for["seq"]
    if note:
        v["note"] = note
    VERIFY.append(v)


def ok(name, keys=(AUTH,), note=None, add_kw=None, **over):
    tok, c = std(name, keys, **over)
    add(name, tok, "ok", claims_for=c, note=note, **(add_kw or {}))
    return tok, c


def rej(name, reason, keys=(AUTH,), note=None, add_kw=None, **over):
    tok, c = std(name, keys, **over)
    add(name, tok, reason, claims_for=c, note=note, **(add_kw or {}))
    return tok, c


def mal(name, tok, note=None, basis="contract"):
    add(name, tok, "malformed", note=note, basis=basis)


# ---- build vectors ----------------------------------------------------------------

def gen_build():
    add_build("build/door.lock-authority", claims("build/door.lock-authority"),
              ["authority-ed25519"])
    add_build("build/door.unlock-authority-owner",
              claims("build/door.unlock-authority-owner", cmd="door.unlock", seq=8),
              ["authority-ed25519", "owner-es256"])
    add_build("build/engine.start-owner-first",
              claims("build/engine.start-owner-first", cmd="engine.start", seq=9),
              ["owner-es256", "authority-ed25519"],
              note="signature order follows signers")
    add_build("build/climate.start-args",
              claims("build/climate.start-args", cmd="climate.start", seq=10,
                     args={"zone": "driver", "temp_c": 21, "defrost": True}),
              ["authority-ed25519"], note="args keys sort shortest first: zone, temp_c, defrost")
    add_build("build/climate.start-args-float",
              claims("build/climate.start-args-float", cmd="climate.start", seq=11,
                     args={"temp_c": 21.5, "fan": 0.1, "max_kw": 100000.0}),
              ["authority-ed25519"],
              note="floats in preferred (shortest exact) form: 21.5 half, 100000.0 single, "
                   "0.1 double")
    add_build("build/args-nested",
              claims("build/args-nested", cmd="ota.install", seq=12,
                     args={"targets": ["ecu-1", "ecu-2"], "window": {"from": 0, "to": 3600},
                           "force": False, "note": None, "offset": -5}),
              ["authority-ed25519", "owner-es256"])
    add_build("build/args-empty", claims("build/args-empty", cmd="horn.flash", args={}),
              ["authority-ed25519"], note="args present but empty: encoded as a0")
    add_build("build/utf8-and-long-strings",
              claims("build/utf8-and-long-strings", sub="usér-Ünïcødé-✓-42",
                     iss="pawl-authority.eu-central-1.example",
                     cmd="climate.start"),
              ["authority-ed25519"], note="non-ASCII sub; iss over 23 bytes (head 0x78 nn)")
    # integer heads at every width
    for n, seq, t in (("seq-0", 0, IAT), ("seq-23", 23, IAT), ("seq-24", 24, IAT),
                      ("seq-255", 255, IAT), ("seq-256", 256, IAT),
                      ("seq-65535", 65535, IAT), ("seq-65536", 65536, IAT),
                      ("seq-2^32", 2**32, IAT), ("seq-u64-max", U64_MAX, IAT),
                      ("times-small", 1, 100)):
        nm = "build/" + n
        add_build(nm, claims(nm, seq=seq, iat=t, exp=t + 90), ["authority-ed25519"])
    add_build("build/many-signers", claims("build/many-signers", cmd="door.unlock", seq=13),
              ["authority-ed25519", "owner-es256", "authority2-ed25519", "witness1-ed25519",
               "witness2-ed25519", "witness3-ed25519", "witness4-ed25519", "witness5-es256"],
              note="eight signatures, the most pawl accepts (trust 'eight')")


# ---- verify vectors: accept ----------------------------------------------------------

def gen_accept():
    ok("ok/door.lock-authority")
    ok("ok/door.unlock-authority-owner", (AUTH, OWNER), cmd="door.unlock")
    ok("ok/door.unlock-owner-authority", (OWNER, AUTH), cmd="door.unlock",
       note="signature order does not matter")
    ok("ok/engine.start-authority-owner", (AUTH, OWNER), cmd="engine.start")
    ok("ok/door.lock-extra-signer", (AUTH, OWNER), note="signers beyond the required are fine")
    ok("ok/engine.stop-stationary", cmd="engine.stop",
       note="engine.stop needs only '*' (authority); speed 0")
    ok("ok/door.lock-moving", add_kw={"speed": 42.0},
       note="door.lock is not stationary-only")
    ok("ok/horn.flash-moving", cmd="horn.flash", add_kw={"speed": 42.0})
    ok("ok/args", cmd="climate.start", args={"zone": "driver", "temp_c": 21, "defrost": True})
    ok("ok/args-empty", cmd="horn.flash", args={})
    ok("ok/args-float-bool-null-array", cmd="ota.install",
       args={"temp": 21.5, "ratio": 0.1, "big": 100000.0, "neg": -1.5, "on": True,
             "off": False, "none": None, "list": [1, "two", [3]]})
    ok("ok/utf8-sub", sub="usér-Ünïcødé-✓-42")
    ok("ok/seq-u64-max", seq=U64_MAX, add_kw={"last_seq": U64_MAX - 1})
    ok("ok/first-token-seq-0", seq=0, add_kw={"last_seq": None},
       note="empty store: any seq is newer")
    ok("ok/first-token-empty-store", add_kw={"last_seq": None})
    ok("ok/rotation-authority2", (AUTH2,), add_kw={"trust": "rotation"})
    ok("ok/rotation-both-authorities", (AUTH, AUTH2), add_kw={"trust": "rotation"},
       note="two different authority keys are two signers, not a duplicate")
    ok("ok/eight-signatures", [AUTH, OWNER, AUTH2] + WITNESSES, cmd="door.unlock",
       add_kw={"trust": "eight"}, note="eight signatures: the most pawl accepts")
    # ES256 low-s and high-s: both are valid ECDSA signatures
    for which in ("low", "high"):
        name = f"ok/es256-{which}-s"
        c = claims(name, cmd="door.unlock")
        p = payload_of(c)
        prot = enc({1: ALG_ES256})
        raw = es256_raw(OWNER, sig_structure(p, prot))
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        s = min(s, P256_N - s) if which == "low" else max(s, P256_N - s)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        es256_verify(OWNER, sig_structure(p, prot), sig)
        tok = token(p, [cose_sig(AUTH, p), cose_sig(OWNER, p, sig=sig)])
        add(name, tok, "ok", claims_for=c,
            note=f"owner's ES256 signature with s {'<=' if which == 'low' else '>'} n/2; "
                 "ECDSA (FIPS 186, RFC 9053) does not require low s, so both must be "
                 "ACCEPTED (s was replaced by n-s from a random signature where needed)")
    # time boundaries
    ok("ok/time-now-is-iat-minus-skew", add_kw={"now": IAT - 30},
       note="iat - skew <= now holds with equality")
    ok("ok/time-now-is-exp-minus-1", add_kw={"now": EXP - 1})
    ok("ok/time-lifetime-exactly-max", exp=IAT + 120)
    ok("ok/time-iat-smaller-than-skew", iat=10, exp=100, add_kw={"now": 50},
       note="iat - skew is negative: mind unsigned underflow")
    ok("ok/defaults-lifetime-120", exp=IAT + 120, add_kw={"trust": "defaults"},
       note="trust without skew_s / max_lifetime_s: defaults 30 and 120")
    ok("ok/defaults-now-is-iat-minus-30", add_kw={"trust": "defaults", "now": IAT - 30})
    ok("ok/short-lifetime-60", exp=IAT + 60, add_kw={"trust": "short", "now": IAT})
    # replay window boundaries: window = max_lifetime + skew = 150
    c0 = claims("ok/replay-seen-outside-window")
    ok("ok/replay-seen-outside-window",
       add_kw={"seen": [(c0["cti"], NOW - 150)]},
       note="cti seen at now - 150: window is 150 s (now < t + window is false)")
    ok("ok/replay-other-cti-seen",
       add_kw={"seen": [(cti_for("something else"), NOW - 5)]})
    c1 = claims("ok/short-replay-outside-window", exp=IAT + 60)
    ok("ok/short-replay-outside-window", exp=IAT + 60,
       add_kw={"trust": "short", "now": IAT + 10, "seen": [(c1["cti"], IAT + 10 - 60)]},
       note="trust 'short': window is 60 + 0")
    ok("ok/seq-is-last-plus-1", seq=LAST_SEQ + 1)
    ok("ok/stationary-speed-zero", (AUTH, OWNER), cmd="door.unlock", add_kw={"speed": 0.0})
    # size and depth boundaries (valid, canonical)
    nest = 1
    for _ in range(6):
        nest = {"v": nest}
    ok("ok/depth-8", cmd="climate.start", args={"v": nest},
       note="claims map depth 1, args depth 2, innermost map depth 8 (scalars add none)")
    tok, c = sized_token("ok/size-4096", 4096)
    add("ok/size-4096", tok, "ok", claims_for=c, note="message exactly 4096 bytes")


def sized_token(name, size, keys=(AUTH,)):
    """A canonical token padded (args {"pad": "x" * n}) to exactly size bytes."""
    n = size
    while True:
        c = claims(name, cmd="climate.start", args={"pad": "x" * n})
        tok = signed(payload_of(c), list(keys))
        if len(tok) == size:
            return tok, c
        n -= max(1, len(tok) - size) if len(tok) > size else -1


# ---- verify vectors: one reason at a time, each the first failing check ------------------

def gen_reject():
    # 2. unsupported_alg
    for name, alg, key, signer in (
            ("unsupported_alg/es384", -35, AUTH, AUTH),
            ("unsupported_alg/rs256", -257, AUTH, AUTH),
            ("unsupported_alg/alg-0", 0, AUTH, AUTH),
            ("unsupported_alg/es256-on-ed25519-key", ALG_ES256, AUTH, AUTH),
            ("unsupported_alg/eddsa-on-p256-key", ALG_EDDSA, OWNER, OWNER)):
        c = claims(name)
        p = payload_of(c)
        add(name, token(p, [cose_sig(key, p, alg=alg, signer=signer)]), "unsupported_alg",
            claims_for=c, note=f"alg {alg} on {key.name}'s kid; 64-byte signature over the "
                               "Sig_structure made with that key")
    name = "unsupported_alg/second-signature"
    c = claims(name, cmd="door.unlock")
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p), cose_sig(OWNER, p, alg=-35)]), "unsupported_alg",
        claims_for=c)
    name = "unsupported_alg/before-unknown_key"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(ATK_ED, p), cose_sig(AUTH, p, alg=-35)]), "unsupported_alg",
        claims_for=c, note="check 2 runs over every signature before check 3: the first "
                           "signature's kid is unknown, the second's alg unsupported")
    name = "unsupported_alg/on-unknown-kid"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(ATK_ED, p, alg=-35)]), "unsupported_alg", claims_for=c)

    # 3. unknown_key, duplicate_signer
    rej("unknown_key/attacker-ed25519", "unknown_key", (ATK_ED,))
    rej("unknown_key/attacker-es256-as-owner", "unknown_key", (AUTH, ATK_ES), cmd="door.unlock")
    rej("unknown_key/authority2-not-trusted", "unknown_key", (AUTH2,),
        note="trusted only in the 'rotation' trust")
    rej("unknown_key/attacker-twice", "unknown_key", (ATK_ED, ATK_ED))
    name = "unknown_key/kid-one-bit-off"
    c = claims(name)
    p = payload_of(c)
    kid = bytearray(AUTH.kid)
    kid[7] ^= 1
    add(name, token(p, [cose_sig(AUTH, p, kid=bytes(kid))]), "unknown_key", claims_for=c)
    name = "unknown_key/before-bad_signature"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p, signer=ATK_ED), cose_sig(ATK_ED, p)]), "unknown_key",
        claims_for=c, note="first signature is bad (wrong signer), second kid unknown")

    rej("duplicate_signer/authority-twice", "duplicate_signer", (AUTH, AUTH),
        note="both signatures valid (Ed25519 is deterministic: identical)")
    rej("duplicate_signer/owner-twice", "duplicate_signer", (AUTH, OWNER, OWNER),
        cmd="door.unlock")
    name = "duplicate_signer/before-bad_signature"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p), cose_sig(AUTH, p, signer=ATK_ED)]),
        "duplicate_signer", claims_for=c, note="the second, duplicate signature is also bad")
    name = "duplicate_signer/rotation-authority2-twice"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH2, p), cose_sig(AUTH, p), cose_sig(AUTH2, p)]),
        "duplicate_signer", claims_for=c, trust="rotation",
        note="trust 'rotation': the same authority2 kid at positions 0 and 2")

    # 4. bad_signature
    name = "bad_signature/payload-byte-flipped"
    c = claims(name, sub="user-42")
    p = payload_of(c)
    sigs = [cose_sig(AUTH, p)]
    p2 = sub1(p, b"user-42", b"user-43")
    c2 = dict(c, sub="user-43")
    add(name, token(p2, sigs), "bad_signature", claims_for=c2,
        note="signed with sub user-42, then one payload byte changed to user-43")
    na, nb = "bad_signature/swapped-a", "bad_signature/swapped-b"
    ca, cb = claims(na, cmd="door.unlock"), claims(nb, cmd="door.unlock")
    pa, pb = payload_of(ca), payload_of(cb)
    sa = [cose_sig(AUTH, pa), cose_sig(OWNER, pa)]
    sb = [cose_sig(AUTH, pb), cose_sig(OWNER, pb)]
    add(na, token(pa, sb), "bad_signature", claims_for=ca,
        note="carries the signatures of " + nb)
    add(nb, token(pb, sa), "bad_signature", claims_for=cb,
        note="carries the signatures of " + na)
    name = "bad_signature/owner-signed-other-payload"
    c = claims(name, cmd="door.unlock")
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p), sb[1]]), "bad_signature", claims_for=c)
    name = "bad_signature/ed25519-bit-flipped"
    c = claims(name)
    p = payload_of(c)
    s = bytearray(cose_sig(AUTH, p)[2])
    s[10] ^= 0x01
    add(name, token(p, [cose_sig(AUTH, p, sig=bytes(s))]), "bad_signature", claims_for=c)
    name = "bad_signature/ed25519-s-plus-l"
    c = claims(name)
    p = payload_of(c)
    s = cose_sig(AUTH, p)[2]
    big_s = int.from_bytes(s[32:], "little") + ED25519_L
    s2 = s[:32] + big_s.to_bytes(32, "little")
    add(name, token(p, [cose_sig(AUTH, p, sig=s2)]), "bad_signature", claims_for=c,
        note="valid Ed25519 signature with S replaced by S + L: RFC 8032 requires S < L")
    for label, fix in (("r-zero", lambda r, s: (0, s)), ("s-zero", lambda r, s: (r, 0)),
                       ("r-is-n", lambda r, s: (P256_N, s)),
                       ("s-is-n", lambda r, s: (r, P256_N)),
                       ("s-all-ff", lambda r, s: (r, 2**256 - 1)),
                       ("all-zero", lambda r, s: (0, 0))):
        name = "bad_signature/es256-" + label
        c = claims(name, cmd="door.unlock")
        p = payload_of(c)
        raw = cose_sig(OWNER, p)[2]
        r, s = fix(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        add(name, token(p, [cose_sig(AUTH, p), cose_sig(OWNER, p, sig=sig)]), "bad_signature",
            claims_for=c, note="owner's r||s out of range [1, n-1]")
    name = "bad_signature/kid-of-authority-key-of-attacker"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p, signer=ATK_ED)]), "bad_signature", claims_for=c)
    name = "bad_signature/es256-kid-of-owner-key-of-attacker"
    c = claims(name, cmd="door.unlock")
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p), cose_sig(OWNER, p, signer=ATK_ES)]),
        "bad_signature", claims_for=c)
    name = "bad_signature/signature1-context"
    c = claims(name)
    p = payload_of(c)
    prot = enc({1: ALG_EDDSA})
    tbs = enc(["Signature1", b"", b"", p])
    add(name, token(p, [cose_sig(AUTH, p, tbs=tbs)]), "bad_signature", claims_for=c,
        note="signed a COSE_Sign1 Sig_structure ['Signature1', h'', h'', payload]")
    name = "bad_signature/payload-signed-directly"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p, tbs=p)]), "bad_signature", claims_for=c,
        note="signature over the payload bytes, not the Sig_structure")
    name = "bad_signature/external-aad-not-empty"
    c = claims(name)
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p, tbs=enc(["Signature", b"", prot, VIN.encode(), p]))]),
        "bad_signature", claims_for=c, note="signed with external_aad = the VIN")
    name = "bad_signature/es256-sha384"
    c = claims(name, cmd="door.unlock")
    p = payload_of(c)
    r, s = decode_dss_signature(OWNER.priv.sign(sig_structure(p, enc({1: ALG_ES256})),
                                                ec.ECDSA(hashes.SHA384())))
    # random each run: keep it reproducible through the cache, keyed on a marker
    key_ = OWNER.kid.hex() + ":sha384:" + hashlib.sha256(p).hexdigest()
    if not FRESH and key_ in CACHE:
        sig = bytes.fromhex(CACHE[key_])
    else:
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    USED[key_] = sig.hex()
    add(name, token(p, [cose_sig(AUTH, p), cose_sig(OWNER, p, sig=sig)]), "bad_signature",
        claims_for=c, note="owner signed with SHA-384 instead of SHA-256")
    name = "bad_signature/before-missing_signer"
    c = claims(name, cmd="door.unlock")
    p = payload_of(c)
    add(name, token(p, [cose_sig(AUTH, p, signer=ATK_ED)]), "bad_signature", claims_for=c)

    # 5. missing_signer
    rej("missing_signer/door.unlock-authority-only", "missing_signer", (AUTH,),
        cmd="door.unlock", note="a fully compromised backend: the authority alone")
    rej("missing_signer/engine.start-authority-only", "missing_signer", (AUTH,),
        cmd="engine.start")
    rej("missing_signer/door.unlock-owner-only", "missing_signer", (OWNER,), cmd="door.unlock")
    rej("missing_signer/door.lock-owner-only", "missing_signer", (OWNER,),
        note="'*' requires authority")
    rej("missing_signer/rotation-two-authorities", "missing_signer", (AUTH, AUTH2),
        cmd="door.unlock", add_kw={"trust": "rotation"},
        note="two authority keys do not make an owner")
    rej("missing_signer/before-wrong_vehicle", "missing_signer", (AUTH,), cmd="door.unlock",
        aud=OTHER_VIN)
    rej("pawl-strict/missing_signer/no-rule-for-cmd", "missing_signer", (AUTH, OWNER),
        cmd="horn.flash", add_kw={"trust": "no-default", "basis": "pawl-strict"},
        note="trust 'no-default' has no '*' rule and none for horn.flash: pawl refuses "
             "(edge_token.h); the contract does not say")

    # 6. wrong_vehicle
    rej("wrong_vehicle/other-vin", "wrong_vehicle", aud=OTHER_VIN)
    rej("wrong_vehicle/lowercase-vin", "wrong_vehicle", aud=VIN.lower())
    rej("wrong_vehicle/before-expired", "wrong_vehicle", aud=OTHER_VIN,
        add_kw={"now": EXP + 1000})

    # 7. expired, not_yet_valid, lifetime_too_long
    rej("expired/now-is-exp", "expired", add_kw={"now": EXP})
    rej("expired/long-ago", "expired", add_kw={"now": EXP + 86400})
    n = "expired/before-replay"
    rej(n, "expired", add_kw={"now": EXP + 5, "seen": [(cti_for(n), EXP - 20)]})
    rej("not_yet_valid/now-is-iat-minus-skew-minus-1", "not_yet_valid",
        add_kw={"now": IAT - 31})
    rej("not_yet_valid/short-skew-0", "not_yet_valid", add_kw={"trust": "short", "now": IAT - 1},
        exp=IAT + 60, note="trust 'short' has skew_s 0")
    rej("not_yet_valid/defaults-skew", "not_yet_valid", add_kw={"trust": "defaults",
                                                                 "now": IAT - 31})
    rej("not_yet_valid/iat-near-u64-max", "not_yet_valid", iat=U64_MAX - 100, exp=U64_MAX - 10)
    rej("lifetime_too_long/121", "lifetime_too_long", exp=IAT + 121)
    rej("lifetime_too_long/short-90", "lifetime_too_long", add_kw={"trust": "short"},
        note="trust 'short' has max_lifetime_s 60")
    rej("lifetime_too_long/defaults-121", "lifetime_too_long", exp=IAT + 121,
        add_kw={"trust": "defaults"})
    rej("lifetime_too_long/exp-u64-max", "lifetime_too_long", iat=IAT, exp=U64_MAX)

    # 8. replay
    n = "replay/seen-10s-ago"
    rej(n, "replay", add_kw={"seen": [(cti_for(n), NOW - 10)]})
    n = "replay/seen-149s-ago"
    rej(n, "replay", add_kw={"seen": [(cti_for(n), NOW - 149)]},
        note="window = max_lifetime + skew = 150: now < t + 150")
    n = "replay/seen-in-future"
    rej(n, "replay", add_kw={"seen": [(cti_for(n), NOW + 5)]},
        note="a record later than now counts as seen (clock stepped back)")
    n = "replay/among-others"
    rej(n, "replay", add_kw={"seen": [(cti_for("x1"), NOW - 3), (cti_for(n), NOW - 40),
                                      (cti_for("x2"), NOW - 1)]})
    n = "replay/before-stale_sequence"
    rej(n, "replay", add_kw={"seen": [(cti_for(n), NOW - 10)], "last_seq": SEQ})
    n = "replay/short-window"
    rej(n, "replay", exp=IAT + 60,
        add_kw={"trust": "short", "now": IAT + 10, "seen": [(cti_for(n), IAT + 10 - 59)]})

    # 9. stale_sequence
    rej("stale_sequence/equal", "stale_sequence", add_kw={"last_seq": SEQ})
    rej("stale_sequence/older", "stale_sequence", add_kw={"last_seq": SEQ + 100})
    rej("stale_sequence/u64-max", "stale_sequence", seq=U64_MAX, add_kw={"last_seq": U64_MAX})
    rej("stale_sequence/before-unsafe_state", "stale_sequence", (AUTH, OWNER),
        cmd="door.unlock", add_kw={"last_seq": SEQ, "speed": 42.0})

    # 10. unsafe_state
    rej("unsafe_state/door.unlock-42", "unsafe_state", (AUTH, OWNER), cmd="door.unlock",
        add_kw={"speed": 42.0})
    rej("unsafe_state/engine.start-0.5", "unsafe_state", (AUTH, OWNER), cmd="engine.start",
        add_kw={"speed": 0.5})
    rej("unsafe_state/engine.stop-100", "unsafe_state", cmd="engine.stop",
        add_kw={"speed": 100.0})


# ---- verify vectors: malformed -------------------------------------------------------

def gen_malformed():
    # a good two-signature token to cut and extend
    base, bc = std("malformed/base", (AUTH, OWNER), cmd="door.unlock")
    bp = payload_of(bc)
    bsigs = [cose_sig(AUTH, bp), cose_sig(OWNER, bp)]
    arr = [b"", {}, bp, bsigs]
    assert base == enc(CBORTag(98, arr))

    # outer shape and tag
    mal("malformed/no-tag", enc(arr), note="untagged COSE_Sign array, signatures valid")
    mal("malformed/tag-18", enc(CBORTag(18, arr)), note="COSE_Sign1's tag on a COSE_Sign")
    mal("malformed/tag-96", enc(CBORTag(96, arr)))
    mal("pawl-strict/malformed/cwt-tag-61-around-98", enc(CBORTag(61, CBORTag(98, arr))),
        basis="pawl-strict", note="RFC 8392's optional CWT tag; pawl takes no tag but one 98")
    mal("pawl-strict/malformed/tag-98-non-shortest", b"\xd9\x00\x62" + base[2:],
        basis="pawl-strict", note="tag head d9 0062 instead of d8 62")
    mal("malformed/tag-98-on-map", enc(CBORTag(98, {0: b"", 1: {}, 2: bp, 3: bsigs})))
    mal("malformed/outer-3-elements", enc(CBORTag(98, arr[:3])))
    mal("malformed/outer-5-elements", enc(CBORTag(98, arr + [b""])))
    mal("malformed/empty-input", b"")
    mal("malformed/tag-only", base[:2])

    # truncations and trailing bytes
    for cut in (1, 3, 4, 10, len(base) // 2, len(base) - 65, len(base) - 1):
        mal(f"malformed/truncated-{cut}-of-{len(base)}", base[:cut])
    mal("malformed/trailing-zero-byte", base + b"\x00")
    mal("malformed/trailing-second-message", base + base)
    mal("malformed/trailing-break", base + b"\xff")

    # indefinite lengths
    def items(xs):
        return b"".join(enc(x) for x in xs)
    mal("malformed/indefinite-outer-array", b"\xd8\x62\x9f" + items(arr) + b"\xff")
    mal("malformed/indefinite-signatures-array",
        b"\xd8\x62\x84" + items(arr[:3]) + b"\x9f" + items(bsigs) + b"\xff")
    mal("malformed/indefinite-unprotected-map", b"\xd8\x62\x84" + enc(b"") + b"\xbf\xff" +
        items(arr[2:]))
    chunks = b"\x5f" + enc(bp[:20]) + enc(bp[20:]) + b"\xff"
    mal("malformed/indefinite-payload-bstr", b"\xd8\x62\x84" + items(arr[:2]) + chunks +
        enc(bsigs), note="payload as two chunks; signatures over the joined bytes")
    pairs = claim_pairs(bc)
    pi = raw_map(pairs, indefinite=True)
    mal("malformed/indefinite-claims-map",
        signed(pi, [AUTH, OWNER]), note="claims map bf ... ff; signatures valid over it")
    pt = sub1(bp, enc("user-42"), b"\x7f" + enc("user") + enc("-42") + b"\xff")
    mal("malformed/indefinite-tstr-sub", signed(pt, [AUTH, OWNER]))
    ca = claims("malformed/indefinite-args", cmd="climate.start", args={"a": 1})
    pa = sub1(payload_of(ca), b"\xa1\x61\x61\x01", b"\xbf\x61\x61\x01\xff")
    mal("malformed/indefinite-args", signed(pa, [AUTH]))
    ca = claims("malformed/indefinite-args-array", cmd="climate.start", args={"a": [1]})
    pa = sub1(payload_of(ca), b"\x61\x61\x81\x01", b"\x61\x61\x9f\x01\xff")
    mal("malformed/indefinite-args-array", signed(pa, [AUTH]))
    s0 = bsigs[0]
    mal("malformed/indefinite-sign-protected",
        sub1(base, enc(s0[0]) + enc(s0[1]), b"\x5f" + enc(s0[0]) + b"\xff" + enc(s0[1])))

    # map keys: duplicates, order
    c = claims("malformed/duplicate-claim-sub")
    pr = claim_pairs(c)
    pd = raw_map(pr[:2] + [pr[1]] + pr[2:])
    mal("malformed/duplicate-claim-sub", signed(pd, [AUTH]),
        note="sub twice with the same value, keys otherwise ascending")
    pr2 = list(pr)
    pd = raw_map(pr2[:2] + [(enc(2), enc("user-43"))] + pr2[2:])
    mal("malformed/duplicate-claim-sub-different-values", signed(pd, [AUTH]))
    pd = raw_map(pr + [pr[-1]])
    mal("malformed/duplicate-claim-seq-last", signed(pd, [AUTH]))
    ca = claims("malformed/duplicate-args-key", cmd="climate.start", args={"a": 1})
    pa = sub1(payload_of(ca), b"\xa1\x61\x61\x01", b"\xa2\x61\x61\x01\x61\x61\x02")
    mal("malformed/duplicate-args-key", signed(pa, [AUTH]))
    pu = raw_map([pr[1], pr[0]] + pr[2:])
    mal("pawl-strict/malformed/unsorted-claims-iss-sub", signed(pu, [AUTH]), basis="pawl-strict",
        note="sub before iss; deterministic encoding requires ascending keys")
    pu = raw_map(pr[:-3] + [pr[-1], pr[-3], pr[-2]])
    mal("pawl-strict/malformed/unsorted-claims-seq-before-cmd", signed(pu, [AUTH]),
        basis="pawl-strict")
    ca = claims("pawl-strict/malformed/unsorted-args", cmd="climate.start",
                args={"a": 1, "b": 2})
    pa = sub1(payload_of(ca), b"\xa2\x61\x61\x01\x61\x62\x02", b"\xa2\x61\x62\x02\x61\x61\x01")
    mal("pawl-strict/malformed/unsorted-args", signed(pa, [AUTH]), basis="pawl-strict")
    mal("malformed/duplicate-unprotected-kid",
        sub1(base, b"\xa1\x04\x48" + AUTH.kid, b"\xa2\x04\x48" + AUTH.kid + b"\x04\x48" + AUTH.kid))

    # non-shortest heads
    def claims_sub(name, old, new, keys=(AUTH,), **over):
        cc = claims(name, **over)
        return signed(sub1(payload_of(cc), old, new), list(keys))
    seqk = enc(-70003)
    mal("pawl-strict/malformed/non-shortest-seq",
        claims_sub("pawl-strict/malformed/non-shortest-seq", seqk + b"\x07",
                   seqk + b"\x1a\x00\x00\x00\x07"), basis="pawl-strict",
        note="seq 7 as 1a 00000007")
    mal("pawl-strict/malformed/non-shortest-seq-1-byte",
        claims_sub("pawl-strict/malformed/non-shortest-seq-1-byte", seqk + b"\x07",
                   seqk + b"\x18\x07"), basis="pawl-strict")
    nm = "pawl-strict/malformed/non-shortest-cti-length"
    mal(nm, claims_sub(nm, b"\x07\x50" + cti_for(nm), b"\x07\x58\x10" + cti_for(nm)),
        basis="pawl-strict")
    nm = "pawl-strict/malformed/non-shortest-claim-key"
    mal(nm, claims_sub(nm, b"\x06\x1a", b"\x18\x06\x1a"), basis="pawl-strict",
        note="key iat (6) as 18 06")
    nm = "pawl-strict/malformed/non-shortest-map-count"
    cc = claims(nm)
    pp = payload_of(cc)
    assert pp[0] == 0xa8
    mal(nm, signed(b"\xb8\x08" + pp[1:], [AUTH]), basis="pawl-strict")
    mal("pawl-strict/malformed/non-shortest-payload-length",
        sub1(base, enc(bp), b"\x59" + len(bp).to_bytes(2, "big") + bp), basis="pawl-strict")
    mal("pawl-strict/malformed/non-shortest-alg",
        non_shortest_alg(), basis="pawl-strict",
        note="sign_protected a1 01 38 07 (alg -8, non-shortest); signed over those bytes")
    nm = "pawl-strict/malformed/float-not-shortest"
    ca = claims(nm, cmd="climate.start", args={"t": 21.5})
    mal(nm, signed(sub1(payload_of(ca), b"\xf9\x4d\x60", b"\xfb" +
                        bytes.fromhex("4035800000000000")), [AUTH]), basis="pawl-strict",
        note="21.5 as a double; preferred serialization (RFC 8949 4.2.1) needs the half")

    # depth and size
    nest = 1
    for _ in range(7):
        nest = {"v": nest}
    ca = claims("malformed/depth-9-maps", cmd="climate.start", args={"v": nest})
    mal("malformed/depth-9-maps", signed(payload_of(ca), [AUTH]),
        note="claims map depth 1, args 2, innermost map depth 9")
    nest = [1]
    for _ in range(7):
        nest = [nest]
    ca = claims("malformed/depth-9-arrays", cmd="climate.start", args={"v": nest})
    mal("malformed/depth-9-arrays", signed(payload_of(ca), [AUTH]))
    nest = [1]
    for _ in range(40):
        nest = [nest]
    ca = claims("malformed/depth-42", cmd="climate.start", args={"v": nest})
    mal("malformed/depth-42", signed(payload_of(ca), [AUTH]))
    tok, _ = sized_token("malformed/size-4097", 4097)
    mal("malformed/size-4097", tok, note="canonical, validly signed, one byte too long")

    # claims: unknown, missing, wrong types
    for nm, key, val in (("nbf-5", 5, IAT), ("cnf-8", 8, {1: 1}), ("private--70004", -70004, 1),
                         ("text-key", "iss", "x"), ("key-0", 0, 0),
                         ("nint-beyond-int64", -2**64, 1)):
        name = "malformed/unknown-claim-" + nm
        cm = claims_map(claims(name))
        cm[key] = val
        mal(name, signed(enc(cm), [AUTH]))
    for cl in ("iss", "sub", "aud", "exp", "iat", "cti", "cmd", "seq"):
        name = "malformed/missing-claim-" + cl
        mal(name, signed(payload_of(claims(name, **{cl: None})), [AUTH]))
    mal("malformed/empty-claims-map", signed(enc({}), [AUTH]))
    for nm, cl, val in (
            ("iss-int", "iss", 1), ("sub-bstr", "sub", b"user-42"),
            ("aud-bstr", "aud", VIN.encode()),
            ("aud-16-chars", "aud", VIN[:16]), ("aud-18-chars", "aud", VIN + "0"),
            ("aud-empty", "aud", ""),
            ("exp-negative", "exp", -1), ("exp-text", "exp", str(EXP)),
            ("exp-float", "exp", float(EXP)), ("iat-negative", "iat", -5),
            ("iat-null", "iat", None), ("cti-15-bytes", "cti", cti_for("x")[:15]),
            ("cti-17-bytes", "cti", cti_for("x") + b"\x00"), ("cti-empty", "cti", b""),
            ("cti-tstr", "cti", "0123456789abcdef"), ("cmd-bstr", "cmd", b"door.lock"),
            ("cmd-int", "cmd", 1), ("seq-negative", "seq", -1), ("seq-text", "seq", "7"),
            ("seq-true", "seq", True), ("args-array", "args", ["a"]), ("args-text", "args", "a"),
            ("args-int-key", "args", {1: "a"}), ("args-bstr-key", "args", {b"a": 1}),
            ("args-null", "args", None)):
        name = "malformed/claim-" + nm
        cm = claims_map(claims(name))
        cm[CLAIM_KEY[cl]] = val
        mal(name, signed(enc(cm), [AUTH]))
    nm = "malformed/exp-bignum"
    cm = claims_map(claims(nm))
    cm[4] = CBORTag(2, EXP.to_bytes(4, "big"))
    mal(nm, signed(enc(cm), [AUTH]), note="exp as tag 2 (bignum): not a uint (CDDL uint is "
                                          "major type 0)")
    nm = "malformed/exp-epoch-tag-1"
    cm = claims_map(claims(nm))
    cm[4] = CBORTag(1, EXP)
    mal(nm, signed(enc(cm), [AUTH]), note="exp as tag 1 (epoch date): not a uint")
    nm = "malformed/exp-u64-plus-one-bignum"
    # not a uint at all: a 9-byte magnitude only fits in a bignum tag
    cm = claims_map(claims(nm))
    cm[4] = CBORTag(2, (2**64).to_bytes(9, "big"))
    mal(nm, signed(enc(cm), [AUTH]))

    # values inside args
    for nm, hexv, basis, note in (
            ("undefined", "f7", "pawl-strict", "simple value undefined"),
            ("simple-16", "f0", "pawl-strict", "simple value 16"),
            ("simple-255", "f8ff", "pawl-strict", "simple value 255"),
            ("simple-two-byte-below-32", "f818", "contract",
             "f8 18: not well-formed (RFC 8949 3.3)"),
            ("reserved-ai-28", "1c", "contract", "additional information 28 is reserved"),
            ("reserved-ai-30-bstr", "5e", "contract", None),
            ("lone-break", "ff", "contract", None),
            ("tag-1-datetime", "c11a69557f00", "pawl-strict", "tag 1 inside args"),
            ("tag-32-uri", "d8206468747470", "pawl-strict", None),
            ("invalid-utf8-ff", "62ff41", "contract", "tstr with byte ff"),
            ("utf8-overlong", "62c0af", "contract", "overlong encoding of '/'"),
            ("utf8-surrogate", "63eda080", "contract", "U+D800 encoded"),
            ("utf8-beyond-10ffff", "64f4908080", "contract", None),
            ("utf8-truncated", "62e282", "contract", None),
            ("bstr-past-end", "5a7fffffff", "contract", "length far past the message")):
        name = ("pawl-strict/" if basis == "pawl-strict" else "") + "malformed/args-" + nm
        ca = claims(name, cmd="climate.start", args={"a": 1})
        pa = sub1(payload_of(ca), b"\xa1\x61\x61\x01", b"\xa1\x61\x61" + bytes.fromhex(hexv))
        mal(name, signed(pa, [AUTH]), basis=basis, note=note)
    for nm, raw in (("invalid-utf8-sub", b"user-\xff2"),
                    ("utf8-surrogate-sub", b"user\xed\xa0\x80"),
                    ("utf8-overlong-cmd", b"door\xc0\xaelock")):
        name = "malformed/" + nm
        field = "cmd" if "cmd" in nm else "sub"
        cc = claims(name)
        pp = sub1(payload_of(cc), enc(cc[field]), head(3, len(raw)) + raw)
        mal(name, signed(pp, [AUTH]))
    name = "malformed/invalid-utf8-args-key"
    ca = claims(name, cmd="climate.start", args={"a": 1})
    mal(name, signed(sub1(payload_of(ca), b"\xa1\x61\x61\x01", b"\xa1\x61\xff\x01"), [AUTH]))

    # body
    for nm, bprot in (("empty-map", enc({})), ("alg", enc({1: ALG_EDDSA}))):
        name = "malformed/body-protected-" + nm
        c = claims(name)
        p = payload_of(c)
        mal(name, token(p, [cose_sig(AUTH, p, body_protected=bprot)], body_protected=bprot),
            note="signed over the Sig_structure with this body_protected")
    name = "malformed/body-protected-not-bstr"
    p = payload_of(claims(name))
    mal(name, token(p, [cose_sig(AUTH, p)], body_protected={}))
    for nm, unp in (("alg", {1: ALG_EDDSA}), ("kid", {4: AUTH.kid}), ("bstr", b"")):
        name = "malformed/body-unprotected-" + nm
        p = payload_of(claims(name))
        mal(name, token(p, [cose_sig(AUTH, p)], unprotected=unp))
    name = "malformed/payload-null"
    p = payload_of(claims(name))
    mal(name, token(None, [cose_sig(AUTH, p)]), note="detached payload")
    name = "malformed/payload-empty"
    mal(name, token(b"", [cose_sig(AUTH, b"")]))
    name = "malformed/payload-array"
    p = enc(list(claims_map(claims(name)).items()))
    mal(name, signed(p, [AUTH]))
    name = "malformed/payload-not-wrapped"
    cm = claims_map(claims(name))
    p = enc(cm)
    mal(name, token(cm, [cose_sig(AUTH, p)]), note="claims map in place of its bstr")
    name = "malformed/payload-trailing-byte"
    p = payload_of(claims(name)) + b"\x00"
    mal(name, signed(p, [AUTH]))
    name = "malformed/payload-two-maps"
    p = payload_of(claims(name))
    mal(name, signed(p + enc({}), [AUTH]))
    name = "malformed/payload-tstr"
    p = payload_of(claims(name))
    mal(name, token(p.decode("latin-1"), [cose_sig(AUTH, p)]))

    # signatures array and COSE_Signature
    name = "malformed/signatures-empty"
    mal(name, token(payload_of(claims(name)), []))
    name = "malformed/signatures-not-nested"
    p = payload_of(claims(name))
    mal(name, token(p, cose_sig(AUTH, p)), note="one COSE_Signature in place of the array")
    name = "malformed/signatures-map"
    p = payload_of(claims(name))
    mal(name, token(p, {0: cose_sig(AUTH, p)}))
    name = "malformed/signature-2-elements"
    p = payload_of(claims(name))
    mal(name, token(p, [cose_sig(AUTH, p)[:2]]))
    name = "malformed/signature-4-elements"
    p = payload_of(claims(name))
    mal(name, token(p, [cose_sig(AUTH, p) + [b""]]))
    name = "malformed/signature-not-array"
    p = payload_of(claims(name))
    mal(name, token(p, [cose_sig(AUTH, p)[2]]))
    for nm, prot in (("empty", b""), ("empty-map", enc({})),
                     ("extra-kid", enc({1: ALG_EDDSA, 4: AUTH.kid})),
                     ("extra-crit", enc({1: ALG_EDDSA, 2: [4]})),
                     ("extra-content-type", enc({1: ALG_EDDSA, 3: 60})),
                     ("trailing-byte", enc({1: ALG_EDDSA}) + b"\x00"),
                     ("array", enc([1, ALG_EDDSA])), ("alg-bstr", enc({1: b"\x27"})),
                     ("alg-float", enc({1: -8.0})), ("alg-null", enc({1: None}))):
        name = "malformed/sign-protected-" + nm
        p = payload_of(claims(name))
        mal(name, token(p, [cose_sig(AUTH, p, prot=prot)]),
            note="signed over the Sig_structure with this sign_protected")
    name = "malformed/sign-protected-not-bstr"
    p = payload_of(claims(name))
    mal(name, token(p, [[{1: ALG_EDDSA}, {4: AUTH.kid}, cose_sig(AUTH, p)[2]]]))
    name = "pawl-strict/malformed/sign-protected-alg-text"
    p = payload_of(claims(name))
    mal(name, token(p, [cose_sig(AUTH, p, prot=enc({1: "EdDSA"}))]), basis="pawl-strict",
        note="COSE allows text algs; the contract's algs are -8 and -7, pawl reads an int")
    name = "pawl-strict/malformed/sign-protected-alg-beyond-int64"
    p = payload_of(claims(name))
    mal(name, token(p, [cose_sig(AUTH, p, prot=b"\xa1\x01\x3b" + b"\xff" * 8)]),
        basis="pawl-strict", note="alg -2^64: no int64 holds it")
    for nm, unp in (("empty", {}), ("kid-7-bytes", {4: AUTH.kid[:7]}),
                    ("kid-9-bytes", {4: AUTH.kid + b"\x00"}), ("kid-empty", {4: b""}),
                    ("kid-tstr", {4: AUTH.kid.hex()[:8]}), ("kid-int", {4: 1}),
                    ("extra-alg", {1: ALG_EDDSA, 4: AUTH.kid}),
                    ("extra-iv", {4: AUTH.kid, 5: b"\x00" * 12}),
                    ("kid-in-key-3", {3: AUTH.kid}), ("not-map", AUTH.kid)):
        name = "malformed/signature-unprotected-" + nm
        p = payload_of(claims(name))
        mal(name, token(p, [cose_sig(AUTH, p, unprot=unp)]))
    for nm, sig in (("tstr", "x" * 64), ("null", None), ("int", 0)):
        name = "malformed/signature-value-" + nm
        p = payload_of(claims(name))
        s = [enc({1: ALG_EDDSA}), {4: AUTH.kid}, sig]
        mal(name, token(p, [s]))
    name = "pawl-strict/malformed/nine-signatures"
    c = claims(name, cmd="door.unlock")
    p = payload_of(c)
    mal(name, token(p, [cose_sig(k, p) for k in [AUTH, OWNER, AUTH2] + WITNESSES + [ATK_ED]]),
        basis="pawl-strict", note="nine signatures (eight trusted in 'eight' plus an attacker); "
                                  "pawl reads at most 8")
    name = "malformed/second-signature-bad-kid"
    c = claims(name, cmd="door.unlock")
    p = payload_of(c)
    mal(name, token(p, [cose_sig(AUTH, p), cose_sig(OWNER, p, kid=OWNER.kid[:4])]),
        note="the first signature is fine; malformed wins over every later check")


def non_shortest_alg():
    c = claims("pawl-strict/malformed/non-shortest-alg")
    p = payload_of(c)
    return token(p, [cose_sig(AUTH, p, prot=b"\xa1\x01\x38\x07")])


# ---- output -----------------------------------------------------------------------

def render():
    keys = {n: {"alg": k.alg, "kid": k.kid.hex(), "spki_pem": k.spki_pem} for n, k in K.items()}
    vers = {m: importlib.metadata.version(m) for m in ("cbor2", "cryptography")}
    doc = {
        "format": "pawl command-token known-answer vectors, layout 1 (see README.md)",
        "contract": "COMMAND-TOKEN.md version 1",
        "generator": "tests/vectors/command-token/gen.py with python3-cbor2 %s and "
                     "python3-cryptography %s (Debian)" % (vers["cbor2"], vers["cryptography"]),
        "now": NOW,
        "keys": keys,
        "trust": TRUST,
        "trusts": TRUSTS,
        "build": BUILD,
        "verify": VERIFY,
    }
    return json.dumps(big_ints_as_strings(doc), indent=1, ensure_ascii=False) + "\n"


def big_ints_as_strings(x):
    """Integers past 2^63-1 become decimal strings: many JSON parsers (jansson
    among them) stop at int64. Readers turn them back (README.md)."""
    if isinstance(x, bool):
        return x
    if isinstance(x, int) and x > 2**63 - 1:
        return str(x)
    if isinstance(x, dict):
        return {k: big_ints_as_strings(v) for k, v in x.items()}
    if isinstance(x, list):
        return [big_ints_as_strings(v) for v in x]
    return x


def main():
    global FRESH
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 when vectors.json would change")
    ap.add_argument("--fresh-es256", action="store_true",
                    help="ignore es256-sigs.json and make new ES256 signatures")
    a = ap.parse_args()
    FRESH = a.fresh_es256
    if os.path.exists(CACHE_FILE):
        with open(CACHE_FILE) as f:
            CACHE.update(json.load(f))
    gen_build()
    gen_accept()
    gen_reject()
    gen_malformed()
    text = render()
    cache_text = json.dumps(dict(sorted(USED.items())), indent=1) + "\n"
    if a.check:
        same = os.path.exists(OUT) and open(OUT).read() == text
        print("vectors.json is up to date" if same else "vectors.json would change")
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    with open(CACHE_FILE, "w") as f:
        f.write(cache_text)
    reasons = {}
    for v in VERIFY:
        reasons[v["reason"]] = reasons.get(v["reason"], 0) + 1
    print(f"wrote {OUT}: {len(BUILD)} build, {len(VERIFY)} verify vectors, {len(text)} bytes")
    print("  " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
