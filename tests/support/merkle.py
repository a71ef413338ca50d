"""RFC 9162 section 2.1, word for word: the Merkle Tree Hash of a list of entries, and
the root an inclusion proof leads to.

Slow, and independent of ``audit.merkle``: the definitions the module, the fund's batches
and an auditor's checks of the log are held to.
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


def reference_root_from_path(
    leaf_hash: bytes, index: int, tree_size: int, path: Sequence[bytes]
) -> bytes | None:
    """The root that PATH(index, D[tree_size]) leads to from ``leaf_hash`` (RFC 9162 2.1.3.1).

    Read straight off the definition: for n > 1 and k the largest power of two below n,
    PATH(m, D[n]) is PATH(m, D[0:k]) followed by MTH(D[k:n]) if m < k, else
    PATH(m - k, D[k:n]) followed by MTH(D[0:k]); PATH(0, D[1]) is empty. None if the
    path has not the length the definition gives.
    """
    if not 0 <= index < tree_size:
        return None
    if tree_size == 1:
        return leaf_hash if not path else None
    if not path:
        return None
    k = largest_power_of_two_below(tree_size)
    *below, sibling = path
    if index < k:
        left = reference_root_from_path(leaf_hash, index, k, below)
        return None if left is None else hashlib.sha256(b"\x01" + left + sibling).digest()
    right = reference_root_from_path(leaf_hash, index - k, tree_size - k, below)
    return None if right is None else hashlib.sha256(b"\x01" + sibling + right).digest()
