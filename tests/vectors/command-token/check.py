#!/usr/bin/python3
"""Re-checks vectors.json with a second, tiny verifier written from COMMAND-TOKEN.md.

It shares no code with gen.py and does not use cbor2: CBOR is read and
written by the few functions below. Signatures are checked with
python3-cryptography. For every "verify" vector it runs the contract's
checks in order, twice:

  strict   pawl's reading (deterministic encoding, no inner tags, simple
           values false/true/null only, shortest floats, at most 8
           signatures, int64 alg): must give the vector's reason;
  contract only what the contract itself mandates: must give the same reason
           for vectors with basis "contract", and something other than
           "malformed" for "pawl-strict" malformed vectors (else the label
           is wrong).

For every "build" vector it parses the token, checks claims and signers,
verifies each signature, and rebuilds the token from the claims with its own
encoder (signature bytes taken from the token) to compare byte for byte.

    /usr/bin/python3 tests/vectors/command-token/check.py [vectors.json]

Exit 0 when every vector agrees, 1 otherwise.
"""
import hashlib
import json
import math
import os
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_SIZE = 4096
MAX_DEPTH = 8
MAX_SIGS = 8
CLAIMS = {1: "iss", 2: "sub", 3: "aud", 4: "exp", 6: "iat", 7: "cti", -70001: "cmd",
          -70002: "args", -70003: "seq"}
REQUIRED = {"iss", "sub", "aud", "exp", "iat", "cti", "cmd", "seq"}


class Malformed(Exception):
    pass


class Tag:
    def __init__(self, n, v):
        self.n, self.v = n, v


class Simple:
    def __init__(self, n):
        self.n = n


# ---- reading -----------------------------------------------------------------------

class Reader:
    def __init__(self, data, strict):
        self.d, self.i, self.strict = data, 0, strict

    def take(self, n):
        if n > len(self.d) - self.i:
            raise Malformed("truncated")
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def head(self):
        ib = self.take(1)[0]
        major, ai = ib >> 5, ib & 31
        if ai < 24:
            return major, ai, ai
        if ai >= 28:
            raise Malformed("reserved or indefinite head %02x" % ib)
        size = 1 << (ai - 24)
        arg = int.from_bytes(self.take(size), "big")
        if major != 7 and self.strict and arg < (24 if size == 1 else 1 << (4 * size)):
            raise Malformed("non-shortest head")
        return major, ai, arg

    def item(self, depth):
        start = self.i
        major, ai, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self.take(arg)
        if major == 3:
            try:
                return self.take(arg).decode("utf-8")  # strict: no surrogates, overlong
            except UnicodeDecodeError:
                raise Malformed("invalid UTF-8")
        if major in (4, 5):
            if depth + 1 > MAX_DEPTH:
                raise Malformed("too deep")
            if major == 4:
                return [self.item(depth + 1) for _ in range(arg)]
            out, seen, prev = {}, set(), None
            for _ in range(arg):
                ks = self.i
                k = self.item(depth + 1)
                kb = self.d[ks:self.i]
                if self.strict and prev is not None and kb <= prev:
                    raise Malformed("map keys not ascending")
                prev = kb
                ident = key_ident(k)
                if ident in seen:
                    raise Malformed("duplicate map key")
                seen.add(ident)
                v = self.item(depth + 1)
                out[ident] = (k, v)
            return Map(out)
        if major == 6:
            if self.strict:
                raise Malformed("inner tag")
            return Tag(arg, self.item(depth))
        # major 7
        if ai == 24:
            if arg < 32:
                raise Malformed("two-byte simple below 32")
            if self.strict:
                raise Malformed("simple value")
            return Simple(arg)
        if ai < 24:
            if arg == 20:
                return False
            if arg == 21:
                return True
            if arg == 22:
                return None
            if self.strict:
                raise Malformed("simple value")
            return Simple(arg)
        raw = self.d[start + 1:self.i]
        v = {25: lambda b: struct.unpack(">e", b)[0], 26: lambda b: struct.unpack(">f", b)[0],
             27: lambda b: struct.unpack(">d", b)[0]}[ai](raw)
        if self.strict and len(float_bytes(v)) < len(raw) + 1:
            raise Malformed("float not in shortest form")
        return v


class Map:
    """A decoded map: ident -> (key, value); ident tells 1 from True and 1.0."""
    def __init__(self, entries):
        self.entries = entries

    def items(self):
        return [kv for kv in self.entries.values()]


def key_ident(k):
    if isinstance(k, (Map, list, Tag, Simple)):
        return ("other", id(k))
    return (type(k).__name__, k)


def decode_all(data, strict):
    r = Reader(data, strict)
    v = r.item(0)
    if r.i != len(data):
        raise Malformed("trailing bytes")
    return v


# ---- writing (for Sig_structure and rebuilt tokens) ---------------------------------

def w_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError(n)


def float_bytes(v):
    if math.isnan(v):
        return b"\xf9\x7e\x00"
    for fmt, ib in ((">e", 0xf9), (">f", 0xfa)):
        try:
            b = struct.pack(fmt, v)
        except (OverflowError, struct.error):
            continue
        if struct.unpack(fmt, b)[0] == v:
            return bytes([ib]) + b
    return b"\xfb" + struct.pack(">d", v)


def w(v):
    if v is False:
        return b"\xf4"
    if v is True:
        return b"\xf5"
    if v is None:
        return b"\xf6"
    if isinstance(v, int):
        return w_head(0, v) if v >= 0 else w_head(1, -1 - v)
    if isinstance(v, float):
        return float_bytes(v)
    if isinstance(v, bytes):
        return w_head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return w_head(3, len(b)) + b
    if isinstance(v, list):
        return w_head(4, len(v)) + b"".join(w(x) for x in v)
    if isinstance(v, dict):
        pairs = sorted((w(k), w(x)) for k, x in v.items())
        return w_head(5, len(pairs)) + b"".join(k + x for k, x in pairs)
    raise TypeError(type(v))


# ---- the token -----------------------------------------------------------------------

class Token:
    pass


def is_uint(v):
    return type(v) is int and v >= 0


def parse(data, strict):
    if len(data) > MAX_SIZE:
        raise Malformed("over 4096 bytes")
    r = Reader(data, strict)
    while True:
        major, ai, arg = r.head()
        if major != 6:
            raise Malformed("no tag 98")
        if arg == 98:
            break
        if strict or arg != 61:
            raise Malformed("tag %d" % arg)
    msg = r.item(0)
    if r.i != len(data):
        raise Malformed("trailing bytes")
    if not isinstance(msg, list) or len(msg) != 4:
        raise Malformed("COSE_Sign is not a 4-array")
    bprot, unprot, payload, sigs = msg
    if bprot != b"" or not isinstance(bprot, bytes):
        raise Malformed("body_protected")
    if not isinstance(unprot, Map) or unprot.entries:
        raise Malformed("body unprotected")
    if not isinstance(payload, bytes):
        raise Malformed("payload not bstr")
    if not isinstance(sigs, list) or not sigs:
        raise Malformed("signatures")
    if strict and len(sigs) > MAX_SIGS:
        raise Malformed("more than 8 signatures")
    t = Token()
    t.payload = payload
    t.sigs = []
    for s in sigs:
        if not isinstance(s, list) or len(s) != 3:
            raise Malformed("COSE_Signature")
        prot, sun, sig = s
        if not isinstance(prot, bytes) or not isinstance(sig, bytes):
            raise Malformed("COSE_Signature types")
        pm = decode_all(prot, strict)
        if not isinstance(pm, Map) or [k for k, _ in pm.items()] != [1] or \
                type([k for k, _ in pm.items()][0]) is not int:
            raise Malformed("sign_protected is not {1: alg}")
        alg = pm.items()[0][1]
        if strict:
            if type(alg) is not int or not -2**63 <= alg < 2**63:
                raise Malformed("alg not an int64")
        elif type(alg) is not int and not isinstance(alg, str):
            raise Malformed("alg neither int nor tstr")
        if not isinstance(sun, Map) or len(sun.entries) != 1:
            raise Malformed("signature unprotected is not {4: kid}")
        k, kid = sun.items()[0]
        if type(k) is not int or k != 4 or not isinstance(kid, bytes) or len(kid) != 8:
            raise Malformed("kid")
        t.sigs.append((prot, alg, kid, sig))
    cm = decode_all(payload, strict)
    if not isinstance(cm, Map):
        raise Malformed("claims not a map")
    c = {}
    for k, v in cm.items():
        if type(k) is not int or k not in CLAIMS:
            raise Malformed("unknown claim")
        c[CLAIMS[k]] = v
    if not REQUIRED <= set(c):
        raise Malformed("missing claim")
    for n in ("iss", "sub", "aud", "cmd"):
        if not isinstance(c[n], str):
            raise Malformed(n)
    if len(c["aud"]) != 17:
        raise Malformed("aud length")
    for n in ("exp", "iat", "seq"):
        if not is_uint(c[n]):
            raise Malformed(n)
    if not isinstance(c["cti"], bytes) or len(c["cti"]) != 16:
        raise Malformed("cti")
    if "args" in c:
        if not isinstance(c["args"], Map) or \
                any(not isinstance(k, str) for k, _ in c["args"].items()):
            raise Malformed("args")
    t.claims = c
    return t


def sig_structure(prot, payload):
    return w_head(4, 5) + w("Signature") + w(b"") + w(prot) + w(b"") + w(payload)


class TrustKey:
    def __init__(self, e):
        self.role = e["role"]
        self.alg = {"EdDSA": -8, "ES256": -7}[e["alg"]]
        self.pub = serialization.load_pem_public_key(e["spki_pem"].encode())
        der = self.pub.public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(der).digest()[:8]
        if self.alg == -8:
            assert isinstance(self.pub, ed25519.Ed25519PublicKey)
        else:
            assert isinstance(self.pub, ec.EllipticCurvePublicKey)


def sig_ok(key, msg, sig):
    if len(sig) != 64:
        return False
    try:
        if key.alg == -8:
            key.pub.verify(sig, msg)
        else:
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            key.pub.verify(encode_dss_signature(r, s), msg, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def verify(data, trust, now, signals, store, strict):
    try:
        t = parse(data, strict)
    except Malformed as e:
        return "malformed", str(e), None
    keys = {}
    for e in trust["keys"]:
        k = TrustKey(e)
        keys[k.kid] = k
    for _, alg, kid, _ in t.sigs:  # 2
        if alg not in (-8, -7) or (kid in keys and keys[kid].alg != alg):
            return "unsupported_alg", None, t
    for _, _, kid, _ in t.sigs:  # 3
        if kid not in keys:
            return "unknown_key", None, t
    kids = [kid for _, _, kid, _ in t.sigs]
    if len(set(kids)) != len(kids):
        return "duplicate_signer", None, t
    for prot, _, kid, sig in t.sigs:  # 4
        if not sig_ok(keys[kid], sig_structure(prot, t.payload), sig):
            return "bad_signature", None, t
    c = t.claims
    need = trust["require"].get(c["cmd"], trust["require"].get("*"))  # 5
    if need is None or not set(need) <= {keys[k].role for k in kids}:
        return "missing_signer", None, t
    if c["aud"] != trust["vin"]:  # 6
        return "wrong_vehicle", None, t
    skew, life = trust.get("skew_s", 30), trust.get("max_lifetime_s", 120)
    if not now < c["exp"]:  # 7
        return "expired", None, t
    if not c["iat"] - skew <= now:
        return "not_yet_valid", None, t
    if c["exp"] - c["iat"] > life:
        return "lifetime_too_long", None, t
    for s in store["seen"]:  # 8
        if bytes.fromhex(s["cti"]) == c["cti"] and (now < s["at"] + life + skew or s["at"] > now):
            return "replay", None, t
    if store["last_seq"] is not None and c["seq"] <= store["last_seq"]:  # 9
        return "stale_sequence", None, t
    if c["cmd"] in trust["stationary_only"] and signals.get("Vehicle.Speed", 0.0) > 0:  # 10
        return "unsafe_state", None, t
    return "ok", None, t


# ---- driver ----------------------------------------------------------------------------

def plain(v):
    """Decoded value -> plain JSON-like value."""
    if isinstance(v, Map):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def check_build(doc, v, errors):
    tok = bytes.fromhex(v["token_hex"])
    try:
        t = parse(tok, True)
    except Malformed as e:
        errors.append(f"{v['name']}: does not parse strictly: {e}")
        return
    c = dict(t.claims)
    c["cti"] = c["cti"].hex()
    if "args" in c:
        c["args"] = plain(c["args"])
    if c != v["claims"]:
        errors.append(f"{v['name']}: claims differ: {c} vs {v['claims']}")
    if [s[2].hex() for s in t.sigs] != [doc["keys"][n]["kid"] for n in v["signers"]]:
        errors.append(f"{v['name']}: signer kids differ")
    for (prot, alg, kid, sig), n in zip(t.sigs, v["signers"]):
        k = TrustKey({"role": "-", "alg": doc["keys"][n]["alg"],
                      "spki_pem": doc["keys"][n]["spki_pem"]})
        if alg != k.alg or not sig_ok(k, sig_structure(prot, t.payload), sig):
            errors.append(f"{v['name']}: signature by {n} does not verify")
    # rebuild with this file's encoder
    cm = {}
    inv = {n: k for k, n in CLAIMS.items()}
    for n, x in v["claims"].items():
        cm[inv[n]] = bytes.fromhex(x) if n == "cti" else x
    payload = w(cm)
    if payload.hex() != v["payload_hex"] or payload != t.payload:
        errors.append(f"{v['name']}: payload rebuilt differs")
    sigs = [[w({1: {"EdDSA": -8, "ES256": -7}[doc["keys"][n]["alg"]]}), {4: s[2]}, s[3]]
            for n, s in zip(v["signers"], t.sigs)]
    rebuilt = b"\xd8\x62" + w([b"", {}, payload, sigs])
    if rebuilt != tok:
        errors.append(f"{v['name']}: token rebuilt differs")
    es = [i for i, n in enumerate(v["signers"]) if doc["keys"][n]["alg"] == "ES256"]
    if es != v["es256_sig_indexes"]:
        errors.append(f"{v['name']}: es256_sig_indexes")
    for i, m in zip(es, v["masked"]):
        if tok[m["offset"]:m["offset"] + m["length"]] != t.sigs[i][3] or m["length"] != 64:
            errors.append(f"{v['name']}: masked range {m}")


def strings_as_big_ints(x):
    """Undo gen.py's big_ints_as_strings for the numeric fields."""
    if isinstance(x, dict):
        return {k: int(v) if k in ("seq", "last_seq", "exp", "iat", "at") and
                isinstance(v, str) and v.isdigit() else strings_as_big_ints(v)
                for k, v in x.items()}
    if isinstance(x, list):
        return [strings_as_big_ints(v) for v in x]
    return x


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
    with open(path) as f:
        doc = strings_as_big_ints(json.load(f))
    errors = []
    names = set()
    for v in doc["build"]:
        check_build(doc, v, errors)
    for v in doc["verify"]:
        if v["name"] in names:
            errors.append(f"{v['name']}: duplicate name")
        names.add(v["name"])
        trust = doc["trust"] if v["trust"] == "default" else doc["trusts"][v["trust"]]
        tok = bytes.fromhex(v["token_hex"])
        got, why, t = verify(tok, trust, v["now"], v["signals"], v["store"], strict=True)
        if got != v["reason"]:
            errors.append(f"{v['name']}: strict gives {got} ({why}), vector says {v['reason']}")
        if v["verdict"] != ("accept" if v["reason"] == "ok" else "reject"):
            errors.append(f"{v['name']}: verdict")
        if got != "malformed" and t is not None and \
                (v.get("cmd"), v.get("seq")) != (t.claims["cmd"], t.claims["seq"]):
            errors.append(f"{v['name']}: cmd/seq")
        lgot, lwhy, _ = verify(tok, trust, v["now"], v["signals"], v["store"], strict=False)
        if v["basis"] == "contract" and lgot != v["reason"]:
            errors.append(f"{v['name']}: contract-only reading gives {lgot} ({lwhy}), "
                          f"vector says {v['reason']}")
        if v["basis"] == "pawl-strict" and v["reason"] == "malformed" and lgot == "malformed":
            errors.append(f"{v['name']}: labelled pawl-strict but the contract alone "
                          f"rejects it too ({lwhy})")
        if v["basis"] == "pawl-strict" and not v["name"].startswith("pawl-strict/"):
            errors.append(f"{v['name']}: pawl-strict name")
    for e in errors:
        print("FAIL", e)
    print(f"{len(doc['build'])} build and {len(doc['verify'])} verify vectors checked, "
          f"{len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
