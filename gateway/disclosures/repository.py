"""Queries on disclosures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.participants.models import Participant
from gateway.storage.base import utcnow
from gateway.storage.bulk import insert_rows

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy.orm import Session

# The fund has the record: it was sealed into a batch (whatever happened since).
RECEIVED_STATES = (
    DisclosureState.SEALED,
    DisclosureState.DELIVERED,
    DisclosureState.ACKNOWLEDGED,
    DisclosureState.REJECTED,
)


def of_decision(session: Session, decision_id: str) -> list[Disclosure]:
    statement = (
        select(Disclosure)
        .where(Disclosure.decision_id == decision_id)
        .order_by(Disclosure.version, Disclosure.fund_id)
    )
    return list(session.scalars(statement))


def cancel_unsealed(session: Session, decision_id: str, *, before_version: int) -> list[str]:
    """Cancel the earlier versions' records not yet sealed; the funds they were owed to.

    A record being sealed at this very moment is locked by the sealing transaction: this
    waits for it, then finds it sealed and leaves it (the fund gets a rectification).
    """
    statement = (
        update(Disclosure)
        .where(
            Disclosure.decision_id == decision_id,
            Disclosure.version < before_version,
            Disclosure.state == DisclosureState.PENDING,
        )
        .values(state=DisclosureState.CANCELLED, updated_at=utcnow())
        .returning(Disclosure.fund_id)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(statement))


def received(session: Session, decision_id: str, *, before_version: int) -> list[tuple[str, str]]:
    """(fund id, regime) of every fund an earlier version was sealed for."""
    statement = (
        select(Participant.id, Participant.regime)
        .join(Disclosure, Disclosure.fund_id == Participant.id)
        .where(
            Disclosure.decision_id == decision_id,
            Disclosure.version < before_version,
            Disclosure.state.in_(RECEIVED_STATES),
        )
        .distinct()
        .order_by(Participant.id)
    )
    return [(fund_id, regime or "") for fund_id, regime in session.execute(statement)]


def regimes_of(session: Session, fund_ids: Collection[str]) -> list[tuple[str, str]]:
    if not fund_ids:
        return []
    statement = (
        select(Participant.id, Participant.regime)
        .where(Participant.id.in_(list(fund_ids)))
        .order_by(Participant.id)
    )
    return [(fund_id, regime or "") for fund_id, regime in session.execute(statement)]


def add(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add disclosure rows (``service.plan`` shaped), by COPY on PostgreSQL."""
    insert_rows(session, Disclosure, rows)
