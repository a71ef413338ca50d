"""Rate limits on status checks, per fund and per agent, shared by every replica.

A fixed window per key (``fund:<id>``, ``agent:<fund>:<agent>``) counts the checks made
in it. Taking checks is one short transaction of its own, so a long sweep never holds a
lock that a desk agent's single check would wait for, and a refused request takes
nothing: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE used + n <= limit``.

A request of a few checks reads what it answers on that same connection
(``checks_taken``): its lookups first, the count last. On PostgreSQL each statement is
a transaction of its own, so the windows' rows stay locked for the count's statement
alone (however long the process takes to run its Python in between); on SQLite the
lookups and the count are one transaction. A count lost in a crash only lets a few more
checks through: the count commits without waiting for the disk.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway.errors import FieldError, GatewayError
from gateway.status import repository
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auth.caller import Caller
    from gateway.settings import Settings


class TooManyChecks(GatewayError):
    status = 429
    slug = "rate-limited"
    title = "Too many checks"


def take_checks(
    sessions: sessionmaker[Session], caller: Caller, settings: Settings, amount: int
) -> None:
    """Count ``amount`` checks for the caller's fund and agent, or raise ``TooManyChecks``."""
    with checks_taken(sessions, caller, settings, amount):
        pass


@contextmanager
def checks_taken(
    sessions: sessionmaker[Session],
    caller: Caller,
    settings: Settings,
    amount: int,
    *,
    now: datetime | None = None,
) -> Iterator[Session]:
    """A session whose block reads what the checks answer, then counts ``amount`` checks.

    If the count is refused, ``TooManyChecks`` is raised, so nothing read is answered
    (the block writes nothing). A request over a limit on its own is refused before the
    block runs.
    """
    fund_id, agent_id = caller.acting_for, caller.agent_id or ""
    per_fund, per_agent = settings.status_checks_per_fund, settings.status_checks_per_agent
    window = timedelta(seconds=settings.status_check_window_seconds)
    now = now or utcnow()
    seconds = int(window.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    retry = str(max(1, int((start + window - now).total_seconds())))
    limits = (
        (f"agent:{fund_id}:{agent_id}", per_agent, "this agent"),
        (f"fund:{fund_id}", per_fund, "this fund"),
    )
    over = next(((key, limit, who) for key, limit, who in limits if amount > limit), None)
    if over is not None:
        raise _refusal(over[1], over[2], seconds, retry)
    with sessions() as session:
        alone = repository.statements_commit_alone(session)
        with nullcontext() if alone else session.begin():
            yield session
            taken = repository.take_windows(
                session, {key: (amount, limit) for key, limit, _ in limits}, start
            )
            over = next(((k, limit, who) for k, limit, who in limits if k not in taken), None)
            if over is not None:
                raise _refusal(over[1], over[2], seconds, retry)


def _refusal(limit: int, who: str, seconds: int, retry: str) -> TooManyChecks:
    message = f"{who} may make at most {limit} checks per {seconds} s"
    return TooManyChecks(
        message,
        errors=[FieldError("Agent-Id", "rate-limit", message)],
        headers={"Retry-After": retry},
    )
