"""Keyed pseudonyms: stable, separated by kind and key, and never showing the value."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from audit.pseudonyms import MIN_KEY_BYTES, pseudonym

# The key store's secrets are exactly 32 random bytes. (HMAC pads shorter keys with zero
# bytes, so keys differing only by trailing zeros would be the same key: not generated.)
keys = st.binary(min_size=MIN_KEY_BYTES, max_size=MIN_KEY_BYTES)
kinds = st.text(min_size=1, max_size=20).filter(lambda kind: ":" not in kind)
values = st.text()
# Identifiers as they come: NIR (13 digits + key), AGDREF numbers, birth dates, names.
identifiers = st.one_of(
    st.from_regex(r"[12][0-9]{12}([0-9]{2})?", fullmatch=True),
    st.from_regex(r"[0-9]{10}", fullmatch=True),
    st.dates().map(lambda day: day.isoformat()),
    st.text(min_size=8),
)
HEX = re.compile(r"[0-9a-f]{32}")


@given(keys, kinds, values)
def test_deterministic(key: bytes, kind: str, value: str) -> None:
    assert pseudonym(key, kind, value) == pseudonym(key, kind, value)


@given(keys, kinds, values)
def test_format_is_kind_then_32_lowercase_hex(key: bytes, kind: str, value: str) -> None:
    result = pseudonym(key, kind, value)
    prefix, _, digest = result.rpartition(":")
    assert prefix == kind
    assert result == f"{kind}:{digest}"
    assert HEX.fullmatch(digest)


@given(keys, kinds, values)
def test_is_a_truncated_hmac_sha256(key: bytes, kind: str, value: str) -> None:
    mac = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    assert pseudonym(key, kind, value) == f"{kind}:{mac[:32]}"


@given(st.binary(min_size=MIN_KEY_BYTES, max_size=200), kinds, values)
def test_any_key_length_is_the_hmac_of_its_rfc(key: bytes, kind: str, value: str) -> None:
    # Keys longer than SHA-256's block are hashed first, shorter ones padded (RFC 2104).
    mac = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    assert pseudonym(key, kind, value) == f"{kind}:{mac[:32]}"


@given(keys, kinds, kinds, values)
def test_different_kinds_give_unrelated_pseudonyms(
    key: bytes, kind: str, other: str, value: str
) -> None:
    assume(kind != other)
    first = pseudonym(key, kind, value).rpartition(":")[2]
    second = pseudonym(key, other, value).rpartition(":")[2]
    assert first != second


@given(keys, keys, kinds, values)
def test_different_keys_give_different_pseudonyms(
    key: bytes, other: bytes, kind: str, value: str
) -> None:
    assume(key != other)
    assert pseudonym(key, kind, value) != pseudonym(other, kind, value)


@given(keys, kinds, values, values)
def test_different_values_give_different_pseudonyms(
    key: bytes, kind: str, value: str, other: str
) -> None:
    assume(value != other)
    assert pseudonym(key, kind, value) != pseudonym(key, kind, other)


@given(keys, st.sampled_from(["nir", "agdref", "birth-date", "name"]), identifiers)
def test_the_value_never_appears(key: bytes, kind: str, value: str) -> None:
    result = pseudonym(key, kind, value)
    assert value not in result


def test_same_digits_as_nir_and_agdref_are_unrelated() -> None:
    key = bytes(range(32))
    digits = "1840775123456"
    assert pseudonym(key, "nir", digits)[4:] != pseudonym(key, "agdref", digits)[7:]


@given(st.binary(max_size=MIN_KEY_BYTES - 1), kinds, values)
def test_short_keys_are_refused(key: bytes, kind: str, value: str) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        pseudonym(key, kind, value)


@given(keys, st.text(), st.text(), values)
def test_kinds_with_a_colon_are_refused(key: bytes, before: str, after: str, value: str) -> None:
    with pytest.raises(ValueError, match="without ':'"):
        pseudonym(key, f"{before}:{after}", value)


def test_empty_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        pseudonym(bytes(32), "", "1840775123456")
