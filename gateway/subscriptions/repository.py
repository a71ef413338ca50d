"""Every query on subscriptions; a fund's own set filtered by ``tenancy.fund_rows``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select

from gateway import tenancy
from gateway.participants.models import Participant, ParticipantKind, ParticipantStatus
from gateway.storage.bulk import insert_rows
from gateway.subscriptions.models import Subscription, SubscriptionUpload

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import date

    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller


def clear(session: Session, caller: Caller) -> None:
    """Remove the caller's whole set (in the transaction that writes the new one)."""
    session.execute(delete(Subscription).where(tenancy.fund_rows(caller, Subscription.fund_id)))


def add(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add subscription rows, by COPY on PostgreSQL."""
    insert_rows(session, Subscription, rows)


def latest_upload(session: Session, caller: Caller) -> SubscriptionUpload | None:
    """The upload that made the caller's current set, if any."""
    return session.scalars(
        select(SubscriptionUpload)
        .where(tenancy.fund_rows(caller, SubscriptionUpload.fund_id))
        .order_by(SubscriptionUpload.created_at.desc(), SubscriptionUpload.id.desc())
        .limit(1)
    ).first()


def open_periods(session: Session, caller: Caller) -> int:
    """How many of the caller's subscriptions have no end date."""
    count = session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(tenancy.fund_rows(caller, Subscription.fund_id), Subscription.valid_until.is_(None))
    )
    return count or 0


def funds_holding(
    session: Session, indexes: Collection[str], on: date, regimes: Collection[str]
) -> list[tuple[str, str]]:
    """(fund id, regime) of the active funds of these regimes with a file open on ``on``."""
    if not indexes:
        return []
    statement = (
        select(Participant.id, Participant.regime)
        .join(Subscription, Subscription.fund_id == Participant.id)
        .where(
            Subscription.blind_index.in_(list(indexes)),
            Subscription.valid_from <= on,
            or_(Subscription.valid_until.is_(None), Subscription.valid_until >= on),
            Participant.kind == ParticipantKind.FUND,
            Participant.status == ParticipantStatus.ACTIVE,
            Participant.regime.in_(list(regimes)),
        )
        .distinct()
        .order_by(Participant.id)
    )
    return [(fund_id, regime or "") for fund_id, regime in session.execute(statement)]
