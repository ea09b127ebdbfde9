#!/usr/bin/env python3
"""Submit an access event to a Huella log, written from docs/format.md alone.

    python3 docs/examples/submit.py --url http://127.0.0.1:8080 \
        --key demo-data/agencies/US-DHS-CBP.key --event docs/examples/event.json

It does what an agency's own system does (docs/format.md):

1. reads the agency's signer key (a C2SP signed-note private key, §6);
2. commits to the four personal values with fresh 32-byte salts (§3);
3. builds the access event (§2) and signs "huella/event/v1\\n" || its RFC 8785 form (§4);
4. posts the submission, event, signature and openings, to POST /v1/entries (§5) and
   prints the receipt the log answers with once the entry is on disk (docs/api.md).

Needs Python 3.9+ and the `cryptography` package (Ed25519). Exit 0 with the receipt on
stdout; 1 if the log refused the event (its JSON error on stderr); 2 for a usage error.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# The personal fields: the event carries a salted commitment to each, never the value.
COMMITTED = ("requesting_user", "record_ref", "subject", "query")


def b64(data: bytes) -> str:
    """Standard, padded base64 (format.md §1)."""
    return base64.b64encode(data).decode("ascii")


def read_key(path: str):
    """Reads "PRIVATE+KEY+<name>+<hexid>+<base64(0x01 || 32-byte seed)>" (format.md §6)."""
    text = open(path, encoding="utf-8").read().strip()
    prefix = "PRIVATE+KEY+"
    if not text.startswith(prefix):
        sys.exit(f"{path}: not a signer key (want {prefix}...)")
    # Names hold no "+" (C2SP signed-note); the base64 key may.
    name, hexid, key = text[len(prefix):].split("+", 2)
    raw = base64.b64decode(key, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        sys.exit(f"{path}: not an Ed25519 signer key")
    return f"{name}+{hexid}", Ed25519PrivateKey.from_private_bytes(raw[1:])


def canonical(value) -> bytes:
    """RFC 8785 for Huella's values (objects with ASCII keys, strings, integers)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def commit(field: str, value: str):
    """A commitment and its opening (format.md §3)."""
    salt = os.urandom(32)
    tag = b"huella/commitment/v1/" + field.encode("ascii") + b"\n"
    commitment = hashlib.sha256(tag + salt + value.encode("utf-8")).digest()
    return b64(commitment), {"salt": b64(salt), "value": value}


def build(plain: dict, key_ref: str, signer) -> dict:
    """The submission for a plain event (the fields of docs/examples/event.json)."""
    event = {k: v for k, v in plain.items() if k not in COMMITTED}
    event["kind"] = "access"
    event["key"] = key_ref
    event.setdefault(
        "accessed_at",
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    openings = {}
    for field in COMMITTED:
        event[field], openings[field] = commit(field, plain[field])
    signature = signer.sign(b"huella/event/v1\n" + canonical(event))
    return {"event": event, "signature": b64(signature), "openings": openings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the log's base URL")
    parser.add_argument("--key", required=True, help="the agency's signer key file")
    parser.add_argument("--event", required=True, help="the plain event, JSON")
    parser.add_argument("--request-id", help="replace the event's request_id")
    args = parser.parse_args()
    with open(args.event, encoding="utf-8") as f:
        plain = json.load(f)
    if args.request_id:
        plain["request_id"] = args.request_id
    key_ref, signer = read_key(args.key)
    body = json.dumps(build(plain, key_ref, signer)).encode("utf-8")
    request = urllib.request.Request(
        args.url.rstrip("/") + "/v1/entries",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            receipt = json.load(response)
    except urllib.error.HTTPError as e:
        print(e.read().decode("utf-8", "replace"), file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"cannot reach {args.url}: {e.reason}", file=sys.stderr)
        return 2
    print(json.dumps(receipt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
