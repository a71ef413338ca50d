"""Checkpoints of the audit log as C2SP signed notes (``tlog-checkpoint``), signed and opened.

Pure: a checkpoint body is the log's origin, its size and its root hash; the note adds one
Ed25519 signature line per signer. ``sign_note`` writes one with the gateway's checkpoint
key; ``open_note`` checks one against public keys and returns what it commits to. The
keys come from the gateway's JWKS (``checkpoint_keys``), where each key's use is named by
the ``gateway_use`` member.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

if TYPE_CHECKING:
    from collections.abc import Mapping

    from joserfc.jwk import OKPKey

KEY_USE_MEMBER = "gateway_use"  # the member of the gateway's JWKS naming each key's use
CHECKPOINT_KEY_USE = "checkpoint"
ED25519_NOTE_ALG = b"\x01"
_CHECKPOINT_LINES = 4  # origin, size, root, and the empty string after the last newline


@dataclass(frozen=True)
class Note:
    """What a verified checkpoint commits to."""

    origin: str
    tree_size: int
    root_hash: bytes


def note_key_id(name: str, public_key: bytes) -> bytes:
    r"""The 4-byte key id of a signed-note Ed25519 key: SHA-256(name || \\n || 0x01 || key)."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_NOTE_ALG + public_key).digest()[:4]


def checkpoint_body(origin: str, size: int, root_hash: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode()}\n"


def sign_note(body: str, name: str, key: OKPKey) -> str:
    """The signed note: the body, a blank line, and one Ed25519 signature line."""
    private = key.private_key
    public = key.public_key.public_bytes_raw()
    signature = private.sign(body.encode())  # type: ignore[union-attr]
    stamp = base64.b64encode(note_key_id(name, public) + signature).decode()
    return f"{body}\n\u2014 {name} {stamp}\n"


def checkpoint_keys(jwks: Mapping[str, Any]) -> list[bytes]:
    """The raw Ed25519 public keys of the JWKS's checkpoint keys."""
    return [
        base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
        for key in jwks.get("keys", [])
        if key.get(KEY_USE_MEMBER, CHECKPOINT_KEY_USE) == CHECKPOINT_KEY_USE
        and key.get("crv") == "Ed25519"
    ]


class NoteError(ValueError):
    """A signed note that does not give a checkpoint; ``reason`` says why, in one word."""

    reason = "malformed"


class MalformedNote(NoteError):
    """Not a signed note of a checkpoint: no signatures, or no origin, size and root."""


class UnknownKey(NoteError):
    """Signed by no key of the given ones: no signature line has one of their key ids."""

    reason = "unknown-key"


class BadSignature(NoteError):
    """A signature line has the key id of a given key, but its signature does not verify."""

    reason = "bad-signature"


def read_note(note: str) -> tuple[Note, str, str]:
    """(what the note claims, unverified; its body; its signature lines); ``MalformedNote``."""
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise MalformedNote("not a signed note: no blank line before the signatures")
    body += "\n"
    lines = body.split("\n")
    if len(lines) < _CHECKPOINT_LINES:
        raise MalformedNote("not a checkpoint: origin, size and root hash expected")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error) as error:
        raise MalformedNote(f"not a checkpoint: {error}") from error
    return Note(lines[0], size, root), body, signatures


def open_note(note: str, keys: list[bytes]) -> Note:
    """The checkpoint a signed note carries, if one of ``keys`` signed it.

    Else a ``NoteError`` (a ``ValueError``): ``MalformedNote``, ``UnknownKey`` (no
    signature by any of ``keys``) or ``BadSignature`` (one by a key of ``keys`` that
    does not verify: the note was altered, or forged).
    """
    claimed, body, signatures = read_note(note)
    known: list[str] = []
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            continue
        name, _, stamp = line[2:].rpartition(" ")
        try:
            raw = base64.b64decode(stamp, validate=True)
        except binascii.Error:
            continue
        for key in keys:
            if raw[:4] != note_key_id(name, key):
                continue
            known.append(name)
            try:
                Ed25519PublicKey.from_public_bytes(key).verify(raw[4:], body.encode())
            except InvalidSignature:
                continue
            return claimed
    if known:
        raise BadSignature(
            f"bad signature: the signature of {known[0]} does not verify (the note was "
            "altered or forged)"
        )
    raise UnknownKey("unknown key: no signature is by a checkpoint key of the JWKS")
