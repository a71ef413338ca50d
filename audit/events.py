"""An audit event as the log hashes and exports it: its fields and canonical bytes.

Pure: what a stored event row or an export line becomes, byte for byte. The gateway
appends the leaf hash of ``event_bytes`` to its Merkle log; the offline verifier
(``audit.verify``) recomputes it from an export.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

from audit.canonical import NotCanonicalisable, canonical_json

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


def canonical_instant(value: datetime) -> str:
    """An instant as it enters the leaf: UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; naive is UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_document(event: Mapping[str, Any] | object) -> dict[str, Any]:
    """The event as the log hashes and exports it, from a mapping or a stored row."""
    if isinstance(event, Mapping):
        document = {field: event.get(field) for field in EVENT_FIELDS}
    else:
        document = {field: getattr(event, field) for field in EVENT_FIELDS}
    if isinstance(document["occurred_at"], datetime):
        document["occurred_at"] = canonical_instant(document["occurred_at"])
    return document


def event_bytes(document: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of an event document (the fast path unless a value needs more)."""
    try:
        return canonical_json(document)
    except NotCanonicalisable:
        return rfc8785.dumps(document)
