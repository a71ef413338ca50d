"""The purge reports: one row per run, kept as evidence that retention is applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow


class PurgeRun(Base):
    __tablename__ = "purge_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    policy_version: Mapped[str] = mapped_column(String(100))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    as_of: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # Per class of data: its retention, its cutoff, and how many items were due and purged.
    classes: Mapped[dict[str, Any]] = mapped_column(default=dict)
