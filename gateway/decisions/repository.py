"""Every query on decisions; those answering a caller filtered by ``tenancy.prefecture_rows``."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, bindparam, func, or_, select, true
from sqlalchemy.dialects import postgresql

from gateway import tenancy
from gateway.decisions.models import Decision, DecisionVersion
from gateway.identities.models import Identity
from gateway.storage.bulk import insert_rows

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

    from sqlalchemy.engine import Row
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller


def find_by_reference(session: Session, prefecture_id: str, reference: str) -> Decision | None:
    statement = select(Decision).where(
        Decision.prefecture_id == prefecture_id, Decision.reference == reference
    )
    return session.scalars(statement).one_or_none()


def get_for(
    session: Session, caller: Caller, decision_id: str, *, lock: bool = False
) -> Decision | None:
    statement = select(Decision).where(
        Decision.id == decision_id, tenancy.prefecture_rows(caller, Decision.prefecture_id)
    )
    if lock:
        statement = statement.with_for_update()
    return session.scalars(statement).one_or_none()


def get(session: Session, decision_id: str) -> Decision | None:
    """Any decision, for the host's command line only, which is not a tenant."""
    return session.get(Decision, decision_id)


def versions(session: Session, decision_id: str) -> list[tuple[DecisionVersion, Identity]]:
    statement = (
        select(DecisionVersion, Identity)
        .join(Identity, Identity.id == DecisionVersion.identity_id)
        .where(DecisionVersion.decision_id == decision_id)
        .order_by(DecisionVersion.version)
    )
    return [(version, identity) for version, identity in session.execute(statement)]


def version(session: Session, decision_id: str, number: int) -> DecisionVersion:
    statement = select(DecisionVersion).where(
        DecisionVersion.decision_id == decision_id, DecisionVersion.version == number
    )
    return session.scalars(statement).one()


def original_digests(
    session: Session, prefecture_id: str, references: Collection[str]
) -> dict[str, tuple[str, str]]:
    """Reference → (decision id, digest of the body first posted), for those that exist.

    One probe of the (prefecture, reference) unique index a reference, however many
    decisions the prefecture has: an import asks this for every batch of its lines while
    it grows the table. On PostgreSQL the probes are spelled out (a lateral subquery a
    reference, which the planner cannot turn into a scan of the prefecture's decisions):
    planning the plain ``IN`` on statistics older than the import's own rows (a table
    filled since its last analysis) reads every decision of the prefecture at each batch.
    """
    first_version = (DecisionVersion.decision_id == Decision.id) & (DecisionVersion.version == 1)
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, list(references), type_=postgresql.ARRAY(String))
        wanted = func.unnest(array).table_valued("value").render_derived(name="wanted")
        found = (
            select(Decision.id, DecisionVersion.body_digest)
            .join(DecisionVersion, first_version)
            .where(Decision.prefecture_id == prefecture_id, Decision.reference == wanted.c.value)
            .limit(1)  # a unique key: the limit only keeps the subquery a probe
            .lateral("found")
        )
        probes = select(wanted.c.value, found.c.id, found.c.body_digest).select_from(
            wanted.join(found, true())
        )
        return {ref: (decision_id, digest) for ref, decision_id, digest in session.execute(probes)}
    statement = (
        select(Decision.reference, Decision.id, DecisionVersion.body_digest)
        .join(DecisionVersion, first_version)
        .where(Decision.prefecture_id == prefecture_id, Decision.reference.in_(list(references)))
    )
    return {ref: (decision_id, digest) for ref, decision_id, digest in session.execute(statement)}


def correction_by_reference(
    session: Session, decision_id: str, reference: str
) -> DecisionVersion | None:
    statement = select(DecisionVersion).where(
        DecisionVersion.decision_id == decision_id,
        DecisionVersion.correction_reference == reference,
    )
    return session.scalars(statement).one_or_none()


@dataclass(frozen=True)
class DecisionFilters:
    kind: str | None = None
    status: str | None = None
    departement: str | None = None
    reference: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


class InvalidCursor(ValueError):
    """The pagination cursor was not made by this gateway."""


def encode_cursor(decision: Decision) -> str:
    raw = f"{decision.created_at.isoformat()}|{decision.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, decision_id = raw.partition("|")
        instant = datetime.fromisoformat(created)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursor("malformed cursor") from error
    if instant.tzinfo is None:  # every cursor the gateway makes is aware
        raise InvalidCursor("malformed cursor")
    return instant, decision_id


def list_for(
    session: Session,
    caller: Caller,
    filters: DecisionFilters,
    *,
    after: str | None,
    limit: int,
) -> list[Decision]:
    """The caller's decisions, oldest first, one page after the cursor."""
    statement = select(Decision).where(tenancy.prefecture_rows(caller, Decision.prefecture_id))
    if filters.kind:
        statement = statement.where(Decision.kind == filters.kind)
    if filters.status:
        statement = statement.where(Decision.status == filters.status)
    if filters.departement:
        statement = statement.where(Decision.departement == filters.departement)
    if filters.reference:
        statement = statement.where(Decision.reference == filters.reference)
    if filters.created_from:
        statement = statement.where(Decision.created_at >= filters.created_from)
    if filters.created_before:
        statement = statement.where(Decision.created_at < filters.created_before)
    if after:
        created, decision_id = _decode_cursor(after)
        statement = statement.where(
            or_(
                Decision.created_at > created,
                and_(Decision.created_at == created, Decision.id > decision_id),
            )
        )
    statement = statement.order_by(Decision.created_at, Decision.id).limit(limit)
    return list(session.scalars(statement))


def add(session: Session, decisions: list[dict[str, Any]], versions: list[dict[str, Any]]) -> None:
    """Add decisions and their versions (the import's rows), by COPY on PostgreSQL."""
    insert_rows(session, Decision, decisions)
    insert_rows(session, DecisionVersion, versions)


def versions_with_numbers(session: Session, chunk: int) -> Iterator[Row[str, int, str, Identity]]:
    """Every decision version whose unshredded identity carries a NIR or NIA.

    As (decision id, version, prefecture id, identity), by decision and version, ``chunk``
    rows read at a time.
    """
    statement = (
        select(
            DecisionVersion.decision_id, DecisionVersion.version, Decision.prefecture_id, Identity
        )
        .join(Decision, Decision.id == DecisionVersion.decision_id)
        .join(Identity, Identity.id == DecisionVersion.identity_id)
        .where(Identity.bi_ssn.is_not(None), Identity.shredded_at.is_(None))
        .order_by(DecisionVersion.decision_id, DecisionVersion.version)
        .execution_options(yield_per=chunk)
    )
    yield from session.execute(statement)
