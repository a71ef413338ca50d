"""Participant tables: the registry, territories (département codes) and delegations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.storage.base import Base, utcnow


class ParticipantKind(StrEnum):
    PREFECTURE = "prefecture"
    FUND = "fund"
    AUDITOR = "auditor"
    OPERATOR = "operator"


class ParticipantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Regime(StrEnum):
    """The body a fund belongs to (domain.md, "Funds and their territories")."""

    CPAM = "cpam"
    CAF = "caf"
    MSA = "msa"
    URSSAF = "urssaf"
    CARSAT = "carsat"
    CGSS = "cgss"
    CSS_MAYOTTE = "css-mayotte"


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ParticipantStatus.ACTIVE)
    regime: Mapped[str | None] = mapped_column(String(16))
    national: Mapped[bool] = mapped_column(Boolean, default=False)
    jwks: Mapped[dict[str, Any]] = mapped_column()
    encryption_jwk: Mapped[dict[str, Any] | None] = mapped_column()
    push_endpoint: Mapped[str | None] = mapped_column(String(500))
    require_dpop: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    territories: Mapped[list[ParticipantTerritory]] = relationship(
        cascade="all, delete-orphan", lazy="joined", order_by="ParticipantTerritory.departement"
    )
    delegations: Mapped[list[Delegation]] = relationship(
        cascade="all, delete-orphan",
        lazy="joined",
        foreign_keys="Delegation.delegate_id",
        order_by="Delegation.principal_id",
    )

    @property
    def departements(self) -> list[str]:
        return [territory.departement for territory in self.territories]

    @property
    def acts_for(self) -> list[str]:
        return [delegation.principal_id for delegation in self.delegations]

    @property
    def active(self) -> bool:
        return self.status == ParticipantStatus.ACTIVE


class ParticipantTerritory(Base):
    """One département a participant covers: a prefecture's, a fund's, an auditor's."""

    __tablename__ = "participant_territories"

    participant_id: Mapped[str] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    departement: Mapped[str] = mapped_column(String(3), primary_key=True, index=True)


class Delegation(Base):
    """A participant (say, a national IT centre) allowed to act for another of its kind."""

    __tablename__ = "participant_delegations"

    delegate_id: Mapped[str] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    principal_id: Mapped[str] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# Every process that loads the tables tells of their changes (``changes``' docstring).
from gateway.participants import changes  # noqa: E402, F401
