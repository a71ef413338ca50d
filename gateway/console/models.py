"""The console's tables: who may log in, the login attempts in flight, the open sessions.

A person is named by their OpenID provider (``issuer``) and the provider's identifier for
them (``subject``): the operator maps each to an auditor participant, whose territory is
theirs, with a role. Nothing else about the person (no name, no e-mail) is stored.
Login attempts and sessions are keyed by the SHA-256 of a random cookie value: the
database never holds what a browser presents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow


class ConsolePerson(Base):
    """One person allowed into the console, as an auditor participant, with a role."""

    __tablename__ = "console_people"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255))
    auditor_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleLogin(Base):
    """One login attempt at the provider: its state, nonce and PKCE verifier, used once."""

    __tablename__ = "console_logins"
    __table_args__ = (Index("ix_console_logins_expires_at", "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class ConsoleSession(Base):
    """One open session: its person, CSRF token, stated purpose and clocks."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires_at", "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("console_people.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class ConsoleAccessRequest(Base):
    """One person's access report (GDPR art. 15) asked for under dual control.

    The person is kept only as the keyed values ``subject_of`` computes from their number
    (the audit's pseudonyms and the identities' blind indexes), never the number itself;
    both are cleared once the request is refused or its report's time is over. The asker
    and the approver are people's mapping ids; the territory is the auditor's.
    """

    __tablename__ = "console_access_requests"
    __table_args__ = (Index("ix_console_access_requests_auditor_state", "auditor_id", "state"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    auditor_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    asked_by: Mapped[str] = mapped_column(String(36), index=True)
    subject_pseudonyms: Mapped[list[Any]] = mapped_column(default=list)
    subject_indexes: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column()
    shown_until: Mapped[datetime | None] = mapped_column()
