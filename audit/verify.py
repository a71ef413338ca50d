"""Offline verification of an audit log export, with nothing but the public key.

An export is NDJSON: ``{"type": "event", "index": i, "event": {...}, "proof": [...]}``
for each event in log order, the proof being its inclusion proof in the tree of the
last checkpoint, and ``{"type": "checkpoint", "note": "..."}`` for each checkpoint.

The verifier checks every checkpoint's Ed25519 signature (C2SP signed note), recomputes
every event's leaf from its canonical bytes, checks each event's inclusion in the last
signed tree (which names the first event modified, removed, inserted or moved: its leaf
no longer fits the signed root at its place), recomputes each checkpoint's root from the
events, and checks the consistency of successive checkpoints.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit import merkle
from audit.checkpoints import Note, checkpoint_keys, open_note
from audit.events import event_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


@dataclass
class Report:
    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_index: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(lines: Iterable[str], jwks: Mapping[str, Any]) -> Report:  # noqa: C901, PLR0912
    report = Report()
    keys = checkpoint_keys(jwks)
    events: list[dict[str, Any]] = []
    notes: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            kind = item["type"]
        except (ValueError, KeyError, TypeError):
            report.problems.append(f"line {number} of the export is not an export entry")
            return report
        if kind == "event":
            events.append(item)
        elif kind == "checkpoint":
            notes.append(item["note"])
    report.events, report.checkpoints = len(events), len(notes)
    checkpoints: list[Note] = []
    for note in notes:
        try:
            checkpoints.append(open_note(note, keys))
        except ValueError as error:
            report.problems.append(f"a checkpoint does not verify: {error}")
    if report.problems:
        return report
    if not checkpoints:
        report.problems.append("the export holds no checkpoint: nothing is signed")
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
            report.problems.append(
                f"event at index {position} ({event_id}) does not fit the signed log: it was "
                "modified, removed, inserted or moved"
            )
            return report
    if len(events) < last.tree_size:
        report.first_bad_index = len(events)
        report.problems.append(
            f"the export is truncated: the signed log has {last.tree_size} events, "
            f"the export {len(events)}"
        )
        return report
    previous: Note | None = None
    for checkpoint in checkpoints:
        if merkle.root_of_hashes(leaves[: checkpoint.tree_size]) != checkpoint.root_hash:
            report.problems.append(
                f"the checkpoint of size {checkpoint.tree_size} does not match the events"
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
                report.problems.append(
                    f"the checkpoints of sizes {previous.tree_size} and {checkpoint.tree_size} "
                    "are not consistent"
                )
        previous = checkpoint
    return report
