"""Canonical JSON: the fast serialiser writes RFC 8785's bytes, and refuses what it cannot."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit.canonical import NotCanonicalisable, canonical_json
from tests.support.strategies import KEYS, TEXT

# Every value shape a batch holds: text, integers, booleans, null, lists and objects.
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


@given(VALUES)
def test_the_fast_serialiser_writes_rfc_8785_bytes(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [1.5, {"a": [0.1]}, {"é": 1}, {1: "a"}])
def test_values_outside_the_guaranteed_shapes_are_refused(value: Any) -> None:
    with pytest.raises(NotCanonicalisable):
        canonical_json(value)
