"""Reading the audit trail: a request's events, and what the events may not hold."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from gateway.auditlog.models import AuditEvent

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx2
    from sqlalchemy.orm import Session

PSEUDONYM = re.compile(r"^(agdref|nir):[0-9a-f]{32}$")


def events_of(session: Session, response: httpx2.Response) -> list[AuditEvent]:
    """The audit events of the request ``response`` answers (by its ``X-Request-Id``)."""
    request_id = response.headers["x-request-id"]
    statement = select(AuditEvent).where(AuditEvent.request_id == request_id)
    return list(session.scalars(statement.order_by(AuditEvent.id)))


def event_of(session: Session, response: httpx2.Response) -> AuditEvent:
    """The one audit event of the request ``response`` answers."""
    (event,) = events_of(session, response)
    return event


def _texts(value: Any) -> Iterator[str]:
    """Every string in a column value, JSON documents included (keys too), unescaped."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, (bytes, memoryview)):
        yield bytes(value).decode("utf-8", errors="replace")
    elif value is not None:
        yield str(value)


def audit_text(session: Session) -> str:
    """Every column of every audit event, as one text to search."""
    rows = session.execute(select(AuditEvent.__table__)).mappings()
    return "\n".join(text for row in rows for value in row.values() for text in _texts(value))


def assert_no_clear_identity(session: Session, *secrets: str) -> None:
    """No audit event column holds any of ``secrets`` (names, numbers) in clear."""
    everything = audit_text(session)
    assert everything, "no audit event at all"
    for secret in secrets:
        assert secret not in everything, secret


def assert_pseudonyms(event: AuditEvent, *kinds: str) -> list[str]:
    """The event names people by pseudonym only, one of each of ``kinds``; returns them."""
    assert event.subject_pseudonyms, event.detail
    assert all(PSEUDONYM.fullmatch(p) for p in event.subject_pseudonyms), event.subject_pseudonyms
    assert sorted(p.split(":")[0] for p in event.subject_pseudonyms) == sorted(kinds)
    return list(event.subject_pseudonyms)
