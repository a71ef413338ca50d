"""Every query on imports; those answering a caller filtered by ``tenancy.prefecture_rows``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from gateway import tenancy
from gateway.imports.models import DecisionImport, ImportLine, ImportStatus, LineOutcome
from gateway.storage.base import utcnow
from gateway.storage.bulk import insert_rows

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller


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


def add_counts(session: Session, import_id: str, counts: dict[LineOutcome, int]) -> None:
    """Add one batch's outcomes to the import's totals (in the batch's transaction)."""
    session.execute(
        update(DecisionImport)
        .where(DecisionImport.id == import_id)
        .values(
            lines=DecisionImport.lines + sum(counts.values()),
            accepted=DecisionImport.accepted + counts.get(LineOutcome.ACCEPTED, 0),
            duplicate=DecisionImport.duplicate + counts.get(LineOutcome.DUPLICATE, 0),
            rejected=DecisionImport.rejected + counts.get(LineOutcome.REJECTED, 0),
        )
    )


def close(session: Session, import_id: str, status: ImportStatus, error: str | None) -> None:
    session.execute(
        update(DecisionImport)
        .where(DecisionImport.id == import_id)
        .values(status=status, error=error, finished_at=utcnow())
    )


def add_lines(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add report lines, by COPY on PostgreSQL."""
    insert_rows(session, ImportLine, rows)
