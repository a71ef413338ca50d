"""Every query of the console: its people, login attempts and sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from gateway.console.models import ConsoleLogin, ConsolePerson, ConsoleSession

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
