"""Batches, their receipts, the outcome of each record, and push deliveries.

A batch row holds the exact bytes sent (the compact JWS, or JWE when the fund has an
encryption key), encrypted at rest: what the fund verifies and what a dispute is
settled on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class BatchState(StrEnum):
    SEALED = "sealed"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"


UNACKNOWLEDGED_CONDITION = "state IN ('sealed', 'delivered')"


class Batch(Base):
    __tablename__ = "batches"
    # One seq per fund, and no other: the constraint behind the sealing lock.
    __table_args__ = (
        UniqueConstraint("fund_id", "seq"),
        Index("ix_batches_fund_state", "fund_id", "state", "seq"),
        # The batches without a receipt, counted at each scrape of /metrics: partial, so
        # that the count costs what waits, not the years of acknowledged batches.
        Index(
            "ix_batches_unacknowledged",
            "fund_id",
            "state",
            "created_at",
            postgresql_where=text(UNACKNOWLEDGED_CONDITION),
            sqlite_where=text(UNACKNOWLEDGED_CONDITION),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fund_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    seq: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(80))
    previous_digest: Mapped[str | None] = mapped_column(String(80))
    express: Mapped[bool] = mapped_column(Boolean, default=False)
    record_count: Mapped[int] = mapped_column(Integer)
    merkle_root: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(100))
    kid: Mapped[str] = mapped_column(String(200))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)  # to the fund (JWE)
    # The exact bytes sent, encrypted at rest (``gateway.batches.storage``).
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_nonce: Mapped[bytes] = mapped_column(LargeBinary)
    content_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once purged
    content_kek_id: Mapped[str] = mapped_column(String(64))
    content_shredded_at: Mapped[datetime | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default=BatchState.SEALED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()


class Receipt(Base):
    """A fund's signed receipt for one batch, kept byte for byte."""

    __tablename__ = "receipts"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    fund_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(80))
    kid: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column()  # as the fund states it
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcomes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # outcome -> count


class RecordOutcome(Base):
    """What the fund did with one record (one disclosure), from its receipt."""

    __tablename__ = "record_outcomes"

    disclosure_id: Mapped[str] = mapped_column(ForeignKey("disclosures.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(32))  # a connectors.wire.Outcome
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryAttempt(Base):
    """One push of a batch to a fund's endpoint, whatever came of it."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index("ix_delivery_attempts_batch", "batch_id", "attempt"),
        # Attempts counted per fund and outcome at each scrape of /metrics.
        Index("ix_delivery_attempts_fund", "fund_id", "accepted"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    fund_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))


class PushState(Base):
    """A push fund's delivery state: consecutive failures, next try, parked or not."""

    __tablename__ = "push_states"

    fund_id: Mapped[str] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    parked_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
