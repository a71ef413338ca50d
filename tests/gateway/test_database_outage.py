"""A PostgreSQL outage under a running ``gateway serve``, on a cluster of the test's own.

While the server is stopped, requests get 503 problems with ``Retry-After`` and
``/readyz`` is red; the gateway's log holds a few lines about it and no traceback. Once it
is started again the same gateway process serves again, ``/readyz`` is green, every write
acknowledged before the outage is there, none refused during it is, and each refused
request's audit event, spooled during the outage, is in the audit table.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import select

from connectors.client import GatewayClient
from gateway.auditlog.models import AuditEvent
from gateway.decisions.models import Decision
from gateway.storage import migrate
from tests.support.cluster import binaries, throwaway_cluster
from tests.support.factories import decision
from tests.support.processes import serve

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgresql,
    pytest.mark.skipif(binaries() is None, reason="no PostgreSQL server binaries"),
]


def _wait_for(check: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    pytest.fail(f"not within {seconds} s: {check}")


def test_a_database_outage_is_a_503_and_the_gateway_recovers_by_itself(tmp_path: Path) -> None:
    with throwaway_cluster() as cluster:
        url = cluster.create_database("gateway")
        migrate.upgrade(url)
        spool = tmp_path / "spool"
        with serve(
            url,
            tmp_path,
            env={"GATEWAY_AUDIT_SPOOL_DIR": str(spool)},
            prefecture={"kind": "prefecture", "departements": ["75"]},
        ) as served:
            prefecture = served.clients["prefecture"]
            base = served.base_url
            with GatewayClient(base, prefecture.id, prefecture.key) as client:

                def post(reference: str) -> httpx.Response:
                    body = decision(reference)
                    return client.request(
                        "POST", "/v1/decisions", purpose=prefecture.purpose, json=body
                    )

                acknowledged = [f"O-{n}" for n in range(1, 4)]
                for reference in acknowledged:
                    assert post(reference).status_code == 201

                cluster.stop()
                refused: list[str] = []  # the request ids of the 503s
                for reference in ("O-4", "O-5", "O-6"):
                    response = post(reference)
                    assert response.status_code == 503, response.text
                    assert response.headers["content-type"] == "application/problem+json"
                    assert int(response.headers["retry-after"]) >= 1
                    assert response.json()["type"] == "/problems/database-unavailable"
                    refused.append(response.headers["x-request-id"])
                unauthenticated = httpx.get(f"{base}/v1/participants/me")
                assert unauthenticated.status_code == 401  # needs no database to refuse
                refused.append(unauthenticated.headers["x-request-id"])
                ready = httpx.get(f"{base}/readyz")
                assert ready.status_code == 503
                assert "retry-after" in ready.headers
                assert any(spool.iterdir())  # the refusals are on disk

                cluster.start()
                _wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200)
                assert post("O-7").status_code == 201  # the same process, not restarted
                acknowledged.append("O-7")

                def replayed() -> bool:
                    found = served.rows(
                        select(AuditEvent.request_id).where(AuditEvent.request_id.in_(refused))
                    )
                    return len(found) == len(refused)

                _wait_for(replayed)
        stored = {r for (r,) in served.rows(select(Decision.reference))}
        events = [
            e for (e,) in served.rows(select(AuditEvent).where(AuditEvent.request_id.in_(refused)))
        ]
    assert stored == set(acknowledged)  # nothing acknowledged lost, nothing refused stored
    assert sorted(e.request_id for e in events) == sorted(refused)  # each exactly once
    assert all(e.detail["spooled"] for e in events)
    assert [e.detail["problem"] for e in events].count("database-unavailable") == 3
    assert list(spool.iterdir()) == []

    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    outage = [line for line in lines if line["logger"] == "gateway.database"]
    assert 1 <= len(outage) <= 6, outage
    assert outage[-1]["message"] == "database available again"
    assert not [line for line in lines if line["level"] in {"error", "critical"}]
