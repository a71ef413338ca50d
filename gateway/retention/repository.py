"""Every query of the retention purge: what is due, and the chunked shredding of it.

The chunks lock their rows with ``SKIP LOCKED`` on PostgreSQL, so two workers purge at
once without waiting on each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, exists, func, or_, select, update

from gateway.auditlog.models import AuditEvent
from gateway.batches.models import Batch
from gateway.decisions.models import Decision, DecisionVersion
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.identities.models import Identity, IdentityMatchKey
from gateway.imports.models import DecisionImport, ImportLine
from gateway.retention.models import PurgeRun

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session
    from sqlalchemy.sql.elements import ColumnElement

CHUNK = 1000
# A fund still owes a receipt, or has not been sent the record yet.
OPEN_STATES = (DisclosureState.PENDING, DisclosureState.SEALED, DisclosureState.DELIVERED)


def _identities_due(cutoff: datetime) -> ColumnElement[bool]:
    """Decisions whose identity data is past retention and still readable."""
    versions = DecisionVersion
    unshredded = exists().where(
        versions.decision_id == Decision.id,
        Identity.id == versions.identity_id,
        Identity.shredded_at.is_(None),
    )
    still_owed = exists().where(
        Disclosure.decision_id == Decision.id, Disclosure.state.in_([*OPEN_STATES])
    )
    recent = exists().where(Disclosure.decision_id == Decision.id, Disclosure.updated_at >= cutoff)
    return and_(Decision.updated_at < cutoff, unshredded, ~still_owed, ~recent)


def _batches_due(cutoff: datetime) -> ColumnElement[bool]:
    """Batches whose bytes no fund awaits any more, past retention."""
    open_or_recent = exists().where(
        Disclosure.batch_id == Batch.id,
        or_(Disclosure.state.in_([*OPEN_STATES]), Disclosure.updated_at >= cutoff),
    )
    return and_(Batch.content_key.is_not(None), Batch.created_at < cutoff, ~open_or_recent)


def shred_identities(session: Session, cutoff: datetime, now: datetime) -> int:
    """Shred the identities of up to CHUNK due decisions; the number of decisions."""
    chosen = (
        select(Decision.id)
        .where(_identities_due(cutoff))
        .order_by(Decision.id)
        .limit(CHUNK)
        .with_for_update(skip_locked=True)
    )
    decision_ids = list(session.scalars(chosen))
    if not decision_ids:
        return 0
    identity_ids = select(DecisionVersion.identity_id).where(
        DecisionVersion.decision_id.in_(decision_ids)
    )
    session.execute(
        update(Identity)
        .where(Identity.id.in_(identity_ids), Identity.shredded_at.is_(None))
        .values(
            wrapped_key=None,
            bi_agdref=None,
            bi_ssn=None,
            bi_name_year_sex=None,
            shredded_at=now,
        )
    )
    session.execute(delete(IdentityMatchKey).where(IdentityMatchKey.identity_id.in_(identity_ids)))
    return len(decision_ids)


def _count(session: Session, statement: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


def identities_due(session: Session, cutoff: datetime) -> int:
    """How many decisions have identity data past retention, still readable."""
    return _count(session, select(Decision.id).where(_identities_due(cutoff)))


def batches_due(session: Session, cutoff: datetime) -> int:
    """How many batches' bytes no fund awaits any more, past retention."""
    return _count(session, select(Batch.id).where(_batches_due(cutoff)))


def shred_batches(session: Session, cutoff: datetime, now: datetime) -> int:
    """Destroy the data key of every batch due; how many."""
    result = session.execute(
        update(Batch)
        .where(_batches_due(cutoff))
        .values(content_key=None, content_shredded_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def imports_due(session: Session, cutoff: datetime) -> list[str]:
    """The imports finished before ``cutoff`` whose report is still kept, locked."""
    finished = func.coalesce(DecisionImport.finished_at, DecisionImport.created_at)
    statement = select(DecisionImport.id).where(
        finished < cutoff, DecisionImport.lines_purged_at.is_(None)
    )
    return list(session.scalars(statement.with_for_update(skip_locked=True)))


def report_lines(session: Session, import_ids: list[str]) -> int:
    """How many report lines these imports hold."""
    return _count(session, select(ImportLine.line).where(ImportLine.import_id.in_(import_ids)))


def remove_report_lines(session: Session, import_ids: list[str], now: datetime) -> None:
    """Delete these imports' report lines; their counts stay."""
    session.execute(delete(ImportLine).where(ImportLine.import_id.in_(import_ids)))
    session.execute(
        update(DecisionImport).where(DecisionImport.id.in_(import_ids)).values(lines_purged_at=now)
    )


def events_before(session: Session, cutoff: datetime) -> int:
    """How many audit events are older than ``cutoff``."""
    return _count(session, select(AuditEvent.id).where(AuditEvent.occurred_at < cutoff))


def start_run(
    session: Session, *, run_id: str, policy_version: str, dry_run: bool, as_of: datetime,
    started_at: datetime,
) -> None:  # fmt: skip
    session.add(
        PurgeRun(
            id=run_id,
            policy_version=policy_version,
            dry_run=dry_run,
            as_of=as_of,
            started_at=started_at,
        )
    )


def finish_run(
    session: Session, run_id: str, finished_at: datetime, classes: dict[str, Any]
) -> None:
    session.execute(
        update(PurgeRun)
        .where(PurgeRun.id == run_id)
        .values(finished_at=finished_at, classes=classes)
    )
