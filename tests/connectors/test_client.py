"""A participant's system in one process, the gateway in another, real HTTP between them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from sqlalchemy import select

from connectors.client import GatewayClient, TokenRequestFailed
from gateway.auditlog.models import AuditEvent
from tests.support.actors import new_key
from tests.support.database import sessions_on
from tests.support.processes import Served, serve


@pytest.fixture
def served(migrated_database_url: str, tmp_path: Path) -> Iterator[Served]:
    """``gateway serve`` in its own process, on a loopback port."""
    with serve(
        migrated_database_url,
        tmp_path,
        fund={"kind": "fund", "departements": ["75"]},
        bound={"kind": "fund", "departements": ["13"], "require_dpop": True},
    ) as running:
        yield running


@pytest.mark.slow  # starts the gateway in its own process
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

    with sessions_on(served.database_url) as sessions, sessions() as session:
        actions = {
            (e.action, e.outcome, e.participant_id) for e in session.scalars(select(AuditEvent))
        }
    assert ("token:issued", "success", fund.id) in actions
    assert ("participant:read", "success", fund.id) in actions


@pytest.mark.slow  # starts the gateway in its own process
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
