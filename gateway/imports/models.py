"""An import, its stored upload (sealed) and its per-line report.

The upload is stored as it came, in sealed chunks (the identity cipher: a fresh data key
per chunk), until the worker has processed every line; then the chunks are deleted and
the report stays, as long as its retention.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow


class ImportStatus(StrEnum):
    QUEUED = "queued"  # stored, waiting for a worker
    RUNNING = "running"  # a worker holds it (or held it, and another will resume it)
    DONE = "done"  # every line reported
    FAILED = "failed"  # the stored file could not be processed, after several attempts


PENDING = (ImportStatus.QUEUED, ImportStatus.RUNNING)


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
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.QUEUED)
    encoding: Mapped[str] = mapped_column(String(16), default="utf-8", server_default="utf-8")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Physical lines of the file, and the last one processed: the progress, and where a
    # worker resumes after a crash.
    lines_total: Mapped[int | None] = mapped_column(Integer)
    lines_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lines: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Who posted it, as authenticated then: the worker acts, and audits, as that caller.
    context: Mapped[dict[str, Any] | None] = mapped_column()
    # Single flight: the worker holding the lease until it expires; renewed every batch.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
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


class ImportChunk(Base):
    """One piece of a stored upload, sealed: ``seq`` 0, 1, 2... in the file's order."""

    __tablename__ = "decision_import_chunks"

    import_id: Mapped[str] = mapped_column(
        ForeignKey("decision_imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(64))
