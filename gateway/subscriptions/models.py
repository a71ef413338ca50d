"""The subscription tables: a fund's current set of blind indexes, and its uploads.

A row says "this fund holds a file on the person with this identifier, from this date
until that one". Only the keyed blind index of the identifier is stored (the same HMAC
as the identity table's ``bi_agdref`` and ``bi_ssn``), so the table names nobody.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        # Routing asks: which funds hold a file on this person on this date?
        Index("ix_subscriptions_blind_index", "blind_index", "fund_id"),
        Index("ix_subscriptions_fund_id", "fund_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fund_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    blind_index: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # inclusive; None: still open
    upload_id: Mapped[str] = mapped_column(String(36))


class SubscriptionUpload(Base):
    """One accepted upload: it replaced the fund's whole set."""

    __tablename__ = "subscription_uploads"
    __table_args__ = (Index("ix_subscription_uploads_fund_id", "fund_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fund_id: Mapped[str] = mapped_column(ForeignKey("participants.id"))
    file_format: Mapped[str] = mapped_column(String(16))
    lines: Mapped[int] = mapped_column(Integer)
    people: Mapped[int] = mapped_column(Integer)
    identifiers: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
