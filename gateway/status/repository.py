"""Every query of status checks: lookups of identities and decisions, rate-limit windows.

Each lookup is two short steps: the identities carrying any of thousands of keyed values
(an index probe per value), then the decisions of the few identities found. On
PostgreSQL the values are one array parameter joined as a set (``JOIN unnest(:values)``):
the planner then knows how many there are and probes the index for each, where
``= ANY(array)`` of thousands of values is estimated as a large share of the table and
scanned whole. SQLite takes them in lists of ``CHUNK``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import String, bindparam, case, delete, func, select, text, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from gateway.decisions.models import Decision, DecisionVersion
from gateway.identities.models import Identity, IdentityMatchKey
from gateway.status.models import RateWindow

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from datetime import datetime

    from sqlalchemy.orm import InstrumentedAttribute, Session

CHUNK = 10_000  # values per list on SQLite, under its 32,766 bound parameters

# Built once: a fresh alias per query would defeat SQLAlchemy's statement cache.
_MATCHED = aliased(DecisionVersion, name="matched_version")
_CURRENT = aliased(DecisionVersion, name="current_version")


def _among(
    session: Session,
    statement: Any,  # a Select of any columns
    column: InstrumentedAttribute[Any],
    values: Collection[str],
) -> Iterator[Any]:
    """``statement`` for the rows whose ``column`` is among ``values``.

    One statement on PostgreSQL (joined to the values as a set), one per chunk elsewhere.
    """
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=postgresql.ARRAY(String))
        wanted = func.unnest(array).table_valued("value").render_derived(name="wanted")
        yield statement.join(wanted, column == wanted.c.value)
        return
    ordered = sorted(values)
    for start in range(0, len(ordered), CHUNK):
        yield statement.where(column.in_(ordered[start : start + CHUNK]))


def identities_by_index(session: Session, indexes: Collection[str]) -> list[tuple[str, str]]:
    """(blind index, identity id) of every identity whose AGDREF or NIR index is given."""
    if not indexes:
        return []
    found: list[tuple[str, str]] = []
    by_column = [
        _among(session, select(column, Identity.id), column, indexes)
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
    for statement in _among(session, wanted, IdentityMatchKey.key, keys):
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
    for statement in _among(session, named, _MATCHED.identity_id, identity_ids):
        for identity_id, decision, version in session.execute(statement):
            found.setdefault(identity_id, []).append((decision, version))
    return found


def sealed_identities(session: Session, identity_ids: Collection[str]) -> list[Any]:
    """The sealed columns of identities (id, ciphertext, nonce, wrapped key, KEK id)."""
    rows: list[Any] = []
    if not identity_ids:
        return rows
    columns = (Identity.id, Identity.ciphertext, Identity.nonce, Identity.wrapped_key)
    sealed = select(*columns, Identity.kek_id)
    for statement in _among(session, sealed, Identity.id, identity_ids):
        rows += session.execute(statement).all()
    return rows


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
