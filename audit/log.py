"""The tamper-evident audit log: events as RFC 6962 leaves, signed checkpoints, proofs.

- **Sequencing.** Every event is queued in its own transaction (``audit.writer``);
  ``sequence`` takes queued events in order, hashes their canonical bytes into leaves,
  stores the leaves and every subtree they complete (O(log n) per append, amortised
  O(1)), and empties the queue, all in one transaction under one lock (PostgreSQL
  advisory lock; SQLite has one writer): any process may write events, one sequences
  them, and a committed event is always logged, however late it commits.
- **Checkpoints.** ``sign_checkpoint`` signs the current size and root as a C2SP signed
  note (``tlog-checkpoint``) with the gateway's Ed25519 checkpoint key; all are kept.
- **Proofs.** Inclusion and consistency proofs (RFC 9162) come from stored subtree
  hashes, one query each (``audit.tree``).

An event's canonical bytes (``event_bytes``) are the RFC 8785 JSON of its columns; an
export of events and checkpoints is enough to check everything offline (``audit verify``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import rfc8785
from sqlalchemy import delete, func, select, text, tuple_

from audit import tree
from audit.canonical import NotCanonicalisable, canonical_json
from audit.merkle import EMPTY_ROOT, leaf_hash
from audit.models import (
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
    from collections.abc import Iterable, Iterator

    from joserfc.jwk import OKPKey
    from sqlalchemy.orm import Session

_LOCK = (0x0A0D, 1)  # the sequencer's advisory lock
EVENT_FIELDS = (
    "event_id",
    "occurred_at",
    "action",
    "outcome",
    "participant_id",
    "participant_kind",
    "acting_for",
    "agent_id",
    "case_reference",
    "purpose",
    "request_id",
    "object_ids",
    "subject_pseudonyms",
    "detail",
)
ED25519_NOTE_ALG = b"\x01"


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_document(event: AuditEvent | dict[str, Any]) -> dict[str, Any]:
    """The event as the log hashes and exports it."""
    values = event if isinstance(event, dict) else {f: getattr(event, f) for f in EVENT_FIELDS}
    document = {field: values.get(field) for field in EVENT_FIELDS}
    if isinstance(document["occurred_at"], datetime):
        document["occurred_at"] = _instant(document["occurred_at"])
    return document


def event_bytes(document: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of an event document (the fast path unless a value needs more)."""
    try:
        return canonical_json(document)
    except NotCanonicalisable:
        return rfc8785.dumps(document)


def _state(session: Session) -> AuditLogState:
    state = session.get(AuditLogState, 1, with_for_update=True)
    if state is None:
        state = AuditLogState(id=1, size=0, updated_at=utcnow())
        session.add(state)
        session.flush()
    return state


def stored_nodes(
    session: Session, coordinates: Iterable[tree.Coordinate]
) -> dict[tree.Coordinate, bytes]:
    wanted = list(set(coordinates))
    found: dict[tree.Coordinate, bytes] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        statement = select(AuditLogNode.level, AuditLogNode.index, AuditLogNode.hash).where(
            tuple_(AuditLogNode.level, AuditLogNode.index).in_(chunk)
        )
        found.update({(level, index): value for level, index, value in session.execute(statement)})
    missing = set(wanted) - found.keys()
    if missing:
        raise LogCorrupted(f"{len(missing)} stored subtree hashes are missing")
    return found


class LogCorrupted(RuntimeError):
    """The stored tree is missing nodes it must have: the database was altered."""


def sequence(session: Session, *, limit: int = 20_000) -> int:
    """Append up to ``limit`` queued events to the log, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _LOCK[0], "b": _LOCK[1]}
        )
    state = _state(session)
    columns = [getattr(AuditEvent, name) for name in EVENT_FIELDS]
    rows = session.execute(
        select(*columns)
        .join(AuditLogQueue, AuditLogQueue.event_id == AuditEvent.event_id)
        .order_by(AuditEvent.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    documents = [event_document(dict(zip(EVENT_FIELDS, row, strict=True))) for row in rows]
    hashes = [leaf_hash(event_bytes(document)) for document in documents]
    event_ids = [document["event_id"] for document in documents]
    size = state.size
    made = tree.appended_nodes(size, hashes, stored_nodes(session, tree.frontier_nodes(size)))
    insert_rows(
        session,
        AuditLogLeaf,
        [
            {"index": size + offset, "event_id": event_id, "leaf_hash": hashes[offset]}
            for offset, event_id in enumerate(event_ids)
        ],
    )
    insert_rows(
        session,
        AuditLogNode,
        [{"level": level, "index": index, "hash": value} for (level, index), value in made.items()],
    )
    session.execute(
        delete(AuditLogQueue)
        .where(one_of(session, AuditLogQueue.event_id, event_ids))
        .execution_options(synchronize_session=False)
    )
    state.size = size + len(rows)
    state.updated_at = utcnow()
    return len(rows)


def size_and_root(session: Session, size: int | None = None) -> tuple[int, bytes]:
    """The log's size (or ``size``, if not beyond it) and its root hash."""
    current = session.get(AuditLogState, 1)
    log_size = current.size if current is not None else 0
    if size is None:
        size = log_size
    if not 0 <= size <= log_size:
        raise ValueError(f"the log has {log_size} entries, not {size}")
    if size == 0:
        return 0, EMPTY_ROOT
    nodes = stored_nodes(session, tree.root_nodes(size))
    return size, tree.subtree_hash(0, size, nodes)


def inclusion_proof(session: Session, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, RFC 9162 inclusion proof) of entry ``index`` in the tree of ``size``."""
    size_and_root(session, size)  # checks the size
    ranges = tree.inclusion_ranges(index, size)
    nodes = stored_nodes(session, [(0, index), *tree.needed_nodes(ranges)])
    return nodes[(0, index)], tree.hashes_of(ranges, nodes)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    size_and_root(session, new_size)
    ranges = tree.consistency_ranges(old_size, new_size)
    return tree.hashes_of(ranges, stored_nodes(session, tree.needed_nodes(ranges)))


# -- checkpoints (C2SP signed-note / tlog-checkpoint) ---------------------------------


def note_key_id(name: str, public_key: bytes) -> bytes:
    r"""The 4-byte key id of a signed-note Ed25519 key: SHA-256(name || \\n || 0x01 || key)."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_NOTE_ALG + public_key).digest()[:4]


def checkpoint_body(origin: str, size: int, root_hash: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode()}\n"


def sign_note(body: str, name: str, key: OKPKey) -> str:
    """The signed note: the body, a blank line, and one Ed25519 signature line."""
    private = key.private_key
    public = key.public_key.public_bytes_raw()
    signature = private.sign(body.encode())  # type: ignore[union-attr]
    stamp = base64.b64encode(note_key_id(name, public) + signature).decode()
    return f"{body}\n\u2014 {name} {stamp}\n"


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    note: str


def needs_checkpoint(session: Session) -> bool:
    """True if the log has grown since its last checkpoint."""
    state = session.get(AuditLogState, 1)
    size = state.size if state is not None else 0
    latest = session.scalar(select(func.max(AuditCheckpoint.tree_size)))
    return size > 0 and (latest is None or latest < size)


def sign_checkpoint(
    session: Session, *, origin: str, key_name: str, kid: str, key: OKPKey
) -> Checkpoint | None:
    """Sign and keep a checkpoint of the log as it is, unless it has not grown since the last."""
    size, root_hash = size_and_root(session)
    latest = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
    ).first()
    if latest is not None and latest.tree_size >= size:
        return None
    note = sign_note(checkpoint_body(origin, size, root_hash), key_name, key)
    session.add(
        AuditCheckpoint(tree_size=size, root_hash=root_hash, note=note, kid=kid, signed_at=utcnow())
    )
    session.flush()
    return Checkpoint(size, root_hash, note)


def export(session: Session) -> Iterator[str]:
    """The log as NDJSON lines, for ``audit.verify``.

    Each event with its inclusion proof in the last checkpoint's tree (from the stored
    subtree hashes), then every checkpoint.
    """
    checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)))
    signed_size = checkpoints[-1].tree_size if checkpoints else 0
    nodes = {
        (level, index): value
        for level, index, value in session.execute(
            select(AuditLogNode.level, AuditLogNode.index, AuditLogNode.hash)
        )
    }
    rows = session.execute(
        select(AuditLogLeaf.index, AuditEvent)
        .join(AuditEvent, AuditEvent.event_id == AuditLogLeaf.event_id)
        .order_by(AuditLogLeaf.index)
    )
    for index, event in rows:
        proof: list[bytes] = []
        if index < signed_size:
            proof = tree.hashes_of(tree.inclusion_ranges(index, signed_size), nodes)
        yield json.dumps(
            {
                "type": "event",
                "index": index,
                "event": event_document(event),
                "proof": [base64.b64encode(h).decode() for h in proof],
            },
            ensure_ascii=False,
        )
    for checkpoint in checkpoints:
        yield json.dumps({"type": "checkpoint", "note": checkpoint.note})
