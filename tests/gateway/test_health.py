"""Liveness and readiness: no token needed; not ready is a 503 problem, never a 500."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

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
