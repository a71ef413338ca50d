"""A status check whose identifier finds a person its identity contradicts: an identity
conflict the fund resolves, answered without the decision, audited and counted for CODAF.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from gateway.auditlog.models import AuditEvent
from gateway.participants.models import Regime
from tests.gateway.status.test_matching import person
from tests.support.actors import Prefecture, api_headers, ask, auditor_headers, token_for
from tests.support.factories import decision

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from gateway.settings import Settings
    from tests.support.actors import Register

# Only one of his identifiers, as a fund knows him.
BY_NIA = {"agdref_number": None}
BY_AGDREF = {"social_security_number": None}


@pytest.fixture
def decided(prefecture: Prefecture) -> dict[str, Any]:
    """A withdrawal of the man of ``person()``, known by his AGDREF number and his NIA."""
    created: dict[str, Any] = prefecture.created(decision("NC-1", identity=person()))
    return created


def _conflicts_counted() -> float:
    found = REGISTRY.get_sample_value(
        "gateway_status_checks_total", {"match": "conflict", "result": "adverse_decision"}
    )
    return found or 0.0


def test_an_identifier_match_that_contradicts_the_person_is_a_conflict_naming_no_decision(
    client: TestClient,
    settings: Settings,
    participant: Register,
    decided: dict[str, Any],
    session: Session,
) -> None:
    caller = participant("fund", regime=Regime.CAF, departements=["75"])
    token = token_for(client, settings, caller)
    agent = api_headers(token, caller, agent_id="desk-7")
    counted = _conflicts_counted()

    checks = [
        person(**BY_NIA),  # the man himself: exact
        person(**BY_NIA, sex="F"),  # a woman under his NIA
        person(**BY_AGDREF, birth_date="1962-03-12"),  # born 23 years earlier
        person(**BY_NIA, first_names=["Karim"]),  # no first name in common
        person(**BY_AGDREF, birth_date="1985"),  # only the year known: tolerated
    ]
    answers = ask(client, agent, *checks)
    assert [(a["result"], a["match"]) for a in answers] == [
        ("adverse_decision", "exact"),
        ("adverse_decision", "conflict"),
        ("adverse_decision", "conflict"),
        ("adverse_decision", "conflict"),
        ("adverse_decision", "exact"),
    ]
    assert answers[0]["decision"]["reference"] == decided["reference"]
    assert [a["decision"] for a in answers[1:4]] == [None, None, None]
    assert _conflicts_counted() == counted + 3

    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "status:checked", AuditEvent.agent_id == "desk-7")
        .order_by(AuditEvent.id)
    ).all()
    assert [e.detail["match"] for e in events] == [
        "exact",
        "conflict",
        "conflict",
        "conflict",
        "exact",
    ]
    # The conflict names the decision found in the audit trail, never to the fund.
    assert events[1].object_ids == [decided["id"]]

    headers = auditor_headers(client, settings, participant, departements=["75"])
    response = client.get("/v1/audit/reports/funds", params={"fund_id": caller.id}, headers=headers)
    assert response.status_code == 200, response.text
    (row,) = response.json()["funds"]
    assert (row["status_checks"], row["status_checks_conflict"]) == (5, 3)
