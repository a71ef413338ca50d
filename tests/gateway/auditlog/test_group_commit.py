"""Group commit: concurrent requests' events committed together, each durable before its
request goes on; one event's failure is its request's alone (both databases)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from gateway.auditlog.group import GroupCommit
from gateway.auditlog.models import AuditEvent, AuditLogQueue
from gateway.auditlog.writer import AuditDraft

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

REQUESTS = 40


class Poisoned(RuntimeError):
    """The database refused one event."""


def drafts(prefix: str, count: int) -> list[AuditDraft]:
    return [
        AuditDraft(action="participant:read", request_id=f"{prefix}-{number:03d}")
        for number in range(count)
    ]


def stored(sessions: sessionmaker[Session], prefix: str) -> tuple[set[str | None], int]:
    with sessions() as session:
        ids = set(
            session.scalars(
                select(AuditEvent.request_id).where(AuditEvent.request_id.like(f"{prefix}-%"))
            )
        )
        queued = session.scalar(
            select(func.count())
            .select_from(AuditLogQueue)
            .join(AuditEvent, AuditEvent.event_id == AuditLogQueue.event_id)
            .where(AuditEvent.request_id.like(f"{prefix}-%"))
        )
    return ids, int(queued or 0)


def test_concurrent_events_are_committed_together_and_each_is_stored(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = GroupCommit(sessions)
    batches: list[int] = []
    transaction = writer._transaction  # noqa: SLF001

    def counted(given: list[AuditDraft]) -> None:
        batches.append(len(given))
        transaction(given)

    monkeypatch.setattr(writer, "_transaction", counted)
    given = drafts("group", REQUESTS)

    async def requests() -> None:
        await asyncio.gather(*(writer.write(draft) for draft in given))

    asyncio.run(requests())
    ids, queued = stored(sessions, "group")
    assert ids == {draft.request_id for draft in given}
    assert queued == REQUESTS  # each queued for the Merkle log with its event
    assert sum(batches) == REQUESTS
    assert len(batches) < REQUESTS  # some events shared a commit


def written(
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    units: list[list[AuditDraft]],
    poisoned: AuditDraft,
) -> tuple[list[BaseException | None], list[int]]:
    """Each unit written by a request of its own at once, the database refusing any
    transaction holding ``poisoned``: each request's outcome, each transaction's size."""
    writer = GroupCommit(sessions)
    transaction = writer._transaction  # noqa: SLF001
    sizes: list[int] = []

    def refusing(batch: list[AuditDraft]) -> None:
        sizes.append(len(batch))
        if poisoned in batch:
            raise Poisoned
        transaction(batch)

    monkeypatch.setattr(writer, "_transaction", refusing)

    async def requests() -> list[BaseException | None]:
        return await asyncio.gather(
            *(writer.write(*unit) for unit in units), return_exceptions=True
        )

    return asyncio.run(requests()), sizes


def test_one_event_failing_fails_its_request_alone(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    given = drafts("poison", 12)
    poisoned = given[5]
    outcomes, _ = written(sessions, monkeypatch, [[draft] for draft in given], poisoned)
    assert isinstance(outcomes[5], Poisoned)
    assert [outcome for number, outcome in enumerate(outcomes) if number != 5] == [None] * 11
    ids, _ = stored(sessions, "poison")
    assert ids == {draft.request_id for draft in given if draft is not poisoned}


def test_a_requests_events_are_committed_together_or_not_at_all(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's unit (its items' events, then its own) shares its fate: one poisoned
    event fails the whole unit, and every other unit is stored whole."""
    units = [drafts(f"unit{number}", 3) for number in range(6)]
    outcomes, sizes = written(sessions, monkeypatch, units, units[2][1])
    assert isinstance(outcomes[2], Poisoned)
    assert [o for number, o in enumerate(outcomes) if number != 2] == [None] * 5
    assert sizes[0] == 18  # every unit in one shared transaction first
    for number, unit in enumerate(units):
        ids, queued = stored(sessions, f"unit{number}")
        expected = set() if number == 2 else {draft.request_id for draft in unit}
        assert ids == expected
        assert queued == len(expected)
