"""Auditors' reports: one person's access report, and what each fund and prefecture did."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors import wire
from gateway.batches.models import Receipt
from gateway.disclosures.models import Disclosure
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
from tests.support.factories import decision, identity
from tests.support.jose import batch_payload, signed_receipt

PERSON = "7512345678"
OTHER = "7599999999"


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
    # The same report with the number in the body: the form that keeps it out of URLs.
    posted = client.post(
        "/v1/audit/subject-report", json={"agdref_number": PERSON}, headers=headers
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["decisions"] == body["decisions"]
    assert report.headers["Link"] == '</v1/audit/subject-report>; rel="successor-version"'
    assert "Deprecation" in report.headers
    assert "Deprecation" not in posted.headers
    unknown = client.post("/v1/audit/subject-report", json={"number": PERSON}, headers=headers)
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "number"


def check_delays_from_owed(
    sessions: sessionmaker[Session], fund_id: str, fund_row: Callable[[], dict[str, Any]]
) -> None:
    """Records owed 12, 24 and 48 hours before their receipt: the median is a day, the 95th
    percentile between the last two (inclusive quantiles: 24 + 0.9 x 24 hours)."""
    with sessions() as session, session.begin():
        owed = session.scalars(
            select(Disclosure).where(Disclosure.fund_id == fund_id).order_by(Disclosure.id)
        ).all()
        received_at = session.scalars(select(Receipt.recorded_at)).one()
        for disclosure, hours in zip(owed, (12, 24, 48), strict=True):
            disclosure.created_at = received_at - timedelta(hours=hours)
    backlog = fund_row()
    assert backlog["owed_to_receipt_hours_median"] == pytest.approx(24, abs=0.01)
    assert backlog["owed_to_receipt_hours_p95"] == pytest.approx(45.6, abs=0.01)
    assert backlog["owed_to_delivery_hours_median"] <= backlog["owed_to_receipt_hours_median"]
    assert backlog["owed_to_delivery_hours_median"] > 23
    # 60 days and the receipt's time of day, to the hundredth: 61.0 in the last minutes.
    assert 60 <= backlog["decision_to_receipt_days_median"] <= 61


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
        headers={**api_headers(token, fund), "Content-Type": wire.JOSE_MEDIA_TYPE},
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
    # Owed when posted, a moment ago: the fund's delays are minutes, and the 60 days since
    # the decisions were taken (tests.support.factories.decision) are reported apart.
    for delay in ("owed_to_delivery_hours", "owed_to_receipt_hours"):
        assert 0 <= after[f"{delay}_median"] <= after[f"{delay}_p95"] < 0.1
    assert 60 <= after["decision_to_receipt_days_median"] <= 61  # rounded to the hundredth
    assert 60 <= after["decision_to_receipt_days_p95"] <= 61
    check_delays_from_owed(sessions, fund.id, fund_row)
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
