"""Subscriptions: a fund's set of people, stored as blind indexes, and routing by it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.auditlog.models import AuditEvent
from gateway.decisions import repository as decision_repository
from gateway.decisions.explain import explain
from gateway.disclosures.models import Disclosure
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from gateway.subscriptions.models import Subscription, SubscriptionUpload
from policies.loader import DEFAULT_POLICY, load_file
from tests.support.actors import (
    SUBSCRIPTIONS,
    Fund,
    Register,
    make_fund,
    make_prefecture,
    seal,
)
from tests.support.factories import NIR, NIR_NORMALISED, day, decision, identity

AGDREF = "7512345678"
OTHER_AGDREF = "7598765432"


def ndjson(*items: dict[str, Any]) -> bytes:
    return "\n".join(json.dumps(item) for item in items).encode()


def stored(session: Session, fund_id: str) -> list[Subscription]:
    statement = select(Subscription).where(Subscription.fund_id == fund_id)
    return list(session.scalars(statement.order_by(Subscription.id)))


def test_a_fund_replaces_its_set_and_only_blind_indexes_are_stored(
    fund: Fund, session: Session
) -> None:
    response = fund.subscribe(
        ndjson(
            {"agdref_number": AGDREF, "valid_from": day(-400)},
            {
                "agdref_number": "598765432",  # nine digits: a lost leading zero
                "social_security_number": {"number": NIR, "type": "nia"},
                "valid_from": day(-400),
                "valid_until": day(-10),
            },
        )
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["lines"], body["people"], body["identifiers"], body["open_periods"]) == (
        2,
        2,
        3,
        1,
    )
    rows = stored(session, fund.id)
    assert len(rows) == 3
    assert {row.upload_id for row in rows} == {body["upload_id"]}
    text = json.dumps([[r.blind_index, str(r.valid_from), str(r.valid_until)] for r in rows])
    for clear in (AGDREF, "0598765432", NIR_NORMALISED):
        assert clear not in text
    assert fund.subscriptions() == body

    again = fund.subscribe(ndjson({"agdref_number": OTHER_AGDREF, "valid_from": day(-5)}))
    assert again.status_code == 200, again.text
    assert again.json()["people"] == 1
    assert len(stored(session, fund.id)) == 1
    assert fund.subscriptions()["upload_id"] == again.json()["upload_id"]


def test_csv_uploads_are_read_like_ndjson(fund: Fund, session: Session) -> None:
    content = (
        "agdref_number;ssn_number;ssn_type;valid_from;valid_until\n"
        f"{AGDREF};;;{day(-30)};\n"
        f";{NIR};nia;{day(-30)};{day(30)}\n"
    ).encode()
    response = fund.subscribe(content, "csv")
    assert response.status_code == 200, response.text
    assert response.json()["identifiers"] == 2
    assert len(stored(session, fund.id)) == 2


def test_a_malformed_upload_is_refused_line_by_line_and_the_previous_set_stays(
    fund: Fund, session: Session
) -> None:
    assert (
        fund.subscribe(ndjson({"agdref_number": AGDREF, "valid_from": day(-30)})).status_code == 200
    )
    before = [(r.id, r.blind_index) for r in stored(session, fund.id)]
    content = b"\n".join(
        [
            json.dumps({"agdref_number": OTHER_AGDREF, "valid_from": day(-3)}).encode(),
            json.dumps({"agdref_number": "12AB", "valid_from": day(-3)}).encode(),
            b"{not json",
            json.dumps({"valid_from": day(-3)}).encode(),
            json.dumps(
                {"agdref_number": OTHER_AGDREF, "valid_from": day(3), "valid_until": day(1)}
            ).encode(),
            json.dumps(
                {"social_security_number": {"number": "1234", "type": "nir"}, "valid_from": day(0)}
            ).encode(),
        ]
    )
    response = fund.subscribe(content)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/invalid-lines")
    assert "5 of 6 lines" in problem["detail"]
    found = {(e["line"], e["rule"]) for e in problem["errors"]}
    assert (2, "agdref-format") in found
    assert (3, "json") in found
    assert (4, "identifier-required") in found
    assert (5, "period-reversed") in found
    assert {e["line"] for e in problem["errors"]} == {2, 3, 4, 5, 6}
    assert next(e for e in problem["errors"] if e["line"] == 2)["field"] == "agdref_number"
    assert "12AB" not in response.text  # the report never echoes the values
    assert [(r.id, r.blind_index) for r in stored(session, fund.id)] == before
    uploads = session.scalars(
        select(SubscriptionUpload).where(SubscriptionUpload.fund_id == fund.id)
    ).all()
    assert len(uploads) == 1
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "subscriptions:replaced", AuditEvent.participant_id == fund.id)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert event.outcome == "refused"
    assert event.detail["lines_reported"] == 5


def test_a_wrong_csv_header_or_a_missing_format_is_a_clear_400(fund: Fund) -> None:
    response = fund.subscribe(b"nir;valid_from\n1;2024-01-01\n", "csv")
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["rule"] == "csv-header"
    response = fund.subscribe(b"{}", None)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "format"


def _refused_upload(session: Session, response: Any, rule: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {"field": "body", "rule": rule} in [
        {"field": e["field"], "rule": e["rule"]} for e in response.json()["errors"]
    ]
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.request_id == response.headers["x-request-id"])
    ).one()
    assert (event.action, event.outcome) == ("subscriptions:replaced", "refused")
    assert (event.detail["status"], event.detail["fields"], event.detail["rules"]) == (
        400,
        ["body"],
        [rule],
    )


@pytest.mark.parametrize(
    ("content", "file_format"),
    [(b"", "ndjson"), (b"\n  \r\n", "ndjson"), (b"", "csv"), (b"valid_from\r\n", "csv")],
    ids=["empty", "blank-lines", "empty-csv", "csv-header-only"],
)
def test_an_upload_without_a_line_is_refused_and_the_set_stays(
    fund: Fund, session: Session, content: bytes, file_format: str
) -> None:
    assert (
        fund.subscribe(ndjson({"agdref_number": AGDREF, "valid_from": day(-30)})).status_code == 200
    )
    before = fund.subscriptions()
    rule = "csv-header" if content == b"" and file_format == "csv" else "empty-upload"
    _refused_upload(session, fund.subscribe(content, file_format), rule)
    assert fund.subscriptions() == before
    assert len(stored(session, fund.id)) == 1


def test_a_missing_body_is_refused_even_when_emptying_is_allowed(
    fund: Fund, session: Session
) -> None:
    assert (
        fund.subscribe(ndjson({"agdref_number": AGDREF, "valid_from": day(-30)})).status_code == 200
    )
    for params in ({"format": "ndjson"}, {"format": "ndjson", "allow_empty": "true"}):
        request = fund.http.build_request(
            "PUT", SUBSCRIPTIONS, params=params, headers=fund.headers()
        )
        del request.headers["content-length"]  # no body at all, not even an empty one
        _refused_upload(session, fund.http.send(request), "required")
    assert len(stored(session, fund.id)) == 1


def test_an_empty_upload_ends_every_subscription_only_when_it_says_so(
    fund: Fund, session: Session
) -> None:
    assert (
        fund.subscribe(ndjson({"agdref_number": AGDREF, "valid_from": day(-30)})).status_code == 200
    )
    response = fund.http.put(
        SUBSCRIPTIONS,
        content=b"",
        params={"format": "ndjson", "allow_empty": "true"},
        headers=fund.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["people"] == 0
    assert response.json()["lines"] == 0
    assert stored(session, fund.id) == []


def test_only_funds_upload_subscriptions_and_each_only_its_own(
    fund: Fund,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
) -> None:
    prefecture = make_prefecture(client, settings, participant, departements=["93"])
    response = client.put(
        SUBSCRIPTIONS,
        content=ndjson({"agdref_number": AGDREF, "valid_from": day(-3)}),
        params={"format": "ndjson"},
        headers=prefecture.headers(),
    )
    assert response.status_code == 403, response.text
    other = make_fund(client, settings, participant, regime=Regime.CPAM, departements=["75"])
    assert (
        other.subscribe(ndjson({"agdref_number": AGDREF, "valid_from": day(-3)})).status_code == 200
    )
    assert fund.subscribe(
        ndjson({"agdref_number": OTHER_AGDREF, "valid_from": day(-3)})
    ).status_code == (200)
    assert len(stored(session, other.id)) == 1
    assert fund.subscriptions()["people"] == 1
    assert other.subscriptions()["upload_id"] != fund.subscriptions()["upload_id"]


# Routing by subscription --------------------------------------------------------------


@pytest.fixture
def subscription_client(tmp_path: Path, app_client: Callable[..., TestClient]) -> TestClient:
    """A gateway whose policy routes only to funds holding a file on the person."""
    policy = tmp_path / "subscriptions.yaml"
    policy.write_text(
        DEFAULT_POLICY.read_text().replace("subscriptions_only: false", "subscriptions_only: true")
    )
    return app_client(policy_file=policy)


def recipients(session: Session, decision_id: str) -> set[str]:
    statement = select(Disclosure.fund_id).where(Disclosure.decision_id == decision_id)
    return set(session.scalars(statement))


def test_with_the_switch_on_only_funds_holding_a_file_on_the_effect_date_receive_it(
    subscription_client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    participant: Register,
    session: Session,
) -> None:
    http = subscription_client
    covering = make_fund(http, settings, participant, regime=Regime.CPAM, departements=["93"])
    inside = make_fund(http, settings, participant, regime=Regime.CAF, departements=["13"])
    before = make_fund(http, settings, participant, regime=Regime.MSA, departements=["13"])
    after = make_fund(http, settings, participant, regime=Regime.URSSAF, departements=["13"])
    by_nir = make_fund(http, settings, participant, regime=Regime.CARSAT, departements=["13"])
    effect = -50
    assert inside.subscribe(ndjson({"agdref_number": AGDREF, "valid_from": day(effect)})).is_success
    # A file that closed the day before the decision took effect, and one opened after it.
    assert before.subscribe(
        ndjson({"agdref_number": AGDREF, "valid_from": day(-900), "valid_until": day(effect - 1)})
    ).is_success
    assert after.subscribe(
        ndjson({"agdref_number": AGDREF, "valid_from": day(effect + 1)})
    ).is_success
    assert by_nir.subscribe(
        ndjson(
            {
                "social_security_number": {"number": NIR, "type": "nia"},
                "valid_from": day(-900),
                "valid_until": day(effect),
            }
        )
    ).is_success
    prefecture = make_prefecture(http, settings, participant, departements=["93"])
    created = prefecture.created(
        decision("SUB-1", identity=identity(residence_departement="93"), effect_date=day(effect))
    )
    assert recipients(session, created["id"]) == {inside.id, by_nir.id}
    assert covering.id not in recipients(session, created["id"])

    loaded = load_file(http.app.state.gateway.settings.policy_file)  # type: ignore[attr-defined]
    found = explain(session, loaded, decision_repository.get(session, created["id"]))  # type: ignore[arg-type]
    assert {fund_id for fund_id, _, _ in found.funds} == {inside.id, by_nir.id}
    assert any("holding a file on the person" in reason for reason in found.evaluation.reasons)

    # Once sealed, a correction goes to exactly the funds that received the decision.
    keys: GatewayKeys = http.app.state.gateway.keys  # type: ignore[attr-defined]
    seal(sessions, keys, loaded=loaded)
    corrected = prefecture.correct(
        created["id"],
        {"kind": "annulment", "reference": "SUB-1-A", "correction_date": day(-1)},
    )
    assert corrected.status_code == 201, corrected.text
    rows = session.scalars(
        select(Disclosure).where(Disclosure.decision_id == created["id"], Disclosure.version == 2)
    ).all()
    assert {row.fund_id for row in rows} == {inside.id, by_nir.id}
    assert {row.priority_class for row in rows} == {"correction"}


def test_with_the_switch_on_a_decision_without_identifiers_goes_nowhere_and_says_why(
    subscription_client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
) -> None:
    http = subscription_client
    make_fund(http, settings, participant, regime=Regime.CPAM, departements=["93"])
    prefecture = make_prefecture(http, settings, participant, departements=["93"])
    created = prefecture.created(
        decision(
            "SUB-2",
            identity=identity(
                agdref_number=None, social_security_number=None, residence_departement="93"
            ),
        )
    )
    assert recipients(session, created["id"]) == set()
    loaded = load_file(http.app.state.gateway.settings.policy_file)  # type: ignore[attr-defined]
    found = explain(session, loaded, decision_repository.get(session, created["id"]))  # type: ignore[arg-type]
    assert not found.evaluation.disclosed
    assert any("names no AGDREF number or NIR/NIA" in r for r in found.evaluation.reasons)


def test_with_the_switch_off_subscriptions_change_nothing(
    fund: Fund,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
) -> None:
    elsewhere = make_fund(client, settings, participant, regime=Regime.CPAM, departements=["13"])
    assert elsewhere.subscribe(
        ndjson({"agdref_number": AGDREF, "valid_from": day(-900)})
    ).is_success
    prefecture = make_prefecture(client, settings, participant, departements=["93"])
    created = prefecture.created(decision("SUB-3", identity=identity(residence_departement="93")))
    assert recipients(session, created["id"]) == {fund.id}
