"""Every route of the app, enumerated: none but the listed public ones answers without a
token, and every API route runs in a ``TransactionRoute`` named after its audit action.

A new route that forgets its ``Caller`` dependency, or its route class, fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from audit.actions import AuditAction
from gateway.app import create_app
from gateway.auditlog.models import AuditEvent
from gateway.routing import TransactionRoute

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker
    from starlette.routing import BaseRoute

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings

PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
        "/oauth2/token",
        "/openapi.json",
        "/schemas/{name}",  # the JSON Schemas of what is signed
        "/problems/{slug}",  # the page of each problem type
    }
)
AUDITED_PREFIXES = ("/v1/", "/oauth2/", "/metrics")  # /metrics: behind a scrape token
PARAMETER = re.compile(r"\{[^}]+\}")
DUMMY_ID = "dummy-0001"
ACTION_NAME = re.compile(r"^[a-z]+:[a-z]+$")
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared, with its {parameters}
    url: str  # the parameters filled in
    name: str
    route: BaseRoute


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method of every route, included routers flattened as FastAPI serves them."""
    found: list[Endpoint] = []
    for context in iter_route_contexts(app.routes):
        assert context.path is not None, context
        assert context.methods, context.path
        assert context.name is not None, context.path
        url = PARAMETER.sub(DUMMY_ID, context.path)
        found.extend(
            Endpoint(method, context.path, url, context.name, context.original_route)
            for method in sorted(context.methods)
        )
    return found


@pytest.fixture
def app(
    settings: Settings,
    gateway_keys: GatewayKeys,
    engine: Engine,
    sessions: sessionmaker[Session],
) -> FastAPI:
    return create_app(settings, keys=gateway_keys, engine=engine, sessions=sessions)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as opened:
        yield opened


def audit_of(session: Session, request_id: str) -> list[tuple[str, str]]:
    events = session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id))
    return [(event.action, event.outcome) for event in events]


def test_the_inventory_sees_every_route(app: FastAPI) -> None:
    found = endpoints(app)
    paths = {endpoint.path for endpoint in found}
    assert paths >= PUBLIC_PATHS
    assert {"/v1/participants/me", "/v1/participants/{participant_id}/suspend"} <= paths
    assert all(isinstance(e.route, APIRoute) for e in found if e.path != "/openapi.json")
    # As many routes as the app would match: nothing hides behind a mount or a router.
    assert len({(e.path, e.method) for e in found}) == len(found)


def test_every_route_but_the_public_ones_refuses_a_request_without_a_token(
    app: FastAPI, anonymous: TestClient, session: Session
) -> None:
    failures: list[str] = []
    protected = 0
    for endpoint in endpoints(app):
        if endpoint.path in PUBLIC_PATHS:
            continue
        protected += 1
        where = f"{endpoint.method} {endpoint.path}"
        response = anonymous.request(endpoint.method, endpoint.url)
        if response.status_code != 401:
            failures.append(f"{where} answered {response.status_code}: {response.text[:200]}")
            continue
        if response.headers["content-type"] != PROBLEM_JSON:
            failures.append(f"{where}: content-type {response.headers['content-type']}")
            continue
        body = response.json()
        if (body["type"], body["status"]) != ("/problems/unauthenticated", 401):
            failures.append(f"{where}: {body}")
            continue
        if not response.headers.get("www-authenticate", "").startswith("Bearer"):
            failures.append(f"{where}: no Bearer challenge")
            continue
        audited = audit_of(session, response.headers["x-request-id"])
        if audited != [(endpoint.name, "refused")]:
            failures.append(f"{where}: audit {audited}")
    assert not failures, "\n".join(failures)
    assert protected >= 5


def test_the_routes_answering_without_a_token_are_exactly_the_public_ones(
    app: FastAPI, anonymous: TestClient
) -> None:
    """Classified by behaviour, not by the list: protected means refused for want of a token.

    A new route that answers without a token, whatever it answers, fails here.
    """
    answering = set()
    for endpoint in endpoints(app):
        response = anonymous.request(endpoint.method, endpoint.url)
        assert response.status_code < 500, f"{endpoint.method} {endpoint.path}: {response.text}"
        refused_for_want_of_token = (
            response.status_code == 401
            and response.headers["content-type"] == PROBLEM_JSON
            and response.json()["type"] == "/problems/unauthenticated"
        )
        if not refused_for_want_of_token:
            answering.add(endpoint.path)
    assert answering == PUBLIC_PATHS


def test_the_public_routes_answer_without_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    metadata = anonymous.get("/.well-known/oauth-authorization-server").json()
    assert metadata["token_endpoint"] == "http://testserver/oauth2/token"
    assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert anonymous.get("/.well-known/jwks.json").json()["keys"]
    assert anonymous.get("/openapi.json").json()["openapi"]
    assert anonymous.get("/schemas/receipt.json").json()["title"] == "Receipt claims"
    assert anonymous.get("/problems/invalid-token").status_code == 200


def test_the_token_endpoint_refuses_a_request_without_client_assertion(
    anonymous: TestClient, session: Session
) -> None:
    empty = anonymous.post("/oauth2/token")
    assert empty.status_code == 400, empty.text
    assert empty.headers["content-type"] == PROBLEM_JSON
    assert empty.json()["error"] == "invalid_request"

    without = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert without.status_code == 401, without.text
    assert without.headers["content-type"] == PROBLEM_JSON
    assert without.json()["error"] == "invalid_client"

    for response in (empty, without):
        audited = audit_of(session, response.headers["x-request-id"])
        assert audited == [("token:issued", "refused")]


def test_every_api_route_is_a_transaction_route_named_after_its_audit_action(
    app: FastAPI,
) -> None:
    actions = {str(action) for action in AuditAction}
    audited = [e for e in endpoints(app) if e.path.startswith(AUDITED_PREFIXES)]
    assert len(audited) >= 6
    for endpoint in audited:
        assert isinstance(endpoint.route, TransactionRoute), f"{endpoint.path}: not audited"
        assert ACTION_NAME.fullmatch(endpoint.name), f"{endpoint.path}: {endpoint.name!r}"
        assert endpoint.name in actions, f"{endpoint.path}: {endpoint.name!r} not an AuditAction"
    names = [endpoint.name for endpoint in audited]
    assert len(set(names)) == len(names), "two routes share an audit action"
    # Outside /v1, /oauth2 and /metrics live only public routes, which need no audit.
    outside = {e.path for e in endpoints(app) if not e.path.startswith(AUDITED_PREFIXES)}
    assert outside == PUBLIC_PATHS - {"/oauth2/token"}
