"""Every query of batches: sealing, receipts, push delivery and what funds and auditors read.

A fund's own batches and outbox are filtered by ``tenancy.fund_rows``, an auditor's
outbox by ``tenancy.auditor_rows``. The locks are here too: sealing takes a per-fund
transaction lock, pushing a per-fund lock held on one dedicated connection for the
fund's whole run (PostgreSQL advisory locks; SQLite has a single writer).
"""

from __future__ import annotations

import logging
import zlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import DBAPIError

from gateway import tenancy
from gateway.batches.models import Batch, BatchState, DeliveryAttempt, PushState, Receipt
from gateway.decisions.models import Decision, DecisionVersion
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.participants.models import Participant, ParticipantKind, ParticipantStatus
from gateway.storage.bulk import one_of

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence
    from datetime import datetime

    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller

log = logging.getLogger("gateway.delivery")
_SEALING_LOCK = 0x5EA1  # the first key of the two-key advisory lock: sealing
_PUSHING_LOCK = 0x9054  # the first key of the two-key advisory lock: pushing


def _lock_key(fund_id: str) -> int:
    return zlib.crc32(fund_id.encode()) - 2**31  # a signed 32-bit key


# -- sealing ---------------------------------------------------------------------------


_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_not_available: lock_timeout ran out


def lock_for_sealing(session: Session, fund_id: str, *, wait_s: float) -> bool:
    """Take the fund's sealing lock for this transaction; False if still held after ``wait_s``.

    The sealer holding it holds it for one batch transaction (a second or so). The wait is
    bounded by ``lock_timeout`` for this one statement, inside a savepoint, so a timeout
    leaves the transaction usable and the rest of it under the usual settings.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already made this the only writer
    params = {"namespace": _SEALING_LOCK, "key": _lock_key(fund_id)}
    taken = session.execute(
        text("SELECT pg_try_advisory_xact_lock(:namespace, :key)"), params
    ).scalar_one()
    if taken or wait_s <= 0:
        return bool(taken)  # the usual case: free, in one round trip rather than six
    saved = session.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    timeout = f"{max(1, int(wait_s * 1000))}ms"
    session.execute(text("SELECT set_config('lock_timeout', :timeout, true)"), {"timeout": timeout})
    try:
        with session.begin_nested():
            session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"), params)
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        return False
    finally:
        session.execute(text("SELECT set_config('lock_timeout', :saved, true)"), {"saved": saved})
    return True


def funds_with_pending(session: Session, ranks: Collection[int] | None) -> list[str]:
    """The funds with disclosures pending (of these priority ranks, if given)."""
    statement = select(Disclosure.fund_id).where(Disclosure.state == DisclosureState.PENDING)
    if ranks is not None:
        statement = statement.where(Disclosure.priority_rank.in_(list(ranks)))
    return sorted(set(session.scalars(statement.distinct())))


def pending_count(session: Session) -> int:
    statement = select(func.count()).where(Disclosure.state == DisclosureState.PENDING)
    return int(session.scalar(statement) or 0)


def pending_records(
    session: Session, fund_id: str, ranks: Collection[int] | None, limit: int
) -> Sequence[Row[Any]]:
    """The fund's next records, most urgent and oldest first, locked; no identity data yet.

    On PostgreSQL the disclosure rows are locked until the transaction ends (``FOR UPDATE
    OF disclosures SKIP LOCKED``): what is selected is what gets sealed. A correction that
    wants to cancel one of them waits for the batch to commit, then finds it sealed and
    sends a rectification instead; a row a correction is cancelling right now is skipped
    (it is being cancelled; if that correction rolls back, the next batch takes it). Only
    the disclosure rows are locked, never the decisions, so the sealer waits for nobody.
    SQLite has one writer: nothing changes under the sealer there.
    """
    statement = (
        select(
            Disclosure.id,
            Disclosure.decision_id,
            Disclosure.version,
            Disclosure.correction,
            Disclosure.priority_class,
            Disclosure.profile,
            Decision.reference,
            Decision.kind,
            DecisionVersion.status,
            DecisionVersion.decision_date,
            DecisionVersion.notification_date,
            DecisionVersion.effect_date,
            DecisionVersion.permit_expiry,
            DecisionVersion.correction_kind,
            DecisionVersion.correction_date,
            DecisionVersion.identity_id,
        )
        .join(Decision, Decision.id == Disclosure.decision_id)
        .join(
            DecisionVersion,
            (DecisionVersion.decision_id == Disclosure.decision_id)
            & (DecisionVersion.version == Disclosure.version),
        )
        .where(Disclosure.fund_id == fund_id, Disclosure.state == DisclosureState.PENDING)
        .order_by(Disclosure.priority_rank, Disclosure.created_at, Disclosure.id)
        .limit(limit)
        .with_for_update(of=Disclosure, skip_locked=True)
    )
    if ranks is not None:
        statement = statement.where(Disclosure.priority_rank.in_(list(ranks)))
    # Core rows, not ORM ones: thousands a batch, read by attribute all the same.
    found: Sequence[Row[Any]] = session.connection().execute(statement).all()  # type: ignore[assignment]
    return found


def last_batch(session: Session, fund_id: str) -> Row[int, str] | None:
    """(seq, digest) of the fund's last batch, if any."""
    return session.execute(
        select(Batch.seq, Batch.digest)
        .where(Batch.fund_id == fund_id)
        .order_by(Batch.seq.desc())
        .limit(1)
    ).first()


def seal_records(session: Session, record_ids: Sequence[str], batch_id: str, now: datetime) -> int:
    """Mark the records sealed in the batch, those still pending; how many were."""
    updated = session.execute(
        update(Disclosure)
        .where(
            one_of(session, Disclosure.id, list(record_ids)),
            Disclosure.state == DisclosureState.PENDING,
        )
        .values(state=DisclosureState.SEALED, batch_id=batch_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(updated.rowcount)  # type: ignore[attr-defined]


# -- what funds and auditors read -------------------------------------------------------


def batches_of(session: Session, caller: Caller, after_seq: int, limit: int) -> list[Batch]:
    """The caller's batches after ``after_seq``, oldest first."""
    return list(
        session.scalars(
            select(Batch)
            .where(tenancy.fund_rows(caller, Batch.fund_id), Batch.seq > after_seq)
            .order_by(Batch.seq)
            .limit(limit)
        )
    )


def batch_of(session: Session, caller: Caller, batch_id: str) -> Batch | None:
    """The batch, if it is the caller's."""
    statement = select(Batch).where(Batch.id == batch_id, tenancy.fund_rows(caller, Batch.fund_id))
    return session.scalars(statement).first()


def batch_exists(session: Session, batch_id: str) -> bool:
    return session.scalar(select(func.count()).where(Batch.id == batch_id)) == 1


def outbox(
    session: Session, caller: Caller, fund_id: str | None
) -> Sequence[Row[str, str, int, datetime]]:
    """(fund, state, records, oldest) of the records owed to the funds the caller may see.

    A fund sees its own (or its principal's); an auditor its territory's funds, every fund
    if national.
    """
    statement = select(
        Disclosure.fund_id, Disclosure.state, func.count(), func.min(Disclosure.created_at)
    ).group_by(Disclosure.fund_id, Disclosure.state)
    if caller.kind == ParticipantKind.FUND:
        statement = statement.where(tenancy.fund_rows(caller, Disclosure.fund_id))
    else:
        statement = statement.where(tenancy.auditor_rows(caller, Disclosure.fund_id))
    if fund_id is not None:
        statement = statement.where(Disclosure.fund_id == fund_id)
    return session.execute(statement.order_by(Disclosure.fund_id, Disclosure.state)).all()


# -- receipts ----------------------------------------------------------------------------


def receipt(session: Session, batch_id: str, *, fresh: bool = False) -> Receipt | None:
    """The batch's receipt, if recorded (``fresh``: read again from the database)."""
    return session.get(Receipt, batch_id, populate_existing=fresh)


def record_ids(session: Session, batch_id: str) -> set[str]:
    """The ids of the batch's records."""
    return set(session.scalars(select(Disclosure.id).where(Disclosure.batch_id == batch_id)))


def settle_records(
    session: Session, batch_id: str, rejected: Collection[str], now: datetime
) -> None:
    """The batch's records acknowledged, but those the fund rejected."""
    session.execute(
        update(Disclosure)
        .where(Disclosure.batch_id == batch_id, Disclosure.id.not_in(list(rejected)))
        .values(state=DisclosureState.ACKNOWLEDGED, updated_at=now)
    )
    if rejected:
        session.execute(
            update(Disclosure)
            .where(Disclosure.id.in_(list(rejected)))
            .values(state=DisclosureState.REJECTED, updated_at=now)
        )


def deliver_records(session: Session, batch_id: str, now: datetime) -> None:
    """The batch's sealed records delivered."""
    session.execute(
        update(Disclosure)
        .where(Disclosure.batch_id == batch_id, Disclosure.state == DisclosureState.SEALED)
        .values(state=DisclosureState.DELIVERED, updated_at=now)
    )


# -- push delivery -----------------------------------------------------------------------


@contextmanager
def push_lock(bind: Engine | Connection, fund_id: str) -> Iterator[tuple[bool, Connection | None]]:
    """Hold the fund's delivery lock for the block, on one connection kept for it.

    PostgreSQL: a session-level advisory lock, taken on a connection of its own (or on
    ``bind`` when it is a connection) and released on that same connection when the
    block ends. Yields (False, None) when another worker holds the lock, else (True, the
    connection), for the block's transactions. No transaction stays open while the lock
    is held. Should the worker die, the server releases the lock with the connection;
    should the release not answer true (the connection was lost, or the lock was not
    this connection's), the connection is discarded rather than pooled, so that no pooled
    connection ever holds a lock. SQLite: yields (True, None) after taking nothing; the
    caller's in-process exclusion is the lock (one worker per SQLite database).
    """
    if bind.dialect.name != "postgresql":
        yield True, None
        return
    own = isinstance(bind, Engine)
    connection = bind.connect() if isinstance(bind, Engine) else bind
    params = {"namespace": _PUSHING_LOCK, "key": _lock_key(fund_id)}
    taken = False
    try:
        taken = bool(
            connection.execute(
                text("SELECT pg_try_advisory_lock(:namespace, :key)"), params
            ).scalar_one()
        )
        if own:
            connection.commit()  # the lock outlives the transaction; nothing left open
        yield taken, connection if taken else None
    finally:
        if taken:
            _release_push_lock(connection, params, discard=own)
        if own:
            connection.close()


def _release_push_lock(connection: Connection, params: dict[str, int], *, discard: bool) -> None:
    released = False
    try:
        if connection.in_transaction() and discard:
            connection.rollback()  # a failed block's transaction, before the release
        released = bool(
            connection.execute(
                text("SELECT pg_advisory_unlock(:namespace, :key)"), params
            ).scalar_one()
        )
        if discard:
            connection.commit()
    except DBAPIError:
        log.warning("push lock release failed; the connection is discarded", exc_info=True)
    if not released:
        log.warning("push lock was not held at release; the connection is discarded")
        if discard:
            connection.invalidate()


def held_push_locks(session: Session) -> int:
    """How many push locks this database's sessions hold (all of them, every worker)."""
    statement = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = :namespace"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return int(session.execute(statement, {"namespace": _PUSHING_LOCK}).scalar_one())


def push_funds(session: Session) -> list[str]:
    """The active funds with a push endpoint."""
    statement = select(Participant.id).where(
        Participant.kind == ParticipantKind.FUND,
        Participant.status == ParticipantStatus.ACTIVE,
        Participant.push_endpoint.is_not(None),
    )
    return sorted(session.scalars(statement.order_by(Participant.id)).unique())


def next_unacknowledged(session: Session, fund_id: str) -> Batch | None:
    """The fund's oldest batch not yet acknowledged."""
    statement = (
        select(Batch)
        .where(Batch.fund_id == fund_id, Batch.state != BatchState.ACKNOWLEDGED)
        .order_by(Batch.seq)
        .limit(1)
    )
    return session.scalars(statement).first()


def push_state(session: Session, fund_id: str) -> PushState | None:
    return session.get(PushState, fund_id)


def batch(session: Session, batch_id: str) -> Batch:
    """A batch known to exist (by a row read before)."""
    return session.get_one(Batch, batch_id)


def attempts_of(session: Session, batch_id: str) -> int:
    """How many times the batch was pushed."""
    statement = select(func.count()).where(DeliveryAttempt.batch_id == batch_id)
    return int(session.scalar(statement) or 0)
