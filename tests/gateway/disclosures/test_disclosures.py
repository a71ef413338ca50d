"""Disclosures: the policy's decision recorded per fund, with the policy version."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.disclosures.models import Disclosure
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from policies.loader import DEFAULT_POLICY, load_file
from tests.support.actors import Client, Prefecture, Register, seal
from tests.support.factories import decision, identity

VERSION = load_file(DEFAULT_POLICY).version


@pytest.fixture
def funds(participant: Register) -> dict[str, Client]:
    """Two funds covering the residence (93) and one covering the prefecture (75).

    Not ``test_explain``'s funds: these tests count the records sealed for exactly two.
    """
    return {
        "cpam-93": participant("fund", regime=Regime.CPAM, departements=["93"]),
        "caf-93": participant("fund", regime=Regime.CAF, departements=["93"]),
        "cpam-75": participant("fund", regime=Regime.CPAM, departements=["75"]),
    }


def rows(session: Session, decision_id: str) -> list[Disclosure]:
    statement = (
        select(Disclosure)
        .where(Disclosure.decision_id == decision_id)
        .order_by(Disclosure.version, Disclosure.fund_id)
    )
    return list(session.scalars(statement))


def test_a_decision_is_owed_to_the_funds_covering_the_residence_with_the_policy_version(
    prefecture: Prefecture, funds: dict[str, Client], session: Session
) -> None:
    created = prefecture.created(
        decision("D-1", kind="renewal-refusal", identity=identity(residence_departement="93"))
    )
    found = rows(session, created["id"])
    assert {d.fund_id for d in found} == {funds["cpam-93"].id, funds["caf-93"].id}
    assert {(d.state, d.priority_class, d.priority_rank, d.policy_version) for d in found} == {
        ("pending", "high", 1, VERSION)
    }
    shown = created["disclosures"]
    assert {d["fund_id"] for d in shown} == {d.fund_id for d in found}
    assert all(d["policy_version"] == VERSION for d in shown)


@pytest.mark.usefixtures("funds")
def test_an_oqtf_alone_is_owed_to_nobody(prefecture: Prefecture, session: Session) -> None:
    created = prefecture.created(decision("D-2", kind="oqtf"))
    assert rows(session, created["id"]) == []
    assert created["disclosures"] == []


def seal_everything(sessions: sessionmaker[Session], keys: GatewayKeys) -> int:
    """What the worker does: every pending disclosure into signed batches."""
    sealed = seal(sessions, keys)
    return sum(batch.record_count for batch in sealed)


@pytest.mark.usefixtures("funds")
def test_a_correction_goes_first_to_exactly_the_funds_that_received_the_decision(
    prefecture: Prefecture,
    session: Session,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    participant: Register,
) -> None:
    created = prefecture.created(
        decision("D-3", kind="first-permit-refusal", identity=identity(residence_departement="93"))
    )
    assert seal_everything(sessions, gateway_keys) == 2
    late = participant("fund", regime=Regime.URSSAF, departements=["93"])
    response = prefecture.correct(
        created["id"],
        {
            "kind": "annulment",
            "reference": "TA-3",
            "correction_date": created["versions"][0]["decision_date"],
        },
    )
    assert response.status_code == 201, response.text
    found = rows(session, created["id"])
    first = {d.fund_id for d in found if d.version == 1}
    second = [d for d in found if d.version == 2]
    assert len(first) == 2
    assert {d.fund_id for d in second} == first
    assert late.id not in {d.fund_id for d in found}
    assert all(d.correction and d.priority_rank == 0 for d in second)
    assert all(d.priority_class == "normal" for d in found if d.version == 1)
    assert {d.state for d in found if d.version == 1} == {"sealed"}


@pytest.mark.usefixtures("funds")
def test_an_annulment_before_sealing_cancels_the_unsent_records_instead(
    prefecture: Prefecture, session: Session
) -> None:
    created = prefecture.created(
        decision("D-5", kind="renewal-refusal", identity=identity(residence_departement="93"))
    )
    response = prefecture.correct(
        created["id"],
        {
            "kind": "withdrawal",
            "reference": "RETRAIT-5",
            "correction_date": created["versions"][0]["decision_date"],
        },
    )
    assert response.status_code == 201, response.text
    found = rows(session, created["id"])
    assert {(d.version, d.state) for d in found} == {(1, "cancelled")}
    assert len(found) == 2


@pytest.mark.usefixtures("funds")
def test_a_data_correction_before_sealing_sends_the_corrected_version_instead(
    prefecture: Prefecture,
    session: Session,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
    funds: dict[str, Client],
) -> None:
    created = prefecture.created(
        decision("D-6", kind="renewal-refusal", identity=identity(residence_departement="93"))
    )
    response = prefecture.correct(
        created["id"],
        {
            "kind": "data-correction",
            "reference": "RECT-6",
            "correction_date": created["versions"][0]["decision_date"],
            "identity": identity(residence_departement="93", birth_name="Diallo"),
        },
    )
    assert response.status_code == 201, response.text
    found = rows(session, created["id"])
    assert {(d.version, d.state) for d in found if d.version == 1} == {(1, "cancelled")}
    second = [d for d in found if d.version == 2]
    assert {d.fund_id for d in second} == {funds["cpam-93"].id, funds["caf-93"].id}
    assert all(not d.correction and d.priority_class == "high" for d in second)
    assert seal_everything(sessions, gateway_keys) == 2


@pytest.mark.usefixtures("funds")
def test_an_import_records_disclosures_like_a_post(
    prefecture: Prefecture,
    session: Session,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    lines = [
        decision(f"IMP-{n}", identity=identity(residence_departement="93", agdref_number=None))
        for n in range(3)
    ]
    content = "\n".join(json.dumps(line) for line in lines).encode()
    assert prefecture.imported(content, sessions, gateway_keys)["accepted"] == 3
    found = list(session.scalars(select(Disclosure).where(Disclosure.policy_version == VERSION)))
    assert len(found) == 6
