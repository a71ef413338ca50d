"""The identity table: every identity field sealed, only keyed blind indexes in clear.

A database dump without the keys reveals no identity: the row holds the ciphertext,
its wrapped data key and the id of the key that wraps it, blind indexes (HMAC under a
secret key, useless without it) and the département of residence, which routing needs
and which says nothing finer than the département.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.storage.base import Base, utcnow


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(64))
    bi_agdref: Mapped[str | None] = mapped_column(String(64), index=True)
    bi_ssn: Mapped[str | None] = mapped_column(String(64), index=True)
    bi_name_year_sex: Mapped[str | None] = mapped_column(String(80), index=True)
    residence_departement: Mapped[str | None] = mapped_column(String(3))
    # The rules (``gateway.identities.consistency``) its NIR or NIA breaks, space-separated,
    # when the policy accepts and flags them; names no value, only which fields disagree.
    nir_contradictions: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    shredded_at: Mapped[datetime | None] = mapped_column()


class IdentityMatchKey(Base):
    """A keyed blocking key of an identity: where name matching looks for candidates.

    Several per identity (surname sound and birth year, first-name sound and birth date,
    both sounds and the day of birth; see ``gateway.identities.matching``), each an HMAC
    under the blind-index key: like the blind indexes, useless without the key.
    """

    __tablename__ = "identity_match_keys"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    identity_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class MatchKeyScheme(Base):
    """How the stored blocking keys were made, and how far bringing them up to date went.

    One row (id 1). ``scheme`` is the ``matching.BLOCKING_SCHEME`` every stored identity's
    keys were made under; after an upgrade that changes it, the worker gives every identity
    new keys, a chunk per transaction, ``reindexed_after`` the last identity done, and
    then records the new scheme. A row missing counts as scheme 0: keys of unknown make.
    """

    __tablename__ = "identity_match_key_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[int] = mapped_column()
    reindexed_after: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
