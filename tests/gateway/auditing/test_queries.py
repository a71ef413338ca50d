"""Auditors' queries: events within their territory, found by person, paged and exported;
and bad subject identifiers refused naming the field.
"""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auditlog.models import AuditEvent
from gateway.settings import Settings
from tests.support.actors import Prefecture, Register, auditor_headers
from tests.support.factories import NIR, decision, identity

PERSON = "7512345678"
OTHER = "7599999999"


def last_query(session: Session) -> AuditEvent:
    """The event of the latest query of the events."""
    found = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(["events:listed", "events:searched"]))
        .order_by(AuditEvent.id.desc())
    ).first()
    assert found is not None
    return found


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
    query_event = last_query(session)
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


def test_a_persons_events_are_searched_with_the_number_in_the_body_never_the_url(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    session: Session,
) -> None:
    """``POST /v1/audit/events/search``: the filters of ``GET /v1/audit/events`` in a body,
    the same answers, paged by the same cursor; the query audited with the pseudonym; the
    number's query-string form marked deprecated in the contract."""
    prefecture.created(decision("B-1", identity=identity(agdref_number=PERSON)))
    prefecture.created(decision("B-2", identity=identity(agdref_number=PERSON)))
    prefecture.created(decision("B-3", identity=identity(agdref_number=OTHER)))
    headers = auditor_headers(client, settings, participant, departements=["93"])
    filters = {"action": "decision:created", "participant": prefecture.id}
    by_url = client.get(
        "/v1/audit/events", params={**filters, "agdref_number": PERSON}, headers=headers
    )
    search = {**filters, "agdref_number": PERSON}
    by_body = client.post("/v1/audit/events/search", json=search, headers=headers)
    assert by_body.status_code == 200, by_body.text
    assert by_body.json() == by_url.json()
    assert len(by_body.json()["events"]) == 2
    assert PERSON not in by_body.text
    audited = last_query(session)
    assert audited.subject_pseudonyms == by_body.json()["events"][0]["subject_pseudonyms"][:1]
    assert PERSON not in str(audited.detail)

    first = client.post(
        "/v1/audit/events/search", json={**search, "limit": 1}, headers=headers
    ).json()
    rest = client.post(
        "/v1/audit/events/search",
        json={**search, "limit": 1, "after_id": first["next_after_id"]},
        headers=headers,
    ).json()
    assert [e["id"] for e in first["events"] + rest["events"]] == [
        e["id"] for e in by_body.json()["events"]
    ]
    exported = client.post(
        "/v1/audit/events/search", json={**search, "format": "csv-fr"}, headers=headers
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")

    for body, field in (
        ({"nir": "123"}, "nir"),
        ({"agdref_number": PERSON, "nir": NIR}, "agdref_number"),
        ({"limit": 0}, "limit"),
        ({"who": PERSON}, "who"),
    ):
        refused = client.post("/v1/audit/events/search", json=body, headers=headers)
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"][0]["field"] == field
        assert PERSON not in refused.text

    # The query-string form still answers, saying it is deprecated and what replaces it.
    assert by_url.headers["Deprecation"].startswith("@")
    assert by_url.headers["Link"] == '</v1/audit/events/search>; rel="successor-version"'
    assert "Deprecation" not in by_body.headers
    assert "Deprecation" not in client.get("/v1/audit/events", headers=headers).headers
    as_csv = client.get(
        "/v1/audit/events", params={"agdref_number": PERSON, "format": "csv"}, headers=headers
    )
    assert as_csv.headers["Deprecation"] == by_url.headers["Deprecation"]

    spec = client.get("/openapi.json").json()["paths"]
    listed = {p["name"]: p for p in spec["/v1/audit/events"]["get"]["parameters"]}
    assert listed["agdref_number"].get("deprecated") is True
    assert listed["nir"].get("deprecated") is True
    assert "requestBody" in spec["/v1/audit/events/search"]["post"]
    assert "requestBody" in spec["/v1/audit/subject-report"]["post"]
