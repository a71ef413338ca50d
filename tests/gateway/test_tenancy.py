"""The one home of tenant isolation: each helper of ``gateway.tenancy`` against real rows.

Every helper is a ``WHERE`` condition: the tests select participants with it on both
backends and compare with what the rule says, for each kind of caller, and show that a
helper given a caller of the wrong kind refuses rather than scopes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway import tenancy
from gateway.auth.caller import Caller
from gateway.errors import Forbidden, InvalidField
from gateway.participants.models import Participant, ParticipantKind

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from tests.support.actors import Client, Register

DEPARTEMENTS = ("75", "92", "93", "13", "2A")


def caller(
    kind: ParticipantKind,
    participant_id: str,
    *,
    acting_for: str | None = None,
    territory: tuple[str, ...] = (),
    national: bool = False,
) -> Caller:
    return Caller(
        participant_id=participant_id,
        kind=kind,
        acting_for=acting_for or participant_id,
        scopes=frozenset(),
        territory=territory,
        national=national,
        purpose="test",
        agent_id=None,
        case_reference=None,
        dpop_bound=False,
    )


def selected(session: Session, condition: ColumnElement[bool], among: set[str]) -> set[str]:
    """The ids of ``among`` that the condition keeps (other tests' rows left aside)."""
    rows = session.scalars(select(Participant.id).where(condition, Participant.id.in_(among)))
    return set(rows.unique())


@pytest.fixture
def cast(participant: Register) -> dict[str, Client]:
    """Funds, prefectures and an auditor over a few départements, and a delegate."""
    made = {
        "fund-75": participant("fund", departements=["75"]),
        "fund-92": participant("fund", departements=["92"]),
        "fund-93-13": participant("fund", departements=["93", "13"]),
        "pref-75": participant("prefecture", departements=["75"]),
        "pref-2A": participant("prefecture", departements=["2A"]),
        "codaf-92": participant("auditor", departements=["92"]),
    }
    made["centre"] = participant("fund", acts_for=[made["fund-75"].id])
    return made


def test_covering_names_the_participants_whose_territory_meets_the_departements(
    session: Session, cast: dict[str, Client]
) -> None:
    ids = {client.id for client in cast.values()}
    covering_75_13 = Participant.id.in_(tenancy.covering(["75", "13"]))
    assert selected(session, covering_75_13, ids) == {  # the delegate has no territory
        cast["fund-75"].id,
        cast["fund-93-13"].id,
        cast["pref-75"].id,
    }
    assert selected(session, Participant.id.in_(tenancy.covering([])), ids) == set()


def test_a_prefecture_and_a_fund_see_their_own_rows_and_a_delegate_its_principals(
    session: Session, cast: dict[str, Client]
) -> None:
    ids = {client.id for client in cast.values()}
    prefecture = caller(ParticipantKind.PREFECTURE, cast["pref-75"].id)
    assert selected(session, tenancy.prefecture_rows(prefecture, Participant.id), ids) == {
        cast["pref-75"].id
    }
    fund = caller(ParticipantKind.FUND, cast["fund-92"].id)
    assert selected(session, tenancy.fund_rows(fund, Participant.id), ids) == {cast["fund-92"].id}
    delegate = caller(ParticipantKind.FUND, cast["centre"].id, acting_for=cast["fund-75"].id)
    assert selected(session, tenancy.fund_rows(delegate, Participant.id), ids) == {
        cast["fund-75"].id
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(territory=st.sets(st.sampled_from(DEPARTEMENTS)))
def test_a_territorial_auditor_sees_exactly_the_participants_of_its_departements(
    session: Session, cast: dict[str, Client], territory: set[str]
) -> None:
    ids = {client.id for client in cast.values()}
    auditor = caller(ParticipantKind.AUDITOR, "codaf", territory=tuple(sorted(territory)))
    expected = {client.id for client in cast.values() if territory & set(client.departements)}
    assert selected(session, tenancy.auditor_rows(auditor, Participant.id), ids) == expected


def test_an_auditor_narrows_to_one_of_its_departements_and_never_beyond(
    session: Session, cast: dict[str, Client]
) -> None:
    ids = {client.id for client in cast.values()}
    auditor = caller(ParticipantKind.AUDITOR, "codaf", territory=("75", "93"))
    narrowed = tenancy.auditor_rows(auditor, Participant.id, departement="93")
    assert selected(session, narrowed, ids) == {cast["fund-93-13"].id}
    with pytest.raises(InvalidField) as refused:
        tenancy.auditor_rows(auditor, Participant.id, departement="13")
    assert refused.value.errors[0].rule == "outside-territory"


def test_a_national_auditor_sees_everything_and_may_narrow_to_any_departement(
    session: Session, cast: dict[str, Client]
) -> None:
    ids = {client.id for client in cast.values()}
    national = caller(ParticipantKind.AUDITOR, "codaf-national", national=True)
    assert selected(session, tenancy.auditor_rows(national, Participant.id), ids) == ids
    narrowed = tenancy.auditor_rows(national, Participant.id, departement="2A")
    assert selected(session, narrowed, ids) == {cast["pref-2A"].id}


def test_who_sees_which_participant(session: Session, cast: dict[str, Client]) -> None:
    ids = {client.id for client in cast.values()}
    centre = caller(ParticipantKind.FUND, cast["centre"].id, acting_for=cast["fund-75"].id)
    assert selected(session, tenancy.participant_rows(centre, Participant.id), ids) == {
        cast["centre"].id,
        cast["fund-75"].id,
    }
    operator = caller(ParticipantKind.OPERATOR, "ops")
    assert selected(session, tenancy.participant_rows(operator, Participant.id), ids) == ids
    auditor = caller(ParticipantKind.AUDITOR, cast["codaf-92"].id, territory=("92",))
    assert selected(session, tenancy.participant_rows(auditor, Participant.id), ids) == {
        cast["codaf-92"].id,
        cast["fund-92"].id,
    }
    prefecture = caller(ParticipantKind.PREFECTURE, cast["pref-75"].id)
    assert selected(session, tenancy.participant_rows(prefecture, Participant.id), ids) == {
        cast["pref-75"].id
    }


@pytest.mark.parametrize(
    ("kind", "helper"),
    [
        (ParticipantKind.FUND, tenancy.prefecture_rows),
        (ParticipantKind.AUDITOR, tenancy.prefecture_rows),
        (ParticipantKind.PREFECTURE, tenancy.fund_rows),
        (ParticipantKind.OPERATOR, tenancy.fund_rows),
        (ParticipantKind.FUND, tenancy.auditor_rows),
        (ParticipantKind.OPERATOR, tenancy.auditor_rows),
    ],
)
def test_a_helper_refuses_a_caller_of_another_kind(kind: ParticipantKind, helper: object) -> None:
    assert callable(helper)
    with pytest.raises(Forbidden) as refused:
        helper(caller(kind, "someone", territory=("75",)), Participant.id)
    assert refused.value.slug == "wrong-participant-kind"


def test_a_fund_checks_the_residents_of_its_territory_and_must_say_where_they_live() -> None:
    fund = caller(ParticipantKind.FUND, "caf-93", territory=("93",))
    assert tenancy.fund_check_refusal(fund, "93") is None
    assert tenancy.fund_check_refusal(fund, "75") == tenancy.OUTSIDE_TERRITORY
    # Silence is no way out of the territory: an unstated residence is refused.
    assert tenancy.fund_check_refusal(fund, None) == tenancy.RESIDENCE_REQUIRED
    assert tenancy.fund_check_refusal(fund, "") == tenancy.RESIDENCE_REQUIRED
    # A delegate acting for a fund checks within its principal's territory.
    acting = caller(ParticipantKind.FUND, "centre", acting_for="caf-93", territory=("93",))
    assert tenancy.fund_check_refusal(acting, "75") == tenancy.OUTSIDE_TERRITORY
    with pytest.raises(Forbidden):
        tenancy.fund_check_refusal(
            caller(ParticipantKind.AUDITOR, "codaf", territory=("93",)), "93"
        )


@given(departement=st.one_of(st.none(), st.sampled_from(DEPARTEMENTS)))
def test_a_national_fund_checks_anyone(departement: str | None) -> None:
    national = caller(ParticipantKind.FUND, "cnav", national=True)
    assert tenancy.fund_check_refusal(national, departement) is None


def test_a_delegate_has_no_data_rights_of_its_own() -> None:
    delegate = caller(ParticipantKind.FUND, "centre")  # no territory, not national
    for departement in ("75", None):
        with pytest.raises(Forbidden) as refused:
            tenancy.fund_check_refusal(delegate, departement)
        assert refused.value.slug == "on-behalf-of-required"
        assert refused.value.errors[0].field == "On-Behalf-Of"
    with pytest.raises(Forbidden):
        tenancy.fund_data_rights(delegate)
    tenancy.fund_data_rights(caller(ParticipantKind.FUND, "caf-93", territory=("93",)))


def test_a_prefecture_posts_for_its_own_departements_only() -> None:
    single = caller(ParticipantKind.PREFECTURE, "pref-75", territory=("75",))
    assert tenancy.prefecture_departement(single, None) == "75"
    assert tenancy.prefecture_departement(single, "75") == "75"
    with pytest.raises(Forbidden) as elsewhere:
        tenancy.prefecture_departement(single, "13")
    assert elsewhere.value.slug == "not-own-departement"
    several = caller(ParticipantKind.PREFECTURE, "pref-idf", territory=("75", "92"))
    with pytest.raises(InvalidField) as unnamed:
        tenancy.prefecture_departement(several, None)
    assert unnamed.value.errors[0].rule == "required"
    assert tenancy.prefecture_departement(several, "92") == "92"
