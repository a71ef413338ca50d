"""What an auditor writes for itself, with the standard library, ``rfc8785`` and
``cryptography`` alone (nothing of ``audit/``): an event's leaf recomputed from the events
API's answer, and a checkpoint (C2SP signed note) opened with the gateway's public key.

The inclusion proof is checked with ``tests.support.merkle.reference_root_from_path``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

if TYPE_CHECKING:
    from collections.abc import Mapping

# The fields of an event that its leaf commits to, as docs/audit.md lists them.
LEAF_FIELDS = (
    "event_id",
    "occurred_at",
    "action",
    "outcome",
    "participant_id",
    "participant_kind",
    "acting_for",
    "agent_id",
    "case_reference",
    "purpose",
    "request_id",
    "object_ids",
    "subject_pseudonyms",
    "detail",
)


def leaf_bytes(event: Mapping[str, Any]) -> bytes:
    """The RFC 8785 JSON of the leaf's fields of an event of ``GET /v1/audit/events``."""
    return rfc8785.dumps({name: event[name] for name in LEAF_FIELDS})


def leaf_hash(event: Mapping[str, Any]) -> bytes:
    """SHA-256(0x00 || canonical bytes): the event's leaf in the log (RFC 9162 2.1.1)."""
    return hashlib.sha256(b"\x00" + leaf_bytes(event)).digest()


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    tree_size: int
    root_hash: bytes


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def open_checkpoint(note: str, jwks: Mapping[str, Any]) -> SignedCheckpoint:
    """The checkpoint a signed note carries, if a checkpoint key of ``jwks`` signed it.

    C2SP signed-note: the body (origin, size, base64 root, each ending in a newline), a
    blank line, then lines ``— <name> <base64(key id || signature)>``; the key id is the
    first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key); the signature is
    Ed25519 over the body. AssertionError otherwise.
    """
    body, blank, signatures = note.partition("\n\n")
    assert blank, "no blank line between body and signatures"
    body += "\n"
    origin, size, root, end = body.split("\n")
    assert end == ""
    keys = [
        _b64url(key["x"])
        for key in jwks["keys"]
        if key.get("gateway_use") == "checkpoint" and key.get("crv") == "Ed25519"
    ]
    assert keys, "no checkpoint key in the JWKS"
    for line in signatures.splitlines():
        name, stamp = line.removeprefix("\u2014 ").rsplit(" ", 1)
        raw = base64.b64decode(stamp, validate=True)
        for key in keys:
            if raw[:4] != hashlib.sha256(name.encode() + b"\n\x01" + key).digest()[:4]:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(key).verify(raw[4:], body.encode())
            except InvalidSignature:
                continue
            return SignedCheckpoint(origin, int(size), base64.b64decode(root, validate=True))
    raise AssertionError("no valid signature by a checkpoint key of the JWKS")
