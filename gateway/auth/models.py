"""The table of one-time identifiers: a client assertion's or a DPoP proof's ``jti``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base

MAX_JTI_LENGTH = 256  # the column's; a longer jti is refused before it is stored


class UsedJti(Base):
    """A ``jti`` seen once, kept until the token it came with has expired anyway."""

    __tablename__ = "used_jtis"

    namespace: Mapped[str] = mapped_column(String(16), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(128), primary_key=True)
    jti: Mapped[str] = mapped_column(String(MAX_JTI_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
