"""Every query of the console: its people, login attempts, sessions and access requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, or_, select, update

from gateway.auditlog.models import AuditEvent
from gateway.console.models import (
    ConsoleAccessRequest,
    ConsoleLogin,
    ConsolePerson,
    ConsoleSession,
)

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session


def add_person(session: Session, person: ConsolePerson) -> ConsolePerson:
    session.add(person)
    session.flush()
    return person


def people(session: Session) -> list[ConsolePerson]:
    statement = select(ConsolePerson).order_by(ConsolePerson.auditor_id, ConsolePerson.created_at)
    return list(session.scalars(statement))


def person(session: Session, person_id: str) -> ConsolePerson | None:
    return session.get(ConsolePerson, person_id)


def person_by_subject(session: Session, issuer: str, subject: str) -> ConsolePerson | None:
    statement = select(ConsolePerson).where(
        ConsolePerson.issuer == issuer, ConsolePerson.subject == subject
    )
    return session.scalars(statement).one_or_none()


def remove_person(session: Session, person_id: str) -> bool:
    """Remove the person and end their sessions; False if there was no such person."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.person_id == person_id))
    removed = session.execute(
        delete(ConsolePerson).where(ConsolePerson.id == person_id).returning(ConsolePerson.id)
    ).first()
    return removed is not None


def add_login(session: Session, login: ConsoleLogin) -> None:
    session.add(login)
    session.flush()


def take_login(session: Session, id_hash: str) -> ConsoleLogin | None:
    """The login attempt, deleted as it is read: two callbacks cannot both use it."""
    row = session.execute(
        delete(ConsoleLogin)
        .where(ConsoleLogin.id_hash == id_hash)
        .returning(
            ConsoleLogin.state,
            ConsoleLogin.nonce,
            ConsoleLogin.code_verifier,
            ConsoleLogin.created_at,
            ConsoleLogin.expires_at,
        )
    ).first()
    if row is None:
        return None
    return ConsoleLogin(
        id_hash=id_hash,
        state=row.state,
        nonce=row.nonce,
        code_verifier=row.code_verifier,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def purge_expired(session: Session, now: datetime) -> None:
    """Forget login attempts and sessions past their end."""
    session.execute(delete(ConsoleLogin).where(ConsoleLogin.expires_at < now))
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))


def add_session(session: Session, opened: ConsoleSession) -> None:
    session.add(opened)
    session.flush()


def session_by_hash(session: Session, id_hash: str) -> ConsoleSession | None:
    return session.get(ConsoleSession, id_hash)


def touch(session: Session, id_hash: str, now: datetime) -> None:
    session.execute(
        update(ConsoleSession).where(ConsoleSession.id_hash == id_hash).values(last_seen_at=now)
    )


def set_purpose(session: Session, id_hash: str, purpose: str) -> None:
    session.execute(
        update(ConsoleSession).where(ConsoleSession.id_hash == id_hash).values(purpose=purpose)
    )


def end_session(session: Session, id_hash: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == id_hash))


# -- a person's access reports under dual control -----------------------------------------


def add_access_request(session: Session, asked: ConsoleAccessRequest) -> None:
    session.add(asked)
    session.flush()


def access_request(session: Session, request_id: str) -> ConsoleAccessRequest | None:
    return session.get(ConsoleAccessRequest, request_id)


def own_access_requests(
    session: Session, auditor_id: str, person_id: str, limit: int
) -> list[ConsoleAccessRequest]:
    """The person's latest requests, newest first."""
    statement = (
        select(ConsoleAccessRequest)
        .where(
            ConsoleAccessRequest.auditor_id == auditor_id,
            ConsoleAccessRequest.asked_by == person_id,
        )
        .order_by(ConsoleAccessRequest.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def pending_access_requests(
    session: Session, auditor_id: str, except_asked_by: str, limit: int
) -> list[ConsoleAccessRequest]:
    """The auditor's pending requests others asked, oldest first."""
    statement = (
        select(ConsoleAccessRequest)
        .where(
            ConsoleAccessRequest.auditor_id == auditor_id,
            ConsoleAccessRequest.state == "pending",
            ConsoleAccessRequest.asked_by != except_asked_by,
        )
        .order_by(ConsoleAccessRequest.created_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def decide_access_request(
    session: Session, request_id: str, asked_after: datetime, values: dict[str, Any]
) -> bool:
    """Set ``values`` on the request if still pending and asked after ``asked_after``.

    False if it was decided, or waited too long.
    """
    decided = session.execute(
        update(ConsoleAccessRequest)
        .where(
            ConsoleAccessRequest.id == request_id,
            ConsoleAccessRequest.state == "pending",
            ConsoleAccessRequest.created_at > asked_after,
        )
        .values(**values)
        .returning(ConsoleAccessRequest.id)
        .execution_options(synchronize_session=False)
    ).first()
    return decided is not None


def expire_access_requests(
    session: Session, now: datetime, pending_since: datetime, auditor_id: str | None = None
) -> list[tuple[str, str, str]]:
    """Mark expired the requests whose time is over, their keyed values cleared.

    Pending ones asked before ``pending_since``, approved ones shown until ``now`` or
    before; of one auditor, or of all (the worker). Each request expired: (its id, its
    auditor, what it was: ``pending`` or ``approved``), in id order.
    """
    expiring = or_(
        and_(
            ConsoleAccessRequest.state == "pending",
            ConsoleAccessRequest.created_at <= pending_since,
        ),
        and_(
            ConsoleAccessRequest.state == "approved",
            ConsoleAccessRequest.shown_until <= now,
        ),
    )
    statement = update(ConsoleAccessRequest).where(expiring)
    if auditor_id is not None:
        statement = statement.where(ConsoleAccessRequest.auditor_id == auditor_id)
    expired = session.execute(
        statement.values(state="expired", subject_pseudonyms=[], subject_indexes=[])
        .returning(
            ConsoleAccessRequest.id,
            ConsoleAccessRequest.auditor_id,
            ConsoleAccessRequest.shown_until,
        )
        .execution_options(synchronize_session=False)
    )
    return sorted(
        (request_id, auditor, "pending" if shown_until is None else "approved")
        for request_id, auditor, shown_until in expired
    )


def expired_counts(expired: list[tuple[str, str, str]]) -> dict[str, int]:
    """How many requests ``expire_access_requests`` expired, by what they were."""
    return {kind: sum(1 for *_, was in expired if was == kind) for kind in ("pending", "approved")}


def event(session: Session, event_id: str) -> AuditEvent | None:
    """The stored audit event of ``event_id`` (its visibility is the caller's to check)."""
    return session.scalars(select(AuditEvent).where(AuditEvent.event_id == event_id)).first()
