"""RFC 9162 section 2.1.1, word for word: the Merkle Tree Hash of a list of entries.

Slow, and independent of ``audit.merkle``: the definition the module and the fund's
batches are checked against.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_mth(entries: Sequence[bytes]) -> bytes:
    """MTH of ``entries`` (raw entries: the leaves are hashed here)."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = largest_power_of_two_below(n)
    return hashlib.sha256(
        b"\x01" + reference_mth(entries[:k]) + reference_mth(entries[k:])
    ).digest()
