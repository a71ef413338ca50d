"""RFC 9457 problem documents, body limits, request ids and JSON access logs."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from audit.events import event_document
from gateway.auditlog.models import AuditEvent
from gateway.logs import JSONFormatter
from gateway.routing import TransactionRoute
from gateway.web import PROBLEM_JSON, instance_of
from tests.support.audit import events_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from httpx2 import Response
    from sqlalchemy.orm import Session

    from gateway.settings import Settings

SECRET_TEXT = "nir=1840775123456 password=hunter2"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def _problem(response: Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body["type"], str)
    assert body["type"].startswith("/problems/")
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["status"] == status
    return body


def _events(session: Session, action: str) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(session.scalars(statement))


# -- problem documents -----------------------------------------------------------------


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    body = _problem(client.get("/v1/nothing-here"), 404)
    assert body["type"] == "/problems/http-404"
    assert body["instance"] == "/v1/nothing-here"


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    response = client.delete("/healthz")
    body = _problem(response, 405)
    assert body["type"] == "/problems/http-405"
    assert response.headers["allow"] == "GET"


def test_wrong_method_on_the_token_endpoint(client: TestClient) -> None:
    response = client.get("/oauth2/token")
    _problem(response, 405)
    assert response.headers["allow"] == "POST"


# -- body size -------------------------------------------------------------------------


def test_declared_body_over_the_limit_is_a_413_problem(
    client: TestClient, settings: Settings
) -> None:
    response = client.post(
        "/oauth2/token",
        content=b"a" * (settings.max_body_bytes + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    body = _problem(response, 413)
    assert body["type"] == "/problems/payload-too-large"
    assert str(settings.max_body_bytes) in str(body["detail"])


def test_a_body_refused_before_any_route_is_audited(
    client: TestClient, settings: Settings, session: Session
) -> None:
    response = client.post(
        "/v1/decisions/" + "7512345678",  # a path may carry an identifier
        content=b"{}",
        headers={"content-length": str(settings.max_body_bytes + 1)},
    )
    assert response.status_code == 413
    (event,) = events_of(session, response)
    assert (event.action, event.outcome) == ("request:refused", "refused")
    assert event.detail == {
        "method": "POST",
        "status": 413,
        "problem": "payload-too-large",
        "limit": settings.max_body_bytes,
    }
    assert "7512345678" not in json.dumps(event_document(event))


def test_body_at_the_limit_passes_the_size_check(client: TestClient, settings: Settings) -> None:
    response = client.post(
        "/oauth2/token",
        content=b"a" * settings.max_body_bytes,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code != 413
    assert response.headers["content-type"] == PROBLEM_JSON


def test_streamed_body_over_the_limit_is_a_413_problem(
    client: TestClient, settings: Settings, session: Session
) -> None:
    chunk = b"a" * 65_536
    chunks = settings.max_body_bytes // len(chunk) + 2

    def stream() -> Iterator[bytes]:
        yield b"grant_type="
        for _ in range(chunks):
            yield chunk

    response = client.post(
        "/oauth2/token",
        content=stream(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in response.request.headers
    body = _problem(response, 413)
    assert body["type"] == "/problems/payload-too-large"
    events = _events(session, "token:issued")
    assert len(events) == 1
    assert events[0].outcome == "refused"
    assert events[0].detail["status"] == 413
    assert events[0].detail["problem"] == "payload-too-large"


def test_streamed_body_under_the_limit_is_read(client: TestClient, session: Session) -> None:
    def stream() -> Iterator[bytes]:
        yield b"grant_type=password"
        yield b"&username=x"

    response = client.post(
        "/oauth2/token",
        content=stream(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    body = _problem(response, 400)
    assert body["error"] == "unsupported_grant_type"
    assert [e.outcome for e in _events(session, "token:issued")] == ["refused"]


# -- unexpected errors -----------------------------------------------------------------


@pytest.fixture
def failing_client(app_client: Callable[..., TestClient]) -> TestClient:
    router = APIRouter(route_class=TransactionRoute)

    @router.get("/test/boom", name="test:boom")
    def boom() -> None:
        raise RuntimeError(f"internal failure with {SECRET_TEXT} at {Path(__file__)}")

    return app_client(routers=(router,))


def test_unexpected_error_is_a_500_problem_without_details(
    failing_client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="gateway.error")
    response = failing_client.get("/test/boom", headers={"X-Request-Id": "req-boom-0001"})
    body = _problem(response, 500)
    assert response.headers["x-request-id"] == "req-boom-0001"
    assert body == {
        "type": "/problems/internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "the gateway could not complete the request; it has been logged",
        "instance": "/test/boom",
    }
    for leaked in ("Traceback", "RuntimeError", "hunter2", "1840775123456", __file__, ".py"):
        assert leaked not in response.text

    events = _events(session, "test:boom")
    assert len(events) == 1
    assert events[0].outcome == "error"
    assert events[0].detail == {"status": 500, "problem": "internal-error"}
    assert events[0].request_id == "req-boom-0001"

    # Operators get the stack trace in the error log, tied to the request id.
    logged = [r for r in caplog.records if r.name == "gateway.error"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert getattr(logged[0], "request_id", None) == "req-boom-0001"


# -- request ids -----------------------------------------------------------------------


@pytest.mark.parametrize("given", ["abcdefgh", "req-2025.01_ABC", "x" * 64])
def test_well_formed_request_id_is_echoed(client: TestClient, given: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": given})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given", ["short", "x" * 65, "has spaces in it", "<script>alert(1)</script>", "a/b/c/d/e/f"]
)
def test_malformed_request_id_is_replaced(client: TestClient, given: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": given})
    assert response.status_code == 200
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


def test_missing_request_id_is_generated_and_unique(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


def test_problem_responses_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/nothing", headers={"X-Request-Id": "req-404-abcdef"})
    _problem(response, 404)
    assert response.headers["x-request-id"] == "req-404-abcdef"


# -- logs ------------------------------------------------------------------------------


def test_json_formatter_keeps_extra_fields() -> None:
    logger = logging.getLogger("gateway.test")
    record = logger.makeRecord(
        "gateway.test",
        logging.WARNING,
        __file__,
        1,
        "purged %d rows",
        (3,),
        None,
        extra={"request_id": "abc", "when": datetime(2025, 1, 2, tzinfo=UTC), "n": 3},
    )
    entry = json.loads(JSONFormatter().format(record))
    assert entry["message"] == "purged 3 rows"
    assert entry["level"] == "warning"
    assert entry["logger"] == "gateway.test"
    assert entry["request_id"] == "abc"
    assert entry["n"] == 3
    assert entry["when"] == "2025-01-02 00:00:00+00:00"
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    for standard in ("args", "msg", "pathname", "lineno", "exc_info", "levelno"):
        assert standard not in entry


def test_json_formatter_keeps_the_exception_on_one_line() -> None:
    try:
        raise ValueError("broken")  # noqa: TRY301 - a real traceback to format
    except ValueError:
        record = logging.getLogger("gateway.test").makeRecord(
            "gateway.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JSONFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert "ValueError: broken" in entry["exception"]
    assert entry["exception"].startswith("Traceback")


def test_access_log_is_json_without_the_query_string(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    response = client.get(
        "/healthz?nir=1840775123456&name=Dupont",
        headers={"X-Request-Id": "req-access-log-1"},
    )
    assert response.status_code == 200
    records = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(records) == 1
    line = JSONFormatter().format(records[0])
    entry = json.loads(line)
    assert entry["message"] == "request"
    assert entry["request_id"] == "req-access-log-1"
    assert entry["method"] == "GET"
    assert entry["route"] == "/healthz"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float | int)
    for leaked in ("1840775123456", "Dupont", "nir=", "?"):
        assert leaked not in line


def test_access_log_of_an_unmatched_path_names_no_path(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    client.get("/v1/nothing-here/1840775123456")
    records = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(records) == 1
    entry = json.loads(JSONFormatter().format(records[0]))
    assert entry["route"] == "unmatched"
    assert entry["status"] == 404
    assert "1840775123456" not in json.dumps(entry)


def test_access_log_of_a_matched_path_names_its_template_not_its_values(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    client.get("/v1/decisions/1840775123456")
    records = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(records) == 1
    formatted = JSONFormatter().format(records[0])
    assert json.loads(formatted)["route"] == "/v1/decisions/{decision_id}"
    assert json.loads(formatted)["status"] == 401
    assert "1840775123456" not in formatted


@given(path=st.text(min_size=1, max_size=40))
def test_a_problem_names_its_request_as_a_uri_reference(path: str) -> None:
    instance = instance_of("/v1/decisions/" + path)
    assert instance.startswith("/v1/decisions/")
    assert all(c.isascii() and c.isprintable() and c not in ' "<>\\^`{|}' for c in instance)
    assert unquote(instance) == "/v1/decisions/" + path
