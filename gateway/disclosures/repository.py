"""Queries on disclosures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.participants.models import Participant

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def of_decision(session: Session, decision_id: str) -> list[Disclosure]:
    statement = (
        select(Disclosure)
        .where(Disclosure.decision_id == decision_id)
        .order_by(Disclosure.version, Disclosure.fund_id)
    )
    return list(session.scalars(statement))


def recipients(session: Session, decision_id: str) -> list[tuple[str, str]]:
    """(fund id, regime) of every fund owed or sent an earlier version, not cancelled."""
    statement = (
        select(Participant.id, Participant.regime)
        .join(Disclosure, Disclosure.fund_id == Participant.id)
        .where(
            Disclosure.decision_id == decision_id,
            Disclosure.state != DisclosureState.CANCELLED,
        )
        .distinct()
        .order_by(Participant.id)
    )
    return [(fund_id, regime or "") for fund_id, regime in session.execute(statement)]
