"""Row ids: UUID version 7, ordered by the time they are made, never repeated."""

from __future__ import annotations

import time
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.storage.ids import new_id


def test_ids_are_uuid_version_7_with_the_rfc_variant() -> None:
    parsed = uuid.UUID(new_id())
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_ids_start_with_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    stamp = uuid.UUID(new_id()).int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= stamp <= after


def test_ids_made_later_sort_after() -> None:
    first = new_id()
    time.sleep(0.002)
    assert new_id() > first


@settings(max_examples=20)
@given(st.integers(min_value=100, max_value=2000))
def test_ids_do_not_repeat(count: int) -> None:
    made = [new_id() for _ in range(count)]
    assert len(set(made)) == count
    assert all(len(value) == 36 for value in made)
    # Written as the standard form: lowercase hex, dashes at 8-4-4-4-12.
    assert all(str(uuid.UUID(value)) == value for value in made)
