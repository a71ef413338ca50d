"""Batches over the API: a fund downloads only its own, and the outbox shows a fund its
own records and an auditor its territory.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.auditlog.models import AuditEvent
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import (
    Fund,
    Prefecture,
    Register,
    api_headers,
    make_fund,
    post_decision,
    seal,
    token_for,
)


def test_another_funds_batch_is_answered_as_unknown_and_audited(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "X-1")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    unknown_id = "00000000-0000-7000-8000-000000000000"
    other = make_fund(client, settings, participant, regime=Regime.CPAM, departements=["75"])
    assert other.batches() == []
    for path in ("/v1/batches/{}", "/v1/batches/{}/receipt"):
        method = other.http.get if path.endswith("}") else other.http.post
        theirs = method(path.format(batch_id), headers=other.headers())
        unknown = method(path.format(unknown_id), headers=other.headers())
        # No existence oracle: another fund's batch and no batch get the same answer.
        assert theirs.status_code == unknown.status_code == 404, theirs.text
        assert theirs.headers["content-type"] == unknown.headers["content-type"]
        shape = {k: v for k, v in theirs.json().items() if k not in {"detail", "instance"}}
        assert shape == {k: v for k, v in unknown.json().items() if k not in {"detail", "instance"}}
        assert theirs.json()["detail"].replace(batch_id, unknown_id) == unknown.json()["detail"]
    attempts = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "batch:downloaded", AuditEvent.participant_id == other.id
        )
    ).all()
    [refused] = [event for event in attempts if event.object_ids == [batch_id]]
    assert refused.outcome == "refused"
    # The CODAF still learns that the fund asked for someone else's batch.
    assert refused.detail["addressed_to_another_fund"] is True
    assert refused.detail["problem"] == "not-found"
    missing = fund.http.get(f"/v1/batches/{unknown_id}", headers=fund.headers())
    assert missing.status_code == 404


def test_the_outbox_shows_a_fund_its_own_and_an_auditor_its_territory(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    other = make_fund(client, settings, participant, regime=Regime.CPAM, departements=["75"])
    post_decision(prefecture, "O-1")
    post_decision(prefecture, "O-2")
    seal(sessions, gateway_keys, max_records=1, fund_ids=[fund.id])
    post_decision(prefecture, "O-3")

    mine = client.get("/v1/outbox", headers=fund.headers())
    assert mine.status_code == 200, mine.text
    lines = {(line["fund_id"], line["state"]): line["records"] for line in mine.json()["lines"]}
    assert lines == {(fund.id, "sealed"): 2, (fund.id, "pending"): 1}
    sneaky = client.get("/v1/outbox", params={"fund_id": other.id}, headers=fund.headers())
    assert sneaky.json()["lines"] == []

    def auditor_view(**options: Any) -> set[str]:
        auditor = participant("auditor", **options)
        token = token_for(client, settings, auditor)
        response = client.get("/v1/outbox", headers=api_headers(token, auditor))
        assert response.status_code == 200, response.text
        return {line["fund_id"] for line in response.json()["lines"]}

    assert fund.id in auditor_view(departements=["93"])
    assert auditor_view(departements=["13"]) & {fund.id, other.id} == set()
    assert fund.id in auditor_view(national=True)
    refused = client.get("/v1/outbox", headers=prefecture.headers())
    assert refused.status_code == 403, refused.text
