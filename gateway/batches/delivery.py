"""Push delivery: each push fund's batches, in ``seq`` order, one in flight per fund.

A run takes, for each fund with a push endpoint whose next attempt is due, its oldest
unacknowledged batch and POSTs it (``connectors.push``). A ``200`` whose body is the
fund's valid signed receipt for that batch acknowledges it, and the next batch follows
in the same run. Anything else is a failed attempt: the fund waits an exponentially
growing, jittered delay (capped) before the next one; after
``push_max_attempts`` consecutive failures it is parked and flagged (an audit event),
and probed every ``push_backoff_cap_seconds`` until it answers, when delivery resumes in
order. Every attempt is a ``delivery_attempts`` row and an audit event.

One in flight per fund: a run holds the fund's delivery lock (a PostgreSQL advisory
lock; on SQLite one worker is enough) while it pushes, and no transaction is open while
the endpoint answers. A crash during the POST leaves no attempt recorded; the next run
sends the same bytes again, which the fund's receiver answers with the same receipt: at
least once on the wire, exactly once in the fund's sequence.
"""

from __future__ import annotations

import logging
import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from audit.actions import AuditAction, AuditOutcome
from connectors import push
from gateway.auditlog.writer import record
from gateway.batches import receipts, repository
from gateway.batches.models import DeliveryAttempt, PushState
from gateway.batches.storage import open_content
from gateway.errors import GatewayError
from gateway.keys import GatewayKeys
from gateway.participants import repository as participants
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.identities.crypto import IdentityCipher
    from gateway.settings import Settings

log = logging.getLogger("gateway.delivery")
MAX_BATCHES_PER_RUN = 100  # per fund, so one fund's backlog does not starve the others


@dataclass(frozen=True)
class Attempted:
    fund_id: str
    batch_id: str
    seq: int
    accepted: bool
    error: str | None


def backoff(settings: Settings, failures: int, rng: random.Random) -> timedelta:
    """The wait after ``failures`` consecutive failures: doubling, jittered, capped."""
    ceiling = min(
        settings.push_backoff_cap_seconds,
        settings.push_backoff_base_seconds * 2 ** max(failures - 1, 0),
    )
    return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


@contextmanager
def _fund_lock(sessions: sessionmaker[Session], fund_id: str) -> Iterator[bool]:
    """Hold the fund's delivery lock (PostgreSQL, connection-level) for the block.

    Connection-level rather than transaction-level, so that no transaction stays open
    while the fund's endpoint answers: on SQLite that would hold the only write lock.
    """
    with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            yield True
            return
        taken = repository.try_push_lock(session, fund_id)
        session.commit()
        try:
            yield taken
        finally:
            if taken:
                repository.release_push_lock(session, fund_id)
                session.commit()


@dataclass(frozen=True)
class _Due:
    batch_id: str
    seq: int
    digest: str
    content: bytes
    endpoint: str


def _due(
    sessions: sessionmaker[Session], cipher: IdentityCipher, fund_id: str, now: datetime
) -> _Due | None:
    """The fund's next batch, if the fund is pushed to and its next attempt is due."""
    with sessions() as session:
        fund = participants.get(session, fund_id)
        if fund is None or not fund.active or fund.push_endpoint is None:
            return None
        state = repository.push_state(session, fund_id)
        if state is not None and state.next_attempt_at is not None and state.next_attempt_at > now:
            return None  # backing off
        batch = repository.next_unacknowledged(session, fund_id)
        if batch is None:
            return None
        content = open_content(cipher, batch)
        return _Due(batch.id, batch.seq, batch.digest, content, fund.push_endpoint)


def _outcome(
    sessions: sessionmaker[Session],
    settings: Settings,
    fund_id: str,
    due: _Due,
    result: push.PushResult,
    now: datetime,
    rng: random.Random,
) -> Attempted:
    """Record the attempt: the receipt if valid, the attempt, the fund's backoff state."""
    with sessions.begin() as session:
        fund = participants.get_existing(session, fund_id)
        batch = repository.batch(session, due.batch_id)
        state = repository.push_state(session, fund_id) or PushState(
            fund_id=fund_id, failures=0, updated_at=now
        )
        session.add(state)
        error = result.error
        if error is None:
            try:
                with session.begin_nested():
                    receipts.record_receipt(session, fund, batch, result.body)
            except GatewayError as refused:
                rule = refused.errors[0].rule if refused.errors else refused.slug
                error = f"the answer is not a valid receipt for this batch ({rule})"
        number = repository.attempts_of(session, batch.id) + 1
        session.add(
            DeliveryAttempt(
                batch_id=batch.id,
                fund_id=fund_id,
                attempt=number,
                started_at=now,
                duration_ms=result.duration_ms,
                accepted=error is None,
                status_code=result.status_code,
                error=error,
            )
        )
        record(
            session,
            AuditAction.BATCH_PUSHED,
            outcome=AuditOutcome.SUCCESS if error is None else AuditOutcome.ERROR,
            acting_for=fund_id,
            object_ids=[batch.id],
            detail={
                "seq": batch.seq,
                "attempt": number,
                "status": result.status_code,
                "error": error,
                "duration_ms": result.duration_ms,
            },
        )
        _apply(session, settings, state, error, now, rng)
    return Attempted(fund_id, due.batch_id, due.seq, error is None, error)


def _apply(
    session: Session,
    settings: Settings,
    state: PushState,
    error: str | None,
    now: datetime,
    rng: random.Random,
) -> None:
    """The fund's backoff state after an attempt; parking and unparking are audited."""
    fund_id = state.fund_id
    state.updated_at = now
    if error is None:
        if state.parked_at is not None:
            record(session, AuditAction.FUND_UNPARKED, acting_for=fund_id, object_ids=[fund_id])
            log.info("push fund recovered", extra={"fund": fund_id})
        state.failures, state.next_attempt_at, state.parked_at, state.last_error = (
            0,
            None,
            None,
            None,
        )
        return
    state.failures += 1
    state.last_error = error[:300]
    if state.failures < settings.push_max_attempts:
        state.next_attempt_at = now + backoff(settings, state.failures, rng)
        return
    state.next_attempt_at = now + timedelta(seconds=settings.push_backoff_cap_seconds)
    if state.parked_at is None:
        state.parked_at = now
        record(
            session,
            AuditAction.FUND_PARKED,
            outcome=AuditOutcome.ERROR,
            acting_for=fund_id,
            object_ids=[fund_id],
            detail={"failures": state.failures, "last_error": state.last_error},
        )
        log.warning("push fund parked", extra={"fund": fund_id, "failures": state.failures})


def deliver_fund(
    sessions: sessionmaker[Session],
    settings: Settings,
    http: httpx.Client,
    fund_id: str,
    *,
    cipher: IdentityCipher,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> list[Attempted]:
    """Push the fund's due batches in order until one fails or none is left."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    attempts: list[Attempted] = []
    with _fund_lock(sessions, fund_id) as mine:
        if not mine:
            return attempts  # another worker is pushing to this fund
        for _ in range(MAX_BATCHES_PER_RUN):
            when = now or utcnow()
            due = _due(sessions, cipher, fund_id, when)
            if due is None:
                break
            result = push.push_batch(
                http,
                due.endpoint,
                batch_id=due.batch_id,
                seq=due.seq,
                digest=due.digest,
                content=due.content,
            )
            attempted = _outcome(sessions, settings, fund_id, due, result, when, rng)
            attempts.append(attempted)
            if not attempted.accepted:
                break
    return attempts


def deliver(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
    cipher: IdentityCipher | None = None,
) -> list[Attempted]:
    """One delivery run over every push fund (the batch bytes opened with ``cipher``)."""
    if cipher is None:
        cipher = GatewayKeys.load(settings.key_dir).identity_cipher()
    with sessions() as session:
        funds = repository.push_funds(session)
    attempts: list[Attempted] = []
    with push.client(
        timeout_s=settings.push_timeout_seconds,
        client_cert=settings.push_client_cert,
        client_key=settings.push_client_key,
        transport=transport,
    ) as http:
        for fund_id in funds:
            attempts += deliver_fund(
                sessions, settings, http, fund_id, cipher=cipher, now=now, rng=rng
            )
    return attempts
