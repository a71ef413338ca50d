"""RFC 6962 / RFC 9162 Merkle trees: published vectors, the RFC's recursive definitions,
every proof of small trees and what tampering does to them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_of_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.support.merkle import (
    largest_power_of_two_below,
    reference_mth,
    reference_root_from_path,
)

# --- The RFC's definitions, recursively and word for word (RFC 9162 §2.1.3.1, §2.1.4.1;
# §2.1.1's MTH is ``reference_mth``), on raw entries. Slow, and independent of the module
# under test.


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*reference_path(m, entries[:k]), reference_mth(entries[k:])]
    return [*reference_path(m - k, entries[k:]), reference_mth(entries[:k])]


def reference_subproof(m: int, entries: Sequence[bytes], *, whole: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if whole else [reference_mth(entries)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*reference_subproof(m, entries[:k], whole=whole), reference_mth(entries[k:])]
    return [*reference_subproof(m - k, entries[k:], whole=False), reference_mth(entries[:k])]


def reference_proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    return reference_subproof(m, entries, whole=True)


# --- Published vectors: the Certificate Transparency reference test data
# (transparency-dev/merkle, proof/verify_test.go and rfc6962/rfc6962_test.go).

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [  # the root of the first n leaves, n = 1 .. 8
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof); the published table counts leaves from 1.
CT_INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, proof)
CT_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_LEAF_HASHES = [leaf_hash(leaf) for leaf in CT_LEAVES]

# --- Small trees of distinct entries, with every root, proof and tampered variant.

SMALL = 16
ENTRIES = [f"record {i}".encode() for i in range(2 * SMALL)]
HASHES = [leaf_hash(entry) for entry in ENTRIES]
ROOTS = {n: root(ENTRIES[:n]) for n in range(1, 2 * SMALL + 1)}
OTHER_HASH = _sha256(b"not in any tree")
# Bits flipped in hashes: the first and last of each end byte, and some in between.
BITS = [0, 7, 8, 100, 131, 200, 248, 255]
INCLUSION_PROOFS = {
    (index, size): inclusion_proof(HASHES[:size], index)
    for size in range(1, 2 * SMALL + 1)
    for index in range(size)
}
CONSISTENCY_PROOFS = {
    (old, new): consistency_proof(HASHES[:new], old)
    for new in range(1, 2 * SMALL + 1)
    for old in range(1, new + 1)
}


def _hashes(hex_values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in hex_values]


def _flip(value: bytes, bit: int) -> bytes:
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def _tampered_proofs(proof: list[bytes], extra: bytes) -> list[list[bytes]]:
    """Proofs that must not verify where ``proof`` does: every element with a bit
    flipped, one element more, less or repeated, elements of the wrong size."""
    tampered = [
        [*proof[:i], _flip(element, bit), *proof[i + 1 :]]
        for i, element in enumerate(proof)
        for bit in BITS
    ]
    tampered += [[*proof, extra], [extra, *proof], [*proof, OTHER_HASH]]
    if proof:
        tampered += [
            proof[:-1],
            proof[1:],
            [proof[0], *proof],
            [*proof, proof[-1]],
            [*proof[:1], OTHER_HASH, *proof[1:]],
            [*proof[:-1], proof[-1][:31]],
            [*proof[:-1], proof[-1] + b"\x00"],
            [b"", *proof[1:]],
        ]
    if len(proof) > 1:
        tampered.append([proof[1], proof[0], *proof[2:]])
    return tampered


def test_hash_functions_match_the_published_values() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == CT_ROOTS[0]
    assert (
        leaf_hash(b"L123456").hex()
        == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    left, right = leaf_hash(b"left"), leaf_hash(b"right")
    assert node_hash(left, right) == _sha256(b"\x01" + left + right)
    assert node_hash(left, right) != node_hash(right, left)
    assert leaf_hash(left + right) != node_hash(left, right)


def test_the_empty_tree() -> None:
    assert root([]) == EMPTY_ROOT
    assert root_of_hashes([]) == EMPTY_ROOT
    assert root([b""]) != EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_published_vectors(size: int) -> None:
    assert root(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]
    assert root_of_hashes(CT_LEAF_HASHES[:size]).hex() == CT_ROOTS[size - 1]
    assert reference_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION_PROOFS)
def test_inclusion_proofs_match_the_published_vectors(
    index: int, size: int, expected: list[str]
) -> None:
    proof = inclusion_proof(CT_LEAF_HASHES[:size], index)
    assert proof == _hashes(expected)
    tree_root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(CT_LEAF_HASHES[index], index, size, proof, tree_root)


@pytest.mark.parametrize(("old_size", "new_size", "expected"), CT_CONSISTENCY_PROOFS)
def test_consistency_proofs_match_the_published_vectors(
    old_size: int, new_size: int, expected: list[str]
) -> None:
    proof = consistency_proof(CT_LEAF_HASHES[:new_size], old_size)
    assert proof == _hashes(expected)
    old_root = bytes.fromhex(CT_ROOTS[old_size - 1])
    new_root = bytes.fromhex(CT_ROOTS[new_size - 1])
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_root_matches_the_recursive_definition() -> None:
    for size in range(130):
        entries = [bytes([i % 7]) * (i % 11) for i in range(size)]
        assert root(entries) == reference_mth(entries)
        assert root_of_hashes([leaf_hash(entry) for entry in entries]) == reference_mth(entries)


def test_proofs_match_the_recursive_definitions() -> None:
    for size in range(1, 2 * SMALL + 2):
        entries = [f"entry {i}".encode() for i in range(size)]
        hashes = [leaf_hash(entry) for entry in entries]
        for index in range(size):
            assert inclusion_proof(hashes, index) == reference_path(index, entries)
        for old_size in range(1, size + 1):
            assert consistency_proof(hashes, old_size) == reference_proof(old_size, entries)


INCLUSION_CASES = [(index, size) for size in range(1, SMALL + 1) for index in range(size)]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION_PROOFS)
def test_the_reference_path_check_leads_to_the_published_roots(
    index: int, size: int, expected: list[str]
) -> None:
    """The auditors' check of the tests (``reference_root_from_path``) is held to the vectors."""
    path = _hashes(expected)
    assert reference_root_from_path(CT_LEAF_HASHES[index], index, size, path) == bytes.fromhex(
        CT_ROOTS[size - 1]
    )


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_the_reference_path_check_agrees_with_the_verifier_on_tampered_proofs(
    index: int, size: int
) -> None:
    hashes = HASHES[:size]
    tree_root = root_of_hashes(hashes)
    proof = inclusion_proof(hashes, index)
    assert reference_root_from_path(hashes[index], index, size, proof) == tree_root
    for tampered in _tampered_proofs(proof, OTHER_HASH):
        assert reference_root_from_path(hashes[index], index, size, tampered) != tree_root
    for elsewhere in range(size):
        if elsewhere != index:
            assert reference_root_from_path(hashes[index], elsewhere, size, proof) != tree_root


CONSISTENCY_CASES = [(old, new) for new in range(1, SMALL + 1) for old in range(1, new + 1)]


def _verifies_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], tree_root: bytes
) -> bool:
    """Verification, sizes it refuses counting as a failure."""
    try:
        return verify_inclusion(leaf, index, size, proof, tree_root)
    except ValueError:
        return False


def _verifies_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Verification, sizes it refuses counting as a failure."""
    try:
        return verify_consistency(old_size, new_size, old_root, new_root, proof)
    except ValueError:
        return False


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_every_inclusion_proof_verifies_and_no_tampered_one_does(index: int, size: int) -> None:
    leaf, tree_root = HASHES[index], ROOTS[size]
    proof = inclusion_proof(HASHES[:size], index)
    assert verify_inclusion(leaf, index, size, proof, tree_root)

    for tampered in _tampered_proofs(proof, tree_root):
        assert not _verifies_inclusion(leaf, index, size, tampered, tree_root)
    for bit in BITS:
        assert not verify_inclusion(_flip(leaf, bit), index, size, proof, tree_root)
        assert not verify_inclusion(leaf, index, size, proof, _flip(tree_root, bit))
    for other in [*HASHES[:index], *HASHES[index + 1 : size], OTHER_HASH, leaf[:31]]:
        assert not verify_inclusion(other, index, size, proof, tree_root)
    if size > 1:  # an interior node is not a leaf
        assert not verify_inclusion(tree_root, index, size, proof, tree_root)
    for other_root in [EMPTY_ROOT, OTHER_HASH, tree_root + b"\x00", *ROOTS.values()]:
        if other_root != tree_root:
            assert not verify_inclusion(leaf, index, size, proof, other_root)
    for other_index in range(size):
        if other_index != index:
            assert not verify_inclusion(leaf, other_index, size, proof, tree_root)
    # The root binds the size (a tree head gives both), but these must fail anyway.
    assert not _verifies_inclusion(leaf, index, 2 * size, proof, tree_root)
    assert not _verifies_inclusion(leaf, index, size // 2, proof, tree_root)


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES)
def test_an_inclusion_proof_verifies_nowhere_else(index: int, size: int) -> None:
    # At any index of any tree of the same entries, with that tree's root, the proof
    # verifies only where it is the genuine proof of that same leaf.
    proof = INCLUSION_PROOFS[index, size]
    for (other_index, other_size), genuine in INCLUSION_PROOFS.items():
        verified = verify_inclusion(
            HASHES[index], other_index, other_size, proof, ROOTS[other_size]
        )
        assert verified == (other_index == index and genuine == proof)


@pytest.mark.parametrize(("old_size", "new_size"), CONSISTENCY_CASES)
def test_every_consistency_proof_verifies_and_no_tampered_one_does(
    old_size: int, new_size: int
) -> None:
    old_root, new_root = ROOTS[old_size], ROOTS[new_size]
    proof = consistency_proof(HASHES[:new_size], old_size)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)

    for tampered in _tampered_proofs(proof, old_root):
        assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
    bad_roots = [EMPTY_ROOT, OTHER_HASH, *ROOTS.values()]
    for bad in [*(_flip(old_root, bit) for bit in BITS), old_root[:31], *bad_roots]:
        if bad != old_root:
            assert not verify_consistency(old_size, new_size, bad, new_root, proof)
    for bad in [*(_flip(new_root, bit) for bit in BITS), new_root + b"\x00", *bad_roots]:
        if bad != new_root:
            assert not verify_consistency(old_size, new_size, old_root, bad, proof)
    if old_size != new_size:
        assert not verify_consistency(old_size, new_size, new_root, old_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, new_root, [])
    # With the same roots, any other old size fails; for the new size the root is what
    # binds it (a tree head gives both), but these must fail anyway.
    for other_old in range(1, 2 * SMALL + 1):
        if other_old != old_size:
            assert not _verifies_consistency(other_old, new_size, old_root, new_root, proof)
    assert not _verifies_consistency(old_size, 2 * new_size, old_root, new_root, proof)
    assert not _verifies_consistency(old_size, new_size // 2, old_root, new_root, proof)


@pytest.mark.parametrize(("old_size", "new_size"), CONSISTENCY_CASES)
def test_a_consistency_proof_verifies_nowhere_else(old_size: int, new_size: int) -> None:
    # Between any two trees of the same entries, with their roots, the proof verifies
    # only where it is the genuine proof (equal sizes: the empty one).
    proof = CONSISTENCY_PROOFS[old_size, new_size]
    for (other_old, other_new), genuine in CONSISTENCY_PROOFS.items():
        verified = verify_consistency(
            other_old, other_new, ROOTS[other_old], ROOTS[other_new], proof
        )
        assert verified == (genuine == proof)


def test_equal_sizes_need_equal_roots_and_no_proof() -> None:
    assert consistency_proof(HASHES[:5], 5) == []
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[4], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="outside a tree of 0 leaves"):
        inclusion_proof([], 0)
    with pytest.raises(ValueError, match="outside a tree of 3 leaves"):
        inclusion_proof(HASHES[:3], 3)
    with pytest.raises(ValueError, match="leaf index -1"):
        inclusion_proof(HASHES[:3], -1)
    with pytest.raises(ValueError, match="outside a tree of 3 leaves"):
        verify_inclusion(HASHES[0], 3, 3, [], ROOTS[3])
    with pytest.raises(ValueError, match="leaf index -1"):
        verify_inclusion(HASHES[0], -1, 3, [], ROOTS[3])
    with pytest.raises(ValueError, match="tree size -1 is negative"):
        verify_inclusion(HASHES[0], 0, -1, [], ROOTS[3])
    with pytest.raises(ValueError, match="outside a tree of 0 leaves"):
        verify_inclusion(HASHES[0], 0, 0, [], EMPTY_ROOT)

    with pytest.raises(ValueError, match="above the new size 3"):
        consistency_proof(HASHES[:3], 4)
    with pytest.raises(ValueError, match="above the new size 3"):
        verify_consistency(4, 3, ROOTS[4], ROOTS[3], [])
    # RFC 9162 §2.1.4 defines consistency proofs for 0 < m: an empty tree is refused.
    for old_size in (0, -1):
        with pytest.raises(ValueError, match="at least one leaf"):
            consistency_proof(HASHES[:3], old_size)
        with pytest.raises(ValueError, match="at least one leaf"):
            verify_consistency(old_size, 3, EMPTY_ROOT, ROOTS[3], [])
    with pytest.raises(ValueError, match="at least one leaf"):
        verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ValueError, match="at least one leaf"):
        consistency_proof([], 0)


@pytest.mark.parametrize("wrong", [b"", b"\x00" * 31, b"\x00" * 33, b"record 0"])
def test_hashes_of_the_wrong_size_are_refused(wrong: bytes) -> None:
    with pytest.raises(ValueError, match="leaf 1 hash is"):
        root_of_hashes([HASHES[0], wrong])
    with pytest.raises(ValueError, match="leaf 1 hash is"):
        inclusion_proof([HASHES[0], wrong], 0)
    with pytest.raises(ValueError, match="leaf 1 hash is"):
        consistency_proof([HASHES[0], wrong], 1)
    with pytest.raises(ValueError, match="left hash is"):
        node_hash(wrong, HASHES[0])
    with pytest.raises(ValueError, match="right hash is"):
        node_hash(HASHES[0], wrong)
    # Verification says no rather than raising.
    assert not verify_inclusion(wrong, 0, 2, [HASHES[1]], ROOTS[2])
    assert not verify_inclusion(HASHES[0], 0, 2, [HASHES[1]], wrong)
    assert not verify_inclusion(HASHES[0], 0, 2, [wrong], ROOTS[2])
    assert not verify_consistency(1, 2, wrong, ROOTS[2], [HASHES[1]])
    assert not verify_consistency(1, 2, ROOTS[1], wrong, [HASHES[1]])
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [wrong])


def test_a_very_long_proof_is_refused() -> None:
    proof = inclusion_proof(HASHES[:5], 2)
    assert not verify_inclusion(HASHES[2], 2, 5, proof + [OTHER_HASH] * 100_000, ROOTS[5])
    proof = consistency_proof(HASHES[:5], 3)
    assert not verify_consistency(3, 5, ROOTS[3], ROOTS[5], proof + [OTHER_HASH] * 100_000)


def test_a_large_tree() -> None:
    entries = [i.to_bytes(4, "big") * 75 for i in range(5000)]
    hashes = [leaf_hash(entry) for entry in entries]
    tree_root = root(entries)
    assert tree_root == reference_mth(entries)
    for index in (0, 1, 2047, 4095, 4096, 4999):
        proof = inclusion_proof(hashes, index)
        assert verify_inclusion(hashes[index], index, 5000, proof, tree_root)
    for old_size in (1, 2048, 3000, 4096, 4999):
        proof = consistency_proof(hashes, old_size)
        assert verify_consistency(old_size, 5000, root(entries[:old_size]), tree_root, proof)


# --- Properties on random trees.

entry_lists = st.lists(st.binary(max_size=40), max_size=70)
non_empty_entry_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@given(entry_lists)
def test_root_is_the_rfc_merkle_tree_hash(entries: list[bytes]) -> None:
    assert root(entries) == reference_mth(entries)
    assert root_of_hashes([leaf_hash(entry) for entry in entries]) == reference_mth(entries)


@given(non_empty_entry_lists, st.data())
def test_proofs_are_the_rfc_proofs_and_verify(entries: list[bytes], data: st.DataObject) -> None:
    size = len(entries)
    hashes = [leaf_hash(entry) for entry in entries]
    tree_root = root(entries)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(hashes, index)
    assert proof == reference_path(index, entries)
    assert verify_inclusion(hashes[index], index, size, proof, tree_root)

    old_size = data.draw(st.integers(1, size), label="old_size")
    proof = consistency_proof(hashes, old_size)
    assert proof == reference_proof(old_size, entries)
    assert verify_consistency(old_size, size, root(entries[:old_size]), tree_root, proof)


@given(non_empty_entry_lists, st.data())
def test_changing_any_entry_changes_the_root(entries: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(entries) - 1), label="index")
    replacement = data.draw(st.binary(max_size=40), label="replacement")
    assume(replacement != entries[index])
    changed = [*entries[:index], replacement, *entries[index + 1 :]]
    assert root(changed) != root(entries)
    # Nor does the old proof put the new entry in the old tree.
    proof = inclusion_proof([leaf_hash(entry) for entry in entries], index)
    assert not verify_inclusion(leaf_hash(replacement), index, len(entries), proof, root(entries))


@given(non_empty_entry_lists, st.binary(max_size=40))
def test_adding_removing_or_reordering_entries_changes_the_root(
    entries: list[bytes], extra: bytes
) -> None:
    assert root([*entries, extra]) != root(entries)
    assert root(entries[:-1]) != root(entries)
    assume(entries != entries[::-1])
    assert root(entries[::-1]) != root(entries)


@given(non_empty_entry_lists, st.data())
def test_a_proof_verifies_at_another_index_only_for_an_equal_entry(
    entries: list[bytes], data: st.DataObject
) -> None:
    size = len(entries)
    hashes = [leaf_hash(entry) for entry in entries]
    index = data.draw(st.integers(0, size - 1), label="index")
    other = data.draw(st.integers(0, size - 1), label="other")
    proof = inclusion_proof(hashes, index)
    if verify_inclusion(hashes[index], other, size, proof, root(entries)):
        assert entries[other] == entries[index]
