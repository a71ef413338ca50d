"""An import and its per-line report, kept so the report can be fetched later."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow


class ImportStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # the file could not be read at all, or the upload broke off


class LineOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same decision was posted before, under the same reference
    REJECTED = "rejected"


class DecisionImport(Base):
    __tablename__ = "decision_imports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prefecture_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.RUNNING)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # The line-by-line report is purged after its retention; the counts stay.
    lines_purged_at: Mapped[datetime | None] = mapped_column()


class ImportLine(Base):
    __tablename__ = "decision_import_lines"

    import_id: Mapped[str] = mapped_column(
        ForeignKey("decision_imports.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(64))
    decision_id: Mapped[str | None] = mapped_column(String(36))
    errors: Mapped[list[Any]] = mapped_column(default=list)
