"""Every query of status checks: lookups of identities and decisions, rate-limit windows.

Each lookup is two short steps: the identities carrying any of thousands of keyed values
(an index probe per value, ``storage.bulk.among``), the identifiers' blind indexes and
the blocking keys in one statement that also brings the sealed rows to open, then the
decisions of the few identities found.
"""

from __future__ import annotations

from functools import cache
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, select, text, union_all
from sqlalchemy.orm import aliased

from gateway.decisions.models import Decision, DecisionVersion
from gateway.identities.models import Identity, IdentityMatchKey
from gateway.status.models import RateWindow
from gateway.storage.bulk import among, joined_to_array, values_array

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from sqlalchemy.orm import Session

# Built once: a fresh alias per query would defeat SQLAlchemy's statement cache.
_MATCHED = aliased(DecisionVersion, name="matched_version")
_CURRENT = aliased(DecisionVersion, name="current_version")


def lookup(session: Session, indexes: Collection[str], match_keys: Collection[str]) -> list[Any]:
    """Every identity an AGDREF or NIR blind index or a blocking key given points at.

    Rows of (value, identity id, and the sealed columns opening needs: ciphertext, nonce,
    wrapped key, KEK id), the value being the index or key that found it; all three
    lookups in one round trip per 10,000 values of each (a single check's in one). On
    PostgreSQL, one statement built once, the values two array parameters.
    """
    if session.get_bind().dialect.name == "postgresql":
        statement = _postgresql_lookup(bool(indexes), bool(match_keys))
        if statement is None:
            return []
        values = {"indexes": list(indexes), "match_keys": list(match_keys)}
        return list(session.connection().execute(statement, values).all())
    sealed = (Identity.id, Identity.ciphertext, Identity.nonce, Identity.wrapped_key)
    branches = [
        among(session, select(column.label("value"), *sealed, Identity.kek_id), column, indexes)
        for column in (Identity.bi_agdref, Identity.bi_ssn)
        if indexes
    ]
    if match_keys:
        keyed = select(IdentityMatchKey.key.label("value"), *sealed, Identity.kek_id).join(
            Identity, Identity.id == IdentityMatchKey.identity_id
        )
        branches.append(among(session, keyed, IdentityMatchKey.key, match_keys))
    found: list[Any] = []
    for statements in zip_longest(*branches):  # the i-th chunk of each lookup together
        present: list[Any] = [statement for statement in statements if statement is not None]
        together: Any = union_all(*present) if len(present) > 1 else present[0]
        found += session.execute(together).all()
    return found


@cache
def _postgresql_lookup(indexes: bool, match_keys: bool) -> Any:
    """``lookup``'s statement on PostgreSQL, built once per combination of values given.

    A statement of its own would cost each request its cache key and its ORM compilation.
    """
    sealed = (
        Identity.id,
        Identity.ciphertext,
        Identity.nonce,
        Identity.wrapped_key,
        Identity.kek_id,
    )
    branches: list[Any] = [
        joined_to_array(select(column.label("value"), *sealed), column, values_array("indexes"))
        for column in (Identity.bi_agdref, Identity.bi_ssn)
        if indexes
    ]
    if match_keys:
        keyed = select(IdentityMatchKey.key.label("value"), *sealed).join(
            Identity, Identity.id == IdentityMatchKey.identity_id
        )
        branches.append(joined_to_array(keyed, IdentityMatchKey.key, values_array("match_keys")))
    if not branches:
        return None
    return union_all(*branches) if len(branches) > 1 else branches[0]


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


def statements_commit_alone(session: Session) -> bool:
    """On PostgreSQL, make each of the session's statements a transaction of its own.

    For the rate limits: the lookups read, and the count is one statement that commits
    as it ends, so the windows' rows are locked inside the server only, never while the
    process runs Python between two statements. SQLite keeps one transaction (False), and
    so does a session bound to a connection already in one (a caller's transaction).
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or (
        isinstance(bind, Connection) and bind.in_transaction()
    ):
        return False
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


def take_windows(
    session: Session, amounts: dict[str, tuple[int, int]], start: datetime
) -> set[str]:
    """Add each key's amount to its window if that stays within its limit, in one statement.

    ``amounts`` maps a key to (amount, limit); returns the keys that took it. On
    PostgreSQL the statement's transaction commits without waiting for the disk: a count
    lost in a crash only lets a few more checks through.
    """
    statement = _window_upsert(len(amounts), session.get_bind().dialect.name == "postgresql")
    params: dict[str, Any] = {"start": start}
    for number, (key, (amount, limit)) in enumerate(amounts.items()):
        params |= {f"key_{number}": key, f"used_{number}": amount, f"limit_{number}": limit}
    return {key for (key,) in session.execute(statement, params)}


@cache
def _window_upsert(count: int, postgresql: bool) -> Any:
    """The windows' upsert for ``count`` keys, built once: PostgreSQL and SQLite alike.

    Plain SQL: SQLAlchemy caches no compiled form of a multi-row upsert, and compiling it
    cost a request about a millisecond. On PostgreSQL its rows come through a join with
    ``set_config``, which turns off waiting for the disk for the statement's transaction.
    """
    rows = ", ".join(f"(:key_{n}, :start, :used_{n})" for n in range(count))
    limits = " ".join(f"WHEN :key_{n} THEN :limit_{n}" for n in range(count))
    table = RateWindow.__tablename__
    source = f"VALUES {rows}"
    if postgresql:
        source = (
            f"SELECT given.key, given.window_start, given.used FROM (VALUES {rows}) "  # noqa: S608 - no input
            "AS given (key, window_start, used) "
            "CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS not_waiting"
        )
    upsert = text(
        f"INSERT INTO {table} (key, window_start, used) {source} "
        f"ON CONFLICT (key, window_start) DO UPDATE SET used = {table}.used + excluded.used "
        f"WHERE {table}.used + excluded.used <= CASE {table}.key {limits} ELSE 0 END "
        "RETURNING key"
    )
    return upsert.bindparams(bindparam("start", type_=RateWindow.window_start.type))


def purge_windows(session: Session, before: datetime) -> int:
    """Forget the windows that ended before ``before``."""
    result = session.execute(delete(RateWindow).where(RateWindow.window_start < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
