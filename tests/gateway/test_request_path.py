"""The request path's promises under its caches and its group commit, with real servers.

- A suspension (or a reactivation) made through one server is in force at once on every
  other: two ``gateway serve`` processes on one PostgreSQL, each having the participant
  in its cache; the next request on the other server is refused (then served again).
- An answered request's audit event is durable before the answer leaves: concurrent
  requests (their events group-committed), the server killed (SIGKILL) the moment the
  last answer arrived, and every answered request's event is in the database.
"""

from __future__ import annotations

import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from connectors.client import GatewayClient
from gateway.auditlog.models import AuditEvent
from gateway.keys import GatewayKeys
from gateway.settings import Environment
from tests.support.actors import Client, register
from tests.support.database import sessions_on
from tests.support.processes import gateway_process

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

OK, UNAUTHORIZED = 200, 401
ME = "/v1/participants/me"
ROUNDS = 3  # suspensions and reactivations, each checked on the other server
CONCURRENT, PER_THREAD = 8, 12  # the requests whose events must survive the kill


def registered(database_url: str, key_dir: Path, **kinds: dict[str, Any]) -> dict[str, Client]:
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    with sessions_on(database_url) as sessions, sessions.begin() as session:
        return {name: register(session, **options) for name, options in kinds.items()}


@pytest.mark.postgresql
def test_a_suspension_through_one_server_is_in_force_at_once_on_another(
    postgresql_url: str, tmp_path: Path
) -> None:
    key_dir = tmp_path / "keys"
    clients = registered(
        postgresql_url,
        key_dir,
        operator={"kind": "operator"},
        fund={"kind": "fund", "departements": ["75"]},
    )
    operator, fund = clients["operator"], clients["fund"]
    with (
        gateway_process(postgresql_url, key_dir, log_level="WARNING") as (first, _),
        gateway_process(postgresql_url, key_dir, log_level="WARNING") as (second, _),
        GatewayClient(first, operator.id, operator.key) as administrator,
        GatewayClient(second, fund.id, fund.key) as agent,
    ):

        def me() -> httpx.Response:
            return agent.request("GET", ME, purpose=fund.purpose, agent_id="agent-1")

        for _ in range(3):  # the second server now holds the fund in its cache
            assert me().status_code == OK
        for _ in range(ROUNDS):
            suspended = administrator.request(
                "POST", f"/v1/participants/{fund.id}/suspend", purpose=operator.purpose
            )
            assert suspended.status_code == OK, suspended.text
            refused = me()
            assert refused.status_code == UNAUTHORIZED, refused.text
            assert "suspended" in refused.json()["detail"]
            reactivated = administrator.request(
                "POST", f"/v1/participants/{fund.id}/reactivate", purpose=operator.purpose
            )
            assert reactivated.status_code == OK, reactivated.text
            served = me()
            assert served.status_code == OK, served.text
            assert served.json()["status"] == "active"


def test_every_answered_request_is_audited_though_the_server_is_killed_right_after(
    migrated_database_url: str, tmp_path: Path
) -> None:
    # A database of its own: what it commits must not show in the tests that share one.
    database_url = migrated_database_url
    key_dir = tmp_path / "keys"
    fund = registered(database_url, key_dir, fund={"kind": "fund", "departements": ["75"]})["fund"]
    answered: list[str] = []
    with gateway_process(database_url, key_dir, log_level="WARNING") as (base_url, server):
        with GatewayClient(base_url, fund.id, fund.key) as warm:
            token = warm.access_token

        def requests() -> list[str]:
            ids = []
            with httpx.Client(base_url=base_url, timeout=10) as http:
                for _ in range(PER_THREAD):
                    request_id = uuid.uuid4().hex
                    response = http.get(
                        ME,
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Purpose": fund.purpose,
                            "Agent-Id": "agent-1",
                            "X-Request-Id": request_id,
                        },
                    )
                    assert response.status_code == OK, response.text
                    ids.append(request_id)
            return ids

        with ThreadPoolExecutor(CONCURRENT) as pool:
            for ids in pool.map(lambda _: requests(), range(CONCURRENT)):
                answered.extend(ids)
        server.send_signal(signal.SIGKILL)  # nothing else runs: no shutdown, no flush
        server.wait(timeout=10)
    with sessions_on(database_url) as sessions, sessions() as session:
        found = set(
            session.scalars(
                select(AuditEvent.request_id).where(AuditEvent.request_id.in_(answered))
            )
        )
    assert len(answered) == CONCURRENT * PER_THREAD
    assert found == set(answered)
