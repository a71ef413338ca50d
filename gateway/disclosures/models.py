"""The disclosure table: each row is one version of a decision owed to one fund.

It records the policy version that decided it, its priority and the profile of fields
the fund receives; the batches move it through its states.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow


class DisclosureState(StrEnum):
    PENDING = "pending"
    SEALED = "sealed"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OWED_CONDITION = "state IN ('pending', 'sealed', 'delivered')"


class Disclosure(Base):
    __tablename__ = "disclosures"
    __table_args__ = (
        UniqueConstraint("decision_id", "version", "fund_id"),
        # A fund's outbox, most urgent and oldest first: the order batches take. Partial:
        # only pending rows are in it, so sealing a row removes it rather than moving it.
        Index(
            "ix_disclosures_outbox",
            "fund_id",
            "priority_rank",
            "created_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        # What is owed and not yet acknowledged, counted at each scrape of /metrics:
        # partial, so that the count costs what is owed, not the history.
        Index(
            "ix_disclosures_owed",
            "fund_id",
            "state",
            "priority_class",
            postgresql_where=text(OWED_CONDITION),
            sqlite_where=text(OWED_CONDITION),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"))
    version: Mapped[int] = mapped_column(Integer)
    fund_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    state: Mapped[str] = mapped_column(String(16), default=DisclosureState.PENDING)
    correction: Mapped[bool] = mapped_column(Boolean, default=False)
    priority_rank: Mapped[int] = mapped_column(Integer)
    priority_class: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(100))
    # No foreign key: sealing sets it on thousands of rows at once, and a per-row key
    # check would double the cost. The batch is inserted in the same transaction.
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
