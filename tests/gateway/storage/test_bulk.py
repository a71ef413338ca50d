"""Rows appended in bulk (COPY on PostgreSQL) read back as they were given, JSON values
included, whichever serialiser wrote them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.auditlog.models import AuditEvent
from gateway.storage.base import utcnow
from gateway.storage.bulk import insert_rows
from gateway.storage.ids import new_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# What the hot paths' JSON columns hold: ids, pseudonyms, codes and counts, nested.
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.dictionaries(texts, values, max_size=4), min_size=1, max_size=5),
    st.lists(texts, max_size=3),
)
def test_json_values_read_back_as_given(
    session: Session, details: list[dict[str, Any]], objects: list[str]
) -> None:
    rows = [
        {
            "event_id": new_id(),
            "occurred_at": utcnow(),
            "action": "test:bulk",
            "outcome": "success",
            "object_ids": objects,
            "subject_pseudonyms": [],
            "detail": detail,
        }
        for detail in details
    ]
    insert_rows(session, AuditEvent, rows)
    stored = session.execute(
        select(AuditEvent.event_id, AuditEvent.object_ids, AuditEvent.detail).where(
            AuditEvent.event_id.in_([row["event_id"] for row in rows])
        )
    ).all()
    assert {event_id: (objects_, detail) for event_id, objects_, detail in stored} == {
        row["event_id"]: (row["object_ids"], row["detail"]) for row in rows
    }


class _Scratch(DeclarativeBase):
    pass


class _OneColumn(_Scratch):
    """A table of a single column, made and dropped with the test's transaction."""

    __tablename__ = "bulk_one_column"

    value: Mapped[str] = mapped_column(String(64), primary_key=True)


def test_rows_of_a_single_column_are_written_whole(session: Session) -> None:
    _Scratch.metadata.create_all(session.connection())
    insert_rows(session, _OneColumn, [{"value": "abc"}, {"value": "d"}])
    assert sorted(session.scalars(select(_OneColumn.value))) == ["abc", "d"]
