"""Status checks: exact matches, minimal answers, bad items by position, every check audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.auditlog.models import AuditEvent
from gateway.auth.caller import Caller
from gateway.identities.service import IdentityKeys
from gateway.keys import GatewayKeys
from gateway.participants.models import ParticipantKind, Regime
from gateway.settings import Settings
from gateway.status import service
from gateway.status.router import FEW_CHECKS
from policies.loader import DEFAULT_POLICY, load_file
from tests.support.actors import (
    STATUS_CHECKS,
    Prefecture,
    Register,
    api_headers,
    ask,
    token_for,
)
from tests.support.factories import NIR, decision, identity

PERSON = "7512345678"


@pytest.fixture
def fund(client: TestClient, settings: Settings, participant: Register) -> dict[str, str]:
    """The request headers of a CPAM agent (desk-12) in 75, where the decisions are: the
    checks are made by an agent, and the tests find that agent in the audit trail."""
    caller = participant("fund", regime=Regime.CPAM, departements=["75"])
    return api_headers(token_for(client, settings, caller), caller, agent_id="desk-12")


def test_exact_matches_answer_only_what_the_fund_may_know(
    client: TestClient, prefecture: Prefecture, fund: dict[str, str], session: Session
) -> None:
    prefecture.created(
        decision("ST-1", kind="permit-withdrawal", public_order=True, identity=identity())
    )
    by_agdref, by_nir, unknown = ask(
        client,
        fund,
        {"agdref_number": PERSON, "birth_name": "Someone Else", "residence_departement": "75"},
        {"social_security_number": {"number": NIR, "type": "nia"}, "residence_departement": "75"},
        {"agdref_number": "7599999999", "residence_departement": "75"},
    )
    for answer in (by_agdref, by_nir):
        assert answer["result"] == "adverse_decision"
        assert answer["match"] == "exact"
        assert answer["decision"]["reference"] == "ST-1"
        assert answer["decision"]["kind_class"] == "withdrawal"
        assert set(answer["decision"]) == {
            "kind_class",
            "reference",
            "notification_date",
            "effect_date",
        }
    assert (unknown["result"], unknown["match"], unknown["decision"]) == (
        "none_known",
        "none",
        None,
    )
    text = json.dumps([by_agdref, by_nir, unknown])
    for secret in ("N'Diaye", "public_order", PERSON, "Aïssatou"):
        assert secret not in text
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "status:checked")).all()
    assert len(events) == 3
    assert {e.agent_id for e in events} == {"desk-12"}
    assert all(e.purpose == "residence-regularity-check" for e in events)
    assert [e.detail["result"] for e in events] == [
        "adverse_decision",
        "adverse_decision",
        "none_known",
    ]
    assert all(e.subject_pseudonyms for e in events)


def test_a_corrected_decision_answers_corrected_and_an_oqtf_alone_none_known(
    client: TestClient, prefecture: Prefecture, fund: dict[str, str]
) -> None:
    created = prefecture.created(decision("ST-2", identity=identity()))
    prefecture.created(decision("ST-3", kind="oqtf", identity=identity(agdref_number="7511111111")))
    corrected = prefecture.correct(
        created["id"],
        {
            "kind": "annulment",
            "reference": "TA-ST-2",
            "correction_date": created["versions"][0]["decision_date"],
        },
    )
    assert corrected.status_code == 201, corrected.text
    annulled, oqtf = ask(
        client,
        fund,
        {"agdref_number": PERSON, "residence_departement": "75"},
        {"agdref_number": "7511111111", "residence_departement": "75"},
    )
    assert (annulled["result"], annulled["match"]) == ("corrected", "exact")
    assert annulled["decision"] is None
    assert oqtf["result"] == "none_known"


def test_bad_items_are_answered_by_position_and_the_others_still_are(
    client: TestClient, prefecture: Prefecture, fund: dict[str, str]
) -> None:
    prefecture.created(decision("ST-4", identity=identity()))
    response = client.post(
        STATUS_CHECKS,
        json={
            "checks": [
                {"identity": {"agdref_number": "12AB"}},
                {
                    "identity": {"agdref_number": PERSON, "residence_departement": "75"},
                    "case_reference": "dossier-9",
                },
                {"identity": {"agdref_number": PERSON}, "colour": "red"},
            ]
        },
        headers=fund,
    )
    assert response.status_code == 200, response.text
    first, second, third = response.json()["answers"]
    assert first["result"] is None
    assert first["errors"][0]["field"] == "identity.agdref_number"
    assert first["errors"][0]["rule"] == "agdref-format"
    assert second["result"] == "adverse_decision"
    assert third["errors"][0]["rule"] == "extra_forbidden"
    assert "none_known" in response.json()["note"]


def test_refusals_wrong_purpose_missing_agent_too_many(
    client: TestClient,
    settings: Settings,
    participant: Register,
    fund: dict[str, str],
) -> None:
    one = {"checks": [{"identity": {"agdref_number": PERSON}}]}
    wrong = client.post(STATUS_CHECKS, json=one, headers={**fund, "Purpose": "marketing"})
    assert wrong.status_code == 403
    caller = participant("fund")
    no_agent = api_headers(token_for(client, settings, caller), caller, agent_id=None)
    missing = client.post(STATUS_CHECKS, json=one, headers=no_agent)
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "Agent-Id"
    too_many = {"checks": [{"identity": {"agdref_number": PERSON}}] * 10_001}
    refused = client.post(STATUS_CHECKS, json=too_many, headers=fund)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "checks"
    prefecture_caller = participant("prefecture")
    not_a_fund = client.post(
        STATUS_CHECKS,
        json=one,
        headers=api_headers(token_for(client, settings, prefecture_caller), prefecture_caller),
    )
    assert not_a_fund.status_code == 403


def test_checks_are_limited_per_agent_and_per_fund(
    limited: TestClient, settings: Settings, participant: Register
) -> None:
    caller = participant("fund")
    token = token_for(limited, settings, caller)

    def post(agent: str, count: int) -> Any:
        return limited.post(
            STATUS_CHECKS,
            json={"checks": [{"identity": {"agdref_number": PERSON}}] * count},
            headers=api_headers(token, caller, agent_id=agent),
        )

    assert post("desk-1", 2).status_code == 200
    over = post("desk-1", 2)
    assert over.status_code == 429, over.text
    assert over.json()["errors"][0] == {
        "field": "Agent-Id",
        "rule": "rate-limit",
        "message": "this agent may make at most 3 checks per 3600 s",
    }
    assert 1 <= int(over.headers["retry-after"]) <= 3600
    assert post("desk-1", 1).status_code == 200  # the refused request took nothing
    assert post("desk-2", 2).status_code == 200  # another agent, same fund: 5 in all
    fund_over = post("desk-3", 1)
    assert fund_over.status_code == 429
    assert "this fund" in fund_over.json()["detail"]
    other = participant("fund")
    other_token = token_for(limited, settings, other)
    elsewhere = limited.post(
        STATUS_CHECKS,
        json={"checks": [{"identity": {"agdref_number": PERSON}}]},
        headers=api_headers(other_token, other, agent_id="desk-1"),
    )
    assert elsewhere.status_code == 200  # each fund has its own count


def test_few_checks_and_a_sweep_are_each_audited_and_a_refused_one_leaves_no_check(
    app_client: Callable[..., TestClient],
    settings: Settings,
    participant: Register,
    session: Session,
) -> None:
    """A request of a few checks (counted in the transaction that looks them up, its
    events group-committed) and a larger one (counted first) leave one event per check;
    one over the limit leaves none of its checks and takes nothing of the window."""
    sweep = FEW_CHECKS + 1
    client = app_client(status_checks_per_agent=sweep + 3, status_checks_per_fund=10_000)
    caller = participant("fund")
    headers = api_headers(token_for(client, settings, caller), caller, agent_id="desk-4")

    def post(count: int) -> Any:
        return client.post(
            STATUS_CHECKS,
            json={"checks": [{"identity": {"agdref_number": PERSON}}] * count},
            headers=headers,
        )

    def checked() -> list[AuditEvent]:
        session.expire_all()
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "status:checked", AuditEvent.agent_id == "desk-4"
                )
            )
        )

    assert post(sweep).status_code == 200
    assert len(checked()) == sweep
    single = post(1)
    assert single.status_code == 200
    assert [a["position"] for a in single.json()["answers"]] == [0]
    assert len(checked()) == sweep + 1
    over = post(3)  # sweep + 1 + 3 > sweep + 3
    assert over.status_code == 429, over.text
    assert len(checked()) == sweep + 1
    refused = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "status:requested", AuditEvent.outcome == "refused"
        )
    ).all()
    assert [e.detail["problem"] for e in refused] == ["rate-limited"]
    assert post(2).status_code == 200  # the refused request took nothing
    events = checked()
    assert len(events) == sweep + 3
    assert len({e.request_id for e in events}) == 3


def _lookups(
    sessions: sessionmaker[Session], gateway_keys: GatewayKeys, items: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[str | None, str | None]]]:
    """The statements ``service.check`` runs on identities for ``items``, and its answers."""
    caller = Caller(
        participant_id="fund-75",
        kind=ParticipantKind.FUND,
        acting_for="fund-75",
        scopes=frozenset(),
        territory=("75",),
        national=False,
        purpose="residence-regularity-check",
        agent_id="desk-12",
        case_reference=None,
        dpop_bound=False,
    )
    keys = IdentityKeys.from_store(gateway_keys)
    policy = load_file(DEFAULT_POLICY).policy
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "identit" in statement:
            statements.append(statement)

    bind = sessions.kw["bind"]
    event.listen(bind, "before_cursor_execute", seen)
    try:
        with sessions.begin() as session:
            answers = service.check(
                session, caller, keys, policy, list(enumerate(items)), "request-1"
            )
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    return statements, [(a.result, a.match) for a in answers]


def test_a_check_looks_its_identifiers_and_names_up_in_one_statement(
    prefecture: Prefecture, sessions: sessionmaker[Session], gateway_keys: GatewayKeys
) -> None:
    """An unknown person: one statement for the identifiers and the blocking keys alike;
    a person found by name: that one, then the decisions of the candidate kept."""
    prefecture.created(decision("ST-9", identity=identity()))
    unknown = identity(
        agdref_number="7599999999",
        social_security_number=None,
        birth_name="Nobody",
        first_names=["Known"],
    )
    statements, answers = _lookups(sessions, gateway_keys, [{"identity": unknown}])
    assert answers == [("none_known", "none")]
    assert len(statements) == 1, statements
    by_name = identity(agdref_number=None, social_security_number=None)
    statements, answers = _lookups(sessions, gateway_keys, [{"identity": by_name}])
    assert answers == [("adverse_decision", "strong")]
    assert len(statements) == 2, statements
