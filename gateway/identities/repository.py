"""Every query on identities of their own (status checks look them up in ``gateway.status``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, select

from gateway.identities.models import Identity, IdentityMatchKey

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session


def get(session: Session, identity_id: str) -> Identity:
    """The identity (it exists: a decision version names it)."""
    return session.get_one(Identity, identity_id)


def without_match_keys(session: Session, after: str, limit: int) -> Sequence[Identity]:
    """Unshredded identities with no blocking key, in id order after ``after``."""
    return session.scalars(
        select(Identity)
        .where(
            Identity.id > after,
            Identity.shredded_at.is_(None),
            ~exists().where(IdentityMatchKey.identity_id == Identity.id),
        )
        .order_by(Identity.id)
        .limit(limit)
    ).all()
