"""Auditors' queries: events within their territory, and one person's access report."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.auditlog.models import AuditEvent
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import (
    Prefecture,
    Register,
    api_headers,
    auditor_headers,
    make_prefecture,
    seal,
    token_for,
)
from tests.support.factories import NIR, decision, identity
from tests.support.jose import batch_payload, signed_receipt

PERSON = "7512345678"
OTHER = "7599999999"


@pytest.fixture
def prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """A prefecture in 93, with a CPAM there: its decisions are owed and sealed for it."""
    participant("fund", regime=Regime.CPAM, departements=["93"])
    return make_prefecture(client, settings, participant, departements=["93"])


def test_an_auditor_sees_its_territory_filtered_and_its_query_is_audited(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    session: Session,
) -> None:
    prefecture.created(decision("Q-1", identity=identity(agdref_number=PERSON)))
    prefecture.created(decision("Q-2", identity=identity(agdref_number=OTHER)))
    local = auditor_headers(client, settings, participant, departements=["93"])
    elsewhere = auditor_headers(client, settings, participant, departements=["13"])
    national = auditor_headers(client, settings, participant, national=True)
    params = {"action": "decision:created", "participant": prefecture.id}

    seen = client.get("/v1/audit/events", params=params, headers=local)
    assert seen.status_code == 200, seen.text
    assert len(seen.json()["events"]) == 2
    assert client.get("/v1/audit/events", params=params, headers=elsewhere).json()["events"] == []
    assert (
        len(client.get("/v1/audit/events", params=params, headers=national).json()["events"]) == 2
    )

    about = client.get(
        "/v1/audit/events", params={**params, "agdref_number": PERSON}, headers=local
    )
    assert about.status_code == 200, about.text
    assert [e["object_ids"] for e in about.json()["events"]] == [
        e["object_ids"] for e in seen.json()["events"][:1]
    ]
    assert PERSON not in about.text
    query_event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "events:listed")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert query_event is not None
    assert query_event.subject_pseudonyms == about.json()["events"][0]["subject_pseudonyms"][:1]
    assert "subject" in query_event.detail["filters"]

    first = client.get("/v1/audit/events", params={**params, "limit": 1}, headers=local).json()
    assert first["next_after_id"] is not None
    rest = client.get(
        "/v1/audit/events",
        params={**params, "limit": 1, "after_id": first["next_after_id"]},
        headers=local,
    ).json()
    assert [e["id"] for e in rest["events"]] == [seen.json()["events"][1]["id"]]

    exported = client.get("/v1/audit/events", params={**params, "format": "csv"}, headers=local)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["action"] for row in rows} == {"decision:created"}
    assert len(rows) == 2

    outside = client.get("/v1/audit/events", params={"departement": "13"}, headers=local)
    assert outside.status_code == 400
    assert outside.json()["errors"][0]["field"] == "departement"


def test_bad_subject_identifiers_are_refused_naming_the_field(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    headers = auditor_headers(client, settings, participant, national=True)
    for params, field in (
        ({"agdref_number": "12AB"}, "agdref_number"),
        ({"nir": "123"}, "nir"),
        ({"agdref_number": PERSON, "nir": NIR}, "agdref_number"),
    ):
        response = client.get("/v1/audit/events", params=params, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == field


def test_the_persons_report_names_every_recipient_field_and_access(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    created = prefecture.created(
        decision("S-1", identity=identity(agdref_number=PERSON, residence_departement="93"))
    )
    prefecture.created(decision("S-2", identity=identity(agdref_number=OTHER)))
    seal(sessions, gateway_keys)
    corrected = prefecture.correct(
        created["id"],
        {
            "kind": "annulment",
            "reference": "TA-S-1",
            "correction_date": created["versions"][0]["decision_date"],
        },
    )
    assert corrected.status_code == 201, corrected.text
    refused = client.get(
        "/v1/audit/subject-report",
        params={"agdref_number": PERSON},
        headers=auditor_headers(client, settings, participant, national=True),
    )
    assert refused.status_code == 403
    headers = auditor_headers(
        client, settings, participant, purpose="data-subject-request", national=True
    )
    report = client.get(
        "/v1/audit/subject-report", params={"agdref_number": PERSON}, headers=headers
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert [d["reference"] for d in body["decisions"]] == ["S-1"]
    only = body["decisions"][0]
    assert only["status"] == "annulled"
    assert only["corrections"][0]["kind"] == "annulment"
    states = {(d["version"], d["state"]) for d in only["disclosures"]}
    assert states == {(1, "sealed"), (2, "pending")}
    assert all("agdref_number" in d["fields"] for d in only["disclosures"])
    assert all("public_order" not in d["fields"] for d in only["disclosures"])
    actions = {access["action"] for access in body["accesses"]}
    assert {"decision:created", "decision:corrected"} <= actions
    assert all("agent" not in access for access in body["accesses"])
    assert PERSON not in report.text


def test_the_fund_and_prefecture_reports_count_what_happened(
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    fund = participant("fund", regime=Regime.CAF, departements=["93"])
    prefecture = make_prefecture(client, settings, participant, departements=["93"])
    ids = [
        prefecture.created(
            decision(f"R-{n}", kind=kind, identity=identity(residence_departement="93"))
        )["id"]
        for n, kind in enumerate(
            ["renewal-refusal", "renewal-refusal", "first-permit-refusal", "oqtf"]
        )
    ]
    headers = auditor_headers(client, settings, participant, departements=["93"])

    def fund_row(**params: Any) -> dict[str, Any]:
        response = client.get(
            "/v1/audit/reports/funds",
            params={"fund_id": fund.id, "unacknowledged_after_days": 0, **params},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["funds"]
        assert len(rows) == 1
        return rows[0]

    before = fund_row()
    assert (before["records_owed"], before["batches"], before["unacknowledged"]) == (3, 0, 3)
    seal(sessions, gateway_keys)
    token = token_for(client, settings, fund)
    listed = client.get("/v1/batches", headers=api_headers(token, fund)).json()["batches"]
    content = client.get(f"/v1/batches/{listed[0]['id']}", headers=api_headers(token, fund)).content
    records = batch_payload(content, gateway_keys)["records"]
    outcomes = [
        {"record_id": r["record_id"], "outcome": "rights-ended" if n else "not-an-affiliate"}
        for n, r in enumerate(records)
    ]
    receipt = signed_receipt(fund, content, gateway_keys, outcomes=outcomes)
    posted = client.post(
        f"/v1/batches/{listed[0]['id']}/receipt",
        content=receipt,
        headers={**api_headers(token, fund), "Content-Type": "application/jose"},
    )
    assert posted.status_code == 201, posted.text
    after = fund_row()
    assert after["records_by_state"] == {"acknowledged": 3}
    assert (after["batches"], after["batches_delivered"], after["batches_acknowledged"]) == (
        1,
        1,
        1,
    )
    assert after["outcomes"] == {"rights-ended": 2, "not-an-affiliate": 1}
    assert after["unacknowledged"] == 0
    # The decisions were taken 60 days ago (tests.support.factories.decision).
    assert 60 <= after["delay_to_receipt_days_median"] < 61
    assert 60 <= after["delay_to_receipt_days_p95"] < 61
    assert after["status_checks"] == 0

    csv_report = client.get(
        "/v1/audit/reports/funds", params={"fund_id": fund.id, "format": "csv"}, headers=headers
    )
    assert csv_report.status_code == 200
    row = next(csv.DictReader(io.StringIO(csv_report.text)))
    assert row["outcomes.rights-ended"] == "2"

    prefectures = client.get("/v1/audit/reports/prefectures", headers=headers)
    assert prefectures.status_code == 200, prefectures.text
    mine = next(p for p in prefectures.json()["prefectures"] if p["prefecture_id"] == prefecture.id)
    assert mine["decisions"] == len(ids)
    assert mine["decisions_by_kind"] == {"renewal-refusal": 2, "first-permit-refusal": 1, "oqtf": 1}
    elsewhere = auditor_headers(client, settings, participant, departements=["13"])
    others = client.get("/v1/audit/reports/funds", headers=elsewhere).json()["funds"]
    assert fund.id not in {row["fund_id"] for row in others}
    backwards = client.get(
        "/v1/audit/reports/funds",
        params={"since": "2026-11-20T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        headers=headers,
    )
    assert backwards.status_code == 400
