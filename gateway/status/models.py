"""The status checks' table: rate-limit windows, shared by every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base


class RateWindow(Base):
    """The checks counted for one key (``fund:<id>``, ``agent:<fund>:<agent>``) in a window."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)
