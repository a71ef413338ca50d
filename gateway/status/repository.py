"""Every query of status checks: lookups of identities and decisions, rate-limit windows.

Each lookup is two short steps: the identities carrying any of thousands of keyed values
(an index probe per value, ``storage.bulk.among``), then the decisions of the few
identities found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import case, delete, select, text, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from gateway.decisions.models import Decision, DecisionVersion
from gateway.identities.models import Identity, IdentityMatchKey
from gateway.status.models import RateWindow
from gateway.storage.bulk import among

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from sqlalchemy.orm import Session

# Built once: a fresh alias per query would defeat SQLAlchemy's statement cache.
_MATCHED = aliased(DecisionVersion, name="matched_version")
_CURRENT = aliased(DecisionVersion, name="current_version")


def identities_by_index(session: Session, indexes: Collection[str]) -> list[tuple[str, str]]:
    """(blind index, identity id) of every identity whose AGDREF or NIR index is given."""
    if not indexes:
        return []
    found: list[tuple[str, str]] = []
    by_column = [
        among(session, select(column, Identity.id), column, indexes)
        for column in (Identity.bi_agdref, Identity.bi_ssn)
    ]
    for agdref, ssn in zip(*by_column, strict=True):  # one round trip for both
        rows = session.execute(union_all(agdref, ssn))
        found += [(index, identity_id) for index, identity_id in rows if index is not None]
    return found


def identities_by_match_key(session: Session, keys: Collection[str]) -> list[tuple[str, str]]:
    """(blocking key, identity id) of every identity carrying one of ``keys``."""
    found: list[tuple[str, str]] = []
    if not keys:
        return found
    wanted = select(IdentityMatchKey.key, IdentityMatchKey.identity_id)
    for statement in among(session, wanted, IdentityMatchKey.key, keys):
        found += session.execute(statement)
    return found


def decisions_of(
    session: Session, identity_ids: Collection[str], kinds: list[str]
) -> dict[str, list[tuple[Decision, DecisionVersion]]]:
    """Identity id -> (decision, its current version) of the decisions that name it.

    Any version's identity counts: a person found through an earlier identity of a
    corrected decision is still the decision's person.
    """
    found: dict[str, list[tuple[Decision, DecisionVersion]]] = {}
    if not identity_ids:
        return found
    named = (
        select(_MATCHED.identity_id, Decision, _CURRENT)
        .join(Decision, Decision.id == _MATCHED.decision_id)
        .join(
            _CURRENT,
            (_CURRENT.decision_id == Decision.id) & (_CURRENT.version == Decision.current_version),
        )
        .where(Decision.kind.in_(kinds))
    )
    for statement in among(session, named, _MATCHED.identity_id, identity_ids):
        for identity_id, decision, version in session.execute(statement):
            found.setdefault(identity_id, []).append((decision, version))
    return found


# -- rate-limit windows ----------------------------------------------------------------


def commit_without_waiting(session: Session) -> None:
    """Let this transaction commit without waiting for the disk (PostgreSQL).

    For counts whose loss in a crash only lets a few more checks through.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def take_windows(
    session: Session, amounts: dict[str, tuple[int, int]], start: datetime
) -> set[str]:
    """Add each key's amount to its window if that stays within its limit, in one statement.

    ``amounts`` maps a key to (amount, limit); returns the keys that took it.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = insert(RateWindow).values(
        [
            {"key": key, "window_start": start, "used": amount}
            for key, (amount, _) in amounts.items()
        ]
    )
    limit = case(*((RateWindow.key == key, limit) for key, (_, limit) in amounts.items()), else_=0)
    upsert = values.on_conflict_do_update(
        index_elements=[RateWindow.key, RateWindow.window_start],
        set_={"used": RateWindow.used + values.excluded.used},
        where=(RateWindow.used + values.excluded.used) <= limit,
    ).returning(RateWindow.key)
    return {key for (key,) in session.execute(upsert)}


def purge_windows(session: Session, before: datetime) -> int:
    """Forget the windows that ended before ``before``."""
    result = session.execute(delete(RateWindow).where(RateWindow.window_start < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
