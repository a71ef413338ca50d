"""The ``Caller`` dependency: token, participant status, scopes, purpose, agent, delegation.

Each refusal is a problem document and an audit event with outcome "refused"; each
success an audit event naming the route's action, the purpose, the agent and the
request id echoed in ``X-Request-Id``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.auth import tokens
from gateway.keys import GatewayKeys, KeyUse
from gateway.participants.models import Participant, ParticipantStatus
from tests.support.actors import (
    Client,
    Register,
    api_headers,
    new_key,
    set_status,
    token_for,
)
from tests.support.audit import events_of
from tests.support.jose import access_token_claims, assertion, token_form
from tests.support.problems import problem

if TYPE_CHECKING:
    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auditlog.models import AuditEvent
    from gateway.settings import Settings

ME_PATH = "/v1/participants/me"


# -- helpers --------------------------------------------------------------------------


def refused_event(session: Session, response: httpx2.Response, action: str) -> AuditEvent:
    (event,) = events_of(session, response)
    assert event.action == action
    assert event.outcome == "refused"
    assert event.detail["status"] == response.status_code
    assert response.json()["type"] == "/problems/" + event.detail["problem"]
    return event


def unauthenticated(
    session: Session, response: httpx2.Response, detail: str, *, slug: str = "invalid-token"
) -> AuditEvent:
    problem(response, 401, slug, detail)
    assert response.headers["www-authenticate"]
    return refused_event(session, response, "participant:read")


def success_event(
    session: Session,
    response: httpx2.Response,
    action: str,
    caller: Client,
    *,
    acting_for: str | None = None,
    agent_id: str | None = None,
) -> AuditEvent:
    assert response.status_code == 200, response.text
    (event,) = events_of(session, response)
    assert event.action == action
    assert event.outcome == "success"
    assert event.request_id == response.headers["x-request-id"]
    assert event.participant_id == caller.id
    assert event.participant_kind == caller.kind
    assert event.acting_for == (acting_for or caller.id)
    assert event.purpose == caller.purpose
    assert event.agent_id == agent_id
    return event


def sign_as_gateway(gateway_keys: GatewayKeys, claims: dict[str, Any]) -> str:
    entry, key = gateway_keys.active(KeyUse.TOKEN)
    header = {"alg": entry.alg, "typ": "at+jwt", "kid": entry.kid}
    return jwt.encode(header, claims, key, algorithms=[entry.alg])


# -- the token ------------------------------------------------------------------------


def test_a_request_without_authorization_is_refused_with_a_challenge(
    client: TestClient, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    headers = api_headers("unused", fund)
    del headers["Authorization"]
    response = client.get(ME_PATH, headers=headers)
    event = unauthenticated(
        session, response, "an access token is required", slug="unauthenticated"
    )
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert "DPoP" in challenge
    assert event.participant_id is None
    assert event.purpose is None


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "bearer-abc"],
)
def test_a_wrong_authorization_scheme_is_refused(
    client: TestClient, participant: Register, session: Session, authorization: str
) -> None:
    fund = participant("fund")
    headers = {**api_headers("unused", fund), "Authorization": authorization}
    response = client.get(ME_PATH, headers=headers)
    unauthenticated(session, response, "must be 'Bearer <token>' or 'DPoP <token>'")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("token", ["garbage", "eyJ.eyJ.sig"])
def test_a_garbage_token_is_refused(
    client: TestClient, participant: Register, session: Session, token: str
) -> None:
    fund = participant("fund")
    response = client.get(ME_PATH, headers=api_headers(token, fund))
    event = unauthenticated(session, response, "not a compact JWS")
    assert event.participant_id is None


def test_a_token_signed_by_another_key_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    gateway_keys: GatewayKeys,
    participant: Register,
    session: Session,
) -> None:
    fund = participant("fund")
    real = access_token_claims(gateway_keys, token_for(client, settings, fund))
    # Same header (the gateway's kid) and claims, another key.
    forged = jwt.encode(dict(real.header), dict(real.claims), new_key(), algorithms=["ES256"])
    response = client.get(ME_PATH, headers=api_headers(forged, fund))
    event = unauthenticated(session, response, "not signed by this gateway")
    assert event.participant_id is None


def test_a_client_assertion_is_not_an_access_token(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    response = client.get(ME_PATH, headers=api_headers(assertion(settings, fund), fund))
    unauthenticated(session, response, "not an access token")


def test_an_access_token_with_another_algorithm_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    gateway_keys: GatewayKeys,
    participant: Register,
    session: Session,
) -> None:
    fund = participant("fund")
    real = access_token_claims(gateway_keys, token_for(client, settings, fund))
    key = ECKey.generate_key("P-384", private=True)
    header = {**real.header, "alg": "ES384"}
    other = jwt.encode(header, dict(real.claims), key, algorithms=["ES384"])
    response = client.get(ME_PATH, headers=api_headers(other, fund))
    unauthenticated(session, response, "signed with ES256")


def test_an_expired_access_token_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    gateway_keys: GatewayKeys,
    participant: Register,
    session: Session,
) -> None:
    fund = participant("fund")
    old = tokens.issue(
        gateway_keys,
        settings,
        participant_id=fund.id,
        kind=fund.kind,
        scopes=["participants:read"],
        now=int(time.time()) - 3600,
    )
    response = client.get(ME_PATH, headers=api_headers(old, fund))
    event = unauthenticated(session, response, "the access token has expired")
    assert event.participant_id is None


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"aud": "https://other.example"}, "'aud'"),
        ({"iss": "https://other.example"}, "'iss'"),
        ({"client_id": None}, "client_id"),
        ({"participant_kind": None}, "participant_kind"),
        ({"exp": None}, "exp"),
    ],
)
def test_a_gateway_signed_token_with_wrong_claims_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    gateway_keys: GatewayKeys,
    participant: Register,
    session: Session,
    change: dict[str, Any],
    detail: str,
) -> None:
    fund = participant("fund")
    claims = dict(access_token_claims(gateway_keys, token_for(client, settings, fund)).claims)
    claims.update(change)
    odd = sign_as_gateway(gateway_keys, {k: v for k, v in claims.items() if v is not None})
    response = client.get(ME_PATH, headers=api_headers(odd, fund))
    unauthenticated(session, response, detail)


def test_a_token_claiming_another_kind_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    gateway_keys: GatewayKeys,
    participant: Register,
    session: Session,
) -> None:
    fund = participant("fund")
    claims = dict(access_token_claims(gateway_keys, token_for(client, settings, fund)).claims)
    claims.update(participant_kind="operator", scope="admin participants:read")
    response = client.get(ME_PATH, headers=api_headers(sign_as_gateway(gateway_keys, claims), fund))
    unauthenticated(session, response, "not registered")


def test_a_token_for_an_unregistered_participant_is_refused(
    client: TestClient, settings: Settings, gateway_keys: GatewayKeys, session: Session
) -> None:
    ghost = tokens.issue(
        gateway_keys,
        settings,
        participant_id="prefecture-ghost",
        kind="prefecture",
        scopes=["participants:read"],
        now=int(time.time()),
    )
    headers = {"Authorization": f"Bearer {ghost}", "Purpose": "decision-transmission"}
    response = client.get(ME_PATH, headers=headers)
    event = unauthenticated(session, response, "not registered")
    assert event.participant_id == "prefecture-ghost"


def test_a_token_stops_working_at_once_when_its_participant_is_suspended(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    session: Session,
) -> None:
    fund = participant("fund")
    token = token_for(client, settings, fund)
    assert client.get(ME_PATH, headers=api_headers(token, fund)).status_code == 200
    set_status(sessions, fund.id, ParticipantStatus.SUSPENDED)
    response = client.get(ME_PATH, headers=api_headers(token, fund))
    event = unauthenticated(session, response, "the participant is suspended")
    assert event.participant_id == fund.id
    set_status(sessions, fund.id, ParticipantStatus.ACTIVE)
    assert client.get(ME_PATH, headers=api_headers(token, fund)).status_code == 200


# -- purpose and agent ----------------------------------------------------------------


def test_a_request_without_purpose_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    headers = api_headers(token_for(client, settings, fund), fund)
    del headers["Purpose"]
    response = client.get(ME_PATH, headers=headers)
    body = problem(response, 400, "invalid-field", "Purpose")
    assert body["errors"][0]["field"] == "Purpose"
    assert body["errors"][0]["rule"] == "required"
    event = refused_event(session, response, "participant:read")
    assert event.participant_id == fund.id
    assert event.agent_id == "agent-007"


@pytest.mark.parametrize("purpose", ["curiosity", "ADMINISTRATION", "Residence-Regularity-Check"])
def test_an_unknown_purpose_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    purpose: str,
) -> None:
    fund = participant("fund")
    headers = api_headers(token_for(client, settings, fund), fund, Purpose=purpose)
    response = client.get(ME_PATH, headers=headers)
    body = problem(response, 403, "purpose-not-allowed", "residence-regularity-check")
    assert body["type"].endswith("purpose-not-allowed")
    event = refused_event(session, response, "participant:read")
    assert event.purpose == purpose
    assert event.participant_id == fund.id


@pytest.mark.parametrize(
    ("kind", "foreign"),
    [
        ("fund", "anti-fraud-control"),
        ("fund", "decision-transmission"),
        ("prefecture", "residence-regularity-check"),
        ("auditor", "administration"),
        ("operator", "data-subject-request"),
    ],
)
def test_a_purpose_of_another_kind_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    kind: str,
    foreign: str,
) -> None:
    caller = participant(kind)
    headers = api_headers(token_for(client, settings, caller), caller, Purpose=foreign)
    response = client.get(ME_PATH, headers=headers)
    problem(response, 403, "purpose-not-allowed", f"purpose {foreign!r} is not allowed")
    event = refused_event(session, response, "participant:read")
    assert event.purpose == foreign
    assert event.participant_kind == kind


def test_an_auditor_may_state_either_of_its_purposes(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    auditor = participant("auditor")
    token = token_for(client, settings, auditor)
    for purpose in ("anti-fraud-control", "data-subject-request"):
        response = client.get(ME_PATH, headers=api_headers(token, auditor, Purpose=purpose))
        assert response.status_code == 200, response.text
        (event,) = events_of(session, response)
        assert event.purpose == purpose


def test_a_fund_must_name_its_agent(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    headers = api_headers(token_for(client, settings, fund), fund, agent_id=None)
    response = client.get(ME_PATH, headers=headers)
    body = problem(response, 400, "invalid-field", "Agent-Id")
    assert body["errors"] == [
        {
            "field": "Agent-Id",
            "rule": "required",
            "message": "a fund's request names the agent it acts for in Agent-Id",
        }
    ]
    event = refused_event(session, response, "participant:read")
    assert event.participant_id == fund.id
    assert event.agent_id is None


@pytest.mark.parametrize("agent", ["agent 007", "", "a" * 65, "agent\u00e9"])
def test_a_malformed_agent_id_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    agent: str,
) -> None:
    fund = participant("fund")
    headers = api_headers(token_for(client, settings, fund), fund, agent_id=None)
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    response = client.get(ME_PATH, headers=[*raw, (b"Agent-Id", agent.encode("latin-1"))])
    body = problem(response, 400, "invalid-field")
    assert body["errors"][0]["field"] == "Agent-Id"
    assert body["errors"][0]["rule"] == "format"
    event = refused_event(session, response, "participant:read")
    assert event.agent_id is None


def test_a_prefecture_needs_no_agent(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    prefecture = participant("prefecture")
    headers = api_headers(token_for(client, settings, prefecture), prefecture)
    assert "Agent-Id" not in headers
    response = client.get(ME_PATH, headers=headers)
    success_event(session, response, "participant:read", prefecture)


def test_the_case_reference_is_checked_and_audited(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    token = token_for(client, settings, fund)
    good = client.get(
        ME_PATH, headers=api_headers(token, fund, **{"Case-Reference": "CASE/2024#17"})
    )
    event = success_event(session, good, "participant:read", fund, agent_id="agent-007")
    assert event.case_reference == "CASE/2024#17"
    bad = client.get(ME_PATH, headers=api_headers(token, fund, **{"Case-Reference": "a b"}))
    body = problem(bad, 400, "invalid-field")
    assert body["errors"][0]["field"] == "Case-Reference"
    refused_event(session, bad, "participant:read")


# -- success is audited ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["prefecture", "fund", "auditor", "operator"])
def test_every_success_is_audited_with_its_action_purpose_agent_and_request_id(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    kind: str,
) -> None:
    caller = participant(kind)
    token = token_for(client, settings, caller)
    agent = "agent-42" if kind == "fund" else None
    headers = api_headers(token, caller, agent_id=agent)

    me = client.get(ME_PATH, headers=headers)
    event = success_event(session, me, "participant:read", caller, agent_id=agent)
    assert event.object_ids == [caller.id]

    listed = client.get("/v1/participants", headers=headers)
    event = success_event(session, listed, "participant:listed", caller, agent_id=agent)
    assert event.detail["count"] == len(listed.json()["items"])

    shown = client.get(f"/v1/participants/{caller.id}", headers=headers)
    event = success_event(session, shown, "participant:shown", caller, agent_id=agent)
    assert event.object_ids == [caller.id]


def test_the_request_id_given_by_the_client_is_kept_and_audited(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    token = token_for(client, settings, fund)
    given = "trace-0123456789abcdef"
    response = client.get(ME_PATH, headers=api_headers(token, fund, **{"X-Request-Id": given}))
    assert response.headers["x-request-id"] == given
    event = success_event(session, response, "participant:read", fund, agent_id="agent-007")
    assert event.request_id == given

    malformed = client.get(
        ME_PATH, headers=api_headers(token, fund, **{"X-Request-Id": "not valid!"})
    )
    assert malformed.headers["x-request-id"] != "not valid!"
    success_event(session, malformed, "participant:read", fund, agent_id="agent-007")


# -- delegation -----------------------------------------------------------------------


def test_a_delegate_acts_for_a_fund_it_may_act_for(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    principal = participant("fund")
    delegate = participant("fund", acts_for=[principal.id], departements=[], prefix="centre")
    token = token_for(client, settings, delegate)

    response = client.get(
        ME_PATH, headers=api_headers(token, delegate, **{"On-Behalf-Of": principal.id})
    )
    assert response.json()["id"] == principal.id
    assert response.json()["departements"] == principal.departements
    event = success_event(
        session,
        response,
        "participant:read",
        delegate,
        acting_for=principal.id,
        agent_id="agent-007",
    )
    assert event.object_ids == [principal.id]

    itself = client.get(ME_PATH, headers=api_headers(token, delegate))
    assert itself.json()["id"] == delegate.id
    assert itself.json()["acts_for"] == [principal.id]
    success_event(session, itself, "participant:read", delegate, agent_id="agent-007")

    named_itself = client.get(
        ME_PATH, headers=api_headers(token, delegate, **{"On-Behalf-Of": delegate.id})
    )
    assert named_itself.json()["id"] == delegate.id


@pytest.mark.parametrize("target", ["fund", "prefecture", None])
def test_a_delegate_cannot_act_for_anyone_else(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    target: str | None,
) -> None:
    principal = participant("fund")
    delegate = participant("fund", acts_for=[principal.id], departements=[], prefix="centre")
    # Another registered participant, or none: both refused alike, revealing nothing.
    other = participant(target).id if target else "fund-nonexistent"
    token = token_for(client, settings, delegate)
    response = client.get(ME_PATH, headers=api_headers(token, delegate, **{"On-Behalf-Of": other}))
    problem(response, 403, "not-a-delegate", f"{delegate.id} may not act for {other!r}")
    event = refused_event(session, response, "participant:read")
    assert event.participant_id == delegate.id
    # The attempt is attributed to the participant targeted, when it exists, so that its
    # CODAF sees it too; otherwise to the caller.
    assert event.acting_for == (other if target else delegate.id)


def test_a_participant_without_delegation_cannot_act_for_another(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund, other = participant("fund"), participant("fund")
    token = token_for(client, settings, fund)
    response = client.get(ME_PATH, headers=api_headers(token, fund, **{"On-Behalf-Of": other.id}))
    problem(response, 403, "not-a-delegate")
    refused_event(session, response, "participant:read")


def test_a_delegate_cannot_act_for_a_suspended_principal(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    session: Session,
) -> None:
    principal = participant("fund")
    delegate = participant("fund", acts_for=[principal.id], departements=[], prefix="centre")
    token = token_for(client, settings, delegate)
    set_status(sessions, principal.id, ParticipantStatus.SUSPENDED)
    response = client.get(
        ME_PATH, headers=api_headers(token, delegate, **{"On-Behalf-Of": principal.id})
    )
    problem(response, 403, "principal-suspended")
    refused_event(session, response, "participant:read")


# -- scopes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        ("fund", "suspend"),
        ("prefecture", "suspend"),
        ("auditor", "suspend"),
        ("fund", "reactivate"),
    ],
)
def test_only_an_operator_may_suspend_or_reactivate(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    kind: str,
    action: str,
) -> None:
    caller = participant(kind)
    target = participant("fund")
    token = token_for(client, settings, caller)
    response = client.post(
        f"/v1/participants/{target.id}/{action}", headers=api_headers(token, caller)
    )
    problem(response, 403, "insufficient-scope", "admin")
    event = refused_event(session, response, f"participant:{action.rstrip('e')}ed")
    assert event.participant_id == caller.id
    assert event.object_ids == []
    stored = session.get(Participant, target.id)
    assert stored is not None
    assert stored.status == "active"


def test_an_operator_token_without_the_admin_scope_cannot_suspend(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    operator, target = participant("operator"), participant("fund")
    token = token_for(client, settings, operator, scope="participants:read")
    response = client.post(
        f"/v1/participants/{target.id}/suspend", headers=api_headers(token, operator)
    )
    problem(response, 403, "insufficient-scope")
    refused_event(session, response, "participant:suspended")


def test_an_operator_suspends_and_reactivates_a_participant(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    operator, fund = participant("operator"), participant("fund")
    admin = api_headers(token_for(client, settings, operator), operator)
    fund_token = token_for(client, settings, fund)
    assert client.get(ME_PATH, headers=api_headers(fund_token, fund)).status_code == 200

    suspended = client.post(f"/v1/participants/{fund.id}/suspend", headers=admin)
    assert suspended.json()["status"] == "suspended"
    event = success_event(session, suspended, "participant:suspended", operator)
    assert event.object_ids == [fund.id]

    refused = client.get(ME_PATH, headers=api_headers(fund_token, fund))
    unauthenticated(session, refused, "suspended")
    no_token = client.post("/oauth2/token", data=token_form(assertion(settings, fund)))
    assert no_token.status_code == 401

    reactivated = client.post(f"/v1/participants/{fund.id}/reactivate", headers=admin)
    assert reactivated.json()["status"] == "active"
    event = success_event(session, reactivated, "participant:reactivated", operator)
    assert event.object_ids == [fund.id]
    assert client.get(ME_PATH, headers=api_headers(fund_token, fund)).status_code == 200


def test_suspending_an_unknown_participant_is_not_found(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    operator = participant("operator")
    admin = api_headers(token_for(client, settings, operator), operator)
    response = client.post("/v1/participants/fund-nonexistent/suspend", headers=admin)
    problem(response, 404, "not-found", "fund-nonexistent")
    event = refused_event(session, response, "participant:suspended")
    assert event.object_ids == ["fund-nonexistent"]
