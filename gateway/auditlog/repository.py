"""Every query on the audit event table and its Merkle log.

The tables are append-only (database triggers refuse updates and deletes of events,
leaves, nodes and checkpoints); the queue is emptied as events are sequenced.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, Text, cast, delete, func, insert, select, text, tuple_

from gateway.auditlog.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditLogLeaf,
    AuditLogNode,
    AuditLogQueue,
    AuditLogState,
)
from gateway.storage.base import utcnow
from gateway.storage.bulk import insert_rows, one_of

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Sequence

    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from audit.tree import Coordinate

_SEQUENCER_LOCK = (0x0A0D, 1)  # the sequencer's advisory lock
_CHECKPOINT_LOCK = (0x0A0D, 2)  # the checkpoint signer's advisory lock
_NODES_PER_QUERY = 500


class LogCorrupted(RuntimeError):
    """The stored tree is missing nodes it must have: the database was altered."""


# -- events ----------------------------------------------------------------------------


def add_event(session: Session, row: dict[str, Any]) -> AuditEvent:
    """Add one event (``writer.as_row`` shaped) and queue it for the log, in the session."""
    event = AuditEvent(**row)
    session.add(event)
    session.add(AuditLogQueue(event_id=event.event_id, queued_at=event.occurred_at))
    return event


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert a request's few events (``writer.as_row`` shaped) and queue them for the log.

    In the session's transaction: plain inserts, without the ORM's unit of work.
    """
    connection = session.connection()
    connection.execute(_insert(AuditEvent), rows)
    connection.execute(_insert(AuditLogQueue), _queued(rows))


@cache
def _insert(model: type[AuditEvent | AuditLogQueue]) -> Any:
    table: Table = model.__table__  # type: ignore[assignment]
    return insert(table)


def known_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    """Those of ``event_ids`` already in the event table."""
    found = session.scalars(
        select(AuditEvent.event_id).where(one_of(session, AuditEvent.event_id, event_ids))
    )
    return set(found)


def copy_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert events and queue them for the log, by COPY on PostgreSQL (the hot paths)."""
    insert_rows(session, AuditEvent, rows)
    insert_rows(session, AuditLogQueue, _queued(rows))


def _queued(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"event_id": row["event_id"], "queued_at": row["occurred_at"]} for row in rows]


# -- the log ---------------------------------------------------------------------------


def lock_sequencer(session: Session) -> None:
    """One sequencer at a time (PostgreSQL advisory lock; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"),
            {"a": _SEQUENCER_LOCK[0], "b": _SEQUENCER_LOCK[1]},
        )


def lock_checkpoints(session: Session) -> None:
    """One checkpoint signer at a time, until the transaction ends.

    A PostgreSQL advisory lock, waited for: signing takes milliseconds. SQLite has one
    writer.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"),
            {"a": _CHECKPOINT_LOCK[0], "b": _CHECKPOINT_LOCK[1]},
        )


def state_for_update(session: Session) -> AuditLogState:
    """The log's state row, locked (created empty the first time)."""
    state = session.get(AuditLogState, 1, with_for_update=True)
    if state is None:
        state = AuditLogState(id=1, size=0, updated_at=utcnow())
        session.add(state)
        session.flush()
    return state


def size(session: Session) -> int:
    """The number of events in the log."""
    state = session.get(AuditLogState, 1)
    return state.size if state is not None else 0


def queued_events(
    session: Session, fields: Sequence[str], limit: int, *, as_text: Collection[str] = ()
) -> Sequence[Row[Any]]:
    """The ``fields`` of up to ``limit`` queued events, in the order they were written.

    Those named in ``as_text`` come as the database writes them (JSON as its text, not
    decoded). Core rows, not ORM ones: thousands a call.
    """
    columns = [
        cast(getattr(AuditEvent, name), Text) if name in as_text else getattr(AuditEvent, name)
        for name in fields
    ]
    found: Sequence[Row[Any]] = (
        session.connection()
        .execute(
            select(*columns)
            .join(AuditLogQueue, AuditLogQueue.event_id == AuditEvent.event_id)
            .order_by(AuditEvent.id)
            .limit(limit)
        )
        .all()
    )
    return found


def append_leaves(
    session: Session,
    leaves: list[dict[str, Any]],
    nodes: dict[Coordinate, bytes],
    event_ids: list[str],
) -> None:
    """Store new leaves and the subtrees they complete; take their events off the queue."""
    insert_rows(session, AuditLogLeaf, leaves)
    insert_rows(
        session,
        AuditLogNode,
        [
            {"level": level, "index": index, "hash": value}
            for (level, index), value in nodes.items()
        ],
    )
    session.execute(
        delete(AuditLogQueue)
        .where(one_of(session, AuditLogQueue.event_id, event_ids))
        .execution_options(synchronize_session=False)
    )


def stored_nodes(session: Session, coordinates: Iterable[Coordinate]) -> dict[Coordinate, bytes]:
    """The stored subtree hashes at ``coordinates``; ``LogCorrupted`` if any is missing."""
    wanted = list(set(coordinates))
    found: dict[Coordinate, bytes] = {}
    for start in range(0, len(wanted), _NODES_PER_QUERY):
        chunk = wanted[start : start + _NODES_PER_QUERY]
        statement = select(AuditLogNode.level, AuditLogNode.index, AuditLogNode.hash).where(
            tuple_(AuditLogNode.level, AuditLogNode.index).in_(chunk)
        )
        found.update({(level, index): value for level, index, value in session.execute(statement)})
    missing = set(wanted) - found.keys()
    if missing:
        raise LogCorrupted(f"{len(missing)} stored subtree hashes are missing")
    return found


def all_nodes(session: Session) -> dict[Coordinate, bytes]:
    """Every stored subtree hash (for an export)."""
    statement = select(AuditLogNode.level, AuditLogNode.index, AuditLogNode.hash)
    return {(level, index): value for level, index, value in session.execute(statement)}


def leaf(
    session: Session, *, index: int | None = None, event_id: str | None = None
) -> AuditLogLeaf | None:
    """The log entry at ``index``, or the one of ``event_id``."""
    statement = select(AuditLogLeaf)
    if index is not None:
        statement = statement.where(AuditLogLeaf.index == index)
    else:
        statement = statement.where(AuditLogLeaf.event_id == event_id)
    return session.scalars(statement).first()


def leaf_indexes(session: Session, event_ids: Sequence[str]) -> dict[str, int]:
    """The log index of each of these events that is sequenced (absent: not yet)."""
    if not event_ids:
        return {}
    statement = select(AuditLogLeaf.event_id, AuditLogLeaf.index).where(
        one_of(session, AuditLogLeaf.event_id, list(event_ids))
    )
    return dict(session.execute(statement).all())


def logged_events(session: Session) -> Iterator[tuple[int, AuditEvent]]:
    """(index, event) of every logged event, in log order."""
    rows = session.execute(
        select(AuditLogLeaf.index, AuditEvent)
        .join(AuditEvent, AuditEvent.event_id == AuditLogLeaf.event_id)
        .order_by(AuditLogLeaf.index)
    )
    yield from ((index, event) for index, event in rows)


# -- checkpoints -----------------------------------------------------------------------


def latest_checkpoint_size(session: Session) -> int | None:
    return session.scalar(select(func.max(AuditCheckpoint.tree_size)))


def checkpoint(session: Session, tree_size: int | None = None) -> AuditCheckpoint | None:
    """The latest checkpoint, or the one of ``tree_size``."""
    statement = select(AuditCheckpoint)
    if tree_size is not None:
        statement = statement.where(AuditCheckpoint.tree_size == tree_size)
    return session.scalars(statement.order_by(AuditCheckpoint.tree_size.desc()).limit(1)).first()


def checkpoints(session: Session) -> list[AuditCheckpoint]:
    """Every checkpoint, smallest tree first."""
    return list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)))


def add_checkpoint(
    session: Session, *, tree_size: int, root_hash: bytes, note: str, kid: str
) -> None:
    session.add(
        AuditCheckpoint(
            tree_size=tree_size, root_hash=root_hash, note=note, kid=kid, signed_at=utcnow()
        )
    )
    session.flush()
