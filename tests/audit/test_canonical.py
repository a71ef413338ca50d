"""Canonical JSON: the fast serialiser and the record splicing equal RFC 8785's bytes."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit.canonical import NotCanonicalisable, canonical_json
from gateway.batches.sealing import _payload, _record

# Every value shape a batch holds: text (any Unicode but lone surrogates), integers,
# booleans, null, lists and objects with ASCII keys.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
KEYS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
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


@given(
    record_id=TEXT,
    decision_id=TEXT,
    status=TEXT,
    version=st.integers(1, 10_000),
    correction=st.booleans(),
    kind=TEXT,
    data=st.dictionaries(KEYS, TEXT | st.lists(TEXT, max_size=3), max_size=6),
)
def test_a_spliced_record_is_the_canonical_record(
    record_id: str,
    decision_id: str,
    status: str,
    version: int,
    correction: bool,
    kind: str,
    data: dict[str, Any],
) -> None:
    row = SimpleNamespace(
        id=record_id,
        decision_id=decision_id,
        status=status,
        version=version,
        correction=correction,
        correction_kind=kind or None,
        correction_date=date(2026, 11, 1),
    )
    written = _record(row, canonical_json(data))  # type: ignore[arg-type]
    assert written == rfc8785.dumps(json.loads(written))
    parsed = json.loads(written)
    assert parsed["data"] == data
    assert parsed["record_id"] == record_id
    assert ("correction" in parsed) == (correction and bool(kind))


@given(st.lists(st.dictionaries(KEYS, TEXT, max_size=3), max_size=5))
def test_the_batch_payload_is_the_canonical_whole(records: list[dict[str, str]]) -> None:
    header: dict[str, Any] = {
        "batch_id": "b",
        "created_at": "2026-11-27T00:00:00Z",
        "express": False,
        "fund_id": "f",
        "merkle_root": "00",
        "policy_version": "p@1",
        "previous_digest": None,
        "record_count": len(records),
        "seq": 1,
    }
    written = _payload(header, [canonical_json(r) for r in records])
    assert written == rfc8785.dumps({**header, "records": records})
