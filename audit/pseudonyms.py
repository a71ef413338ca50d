"""Keyed pseudonyms of personal identifiers (HMAC-SHA-256 under a secret key).

A plain hash of a NIR or a birth date can be reversed by enumerating the small space of
valid values; a keyed one cannot without the key. The kind is part of the MAC input so
the same digits as an AGDREF number and as a NIR give unrelated pseudonyms.
"""

from __future__ import annotations

import hmac

PSEUDONYM_BYTES = 16
MIN_KEY_BYTES = 32


def pseudonym(key: bytes, kind: str, value: str) -> str:
    """Return ``kind:`` followed by 32 hex digits, stable for (key, kind, value)."""
    if len(key) < MIN_KEY_BYTES:
        msg = f"pseudonym key must be at least {MIN_KEY_BYTES} bytes"
        raise ValueError(msg)
    if not kind or ":" in kind:
        msg = "pseudonym kind must be a non-empty word without ':'"
        raise ValueError(msg)
    mac = hmac.digest(key, kind.encode() + b"\x00" + value.encode(), "sha256")
    return f"{kind}:{mac[:PSEUDONYM_BYTES].hex()}"
