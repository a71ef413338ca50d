"""Backlog imports: NDJSON and CSV streamed in, every line reported (accepted, duplicate,
rejected with field and rule), batches committed whole, a clear report for a malformed
file, and the ``gateway import`` command against a real server."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from connectors.client import GatewayClient
from gateway.auditlog.models import AuditEvent
from gateway.cli.main import app
from gateway.decisions.models import Decision
from gateway.identities.service import IdentityKeys
from gateway.imports.models import DecisionImport, ImportChunk, ImportLine
from gateway.imports.runner import ImportRunner, run_pending_imports
from gateway.storage import migrate
from tests.support.actors import POLICY, Prefecture, Register, make_prefecture
from tests.support.audit import assert_no_clear_identity, event_of
from tests.support.database import counts, sessions_on
from tests.support.factories import (
    NIR_NORMALISED,
    days_ago,
    decision,
    identity,
    tomorrow,
)
from tests.support.problems import field_problem, problem
from tests.support.processes import Served, serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings

BATCH = 2  # lines per transaction in these tests, so that a few lines make several batches
CSV_HEADER = [
    "reference",
    "departement",
    "kind",
    "withdrawn_document",
    "removal_measures",
    "public_order",
    "decision_date",
    "notification_date",
    "effect_date",
    "permit_category",
    "permit_number",
    "permit_expiry_date",
    "legal_basis",
    "agdref_number",
    "ssn_number",
    "ssn_type",
    "birth_name",
    "usage_name",
    "first_names",
    "sex",
    "birth_date",
    "place_of_birth",
    "nationality",
    "residence_departement",
]


# -- building files -------------------------------------------------------------------


def ndjson(*lines: dict[str, Any] | str | bytes) -> bytes:
    """One line per item: a document as JSON, a string or bytes as they are."""
    encoded = []
    for line in lines:
        if isinstance(line, dict):
            encoded.append(json.dumps(line, ensure_ascii=False).encode())
        elif isinstance(line, str):
            encoded.append(line.encode())
        else:
            encoded.append(line)
    return b"".join(line + b"\n" for line in encoded)


def csv_row(body: dict[str, Any]) -> dict[str, str]:
    """A decision body as a row of the documented CSV columns."""
    person = body.get("identity", {})
    ssn = person.get("social_security_number") or {}
    permit = body.get("permit") or {}
    values = {
        "reference": body.get("reference"),
        "departement": body.get("departement"),
        "kind": body.get("kind"),
        "withdrawn_document": body.get("withdrawn_document"),
        "removal_measures": "|".join(body.get("removal_measures", [])),
        "public_order": "oui" if body.get("public_order") else "non",
        "decision_date": body.get("decision_date"),
        "notification_date": body.get("notification_date"),
        "effect_date": body.get("effect_date"),
        "permit_category": permit.get("category"),
        "permit_number": permit.get("number"),
        "permit_expiry_date": permit.get("expiry_date"),
        "legal_basis": body.get("legal_basis"),
        "agdref_number": person.get("agdref_number"),
        "ssn_number": ssn.get("number"),
        "ssn_type": ssn.get("type"),
        "birth_name": person.get("birth_name"),
        "usage_name": person.get("usage_name"),
        "first_names": "|".join(person.get("first_names", [])),
        "sex": person.get("sex"),
        "birth_date": person.get("birth_date"),
        "place_of_birth": person.get("place_of_birth"),
        "nationality": person.get("nationality"),
        "residence_departement": person.get("residence_departement"),
    }
    return {key: value or "" for key, value in values.items()}


def csv_file(
    rows: list[dict[str, str] | list[str]],
    *,
    delimiter: str = ",",
    bom: bool = False,
    header: list[str] | None = None,
    line_end: str = "\r\n",
) -> bytes:
    columns = header or CSV_HEADER
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns] if isinstance(row, dict) else row)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def bad_nir() -> dict[str, Any]:
    return identity(social_security_number={"number": "295109912611194", "type": "nir"})


# -- reading results ------------------------------------------------------------------


Summary = Callable[["httpx2.Response"], dict[str, Any]]


@pytest.fixture
def summary(
    prefecture: Prefecture, sessions: sessionmaker[Session], gateway_keys: GatewayKeys
) -> Summary:
    """Check the upload's 202 (queued, with its Location), run the import job as the
    worker would, and return the import as then read (its summary, its report's start)."""
    keys = IdentityKeys.from_store(gateway_keys)

    def processed(response: httpx2.Response) -> dict[str, Any]:
        assert response.status_code == 202, response.text
        queued: dict[str, Any] = response.json()
        assert queued["status"] == "queued"
        assert (queued["lines"], queued["lines_done"], queued["finished_at"]) == (0, 0, None)
        assert response.headers["location"] == f"/v1/decision-imports/{queued['id']}"
        run_pending_imports(sessions, keys, POLICY, batch_size=BATCH)
        body = full_report(prefecture, queued["id"], limit=1)
        assert body["lines_done"] == body["lines_total"] == queued["lines_total"]
        return body

    return processed


def full_report(prefecture: Prefecture, import_id: str, **params: Any) -> dict[str, Any]:
    response = prefecture.report(import_id, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def outcomes(report: dict[str, Any]) -> list[tuple[int, str, str | None, list[tuple[str, str]]]]:
    """(line, outcome, reference, [(field, rule)]) of each reported line."""
    return [
        (
            line["line"],
            line["outcome"],
            line["reference"],
            [(error["field"], error["rule"]) for error in line["errors"]],
        )
        for line in report["report"]
    ]


def totals(body: dict[str, Any]) -> tuple[str, int, int, int, int]:
    return (body["status"], body["lines"], body["accepted"], body["duplicate"], body["rejected"])


# -- fixtures -------------------------------------------------------------------------


# -- NDJSON ---------------------------------------------------------------------------


def test_an_ndjson_file_with_good_and_bad_lines_is_reported_line_by_line(
    prefecture: Prefecture, session: Session, summary: Summary
) -> None:
    first = decision("B-0001", "permit-withdrawal", withdrawn_document="receipt")
    second = decision("B-0002", "first-permit-refusal", removal_measures=["oqtf"])
    content = ndjson(
        first,  # 1: accepted
        decision("B-0003", identity=bad_nir()),  # 2: rejected
        "",  # 3: blank, skipped
        '{"reference": "B-0004", "kind": ',  # 4: not JSON
        '["B-0005"]',  # 5: JSON, not an object
        second,  # 6: accepted
        first,  # 7: a duplicate of line 1, in another batch
        {**first, "effect_date": first["decision_date"]},  # 8: line 1's reference reused
        decision("B-0009", departement="13"),  # 9: not its département
        decision("B 0010"),  # 10: malformed reference: not echoed
        decision("B-0011", decision_date=tomorrow()),  # 11
        decision("B-0012", notification_date=days_ago(70)),  # 12
        second,  # 13: a duplicate of line 6, in the same batch
        decision("B-0014", identity=identity(birth_name="Ben\x07Ali")),  # 14
    )
    before = counts(session)
    body = summary(prefecture.import_file(content))
    assert body["format"] == "ndjson"
    assert body["dry_run"] is False
    assert totals(body) == ("done", 13, 2, 2, 9)
    assert body["error"] is None
    assert body["finished_at"] is not None
    assert counts(session) == {name: n + 2 for name, n in before.items()}

    report = full_report(prefecture, body["id"])
    assert report["next_line"] is None
    assert outcomes(report) == [
        (1, "accepted", "B-0001", []),
        (2, "rejected", "B-0003", [("identity.social_security_number", "nir-key")]),
        (4, "rejected", None, [("line", "json")]),
        (5, "rejected", None, [("line", "json")]),
        (6, "accepted", "B-0002", []),
        (7, "duplicate", "B-0001", []),
        (8, "rejected", "B-0001", [("reference", "reference-reused")]),
        (9, "rejected", "B-0009", [("departement", "own-territory")]),
        (10, "rejected", None, [("reference", "string_pattern_mismatch")]),
        (11, "rejected", "B-0011", [("decision_date", "date-in-future")]),
        (12, "rejected", "B-0012", [("notification_date", "notification-before-decision")]),
        (13, "duplicate", "B-0002", []),
        (14, "rejected", "B-0014", [("identity.birth_name", "name-control-characters")]),
    ]
    lines = {line["line"]: line for line in report["report"]}
    assert lines[7]["decision_id"] == lines[1]["decision_id"]
    assert lines[13]["decision_id"] == lines[6]["decision_id"]
    assert lines[2]["decision_id"] is None
    # Messages say what is wrong, never the value.
    assert "Ben" not in json.dumps(report)

    stored = prefecture.read(lines[1]["decision_id"]).json()
    assert stored["reference"] == "B-0001"
    assert stored["versions"][0]["withdrawn_document"] == "receipt"
    assert stored["versions"][0]["identity"]["birth_name"] == "N'Diaye"
    assert stored["versions"][0]["identity"]["usage_name"] == 'O"Brien'
    assert stored["versions"][0]["identity"]["first_names"] == ["Aïssatou", "Ben; Ali"]
    listed = prefecture.list().json()["items"]
    assert {item["reference"] for item in listed} == {"B-0001", "B-0002"}


def test_lines_already_posted_are_duplicates_and_a_reposted_file_is_all_duplicates(
    prefecture: Prefecture, session: Session, summary: Summary
) -> None:
    posted = prefecture.created(decision("B-0001"))
    content = ndjson(
        decision("B-0001"),  # the posted decision, again
        decision("B-0001", kind="oqtf"),  # its reference, another decision
        decision("B-0002"),
        decision("B-0003", "irtf"),
        decision("B-0004", decision_date="2023-02-30"),  # not a date
    )
    body = summary(prefecture.import_file(content))
    assert totals(body) == ("done", 5, 2, 1, 2)
    report = full_report(prefecture, body["id"])
    assert outcomes(report) == [
        (1, "duplicate", "B-0001", []),
        (2, "rejected", "B-0001", [("reference", "reference-reused")]),
        (3, "accepted", "B-0002", []),
        (4, "accepted", "B-0003", []),
        (5, "rejected", "B-0004", [("decision_date", "date_from_datetime_parsing")]),
    ]
    assert report["report"][0]["decision_id"] == posted["id"]
    assert posted["id"] in report["report"][1]["errors"][0]["message"]
    stored = counts(session)

    again = summary(prefecture.import_file(content))
    assert again["id"] != body["id"]
    assert totals(again) == ("done", 5, 0, 3, 2)
    assert [line[1] for line in outcomes(full_report(prefecture, again["id"]))] == [
        "duplicate",
        "rejected",
        "duplicate",
        "duplicate",
        "rejected",
    ]
    assert counts(session) == stored

    # And posting one of the imported decisions is a replay of it.
    replay = prefecture.post(decision("B-0003", "irtf"))
    assert replay.status_code == 200, replay.text


def test_a_dry_run_stores_no_decision_but_a_report(
    prefecture: Prefecture, session: Session, summary: Summary
) -> None:
    content = ndjson(
        decision("B-0001"),
        decision("B-0002", identity=bad_nir()),
        decision("B-0003"),
        # In later batches: what a real run would say of them, though nothing was stored.
        decision("B-0001"),  # a duplicate of line 1
        decision("B-0003", kind="oqtf"),  # line 3's reference, another decision
    )
    before = counts(session)
    body = summary(prefecture.import_file(content, dry_run="true"))
    assert body["dry_run"] is True
    assert totals(body) == ("done", 5, 2, 1, 2)
    assert counts(session) == before
    report = full_report(prefecture, body["id"])
    assert outcomes(report) == [
        (1, "accepted", "B-0001", []),
        (2, "rejected", "B-0002", [("identity.social_security_number", "nir-key")]),
        (3, "accepted", "B-0003", []),
        (4, "duplicate", "B-0001", []),
        (5, "rejected", "B-0003", [("reference", "reference-reused")]),
    ]
    assert "earlier line of this file" in report["report"][4]["errors"][0]["message"]
    # Nothing was stored, so no line points at a decision.
    assert [line["decision_id"] for line in report["report"]] == [None] * 5
    line_events = session.scalars(select(AuditEvent).where(AuditEvent.action == "import:line"))
    assert list(line_events) == []
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "import:created")).one()
    assert event.detail["dry_run"] is True
    assert event.object_ids == [body["id"]]

    # The same file for real: everything is new.
    real = summary(prefecture.import_file(content))
    assert totals(real) == totals(body)
    assert outcomes(full_report(prefecture, real["id"])) == outcomes(report)
    assert counts(session)["decisions"] == before["decisions"] + 2


def test_bad_encoding_long_or_deep_lines_and_a_truncated_last_line_are_reported(
    prefecture: Prefecture,
    summary: Summary,
) -> None:
    content = (
        ndjson(
            decision("B-0001"),
            b'{"reference": "B-0002", "name": "\xe9\xff"}',  # latin-1, not UTF-8
            "x" * (70 * 1024),  # over 64 KiB
            decision("B-0004"),
            "[" * 5000,  # nested deeper than the JSON parser goes
        )
        + b'{"reference": "B-0006", "kind": "oqtf", "decision'  # cut off, no end of line
    )
    body = summary(prefecture.import_file(content))
    assert totals(body) == ("done", 6, 2, 0, 4)
    assert outcomes(full_report(prefecture, body["id"])) == [
        (1, "accepted", "B-0001", []),
        (2, "rejected", None, [("line", "encoding")]),
        (3, "rejected", None, [("line", "too-long")]),
        (4, "accepted", "B-0004", []),
        (5, "rejected", None, [("line", "json")]),
        (6, "rejected", None, [("line", "json")]),
    ]


def test_an_empty_file_is_an_empty_report(prefecture: Prefecture, summary: Summary) -> None:
    for content in (b"", b"\n\r\n  \n", b"\xef\xbb\xbf"):
        body = summary(prefecture.import_file(content))
        assert totals(body) == ("done", 0, 0, 0, 0)
        assert full_report(prefecture, body["id"])["report"] == []
    # A CSV file without its header line is no import at all: refused, nothing recorded.
    response = prefecture.import_file(b"", "csv")
    refused = field_problem(response, 400, "header", "header-missing")
    assert refused["type"] == "/problems/unusable-csv-header"
    assert "empty" in refused["detail"]


# -- CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "bom", "line_end"),
    [(",", False, "\r\n"), (";", True, "\n"), (";", False, "\r\n"), (",", True, "\n")],
    ids=["comma", "semicolon-bom", "semicolon", "comma-bom"],
)
def test_a_csv_file_is_read_whatever_its_delimiter_and_bom(
    prefecture: Prefecture, delimiter: str, bom: bool, line_end: str, summary: Summary
) -> None:
    names = identity(
        birth_name="Мухаммед", usage_name='O"Brien; Jr', first_names=["Ben; Ali", "محمد"]
    )
    full = decision(
        "C-0001",
        "permit-withdrawal",
        withdrawn_document="aps",
        public_order=True,
        permit={"category": "salarié", "number": "7500000001", "expiry_date": "2026-05-31"},
        legal_basis="CESEDA L. 432-4; L. 412-5",
        identity=names,
    )
    refusal = decision("C-0002", "first-permit-refusal", removal_measures=["oqtf", "irtf"])
    short = csv_row(decision("C-0004"))
    content = csv_file(
        [
            csv_row(full),  # line 2
            csv_row(refusal),  # 3
            csv_row(decision("C-0003", identity=bad_nir())),  # 4
            [short["reference"], short["kind"]],  # 5: too few fields
            {**csv_row(decision("C-0006")), "public_order": "peut-être"},  # 6
            {**csv_row(decision("C-0007")), "birth_date": "1990-02-30"},  # 7
            {**csv_row(decision("C-0008")), "kind": "renouvellement"},  # 8
        ],
        delimiter=delimiter,
        bom=bom,
        line_end=line_end,
    )
    body = summary(prefecture.import_file(content, "csv"))
    assert body["format"] == "csv"
    assert totals(body) == ("done", 7, 2, 0, 5)
    report = full_report(prefecture, body["id"])
    assert outcomes(report) == [
        (2, "accepted", "C-0001", []),
        (3, "accepted", "C-0002", []),
        (4, "rejected", "C-0003", [("identity.social_security_number", "nir-key")]),
        (5, "rejected", None, [("line", "columns")]),
        (6, "rejected", "C-0006", [("public_order", "bool_parsing")]),
        (7, "rejected", "C-0007", [("identity.birth_date", "date-impossible")]),
        (8, "rejected", "C-0008", [("kind", "enum")]),
    ]
    stored = prefecture.read(report["report"][0]["decision_id"]).json()
    version = stored["versions"][0]
    assert version["kind"] == "permit-withdrawal"
    assert version["withdrawn_document"] == "aps"
    assert version["public_order"] is True
    assert version["permit"] == full["permit"]
    assert version["legal_basis"] == "CESEDA L. 432-4; L. 412-5"
    assert version["identity"]["birth_name"] == "Мухаммед"
    assert version["identity"]["usage_name"] == 'O"Brien; Jr'
    assert version["identity"]["first_names"] == ["Ben; Ali", "محمد"]
    assert version["identity"]["social_security_number"]["number"] == NIR_NORMALISED
    refused = prefecture.read(report["report"][1]["decision_id"]).json()["versions"][0]
    assert refused["removal_measures"] == ["oqtf", "irtf"]
    assert refused["public_order"] is False

    # The same decisions posted as JSON are the ones the CSV carried.
    assert prefecture.post(full).status_code == 200
    assert prefecture.post(refusal).status_code == 200


def test_a_csv_with_only_some_columns_and_a_content_type(
    prefecture: Prefecture, summary: Summary
) -> None:
    header = ["Reference", "kind", "decision_date", "agdref_number", "birth_name"]
    content = csv_file(
        [
            ["C-0001", "oqtf", days_ago(30), "7512345678", "N'Diaye"],
            ["C-0002", "expulsion", days_ago(30), "", "Haddad"],  # no identifier
            ["", "", "", "", ""],  # an empty record: skipped
            ["C-0003", "irtf", days_ago(30), "512345678", ""],
        ],
        header=header,
    )
    response = prefecture.http.post(
        "/v1/decision-imports",
        content=content,
        headers=prefecture.headers(**{"Content-Type": "text/csv; charset=utf-8"}),
    )
    body = summary(response)
    assert body["format"] == "csv"
    assert totals(body) == ("done", 3, 2, 0, 1)
    assert outcomes(full_report(prefecture, body["id"])) == [
        (2, "accepted", "C-0001", []),
        (3, "rejected", "C-0002", [("identity", "identity-insufficient")]),
        (5, "accepted", "C-0003", []),
    ]


def test_a_csv_line_in_another_encoding_and_a_truncated_last_line(
    prefecture: Prefecture,
    summary: Summary,
) -> None:
    def line(body: dict[str, Any], encoding: str = "utf-8") -> bytes:
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\n").writerow(
            [csv_row(body)[c] for c in CSV_HEADER]
        )
        return out.getvalue().encode(encoding)

    content = (
        csv_file([csv_row(decision("C-0001"))], delimiter=";")
        + line(decision("C-0002", identity=identity(birth_name="Hélène")), "latin-1")
        + line(decision("C-0003"))
        + b'C-0004;;oqtf;;;non;2024-01-01;;;;;;"CESEDA'  # an open quote, cut off
    )
    body = summary(prefecture.import_file(content, "csv"))
    assert totals(body) == ("done", 4, 2, 0, 2)
    assert outcomes(full_report(prefecture, body["id"])) == [
        (2, "accepted", "C-0001", []),
        (3, "rejected", None, [("line", "encoding")]),
        (4, "accepted", "C-0003", []),
        (5, "rejected", None, [("line", "csv")]),
    ]


def imports_of(session: Session, prefecture: Prefecture) -> list[DecisionImport]:
    statement = select(DecisionImport).where(DecisionImport.prefecture_id == prefecture.id)
    return list(session.scalars(statement))


def assert_refused_header(
    session: Session, prefecture: Prefecture, response: httpx2.Response, rule: str
) -> dict[str, Any]:
    """A 400 naming the header and ``rule``; no import, line or decision stored; audited."""
    body = field_problem(response, 400, "header", rule)
    assert body["type"] == "/problems/unusable-csv-header"
    assert imports_of(session, prefecture) == []
    assert session.scalar(select(func.count()).select_from(ImportLine)) == 0
    event = event_of(session, response)
    assert (event.action, event.outcome) == ("import:created", "refused")
    assert event.detail["status"] == 400
    assert event.detail["problem"] == "unusable-csv-header"
    assert event.detail["fields"] == ["header"]
    assert event.detail["rules"] == [rule]
    assert event.detail["format"] == "csv"
    return body


@pytest.mark.parametrize(
    ("header", "rule", "words"),
    [
        (
            ["reference", "kind", "decision_date", "surname"],
            "unknown-columns",
            ["unknown column(s) surname"],
        ),
        (["reference", "kind"], "missing-columns", ["missing column(s) decision_date"]),
        (
            ["reference", "kind", "decision_date", "kind"],
            "duplicate-columns",
            ["a column appears twice"],
        ),
        (
            ["référence;type;date"],
            "missing-columns",
            ["unknown column(s)", "missing column(s) reference"],
        ),
    ],
    ids=["unknown", "missing", "twice", "wrong-names"],
)
def test_a_wrong_csv_header_refuses_the_import_naming_the_header_and_the_rule(
    prefecture: Prefecture, session: Session, header: list[str], rule: str, words: list[str]
) -> None:
    before = counts(session)
    content = csv_file([["C-0001", "oqtf", days_ago(3), "x"]], header=header)
    for dry_run in (False, True):
        response = prefecture.import_file(content, "csv", dry_run=dry_run)
        # The file cannot be read at all: a client error, never a "created" import.
        body = assert_refused_header(session, prefecture, response, rule)
        assert body["detail"].startswith("wrong CSV header: ")
        for word in words:
            assert word in body["detail"]
        assert "Columns: reference, departement, kind" in body["detail"]
        assert counts(session) == before


@pytest.mark.parametrize(
    ("content", "rule", "error"),
    [
        (
            "référence;kind;decision_date\nR-1;oqtf;2024-01-01\n".encode("latin-1"),
            "header-encoding",
            "the header line is not UTF-8",
        ),
        (
            b"reference;kind;decision_date;" + b"x" * (70 * 1024),
            "header-too-long",
            "the header line is longer",
        ),
        (
            b"\xef\xbb\xbf\r\n",
            "missing-columns",
            "wrong CSV header: missing column(s) reference, kind, decision_date.",
        ),
        (b"", "header-missing", "the file is empty"),
        (b'"reference,kind\n', "header-malformed", "malformed CSV header line"),
    ],
    ids=["latin-1", "too-long", "blank", "empty", "unclosed-quote"],
)
def test_an_unreadable_csv_header_is_a_400_never_the_server(
    prefecture: Prefecture, session: Session, content: bytes, rule: str, error: str
) -> None:
    response = prefecture.import_file(content, "csv")
    body = assert_refused_header(session, prefecture, response, rule)
    assert body["detail"].startswith(error), body["detail"]
    assert "xxxxxxxx" not in response.text


def test_a_csv_line_over_64_kib_is_refused_and_the_next_one_read(
    prefecture: Prefecture, summary: Summary
) -> None:
    long_row = {**csv_row(decision("C-0002")), "legal_basis": "L" * (70 * 1024)}
    content = csv_file(
        [csv_row(decision("C-0001")), long_row, csv_row(decision("C-0003"))], delimiter=";"
    )
    body = summary(prefecture.import_file(content, "csv"))
    assert totals(body) == ("done", 3, 2, 0, 1)
    assert outcomes(full_report(prefecture, body["id"])) == [
        (2, "accepted", "C-0001", []),
        (3, "rejected", None, [("line", "too-long")]),
        (4, "accepted", "C-0003", []),
    ]


def test_an_import_must_say_its_format(prefecture: Prefecture, session: Session) -> None:
    response = prefecture.import_file(ndjson(decision("B-1")), None)
    field_problem(response, 400, "format", "required")
    field_problem(prefecture.import_file(b"", "xml"), 400, "format", "enum")
    assert session.scalars(select(DecisionImport)).all() == []


# -- the report -----------------------------------------------------------------------


def test_the_report_pages_by_line_and_filters_by_outcome(
    prefecture: Prefecture, summary: Summary
) -> None:
    lines = [
        decision(f"B-{n:04d}") if n % 3 else decision(f"B-{n:04d}", identity=bad_nir())
        for n in range(1, 11)
    ]
    body = summary(prefecture.import_file(ndjson(*lines)))
    assert totals(body) == ("done", 10, 7, 0, 3)

    page = full_report(prefecture, body["id"], limit=4)
    assert [line["line"] for line in page["report"]] == [1, 2, 3, 4]
    assert page["next_line"] == 4
    page = full_report(prefecture, body["id"], limit=4, after_line=4)
    assert [line["line"] for line in page["report"]] == [5, 6, 7, 8]
    page = full_report(prefecture, body["id"], limit=4, after_line=8)
    assert [line["line"] for line in page["report"]] == [9, 10]
    assert page["next_line"] is None
    # The summary comes with every page.
    assert totals(page) == totals(body)

    rejected = full_report(prefecture, body["id"], outcome="rejected", limit=2)
    assert [line["line"] for line in rejected["report"]] == [3, 6]
    assert rejected["next_line"] == 6
    rejected = full_report(
        prefecture, body["id"], outcome="rejected", limit=2, after_line=rejected["next_line"]
    )
    assert [line["line"] for line in rejected["report"]] == [9]
    assert rejected["next_line"] is None
    accepted = full_report(prefecture, body["id"], outcome="accepted")
    assert len(accepted["report"]) == 7
    assert full_report(prefecture, body["id"], outcome="duplicate")["report"] == []

    field_problem(prefecture.report(body["id"], limit=0), 400, "limit", "greater_than_equal")
    field_problem(
        prefecture.report(body["id"], after_line=-1), 400, "after_line", "greater_than_equal"
    )
    field_problem(prefecture.report(body["id"], outcome="maybe"), 400, "outcome", "enum")


def test_another_prefecture_cannot_read_the_report(
    prefecture: Prefecture,
    client: TestClient,
    settings: Settings,
    participant: Register,
    summary: Summary,
) -> None:
    body = summary(prefecture.import_file(ndjson(decision("B-0001"))))
    other = make_prefecture(client, settings, participant, departements=["13"])
    problem(other.report(body["id"]), 404, "not-found")
    problem(prefecture.report("00000000-0000-0000-0000-000000000000"), 404, "not-found")
    assert full_report(prefecture, body["id"])["lines"] == 1


# -- audit ----------------------------------------------------------------------------


def test_each_line_of_an_import_is_an_audit_event_with_pseudonyms_only(
    prefecture: Prefecture, session: Session, summary: Summary
) -> None:
    secret_names = ["Мухаммед", "Ben; Ali", "محمد", "N'Diaye"]
    person = identity(birth_name=secret_names[0], first_names=secret_names[1:3])
    content = ndjson(
        decision("B-0001", identity=person),
        decision("B-0002", identity=identity(social_security_number=None)),
        decision("B-0003", identity=bad_nir()),
        "not json",
        decision("B-0001", identity=person),
    )
    response = prefecture.import_file(content)
    body = summary(response)
    assert totals(body) == ("done", 5, 2, 1, 2)
    report = {line["line"]: line for line in full_report(prefecture, body["id"])["report"]}

    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.request_id == response.headers["x-request-id"])
        .order_by(AuditEvent.id)
    ).all()
    line_events = [e for e in events if e.action == "import:line"]
    assert [e.detail["line"] for e in line_events] == [1, 2, 3, 4, 5]
    by_line = {e.detail["line"]: e for e in line_events}
    for number, event in by_line.items():
        assert event.participant_id == prefecture.id
        assert event.acting_for == prefecture.id
        assert event.object_ids[0] == body["id"]
        assert event.detail["outcome"] == report[number]["outcome"]
    assert (by_line[1].outcome, by_line[3].outcome, by_line[4].outcome) == (
        "success",
        "refused",
        "refused",
    )
    assert by_line[1].object_ids == [body["id"], report[1]["decision_id"]]
    assert by_line[5].object_ids == [body["id"], report[1]["decision_id"]]
    assert [p.split(":")[0] for p in by_line[1].subject_pseudonyms] == ["agdref", "nir"]
    assert by_line[5].subject_pseudonyms == by_line[1].subject_pseudonyms
    assert [p.split(":")[0] for p in by_line[2].subject_pseudonyms] == ["agdref"]
    assert by_line[3].detail["rules"] == ["nir-key"]
    assert by_line[4].detail["rules"] == ["json"]
    assert by_line[4].subject_pseudonyms == []
    (created,) = [e for e in events if e.action == "import:created"]
    assert (created.detail["lines_total"], created.detail["status"]) == (5, "queued")
    # The worker's line events name the request that brought the file.
    assert {e.request_id for e in line_events} == {created.request_id}
    assert_no_clear_identity(session, *secret_names, "7512345678", NIR_NORMALISED, "1985-04-17")


def test_a_batch_that_fails_stores_none_of_its_lines_and_the_next_run_resumes(
    prefecture: Prefecture,
    session: Session,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = IdentityKeys.from_store(gateway_keys)
    content = ndjson(*(decision(f"B-{n:04d}") for n in range(1, 8)))
    event = ImportRunner._event  # noqa: SLF001 - the fault goes where a batch is written

    def failing(runner: ImportRunner, line: Any) -> Any:
        if line.record.line == 5:
            raise RuntimeError("the database went away")
        return event(runner, line)

    monkeypatch.setattr(ImportRunner, "_event", failing)
    before = counts(session)
    response = prefecture.import_file(content)
    assert response.status_code == 202, response.text
    import_id = response.json()["id"]
    with pytest.raises(RuntimeError, match="went away"):
        run_pending_imports(sessions, keys, POLICY, batch_size=BATCH)
    # Batches 1-2 and 3-4 are stored whole, the third (5-6) not at all; the import keeps
    # its cursor and gives its lease back.
    halfway = full_report(prefecture, import_id)
    assert totals(halfway) == ("running", 4, 4, 0, 0)
    assert (halfway["lines_done"], halfway["lines_total"]) == (4, 7)
    assert [line[0] for line in outcomes(halfway)] == [1, 2, 3, 4]
    assert counts(session) == {name: n + 4 for name, n in before.items()}

    # The next run resumes after line 4: nothing reported or stored twice.
    monkeypatch.setattr(ImportRunner, "_event", event)
    assert run_pending_imports(sessions, keys, POLICY, batch_size=BATCH) == 1
    done = full_report(prefecture, import_id)
    assert totals(done) == ("done", 7, 7, 0, 0)
    assert [line[:2] for line in outcomes(done)] == [(n, "accepted") for n in range(1, 8)]
    assert counts(session) == {name: n + 7 for name, n in before.items()}
    line_events = session.scalars(select(AuditEvent).where(AuditEvent.action == "import:line"))
    assert sorted(e.detail["line"] for e in line_events) == list(range(1, 8))
    imported = session.get_one(DecisionImport, import_id, populate_existing=True)
    assert imported.attempts == 2
    # Processed, the stored file is gone.
    assert (
        session.scalars(select(ImportChunk).where(ImportChunk.import_id == import_id)).all() == []
    )
    assert run_pending_imports(sessions, keys, POLICY) == 0


def test_several_batches_store_every_line_once(
    prefecture: Prefecture, session: Session, summary: Summary
) -> None:
    content = ndjson(*(decision(f"B-{n:04d}") for n in range(1, 8)))
    body = summary(prefecture.import_file(content))
    assert totals(body) == ("done", 7, 7, 0, 0)
    stored = session.scalars(
        select(ImportLine).where(ImportLine.import_id == body["id"]).order_by(ImportLine.line)
    ).all()
    assert [line.line for line in stored] == list(range(1, 8))
    decisions = session.scalars(select(Decision).where(Decision.prefecture_id == prefecture.id))
    assert {d.id for d in decisions} == {line.decision_id for line in stored}

    before = counts(session)
    again = summary(prefecture.import_file(content))
    assert totals(again) == ("done", 7, 0, 7, 0)
    report = full_report(prefecture, again["id"])["report"]
    assert [line["decision_id"] for line in report] == [line.decision_id for line in stored]
    assert counts(session) == before


# -- the command line, against a real server ------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``gateway serve`` on a fresh SQLite file, with one prefecture registered."""
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    migrate.upgrade(database_url)
    prefecture = {"kind": "prefecture", "departements": ["75"]}
    with serve(database_url, tmp_path, prefecture=prefecture) as running:
        yield running


@pytest.fixture
def worker(served: Served) -> Iterator[list[tuple[str, int]]]:
    """The worker's import job in a thread, every 50 ms, on the served database; yields
    the (status, lines_done) it sees after each run, for progress to be observed."""
    stop = threading.Event()
    seen: list[tuple[str, int]] = []
    keys = IdentityKeys.from_store(served.keys)

    def watch() -> None:
        with sessions_on(served.database_url) as sessions:
            while not stop.wait(0.02):
                with sessions() as session:
                    seen.extend(
                        (found.status, found.lines_done)
                        for found in session.scalars(select(DecisionImport))
                    )

    def work() -> None:
        with sessions_on(served.database_url) as sessions:
            while not stop.wait(0.05):
                run_pending_imports(sessions, keys, POLICY, batch_size=100)

    threads = [threading.Thread(target=work), threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    yield seen
    stop.set()
    for thread in threads:
        thread.join(timeout=30)


def cp1252_file(rows: int) -> bytes:
    """As Excel saves a CSV on a French Windows: Windows-1252, semicolons, CRLF."""
    header = "reference;kind;decision_date;agdref_number;birth_name;first_names;sex;birth_date"
    lines = [header]
    lines.extend(
        f"X-{n:05d};renewal-refusal;{days_ago(40)};75{n:08d};Lefèvre;Hélène|François;F;1985-04-17"
        for n in range(rows)
    )
    lines[3] = f"X-00002;renewal-refusal;{tomorrow()};7500000002;Lefèvre;Hélène;F;1985"  # rejected
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def import_args(served: Served, tmp_path: Path, *extra: str) -> list[str]:
    prefecture = served.clients["prefecture"]
    key_path = tmp_path / "prefecture.jwk"
    key_path.write_text(json.dumps(prefecture.key.as_dict(private=True)))
    return [
        "import",
        *extra,
        "--client-id",
        prefecture.id,
        "--key",
        str(key_path),
        "--url",
        served.base_url,
        "--poll",
        "0.05",
    ]


@pytest.mark.slow  # starts the gateway in its own process
def test_the_import_command_sends_an_excel_file_and_follows_the_job(
    served: Served, worker: list[tuple[str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = 1500
    store = ImportRunner._store  # noqa: SLF001

    def paced(runner: ImportRunner, lines: list[Any]) -> None:
        store(runner, lines)
        time.sleep(0.05)  # a database slower than this test's: progress has time to show

    monkeypatch.setattr(ImportRunner, "_store", paced)
    backlog = tmp_path / "excel.csv"
    backlog.write_bytes(cp1252_file(rows))
    assert b"Lef\xe8vre" in backlog.read_bytes()
    started = time.monotonic()
    result = CliRunner().invoke(app, import_args(served, tmp_path, str(backlog)))
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output  # one line rejected
    assert "(windows-1252)" in result.output  # --encoding auto found it
    assert re.search(rf"done\W+{rows}\W+{rows - 1}\W+0\W+1\W", result.output), result.output
    assert "1 line(s) rejected" in result.output
    # Progress was seen increasing through the batches, then complete.
    done = sorted({lines for status, lines in worker if status == "running"})
    assert len([n for n in done if 0 < n < rows + 1]) >= 3, done
    assert elapsed < 60
    with sessions_on(served.database_url) as sessions, sessions() as session:
        (imported,) = session.scalars(select(DecisionImport)).all()
        assert (imported.encoding, imported.lines_done, imported.lines_total) == (
            "windows-1252",
            rows + 1,
            rows + 1,
        )
        line = session.get_one(ImportLine, (imported.id, 2))
    with GatewayClient(
        served.base_url, served.clients["prefecture"].id, served.clients["prefecture"].key
    ) as client:
        stored = client.request(
            "GET", f"/v1/decisions/{line.decision_id}", purpose="decision-transmission"
        ).json()
    person = stored["versions"][0]["identity"]
    assert (person["birth_name"], person["first_names"]) == ("Lefèvre", ["Hélène", "François"])

    # The same file again, as a dry run: every line a duplicate but the rejected one.
    again = CliRunner().invoke(
        app, import_args(served, tmp_path, str(backlog), "--encoding", "cp1252", "--dry-run")
    )
    assert again.exit_code == 3, again.output
    assert re.search(rf"done\W+{rows}\W+0\W+{rows - 1}\W+1\W", again.output), again.output


@pytest.mark.slow  # starts the gateway in its own process
def test_the_import_command_sends_a_csv_file_and_writes_the_report(
    served: Served, worker: list[tuple[str, int]], tmp_path: Path
) -> None:
    del worker
    base_url, database_url = served.base_url, served.database_url
    prefecture = served.clients["prefecture"]
    key_path = tmp_path / "prefecture.jwk"
    key_path.write_text(json.dumps(prefecture.key.as_dict(private=True)))
    backlog = tmp_path / "backlog.csv"
    backlog.write_bytes(
        csv_file(
            [
                csv_row(decision("C-0001", "renewal-refusal")),
                csv_row(decision("C-0002", identity=bad_nir())),
                csv_row(decision("C-0001", "renewal-refusal")),
                csv_row(decision("C-0004", "oqtf")),
            ],
            delimiter=";",
            bom=True,
        )
    )
    report_path = tmp_path / "report.csv"
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(backlog),
            "--client-id",
            prefecture.id,
            "--key",
            str(key_path),
            "--url",
            base_url,
            "--report",
            str(report_path),
        ],
    )
    assert result.exit_code == 3, result.output  # a line was rejected
    assert re.search(r"done\W+4\W+2\W+1\W+1\W", result.output), result.output
    assert "report written to" in result.output
    with sessions_on(database_url) as sessions, sessions() as session:
        (done,) = session.scalars(select(DecisionImport)).all()
        stored = session.scalars(select(Decision.reference)).all()
    # An 80-column terminal cuts the id short in the summary table.
    assert done.id[:20] in result.output
    assert sorted(stored) == ["C-0001", "C-0004"]

    with report_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "outcome", "reference", "decision_id", "field", "rule", "message"]
    lines = rows[1:]
    assert [(row[0], row[1], row[2]) for row in lines] == [
        ("2", "accepted", "C-0001"),
        ("3", "rejected", "C-0002"),
        ("4", "duplicate", "C-0001"),
        ("5", "accepted", "C-0004"),
    ]
    assert lines[0][3] == lines[2][3] != ""
    assert lines[1][4:6] == ["identity.social_security_number", "nir-key"]
    assert len(lines[0]) == 4  # no error columns for a line without errors

    # A dry run of the same file: everything already there.
    again = CliRunner().invoke(
        app,
        [
            "import",
            str(backlog),
            "--client-id",
            prefecture.id,
            "--key",
            str(key_path),
            "--url",
            base_url,
            "--dry-run",
        ],
    )
    assert again.exit_code == 3, again.output
    assert "dry run" in again.output

    # A file with no rejected line: exit code 0.
    clean = tmp_path / "clean.csv"
    clean.write_bytes(csv_file([csv_row(decision("C-0001", "renewal-refusal"))]))
    ok = CliRunner().invoke(
        app,
        ["import", str(clean), "--client-id", prefecture.id, "--key", str(key_path),
         "--url", base_url, "--poll", "0.05"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert re.search(r"done\W+1\W+0\W+1\W+0\W", ok.output), ok.output
