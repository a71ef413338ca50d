"""A NIR that contradicts its person at intake: refused by default naming both fields and
the rule, audited, nothing stored; accepted and flagged where the policy says so; the
import reports it line by line either way.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.auditlog.models import AuditEvent
from gateway.cli import identities as identities_cli
from gateway.cli.main import app
from gateway.decisions.models import DecisionVersion
from gateway.identities.models import Identity
from gateway.identities.service import IdentityKeys
from gateway.imports.runner import run_pending_imports
from policies.loader import DEFAULT_POLICY, load_file
from tests.gateway.imports.test_imports import full_report, ndjson, outcomes
from tests.support.actors import POLICY, Prefecture, Register, make_prefecture
from tests.support.audit import assert_no_clear_identity, event_of
from tests.support.database import counts
from tests.support.factories import NIR_NORMALISED, decision, identity
from tests.support.problems import problem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker
    from typer.testing import Result

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings
    from policies.loader import LoadedPolicy

NUMBER = "identity.social_security_number.number"
# identity() is a woman born in April 1985 in Senegal (99341), as its NIA says.
MAN = identity(sex="M")
OTHER_YEAR_AND_PLACE = identity(birth_date="1986-04-17", place_of_birth="99352")


def pairs(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["field"], error["rule"]) for error in body["errors"]]


def test_the_gateways_own_example_person_agrees_with_its_number(prefecture: Prefecture) -> None:
    created = prefecture.created(decision("NC-OK"))
    assert created["versions"][0]["identity"]["nir_contradictions"] == []


def test_a_contradiction_is_refused_naming_both_fields_and_the_rule_and_nothing_is_stored(
    prefecture: Prefecture, session: Session
) -> None:
    before = counts(session)
    response = prefecture.post(decision("NC-1", identity=MAN))
    body = problem(response, 400, "invalid-field")
    assert pairs(body) == [(NUMBER, "nir-sex-mismatch"), ("identity.sex", "nir-sex-mismatch")]
    assert counts(session) == before
    event = event_of(session, response)
    assert (event.action, event.outcome) == ("decision:created", "refused")
    assert event.detail["rules"] == ["nir-sex-mismatch"]
    assert event.detail["fields"] == sorted([NUMBER, "identity.sex"])
    assert_no_clear_identity(session, NIR_NORMALISED, "1985-04-17")

    response = prefecture.post(decision("NC-2", identity=OTHER_YEAR_AND_PLACE))
    assert pairs(problem(response, 400, "invalid-field")) == [
        (NUMBER, "nir-birth-year-mismatch"),
        ("identity.birth_date", "nir-birth-year-mismatch"),
        (NUMBER, "nir-birth-place-mismatch"),
        ("identity.place_of_birth", "nir-birth-place-mismatch"),
    ]
    assert counts(session) == before


def test_a_data_correction_that_contradicts_is_refused_and_adds_no_version(
    prefecture: Prefecture, session: Session
) -> None:
    created = prefecture.created(decision("NC-3"))
    before = counts(session)
    response = prefecture.correct(
        created["id"],
        {
            "kind": "data-correction",
            "reference": "NC-3-FIX",
            "correction_date": created["versions"][0]["decision_date"],
            "identity": MAN,
        },
    )
    assert pairs(problem(response, 400, "invalid-field"))[0] == (NUMBER, "nir-sex-mismatch")
    assert counts(session) == before
    assert event_of(session, response).outcome == "refused"


@pytest.fixture
def flagging_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "flag.yaml"
    policy.write_text(
        DEFAULT_POLICY.read_text() + "\nidentities:\n  nir_contradiction: flag\n", encoding="utf-8"
    )
    return policy


@pytest.fixture
def flagging(
    flagging_policy: Path,
    app_client: Callable[..., TestClient],
    settings: Settings,
    participant: Register,
) -> Prefecture:
    """The prefecture of Paris, on a gateway whose policy accepts and flags contradictions."""
    http = app_client(policy_file=flagging_policy)
    return make_prefecture(http, settings, participant, departements=["75"], prefix="pref-flag")


def test_the_policy_may_accept_and_flag_a_contradiction_for_the_prefecture_to_see(
    flagging: Prefecture, session: Session
) -> None:
    created = flagging.created(decision("NC-4", identity=OTHER_YEAR_AND_PLACE))
    (version,) = created["versions"]
    assert version["identity"]["nir_contradictions"] == [
        "nir-birth-year-mismatch",
        "nir-birth-place-mismatch",
    ]
    flags = session.scalars(select(Identity.nir_contradictions)).all()
    assert flags == ["nir-birth-year-mismatch nir-birth-place-mismatch"]
    assert flagging.read(created["id"]).json()["versions"][0]["identity"]["nir_contradictions"] == [
        "nir-birth-year-mismatch",
        "nir-birth-place-mismatch",
    ]
    # The public-order ground and everything else are kept as they were sent.
    assert version["public_order"] is False


def _import(
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    policy: LoadedPolicy,
) -> dict[str, Any]:
    content = ndjson(
        decision("NI-1"),
        decision("NI-2", identity=MAN),
        decision("NI-3", identity=OTHER_YEAR_AND_PLACE),
    )
    response = prefecture.import_file(content)
    assert response.status_code == 202, response.text
    run_pending_imports(sessions, IdentityKeys.from_store(gateway_keys), policy)
    return full_report(prefecture, response.json()["id"])


def test_the_import_refuses_each_contradicting_line_naming_both_fields(
    prefecture: Prefecture,
    session: Session,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    before = counts(session)
    report = _import(prefecture, sessions, gateway_keys, POLICY)
    assert outcomes(report) == [
        (1, "accepted", "NI-1", []),
        (
            2,
            "rejected",
            "NI-2",
            [(NUMBER, "nir-sex-mismatch"), ("identity.sex", "nir-sex-mismatch")],
        ),
        (
            3,
            "rejected",
            "NI-3",
            [
                (NUMBER, "nir-birth-year-mismatch"),
                ("identity.birth_date", "nir-birth-year-mismatch"),
                (NUMBER, "nir-birth-place-mismatch"),
                ("identity.place_of_birth", "nir-birth-place-mismatch"),
            ],
        ),
    ]
    assert counts(session) == {name: n + 1 for name, n in before.items()}
    refused = session.scalars(
        select(Identity.nir_contradictions).where(Identity.nir_contradictions.is_not(None))
    ).all()
    assert refused == []


def test_the_import_under_a_flagging_policy_accepts_and_still_reports_each_contradiction(
    prefecture: Prefecture,
    session: Session,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    flagging_policy: Path,
) -> None:
    before = counts(session)
    report = _import(prefecture, sessions, gateway_keys, load_file(flagging_policy))
    assert [(line, outcome) for line, outcome, _, _ in outcomes(report)] == [
        (1, "accepted"),
        (2, "accepted"),
        (3, "accepted"),
    ]
    assert outcomes(report)[1][3] == [
        (NUMBER, "nir-sex-mismatch"),
        ("identity.sex", "nir-sex-mismatch"),
    ]
    assert all("flagged" in e["message"] for e in report["report"][2]["errors"])
    assert counts(session) == {name: n + 3 for name, n in before.items()}
    flags = sorted(
        str(flag)
        for flag in session.scalars(
            select(Identity.nir_contradictions).where(Identity.nir_contradictions.is_not(None))
        )
    )
    assert flags == ["nir-birth-year-mismatch nir-birth-place-mismatch", "nir-sex-mismatch"]


# -- gateway identities contradictions ---------------------------------------------------


def _contradictions(
    monkeypatch: pytest.MonkeyPatch, session: Session, settings: Settings, *args: str
) -> Result:
    """The command, in-process, on the test's transaction and keys."""

    @contextmanager
    def on_the_test(_: str) -> Iterator[Session]:
        yield session

    monkeypatch.setattr(identities_cli, "transaction", on_the_test)
    monkeypatch.setattr(identities_cli, "settings", lambda: settings)
    return CliRunner().invoke(app, ["identities", "contradictions", *args])


def test_the_command_lists_stored_contradictions_by_decision_and_pseudonym_only(
    flagging: Prefecture,
    session: Session,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flagging.created(decision("NC-CLEAN"))
    result = _contradictions(monkeypatch, session, settings)
    assert result.exit_code == 0, result.output
    assert "No stored NIR contradicts its person." in result.output

    flagged = flagging.created(decision("NC-FLAGGED", identity=MAN))
    older = flagging.created(decision("NC-OLDER", identity=OTHER_YEAR_AND_PLACE))
    # As an identity stored before intake checked anything: no flag kept with it.
    identity_id = session.scalars(
        select(DecisionVersion.identity_id).where(DecisionVersion.decision_id == older["id"])
    ).one()
    session.get_one(Identity, identity_id).nir_contradictions = None
    session.flush()

    result = _contradictions(monkeypatch, session, settings, "--json")
    assert result.exit_code == 3, result.output
    listed = [json.loads(line) for line in result.output.splitlines()]
    expected = {
        flagged["id"]: (["nir-sex-mismatch"], True),
        older["id"]: (["nir-birth-year-mismatch", "nir-birth-place-mismatch"], False),
    }
    assert {item["decision_id"]: (item["rules"], item["flagged"]) for item in listed} == expected
    assert {item["version"] for item in listed} == {1}
    assert {item["prefecture_id"] for item in listed} == {flagging.id}
    # Only a keyed pseudonym stands for the person: no number, name, date or place.
    for secret in (NIR_NORMALISED, "285049934111151", "N'Diaye", "1985-04-17", "1986-04-17"):
        assert secret not in result.output
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "identities:checked")
    ).all()[-1]
    assert event.detail["contradicting"] == 2
    assert sorted(event.object_ids) == sorted(expected)
    assert event.subject_pseudonyms == sorted({item["pseudonym"] for item in listed})

    table = _contradictions(monkeypatch, session, settings)
    assert table.exit_code == 3, table.output
    assert "2 decision versions whose NIR contradicts the person" in table.output


def test_the_command_fails_with_1_without_the_identity_keys(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_keys = settings.model_copy(update={"key_dir": tmp_path / "none"})
    result = _contradictions(monkeypatch, session, without_keys)
    assert result.exit_code == 1, result.output
    assert "the identity keys cannot be used" in result.output
