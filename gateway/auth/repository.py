"""Every query of authentication: one-time identifiers, used once."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from gateway.auth.models import UsedJti
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session


def claim_once(
    session: Session, namespace: str, issuer: str, jti: str, expires_at: datetime
) -> bool:
    """Record the jti; False if it was already recorded (a replay).

    ``ON CONFLICT DO NOTHING`` keeps the transaction usable on PostgreSQL, and a
    concurrent duplicate waits on the first one's row lock, then sees the conflict.
    """
    statement = _claim(session.get_bind().dialect.name)
    values = {"namespace": namespace, "issuer": issuer, "jti": jti, "expires_at": expires_at}
    return session.connection().execute(statement, values).first() is not None


@cache
def _claim(dialect: str) -> Any:
    """The claim's statement, built once per dialect, on the table (not the ORM entity).

    Every token and DPoP proof runs it.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Table = UsedJti.__table__  # type: ignore[assignment]
    return (
        insert(table)
        .values(
            namespace=bindparam("namespace"),
            issuer=bindparam("issuer"),
            jti=bindparam("jti"),
            expires_at=bindparam("expires_at"),
        )
        .on_conflict_do_nothing()
        .returning(table.c.jti)
    )


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Forget identifiers whose token has expired anyway; safe to run anywhere, twice."""
    result = session.execute(delete(UsedJti).where(UsedJti.expires_at < (now or utcnow())))
    return int(result.rowcount)  # type: ignore[attr-defined]
