"""Appending audit events, inside the caller's transaction.

An event is written with its request or command, and queued for the Merkle log in the
same transaction: committed, it will be logged (``gateway.auditlog.service.sequence``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit.actions import AuditAction, AuditOutcome
from gateway.auditlog import repository
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auditlog.models import AuditEvent


@dataclass
class AuditDraft:
    """What is known of an event while the request or command runs.

    Routes and services fill it in; the transaction owner appends it once the outcome
    is known. Only pseudonyms go into ``subject_pseudonyms``; ``detail`` holds codes and
    counts, never personal data.
    """

    action: str
    request_id: str | None = None
    outcome: AuditOutcome = AuditOutcome.SUCCESS
    participant_id: str | None = None
    participant_kind: str | None = None
    acting_for: str | None = None
    agent_id: str | None = None
    case_reference: str | None = None
    purpose: str | None = None
    object_ids: list[str] = field(default_factory=list)
    subject_pseudonyms: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    # Events of the items the request answered (a status check's, per person), committed
    # with the request's own, before it, all or none.
    joined: list[AuditDraft] = field(default_factory=list)


def as_row(draft: AuditDraft) -> dict[str, Any]:
    """The column values of the event ``draft`` describes (for bulk appends)."""
    return {
        "event_id": new_id(),
        "occurred_at": utcnow(),
        "action": str(draft.action),
        "outcome": str(draft.outcome),
        "participant_id": draft.participant_id,
        "participant_kind": draft.participant_kind,
        "acting_for": draft.acting_for,
        "agent_id": draft.agent_id,
        "case_reference": draft.case_reference,
        "purpose": draft.purpose,
        "request_id": draft.request_id,
        "object_ids": list(draft.object_ids),
        "subject_pseudonyms": list(draft.subject_pseudonyms),
        "detail": dict(draft.detail),
    }


def append(session: Session, draft: AuditDraft) -> AuditEvent:
    """Add the event to the session; it lands when the caller's transaction commits.

    It is queued for the Merkle log in the same transaction: committed, it will be logged.
    """
    return repository.add_event(session, as_row(draft))


def record(
    session: Session,
    action: AuditAction,
    *,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    **fields: Any,
) -> AuditEvent:
    """Shorthand for commands and jobs that know the whole event at once."""
    return append(session, AuditDraft(action=action, outcome=outcome, **fields))


def append_few(session: Session, drafts: list[AuditDraft]) -> None:
    """Append a request's events in the session's transaction, as plain inserts."""
    repository.insert_events(session, [as_row(draft) for draft in drafts])


def append_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append event rows (``as_row`` shaped) and queue them for the log, by COPY on PostgreSQL."""
    repository.copy_events(session, rows)
