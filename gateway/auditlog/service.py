"""The tamper-evident audit log: events as RFC 6962 leaves, signed checkpoints, proofs.

- **Sequencing.** Every event is queued in its own transaction (``gateway.auditlog.writer``);
  ``sequence`` takes queued events in order, hashes their canonical bytes into leaves,
  stores the leaves and every subtree they complete (O(log n) per append, amortised
  O(1)), and empties the queue, all in one transaction under one lock (PostgreSQL
  advisory lock; SQLite has one writer): any process may write events, one sequences
  them, and a committed event is always logged, however late it commits.
- **Checkpoints.** ``sign_checkpoint`` signs the current size and root as a C2SP signed
  note (``audit.checkpoints``) with the gateway's Ed25519 checkpoint key; all are kept.
  Signers take turns (a PostgreSQL advisory lock; SQLite has one writer), so two workers
  signing at once never collide on a size: the second finds the checkpoint signed.
- **Proofs.** Inclusion and consistency proofs (RFC 9162) come from stored subtree
  hashes, one query each (``audit.tree``).

An event's canonical bytes (``audit.events``) are the RFC 8785 JSON of its columns; an
export of events and checkpoints is enough to check everything offline (``audit.verify``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audit import tree
from audit.checkpoints import checkpoint_body, sign_note
from audit.events import EVENT_FIELDS, JSON_FIELDS, event_document, stored_event_bytes
from audit.merkle import EMPTY_ROOT, leaf_hash
from gateway.auditlog import repository
from gateway.auditlog.repository import LogCorrupted
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from joserfc.jwk import OKPKey
    from sqlalchemy.orm import Session

__all__ = [
    "Checkpoint",
    "LogCorrupted",
    "consistency_proof",
    "export",
    "inclusion_proof",
    "latest_checkpoint_size",
    "needs_checkpoint",
    "sequence",
    "sign_checkpoint",
    "size_and_root",
]


def sequence(session: Session, *, limit: int = 20_000) -> int:
    """Append up to ``limit`` queued events to the log, in the caller's transaction."""
    repository.lock_sequencer(session)
    state = repository.state_for_update(session)
    rows = repository.queued_events(session, EVENT_FIELDS, limit, as_text=JSON_FIELDS)
    if not rows:
        return 0
    hashes = [leaf_hash(stored_event_bytes(row)) for row in rows]
    event_ids = [row[0] for row in rows]  # EVENT_FIELDS begins with event_id
    size = state.size
    frontier = repository.stored_nodes(session, tree.frontier_nodes(size))
    repository.append_leaves(
        session,
        [
            {"index": size + offset, "event_id": event_id, "leaf_hash": hashes[offset]}
            for offset, event_id in enumerate(event_ids)
        ],
        tree.appended_nodes(size, hashes, frontier),
        event_ids,
    )
    state.size = size + len(rows)
    state.updated_at = utcnow()
    return len(rows)


def size_and_root(session: Session, size: int | None = None) -> tuple[int, bytes]:
    """The log's size (or ``size``, if not beyond it) and its root hash."""
    log_size = repository.size(session)
    if size is None:
        size = log_size
    if not 0 <= size <= log_size:
        raise ValueError(f"the log has {log_size} entries, not {size}")
    if size == 0:
        return 0, EMPTY_ROOT
    nodes = repository.stored_nodes(session, tree.root_nodes(size))
    return size, tree.subtree_hash(0, size, nodes)


def inclusion_proof(session: Session, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, RFC 9162 inclusion proof) of entry ``index`` in the tree of ``size``."""
    size_and_root(session, size)  # checks the size
    ranges = tree.inclusion_ranges(index, size)
    nodes = repository.stored_nodes(session, [(0, index), *tree.needed_nodes(ranges)])
    return nodes[(0, index)], tree.hashes_of(ranges, nodes)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    size_and_root(session, new_size)
    ranges = tree.consistency_ranges(old_size, new_size)
    return tree.hashes_of(ranges, repository.stored_nodes(session, tree.needed_nodes(ranges)))


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    note: str


def needs_checkpoint(session: Session) -> bool:
    """True if the log has grown since its last checkpoint."""
    size = repository.size(session)
    latest = repository.latest_checkpoint_size(session)
    return size > 0 and (latest is None or latest < size)


def latest_checkpoint_size(session: Session) -> int | None:
    """The tree size of the latest checkpoint, if any."""
    return repository.latest_checkpoint_size(session)


def sign_checkpoint(
    session: Session, *, origin: str, key_name: str, kid: str, key: OKPKey
) -> Checkpoint | None:
    """Sign and keep a checkpoint of the log as it is, unless it has not grown since the last.

    One signer at a time: a second one waits for the first to commit, then finds the
    checkpoint of that size signed (None), or signs the log as it has grown since.
    """
    repository.lock_checkpoints(session)
    size, root_hash = size_and_root(session)
    latest = repository.latest_checkpoint_size(session)
    if latest is not None and latest >= size:
        return None
    note = sign_note(checkpoint_body(origin, size, root_hash), key_name, key)
    repository.add_checkpoint(session, tree_size=size, root_hash=root_hash, note=note, kid=kid)
    return Checkpoint(size, root_hash, note)


def export(session: Session) -> Iterator[str]:
    """The log as NDJSON lines, for ``audit.verify``.

    Each event with its inclusion proof in the last checkpoint's tree (from the stored
    subtree hashes), then every checkpoint.
    """
    checkpoints = repository.checkpoints(session)
    signed_size = checkpoints[-1].tree_size if checkpoints else 0
    nodes = repository.all_nodes(session)
    for index, event in repository.logged_events(session):
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
