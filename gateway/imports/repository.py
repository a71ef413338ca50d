"""Queries on imports, filtered by the prefecture the caller acts for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from gateway.imports.models import DecisionImport, ImportLine

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller


def get_for(session: Session, caller: Caller, import_id: str) -> DecisionImport | None:
    statement = select(DecisionImport).where(
        DecisionImport.id == import_id, DecisionImport.prefecture_id == caller.acting_for
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
