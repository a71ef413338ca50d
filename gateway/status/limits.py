"""Rate limits on status checks, per fund and per agent, shared by every replica.

A fixed window per key (``fund:<id>``, ``agent:<fund>:<agent>``) counts the checks made
in it. Taking checks is one short transaction of its own, so a long sweep never holds a
lock that a desk agent's single check would wait for, and a refused request takes
nothing: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE used + n <= limit``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Integer, String, case, delete, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from gateway.errors import FieldError, GatewayError
from gateway.storage.base import Base, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


class RateWindow(Base):
    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)


class TooManyChecks(GatewayError):
    status = 429
    slug = "rate-limited"
    title = "Too many checks"


def _take(session: Session, amounts: dict[str, tuple[int, int]], start: datetime) -> set[str]:
    """Add each key's amount to its window if that stays within its limit, in one statement.

    ``amounts`` maps a key to (amount, limit); returns the keys that took it.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = insert(RateWindow).values(
        [
            {"key": key, "window_start": start, "used": amount}
            for key, (amount, _) in amounts.items()
        ]
    )
    limit = case(*((RateWindow.key == key, limit) for key, (_, limit) in amounts.items()), else_=0)
    upsert = values.on_conflict_do_update(
        index_elements=[RateWindow.key, RateWindow.window_start],
        set_={"used": RateWindow.used + values.excluded.used},
        where=(RateWindow.used + values.excluded.used) <= limit,
    ).returning(RateWindow.key)
    return {key for (key,) in session.execute(upsert)}


def take_checks(
    sessions: sessionmaker[Session],
    *,
    fund_id: str,
    agent_id: str,
    amount: int,
    per_fund: int,
    per_agent: int,
    window: timedelta,
    now: datetime | None = None,
) -> None:
    """Count ``amount`` checks for the fund and the agent, or raise ``TooManyChecks``."""
    now = now or utcnow()
    seconds = int(window.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    retry = str(max(1, int((start + window - now).total_seconds())))
    limits = (
        (f"agent:{fund_id}:{agent_id}", per_agent, "this agent"),
        (f"fund:{fund_id}", per_fund, "this fund"),
    )
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            # A count lost in a crash only lets a few more checks through: not worth
            # waiting for the disk on every request.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        over = next(((key, limit, who) for key, limit, who in limits if amount > limit), None)
        if over is None:
            taken = _take(session, {key: (amount, limit) for key, limit, _ in limits}, start)
            over = next(((k, limit, who) for k, limit, who in limits if k not in taken), None)
        if over is not None:
            session.rollback()
            _, limit, who = over
            message = f"{who} may make at most {limit} checks per {seconds} s"
            raise TooManyChecks(
                message,
                errors=[FieldError("Agent-Id", "rate-limit", message)],
                headers={"Retry-After": retry},
            )


def purge_windows(session: Session, before: datetime) -> int:
    """Forget the windows that ended before ``before``."""
    result = session.execute(delete(RateWindow).where(RateWindow.window_start < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
