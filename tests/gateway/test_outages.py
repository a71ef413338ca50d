"""A database outage is not a bug: 503 problems with ``Retry-After``, one log line per cause
and no traceback, refusals spooled and appended once the database answers again.

The whole story against a real PostgreSQL server stopped and restarted under a running
gateway is ``tests/gateway/test_database_outage.py``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import event, exc, func, select
from sqlalchemy.pool import NullPool

from gateway.app import create_app
from gateway.auditlog.models import AuditEvent
from gateway.settings import Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine
from gateway.storage.outage import RETRY_AFTER_SECONDS, OutageReporter, unavailable_cause
from gateway.web import PROBLEM_JSON
from tests.support.actors import BASE_URL

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy import Engine

    from gateway.keys import GatewayKeys

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


def _token_request() -> dict[str, str]:
    """A well-formed token request: the gateway looks its client up in the database."""
    now = int(time.time())
    claims: dict[str, object] = {"iss": "pref-75", "sub": "pref-75"}
    claims["aud"] = f"{BASE_URL}/oauth2/token"
    claims |= {"jti": uuid.uuid4().hex, "iat": now, "exp": now + 60}
    assertion = jwt.encode({"alg": "ES256"}, claims, ECKey.generate_key("P-256", private=True))
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }


def _wrapped(error: Exception) -> exc.OperationalError:
    return exc.OperationalError("SELECT 1", {}, error)


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (_wrapped(psycopg.OperationalError("connection failed: refused")), "cannot connect"),
        (_wrapped(psycopg.errors.AdminShutdown()), "server shutting down"),
        (_wrapped(psycopg.errors.CannotConnectNow()), "server starting up or shutting down"),
        (_wrapped(psycopg.errors.TooManyConnections()), "server out of resources"),
        (exc.InterfaceError("SELECT 1", {}, psycopg.InterfaceError("closed")), "connection closed"),
        (_wrapped(sqlite3.OperationalError("database is locked")), "database locked"),
        (
            _wrapped(sqlite3.OperationalError("unable to open database file")),
            "cannot open the database file",
        ),
        (exc.DisconnectionError("gone"), "connection lost"),
        (exc.TimeoutError("QueuePool limit reached"), "connection pool exhausted"),
    ],
)
def test_what_an_outage_is(error: Exception, cause: str) -> None:
    assert unavailable_cause(error) == cause
    chained = RuntimeError("while serving")
    chained.__cause__ = error
    assert unavailable_cause(chained) == cause  # found among the causes


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlite3.OperationalError("no such table: decisions")),
        _wrapped(psycopg.errors.SyntaxError()),
        _wrapped(psycopg.errors.QueryCanceled()),
        exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        ValueError("a bug"),
    ],
)
def test_what_is_not_an_outage(error: Exception) -> None:
    assert unavailable_cause(error) is None


def test_one_line_per_cause_then_one_per_period_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reporter = OutageReporter(logging.getLogger("test.outage"), every_seconds=3600)
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        for _ in range(50):
            reporter.failed("cannot connect")
        reporter.failed("database locked")
        reporter.every_seconds = 0
        reporter.failed("cannot connect")
        reporter.recovered()
        reporter.recovered()
    lines = [
        (r.getMessage(), getattr(r, "occurrences_since_last_line", None)) for r in caplog.records
    ]
    assert lines == [
        ("database unavailable: cannot connect", 0),
        ("database unavailable: database locked", 0),
        ("database unavailable: cannot connect", 49),
        ("database available again", None),
    ]
    assert caplog.records[-1].failures_during_outage == 52  # type: ignore[attr-defined]
    assert not any(r.exc_info for r in caplog.records)


@pytest.fixture
def app_on(tmp_path: Path, key_dir: Path, gateway_keys: GatewayKeys) -> Iterator[Any]:
    engines: list[Engine] = []

    def build(engine: Engine, **overrides: Any) -> TestClient:
        engines.append(engine)
        settings = Settings(
            database_url=engine.url.render_as_string(hide_password=False),
            key_dir=key_dir,
            public_base_url=BASE_URL,
            audit_spool_dir=tmp_path / "spool",
            **overrides,
        )
        return TestClient(create_app(settings, keys=gateway_keys, engine=engine))

    yield build
    for engine in engines:
        engine.dispose()


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    body = response.json()
    assert body["type"] == "/problems/database-unavailable"
    assert body["status"] == 503


def test_requests_while_the_server_is_unreachable_get_503_and_are_spooled(
    app_on: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), app_on(make_engine(UNREACHABLE)) as client:
        for _ in range(5):
            _assert_unavailable(client.post("/oauth2/token", data=_token_request()))
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        # A refusal that needs no database is answered as usual, and spooled all the same.
        assert client.get("/v1/participants/me").status_code == 401
    outage = [r for r in caplog.records if r.name == "gateway.database"]
    assert [r.getMessage() for r in outage] == ["database unavailable: cannot connect"]
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    (spooled,) = (tmp_path / "spool").iterdir()
    lines = spooled.read_text().splitlines()
    assert len(lines) == 6
    assert sum('"problem":"database-unavailable"' in line for line in lines) == 5
    assert sum('"status":401' in line for line in lines) == 1


def test_metrics_report_the_outage_and_the_scrape_is_spooled(app_on: Any, tmp_path: Path) -> None:
    """An outage is what a scrape must show: /metrics still answers, with
    gateway_database_up 0, and its audit event waits in the spool."""
    token = "scrape-token-" + uuid.uuid4().hex
    with app_on(make_engine(UNREACHABLE), metrics_token=SecretStr(token)) as client:
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        refused = client.get("/metrics", headers={"Authorization": "Bearer wrong-token-123456"})
    assert scraped.status_code == 200, scraped.text
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
    assert [s.value for s in families["gateway_database_up"].samples] == [0.0]
    assert refused.status_code == 401  # the token is still required
    (spooled,) = (tmp_path / "spool").iterdir()
    events = [json.loads(line) for line in spooled.read_text().splitlines()]
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("metrics:scraped", "success"),
        ("metrics:scraped", "refused"),
    ]


def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(app_on: Any, tmp_path: Path) -> None:
    directory = tmp_path / "not-a-file"
    directory.mkdir()
    with app_on(make_engine(f"sqlite:///{directory}")) as client:
        _assert_unavailable(client.post("/oauth2/token", data=_token_request()))


def test_refusals_spooled_during_an_outage_are_appended_once_it_is_over(
    app_on: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate.upgrade(url)
    engine = make_engine(url, poolclass=NullPool)  # every checkout connects afresh
    down = True

    @event.listens_for(engine, "do_connect")
    def _outage(*_args: Any) -> None:
        if down:
            raise sqlite3.OperationalError("unable to open database file")

    with caplog.at_level(logging.INFO), app_on(engine) as client:
        for _ in range(3):
            _assert_unavailable(client.post("/oauth2/token", data=_token_request()))
        assert client.get("/readyz").status_code == 503
        down = False
        assert client.get("/readyz").status_code == 200  # and the spool is replayed
        deadline = time.monotonic() + 10
        while any((tmp_path / "spool").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
    with engine.connect() as connection:
        replayed = connection.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "token:issued")
        ).all()
        total = connection.scalar(select(func.count()).select_from(AuditEvent))
    assert len(replayed) == 3
    assert all(d["problem"] == "database-unavailable" and d["spooled"] for d in replayed)
    assert total == 3
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("gateway.")]
    assert "database available again" in messages
    assert "spooled audit events appended" in messages
