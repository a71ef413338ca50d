"""What auditors receive: proofs of the log, and pages of events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


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


class EventOut(BaseModel):
    id: int
    event_id: str
    occurred_at: datetime
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


class EventPage(BaseModel):
    events: list[EventOut]
    next_after_id: int | None
