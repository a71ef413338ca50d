"""A participant's system in one process, the gateway in another, real HTTP between them."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from sqlalchemy import select

from connectors.client import GatewayClient, TokenRequestFailed
from gateway.auditlog.models import AuditEvent
from gateway.keys import GatewayKeys
from gateway.settings import Environment
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import Client, new_key, register
from tests.support.processes import gateway_process


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'served.db'}"
        migrate.upgrade(url)
        yield url
        return
    factory: Callable[[], Generator[str]] = request.getfixturevalue("postgres_database")
    databases = factory()
    url = next(databases)
    migrate.upgrade(url)
    yield url
    databases.close()


class Served:
    def __init__(self, base_url: str, database_url: str, clients: dict[str, Client]) -> None:
        self.base_url = base_url
        self.database_url = database_url
        self.clients = clients


@pytest.fixture
def served(fresh_database: str, tmp_path: Path) -> Iterator[Served]:
    """``gateway serve`` in its own process, on a loopback port."""
    key_dir = tmp_path / "keys"
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    engine = make_engine(fresh_database)
    with make_sessionmaker(engine).begin() as session:
        clients = {
            "fund": register(session, "fund", departements=["75"]),
            "bound": register(session, "fund", departements=["13"], require_dpop=True),
        }
    engine.dispose()
    with gateway_process(fresh_database, key_dir, log_path=tmp_path / "server.log") as (
        base_url,
        _,
    ):
        yield Served(base_url, fresh_database, clients)


def test_authlib_oauth2_client_with_private_key_jwt(served: Served) -> None:
    fund = served.clients["fund"]
    token_endpoint = f"{served.base_url}/oauth2/token"
    # authlib's stock client and auth method; only the assertion's lifetime is shortened
    # from authlib's default hour to what the gateway accepts.
    auth_method = PrivateKeyJWT(
        token_endpoint,
        alg="ES256",
        claims={"exp": int(time.time()) + 60},
        headers={"kid": fund.kid},
    )
    with OAuth2Client(
        client_id=fund.id,
        client_secret=fund.key,
        token_endpoint_auth_method=auth_method,
        timeout=10.0,
    ) as oauth:
        token = oauth.fetch_token(token_endpoint, grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert 0 < token["expires_in"] <= 300
        response = oauth.get(
            f"{served.base_url}/v1/participants/me",
            headers={"Purpose": fund.purpose, "Agent-Id": "agent-1"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == fund.id

    engine = make_engine(served.database_url)
    with make_sessionmaker(engine)() as session:
        actions = {
            (e.action, e.outcome, e.participant_id) for e in session.scalars(select(AuditEvent))
        }
    engine.dispose()
    assert ("token:issued", "success", fund.id) in actions
    assert ("participant:read", "success", fund.id) in actions


def test_dpop_bound_client_over_http(served: Served) -> None:
    bound = served.clients["bound"]
    with GatewayClient(served.base_url, bound.id, bound.key, dpop_key=new_key()) as client:
        token = client.fetch_token()
        assert token["token_type"] == "DPoP"
        response = client.request(
            "GET", "/v1/participants/me", purpose=bound.purpose, agent_id="agent-2"
        )
        assert response.status_code == 200, response.text
        assert response.json()["id"] == bound.id
    with (
        GatewayClient(served.base_url, bound.id, bound.key) as without_dpop,
        pytest.raises(TokenRequestFailed) as refused,
    ):
        without_dpop.fetch_token()
    assert refused.value.error == "invalid_dpop_proof"
