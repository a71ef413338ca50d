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


def test_one_event_failing_fails_its_request_alone(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = GroupCommit(sessions)
    transaction = writer._transaction  # noqa: SLF001
    given = drafts("poison", 12)
    poisoned = given[5]

    def refusing(batch: list[AuditDraft]) -> None:
        if poisoned in batch:
            raise Poisoned
        transaction(batch)

    monkeypatch.setattr(writer, "_transaction", refusing)

    async def requests() -> list[BaseException | None]:
        return await asyncio.gather(
            *(writer.write(draft) for draft in given), return_exceptions=True
        )

    outcomes = asyncio.run(requests())
    assert isinstance(outcomes[5], Poisoned)
    assert [outcome for number, outcome in enumerate(outcomes) if number != 5] == [None] * 11
    ids, _ = stored(sessions, "poison")
    assert ids == {draft.request_id for draft in given if draft is not poisoned}
