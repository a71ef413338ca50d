"""What the batch routes answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    digest: str
    previous_digest: str | None
    record_count: int
    express: bool
    encrypted: bool
    state: str
    created_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None


class BatchList(BaseModel):
    batches: list[BatchOut]
    next_after_seq: int | None


class ReceiptOut(BaseModel):
    batch_id: str
    digest: str
    received_at: datetime
    recorded_at: datetime
    outcomes: dict[str, Any]
    already_recorded: bool


class OutboxLine(BaseModel):
    """How many records owed to one fund stand in one state, and since when."""

    fund_id: str
    state: str
    records: int
    oldest: datetime


class Outbox(BaseModel):
    lines: list[OutboxLine]
