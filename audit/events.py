"""An audit event as the log hashes and exports it: its fields and canonical bytes.

Pure: what a stored event row or an export line becomes, byte for byte. The gateway
appends the leaf hash of ``event_bytes`` to its Merkle log; the offline verifier
(``audit.verify``) recomputes it from an export.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
JSON_FIELDS = ("object_ids", "subject_pseudonyms", "detail")  # stored as JSON


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


class _Refused(ValueError):
    """A float or a non-finite constant: the general serialiser decides what it becomes."""


def _refuse(text: str) -> Any:
    raise _Refused(text)


_PLAIN_JSON = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse)


def _plain_value(text: str) -> Any:
    """The JSON value ``text`` holds, without the whitespace scans of ``json.loads``."""
    value, end = _PLAIN_JSON.raw_decode(text)
    if end != len(text):  # anything after the value (whitespace): the plain decoder decides
        raise _Refused(text)
    return value


def stored_event_bytes(values: Sequence[Any]) -> bytes:
    """RFC 8785 bytes of a stored event: its ``EVENT_FIELDS`` values, ``JSON_FIELDS`` as text.

    The sequencer's path. When every JSON text is ASCII without escapes (so every key is
    ASCII) and holds no float, the decoded values are of the shape ``canonical_json``
    guarantees, and it writes them unchecked; otherwise the values are decoded plainly
    and go the way of ``event_bytes``. The bytes are the same either way (the tests
    compare them with ``event_bytes`` of the same event).
    """
    document = dict(zip(EVENT_FIELDS, values, strict=True))
    document["occurred_at"] = canonical_instant(document["occurred_at"])
    texts = [document[name] for name in JSON_FIELDS]
    if all(text is None or (text.isascii() and "\\u" not in text) for text in texts):
        try:
            for name, text in zip(JSON_FIELDS, texts, strict=True):
                if text is not None:
                    document[name] = _plain_value(text)
            return canonical_json(document, checked=False)
        except (_Refused, json.JSONDecodeError):
            pass
    for name, text in zip(JSON_FIELDS, texts, strict=True):
        document[name] = None if text is None else json.loads(text)
    return event_bytes(document)
