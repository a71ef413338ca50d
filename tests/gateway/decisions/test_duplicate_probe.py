"""The duplicate check of an import's batch probes the (prefecture, reference) unique index,
one reference at a time, however many decisions the prefecture already has and however
old the planner's statistics: a scan of the prefecture's decisions at every batch would
make a large import slow down as it goes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text

from gateway.decisions import repository
from gateway.decisions.models import Decision, DecisionVersion
from gateway.identities.models import Identity
from gateway.storage import migrate
from gateway.storage.base import utcnow
from gateway.storage.bulk import insert_rows
from gateway.storage.engine import make_engine, make_sessionmaker
from gateway.storage.ids import new_id
from tests.support.actors import register

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DECISIONS = 3000  # no analysis since: the statistics say the table is (nearly) empty
BATCH = 500


def _fill(session: Session, prefecture_id: str) -> None:
    now = utcnow()
    identities, decisions, versions = [], [], []
    for number in range(DECISIONS):
        identity_id, decision_id = new_id(), new_id()
        identities.append(
            {"id": identity_id, "ciphertext": b"x", "nonce": b"n", "kek_id": "k", "created_at": now}
        )
        decisions.append(
            {
                "id": decision_id,
                "prefecture_id": prefecture_id,
                "reference": f"R-{number:06d}",
                "departement": "75",
                "kind": "oqtf",
                "status": "active",
                "current_version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        versions.append(
            {
                "decision_id": decision_id,
                "version": 1,
                "identity_id": identity_id,
                "kind": "oqtf",
                "removal_measures": [],
                "public_order": False,
                "decision_date": now.date(),
                "status": "active",
                "body_digest": f"body:{number}",
                "created_at": now,
            }
        )
    insert_rows(session, Identity, identities)
    insert_rows(session, Decision, decisions)
    insert_rows(session, DecisionVersion, versions)


def test_a_batch_of_references_is_looked_up_in_the_unique_index(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            prefecture = register(session, "prefecture", departements=["75"])
            other = register(session, "prefecture", departements=["75"])
            _fill(session, prefecture.id)
        wanted = [f"R-{number:06d}" for number in range(1000, 1000 + BATCH - 1)] + ["R-NONE"]
        statements: list[tuple[str, Any]] = []

        def seen(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            statements.append((statement, parameters))

        with sessions() as session:
            event.listen(engine, "before_cursor_execute", seen)
            found = repository.original_digests(session, prefecture.id, wanted)
            event.remove(engine, "before_cursor_execute", seen)
            assert repository.original_digests(session, other.id, wanted) == {}
            statement, parameters = statements[-1]
            connection = session.connection().connection.driver_connection
            cursor = connection.cursor()  # type: ignore[union-attr]
            postgresql = engine.dialect.name == "postgresql"
            cursor.execute(
                ("EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN ") + statement, parameters
            )
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            cursor.close()
            assert session.execute(text("SELECT count(*) FROM decisions")).scalar() == DECISIONS
    finally:
        engine.dispose()
    # Every reference found once, with its decision's first body; the unknown one not.
    assert sorted(found) == wanted[:-1]
    assert {digest for _, digest in found.values()} == {
        f"body:{number}" for number in range(1000, 1000 + BATCH - 1)
    }
    # Looked up by the unique index; never by the prefecture's index, never a scan.
    if postgresql:
        assert "Index Scan using uq_decisions_prefecture_id_reference on decisions" in plan, plan
    else:
        assert "USING INDEX sqlite_autoindex_decisions" in plan, plan
    assert "ix_decisions_prefecture_created" not in plan, plan
    assert "Seq Scan on decisions" not in plan, plan
    assert "SCAN decisions" not in plan, plan
