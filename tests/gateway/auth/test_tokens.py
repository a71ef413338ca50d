"""The token endpoint: client credentials, authenticated by private_key_jwt (RFC 7523).

Every refusal is an RFC 9457 problem document carrying the RFC 6749 ``error`` member,
and leaves an audit event with outcome "refused"; none is a 500.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from joserfc.jwk import OctKey

from gateway.auth.assertions import ASSERTION_TYPE
from gateway.auth.scopes import SCOPES_BY_KIND
from gateway.keys import GatewayKeys, KeyUse
from gateway.participants.models import ParticipantStatus
from tests.support.actors import Client, Register, api_headers, new_key, set_status
from tests.support.audit import events_of
from tests.support.jose import access_token_claims, assertion, b64url, compact, token_form
from tests.support.problems import PROBLEM_JSON

if TYPE_CHECKING:
    import httpx2
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auditlog.models import AuditEvent
    from gateway.settings import Settings

TOKEN_PATH = "/oauth2/token"


# -- helpers --------------------------------------------------------------------------


def valid_claims(settings: Settings, client: Client) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": client.id,
        "sub": client.id,
        "aud": settings.token_endpoint,
        "iat": now,
        "exp": now + 60,
        "jti": f"hand-made-{now}-{client.id}",
    }


def refused(
    session: Session,
    response: httpx2.Response,
    *,
    status: int,
    error: str,
    detail: str,
) -> AuditEvent:
    """Check the problem document of a token refusal and return its one audit event."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == "/problems/" + error.replace("_", "-")
    assert body["status"] == status
    assert body["error"] == error
    assert detail in body["detail"], body["detail"]
    assert body["error_description"] == body["detail"]
    assert body["instance"] == TOKEN_PATH
    if status == 401:
        assert response.headers["www-authenticate"] == "private_key_jwt"
    events = events_of(session, response)
    assert len(events) == 1
    event = events[0]
    assert event.action == "token:issued"
    assert event.outcome == "refused"
    assert event.detail["status"] == status
    assert event.detail["problem"] == error.replace("_", "-")
    return event


def invalid_client(session: Session, response: httpx2.Response, detail: str) -> AuditEvent:
    return refused(session, response, status=401, error="invalid_client", detail=detail)


def post_token(client: TestClient, form: dict[str, str], **headers: str) -> httpx2.Response:
    return client.post(TOKEN_PATH, data=form, headers=headers)


# -- success --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["prefecture", "fund", "auditor", "operator"])
def test_a_participant_gets_a_signed_access_token_it_can_use(
    *,
    client: TestClient,
    settings: Settings,
    gateway_keys: GatewayKeys,
    participant: Register,
    session: Session,
    kind: str,
) -> None:
    caller = participant(kind)
    started = int(time.time())
    response = post_token(client, token_form(assertion(settings, caller)))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    expected_scopes = sorted(str(scope) for scope in SCOPES_BY_KIND[kind])
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 300
    assert body["expires_in"] == settings.access_token_lifetime_s
    assert body["scope"] == " ".join(expected_scopes)
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}

    token = access_token_claims(gateway_keys, body["access_token"])
    token_key, _ = gateway_keys.active(KeyUse.TOKEN)
    assert token.header["typ"] == "at+jwt"
    assert token.header["alg"] == "ES256"
    assert token.header["kid"] == token_key.kid
    claims = token.claims
    assert claims["sub"] == caller.id
    assert claims["client_id"] == caller.id
    assert claims["participant_kind"] == kind
    assert claims["scope"] == " ".join(expected_scopes)
    assert claims["aud"] == settings.audience
    assert claims["iss"] == settings.issuer
    assert "cnf" not in claims
    assert started <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["jti"]

    (event,) = events_of(session, response)
    assert event.action == "token:issued"
    assert event.outcome == "success"
    assert event.participant_id == caller.id
    assert event.participant_kind == kind
    assert event.detail == {
        "claimed_client_id": caller.id,
        "scopes": expected_scopes,
        "dpop": False,
    }

    me = client.get("/v1/participants/me", headers=api_headers(body["access_token"], caller))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == caller.id
    assert me.json()["kind"] == kind


def test_each_token_is_distinct(
    client: TestClient, settings: Settings, gateway_keys: GatewayKeys, participant: Register
) -> None:
    fund = participant("fund")
    first = post_token(client, token_form(assertion(settings, fund))).json()["access_token"]
    second = post_token(client, token_form(assertion(settings, fund))).json()["access_token"]
    assert first != second
    jtis = {access_token_claims(gateway_keys, t).claims["jti"] for t in (first, second)}
    assert len(jtis) == 2


@pytest.mark.parametrize(
    "audience",
    ["token_endpoint", "issuer", "list"],
)
def test_the_audience_may_be_the_token_endpoint_or_the_issuer(
    client: TestClient, settings: Settings, participant: Register, audience: str
) -> None:
    fund = participant("fund")
    audiences: dict[str, str | list[str]] = {
        "token_endpoint": settings.token_endpoint,
        "issuer": settings.issuer,
        "list": ["https://elsewhere.example", settings.token_endpoint],
    }
    response = post_token(client, token_form(assertion(settings, fund, aud=audiences[audience])))
    assert response.status_code == 200, response.text


def test_client_id_may_repeat_the_issuer(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    form = token_form(assertion(settings, fund), client_id=fund.id)
    assert post_token(client, form).status_code == 200


# -- scopes ---------------------------------------------------------------------------


def test_a_subset_of_the_scopes_can_be_asked_and_is_enforced(
    *,
    client: TestClient,
    settings: Settings,
    gateway_keys: GatewayKeys,
    participant: Register,
    session: Session,
) -> None:
    fund = participant("fund")
    form = token_form(assertion(settings, fund), scope="status:check batches:read")
    response = post_token(client, form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "batches:read status:check"
    claims = access_token_claims(gateway_keys, body["access_token"]).claims
    assert claims["scope"] == "batches:read status:check"
    (event,) = events_of(session, response)
    assert event.detail["scopes"] == ["batches:read", "status:check"]

    # participants:read was not asked for, so the token cannot read the registry.
    me = client.get("/v1/participants/me", headers=api_headers(body["access_token"], fund))
    assert me.status_code == 403, me.text
    assert me.json()["type"] == "/problems/insufficient-scope"


def test_the_narrowest_scope_is_enough_for_what_it_grants(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    form = token_form(assertion(settings, fund), scope="participants:read")
    body = post_token(client, form).json()
    assert body["scope"] == "participants:read"
    me = client.get("/v1/participants/me", headers=api_headers(body["access_token"], fund))
    assert me.status_code == 200, me.text


@pytest.mark.parametrize(
    ("kind", "scope", "unknown"),
    [
        ("fund", "admin", "admin"),
        ("fund", "participants:read decisions:write", "decisions:write"),
        ("prefecture", "batches:read", "batches:read"),
        ("auditor", "nonsense", "nonsense"),
    ],
)
def test_a_scope_the_kind_cannot_hold_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    kind: str,
    scope: str,
    unknown: str,
) -> None:
    caller = participant(kind)
    response = post_token(client, token_form(assertion(settings, caller), scope=scope))
    event = refused(
        session, response, status=400, error="invalid_scope", detail=f"scope(s) {unknown} "
    )
    assert event.participant_id == caller.id
    assert event.participant_kind == kind


# -- grant and form -------------------------------------------------------------------


def test_another_grant_type_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    form = {**token_form(assertion(settings, fund)), "grant_type": "password"}
    response = post_token(client, form)
    event = refused(
        session, response, status=400, error="unsupported_grant_type", detail="client_credentials"
    )
    assert event.participant_id is None


def test_a_missing_grant_type_is_an_oauth_invalid_request(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    form = token_form(assertion(settings, fund))
    del form["grant_type"]
    response = post_token(client, form)
    refused(session, response, status=400, error="invalid_request", detail="grant_type")


def test_an_empty_body_is_refused(client: TestClient, session: Session) -> None:
    response = client.post(TOKEN_PATH)
    refused(session, response, status=400, error="invalid_request", detail="grant_type")


def test_a_missing_assertion_is_refused(
    client: TestClient, participant: Register, session: Session
) -> None:
    participant("fund")
    response = post_token(
        client, {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
    )
    event = invalid_client(session, response, "private_key_jwt")
    assert event.participant_id is None


@pytest.mark.parametrize(
    "assertion_type",
    [None, "", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"],
)
def test_a_wrong_assertion_type_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    assertion_type: str | None,
) -> None:
    fund = participant("fund")
    form = token_form(assertion(settings, fund))
    if assertion_type is None:
        del form["client_assertion_type"]
    else:
        form["client_assertion_type"] = assertion_type
    response = post_token(client, form)
    invalid_client(session, response, "client_assertion_type")


# -- malformed ------------------------------------------------------------------------


MALFORMED = {
    "garbage": "garbage",
    "three dots": "a.b.c",
    "empty parts": "..",
    "non-ascii": "é.é.é",
    "non-JSON payload": compact({"alg": "ES256"}, b"not json", b"sig"),
    "non-JSON header": "bm90IGpzb24." + b64url(b"{}") + ".c2ln",
    "JSON array payload": compact({"alg": "ES256"}, [1, 2], b"sig"),
    "NUL in the issuer": compact({"alg": "ES256"}, {"iss": "fund\u0000x"}, b"sig"),
    "lone surrogate in the issuer": compact({"alg": "ES256"}, b'{"iss": "a\\ud800"}', b"sig"),
}


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_assertion_is_refused(
    client: TestClient, participant: Register, session: Session, token: str
) -> None:
    participant("fund")
    response = post_token(client, token_form(token))
    event = invalid_client(session, response, "malformed client assertion")
    assert event.participant_id is None


def test_an_assertion_without_issuer_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    response = post_token(client, token_form(assertion(settings, fund, drop=("iss",))))
    invalid_client(session, response, "no 'iss' claim")


# -- time -----------------------------------------------------------------------------


def test_an_expired_assertion_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    stale = assertion(settings, fund, now=int(time.time()) - 3600, lifetime=60)
    event = invalid_client(session, post_token(client, token_form(stale)), "has expired")
    assert event.participant_id == fund.id


def test_an_assertion_expired_within_the_leeway_is_accepted(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    # Expired 10 s ago: still inside the clock leeway.
    late = assertion(settings, fund, now=int(time.time()) - 70, lifetime=60)
    assert settings.clock_leeway_s > 10
    assert post_token(client, token_form(late)).status_code == 200


def test_a_not_yet_valid_assertion_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    early = assertion(settings, fund, nbf=int(time.time()) + 600)
    invalid_client(session, post_token(client, token_form(early)), "not yet valid")


def test_an_assertion_issued_in_the_future_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    future = assertion(settings, fund, now=int(time.time()) + 600)
    invalid_client(session, post_token(client, token_form(future)), "issued in the future")


@pytest.mark.parametrize("shape", ["exp - iat", "exp without iat"])
def test_an_assertion_living_too_long_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session, shape: str
) -> None:
    fund = participant("fund")
    longest = settings.client_assertion_max_lifetime_s
    if shape == "exp - iat":
        token = assertion(settings, fund, lifetime=longest + 1)
    else:
        exp = int(time.time()) + longest + settings.clock_leeway_s + 60
        token = assertion(settings, fund, drop=("iat",), exp=exp)
    event = invalid_client(session, post_token(client, token_form(token)), f"at most {longest} s")
    assert event.participant_id == fund.id


def test_an_assertion_of_the_longest_lifetime_is_accepted(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    token = assertion(settings, fund, lifetime=settings.client_assertion_max_lifetime_s)
    assert post_token(client, token_form(token)).status_code == 200


# -- replay ---------------------------------------------------------------------------


def test_an_assertion_works_once(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    once = assertion(settings, fund)
    first = post_token(client, token_form(once))
    assert first.status_code == 200, first.text
    second = post_token(client, token_form(once))
    event = invalid_client(session, second, "already used (replay)")
    assert event.participant_id == fund.id


def test_the_same_jti_in_a_new_assertion_is_a_replay(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    first = post_token(client, token_form(assertion(settings, fund, jti="fixed-jti")))
    assert first.status_code == 200, first.text
    again = assertion(settings, fund, jti="fixed-jti", lifetime=90)
    invalid_client(session, post_token(client, token_form(again)), "replay")


def test_two_clients_may_use_the_same_jti(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    one, other = participant("fund"), participant("fund")
    for caller in (one, other):
        response = post_token(client, token_form(assertion(settings, caller, jti="shared")))
        assert response.status_code == 200, response.text


def test_a_refused_request_does_not_use_up_the_assertion(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    once = assertion(settings, fund)
    refused(
        session,
        post_token(client, token_form(once, scope="admin")),
        status=400,
        error="invalid_scope",
        detail="admin",
    )
    assert post_token(client, token_form(once)).status_code == 200


# -- audience and identity ------------------------------------------------------------


@pytest.mark.parametrize(
    "aud",
    ["http://testserver/v1/participants", "https://other.example/oauth2/token", ["x", "y"]],
)
def test_a_wrong_audience_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    aud: str | list[str],
) -> None:
    fund = participant("fund")
    token = assertion(settings, fund, aud=aud)
    event = invalid_client(session, post_token(client, token_form(token)), "'aud'")
    assert event.participant_id == fund.id


def test_a_missing_audience_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    token = assertion(settings, fund, drop=("aud",))
    invalid_client(session, post_token(client, token_form(token)), "aud")


def test_an_issuer_other_than_the_subject_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund, other = participant("fund"), participant("fund")
    token = assertion(settings, fund, sub=other.id)
    event = invalid_client(session, post_token(client, token_form(token)), "'sub'")
    assert event.participant_id == fund.id


def test_an_assertion_naming_another_participant_as_issuer_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund, victim = participant("fund"), participant("prefecture")
    # Signed with the fund's own key, but claiming to be the prefecture.
    token = assertion(settings, fund, iss=victim.id, sub=victim.id, header={"kid": victim.kid})
    event = invalid_client(
        session, post_token(client, token_form(token)), "does not verify with the client's"
    )
    assert event.participant_id is None
    assert event.detail["claimed_client_id"] == victim.id


def test_a_client_id_other_than_the_issuer_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund, other = participant("fund"), participant("fund")
    form = token_form(assertion(settings, fund), client_id=other.id)
    event = invalid_client(session, post_token(client, form), "client_id and the assertion's")
    assert event.participant_id is None
    assert event.detail["claimed_client_id"] == fund.id


def test_an_unknown_client_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    token = assertion(settings, fund, iss="fund-unknown", sub="fund-unknown")
    event = invalid_client(session, post_token(client, token_form(token)), "unknown client")
    assert event.participant_id is None
    assert event.detail["claimed_client_id"] == "fund-unknown"


def test_a_suspended_client_is_refused_and_the_refusal_attributed(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    session: Session,
) -> None:
    fund = participant("fund")
    set_status(sessions, fund.id, ParticipantStatus.SUSPENDED)
    response = post_token(client, token_form(assertion(settings, fund)))
    event = invalid_client(session, response, "the client is suspended")
    assert event.participant_id == fund.id
    assert event.participant_kind == "fund"


def test_a_suspended_client_learns_nothing_without_a_valid_signature(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    sessions: sessionmaker[Session],
    session: Session,
) -> None:
    fund = participant("fund")
    set_status(sessions, fund.id, ParticipantStatus.SUSPENDED)
    forged = assertion(settings, fund, key=new_key())
    response = post_token(client, token_form(forged))
    event = invalid_client(session, response, "signature does not verify")
    assert "suspended" not in response.text
    assert event.participant_id is None


# -- algorithms and keys --------------------------------------------------------------


def test_an_unsigned_assertion_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    for alg in ("none", "None", "NONE"):
        token = compact({"alg": alg, "kid": fund.kid}, valid_claims(settings, fund))
        assert token.endswith(".")
        response = post_token(client, token_form(token))
        event = invalid_client(session, response, "alg 'none'")
        assert event.participant_id is None


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ({}, "malformed client assertion"),
        ({"alg": 256}, "the header has no algorithm"),
        ({"alg": None}, "the header has no algorithm"),
    ],
)
def test_an_assertion_without_a_usable_alg_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    header: dict[str, Any],
    detail: str,
) -> None:
    fund = participant("fund")
    token = compact({**header, "kid": fund.kid}, valid_claims(settings, fund), b"sig")
    invalid_client(session, post_token(client, token_form(token)), detail)


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_a_symmetric_signature_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session, alg: str
) -> None:
    fund = participant("fund")
    secret = OctKey.generate_key(512)
    token = assertion(settings, fund, key=secret, header={"alg": alg})
    response = post_token(client, token_form(token))
    event = invalid_client(session, response, f"symmetric algorithm {alg} is refused")
    assert event.participant_id is None


def test_a_symmetric_signature_keyed_with_the_public_key_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    """The classic confusion attack: HMAC keyed with the registered public key."""
    fund = participant("fund")
    public = json.dumps(fund.key.as_dict(private=False), sort_keys=True).encode()
    token = assertion(settings, fund, key=OctKey.import_key(public), header={"alg": "HS256"})
    invalid_client(session, post_token(client, token_form(token)), "symmetric")


def test_an_algorithm_outside_the_list_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    token = compact({"alg": "ES256K", "kid": fund.kid}, valid_claims(settings, fund), b"sig")
    invalid_client(session, post_token(client, token_form(token)), "not accepted")


def test_an_assertion_signed_by_another_key_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    forged = assertion(settings, fund, key=new_key())
    event = invalid_client(
        session, post_token(client, token_form(forged)), "signature does not verify"
    )
    assert event.participant_id is None
    assert event.detail["claimed_client_id"] == fund.id


def test_a_tampered_assertion_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    header, _, signature = assertion(settings, fund).split(".")
    claims = {**valid_claims(settings, fund), "exp": int(time.time()) + 90}
    tampered = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    invalid_client(session, post_token(client, token_form(tampered)), "signature does not verify")


# -- required claims ------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["jti", "exp", "sub"])
def test_an_assertion_missing_a_required_claim_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session, claim: str
) -> None:
    fund = participant("fund")
    token = assertion(settings, fund, drop=(claim,))
    response = post_token(client, token_form(token))
    event = invalid_client(session, response, "client assertion refused")
    assert claim in response.json()["detail"]
    assert event.participant_id == fund.id


@pytest.mark.parametrize(
    ("claim", "value"),
    [("jti", 42), ("jti", ""), ("exp", "tomorrow"), ("iat", "now"), ("exp", True)],
)
def test_an_assertion_with_a_claim_of_the_wrong_type_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    claim: str,
    value: object,
) -> None:
    fund = participant("fund")
    claims: dict[str, Any] = {claim: value}
    token = assertion(settings, fund, **claims)
    invalid_client(session, post_token(client, token_form(token)), claim)


def test_an_overlong_jti_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    token = assertion(settings, fund, jti="j" * 257)
    invalid_client(session, post_token(client, token_form(token)), "longer than 256")
    assert (
        post_token(client, token_form(assertion(settings, fund, jti="j" * 256))).status_code == 200
    )
