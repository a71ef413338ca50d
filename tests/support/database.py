"""What the database holds: rows counted, and sessions on a database of a test's own."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from gateway.decisions.models import Decision, DecisionVersion
from gateway.identities.models import Identity
from gateway.storage.engine import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session, sessionmaker


def counts(session: Session) -> dict[str, int]:
    """Rows of the tables a decision lives in."""
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Decision, DecisionVersion, Identity)
    }


@contextmanager
def sessions_on(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on ``database_url`` (one that another process serves); the engine is
    disposed of when the block ends."""
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()
