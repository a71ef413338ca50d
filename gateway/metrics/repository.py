"""The queries behind the scrape-time metrics: counts and ages, never a person.

One grouped query per family, each on an index, so that a scrape costs what is owed or
waiting, not the history: owed and pending records through ``ix_disclosures_owed``
(partial: only the rows not yet acknowledged) or the outbox, batches through
``ix_batches_unacknowledged`` (partial too), push attempts through
``ix_delivery_attempts_fund``, the last checkpoint through its primary key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from gateway.auditlog.models import AuditCheckpoint, AuditLogQueue
from gateway.batches.models import Batch, BatchState, DeliveryAttempt, PushState
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.imports.models import DecisionImport

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from datetime import datetime

    from sqlalchemy import Row
    from sqlalchemy.orm import Session

OWED = (DisclosureState.PENDING, DisclosureState.SEALED, DisclosureState.DELIVERED)
UNACKNOWLEDGED = (BatchState.SEALED, BatchState.DELIVERED)


def records_owed(session: Session) -> Sequence[Row[str, str, str, int]]:
    """(fund, state, priority class, count) of the records not yet acknowledged."""
    return session.execute(
        select(Disclosure.fund_id, Disclosure.state, Disclosure.priority_class, func.count())
        .where(Disclosure.state.in_([str(state) for state in OWED]))
        .group_by(Disclosure.fund_id, Disclosure.state, Disclosure.priority_class)
    ).all()


def oldest_pending(
    session: Session, ranks: Collection[int] | None = None
) -> Sequence[Row[str, datetime]]:
    """(fund, creation time of its oldest record waiting to be sealed).

    Of the priority ``ranks`` only, if given (the express ones).
    """
    statement = select(Disclosure.fund_id, func.min(Disclosure.created_at)).where(
        Disclosure.state == DisclosureState.PENDING
    )
    if ranks is not None:
        statement = statement.where(Disclosure.priority_rank.in_(list(ranks)))
    return session.execute(statement.group_by(Disclosure.fund_id)).all()


def batches_unacknowledged(session: Session) -> Sequence[Row[str, str, int, datetime]]:
    """(fund, state, count, creation time of the oldest) of the batches not acknowledged."""
    return session.execute(
        select(Batch.fund_id, Batch.state, func.count(), func.min(Batch.created_at))
        .where(Batch.state.in_([str(state) for state in UNACKNOWLEDGED]))
        .group_by(Batch.fund_id, Batch.state)
    ).all()


def push_attempts(session: Session) -> Sequence[Row[str, bool, int]]:
    """(fund, accepted, count) of every push attempt ever made (the rows are never deleted)."""
    return session.execute(
        select(DeliveryAttempt.fund_id, DeliveryAttempt.accepted, func.count()).group_by(
            DeliveryAttempt.fund_id, DeliveryAttempt.accepted
        )
    ).all()


def push_states(session: Session) -> Sequence[Row[str, int, datetime | None]]:
    """(fund, consecutive failures, parked since) of each fund pushed to."""
    return session.execute(select(PushState.fund_id, PushState.failures, PushState.parked_at)).all()


def audit_events_queued(session: Session) -> int:
    """Audit events committed and not yet appended to the Merkle log."""
    return int(session.scalar(select(func.count()).select_from(AuditLogQueue)) or 0)


def last_checkpoint_signed(session: Session) -> datetime | None:
    """When the latest checkpoint of the audit log was signed, if one was."""
    return session.scalar(
        select(AuditCheckpoint.signed_at).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
    )


def imports_by_status(session: Session) -> Sequence[Row[str, int]]:
    """(status, count) of the imports, every status present."""
    return session.execute(
        select(DecisionImport.status, func.count()).group_by(DecisionImport.status)
    ).all()
