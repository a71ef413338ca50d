"""``gateway policy explain``: why a decision goes to these funds with these fields."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.decisions import repository
from gateway.decisions.explain import explain
from gateway.participants.models import Regime
from policies.loader import DEFAULT_POLICY, load_file, load_text
from tests.support.actors import Client, Prefecture, Register, register
from tests.support.factories import decision, identity

POLICY = load_file(DEFAULT_POLICY)


@pytest.fixture
def funds(participant: Register) -> dict[str, Client]:
    """The funds of 93 and 75, and an URSSAF covering both: routing has a choice to make."""
    return {
        "cpam-93": participant("fund", regime=Regime.CPAM, departements=["93"]),
        "caf-93": participant("fund", regime=Regime.CAF, departements=["93"]),
        "urssaf-idf": participant("fund", regime=Regime.URSSAF, departements=["75", "93"]),
        "cpam-75": participant("fund", regime=Regime.CPAM, departements=["75"]),
    }


def test_a_decision_goes_to_the_funds_covering_the_residence(
    prefecture: Prefecture, funds: dict[str, Client], session: Session
) -> None:
    body = decision(
        "EXP-1",
        identity=identity(residence_departement="93"),
        public_order=True,
        kind="first-permit-refusal",
    )
    created = prefecture.created(body)
    found = repository.get(session, created["id"])
    assert found is not None
    result = explain(session, POLICY, found)
    reached = {fund_id for fund_id, _, _ in result.funds}
    assert reached == {funds["cpam-93"].id, funds["caf-93"].id, funds["urssaf-idf"].id}
    assert result.evaluation.priority_class == "high"
    assert any("public-order" in reason for reason in result.evaluation.reasons)
    for _, _, fields in result.funds:
        assert "public_order" not in fields
        assert "legal_basis" not in fields


def test_an_oqtf_alone_goes_nowhere_and_a_correction_goes_first(
    prefecture: Prefecture, session: Session
) -> None:
    oqtf = prefecture.created(decision("EXP-2", kind="oqtf"))
    found = repository.get(session, oqtf["id"])
    assert found is not None
    assert explain(session, POLICY, found).funds == []
    refused = prefecture.created(decision("EXP-3"))
    response = prefecture.correct(
        refused["id"],
        {
            "kind": "annulment",
            "reference": "TA-1",
            "correction_date": refused["versions"][0]["decision_date"],
        },
    )
    assert response.status_code == 201, response.text
    corrected = repository.get(session, refused["id"])
    assert corrected is not None
    result = explain(session, POLICY, corrected)
    assert result.evaluation.priority_rank == 0
    assert result.evaluation.to_previous_recipients


def test_a_policy_change_changes_the_route_without_code(
    prefecture: Prefecture, funds: dict[str, Client], session: Session
) -> None:
    created = prefecture.created(decision("EXP-4", identity=identity(residence_departement="93")))
    found = repository.get(session, created["id"])
    assert found is not None
    by_prefecture = load_text(
        DEFAULT_POLICY.read_text().replace("residence_first: true", "residence_first: false")
    )
    reached = {fund_id for fund_id, _, _ in explain(session, by_prefecture, found).funds}
    assert reached == {funds["cpam-75"].id, funds["urssaf-idf"].id}


def test_the_explain_command_says_why_in_words(tmp_path: Path) -> None:
    from gateway.auth.caller import Caller  # noqa: PLC0415
    from gateway.decisions import service  # noqa: PLC0415
    from gateway.decisions.schemas import DecisionIn  # noqa: PLC0415
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415
    from gateway.keys import GatewayKeys  # noqa: PLC0415
    from gateway.participants.models import ParticipantKind  # noqa: PLC0415
    from gateway.settings import Environment  # noqa: PLC0415
    from gateway.storage import migrate  # noqa: PLC0415
    from gateway.storage.engine import make_engine, make_sessionmaker  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'explain.db'}"
    migrate.upgrade(url)
    keys = GatewayKeys.init(tmp_path / "keys", Environment.DEVELOPMENT)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        pref = register(session, "prefecture", departements=["75"])
        fund = register(session, "fund", regime=Regime.CAF, departements=["75"])
        caller = Caller(
            participant_id=pref.id,
            kind=ParticipantKind.PREFECTURE,
            acting_for=pref.id,
            scopes=frozenset(),
            territory=("75",),
            national=False,
            purpose="decision-transmission",
            agent_id=None,
            case_reference=None,
            dpop_bound=False,
        )
        posted = service.post(
            session,
            caller,
            IdentityKeys.from_store(keys),
            POLICY,
            DecisionIn.model_validate(decision("EXP-5")),
            None,
        )
        decision_id = posted.decision.id
    engine.dispose()
    env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_KEY_DIR": str(tmp_path / "keys")}
    result = CliRunner().invoke(app, ["policy", "explain", decision_id], env=env)
    assert result.exit_code == 0, result.output
    assert "A renewal-refusal is disclosed" in result.output
    assert f"{fund.id} (caf) receives: social_security_number, agdref_number" in result.output
    missing = CliRunner().invoke(app, ["policy", "explain", "nope"], env=env)
    assert missing.exit_code == 1
