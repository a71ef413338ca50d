"""One-time identifiers: a client assertion's or a DPoP proof's ``jti`` is used once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


MAX_JTI_LENGTH = 256  # the column's; a longer jti is refused before it is stored


class UsedJti(Base):
    __tablename__ = "used_jtis"

    namespace: Mapped[str] = mapped_column(String(16), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(128), primary_key=True)
    jti: Mapped[str] = mapped_column(String(MAX_JTI_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


def claim_once(
    session: Session, namespace: str, issuer: str, jti: str, expires_at: datetime
) -> bool:
    """Record the jti; False if it was already recorded (a replay).

    ``ON CONFLICT DO NOTHING`` keeps the transaction usable on PostgreSQL, and a
    concurrent duplicate waits on the first one's row lock, then sees the conflict.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(UsedJti)
        .values(namespace=namespace, issuer=issuer, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing()
        .returning(UsedJti.jti)
    )
    return session.execute(statement).first() is not None


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Forget identifiers whose token has expired anyway; safe to run anywhere, twice."""
    result = session.execute(delete(UsedJti).where(UsedJti.expires_at < (now or utcnow())))
    return int(result.rowcount)  # type: ignore[attr-defined]
