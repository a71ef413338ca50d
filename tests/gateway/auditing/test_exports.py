"""Following one agent, and exports a French Excel opens as they are.

A CODAF member follows up a flagged agent with ``agent``, and exports the events or the
reports as ``csv-fr``: UTF-8 with a byte-order mark, ``;`` between cells, decimal commas,
no cell taken for a formula. The tests read those exports back as such a spreadsheet
does and find the standard export's values.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auditing import spreadsheet
from gateway.auditlog.models import AuditEvent
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import Register, api_headers, auditor_headers, token_for

CHECK = {"checks": [{"identity": {"agdref_number": "9300000001", "residence_departement": "93"}}]}


def excel_reads(body: bytes) -> list[list[str]]:
    """The cells as a French Excel reads them: the BOM says UTF-8, ``;`` separates."""
    assert body.startswith(b"\xef\xbb\xbf"), "without a BOM Excel reads accents as cp1252"
    text = body.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    return [[spreadsheet.unguarded(cell) for cell in row] for row in rows]


def as_api_value(cell: str) -> str:
    """A French cell as the standard export writes the same value."""
    if cell in ("VRAI", "FAUX"):
        return "True" if cell == "VRAI" else "False"
    candidate = cell.replace(",", ".", 1)
    try:
        float(candidate)
    except ValueError:
        return cell
    return candidate if "," in cell and cell.count(",") == 1 and " " not in cell else cell


@pytest.fixture
def checked(client: TestClient, settings: Settings, participant: Register) -> dict[str, Any]:
    """A CAF in 93 whose agents made status checks: one under a case reference a
    spreadsheet would read as a number."""
    fund = participant("fund", regime=Regime.CAF, departements=["93"])
    token = token_for(client, settings, fund)
    calls = [("agent-a", None), ("agent-a", "-007"), ("agent-b", None)]
    for agent, case in calls:
        extra = {"Case-Reference": case} if case else {}
        headers = api_headers(token, fund, agent_id=agent, **extra)
        response = client.post("/v1/status-checks", json=CHECK, headers=headers)
        assert response.status_code == 200, response.text
    return {
        "fund": fund.id,
        "auditor": auditor_headers(client, settings, participant, departements=["93"]),
    }


def test_an_auditor_follows_one_agent(
    client: TestClient, checked: dict[str, Any], session: Session
) -> None:
    headers = checked["auditor"]
    params = {"participant": checked["fund"], "action": "status:checked"}
    everyone = client.get("/v1/audit/events", params=params, headers=headers).json()["events"]
    assert {e["agent_id"] for e in everyone} == {"agent-a", "agent-b"}
    followed = client.get(
        "/v1/audit/events", params={**params, "agent": "agent-a"}, headers=headers
    )
    assert followed.status_code == 200, followed.text
    events = followed.json()["events"]
    assert len(events) == 2
    assert {e["agent_id"] for e in events} == {"agent-a"}
    # The agent alone finds the same events in this territory.
    alone = client.get(
        "/v1/audit/events", params={"agent": "agent-a", "action": "status:checked"}, headers=headers
    ).json()["events"]
    assert [e["id"] for e in alone] == [e["id"] for e in events]
    listed = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "events:listed")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert listed is not None
    assert "agent" in listed.detail["filters"]
    bad = client.get("/v1/audit/events", params={"agent": "a" * 65}, headers=headers)
    assert bad.status_code in (400, 422)
    assert "agent" in bad.text


@pytest.mark.usefixtures("checked")
def test_an_auditor_elsewhere_follows_no_one(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    elsewhere = auditor_headers(client, settings, participant, departements=["13"])
    found = client.get("/v1/audit/events", params={"agent": "agent-a"}, headers=elsewhere)
    assert found.status_code == 200
    assert found.json()["events"] == []


def test_the_events_export_opens_in_a_french_excel_with_the_standard_values(
    client: TestClient, checked: dict[str, Any]
) -> None:
    headers = checked["auditor"]
    params = {"participant": checked["fund"], "action": "status:checked"}
    standard = client.get("/v1/audit/events", params={**params, "format": "csv"}, headers=headers)
    french = client.get("/v1/audit/events", params={**params, "format": "csv-fr"}, headers=headers)
    assert french.status_code == 200, french.text
    assert french.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-events-fr.csv"' in french.headers["content-disposition"]
    assert not standard.content.startswith(b"\xef\xbb\xbf")
    plain = list(csv.reader(io.StringIO(standard.text, newline="")))
    shown = excel_reads(french.content)
    assert shown[0] == plain[0]
    assert len(shown) == len(plain) == 4
    for french_row, plain_row in zip(shown[1:], plain[1:], strict=True):
        assert [as_api_value(cell) for cell in french_row] == plain_row
    # The case reference a spreadsheet would have read as the number -7 stays text.
    column = plain[0].index("case_reference")
    raw_cells = [
        row[column]
        for row in csv.reader(
            io.StringIO(french.content.decode("utf-8-sig"), newline=""), delimiter=";"
        )
    ]
    assert "'-007" in raw_cells
    assert "-007" in [row[column] for row in shown]


def test_the_fund_report_exports_decimals_with_a_comma(
    client: TestClient, checked: dict[str, Any]
) -> None:
    headers = checked["auditor"]
    params = {"fund_id": checked["fund"]}
    standard = client.get(
        "/v1/audit/reports/funds", params={**params, "format": "csv"}, headers=headers
    )
    french = client.get(
        "/v1/audit/reports/funds", params={**params, "format": "csv-fr"}, headers=headers
    )
    assert french.status_code == 200, french.text
    plain = list(csv.DictReader(io.StringIO(standard.text, newline="")))
    rows = excel_reads(french.content)
    shown = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(shown) == len(plain) == 1
    assert shown[0]["status_checks"] == plain[0]["status_checks"] == "3"
    assert shown[0]["national"] == "FAUX"
    assert {name: as_api_value(value) for name, value in shown[0].items()} == plain[0]


def test_an_unknown_format_is_refused_naming_it(
    client: TestClient, checked: dict[str, Any]
) -> None:
    response = client.get("/v1/audit/events", params={"format": "xlsx"}, headers=checked["auditor"])
    assert response.status_code in (400, 422)
    assert "format" in response.text


DANGEROUS = st.sampled_from(spreadsheet.GUARDED_STARTS)


@given(
    st.one_of(st.text(), st.builds(lambda s, t: s + t, st.lists(DANGEROUS).map("".join), st.text()))
)
def test_no_text_cell_reads_as_a_formula_and_all_read_back(text: str) -> None:
    cell = spreadsheet.french_cell(text)
    assert not cell.startswith(spreadsheet.FORMULA_STARTS)
    response = spreadsheet.table(["value"], [[text]], "csv-fr", filename="t")
    body = bytes(response.body)
    read = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert read[0] == ["value"]
    value = read[1][0] if len(read) > 1 else ""
    assert spreadsheet.unguarded(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_decimals_read_back_with_a_comma(value: float) -> None:
    cell = spreadsheet.french_cell(value)
    assert "." not in cell
    assert float(cell.replace(",", ".")) == value


@given(st.dictionaries(st.text(max_size=5), st.integers()) | st.lists(st.text(max_size=5)))
def test_lists_and_objects_are_json_in_both_exports(value: Any) -> None:
    assert json.loads(spreadsheet.plain_cell(value)) == value
    french = spreadsheet.french_cell(value)
    assert json.loads(spreadsheet.unguarded(french)) == value
