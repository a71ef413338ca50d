"""RFC 9162 proofs from stored subtree hashes, for a log too large to hold in memory.

The log stores the hash of every complete subtree: node ``(level, index)`` covers the
leaves ``[index * 2**level, (index + 1) * 2**level)``. Any Merkle Tree Hash of a range
the RFC's recursion meets (it splits at the largest power of two below the size, so
every left part is complete and aligned) is a combination of O(log n) stored nodes.
These functions say which nodes a proof needs (one query fetches them all) and then
compute it; ``audit.merkle`` verifies what they produce.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from audit.merkle import HASH_SIZE, node_hash

if TYPE_CHECKING:
    from collections.abc import Mapping

Coordinate = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def subtree_nodes(start: int, end: int) -> list[Coordinate]:
    """The complete subtrees whose combination is the hash of leaves [start, end)."""
    size = end - start
    if size <= 0:
        raise ValueError("an empty range has no subtree")
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return [(level, start >> level)]
    k = _split(size)
    return subtree_nodes(start, start + k) + subtree_nodes(start + k, end)


def subtree_hash(start: int, end: int, nodes: Mapping[Coordinate, bytes]) -> bytes:
    """MTH(D[start:end]) from stored complete subtrees."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return nodes[(level, start >> level)]
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, nodes), subtree_hash(start + k, end, nodes))


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 PATH(index, D[size]) as the ranges whose hashes form it, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    found: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start += k
    return list(reversed(found))


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """RFC 9162 PROOF(old_size, D[new_size]) as ranges, in proof order."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    found: list[Range] = []
    m, start, end, complete = old_size, 0, new_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            m -= k
            start += k
            complete = False
    if not complete:
        found.append((start, end))
    return list(reversed(found))


def needed_nodes(ranges: list[Range]) -> set[Coordinate]:
    return {coordinate for start, end in ranges for coordinate in subtree_nodes(start, end)}


def hashes_of(ranges: list[Range], nodes: Mapping[Coordinate, bytes]) -> list[bytes]:
    return [subtree_hash(start, end, nodes) for start, end in ranges]


def appended_nodes(
    size: int, leaf_hashes: list[bytes], frontier: Mapping[Coordinate, bytes]
) -> dict[Coordinate, bytes]:
    """Every complete subtree that appending ``leaf_hashes`` to a log of ``size`` completes.

    ``frontier`` holds the roots of the log's complete subtrees along its right edge
    (``frontier_nodes(size)``): the only existing nodes the new ones combine with.
    """
    for value in (*leaf_hashes, *frontier.values()):
        if len(value) != HASH_SIZE:
            raise ValueError(f"a hash is {len(value)} bytes, not {HASH_SIZE}")
    known = dict(frontier)
    made: dict[Coordinate, bytes] = {}
    sha256 = hashlib.sha256  # node_hash without its checks: every input was checked above
    for offset, leaf in enumerate(leaf_hashes):
        index = size + offset
        level, current = 0, leaf
        made[(0, index)] = current
        known[(0, index)] = current
        while index & 1:
            current = sha256(b"\x01" + known[(level, index - 1)] + current).digest()
            level, index = level + 1, index >> 1
            made[(level, index)] = current
            known[(level, index)] = current
    return made


def frontier_nodes(size: int) -> list[Coordinate]:
    """The complete subtrees along the right edge of a log of ``size`` leaves."""
    found = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            found.append((level, start >> level))
            start += 1 << level
    return found


def root_nodes(size: int) -> list[Coordinate]:
    """The nodes the root of a log of ``size`` leaves is computed from."""
    return subtree_nodes(0, size) if size else []
