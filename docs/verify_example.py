#!/usr/bin/env python3
"""Recompute the worked examples of docs/format.md (sections 12 and 15.6) without Huella's code.

Standard library only. It recomputes key ids, commitments, the canonical event bytes, the
leaf bytes and leaf hashes, the hash chain, the Merkle roots and proofs, and parses and
checks the receipt as an offline verifier would. For section 15.6 it recomputes the registry
events' signing bytes and leaves, and replays the log of four entries from the trust root of
section 14.1 as a verifier must (section 15.5): registrars' signatures against the threshold
rule, each change applied in order, each access entry checked against the registry at its
index, and the entries of the revoked key reported. Then it checks that every value it
expects is printed verbatim in docs/format.md. Ed25519 signatures are checked (and the
registrars' recomputed from their seeds) if the `cryptography` package is importable, and
skipped (with a message) otherwise.

Run: python3 docs/verify_example.py
"""

import base64
import datetime
import hashlib
import json
import os
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError:
    Ed25519PublicKey = None

MAX_SAFE_INTEGER = 2**53 - 1
EVENT_PREFIX = b"huella/event/v1\n"
REGISTRY_PREFIX = b"huella/registry/v1\n"
DASH = "\u2014 "  # em dash and space, before every signed-note signature line

# --- Values from docs/format.md, section 12 -------------------------------------------------

AGENCY_VERIFIER = "us-dhs-cbp.example+2e49a808+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
AGENCY_SIGNER = "PRIVATE+KEY+us-dhs-cbp.example+2e49a808+AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
LOG_VERIFIER = "huella.example/log+731bcf3c+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
LOG_SIGNER = "PRIVATE+KEY+huella.example/log+731bcf3c+AQICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC"

# Fields every event of the example shares.
COMMON = {
    "kind": "access",
    "key": "us-dhs-cbp.example+2e49a808",
    "requesting_agency": "US-DHS-CBP",
    "requesting_country": "US",
    "holder_agency": "CO-MIGRACION",
    "holder_country": "CO",
    "category": "biometric_fingerprint",
    "purpose": "border_screening",
    "legal_basis": "US-CO biometric data-sharing LoI (2025), sec. 3",
}

# Per entry: plain fields, openings (salt byte repeated 32 times, value), entry fields, and
# the values Huella printed.
ENTRIES = [
    {
        "event": {
            "request_id": "CBP-2026-000123",
            "accessed_at": "2026-11-23T19:13:00Z",
            "outcome": "hit",
            "records_returned": 1,
        },
        "openings": {
            "subject": (0x11, "CO-CC-1020304050"),
            "requesting_user": (0x22, "officer-4711"),
            "record_ref": (0x33, "RNEC-BIO-000042"),
            "query": (0x44, "fingerprint:right-index:template-7f3a9c"),
        },
        "integrated_at": "2026-11-23T19:13:02.345Z",
        "signature": "WthuokHYceW1L3cnIuj8zovC65lN4e/exX0bx5PTjCassr+5WWCb0rhxt6MgwPbDyY4hqXMKPXNpE9urTUFGBA==",
        "commitments": {
            "subject": "dvzsjQ/ckGcQPJfP1f92NPzi3YnjKBvW1aTVEDTeuuk=",
            "requesting_user": "0tm14qGj51KlczxlakCNVBNNvXLToSu35Rj3OJBLrbc=",
            "record_ref": "QmyOZ4LsWyu5+GVGzHSQb8ZTYxeomDLHiIjmfVuaHaY=",
            "query": "s1xIWNRvSdC+y8C73tlYkeKUVxlv88r1jT2Xzsiwavo=",
        },
        "leaf_hash": "JVXmQ6wTgyK3sJkp0gw+KogspcjUkLWMYz4qZuLknWk=",
    },
    {
        "event": {
            "request_id": "CBP-2026-000124",
            "accessed_at": "2026-11-23T19:20:00Z",
            "outcome": "no_hit",
            "records_returned": 0,
        },
        "openings": {
            "subject": (0x55, "CO-CC-1020304050"),
            "requesting_user": (0x66, "officer-4711"),
            "record_ref": (0x77, "none"),
            "query": (0x88, "fingerprint:left-index:template-04be11"),
        },
        "integrated_at": "2026-11-23T19:20:01.007Z",
        "signature": "Dd6LCGgrjzAt5f0eeYDxqQc0GDgjsTZVw9aJGrql03pXB88MVSNx16GuvpJrh/MxwYmd2aWGPfHoNZZpdas4BQ==",
        "commitments": {
            "subject": "oNCy1CSi0NYNssvdBsUzz3hcG371nJQRUs1srI/MBd0=",
            "requesting_user": "bm0Hn/6zxEzwd6Did8BH/Tvh8c5FVP68EkH1D63Zt2M=",
            "record_ref": "dl2fxP0S/F8RuMz3wgUy5zgKGjQT3C77kq0A2Zn0RGo=",
            "query": "KiIWeXpWbTp9QLfVEiDxCYnMFuFIcUqV0bMJC7hZaI8=",
        },
        "leaf_hash": "NgpLlSA2hwK4tuY1TdyfalPgN127r9+5ub5MCXFCMtg=",
    },
]

ROOT_2 = "Z1uVKZ2GUungj5284DPs58fDC1R0MUGaYuX5wNaijHE="
INCLUSION_1_IN_2 = ["JVXmQ6wTgyK3sJkp0gw+KogspcjUkLWMYz4qZuLknWk="]
CONSISTENCY_1_TO_2 = ["NgpLlSA2hwK4tuY1TdyfalPgN127r9+5ub5MCXFCMtg="]
CHECKPOINT_2 = (
    "huella.example/log\n2\nZ1uVKZ2GUungj5284DPs58fDC1R0MUGaYuX5wNaijHE=\n\n"
    "\u2014 huella.example/log cxvPPAwxwE92IBvmLlQZlDaiXFemXlNAoqJ9vKdFR4CrGBG0HSmRFVLv9pUCt2WcI6fDG5BwrY9xEjlSjq2K5TdxaQs=\n"
)
RECEIPT_0_SIGNATURE = (
    "\u2014 huella.example/log cxvPPCyayLmlT0UDw6/TIQensaXhkcdDp/oSFWTRBVN7vaFJn22dzQvZjUB2DbX3UvW2pI6WvppvET1OE+BQOK3DLwA=\n"
)

# --- Values from docs/format.md, sections 14.1 and 15.6 ---------------------------------

REGISTRAR_CO_VERIFIER = "registrar.co.example+41e2200a+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR"
REGISTRAR_US_VERIFIER = "registrar.us.example+7b7256cb+AcqTrBcFGHBx1nuDx/8O/oEI6OxFMFdddyaHkzPb2r58"
NEW_KEY_VERIFIER = "co-migracion.example+05d40848+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx"
# Seeds, each one byte repeated 32 times, to recompute the signatures.
SEEDS = {"registrar.co.example": 0x03, "registrar.us.example": 0x04, "co-migracion.example": 0x05}

# The registry events of entries 2 and 3, when the log integrated them, who signed them, and
# the values Huella printed.
REGISTRY_ENTRIES = [
    {
        "event": {
            "kind": "key_register",
            "agency": "CO-MIGRACION",
            "country": "CO",
            "role": "submitter",
            "key": NEW_KEY_VERIFIER,
            "valid_from": "2026-11-23T00:00:00Z",
        },
        "signer": "registrar.co.example+41e2200a",
        "integrated_at": "2026-11-23T19:30:00.250Z",
        "signature": "K9fKXIvnrSlBjRrV6Ou3UMN51OL2YaIwB6lBIOIwzpjuuiKxvFizGLfSXwXWDUOIC4ZVwJhQZXAtZ+he2H1ABg==",
        "signing_hash": "c48736a4ac1fa33ed3ea567826d582316c7cdafb4b59421c9819735d123b1ddb",
        "leaf_hash": "NecDxTHTf8ldwbQufqd7FkqIruW5bCbfD1qHdGPxUXg=",
    },
    {
        "event": {
            "kind": "key_revoke",
            "key": AGENCY_VERIFIER,
            "compromised_since": "2026-11-23T19:15:00Z",
            "reason": "signing laptop reported stolen",
        },
        "signer": "registrar.us.example+7b7256cb",
        "integrated_at": "2026-11-23T19:45:00.125Z",
        "signature": "jur2Bp8OZRFv2XKLa2QhUmgrB5QgyEDRPhNAXIGHsewImHgnpogVl+1GJXXhu4VHHVNNSsFGFQVGapRgbcfVAg==",
        "leaf_hash": "AHBYBfooMW8EFj/s2dDgXVVfEURGjGgt4YiD16RLpKE=",
    },
]
ROOT_4 = "lSz+j9+A2afqiOrlgCj63mInfsq3DYepv4fbFKVVeUk="
# Entry 4 the other way the example may go on: a planned retirement of entry 2's key.
RETIRE_4 = {
    "event": {
        "kind": "key_retire",
        "key": NEW_KEY_VERIFIER,
        "valid_until": "2026-12-31T00:00:00Z",
    },
    "signer": "registrar.co.example+41e2200a",
    "integrated_at": "2026-11-23T20:00:00.000Z",
    "signature": "KDGUIdVKYXwj+EghQLKGZ/RlDUZ59lRzb/s136UoH6pkBNjOL0RFkRu8VUwvUndTQ7YzBRLboSwFJceCkfzgDA==",
    "leaf_hash": "3pBRkI6i51EZSnuRdAlcPpetoeweL2p7Yo9PeFTmIO0=",
}
REVOKED_AT_4 = "entry 4: key us-dhs-cbp.example+2e49a808 was revoked at log index 3"
WRONG_REGISTRAR_2 = (
    "entry 2: registry event key_register: key registrar.us.example+7b7256cb is not a registrar of CO"
)
UNKNOWN_KIND_2 = (
    'entry 2: unknown event kind "key_rename": this verifier knows access, key_register, '
    "key_retire, key_revoke, sealed_read, erasure and retention"
)

# --- Primitives ---------------------------------------------------------------------------


def check(ok, why="check failed"):
    """Like assert, but not removed by python -O."""
    if not ok:
        raise SystemExit(f"FAIL: {why}")


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    """Standard base64 with padding; only the canonical encoding is accepted."""
    data = base64.b64decode(text, validate=True)
    if b64(data) != text:
        raise ValueError(f"not canonical base64: {text!r}")
    return data


def sha256(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def jcs(value):
    # RFC 8785 for what Huella's forms hold: ASCII keys, strings, integers below 2^53.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def strict_loads(data):
    """Parse JSON as Huella does: no duplicate keys, no non-integer numbers."""

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)

    def refuse(text):
        raise ValueError(f"not an integer: {text}")

    value = json.loads(
        data.decode("utf-8"),
        object_pairs_hook=no_duplicates,
        parse_float=refuse,
        parse_constant=refuse,
    )
    return value


def record_hash(leaf):
    return sha256(b"\x00", leaf)  # RFC 6962 leaf hash


def node_hash(left, right):
    return sha256(b"\x01", left, right)  # RFC 6962 interior node


def key_id(name, public_key):
    return sha256(name.encode(), b"\n\x01", public_key)[:4]  # C2SP signed-note key id


def parse_verifier_key(text):
    name, hex_id, data = text.split("+", 2)
    raw = unb64(data)
    check(len(raw) == 33 and raw[0] == 0x01, "want 0x01 || 32-byte Ed25519 key")
    check(key_id(name, raw[1:]).hex() == hex_id, f"key id of {name} does not match")
    return name, hex_id, raw[1:]


def commit(field, salt, value):
    return sha256(f"huella/commitment/v1/{field}\n".encode(), salt, value.encode())


def ed25519_verify(public_key, message, signature):
    if Ed25519PublicKey is None:
        return
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        raise SystemExit("FAIL: Ed25519 signature does not verify") from None


def ed25519_ok(public_key, message, signature):
    """Whether the signature verifies; True, unchecked, without the cryptography package."""
    if Ed25519PublicKey is None:
        return True
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def ed25519_sign(seed_byte, message):
    """Sign with the example seed, or return None without the cryptography package."""
    if Ed25519PublicKey is None:
        return None
    return Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32).sign(message)


def instant_ms(text):
    """A Huella timestamp (format.md section 2) as Unix milliseconds."""
    check(len(text) <= 30 and text.endswith("Z") and text[10] == "T", f"bad timestamp {text}")
    whole, _, fraction = text[:-1].partition(".")
    t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    check(fraction == "" or (fraction.isdigit() and len(fraction) <= 9), f"bad fraction in {text}")
    return int(t.timestamp()) * 1000 + int((fraction + "000")[:3])


# --- RFC 9162 proof verification (section 2.1.3.2 and 2.1.4.2) ----------------------------


def verify_inclusion(index, size, leaf, proof, root):
    check(index < size)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        check(sn != 0, "proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    check(sn == 0 and r == root, "inclusion proof does not lead to the root")


def verify_consistency(first, second, first_root, second_root, proof):
    check(0 < first < second and proof)
    if first & (first - 1) == 0:  # a power of two: the old root is the path's first node
        proof = [first_root] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        check(sn != 0, "proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    check(sn == 0 and fr == first_root and sr == second_root, "consistency proof fails")


# --- Signed notes, checkpoints, receipts ---------------------------------------------------


def open_checkpoint(note, log_key):
    """Verify a checkpoint signed by the log key; return (size, root)."""
    name, hex_id, public_key = log_key
    check(all(c == "\n" or c >= " " for c in note), "control character in note")
    split = note.rindex("\n\n")
    text, signatures = note[: split + 1], note[split + 2 :]
    check(signatures.endswith("\n"))
    found = 0
    for line in signatures[:-1].split("\n"):
        check(line.startswith(DASH), "signature line must start with an em dash")
        signer, data = line[len(DASH) :].split(" ", 1)
        raw = unb64(data)
        if signer == name and raw[:4].hex() == hex_id:  # other signers are ignored
            ed25519_verify(public_key, text.encode(), raw[4:])
            found += 1
    check(found == 1, "not signed (exactly once) by the log key")
    lines = text[:-1].split("\n")
    check(lines[0] == name, "origin must be the log key's name")
    size, root = lines[1], unb64(lines[2])
    check(size.isdigit() and (size == "0" or not size.startswith("0")))
    return int(size), root


def verify_receipt(receipt, log_key):
    """Check a Huella receipt offline; return the entry it proves."""
    header, rest = receipt.split("\n", 1)
    check(header == "c2sp.org/tlog-proof@v1")
    line, rest = rest.split("\n", 1)
    check(line.startswith("extra "), "a Huella receipt carries the leaf in 'extra'")
    leaf = unb64(line[len("extra ") :])
    line, rest = rest.split("\n", 1)
    check(line.startswith("index "))
    digits = line[len("index ") :]
    check(digits.isdigit() and (digits == "0" or not digits.startswith("0")), "bad index")
    index = int(digits)
    proof = []
    while True:
        line, rest = rest.split("\n", 1)
        if line == "":
            break
        proof.append(unb64(line))
        check(len(proof[-1]) == 32, "proof lines are 32-byte hashes")
    size, root = open_checkpoint(rest, log_key)
    entry = strict_loads(leaf)
    check(jcs(entry) == leaf, "leaf is not canonical")
    check(entry["index"] == index, "leaf and proof disagree on the index")
    verify_inclusion(index, size, record_hash(leaf), proof, root)
    return entry, leaf


# --- Replaying registry events (format.md section 15.5) ----------------------------------


class Refused(Exception):
    """An entry fails verification; the message names it as Huella's verifier does."""


KNOWN_KINDS = ("access", "key_register", "key_retire", "key_revoke")


def key_ref(verifier_key):
    return verifier_key.rsplit("+", 1)[0]  # name+hexid


class Replay:
    """The registry at the next index: the trust root's, with each registry event applied."""

    def __init__(self, trust):
        self.trust = trust
        self.registrars = {
            c["country"]: (c["registrars"], c.get("threshold", 1)) for c in trust["countries"]
        }
        # Keys that may never be registered: the registrars' and the log's.
        self.reserved = {key_ref(k) for regs, _ in self.registrars.values() for k in regs}
        self.reserved.add(key_ref(trust["log"]["key"]))
        self.keys = {}  # name+hexid -> record
        for s in trust["registry"]["submitters"]:
            self.keys[key_ref(s["key"])] = {
                "key": s["key"], "agency": s["agency"], "country": s["country"],
                "role": "submitter", "valid_from": None, "registered_at": None,
                "retired": None, "revoked": None, "entries": [],
            }
        self.holders = {(h["agency"], h["country"]) for h in trust["registry"]["holders"]}
        self.prev = bytes(32)
        self.size = 0
        self.leaf_hashes = []

    def check_signers(self, country, message, signatures):
        if country not in self.registrars:
            raise Refused(f"country {country} has no registrars in the trust root")
        registrars, threshold = self.registrars[country]
        by_ref = {key_ref(k): k for k in registrars}
        signed = set()
        for s in signatures:
            if s["key"] not in by_ref:
                raise Refused(f"key {s['key']} is not a registrar of {country}")
            public_key = parse_verifier_key(by_ref[s["key"]])[2]
            if not ed25519_ok(public_key, message, unb64(s["signature"])):
                raise Refused(f"the signature of registrar {s['key']} does not verify")
            if s["key"] in signed:
                raise Refused(f"registrar {s['key']} signed twice")
            signed.add(s["key"])
        if len(signed) < threshold:
            raise Refused(
                f"{len(signed)} registrar signature(s) of {country}, but {threshold} are needed"
            )

    def apply(self, entry, index):
        event = entry["event"]
        ref = key_ref(event["key"])
        parse_verifier_key(event["key"])
        record = self.keys.get(ref)
        if event["kind"] == "key_register":
            country = event["country"]
        elif record is None:
            raise Refused(f"key {ref} is not registered")
        else:
            country = record["country"]
        self.check_signers(country, REGISTRY_PREFIX + jcs(event), entry["signatures"])
        if event["kind"] == "key_register":
            if ref in self.reserved:
                raise Refused(f"key {ref} is a registrar's or the log's key; a key has one role")
            if record is not None:
                raise Refused(f"key {ref} is already registered")
            self.keys[ref] = {
                "key": event["key"], "agency": event["agency"], "country": country,
                "role": event["role"], "valid_from": event["valid_from"], "registered_at": index,
                "retired": None, "revoked": None, "entries": [],
            }
        elif event["kind"] == "key_retire":
            if record["revoked"] or record["retired"]:
                raise Refused(f"key {ref} is already revoked or retired")
            start = record["valid_from"]
            if start and instant_ms(event["valid_until"]) < instant_ms(start):
                raise Refused(f"key {ref} cannot be retired before it is valid")
            record["retired"] = (event["valid_until"], index)
        else:
            if record["revoked"]:
                raise Refused(f"key {ref} is already revoked")
            record["revoked"] = (event["compromised_since"], event["reason"], index)

    def may_sign(self, event, integrated_at):
        ref = event["key"]
        record = self.keys.get(ref)
        if record is None:
            raise Refused(f"key {ref} is not registered")
        if record["role"] != "submitter":
            raise Refused(f"key {ref} is registered as {record['role']}, not submitter")
        claimed = (event["requesting_agency"], event["requesting_country"])
        if (record["agency"], record["country"]) != claimed:
            raise Refused(f"key {ref} is registered for {record['agency']} ({record['country']})")
        accessed = instant_ms(event["accessed_at"])
        if record["valid_from"] and accessed < instant_ms(record["valid_from"]):
            raise Refused(f"key {ref} is valid from {record['valid_from']}")
        if record["revoked"]:
            raise Refused(f"key {ref} was revoked at log index {record['revoked'][2]}")
        if record["retired"]:
            until, at = record["retired"]
            if accessed >= instant_ms(until) or instant_ms(integrated_at) >= instant_ms(until):
                raise Refused(f"key {ref} was retired at log index {at}, valid until {until}")
        return record

    def push(self, leaf):
        """Check the next leaf against everything before it; change nothing if it fails."""
        index = self.size
        try:
            entry = strict_loads(leaf)
            check(jcs(entry) == leaf, "leaf is not canonical")
            kind = entry["event"]["kind"]
            if kind not in KNOWN_KINDS:
                raise Refused(
                    f"unknown event kind {json.dumps(kind)}: this verifier knows "
                    + ", ".join(KNOWN_KINDS)
                )
            check(entry["index"] == index and unb64(entry["prev"]) == self.prev, "chain")
            if kind == "access":
                check(set(entry) == {"event", "index", "integrated_at", "prev", "signature"})
                event = entry["event"]
                record = self.may_sign(event, entry["integrated_at"])
                check((event["holder_agency"], event["holder_country"]) in self.holders, "holder")
                ed25519_verify(
                    parse_verifier_key(record["key"])[2],
                    EVENT_PREFIX + jcs(event),
                    unb64(entry["signature"]),
                )
                record["entries"].append((instant_ms(event["accessed_at"]), index))
            else:
                check(set(entry) == {"event", "index", "integrated_at", "prev", "signatures"})
                saved = json.dumps(self.keys)
                try:
                    self.apply(entry, index)
                except Refused as e:
                    self.keys = json.loads(saved)
                    raise Refused(f"registry event {kind}: {e}") from None
        except Refused as e:
            raise Refused(f"entry {index}: {e}") from None
        self.prev = record_hash(leaf)
        self.leaf_hashes.append(self.prev)
        self.size += 1

    def compromised(self):
        """Per revoked key, the entries it signed with accessed_at at or after compromised_since."""
        report = []
        for ref, record in sorted(self.keys.items()):
            if record["revoked"]:
                since, reason, at = record["revoked"]
                exposed = [i for t, i in record["entries"] if t >= instant_ms(since)]
                report.append((ref, since, reason, at, exposed))
        return report


def refused(replay, leaf):
    """The message a leaf that must fail fails with."""
    try:
        replay.push(leaf)
    except Refused as e:
        return str(e)
    raise SystemExit("FAIL: a leaf that must fail verified")


def doc_block_after(doc, heading, fence):
    """The first fenced block after `heading` that opens with `fence`, without its fences."""
    start = doc.index(fence, doc.index(heading)) + len(fence)
    return doc[start : doc.index("\n```", start)]


# --- The example ---------------------------------------------------------------------------


def main():
    doc_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "format.md")
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()
    expected_in_doc = []

    def in_doc(value):
        expected_in_doc.append(value)
        return value

    agency = parse_verifier_key(in_doc(AGENCY_VERIFIER))
    log = parse_verifier_key(in_doc(LOG_VERIFIER))
    in_doc(AGENCY_SIGNER)
    in_doc(LOG_SIGNER)
    for signer, verifier in [(AGENCY_SIGNER, agency), (LOG_SIGNER, log)]:
        check(signer.startswith("PRIVATE+KEY+"))
        name, hex_id, data = signer[len("PRIVATE+KEY+") :].split("+", 2)
        raw = unb64(data)
        check(len(raw) == 33 and raw[0] == 0x01 and (name, hex_id) == verifier[:2])
        if Ed25519PublicKey is not None:
            public = Ed25519PrivateKey.from_private_bytes(raw[1:]).public_key()
            public = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
            check(public == verifier[2], f"seed of {name} does not give its public key")

    prev = bytes(32)  # entry 0 chains to 32 zero bytes
    leaves, leaf_hashes = [], []
    for index, spec in enumerate(ENTRIES):
        event = dict(COMMON, **spec["event"])
        for field, (salt_byte, value) in spec["openings"].items():
            c = b64(commit(field, bytes([salt_byte]) * 32, value))
            check(c == spec["commitments"][field], f"entry {index}: commitment {field}")
            event[field] = in_doc(c)
        check(all(0 <= v <= MAX_SAFE_INTEGER for v in event.values() if isinstance(v, int)))
        signing_bytes = EVENT_PREFIX + jcs(event)
        if index == 0:
            in_doc(jcs(event).decode())
        ed25519_verify(agency[2], signing_bytes, unb64(in_doc(spec["signature"])))

        entry = {
            "index": index,
            "integrated_at": spec["integrated_at"],
            "prev": b64(prev),
            "event": event,
            "signature": spec["signature"],
        }
        leaf = jcs(entry)
        in_doc(leaf.decode())
        leaf_hash = record_hash(leaf)
        check(b64(leaf_hash) == in_doc(spec["leaf_hash"]), f"entry {index}: leaf hash")
        leaves.append(leaf)
        leaf_hashes.append(leaf_hash)
        prev = leaf_hash

    # Size 1: the root is the only leaf hash; the receipt's proof is empty.
    checkpoint_1 = f"huella.example/log\n1\n{ENTRIES[0]['leaf_hash']}\n\n" + RECEIPT_0_SIGNATURE
    receipt_0 = (
        "c2sp.org/tlog-proof@v1\n"
        f"extra {b64(leaves[0])}\n"
        "index 0\n\n" + checkpoint_1
    )
    entry, _ = verify_receipt(in_doc(receipt_0), log)
    check(entry["event"]["request_id"] == "CBP-2026-000123")
    in_doc(checkpoint_1)

    # Size 2: root, inclusion of entry 1, consistency from size 1.
    root_2 = node_hash(leaf_hashes[0], leaf_hashes[1])
    check(b64(root_2) == in_doc(ROOT_2))
    size, root = open_checkpoint(in_doc(CHECKPOINT_2), log)
    check((size, root) == (2, root_2))
    verify_inclusion(1, 2, leaf_hashes[1], [unb64(h) for h in INCLUSION_1_IN_2], root_2)
    verify_consistency(1, 2, leaf_hashes[0], root_2, [unb64(h) for h in CONSISTENCY_1_TO_2])
    in_doc(INCLUSION_1_IN_2[0])

    # Section 15.6: registry events, replayed from the trust root of section 14.1.
    trust_text = in_doc(doc_block_after(doc, "### 14.1 Example", "```json\n"))
    trust = strict_loads(trust_text.encode())
    check(trust["log"]["key"] == LOG_VERIFIER, "trust root names another log key")
    for verifier in (REGISTRAR_CO_VERIFIER, REGISTRAR_US_VERIFIER, NEW_KEY_VERIFIER):
        name, _, public_key = parse_verifier_key(in_doc(verifier))
        if Ed25519PublicKey is not None:
            public = Ed25519PrivateKey.from_private_bytes(bytes([SEEDS[name]]) * 32).public_key()
            public = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
            check(public == public_key, f"seed of {name}")
    check(trust["countries"][0]["registrars"] == [REGISTRAR_CO_VERIFIER])
    check(trust["countries"][1]["registrars"] == [REGISTRAR_US_VERIFIER])
    def registry_leaf(index, spec, prev):
        """The leaf of registry event `spec` at `index` after `prev`, each value checked."""
        event = spec["event"]
        signing_bytes = REGISTRY_PREFIX + jcs(event)
        check(len(REGISTRY_PREFIX) == 19)
        in_doc(signing_bytes.decode())
        if "signing_hash" in spec:
            check(hashlib.sha256(signing_bytes).hexdigest() == in_doc(spec["signing_hash"]))
        name = spec["signer"].split("+")[0]
        signature = ed25519_sign(SEEDS[name], signing_bytes)
        if signature is not None:
            check(b64(signature) == spec["signature"], f"entry {index}: registrar signature")
        in_doc(spec["signature"])
        entry = {
            "event": event,
            "index": index,
            "integrated_at": spec["integrated_at"],
            "prev": b64(prev),
            "signatures": [{"key": spec["signer"], "signature": spec["signature"]}],
        }
        leaf = jcs(entry)
        in_doc(leaf.decode())
        leaf_hash = record_hash(leaf)
        check(b64(leaf_hash) == in_doc(spec["leaf_hash"]), f"entry {index}: leaf hash")
        return leaf, leaf_hash

    for index, spec in enumerate(REGISTRY_ENTRIES, start=2):
        leaf, leaf_hash = registry_leaf(index, spec, prev)
        leaves.append(leaf)
        leaf_hashes.append(leaf_hash)
        prev = leaf_hash
    root_4 = node_hash(
        node_hash(leaf_hashes[0], leaf_hashes[1]), node_hash(leaf_hashes[2], leaf_hashes[3])
    )
    check(b64(root_4) == in_doc(ROOT_4), "root of size 4")

    replay = Replay(trust)
    for leaf in leaves:
        replay.push(leaf)
    check(replay.leaf_hashes == leaf_hashes)
    revoked = ("us-dhs-cbp.example+2e49a808", "2026-11-23T19:15:00Z")
    revoked += ("signing laptop reported stolen", 3, [1])  # revoked at 3; entry 1 exposed
    check(replay.compromised() == [revoked], "the revoked key's exposed entries")
    # Entry 4 as a retirement of entry 2's key: the key is retired at 4, until valid_until.
    retire_leaf, _ = registry_leaf(4, RETIRE_4, prev)
    retired = Replay(trust)
    for leaf in leaves + [retire_leaf]:
        retired.push(leaf)
    record = retired.keys[key_ref(NEW_KEY_VERIFIER)]
    check(record["retired"] == ("2026-12-31T00:00:00Z", 4), "entry 4, the retirement")
    # Entry 4: another access signed with the revoked key.
    event_4 = dict(
        COMMON,
        request_id="CBP-2026-000125",
        accessed_at="2026-11-23T19:50:00Z",
        outcome="no_hit",
        records_returned=0,
    )
    for field, salt_byte, value in [
        ("subject", 0x99, "CO-CC-1020304050"),
        ("requesting_user", 0xAA, "officer-4711"),
        ("record_ref", 0xBB, "none"),
        ("query", 0xCC, "fingerprint"),
    ]:
        event_4[field] = b64(commit(field, bytes([salt_byte]) * 32, value))
    signature_4 = ed25519_sign(0x01, EVENT_PREFIX + jcs(event_4)) or bytes(64)
    entry_4 = {"event": event_4, "index": 4, "integrated_at": "2026-11-23T19:50:01.000Z"}
    leaf_4 = jcs(dict(entry_4, prev=b64(prev), signature=b64(signature_4)))
    check(refused(replay, leaf_4) == in_doc(REVOKED_AT_4), "entry 4 after the revocation")
    # Entry 2 signed by the other country's registrar; then with a kind nobody knows.
    replay = Replay(trust)
    replay.push(leaves[0])
    replay.push(leaves[1])
    wrong = strict_loads(leaves[2])
    wrong["signatures"][0]["key"] = "registrar.us.example+7b7256cb"
    us_signature = ed25519_sign(SEEDS["registrar.us.example"], REGISTRY_PREFIX + jcs(wrong["event"]))
    if us_signature is not None:  # signed by the United States' registrar, validly
        wrong["signatures"][0]["signature"] = b64(us_signature)
    check(refused(replay, jcs(wrong)) == in_doc(WRONG_REGISTRAR_2), "entry 2, wrong registrar")
    if Ed25519PublicKey is not None:
        forged = strict_loads(leaves[2])
        raw = bytearray(unb64(forged["signatures"][0]["signature"]))
        raw[0] ^= 1
        forged["signatures"][0]["signature"] = b64(bytes(raw))
        why = "the signature of registrar registrar.co.example+41e2200a does not verify"
        check(refused(replay, jcs(forged)).endswith(why), "a registrar signature, a bit flipped")
    renamed = leaves[2].replace(b"key_register", b"key_rename")
    # This example knows fewer kinds than Huella's verifier (not the sealed half's, §16): the
    # refusal names the index and the kind the same way; the list of kinds it knows differs.
    said = refused(replay, renamed)
    head = 'entry 2: unknown event kind "key_rename": this verifier knows '
    check(said.startswith(head) and in_doc(UNKNOWN_KIND_2).startswith(head), "entry 2 of an unknown kind")
    replay.push(leaves[2])  # the refusals changed nothing

    missing = [v for v in expected_in_doc if v not in doc]
    for v in missing:
        print(f"NOT IN docs/format.md: {v[:80]}...", file=sys.stderr)
    if missing:
        sys.exit(1)
    print("worked example: key ids, commitments, canonical event, leaves, leaf hashes,")
    print("hash chain, roots, inclusion and consistency proofs, receipt: all match")
    print("registry events: signing bytes, leaves, root of size 4, replay from the trust root")
    print("(a registration, a revocation and a retirement)")
    print("(threshold rule, key validity, the revoked key's exposed entry 1, refusals): all match")
    if Ed25519PublicKey is None:
        print("Ed25519 signatures: SKIPPED (install the 'cryptography' package to check them)")
    else:
        print("Ed25519 signatures (events, registry events, checkpoints) and key seeds: all verify")


if __name__ == "__main__":
    main()
