"""Push delivery: each push fund's batches, in ``seq`` order, one in flight per fund.

A run takes, for each fund with a push endpoint whose next attempt is due, its oldest
unacknowledged batch and POSTs it (``connectors.push``). A ``200`` whose body is the
fund's valid signed receipt for that batch acknowledges it, and the next batch follows
in the same run. Anything else is a failed attempt: the fund waits an exponentially
growing, jittered delay (capped) before the next one; after
``push_max_attempts`` consecutive failures it is parked and flagged (an audit event),
and probed every ``push_backoff_cap_seconds`` until it answers, when delivery resumes in
order. Every attempt is a ``delivery_attempts`` row and an audit event.

Bounded: one attempt (connecting, sending, the whole answer) ends within
``push_attempt_seconds``, however the endpoint paces its bytes; an attempt cut short is a
failed attempt like any other. Funds are served concurrently, on a pool of
``push_concurrency`` threads, one task per fund at a time: a slow or parked fund holds one
thread for at most one attempt's bound and never delays another. The worker keeps its
``Pusher`` across runs, so that a run starts serving the funds not already being served
and returns at once; ``deliver`` (``gateway push``, ``gateway worker --once``) waits for
the funds it started.

One in flight per fund: the fund's run holds its delivery lock, a PostgreSQL advisory lock
taken on one connection kept for the run (its transactions run on it too) and released on
that same connection; a worker that dies releases it with its connection. Within one
process a fund is served by one thread at a time whatever the backend (the exclusion on
SQLite, where one worker is enough). No transaction is open while the endpoint answers.
A crash during the POST leaves no attempt recorded; the next run sends the same bytes
again, which the fund's receiver answers with the same receipt: at least once on the
wire, exactly once in the fund's sequence.

Traced: each attempt is a ``push batch`` span (the HTTP client's span beneath it), and
its ``traceparent`` is the one the POST carries. Traced or not, every POST carries a
``traceparent`` (``connectors.push``), which the attempt's audit event records.
"""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Self

from opentelemetry import trace
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

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
from gateway.tracing import provider_from_environment, span, traced_transport

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx
    from opentelemetry.sdk.trace import TracerProvider

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


# (database, fund) pairs being served in this process: one thread per fund at a time.
_SERVING: set[tuple[str, str]] = set()
_SERVING_LOCK = threading.Lock()


@contextmanager
def _fund_lock(
    sessions: sessionmaker[Session], fund_id: str
) -> Iterator[sessionmaker[Session] | None]:
    """Hold the fund's delivery lock for the block: sessions for the fund's run, or None.

    None when another thread of this process or another worker is serving the fund. On
    PostgreSQL the run's sessions are bound to the connection holding the advisory lock,
    so that the lock is taken, kept and released on one connection.
    """
    bind = sessions.kw["bind"]
    serving = (bind.engine.url.render_as_string(hide_password=True), fund_id)
    with _SERVING_LOCK:
        if serving in _SERVING:
            mine = False
        else:
            _SERVING.add(serving)
            mine = True
    if not mine:
        yield None
        return
    try:
        with repository.push_lock(bind, fund_id) as (taken, connection):
            if not taken:
                yield None
            elif connection is None or connection is bind:
                yield sessions
            else:
                yield sessionmaker(class_=sessions.class_, **{**sessions.kw, "bind": connection})
    finally:
        with _SERVING_LOCK:
            _SERVING.discard(serving)


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
                "traceparent": result.traceparent,
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
    fund_id: str,
    *,
    cipher: IdentityCipher,
    channel: Callable[[], push.Channel],
    now: datetime | None = None,
    rng: random.Random | None = None,
    tracer: trace.Tracer | None = None,
) -> list[Attempted]:
    """Push the fund's due batches in order until one fails or none is left.

    Through a ``channel()`` opened at the first due batch; each attempt a span of
    ``tracer`` (none without one).
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    tracer = tracer or trace.NoOpTracer()
    attempts: list[Attempted] = []
    with _fund_lock(sessions, fund_id) as locked:
        if locked is None:
            return attempts  # another worker, or another thread, is pushing to this fund
        opened: push.Channel | None = None
        try:
            for _ in range(MAX_BATCHES_PER_RUN):
                when = now or utcnow()
                due = _due(locked, cipher, fund_id, when)
                if due is None:
                    break
                opened = opened or channel()
                with span(
                    tracer,
                    "push batch",
                    {
                        "gateway.fund": fund_id,
                        "gateway.batch.id": due.batch_id,
                        "gateway.batch.seq": due.seq,
                    },
                ) as attempt:
                    result = opened.push_batch(
                        due.endpoint,
                        batch_id=due.batch_id,
                        seq=due.seq,
                        digest=due.digest,
                        content=due.content,
                    )
                    attempted = _outcome(locked, settings, fund_id, due, result, when, rng)
                    attempt.set_attribute("gateway.push.accepted", attempted.accepted)
                    if result.status_code is not None:
                        attempt.set_attribute("http.response.status_code", result.status_code)
                    if not attempted.accepted:
                        attempt.set_status(trace.StatusCode.ERROR, "push failed")
                attempts.append(attempted)
                if not attempted.accepted:
                    break
        finally:
            if opened is not None:
                opened.close()
    return attempts


class Pusher:
    """Serves the push funds on a pool of ``push_concurrency`` threads, one task per fund.

    ``start`` submits every push fund not already being served and returns at once; a
    fund whose attempt is still under way is left to it. ``close`` waits for the tasks
    under way (each attempt is bounded by ``push_attempt_seconds``).

    Traced with ``tracer_provider``, by default the one the ``OTEL_`` variables describe
    (none: not traced, each push still carrying a ``traceparent`` of its own).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        cipher: IdentityCipher | None = None,
        rng: random.Random | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self._transport = transport
        self._provider = tracer_provider or provider_from_environment()
        self._tracer = self._provider.get_tracer("gateway.delivery") if self._provider else None
        self._cipher = cipher
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._tls = push.tls_context(settings.push_client_cert, settings.push_client_key)
        # Sessions bound to one connection (not an engine) cannot be shared by threads.
        workers = settings.push_concurrency if isinstance(sessions.kw["bind"], Engine) else 1
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push")
        self._tasks: dict[str, Future[list[Attempted]]] = {}
        self._lock = threading.Lock()

    def start(self, *, now: datetime | None = None) -> list[Future[list[Attempted]]]:
        """Start serving every push fund not being served; the tasks started, fund order."""
        if self._cipher is None:
            self._cipher = GatewayKeys.load(self.settings.key_dir).identity_cipher()
        with self.sessions() as session:
            funds = repository.push_funds(session)
        started: list[Future[list[Attempted]]] = []
        with self._lock:
            for fund_id in funds:
                task = self._tasks.get(fund_id)
                if task is not None and not task.done():
                    continue
                task = self._pool.submit(self._serve, fund_id, self._cipher, now)
                task.add_done_callback(_report)
                self._tasks[fund_id] = task
                started.append(task)
        return started

    def _channel(self) -> push.Channel:
        return push.Channel(
            attempt_s=self.settings.push_attempt_seconds,
            timeout_s=self.settings.push_timeout_seconds,
            tls=self._tls,
            transport=self._transport,
            traced=self._traced if self._provider is not None else None,
        )

    def _traced(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        assert self._provider is not None  # noqa: S101 - only passed on when tracing
        return traced_transport(transport, self._provider)

    def _serve(self, fund_id: str, cipher: IdentityCipher, now: datetime | None) -> list[Attempted]:
        return deliver_fund(
            self.sessions,
            self.settings,
            fund_id,
            cipher=cipher,
            channel=self._channel,
            now=now,
            rng=self._rng,
            tracer=self._tracer,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _report(task: Future[list[Attempted]]) -> None:
    """Log what a fund's task did; a task that failed does not stop the others."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("push run failed", exc_info=error)
        return
    attempts = task.result()
    if attempts:
        log.info(
            "batches pushed",
            extra={
                "fund": attempts[0].fund_id,
                "accepted": sum(1 for a in attempts if a.accepted),
                "failed": sum(1 for a in attempts if not a.accepted),
            },
        )


def deliver(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
    cipher: IdentityCipher | None = None,
    tracer_provider: TracerProvider | None = None,
) -> list[Attempted]:
    """One delivery run over every push fund (the batch bytes opened with ``cipher``).

    Funds are served concurrently; waits for them all. The attempts, in fund order.
    """
    with Pusher(
        sessions,
        settings,
        transport=transport,
        cipher=cipher,
        rng=rng,
        tracer_provider=tracer_provider,
    ) as pusher:
        tasks = pusher.start(now=now)
        return [attempt for task in tasks for attempt in task.result()]
