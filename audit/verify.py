"""Offline verification of an audit log export, with nothing but the public key.

An export is NDJSON: ``{"type": "event", "index": i, "event": {...}, "proof": [...]}``
for each event in log order, the proof being its inclusion proof in the tree of the
last checkpoint, and ``{"type": "checkpoint", "note": "..."}`` for each checkpoint.

The verifier checks every checkpoint's Ed25519 signature (C2SP signed note), recomputes
every event's leaf from its canonical bytes, checks each event's inclusion in the last
signed tree (which names the first event modified, removed, inserted or moved: its leaf
no longer fits the signed root at its place), recomputes each checkpoint's root from the
events, and checks the consistency of successive checkpoints.

An export is self-contained: one cut back to an older state of the log (its later events
and checkpoints dropped) is consistent with itself. What the auditor kept of the log
before, a checkpoint it saw signed (``Trusted``), rules that out: the export's signed log
must be at least that large, and its tree of that size must have that root.

Each problem says what failed and why (``Failure``), and names the checkpoint, by its
tree size, or the event, by its index.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from audit import merkle
from audit.checkpoints import Note, NoteError, checkpoint_keys, open_note, read_note
from audit.events import event_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


class Failure(StrEnum):
    """Why an export does not verify."""

    UNREADABLE = "unreadable"  # a line that is not an export entry
    NO_CHECKPOINT = "no-checkpoint"  # nothing signed
    MALFORMED = "malformed"  # a checkpoint that is not a signed note of a checkpoint
    BAD_SIGNATURE = "bad-signature"  # a checkpoint altered or forged
    UNKNOWN_KEY = "unknown-key"  # a checkpoint signed by no checkpoint key of the JWKS
    EVENT = "event"  # an event modified, removed, inserted or moved
    TRUNCATED = "truncated"  # fewer events than the last checkpoint signed
    ROOT_MISMATCH = "root-mismatch"  # a checkpoint's root is not that of the events
    INCONSISTENT = "inconsistent"  # a checkpoint not consistent with an earlier one
    ROLLED_BACK = "rolled-back"  # a log smaller than a trusted checkpoint


@dataclass(frozen=True)
class Trusted:
    """A checkpoint the auditor saw signed earlier: the log's size and root then."""

    tree_size: int
    root_hash: bytes
    source: str = "the trusted checkpoint"  # how problems name it


@dataclass(frozen=True)
class Problem:
    failure: Failure
    message: str
    checkpoint: int | None = None  # the tree size of the checkpoint that failed


@dataclass
class Report:
    events: int = 0
    checkpoints: int = 0
    issues: list[Problem] = field(default_factory=list)
    first_bad_index: int | None = None

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def problems(self) -> list[str]:
        return [issue.message for issue in self.issues]

    @property
    def failure(self) -> Failure | None:
        """Why the export fails: the first problem's reason."""
        return self.issues[0].failure if self.issues else None

    def fail(self, failure: Failure, message: str, checkpoint: int | None = None) -> None:
        self.issues.append(Problem(failure, message, checkpoint))


_NOTE_FAILURES = {
    "malformed": Failure.MALFORMED,
    "unknown-key": Failure.UNKNOWN_KEY,
    "bad-signature": Failure.BAD_SIGNATURE,
}


def _open_checkpoints(
    report: Report, notes: list[tuple[int, str]], keys: list[bytes]
) -> list[Note]:
    """The checkpoints that verify; a problem naming each one that does not."""
    opened: list[Note] = []
    for number, note in notes:
        try:
            opened.append(open_note(note, keys))
        except NoteError as error:
            size: int | None
            try:
                size = read_note(note)[0].tree_size  # what it claims: it names the note
                name = f"the checkpoint of size {size}"
            except NoteError:
                size, name = None, f"the checkpoint on line {number}"
            report.fail(
                _NOTE_FAILURES[error.reason], f"{name} does not verify: {error}", checkpoint=size
            )
    return opened


def verify(  # noqa: C901, PLR0912
    lines: Iterable[str], jwks: Mapping[str, Any], trusted: Sequence[Trusted] = ()
) -> Report:
    """Check an export against the public JWKS and what the auditor trusts already."""
    report = Report()
    keys = checkpoint_keys(jwks)
    events: list[dict[str, Any]] = []
    notes: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            kind = item["type"]
            if kind == "event":
                events.append(item)
            elif kind == "checkpoint":
                notes.append((number, str(item["note"])))
        except (ValueError, KeyError, TypeError):
            report.fail(Failure.UNREADABLE, f"line {number} of the export is not an export entry")
            return report
    report.events, report.checkpoints = len(events), len(notes)
    checkpoints = _open_checkpoints(report, notes, keys)
    if report.issues:
        return report
    if not checkpoints:
        report.fail(Failure.NO_CHECKPOINT, "the export holds no checkpoint: nothing is signed")
        return report
    checkpoints.sort(key=lambda c: c.tree_size)
    last = checkpoints[-1]
    leaves = [merkle.leaf_hash(event_bytes(item["event"])) for item in events]
    for position, item in enumerate(events[: last.tree_size]):
        proof = [base64.b64decode(h) for h in item.get("proof", [])]
        if item.get("index") != position or not merkle.verify_inclusion(
            leaves[position], position, last.tree_size, proof, last.root_hash
        ):
            report.first_bad_index = position
            event_id = item.get("event", {}).get("event_id")
            report.fail(
                Failure.EVENT,
                f"event at index {position} ({event_id}) does not fit the checkpoint of size "
                f"{last.tree_size}: it was modified, removed, inserted or moved",
                checkpoint=last.tree_size,
            )
            return report
    if len(events) < last.tree_size:
        report.first_bad_index = len(events)
        report.fail(
            Failure.TRUNCATED,
            f"the export is truncated: the checkpoint of size {last.tree_size} signs "
            f"{last.tree_size} events, the export has {len(events)}",
            checkpoint=last.tree_size,
        )
        return report
    previous: Note | None = None
    for checkpoint in checkpoints:
        if merkle.root_of_hashes(leaves[: checkpoint.tree_size]) != checkpoint.root_hash:
            report.fail(
                Failure.ROOT_MISMATCH,
                f"the checkpoint of size {checkpoint.tree_size} does not match the events: "
                "its root is not the root of the first "
                f"{checkpoint.tree_size} events (root mismatch)",
                checkpoint=checkpoint.tree_size,
            )
        if previous is not None and previous.tree_size > 0:
            proof = merkle.consistency_proof(leaves[: checkpoint.tree_size], previous.tree_size)
            if not merkle.verify_consistency(
                previous.tree_size,
                checkpoint.tree_size,
                previous.root_hash,
                checkpoint.root_hash,
                proof,
            ):
                report.fail(
                    Failure.INCONSISTENT,
                    f"the checkpoint of size {checkpoint.tree_size} is not consistent with "
                    f"the previous one, of size {previous.tree_size}",
                    checkpoint=checkpoint.tree_size,
                )
        previous = checkpoint
    for kept in trusted:
        _check_trusted(report, kept, last, leaves)
    return report


def _check_trusted(report: Report, kept: Trusted, last: Note, leaves: list[bytes]) -> None:
    """The export's signed log extends the one ``kept`` saw: no smaller, the same prefix."""
    if last.tree_size < kept.tree_size:
        report.fail(
            Failure.ROLLED_BACK,
            f"the export is rolled back or truncated: its last checkpoint, of size "
            f"{last.tree_size}, is older than {kept.source}, of size {kept.tree_size}",
            checkpoint=last.tree_size,
        )
        return
    if merkle.root_of_hashes(leaves[: kept.tree_size]) != kept.root_hash:
        report.fail(
            Failure.INCONSISTENT,
            f"the checkpoint of size {last.tree_size} is not consistent with {kept.source}, "
            f"of size {kept.tree_size}: the export's first {kept.tree_size} events have "
            "another root (a rewritten or forked log)",
            checkpoint=last.tree_size,
        )
