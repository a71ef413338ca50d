"""Keyed pseudonyms of personal identifiers (HMAC-SHA-256 under a secret key).

A plain hash of a NIR or a birth date can be reversed by enumerating the small space of
valid values; a keyed one cannot without the key. The kind is part of the MAC input so
the same digits as an AGDREF number and as a NIR give unrelated pseudonyms.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

PSEUDONYM_BYTES = 16
MIN_KEY_BYTES = 32
_BLOCK = 64  # SHA-256's block, in bytes


@lru_cache(maxsize=16)
def _keyed(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA-256's inner and outer hashes once the key is absorbed (RFC 2104).

    Absorbing a key costs two hash blocks, and ``hmac`` pays them at every call; the
    import makes several pseudonyms a line under the same two or three keys, so each
    copies these states instead. A handful of keys: the cache stays this small.
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    return (
        hashlib.sha256(bytes(byte ^ 0x36 for byte in key)),
        hashlib.sha256(bytes(byte ^ 0x5C for byte in key)),
    )


def pseudonym(key: bytes, kind: str, value: str) -> str:
    """Return ``kind:`` followed by 32 hex digits, stable for (key, kind, value)."""
    if len(key) < MIN_KEY_BYTES:
        msg = f"pseudonym key must be at least {MIN_KEY_BYTES} bytes"
        raise ValueError(msg)
    if not kind or ":" in kind:
        msg = "pseudonym kind must be a non-empty word without ':'"
        raise ValueError(msg)
    inner_state, outer_state = _keyed(key)
    inner = inner_state.copy()
    inner.update(kind.encode() + b"\x00" + value.encode())
    outer = outer_state.copy()
    outer.update(inner.digest())
    return f"{kind}:{outer.digest()[:PSEUDONYM_BYTES].hex()}"
