"""Proofs from stored subtrees equal the in-memory RFC 9162 proofs, for every small tree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit import merkle, tree


def leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(n).encode()).digest()) for n in range(count)]


def stored(hashes: list[bytes], step: int = 1) -> dict[tree.Coordinate, bytes]:
    """The nodes a log stores after appending ``hashes`` ``step`` at a time."""
    nodes: dict[tree.Coordinate, bytes] = {}
    for start in range(0, len(hashes), step):
        frontier = {c: nodes[c] for c in tree.frontier_nodes(start)}
        nodes.update(tree.appended_nodes(start, hashes[start : start + step], frontier))
    return nodes


@pytest.mark.parametrize("step", [1, 3, 8])
def test_every_root_inclusion_and_consistency_proof_matches_the_reference(step: int) -> None:
    hashes = leaves(40)
    nodes = stored(hashes, step)
    for size in range(1, 41):
        assert tree.subtree_hash(0, size, nodes) == merkle.root_of_hashes(hashes[:size])
        for index in range(size):
            ranges = tree.inclusion_ranges(index, size)
            assert tree.hashes_of(ranges, nodes) == merkle.inclusion_proof(hashes[:size], index)
        for old in range(1, size + 1):
            ranges = tree.consistency_ranges(old, size)
            assert tree.hashes_of(ranges, nodes) == merkle.consistency_proof(hashes[:size], old)


def test_a_proof_needs_few_stored_nodes() -> None:
    size = 10_000_000
    needed = tree.needed_nodes(tree.inclusion_ranges(1234567, size))
    assert len(needed) <= 2 * size.bit_length() ** 2
    assert len(tree.frontier_nodes(size)) == (size).bit_count()


@given(st.integers(1, 300), st.integers(1, 17))
def test_appending_in_any_chunks_gives_the_same_tree(size: int, step: int) -> None:
    hashes = leaves(size)
    assert stored(hashes, step) == stored(hashes, 1)
    assert len(stored(hashes, step)) == 2 * size - (size).bit_count()


@pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
def test_impossible_proofs_are_refused(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        tree.inclusion_ranges(index, size)
    with pytest.raises(ValueError, match="no consistency proof"):
        tree.consistency_ranges(size + 1, size)
