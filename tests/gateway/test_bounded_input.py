"""Bounded input everywhere: a parameter out of range, a control character, a time without
its zone or that cannot be, an unstorable JSON value, is a 400 problem naming the
parameter and the rule, audited, with nothing stored and nothing a 500 would log; on
SQLite and on PostgreSQL (where a NUL in a text and an integer past 64 bits are errors of
the database itself).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select, text

from audit.actions import AuditOutcome
from gateway.auditlog.models import AuditEvent
from gateway.decisions.models import Decision
from gateway.params import json_problem, printable
from gateway.routing import DbSession, TransactionRoute
from tests.support.actors import (
    STATUS_CHECKS,
    Fund,
    Prefecture,
    Register,
    api_headers,
    token_for,
)
from tests.support.audit import event_of, events_of
from tests.support.factories import decision, identity
from tests.support.problems import field_problem

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from gateway.settings import Settings

RANDOM_ID = "0190b6c2-0000-7000-8000-000000000000"
HUGE = [2**63, 10**30]


@dataclass
class Callers:
    """One participant of each kind, with the headers of its requests."""

    prefecture: dict[str, str]
    fund: dict[str, str]
    auditor: dict[str, str]
    operator: dict[str, str]


@pytest.fixture
def callers(client: TestClient, settings: Settings, participant: Register) -> Callers:
    def headers(kind: str, **options: Any) -> dict[str, str]:
        caller = participant(kind, **options)
        return api_headers(token_for(client, settings, caller), caller)

    return Callers(
        prefecture=headers("prefecture", departements=["75"]),
        fund=headers("fund", departements=["93"]),
        auditor=headers("auditor", national=True),
        operator=headers("operator", departements=[]),
    )


def refused(
    session: Session, response: httpx2.Response, field: str, rule: str, location: str = "query"
) -> AuditEvent:
    """A 400 naming ``field`` and ``rule``, and its audit event: refused, naming them too."""
    body = field_problem(response, 400, field, rule)
    assert body["type"] == "/problems/invalid-request"
    event = event_of(session, response)
    assert event.outcome == AuditOutcome.REFUSED
    assert event.detail["status"] == 400
    assert f"{location}.{field}" in event.detail["fields"], event.detail
    assert rule in event.detail["rules"], event.detail
    return event


def decisions_stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Decision)) or 0


# -- integers the database cannot hold -------------------------------------------------

INT_PARAMETERS = [
    ("prefecture", f"/v1/decision-imports/{RANDOM_ID}", {}, "after_line"),
    ("fund", "/v1/batches", {}, "after_seq"),
    ("auditor", "/v1/audit/events", {}, "after_id"),
    ("auditor", "/v1/audit/checkpoint", {}, "tree_size"),
    ("auditor", "/v1/audit/proofs/inclusion", {"tree_size": "1"}, "index"),
    ("auditor", "/v1/audit/proofs/inclusion", {"index": "0"}, "tree_size"),
    ("auditor", "/v1/audit/proofs/consistency", {"first": "1"}, "second"),
    ("auditor", "/v1/audit/proofs/consistency", {"second": "1"}, "first"),
]


@pytest.mark.parametrize(
    ("kind", "path", "others", "name"),
    INT_PARAMETERS,
    ids=[f"{path.rsplit('/', 1)[-1]}-{name}" for _, path, _, name in INT_PARAMETERS],
)
@pytest.mark.parametrize("value", HUGE, ids=["2**63", "10**30"])
def test_an_integer_beyond_64_bits_is_a_400_naming_the_parameter(
    client: TestClient,
    callers: Callers,
    session: Session,
    kind: str,
    path: str,
    others: dict[str, str],
    name: str,
    value: int,
) -> None:
    response = client.get(path, params={**others, name: str(value)}, headers=getattr(callers, kind))
    refused(session, response, name, "less_than_equal")


def test_the_largest_cursor_a_column_holds_is_accepted(
    client: TestClient, callers: Callers, session: Session
) -> None:
    response = client.get(
        "/v1/audit/events", params={"after_id": str(2**63 - 1)}, headers=callers.auditor
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"] == []
    # Batch sequences and line numbers are INTEGER columns: their cursors stop at 2**31 - 1.
    response = client.get("/v1/batches", params={"after_seq": str(2**31 - 1)}, headers=callers.fund)
    assert response.status_code == 200, response.text
    assert response.json()["batches"] == []
    for path, name, headers in (
        ("/v1/batches", "after_seq", callers.fund),
        (f"/v1/decision-imports/{RANDOM_ID}", "after_line", callers.prefecture),
    ):
        response = client.get(path, params={name: str(2**31)}, headers=headers)
        refused(session, response, name, "less_than_equal")


# -- control characters in text --------------------------------------------------------

TEXT_PARAMETERS = [
    ("auditor", "/v1/audit/events", "participant"),
    ("auditor", "/v1/audit/events", "action"),
    ("auditor", "/v1/audit/events", "purpose"),
    ("auditor", "/v1/audit/events", "outcome"),
    ("auditor", "/v1/audit/events", "departement"),
    ("auditor", "/v1/audit/events", "nir"),
    ("auditor", "/v1/audit/events", "agdref_number"),
    ("auditor", "/v1/audit/reports/funds", "fund_id"),
    ("fund", "/v1/outbox", "fund_id"),
    ("auditor", "/v1/outbox", "fund_id"),
    ("prefecture", "/v1/decisions", "reference"),
    ("prefecture", "/v1/decisions", "departement"),
    ("prefecture", "/v1/decisions", "after"),
    ("operator", "/v1/participants", "after"),
]


@pytest.mark.parametrize(
    ("kind", "path", "name"),
    TEXT_PARAMETERS,
    ids=[f"{kind}-{path.rsplit('/', 1)[-1]}-{name}" for kind, path, name in TEXT_PARAMETERS],
)
@pytest.mark.parametrize("character", ["\x00", "\x01"], ids=["NUL", "SOH"])
def test_a_control_character_in_a_text_filter_is_a_400_naming_the_parameter(
    client: TestClient,
    callers: Callers,
    session: Session,
    kind: str,
    path: str,
    name: str,
    character: str,
) -> None:
    response = client.get(path, params={name: f"7{character}5"}, headers=getattr(callers, kind))
    body = field_problem(response, 400, name, "control-character")
    # The rule of the parameter, or the pattern it declares: never a 500.
    assert body["type"] == "/problems/invalid-request"
    event = event_of(session, response)
    assert (event.outcome, event.detail["status"]) == (AuditOutcome.REFUSED, 400)
    assert f"query.{name}" in event.detail["fields"]


def test_a_nul_in_an_encoded_query_string_is_refused(
    client: TestClient, callers: Callers, session: Session
) -> None:
    response = client.get("/v1/audit/events?participant=%00", headers=callers.auditor)
    refused(session, response, "participant", "control-character")
    response = client.get("/v1/decisions?reference=R%00-1", headers=callers.prefecture)
    refused(session, response, "reference", "control-character")


def test_a_control_character_in_a_parameter_no_route_declares_is_refused_too(
    client: TestClient, callers: Callers, session: Session
) -> None:
    response = client.get("/v1/outbox?forgotten=a%00b", headers=callers.fund)
    refused(session, response, "forgotten", "control-character")
    # The name is the parameter's, escaped when it is itself not printable.
    response = client.get("/v1/outbox?for%01got=1", headers=callers.fund)
    body = field_problem(response, 400, "for\\x01got", "control-character")
    assert "\x01" not in response.text
    event = event_of(session, response)
    assert event.detail["fields"] == ["query.for\\x01got"]
    assert body["errors"][0]["field"] == "for\\x01got"


def test_a_control_character_in_a_header_is_refused_before_any_lookup(
    client: TestClient, callers: Callers, session: Session
) -> None:
    for name in ("Agent-Id", "On-Behalf-Of", "Purpose", "X-Anything"):
        headers = {**callers.fund, name: "agent\x00007"}
        response = client.get("/v1/batches", headers=headers)
        refused(session, response, name.lower(), "control-character", location="header")


# -- times ------------------------------------------------------------------------------

TIME_PARAMETERS = [
    ("auditor", "/v1/audit/events", "since"),
    ("auditor", "/v1/audit/events", "until"),
    ("auditor", "/v1/audit/reports/funds", "since"),
    ("auditor", "/v1/audit/reports/prefectures", "until"),
    ("prefecture", "/v1/decisions", "created_from"),
    ("prefecture", "/v1/decisions", "created_before"),
]
BAD_TIMES = [
    ("2026-01-01T00:00:00", "timezone_aware"),
    ("2026-02-30T00:00:00Z", "datetime_from_date_parsing"),
    ("2026-01-01T25:00:00Z", "datetime_from_date_parsing"),
    ("0001-01-01T00:00:00+14:00", "out-of-range"),
    ("9999-12-31T23:59:59-23:59", "out-of-range"),
]


@pytest.mark.parametrize(
    ("kind", "path", "name"),
    TIME_PARAMETERS,
    ids=[f"{path.rsplit('/', 1)[-1]}-{name}" for _, path, name in TIME_PARAMETERS],
)
@pytest.mark.parametrize(
    ("value", "rule"), BAD_TIMES, ids=["naive", "feb-30", "hour-25", "year-1", "year-9999"]
)
def test_a_time_without_its_zone_or_that_cannot_be_is_a_400(
    client: TestClient,
    callers: Callers,
    session: Session,
    kind: str,
    path: str,
    name: str,
    value: str,
    rule: str,
) -> None:
    response = client.get(path, params={name: value}, headers=getattr(callers, kind))
    refused(session, response, name, rule)


def test_a_zoned_time_is_read_as_the_instant_it_names(client: TestClient, callers: Callers) -> None:
    response = client.get(
        "/v1/audit/reports/funds",
        params={"since": "2026-01-01T01:00:00+01:00", "until": "2026-01-02T00:00:00Z"},
        headers=callers.auditor,
    )
    assert response.status_code == 200, response.text
    assert response.json()["since"] == "2026-01-01T00:00:00Z"


# -- JSON bodies ------------------------------------------------------------------------


def test_a_nul_in_a_decision_is_refused_and_nothing_is_stored(
    prefecture: Prefecture, session: Session
) -> None:
    before = decisions_stored(session)
    for body, field in (
        (decision("NUL-1", legal_basis="L. 432\x00-1"), "legal_basis"),
        (decision("NUL-2", identity=identity(birth_name="Ben\x00Ali")), "identity.birth_name"),
        (decision("NUL-3", identity=identity(place_of_birth="993\x004")), "identity"),
        (decision("NUL\x00-4"), "reference"),
        (decision("NUL-5", permit={"category": "VPF", "number": "1\x00"}), "permit"),
    ):
        response = prefecture.post(body)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        errors = response.json()["errors"]
        assert any(error["field"].startswith(field) for error in errors), errors
        event = event_of(session, response)
        assert (event.action, event.outcome) == ("decision:created", "refused")
        assert any(name.startswith(f"body.{field}") for name in event.detail["fields"])
    assert decisions_stored(session) == before


RESIDENT = {"residence_departement": "93"}  # the fund's territory


def test_a_huge_integer_or_a_nul_in_a_status_check_is_answered_by_position(
    client: TestClient, fund: Fund, session: Session
) -> None:
    response = client.post(
        STATUS_CHECKS,
        json={
            "checks": [
                {"identity": {"agdref_number": "7512345678", **RESIDENT}},
                {"identity": {"agdref_number": "75\x0012345678", **RESIDENT}},
                {"identity": {"agdref_number": 10**30, **RESIDENT}},
                {
                    "identity": {"agdref_number": "7512345678", **RESIDENT},
                    "case_reference": "C\x00-1",
                },
            ]
        },
        headers=fund.headers(),
    )
    assert response.status_code == 200, response.text
    answers = response.json()["answers"]
    assert [answer["position"] for answer in answers] == [0, 1, 2, 3]
    assert answers[0]["result"] == "none_known"
    assert not answers[0]["errors"]
    for answer in answers[1:]:
        assert answer["errors"], answer
        assert answer.get("result") is None, answer
    (event,) = [e for e in events_of(session, response) if e.action == "status:requested"]
    assert event.detail["malformed"] == 3


class Note(BaseModel):
    """A body whose own rules let anything through: only the safety net is left."""

    text: str
    count: int
    extra: dict[str, Any] = {}


def _permissive_router() -> APIRouter:
    router = APIRouter(route_class=TransactionRoute)

    @router.post("/test/notes", name="decision:created")
    def post_note(note: Note) -> dict[str, Any]:
        return {"stored": note.text}

    return router


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"text": "a\x00b", "count": 1}, "text", "control-character"),
        ({"text": "\ud800", "count": 1}, "text", "control-character"),
        ({"text": "a", "count": 2**63}, "count", "int-range"),
        ({"text": "a", "count": 1, "extra": {"deep": [1, -(10**30)]}}, "extra.deep.1", "int-range"),
        ({"text": "a", "count": 1, "extra": {"k\x00": 1}}, "extra", "control-character"),
    ],
    ids=["nul", "lone-surrogate", "int-2**63", "deep-int", "nul-in-a-name"],
)
def test_the_json_safety_net_refuses_what_no_column_can_hold(
    app_client: Callable[..., TestClient],
    session: Session,
    body: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    client = app_client(routers=(_permissive_router(),))
    content = json.dumps(body).encode()
    response = client.post(
        "/test/notes", content=content, headers={"Content-Type": "application/json"}
    )
    refused(session, response, field, rule, location="body")


def test_the_json_safety_net_lets_the_models_own_rules_speak_first(
    app_client: Callable[..., TestClient], session: Session
) -> None:
    client = app_client(routers=(_permissive_router(),))
    response = client.post("/test/notes", json={"text": "a\x00b", "count": "many"})
    refused(session, response, "count", "int_parsing", location="body")
    response = client.post("/test/notes", json={"text": "fine", "count": 2**63 - 1})
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": "fine"}


def test_json_problem_names_the_place_and_the_rule() -> None:
    assert json_problem({"a": [1, "ok", {"b": float("nan")}]}) == (
        "a.2.b",
        "finite-number",
        "NaN and infinite numbers are not allowed",
    )
    assert json_problem({"a": [True, 2**63 - 1, -(2**63), 1.5, None]}) is None
    assert printable("a\x00" + "b" * 100) == "a\\x00" + "b" * 59


# -- what the logs hold -----------------------------------------------------------------


def test_a_database_error_is_logged_without_the_statements_values(
    app_client: Callable[..., TestClient],
    engine: Engine,
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert engine.hide_parameters
    distinctive = f"leak-{uuid.uuid4().hex}"
    router = APIRouter(route_class=TransactionRoute)

    @router.get("/test/fail", name="participant:read")
    def fail(own: DbSession, who: str) -> dict[str, str]:
        # PostgreSQL quotes the value in its own message; SQLite casts it to 0 and goes on.
        own.execute(text("SELECT CAST(:value AS INTEGER)"), {"value": who})
        own.execute(text("INSERT INTO no_such_table (x) VALUES (:value)"), {"value": who})
        return {}

    client = app_client(routers=(router,))
    with caplog.at_level(logging.DEBUG):
        response = client.get("/test/fail", params={"who": distinctive})
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert distinctive not in response.text
    errors = [record for record in caplog.records if record.name == "gateway.error"]
    assert len(errors) == 1
    assert "unhandled error" in errors[0].getMessage()
    assert "Error" in errors[0].getMessage()  # its kind: ProgrammingError, OperationalError
    # What the gateway and the database layer logged (the test's HTTP client logs its URL).
    formatter = logging.Formatter("%(name)s %(message)s")
    logged = "\n".join(
        formatter.format(record) for record in caplog.records if record.name != "httpx2"
    )
    assert "no_such_table" in logged or "CAST" in logged  # its statement
    assert distinctive not in logged
    event = event_of(session, response)
    assert (event.outcome, event.detail["status"]) == ("error", 500)
