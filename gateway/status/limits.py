"""Rate limits on status checks, per fund and per agent, shared by every replica.

A fixed window per key (``fund:<id>``, ``agent:<fund>:<agent>``) counts the checks made
in it. Taking checks is one short transaction of its own, so a long sweep never holds a
lock that a desk agent's single check would wait for, and a refused request takes
nothing: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE used + n <= limit``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway.errors import FieldError, GatewayError
from gateway.status import repository
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


class TooManyChecks(GatewayError):
    status = 429
    slug = "rate-limited"
    title = "Too many checks"


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
        # A count lost in a crash only lets a few more checks through: not worth
        # waiting for the disk on every request.
        repository.commit_without_waiting(session)
        over = next(((key, limit, who) for key, limit, who in limits if amount > limit), None)
        if over is None:
            taken = repository.take_windows(
                session, {key: (amount, limit) for key, limit, _ in limits}, start
            )
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
