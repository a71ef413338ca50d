"""Who sees which participant: each tenant itself (and whom it acts for), a territorial
auditor its départements, a national auditor and an operator everyone.

A participant one may not see answers 404, exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from gateway.auditlog.models import AuditEvent
from gateway.auth.caller import Caller
from gateway.auth.scopes import SCOPES_BY_KIND
from gateway.participants import repository
from gateway.participants.models import Participant, ParticipantKind
from policies.purposes import Purpose
from tests.support.actors import Client, Register, api_headers, token_for

if TYPE_CHECKING:
    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from gateway.settings import Settings

LIST_PATH = "/v1/participants"
NOWHERE = "fund-nonexistent"


@dataclass
class Registry:
    """Two funds and two prefectures in two départements, a delegate, and the auditors."""

    fund_paris: Client
    fund_marseille: Client
    prefecture_paris: Client
    prefecture_marseille: Client
    centre: Client  # a national centre acting for fund_paris
    auditor_marseille: Client
    auditor_national: Client
    operator: Client

    @property
    def all(self) -> list[Client]:
        return [
            self.fund_paris,
            self.fund_marseille,
            self.prefecture_paris,
            self.prefecture_marseille,
            self.centre,
            self.auditor_marseille,
            self.auditor_national,
            self.operator,
        ]

    @property
    def tenants(self) -> list[Client]:
        return [
            self.fund_paris,
            self.fund_marseille,
            self.prefecture_paris,
            self.prefecture_marseille,
        ]


@pytest.fixture
def registry(participant: Register) -> Registry:
    fund_paris = participant("fund", departements=["75"])
    return Registry(
        fund_paris=fund_paris,
        fund_marseille=participant("fund", departements=["13"]),
        prefecture_paris=participant("prefecture", departements=["75"]),
        prefecture_marseille=participant("prefecture", departements=["13"]),
        centre=participant("fund", acts_for=[fund_paris.id], departements=[], prefix="centre"),
        auditor_marseille=participant("auditor", departements=["13"]),
        auditor_national=participant("auditor", national=True),
        operator=participant("operator", departements=[]),
    )


class Connected:
    """A participant's authenticated session with the gateway, as its system holds it."""

    def __init__(self, client: TestClient, settings: Settings, caller: Client) -> None:
        self.client = client
        self.caller = caller
        self.token = token_for(client, settings, caller)

    def get(self, path: str, **headers: str) -> httpx2.Response:
        return self.client.get(path, headers=api_headers(self.token, self.caller, **headers))

    def listed(self, **headers: str) -> set[str]:
        ids: set[str] = set()
        after: str | None = None
        while True:
            path = LIST_PATH + (f"?limit=2&after={after}" if after else "?limit=2")
            response = self.get(path, **headers)
            assert response.status_code == 200, response.text
            page = response.json()
            ids.update(item["id"] for item in page["items"])
            after = page["next_cursor"]
            if after is None:
                return ids

    def shows(self, participant_id: str, **headers: str) -> bool:
        """True if the participant is shown, False on 404; anything else fails."""
        response = self.get(f"{LIST_PATH}/{participant_id}", **headers)
        if response.status_code == 200:
            assert response.json()["id"] == participant_id
            return True
        assert response.status_code == 404, response.text
        return False


def everyone(session: Session) -> set[str]:
    return set(session.scalars(select(Participant.id)))


def not_found_shape(response: httpx2.Response) -> tuple[int, str, str, str]:
    body = response.json()
    return response.status_code, response.headers["content-type"], body["type"], body["title"]


# -- tenants --------------------------------------------------------------------------


def test_each_fund_and_prefecture_sees_only_itself(
    client: TestClient, settings: Settings, registry: Registry
) -> None:
    for tenant in registry.tenants:
        caller = Connected(client, settings, tenant)
        assert caller.listed() == {tenant.id}
        for other in registry.all:
            assert caller.shows(other.id) == (other is tenant), (tenant.id, other.id)


def test_a_hidden_participant_looks_exactly_like_a_missing_one(
    client: TestClient, settings: Settings, registry: Registry, session: Session
) -> None:
    caller = Connected(client, settings, registry.fund_paris)
    hidden = caller.get(f"{LIST_PATH}/{registry.fund_marseille.id}")
    missing = caller.get(f"{LIST_PATH}/{NOWHERE}")
    assert hidden.status_code == 404
    assert not_found_shape(hidden) == not_found_shape(missing)
    assert hidden.json()["detail"] == missing.json()["detail"].replace(
        NOWHERE, registry.fund_marseille.id
    )
    (event,) = session.scalars(
        select(AuditEvent).where(AuditEvent.request_id == hidden.headers["x-request-id"])
    )
    assert (event.action, event.outcome) == ("participant:shown", "refused")
    assert event.object_ids == [registry.fund_marseille.id]
    assert event.detail["status"] == 404


def test_the_kind_filter_does_not_widen_the_view(
    client: TestClient, settings: Settings, registry: Registry
) -> None:
    caller = Connected(client, settings, registry.prefecture_paris)
    assert caller.get(f"{LIST_PATH}?kind=fund").json()["items"] == []
    prefectures = caller.get(f"{LIST_PATH}?kind=prefecture").json()["items"]
    assert [item["id"] for item in prefectures] == [registry.prefecture_paris.id]


def test_a_malformed_id_is_refused_without_a_lookup(
    client: TestClient, settings: Settings, registry: Registry, session: Session
) -> None:
    caller = Connected(client, settings, registry.operator)
    for bad in ("%00", "x" * 65, "UPPER-case"):
        response = caller.get(f"{LIST_PATH}/{bad}")
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "/problems/invalid-request"
        (event,) = session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == response.headers["x-request-id"])
        )
        assert (event.action, event.outcome) == ("participant:shown", "refused")


# -- delegates ------------------------------------------------------------------------


def test_a_delegate_sees_itself_and_the_fund_it_acts_for(
    client: TestClient, settings: Settings, registry: Registry
) -> None:
    centre = Connected(client, settings, registry.centre)
    principal = registry.fund_paris.id
    assert centre.listed() == {registry.centre.id}
    assert not centre.shows(principal)

    acting = {"On-Behalf-Of": principal}
    assert centre.listed(**acting) == {registry.centre.id, principal}
    assert centre.shows(principal, **acting)
    assert centre.shows(registry.centre.id, **acting)
    for other in (registry.fund_marseille, registry.prefecture_paris, registry.operator):
        assert not centre.shows(other.id, **acting)


def test_the_fund_a_delegate_acts_for_does_not_see_the_delegate(
    client: TestClient, settings: Settings, registry: Registry
) -> None:
    principal = Connected(client, settings, registry.fund_paris)
    assert principal.listed() == {registry.fund_paris.id}
    assert not principal.shows(registry.centre.id)


# -- auditors and operators -----------------------------------------------------------


def test_a_territorial_auditor_sees_its_departement_only(
    client: TestClient, settings: Settings, registry: Registry
) -> None:
    auditor = Connected(client, settings, registry.auditor_marseille)
    expected = {
        registry.auditor_marseille.id,
        registry.fund_marseille.id,
        registry.prefecture_marseille.id,
    }
    assert auditor.listed() == expected
    for other in registry.all:
        assert auditor.shows(other.id) == (other.id in expected), other.id


@pytest.mark.parametrize("who", ["auditor_national", "operator"])
def test_a_national_auditor_and_an_operator_see_everyone(
    client: TestClient, settings: Settings, registry: Registry, session: Session, who: str
) -> None:
    caller = Connected(client, settings, getattr(registry, who))
    listed = caller.listed()
    assert listed == everyone(session)
    assert {participant.id for participant in registry.all} <= listed
    for other in registry.all:
        assert caller.shows(other.id)
    assert not caller.shows(NOWHERE)
    funds = caller.get(f"{LIST_PATH}?kind=fund&limit=500").json()["items"]
    assert {item["id"] for item in funds} >= {
        registry.fund_paris.id,
        registry.fund_marseille.id,
        registry.centre.id,
    }
    assert {item["kind"] for item in funds} == {"fund"}


# -- the repository, directly ---------------------------------------------------------


def caller_for(
    client: Client,
    kind: ParticipantKind,
    *,
    territory: tuple[str, ...] = (),
    national: bool = False,
    acting_for: str | None = None,
) -> Caller:
    purposes = {
        ParticipantKind.FUND: Purpose.RESIDENCE_CHECK,
        ParticipantKind.PREFECTURE: Purpose.DECISION_TRANSMISSION,
        ParticipantKind.AUDITOR: Purpose.ANTI_FRAUD_CONTROL,
        ParticipantKind.OPERATOR: Purpose.ADMINISTRATION,
    }
    return Caller(
        participant_id=client.id,
        kind=kind,
        acting_for=acting_for or client.id,
        scopes=SCOPES_BY_KIND[kind],
        territory=territory,
        national=national,
        purpose=purposes[kind],
        agent_id="agent-1" if kind == ParticipantKind.FUND else None,
        case_reference=None,
        dpop_bound=False,
    )


def visible(
    session: Session,
    caller: Caller,
    *,
    kind: ParticipantKind | None = None,
    after: str | None = None,
) -> list[str]:
    return [p.id for p in repository.list_visible(session, caller, kind=kind, after=after)]


def test_list_visible_for_a_tenant_is_itself(session: Session, registry: Registry) -> None:
    for tenant in registry.tenants:
        kind = ParticipantKind(tenant.kind)
        caller = caller_for(tenant, kind, territory=tuple(tenant.departements))
        assert visible(session, caller) == [tenant.id]
        for other in registry.all:
            shown = repository.get_visible(session, caller, other.id)
            assert (shown is not None) == (other is tenant), (tenant.id, other.id)


def test_list_visible_for_a_delegate_adds_the_principal_it_acts_for(
    session: Session, registry: Registry
) -> None:
    alone = caller_for(registry.centre, ParticipantKind.FUND)
    assert visible(session, alone) == [registry.centre.id]
    acting = caller_for(
        registry.centre,
        ParticipantKind.FUND,
        acting_for=registry.fund_paris.id,
        territory=("75",),
    )
    assert visible(session, acting) == sorted([registry.centre.id, registry.fund_paris.id])
    assert repository.get_visible(session, acting, registry.fund_marseille.id) is None


def test_list_visible_for_a_territorial_auditor_is_its_departements(
    session: Session, registry: Registry
) -> None:
    marseille = caller_for(registry.auditor_marseille, ParticipantKind.AUDITOR, territory=("13",))
    assert visible(session, marseille) == sorted(
        [
            registry.auditor_marseille.id,
            registry.fund_marseille.id,
            registry.prefecture_marseille.id,
        ]
    )
    both = caller_for(registry.auditor_marseille, ParticipantKind.AUDITOR, territory=("13", "75"))
    assert set(visible(session, both)) == {
        registry.auditor_marseille.id,
        registry.fund_marseille.id,
        registry.prefecture_marseille.id,
        registry.fund_paris.id,
        registry.prefecture_paris.id,
    }
    nowhere = caller_for(registry.auditor_marseille, ParticipantKind.AUDITOR, territory=())
    assert visible(session, nowhere) == [registry.auditor_marseille.id]


def test_list_visible_for_national_auditors_and_operators_is_everyone(
    session: Session, registry: Registry
) -> None:
    national = caller_for(registry.auditor_national, ParticipantKind.AUDITOR, national=True)
    operator = caller_for(registry.operator, ParticipantKind.OPERATOR)
    for caller in (national, operator):
        assert visible(session, caller) == sorted(everyone(session))
    # "national" only widens an auditor's view.
    national_fund = caller_for(registry.fund_paris, ParticipantKind.FUND, national=True)
    assert visible(session, national_fund) == [registry.fund_paris.id]


def test_list_visible_filters_by_kind_and_pages_by_id(session: Session, registry: Registry) -> None:
    operator = caller_for(registry.operator, ParticipantKind.OPERATOR)
    funds = visible(session, operator, kind=ParticipantKind.FUND)
    assert set(funds) >= {registry.fund_paris.id, registry.fund_marseille.id, registry.centre.id}
    assert funds == sorted(funds)
    everything = visible(session, operator)
    first = everything[0]
    assert visible(session, operator, after=first) == everything[1:]
    page = repository.list_visible(session, operator, limit=2)
    assert [p.id for p in page] == everything[:2]
    # The filters narrow a tenant's view too; they never widen it.
    tenant = caller_for(registry.fund_paris, ParticipantKind.FUND, territory=("75",))
    assert visible(session, tenant, kind=ParticipantKind.PREFECTURE) == []
    assert visible(session, tenant, after="0") == [registry.fund_paris.id]
