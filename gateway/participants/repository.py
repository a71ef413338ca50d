"""Every query on participants; the visible ones are filtered by the caller here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Select, or_, select

from gateway import tenancy
from gateway.participants.models import Participant, ParticipantKind, ParticipantStatus

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller


def get(session: Session, participant_id: str) -> Participant | None:
    return session.get(Participant, participant_id)


def get_existing(session: Session, participant_id: str) -> Participant:
    """A participant read before (participants are suspended, never deleted)."""
    return session.get_one(Participant, participant_id)


def _visible(caller: Caller) -> Select[Participant]:
    """Select the participants the caller may see (``tenancy.participant_rows``)."""
    return select(Participant).where(tenancy.participant_rows(caller, Participant.id))


def get_visible(session: Session, caller: Caller, participant_id: str) -> Participant | None:
    statement = _visible(caller).where(Participant.id == participant_id)
    return session.scalars(statement).unique().one_or_none()


def list_visible(
    session: Session,
    caller: Caller,
    *,
    kind: ParticipantKind | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[Participant]:
    statement = _visible(caller).order_by(Participant.id).limit(limit)
    if kind is not None:
        statement = statement.where(Participant.kind == kind)
    if after is not None:
        statement = statement.where(Participant.id > after)
    return list(session.scalars(statement).unique())


def funds_covering(
    session: Session, departement: str, regimes: Collection[str]
) -> list[Participant]:
    """Active funds of these regimes whose territory covers the département, or national."""
    statement = (
        select(Participant)
        .where(
            Participant.kind == ParticipantKind.FUND,
            Participant.status == ParticipantStatus.ACTIVE,
            Participant.regime.in_(list(regimes)),
            or_(Participant.national, Participant.id.in_(tenancy.covering([departement]))),
        )
        .order_by(Participant.id)
    )
    return list(session.scalars(statement).unique())


def regimes_without_fund(session: Session, regimes: Collection[str]) -> list[str]:
    """Those of ``regimes`` with no active fund registered."""
    statement = select(Participant.regime).where(
        Participant.kind == ParticipantKind.FUND,
        Participant.status == ParticipantStatus.ACTIVE,
        Participant.regime.in_(list(regimes)),
    )
    present = set(session.scalars(statement.distinct()))
    return sorted(set(regimes) - present)


def active_operators(session: Session) -> list[str]:
    """The ids of the active operators, locked until the transaction ends.

    Locked so that two operators suspending each other at once cannot both succeed and
    leave the gateway without one (SQLite's write lock serialises them anyway).
    """
    statement = (
        select(Participant.id)
        .where(
            Participant.kind == ParticipantKind.OPERATOR,
            Participant.status == ParticipantStatus.ACTIVE,
        )
        .order_by(Participant.id)
        .with_for_update()
    )
    return list(session.scalars(statement))


def list_all(session: Session, kind: ParticipantKind | None = None) -> list[Participant]:
    """For the host's command line only, which is not a tenant."""
    statement = select(Participant).order_by(Participant.id)
    if kind is not None:
        statement = statement.where(Participant.kind == kind)
    return list(session.scalars(statement).unique())
