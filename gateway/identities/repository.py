"""Every query on identities of their own (status checks look them up in ``gateway.status``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, select

from gateway.identities.models import Identity, IdentityMatchKey, MatchKeyScheme
from gateway.storage.bulk import AMONG_CHUNK, among, insert_rows

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

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


def unshredded(session: Session, after: str, limit: int) -> Sequence[Identity]:
    """Unshredded identities, keys or not, in id order after ``after``."""
    return session.scalars(
        select(Identity)
        .where(Identity.id > after, Identity.shredded_at.is_(None))
        .order_by(Identity.id)
        .limit(limit)
    ).all()


def drop_match_keys(session: Session, identity_ids: Collection[str]) -> None:
    """Delete these identities' blocking keys."""
    ordered = sorted(identity_ids)
    for start in range(0, len(ordered), AMONG_CHUNK):
        chunk = ordered[start : start + AMONG_CHUNK]
        session.execute(delete(IdentityMatchKey).where(IdentityMatchKey.identity_id.in_(chunk)))


def add(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add identity rows (``service.seal_row`` shaped), by COPY on PostgreSQL."""
    insert_rows(session, Identity, rows)


def add_match_keys(session: Session, rows: list[dict[str, str]]) -> None:
    """Add blocking-key rows (``service.match_key_rows`` shaped), by COPY on PostgreSQL."""
    insert_rows(session, IdentityMatchKey, rows)


def sealed(session: Session, identity_ids: Collection[str]) -> list[Any]:
    """(id, ciphertext, nonce, wrapped key, KEK id) of these identities: what opening needs."""
    rows: list[Any] = []
    if not identity_ids:
        return rows
    columns = (Identity.id, Identity.ciphertext, Identity.nonce, Identity.wrapped_key)
    statement = select(*columns, Identity.kek_id)
    for chunk in among(session, statement, Identity.id, identity_ids):
        rows += session.execute(chunk).all()
    return rows


def scheme_row(session: Session, row_id: int) -> MatchKeyScheme | None:
    """The blocking keys' scheme row, locked until the transaction ends."""
    return session.scalars(
        select(MatchKeyScheme).where(MatchKeyScheme.id == row_id).with_for_update()
    ).one_or_none()


def stored_scheme(session: Session, row_id: int) -> int | None:
    """The scheme recorded in the row (None: no row)."""
    return session.scalar(select(MatchKeyScheme.scheme).where(MatchKeyScheme.id == row_id))
