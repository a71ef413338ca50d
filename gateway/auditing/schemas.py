"""What auditors receive: proofs of the log, and pages of events.

An event is given with every field that enters its leaf in the Merkle log, as it enters
it (``audit.events``), and its place in the log: an auditor recomputes the leaf from the
answer alone and checks its inclusion proof against a signed checkpoint (``docs/audit.md``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from audit.events import canonical_instant, event_bytes, event_document
from gateway.auditing.spreadsheet import Output
from gateway.params import MAX_INT64, SAFE_TEXT_PATTERN, Instant, SafeText

# In JSON, an instant is written as it enters the leaf: UTC, always six fraction digits.
LeafInstant = Annotated[
    datetime,
    PlainSerializer(canonical_instant, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    event_id: str
    leaf_hash: str
    root_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


# The events' spreadsheet columns (``format=csv`` and the console's exports).
CSV_COLUMNS = (
    "id", "event_id", "occurred_at", "action", "outcome", "participant_id", "acting_for",
    "agent_id", "case_reference", "purpose", "object_ids", "subject_pseudonyms", "detail",
    "participant_kind", "request_id", "leaf_index", "leaf",
)  # fmt: skip


class EventOut(BaseModel):
    """An event: its leaf's fields (all but ``id`` and ``leaf_index``) and its log index."""

    id: int
    event_id: str
    occurred_at: Annotated[
        LeafInstant, Field(description="UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as in the leaf")
    ]
    action: str
    outcome: str
    participant_id: str | None
    acting_for: str | None
    agent_id: str | None
    case_reference: str | None
    purpose: str | None
    object_ids: list[Any]
    subject_pseudonyms: list[Any]
    detail: dict[str, Any]
    participant_kind: str | None
    request_id: str | None
    leaf_index: Annotated[
        int | None,
        Field(
            description="The event's index in the Merkle log (for its inclusion proof); "
            "null until the event is sequenced"
        ),
    ]

    @classmethod
    def of(cls, event: object, leaf_index: int | None) -> EventOut:
        """The answer for a stored event (``AuditEvent``) and its log index, if sequenced."""
        fields = {name: getattr(event, name) for name in cls.model_fields if name != "leaf_index"}
        return cls.model_validate({**fields, "leaf_index": leaf_index})

    def leaf_text(self) -> str:
        """The event's canonical bytes (RFC 8785 JSON), which its leaf hashes, as text."""
        return event_bytes(event_document(self)).decode()

    def csv_row(self) -> list[Any]:
        """The event as a spreadsheet row of ``CSV_COLUMNS``.

        ``leaf`` holds the bytes the log hashes, where a cell cannot tell null from "".
        """
        values = {**self.model_dump(mode="json"), "leaf": self.leaf_text()}
        return [values[column] for column in CSV_COLUMNS]


class EventPage(BaseModel):
    events: list[EventOut]
    next_after_id: int | None
    # Paging by log position (``after_index``): the next page's cursor, if any.
    next_after_index: int | None = None


_Text64 = Annotated[SafeText | None, Field(max_length=64, pattern=SAFE_TEXT_PATTERN)]
_Subject = {"max_length": 32, "pattern": SAFE_TEXT_PATTERN}


class SubjectIn(BaseModel):
    """A person, by an identifier, in a request's body: never in its URL.

    A URL is logged by every proxy on its way. Turned into its keyed pseudonym on arrival.
    """

    model_config = ConfigDict(extra="forbid")

    agdref_number: Annotated[SafeText | None, Field(max_length=16, pattern=SAFE_TEXT_PATTERN)] = (
        None
    )
    nir: Annotated[SafeText | None, Field(**_Subject)] = None


class EventSearch(SubjectIn):
    """``POST /v1/audit/events/search``: the filters of ``GET /v1/audit/events`` in a body.

    A person's number among them, and the page's cursor.
    """

    participant: _Text64 = None
    agent: _Text64 = None
    action: _Text64 = None
    purpose: _Text64 = None
    outcome: Annotated[SafeText | None, Field(max_length=16, pattern=SAFE_TEXT_PATTERN)] = None
    since: Instant | None = None
    until: Instant | None = None
    departement: Annotated[SafeText | None, Field(max_length=3, pattern=SAFE_TEXT_PATTERN)] = None
    after_id: int = Field(default=0, ge=0, le=MAX_INT64)
    after_index: int | None = Field(default=None, ge=-1, le=MAX_INT64)
    limit: int = Field(default=100, ge=1, le=1000)
    format: Output = "json"
