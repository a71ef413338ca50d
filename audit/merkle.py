"""Merkle tree hashing with SHA-256, as in RFC 6962 §2.1 and RFC 9162 §2.1.

- ``leaf_hash``, ``node_hash``, ``EMPTY_ROOT``, ``root``, ``root_of_hashes``: the Merkle
  Tree Hash (RFC 9162 §2.1.1).
- ``inclusion_proof``, ``verify_inclusion``: PATH (§2.1.3.1) and its verification
  algorithm (§2.1.3.2).
- ``consistency_proof``, ``verify_consistency``: PROOF/SUBPROOF (§2.1.4.1) and its
  verification algorithm (§2.1.4.2).

Trees are computed level by level, an odd last node being carried up unchanged; this
gives the RFC's tree, which splits at the largest power of two smaller than its size.

Consistency proofs need ``0 < old_size <= new_size``. RFC 9162 defines them for
``0 < m < n``; equal sizes get the empty proof (``SUBPROOF(m, D[m], true)``) and verify
when the two roots are equal. An empty old tree is refused with ``ValueError``: it is a
prefix of every tree, so there is nothing to prove, and a True would say nothing about
the new root.

Errors: arguments that cannot describe a tree (negative sizes, an index outside the
tree, an old size above the new one) and leaf hashes that are not 32 bytes raise
``ValueError``. The verification functions return False for any hash or proof of the
wrong shape (wrong element size, too many or too few elements) and never raise for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one entry."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    _check_hash(left, "left")
    _check_hash(right, "right")
    return _node(left, right)


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of the raw entries ``leaves`` (``EMPTY_ROOT`` if none)."""
    return _root([leaf_hash(leaf) for leaf in leaves])


def root_of_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a tree given by its leaf hashes (``EMPTY_ROOT`` if none)."""
    _check_leaf_hashes(leaf_hashes)
    return _root(leaf_hashes)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]): the hashes proving that leaf ``index`` is in the tree.

    The tree is the one of ``leaf_hashes`` (n = their number); the proof goes from the
    leaf's sibling up to the child of the root.
    """
    _check_leaf_hashes(leaf_hashes)
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    levels = _levels(leaf_hashes)
    proof: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, noting the sibling of the subtree holding the leaf;
    # the proof lists them from the bottom up.
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            proof.append(_subtree(levels, middle, end))
            end = middle
        else:
            proof.append(_subtree(levels, start, middle))
            start = middle
    proof.reverse()
    return proof


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]): the hashes proving an old tree is a prefix of this one.

    The old tree is the first ``old_size`` of ``leaf_hashes``; the new one all n of
    them. The proof is empty when ``old_size`` is n; ``old_size`` 0 is refused (see
    the module docstring).
    """
    _check_leaf_hashes(leaf_hashes)
    size = len(leaf_hashes)
    _check_consistency_sizes(old_size, size)
    levels = _levels(leaf_hashes)
    proof: list[bytes] = []
    start, end = 0, size
    # SUBPROOF(m, D[start:end], whole): ``whole`` says whether D[start:old_size] is
    # the whole old tree, whose root the verifier already has.
    whole = True
    while end != old_size:
        middle = start + _split(end - start)
        if old_size <= middle:
            proof.append(_subtree(levels, middle, end))
            end = middle
        else:
            proof.append(_subtree(levels, start, middle))
            start = middle
            whole = False
    if not whole:
        proof.append(_subtree(levels, start, end))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` puts ``leaf_hash`` at ``index`` in a tree (RFC 9162 §2.1.3.2).

    The tree has ``tree_size`` leaves and the root ``root``. Raises ``ValueError`` if
    ``index`` is not in ``0 .. tree_size - 1``.
    """
    if tree_size < 0:
        raise ValueError(f"tree size {tree_size} is negative")
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of {tree_size} leaves")
    if not _well_formed(leaf_hash, root, proof):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows an old tree is a prefix of a new one (RFC 9162 §2.1.4.2).

    The old tree has ``old_size`` leaves and the root ``old_root``, the new one
    ``new_size`` leaves and ``new_root``. Raises ``ValueError`` unless
    ``0 < old_size <= new_size``.
    """
    _check_consistency_sizes(old_size, new_size)
    if not _well_formed(old_root, new_root, proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _root(leaf_hashes: Sequence[bytes]) -> bytes:
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _next_level(level: list[bytes]) -> list[bytes]:
    # Pairs are hashed together; an odd last node goes up as it is.
    parents = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, root last."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        levels.append(_next_level(levels[-1]))
    return levels


def _subtree(levels: list[list[bytes]], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a subtree of the RFC's tree.

    Such a subtree starts at a multiple of 2**h, where h is the least with
    end - start <= 2**h, and is either complete or the tree's right edge: it is node
    ``start >> h`` of level h, carried up odd nodes included.
    """
    height = (end - start - 1).bit_length()
    return levels[height][start >> height]


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def _check_hash(value: bytes, name: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{name} hash is {len(value)} bytes, not {HASH_SIZE}")


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    for position, value in enumerate(leaf_hashes):
        _check_hash(value, f"leaf {position}")


def _check_consistency_sizes(old_size: int, new_size: int) -> None:
    if old_size <= 0:
        raise ValueError(
            f"old tree size {old_size}: consistency proofs need an old tree of at least"
            " one leaf (an empty tree is a prefix of every tree)"
        )
    if old_size > new_size:
        raise ValueError(f"old tree size {old_size} is above the new size {new_size}")


def _well_formed(first: bytes, second: bytes, proof: Sequence[bytes]) -> bool:
    return (
        len(first) == HASH_SIZE
        and len(second) == HASH_SIZE
        and all(len(p) == HASH_SIZE for p in proof)
    )
