"""Independent check of a TUF repository written by `pawl ota` (used by
test_ota_cli.sh, run with Debian's /usr/bin/python3 and python3-cryptography).

Verifies every signature of every metadata file under REPO/metadata with the
keys and thresholds its delegator names (root with its own keys and, for
version N > 1, also with version N-1's), recomputes every keyid, checks that
snapshot and timestamp describe the files that exist, and that every target
is stored under the names a client asks for. Prints one line per file and
exits 1 on the first problem.

usage: ota_verify.py REPO
"""
import hashlib
import json
import os
import re
import sys
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def canonical(v):
    """securesystemslib's encode_canonical, written out."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(canonical(k) + ":" + canonical(v[k]) for k in sorted(v)) + "}"
    raise SystemExit(f"FAIL: no canonical form for {v!r}")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def verify_one(key, sig, msg):
    kt, scheme, pub = key["keytype"], key["scheme"], key["keyval"]["public"]
    if kt == "ed25519" and scheme == "ed25519":
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub)).verify(sig, msg)
    elif kt == "ecdsa" and scheme == "ecdsa-sha2-nistp256":
        k = serialization.load_pem_public_key(pub.encode())
        assert isinstance(k.curve, ec.SECP256R1)
        k.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
    elif kt == "rsa" and scheme == "rsassa-pss-sha256":
        k = serialization.load_pem_public_key(pub.encode())
        assert k.key_size >= 2048
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        k.verify(sig, msg, pss, hashes.SHA256())
    else:
        raise ValueError(f"unknown key type {kt}/{scheme}")


def check(doc, keys, role, what, unknown_ok=False):
    """Every signature by a key of keys verifies (others are an error unless
    unknown_ok); a threshold of role's keys signed. Returns the keyids whose
    signatures verified."""
    msg = canonical(doc["signed"]).encode()
    good, verified = set(), set()
    for s in doc["signatures"]:
        kid = s["keyid"]
        if kid not in keys and unknown_ok:
            continue
        if kid not in keys:
            fail(f"{what}: signature by unknown key {kid}")
        key = keys[kid]
        if hashlib.sha256(canonical(key).encode()).hexdigest() != kid:
            fail(f"{what}: keyid {kid} is not the SHA-256 of its key")
        try:
            verify_one(key, bytes.fromhex(s["sig"]), msg)
        except (InvalidSignature, ValueError, AssertionError) as e:
            fail(f"{what}: signature by {kid} does not verify ({e!r})")
        verified.add(kid)
        if kid in role["keyids"]:
            good.add(kid)
    if len(good) < role["threshold"]:
        fail(f"{what}: {len(good)} valid signatures, threshold {role['threshold']}")
    return verified


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def main(repo):
    md = os.path.join(repo, "metadata")
    root = load(os.path.join(md, "root.json"))
    cs = root["signed"]["consistent_snapshot"]
    # every root version, against itself and its predecessor
    v, prev = 1, None
    while os.path.exists(os.path.join(md, f"{v}.root.json")):
        r = load(os.path.join(md, f"{v}.root.json"))
        if r["signed"]["version"] != v:
            fail(f"{v}.root.json holds version {r['signed']['version']}")
        # A new root is signed by its own keys and by the previous root's
        # (a removed key signs once more); each signature verifies as one of them.
        ok = check(r, r["signed"]["keys"], r["signed"]["roles"]["root"], f"{v}.root.json",
                   unknown_ok=prev is not None)
        if prev is not None:
            ok |= check(r, prev["signed"]["keys"], prev["signed"]["roles"]["root"],
                        f"{v}.root.json (by root v{v - 1})", unknown_ok=True)
        if ok != {s["keyid"] for s in r["signatures"]}:
            fail(f"{v}.root.json: signatures by keys neither root v{v} nor v{v - 1} lists")
        print(f"ok {v}.root.json ({len(ok)} signatures)")
        prev, v = r, v + 1
    if prev is None or prev != root:
        fail("root.json is not the latest N.root.json")
    rk, roles = root["signed"]["keys"], root["signed"]["roles"]

    ts = load(os.path.join(md, "timestamp.json"))
    check(ts, rk, roles["timestamp"], "timestamp.json")
    with open(os.path.join(md, "snapshot.json"), "rb") as f:
        snap_bytes = f.read()
    sm = ts["signed"]["meta"]["snapshot.json"]
    if sm["length"] != len(snap_bytes) or sm["hashes"]["sha256"] != hashlib.sha256(snap_bytes).hexdigest():
        fail("timestamp.json: snapshot.json length or sha256 differs")
    snap = json.loads(snap_bytes)
    check(snap, rk, roles["snapshot"], "snapshot.json")
    if snap["signed"]["version"] != sm["version"]:
        fail("timestamp.json names another snapshot version")
    if cs and load(os.path.join(md, f"{sm['version']}.snapshot.json")) != snap:
        fail("N.snapshot.json differs from snapshot.json")
    print("ok timestamp.json, snapshot.json")

    # targets roles, top down: (name, delegator's keys, role entry)
    todo = [("targets", rk, roles["targets"])]
    seen = set()
    while todo:
        name, keys, role = todo.pop(0)
        meta = snap["signed"]["meta"].get(f"{name}.json")
        if meta is None:
            fail(f"snapshot.json does not list {name}.json")
        fname = urllib.parse.quote(name, safe="") + ".json"
        if cs:
            fname = f"{meta['version']}.{fname}"
        doc = load(os.path.join(md, fname))
        if doc["signed"]["version"] != meta["version"] or doc["signed"]["_type"] != "targets":
            fail(f"{fname}: version or _type differs from snapshot.json")
        n = len(check(doc, keys, role, fname))
        seen.add(f"{name}.json")
        for path, info in doc["signed"]["targets"].items():
            check_target(repo, cs, path, info, fname)
        dl = doc["signed"].get("delegations")
        if dl:
            if ("roles" in dl) == ("succinct_roles" in dl):
                fail(f"{fname}: delegations needs exactly one of roles and succinct_roles")
            for r in dl.get("roles", []):
                todo.append((r["name"], dl["keys"], r))
            sr = dl.get("succinct_roles")
            if sr:
                width = len(f"{2 ** sr['bit_length'] - 1:x}")
                for i in range(2 ** sr["bit_length"]):
                    todo.append((f"{sr['name_prefix']}-{i:0{width}x}", dl["keys"], sr))
        print(f"ok {fname} ({n} signatures, {len(doc['signed']['targets'])} targets)")
    extra = set(snap["signed"]["meta"]) - seen
    if extra:
        fail(f"snapshot.json lists roles nobody delegates: {sorted(extra)}")


def check_target(repo, cs, path, info, where):
    d, _, base = path.rpartition("/")
    names = [f"{h}.{base}" for h in info["hashes"].values()] if cs else [base]
    for n in names:
        p = os.path.join(repo, "targets", d, n)
        with open(p, "rb") as f:
            data = f.read()
        if len(data) != info["length"]:
            fail(f"{where}: target {path}: {p} has {len(data)} bytes, not {info['length']}")
        for alg, h in info["hashes"].items():
            if hashlib.new(alg, data).hexdigest() != h:
                fail(f"{where}: target {path}: {alg} of {p} differs")
    if not re.fullmatch(r"[0-9a-f]{64}", info["hashes"]["sha256"]):
        fail(f"{where}: target {path}: sha256 is not lowercase hex")


if __name__ == "__main__":
    main(sys.argv[1])
