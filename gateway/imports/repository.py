"""Every query on imports; those answering a caller filtered by ``tenancy.prefecture_rows``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, or_, select, update

from gateway import tenancy
from gateway.imports.models import (
    PENDING,
    DecisionImport,
    ImportChunk,
    ImportLine,
    ImportStatus,
    LineOutcome,
)
from gateway.storage.base import utcnow
from gateway.storage.bulk import insert_rows

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller
    from gateway.identities.crypto import Sealed


def get_for(session: Session, caller: Caller, import_id: str) -> DecisionImport | None:
    statement = select(DecisionImport).where(
        DecisionImport.id == import_id,
        tenancy.prefecture_rows(caller, DecisionImport.prefecture_id),
    )
    return session.scalars(statement).one_or_none()


def lines(
    session: Session, import_id: str, *, outcome: str | None, after_line: int, limit: int
) -> list[ImportLine]:
    statement = select(ImportLine).where(
        ImportLine.import_id == import_id, ImportLine.line > after_line
    )
    if outcome is not None:
        statement = statement.where(ImportLine.outcome == outcome)
    return list(session.scalars(statement.order_by(ImportLine.line).limit(limit)))


def add_import(session: Session, row: DecisionImport) -> None:
    session.add(row)
    session.flush()


def add_chunk(session: Session, import_id: str, seq: int, sealed: Sealed) -> None:
    """Store one sealed piece of an upload (not kept in the session: memory stays flat)."""
    session.execute(
        insert(ImportChunk).values(
            import_id=import_id,
            seq=seq,
            ciphertext=sealed.ciphertext,
            nonce=sealed.nonce,
            wrapped_key=sealed.wrapped_key,
            kek_id=sealed.kek_id,
        )
    )


def chunk(session: Session, import_id: str, seq: int) -> ImportChunk | None:
    return session.get(ImportChunk, (import_id, seq))


def delete_chunks(session: Session, import_id: str) -> None:
    session.execute(delete(ImportChunk).where(ImportChunk.import_id == import_id))


def claimable(session: Session, now: datetime, limit: int = 10) -> list[str]:
    """Imports waiting for a worker, or whose worker stopped (its lease expired), oldest first."""
    statement = (
        select(DecisionImport.id)
        .where(
            DecisionImport.status.in_(PENDING),
            or_(DecisionImport.lease_until.is_(None), DecisionImport.lease_until < now),
        )
        .order_by(DecisionImport.created_at, DecisionImport.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def claim(session: Session, import_id: str, owner: str, now: datetime, until: datetime) -> bool:
    """Take the import's lease if nobody holds it: a compare-and-set, so one worker wins.

    On PostgreSQL a second worker's update waits for the first's row lock, then finds the
    lease taken; on SQLite writers take turns.
    """
    result = session.execute(
        update(DecisionImport)
        .where(
            DecisionImport.id == import_id,
            DecisionImport.status.in_(PENDING),
            or_(DecisionImport.lease_until.is_(None), DecisionImport.lease_until < now),
        )
        .values(
            lease_owner=owner,
            lease_until=until,
            status=ImportStatus.RUNNING,
            attempts=DecisionImport.attempts + 1,
            started_at=func.coalesce(DecisionImport.started_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def renew(session: Session, import_id: str, owner: str, until: datetime) -> bool:
    """Extend ``owner``'s lease, first thing in a batch's transaction; False if it was lost.

    On PostgreSQL the row stays locked until the batch commits: a worker taking the import
    over waits for it, then finds the lease renewed.
    """
    result = session.execute(
        update(DecisionImport)
        .where(DecisionImport.id == import_id, DecisionImport.lease_owner == owner)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def get(session: Session, import_id: str) -> DecisionImport | None:
    """An import for the worker (not for a caller: see ``get_for``)."""
    return session.get(DecisionImport, import_id, populate_existing=True)


def add_counts(
    session: Session,
    import_id: str,
    counts: dict[LineOutcome, int],
    *,
    last_line: int,
    owner: str,
    until: datetime,
) -> bool:
    """Add one batch's outcomes to the totals, move the cursor past it, renew the lease.

    In the batch's transaction; False (store nothing) if the lease was lost.
    """
    result = session.execute(
        update(DecisionImport)
        .where(DecisionImport.id == import_id, DecisionImport.lease_owner == owner)
        .values(
            lines=DecisionImport.lines + sum(counts.values()),
            accepted=DecisionImport.accepted + counts.get(LineOutcome.ACCEPTED, 0),
            duplicate=DecisionImport.duplicate + counts.get(LineOutcome.DUPLICATE, 0),
            rejected=DecisionImport.rejected + counts.get(LineOutcome.REJECTED, 0),
            lines_done=last_line,
            lease_until=until,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def close(
    session: Session, import_id: str, status: ImportStatus, error: str | None, owner: str | None
) -> bool:
    """Finish the import and release its lease; False if ``owner`` no longer holds it."""
    statement = update(DecisionImport).where(DecisionImport.id == import_id)
    if owner is not None:
        statement = statement.where(DecisionImport.lease_owner == owner)
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "finished_at": utcnow(),
        "lease_owner": None,
        "lease_until": None,
    }
    if status == ImportStatus.DONE:
        values["lines_done"] = func.coalesce(DecisionImport.lines_total, DecisionImport.lines_done)
    result = session.execute(
        statement.values(**values).execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def release(session: Session, import_id: str, owner: str) -> None:
    """Give the lease back (the run stopped on an error): the next run resumes at once."""
    session.execute(
        update(DecisionImport)
        .where(DecisionImport.id == import_id, DecisionImport.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def line_numbers(session: Session, import_id: str, outcome: LineOutcome) -> set[int]:
    statement = select(ImportLine.line).where(
        ImportLine.import_id == import_id, ImportLine.outcome == outcome
    )
    return set(session.scalars(statement))


def add_lines(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add report lines, by COPY on PostgreSQL."""
    insert_rows(session, ImportLine, rows)
