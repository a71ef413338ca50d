"""Decisions and their versions: nothing is overwritten, every version stays readable.

``Decision`` is the prefecture's decision as a whole (its reference, current status);
``DecisionVersion`` is one state of it: the original, then one per correction.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.storage.base import Base, utcnow


class DecisionKind(StrEnum):
    """The kinds of ``domain.md``; the last three are recorded but never disclosed."""

    PERMIT_WITHDRAWAL = "permit-withdrawal"  # retrait de titre, also of a récépissé or APS
    RENEWAL_REFUSAL = "renewal-refusal"  # refus de renouvellement
    FIRST_PERMIT_REFUSAL = "first-permit-refusal"  # refus de délivrance
    OQTF = "oqtf"  # obligation to leave, alone
    IRTF = "irtf"  # ban on return, alone
    EXPULSION = "expulsion"  # expulsion order, alone


RESIDENCE_DECISIONS = frozenset(
    {
        DecisionKind.PERMIT_WITHDRAWAL,
        DecisionKind.RENEWAL_REFUSAL,
        DecisionKind.FIRST_PERMIT_REFUSAL,
    }
)


class WithdrawnDocument(StrEnum):
    PERMIT = "permit"  # titre de séjour
    RECEIPT = "receipt"  # récépissé
    APS = "aps"  # autorisation provisoire de séjour


class RemovalMeasure(StrEnum):
    OQTF = "oqtf"
    IRTF = "irtf"
    EXPULSION = "expulsion"


class DecisionStatus(StrEnum):
    ACTIVE = "active"
    ANNULLED = "annulled"  # by a court
    WITHDRAWN = "withdrawn"  # withdrawn or abrogated by the prefecture
    SUPERSEDED = "superseded"  # a new permit was issued


class CorrectionKind(StrEnum):
    ANNULMENT = "annulment"
    WITHDRAWAL = "withdrawal"
    SUPERSEDED = "superseded"
    DATA_CORRECTION = "data-correction"


ENDING_CORRECTIONS = {
    CorrectionKind.ANNULMENT: DecisionStatus.ANNULLED,
    CorrectionKind.WITHDRAWAL: DecisionStatus.WITHDRAWN,
    CorrectionKind.SUPERSEDED: DecisionStatus.SUPERSEDED,
}


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("prefecture_id", "reference"),
        Index("ix_decisions_prefecture_created", "prefecture_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prefecture_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    reference: Mapped[str] = mapped_column(String(64))
    # No single-column indexes on these: every query starts from the prefecture (the
    # composite index), and each index costs on the import's hot path.
    departement: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=DecisionStatus.ACTIVE)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[DecisionVersion]] = relationship(
        order_by="DecisionVersion.version", lazy="raise", back_populates="decision"
    )


class DecisionVersion(Base):
    __tablename__ = "decision_versions"
    __table_args__ = (
        UniqueConstraint("decision_id", "version"),
        UniqueConstraint("decision_id", "correction_reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Looked up through the (decision_id, version) unique index.
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"))
    version: Mapped[int] = mapped_column(Integer)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    withdrawn_document: Mapped[str | None] = mapped_column(String(16))
    removal_measures: Mapped[list[Any]] = mapped_column(default=list)
    public_order: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_date: Mapped[date] = mapped_column(Date)
    notification_date: Mapped[date | None] = mapped_column(Date)
    effect_date: Mapped[date | None] = mapped_column(Date)
    permit_category: Mapped[str | None] = mapped_column(String(64))
    permit_expiry: Mapped[date | None] = mapped_column(Date)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    correction_kind: Mapped[str | None] = mapped_column(String(32))
    correction_reference: Mapped[str | None] = mapped_column(String(64))
    correction_date: Mapped[date | None] = mapped_column(Date)
    body_digest: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    decision: Mapped[Decision] = relationship(back_populates="versions", lazy="raise")
