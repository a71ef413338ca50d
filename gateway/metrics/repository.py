"""The queries behind the scrape-time metrics: counts and ages, never a person."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from gateway.disclosures.models import Disclosure, DisclosureState

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy import Row
    from sqlalchemy.orm import Session

OWED = (DisclosureState.PENDING, DisclosureState.SEALED, DisclosureState.DELIVERED)


def records_owed(session: Session) -> Sequence[Row[str, str, str, int]]:
    """(fund, state, priority class, count) of the records not yet acknowledged."""
    return session.execute(
        select(Disclosure.fund_id, Disclosure.state, Disclosure.priority_class, func.count())
        .where(Disclosure.state.in_([str(state) for state in OWED]))
        .group_by(Disclosure.fund_id, Disclosure.state, Disclosure.priority_class)
    ).all()


def oldest_pending(session: Session) -> Sequence[Row[str, datetime]]:
    """(fund, creation time of its oldest record waiting to be sealed)."""
    return session.execute(
        select(Disclosure.fund_id, func.min(Disclosure.created_at))
        .where(Disclosure.state == DisclosureState.PENDING)
        .group_by(Disclosure.fund_id)
    ).all()
