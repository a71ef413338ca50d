"""Liveness and readiness: no token needed; not ready is a 503 problem, never a 500."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from gateway.app import create_app
from gateway.settings import Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine
from gateway.web import PROBLEM_JSON
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from sqlalchemy import Engine

    from gateway.keys import GatewayKeys

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


def test_healthz_needs_no_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def client_on(key_dir: Path, gateway_keys: GatewayKeys) -> Iterator[Callable[[str], TestClient]]:
    """Build an app on a given database URL; its engine is disposed afterwards."""
    engines: list[Engine] = []

    def build(database_url: str) -> TestClient:
        engine = make_engine(database_url)
        engines.append(engine)
        settings = Settings(database_url=database_url, key_dir=key_dir)
        return TestClient(create_app(settings, keys=gateway_keys, engine=engine))

    yield build
    for engine in engines:
        engine.dispose()


def test_readyz_is_ready(database_url: str, client_on: Callable[[str], TestClient]) -> None:
    # Not the ``client`` fixture: on SQLite its open test transaction holds the write lock,
    # which the readiness probe's own connection would wait for.
    with client_on(database_url) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "keys": "ok"},
        "policy": {"version": load_file(DEFAULT_POLICY).version},
    }


def _not_ready(client: TestClient) -> dict[str, object]:
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert isinstance(body, dict)
    assert body["type"] == "/problems/not-ready"
    assert body["status"] == 503
    assert body["title"] == "Not ready"
    return body


def test_readyz_before_migrations_is_503(
    empty_database_url: str, client_on: Callable[[str], TestClient]
) -> None:
    url = empty_database_url
    with client_on(url) as client:
        body = _not_ready(client)
        assert body["checks"] == {
            "database": "ok",
            "migrations": f"at None, head is {migrate.head()}",
            "keys": "ok",
        }
        assert "migrations" in str(body["detail"])
        # Migrated, the same app becomes ready without a restart.
        migrate.upgrade(url)
        assert client.get("/readyz").status_code == 200


def _stamp(url: str, revision: str) -> None:
    """Set the database's recorded revision, as another release's migrations would."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def test_readyz_stays_ready_while_a_newer_release_has_migrated(
    empty_database_url: str, client_on: Callable[[str], TestClient]
) -> None:
    """During a rolling upgrade the migrations run first: the replicas of the release
    being replaced keep serving (ready, with a note) instead of all leaving at once."""
    url = empty_database_url
    migrate.upgrade(url)
    _stamp(url, "9999_from_a_newer_release")
    with client_on(url) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["migrations"] == "ok"
    assert "9999_from_a_newer_release" in body["notes"]["migrations"]
    assert str(migrate.head()) in body["notes"]["migrations"]


def test_readyz_behind_a_known_revision_is_503(
    empty_database_url: str, client_on: Callable[[str], TestClient]
) -> None:
    url = empty_database_url
    head = migrate.head()
    assert head is not None
    migrate.upgrade(url)
    previous = ScriptDirectory.from_config(migrate.config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    _stamp(url, previous)
    with client_on(url) as client:
        body = _not_ready(client)
    assert body["checks"] == {
        "database": "ok",
        "migrations": f"at {previous}, head is {head}",
        "keys": "ok",
    }


KNOWN_REVISIONS = {
    script.revision for script in ScriptDirectory.from_config(migrate.config()).walk_revisions()
}


@given(st.text(alphabet="0123456789abcdef_", min_size=1, max_size=32))
def test_a_revision_this_code_does_not_know_is_ahead(revision: str) -> None:
    head = migrate.head()
    known = KNOWN_REVISIONS
    state = migrate.schema_state(revision, head)
    if revision == head:
        assert state == "current"
    elif revision in known:
        assert state == "behind"
    else:
        assert state == "ahead"


def test_readyz_on_an_unreachable_database_is_503(
    client_on: Callable[[str], TestClient],
) -> None:
    with client_on(UNREACHABLE) as client:
        body = _not_ready(client)
        checks = body["checks"]
        assert isinstance(checks, dict)
        assert checks["database"] == "unreachable (OperationalError)"
        assert checks["migrations"] == "unknown"
        assert checks["keys"] == "ok"
        assert "127.0.0.1" not in client.get("/readyz").text  # no connection details leak
        # Liveness does not depend on the database.
        assert client.get("/healthz").status_code == 200
