"""Envelope encryption of identities: round trips, tampering, rotation, crypto-shredding."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identities.crypto import (
    IdentityCipher,
    IdentityCryptoError,
    Sealed,
    Shredded,
    Tampered,
    UnknownKey,
)
from gateway.identities.service import IdentityKeys, blind_index, blind_indexes

KEK_A = bytes(range(32))
KEK_B = bytes(range(32, 64))
CIPHER = IdentityCipher({"a": KEK_A}, "a")

plaintexts = st.binary(max_size=2048)
associated = st.binary(max_size=64)
FIELDS = ("ciphertext", "nonce", "wrapped_key")


def _with(sealed: Sealed, field: str, value: bytes) -> Sealed:
    """``sealed`` with one of its byte fields replaced."""
    if field == "ciphertext":
        return replace(sealed, ciphertext=value)
    if field == "nonce":
        return replace(sealed, nonce=value)
    return replace(sealed, wrapped_key=value)


def _flip(value: bytes, bit: int) -> bytes:
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# -- round trips -------------------------------------------------------------------------


@given(plaintexts, associated)
def test_round_trip(plaintext: bytes, associated_data: bytes) -> None:
    sealed = CIPHER.encrypt(plaintext, associated_data)
    assert CIPHER.decrypt(sealed, associated_data) == plaintext
    assert sealed.kek_id == "a"
    assert len(sealed.nonce) == 12
    assert sealed.wrapped_key is not None
    assert len(sealed.wrapped_key) == 12 + 32 + 16
    assert len(sealed.ciphertext) == len(plaintext) + 16


@given(plaintexts, associated)
def test_another_cipher_with_the_same_keks_decrypts(
    plaintext: bytes, associated_data: bytes
) -> None:
    sealed = CIPHER.encrypt(plaintext, associated_data)
    other = IdentityCipher({"b": KEK_B, "a": KEK_A}, "b")
    assert other.decrypt(sealed, associated_data) == plaintext


@given(st.binary(min_size=16, max_size=2048), associated)
def test_the_stored_bytes_never_contain_the_plaintext(
    plaintext: bytes, associated_data: bytes
) -> None:
    sealed = CIPHER.encrypt(plaintext, associated_data)
    assert sealed.wrapped_key is not None
    dump = b"|".join([sealed.ciphertext, sealed.nonce, sealed.wrapped_key])
    assert plaintext not in dump
    assert plaintext not in repr(sealed).encode()
    assert KEK_A not in dump


@given(plaintexts, associated)
def test_two_encryptions_of_the_same_plaintext_differ(
    plaintext: bytes, associated_data: bytes
) -> None:
    first = CIPHER.encrypt(plaintext, associated_data)
    second = CIPHER.encrypt(plaintext, associated_data)
    assert first.nonce != second.nonce
    assert first.wrapped_key != second.wrapped_key
    assert first.ciphertext != second.ciphertext


def test_each_record_has_its_own_data_key() -> None:
    first = CIPHER.encrypt(b"same", b"row-1")
    second = CIPHER.encrypt(b"same", b"row-1")
    # The other record's data key under this record's nonce and tag does not open it.
    swapped = replace(first, wrapped_key=second.wrapped_key)
    with pytest.raises(Tampered):
        CIPHER.decrypt(swapped, b"row-1")


# -- tampering ---------------------------------------------------------------------------


@given(plaintexts, associated, associated)
def test_another_associated_data_is_tampered(
    plaintext: bytes, associated_data: bytes, other: bytes
) -> None:
    sealed = CIPHER.encrypt(plaintext, associated_data)
    if other == associated_data:
        other += b"\x00"
    with pytest.raises(Tampered):
        CIPHER.decrypt(sealed, other)


@given(plaintexts, associated, st.sampled_from(FIELDS), st.data())
def test_a_flipped_bit_anywhere_is_tampered(
    plaintext: bytes, associated_data: bytes, field: str, data: st.DataObject
) -> None:
    sealed = CIPHER.encrypt(plaintext, associated_data)
    value = getattr(sealed, field)
    bit = data.draw(st.integers(min_value=0, max_value=len(value) * 8 - 1), label="bit")
    tampered = _with(sealed, field, _flip(value, bit))
    with pytest.raises(Tampered):
        CIPHER.decrypt(tampered, associated_data)
    if field == "wrapped_key":
        with pytest.raises(Tampered):
            CIPHER.rewrap(tampered)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("change", ["truncated", "extended", "empty"])
def test_bytes_of_another_length_are_tampered(field: str, change: str) -> None:
    sealed = CIPHER.encrypt(b"identity", b"row-1")
    value: bytes = getattr(sealed, field)
    changed = {"truncated": value[:-1], "extended": value + b"\x00", "empty": b""}[change]
    with pytest.raises(Tampered):
        CIPHER.decrypt(_with(sealed, field, changed), b"row-1")


def test_a_wrapped_key_passed_off_under_another_kek_id_is_tampered() -> None:
    # Both KEKs the same bytes: only the KEK id bound in the wrap tells them apart.
    cipher = IdentityCipher({"a": KEK_A, "b": KEK_A}, "a")
    sealed = cipher.encrypt(b"identity", b"row-1")
    with pytest.raises(Tampered):
        cipher.decrypt(replace(sealed, kek_id="b"), b"row-1")


# -- shredding ---------------------------------------------------------------------------


@given(plaintexts, associated)
def test_shredded_records_cannot_be_read(plaintext: bytes, associated_data: bytes) -> None:
    sealed = CIPHER.encrypt(plaintext, associated_data)
    shredded = CIPHER.shred(sealed)
    assert shredded.wrapped_key is None
    assert shredded.ciphertext == sealed.ciphertext
    assert shredded.nonce == sealed.nonce
    with pytest.raises(Shredded):
        CIPHER.decrypt(shredded, associated_data)
    with pytest.raises(Shredded):
        CIPHER.rewrap(shredded)


def test_shredding_one_record_leaves_the_others_readable() -> None:
    records = {
        f"row-{n}".encode(): CIPHER.encrypt(b"person %d" % n, f"row-{n}".encode()) for n in range(5)
    }
    records[b"row-2"] = IdentityCipher.shred(records[b"row-2"])
    for row, sealed in records.items():
        if row == b"row-2":
            with pytest.raises(Shredded):
                CIPHER.decrypt(sealed, row)
        else:
            assert CIPHER.decrypt(sealed, row) == b"person " + row[4:]


# -- rotation ----------------------------------------------------------------------------


@given(plaintexts, associated)
def test_rewrap_under_a_new_kek(plaintext: bytes, associated_data: bytes) -> None:
    sealed = CIPHER.encrypt(plaintext, associated_data)
    rotated = IdentityCipher({"a": KEK_A, "b": KEK_B}, "b")
    rewrapped = rotated.rewrap(sealed)
    assert rewrapped.kek_id == "b"
    assert rewrapped.ciphertext == sealed.ciphertext
    assert rewrapped.nonce == sealed.nonce
    assert rewrapped.wrapped_key != sealed.wrapped_key
    assert rotated.decrypt(rewrapped, associated_data) == plaintext
    # Once rewrapped, the old KEK is no longer needed.
    assert IdentityCipher({"b": KEK_B}, "b").decrypt(rewrapped, associated_data) == plaintext
    with pytest.raises(UnknownKey):
        CIPHER.decrypt(rewrapped, associated_data)


def test_rewrap_under_the_active_kek_wraps_afresh() -> None:
    sealed = CIPHER.encrypt(b"identity", b"row-1")
    rewrapped = CIPHER.rewrap(sealed)
    assert rewrapped.kek_id == sealed.kek_id
    assert rewrapped.wrapped_key != sealed.wrapped_key
    assert CIPHER.decrypt(rewrapped, b"row-1") == b"identity"


def test_new_records_are_wrapped_under_the_active_kek() -> None:
    rotated = IdentityCipher({"a": KEK_A, "b": KEK_B}, "b")
    assert rotated.active_kek_id == "b"
    assert rotated.kek_ids == frozenset({"a", "b"})
    assert rotated.encrypt(b"identity", b"row-1").kek_id == "b"


@given(plaintexts, associated)
def test_an_unknown_kek_is_reported(plaintext: bytes, associated_data: bytes) -> None:
    sealed = IdentityCipher({"b": KEK_B}, "b").encrypt(plaintext, associated_data)
    with pytest.raises(UnknownKey, match="'b'"):
        CIPHER.decrypt(sealed, associated_data)
    with pytest.raises(UnknownKey):
        CIPHER.rewrap(sealed)


def test_a_shredded_record_under_an_unknown_kek_is_shredded() -> None:
    sealed = IdentityCipher.shred(IdentityCipher({"b": KEK_B}, "b").encrypt(b"x", b"row-1"))
    with pytest.raises(Shredded):
        CIPHER.decrypt(sealed, b"row-1")


# -- construction and the exception tree -------------------------------------------------


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33, 64])
def test_keks_must_be_32_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="must be 32 bytes"):
        IdentityCipher({"a": KEK_A, "short": os.urandom(size)}, "a")


def test_the_active_kek_must_be_loaded() -> None:
    with pytest.raises(ValueError, match="not loaded"):
        IdentityCipher({"a": KEK_A}, "b")
    with pytest.raises(ValueError, match="not loaded"):
        IdentityCipher({}, "a")


def test_the_cipher_does_not_show_its_keys() -> None:
    assert repr(IdentityCipher({"a": KEK_A, "b": KEK_B}, "b")) == (
        "IdentityCipher(kek_ids=['a', 'b'], active='b')"
    )


def test_the_cipher_keeps_its_own_copy_of_the_keks() -> None:
    keks = {"a": KEK_A}
    cipher = IdentityCipher(keks, "a")
    keks["a"] = KEK_B
    keks["b"] = KEK_B
    assert cipher.kek_ids == frozenset({"a"})
    assert cipher.decrypt(CIPHER.encrypt(b"x", b"row-1"), b"row-1") == b"x"


@pytest.mark.parametrize("error", [Shredded, UnknownKey, Tampered])
def test_every_error_is_an_identity_crypto_error(error: type[Exception]) -> None:
    assert issubclass(error, IdentityCryptoError)
    assert not issubclass(IdentityCryptoError, (ValueError, KeyError))


def test_sealed_is_frozen() -> None:
    sealed = Sealed(b"c", b"n", None, "a")
    with pytest.raises(AttributeError):
        sealed.kek_id = "b"  # type: ignore[misc]


# -- blind indexes -----------------------------------------------------------------------


@given(
    st.binary(min_size=32, max_size=64),
    st.sampled_from(["match", "ssn", "agdref"]),
    st.lists(st.text(max_size=40), max_size=8),
)
def test_blind_indexes_in_bulk_are_each_values_blind_index(
    key: bytes, kind: str, values: list[str]
) -> None:
    """The batched MAC gives each value exactly its own blind index, in order."""
    keys = IdentityKeys(CIPHER, key, bytes(32))
    assert blind_indexes(keys, kind, values) == [blind_index(keys, kind, v) for v in values]
    other = IdentityKeys(CIPHER, bytes(reversed(key)), bytes(32))
    if other.blind_index_key != key:
        assert blind_indexes(other, kind, ["x"]) != blind_indexes(keys, kind, ["x"])


def test_blind_indexes_refuse_a_short_key() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        blind_indexes(IdentityKeys(CIPHER, bytes(16), bytes(32)), "match", ["x"])
