"""DPoP (RFC 9449): binding a token to a key at the token endpoint, proving it on use.

A bad proof is refused with 400 ``invalid_dpop_proof`` at the token endpoint and with
401 and a ``DPoP`` challenge on a resource; every refusal is audited.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from joserfc import jwt

from gateway.keys import GatewayKeys
from tests.support.actors import Client, Register, api_headers, new_key
from tests.support.audit import events_of
from tests.support.jose import access_token_claims, assertion, dpop_proof, token_form
from tests.support.problems import PROBLEM_JSON

if TYPE_CHECKING:
    import httpx2
    from fastapi.testclient import TestClient
    from joserfc.jwk import ECKey
    from sqlalchemy.orm import Session

    from gateway.auditlog.models import AuditEvent
    from gateway.settings import Settings

TOKEN_PATH = "/oauth2/token"
ME_PATH = "/v1/participants/me"


@dataclass
class Bound:
    """A fund holding a DPoP-bound access token and the key it is bound to."""

    fund: Client
    key: ECKey
    token: str
    me_url: str


# -- helpers --------------------------------------------------------------------------


def one_event(session: Session, response: httpx2.Response, outcome: str) -> AuditEvent:
    events = events_of(session, response)
    assert len(events) == 1
    assert events[0].outcome == outcome
    return events[0]


def refused_at_token_endpoint(
    session: Session, response: httpx2.Response, detail: str
) -> AuditEvent:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == "/problems/invalid-dpop-proof"
    assert body["status"] == 400
    assert body["error"] == "invalid_dpop_proof"
    assert detail in body["detail"], body["detail"]
    event = one_event(session, response, "refused")
    assert event.action == "token:issued"
    assert event.detail["status"] == 400
    assert event.detail["problem"] == "invalid-dpop-proof"
    return event


def refused_on_resource(
    session: Session, response: httpx2.Response, detail: str, *, challenge: str = "DPoP"
) -> AuditEvent:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"].startswith(challenge)
    body = response.json()
    assert body["type"] == "/problems/invalid-token"
    assert body["status"] == 401
    assert detail in body["detail"], body["detail"]
    event = one_event(session, response, "refused")
    assert event.action == "participant:read"
    assert event.detail["status"] == 401
    assert event.detail["problem"] == "invalid-token"
    return event


def token_request(
    client: TestClient, settings: Settings, caller: Client, proof: str | None
) -> httpx2.Response:
    headers = {"DPoP": proof} if proof is not None else {}
    return client.post(TOKEN_PATH, data=token_form(assertion(settings, caller)), headers=headers)


def token_proof(settings: Settings, key: ECKey, **options: Any) -> str:
    return dpop_proof(key, "POST", settings.token_endpoint, **options)


def read_me(
    client: TestClient, bound: Bound, proof: str | None, scheme: str = "DPoP"
) -> httpx2.Response:
    headers = api_headers(bound.token, bound.fund, scheme=scheme)
    if proof is not None:
        headers["DPoP"] = proof
    return client.get(ME_PATH, headers=headers)


def me_proof(bound: Bound, **options: Any) -> str:
    options.setdefault("access_token", bound.token)
    return dpop_proof(bound.key, "GET", bound.me_url, **options)


@pytest.fixture
def bound(
    client: TestClient, settings: Settings, participant: Register, gateway_keys: GatewayKeys
) -> Bound:
    fund = participant("fund")
    key = new_key()
    response = token_request(client, settings, fund, token_proof(settings, key))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert access_token_claims(gateway_keys, token).claims["cnf"] == {"jkt": key.thumbprint()}
    return Bound(fund, key, token, f"{settings.public_base_url}{ME_PATH}")


# -- the token endpoint ---------------------------------------------------------------


def test_a_proof_at_the_token_endpoint_binds_the_token_to_its_key(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    gateway_keys: GatewayKeys,
    session: Session,
) -> None:
    fund = participant("fund")
    key = new_key()
    response = token_request(client, settings, fund, token_proof(settings, key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert body["expires_in"] <= 300
    claims = access_token_claims(gateway_keys, body["access_token"]).claims
    assert claims["cnf"] == {"jkt": key.thumbprint()}
    assert claims["sub"] == fund.id
    event = one_event(session, response, "success")
    assert event.action == "token:issued"
    assert event.participant_id == fund.id
    assert event.detail["dpop"] is True

    proof = dpop_proof(
        key, "GET", settings.public_base_url + ME_PATH, access_token=body["access_token"]
    )
    headers = api_headers(body["access_token"], fund, scheme="DPoP", DPoP=proof)
    me = client.get(ME_PATH, headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == fund.id
    assert one_event(session, me, "success").participant_id == fund.id


def test_the_proofs_url_is_compared_without_case_in_scheme_and_host(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    key = new_key()
    proof = dpop_proof(key, "POST", "HTTP://TestServer/oauth2/token")
    assert token_request(client, settings, fund, proof).status_code == 200


def test_the_proofs_url_ignores_query_and_fragment(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    proof = dpop_proof(new_key(), "POST", settings.token_endpoint + "?x=1#frag")
    assert token_request(client, settings, fund, proof).status_code == 200


def _private_jwk(key: ECKey) -> dict[str, Any]:
    return dict(key.as_dict(private=True))


def _key_set(key: ECKey) -> dict[str, Any]:
    other = new_key().as_dict(private=False)
    return {"keys": [other, key.as_dict(private=False)]}


BAD_TOKEN_PROOFS: dict[str, tuple[dict[str, Any], str]] = {
    "another method": ({"method": "GET"}, "Invalid claim: 'htm'"),
    "another URL": ({"url": "http://testserver/oauth2/other"}, "for another URL"),
    "another host": ({"url": "https://gateway.example/oauth2/token"}, "for another URL"),
    "stale iat": ({"age": 600}, "too old"),
    "iat in the future": ({"age": -600}, "issued in the future"),
    "wrong typ": ({"header": {"typ": "JWT"}}, "typ 'dpop+jwt'"),
    "no typ": ({"header": {"typ": None}}, "typ 'dpop+jwt'"),
    "private key in jwk": ({"jwk": _private_jwk}, "not a public key"),
    "key set in jwk": ({"jwk": _key_set}, "must be one public JWK"),
    "no jwk": ({"header": {"jwk": None}}, "must be one public JWK"),
    "no jti": ({"claims": {"jti": None}}, "jti"),
    "no htu": ({"claims": {"htu": None}}, "htu"),
    "overlong jti": ({"claims": {"jti": "j" * 257}}, "longer than 256"),
}


def make_proof(settings: Settings, key: ECKey, options: dict[str, Any]) -> str:
    """A proof for the token endpoint with one thing wrong, as ``options`` says."""
    header: dict[str, Any] = dict(options.get("header", {}))
    if "jwk" in options:
        header["jwk"] = options["jwk"](key)
    claims: dict[str, Any] = dict(options.get("claims", {}))
    body: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "htm": options.get("method", "POST"),
        "htu": options.get("url", settings.token_endpoint),
        "iat": int(time.time()) - options.get("age", 0),
    }
    head: dict[str, Any] = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    head.update(header)
    body.update(claims)
    return jwt.encode(
        {k: v for k, v in head.items() if v is not None},
        {k: v for k, v in body.items() if v is not None},
        key,
        algorithms=["ES256"],
    )


@pytest.mark.parametrize(("options", "detail"), BAD_TOKEN_PROOFS.values(), ids=BAD_TOKEN_PROOFS)
def test_a_bad_proof_at_the_token_endpoint_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    options: dict[str, Any],
    detail: str,
) -> None:
    fund = participant("fund")
    proof = make_proof(settings, new_key(), options)
    response = token_request(client, settings, fund, proof)
    event = refused_at_token_endpoint(session, response, detail)
    assert event.participant_id == fund.id


@pytest.mark.parametrize("proof", ["garbage", "a.b.c", "é.é.é"], ids=["garbage", "dots", "latin"])
def test_an_unreadable_proof_is_refused(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    session: Session,
    proof: str,
) -> None:
    fund = participant("fund")
    response = client.post(
        TOKEN_PATH,
        data=token_form(assertion(settings, fund)),
        headers={b"DPoP": proof.encode()},
    )
    refused_at_token_endpoint(session, response, "malformed DPoP proof")


def test_an_empty_dpop_header_is_no_proof(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    response = token_request(client, settings, fund, "")
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    key, other = new_key(), new_key()
    proof = dpop_proof(key, "POST", settings.token_endpoint, header={"jwk": other.as_dict()})
    response = token_request(client, settings, fund, proof)
    refused_at_token_endpoint(session, response, "signature does not verify")


def test_an_unsigned_proof_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    proof = dpop_proof(new_key(), "POST", settings.token_endpoint)
    header, payload, _ = proof.split(".")
    # Same payload, but alg "none" and no signature.
    head = json.loads(base64.urlsafe_b64decode(header + "=="))
    head["alg"] = "none"
    unsigned = base64.urlsafe_b64encode(json.dumps(head).encode()).rstrip(b"=").decode()
    response = token_request(client, settings, fund, f"{unsigned}.{payload}.")
    refused_at_token_endpoint(session, response, "alg 'none'")


def test_a_proof_works_once_at_the_token_endpoint(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    proof = token_proof(settings, new_key())
    assert token_request(client, settings, fund, proof).status_code == 200
    again = token_request(client, settings, fund, proof)
    refused_at_token_endpoint(session, again, "already used (replay)")


def test_a_refused_proof_does_not_use_up_the_assertion(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    once = assertion(settings, fund)
    bad = dpop_proof(new_key(), "GET", settings.token_endpoint)
    response = client.post(TOKEN_PATH, data=token_form(once), headers={"DPoP": bad})
    refused_at_token_endpoint(session, response, "htm")
    good = token_proof(settings, new_key())
    retry = client.post(TOKEN_PATH, data=token_form(once), headers={"DPoP": good})
    assert retry.status_code == 200, retry.text


# -- require_dpop ---------------------------------------------------------------------


def test_a_participant_that_requires_dpop_is_refused_a_token_without_a_proof(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund", require_dpop=True)
    response = token_request(client, settings, fund, None)
    event = refused_at_token_endpoint(session, response, f"{fund.id} must send a DPoP proof")
    assert event.participant_id == fund.id


def test_a_participant_that_requires_dpop_gets_a_bound_token_with_a_proof(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    gateway_keys: GatewayKeys,
) -> None:
    fund = participant("fund", require_dpop=True)
    key = new_key()
    response = token_request(client, settings, fund, token_proof(settings, key))
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    token = response.json()["access_token"]
    assert access_token_claims(gateway_keys, token).claims["cnf"]["jkt"] == key.thumbprint()
    proof = dpop_proof(key, "GET", settings.public_base_url + ME_PATH, access_token=token)
    me = client.get(ME_PATH, headers=api_headers(token, fund, scheme="DPoP", DPoP=proof))
    assert me.status_code == 200, me.text


# -- resource requests ----------------------------------------------------------------


def test_a_bound_token_with_a_fresh_proof_each_time_is_accepted(
    client: TestClient, bound: Bound, session: Session
) -> None:
    for _ in range(2):
        response = read_me(client, bound, me_proof(bound))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == bound.fund.id
        event = one_event(session, response, "success")
        assert event.action == "participant:read"
        assert event.participant_id == bound.fund.id


def test_the_scheme_name_is_case_insensitive(client: TestClient, bound: Bound) -> None:
    response = read_me(client, bound, me_proof(bound), scheme="dpop")
    assert response.status_code == 200, response.text


def test_a_proof_for_another_method_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    proof = dpop_proof(bound.key, "POST", bound.me_url, access_token=bound.token)
    refused_on_resource(session, read_me(client, bound, proof), "Invalid claim: 'htm'")


def test_a_proof_for_another_url_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    proof = dpop_proof(
        bound.key, "GET", "http://testserver/v1/participants", access_token=bound.token
    )
    refused_on_resource(session, read_me(client, bound, proof), "for another URL")


def test_a_proof_for_the_token_endpoint_is_refused_on_a_resource(
    client: TestClient, settings: Settings, bound: Bound, session: Session
) -> None:
    proof = dpop_proof(bound.key, "GET", settings.token_endpoint, access_token=bound.token)
    refused_on_resource(session, read_me(client, bound, proof), "for another URL")


def test_a_proof_for_another_access_token_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    refused_on_resource(
        session,
        read_me(client, bound, me_proof(bound, access_token="another-token")),
        "another access token (ath)",
    )


def test_a_proof_without_ath_is_refused(client: TestClient, bound: Bound, session: Session) -> None:
    proof = dpop_proof(bound.key, "GET", bound.me_url)
    refused_on_resource(session, read_me(client, bound, proof), "(ath)")


def test_a_proof_signed_by_another_key_than_the_token_is_bound_to_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    thief = new_key()
    proof = dpop_proof(thief, "GET", bound.me_url, access_token=bound.token)
    event = refused_on_resource(
        session, read_me(client, bound, proof), "signed by another key than the token's"
    )
    assert event.participant_id == bound.fund.id


def test_a_key_set_naming_the_bound_key_first_does_not_stand_for_it(
    client: TestClient, bound: Bound, session: Session
) -> None:
    """A thief's proof listing the victim's public key first, signed by its own key."""
    thief = new_key()
    victim = bound.key.as_dict(private=False)
    victim["kid"] = "victim"
    own = thief.as_dict(private=False)
    own["kid"] = "thief"
    proof = dpop_proof(
        thief,
        "GET",
        bound.me_url,
        access_token=bound.token,
        header={"kid": "thief", "jwk": {"keys": [victim, own]}},
    )
    refused_on_resource(session, read_me(client, bound, proof), "must be one public JWK")


def test_a_replayed_proof_is_refused(client: TestClient, bound: Bound, session: Session) -> None:
    proof = me_proof(bound)
    assert read_me(client, bound, proof).status_code == 200
    refused_on_resource(session, read_me(client, bound, proof), "already used (replay)")


def test_a_stale_proof_is_refused(
    client: TestClient, settings: Settings, bound: Bound, session: Session
) -> None:
    old = int(time.time()) - settings.dpop_proof_max_age_s - 5
    refused_on_resource(session, read_me(client, bound, me_proof(bound, now=old)), "too old")


def test_a_proof_from_the_future_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    later = int(time.time()) + 600
    response = read_me(client, bound, me_proof(bound, now=later))
    refused_on_resource(session, response, "issued in the future")


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", "DPOP+JWT"])
def test_a_proof_of_another_type_is_refused(
    client: TestClient, bound: Bound, session: Session, typ: str
) -> None:
    proof = me_proof(bound, header={"typ": typ})
    refused_on_resource(session, read_me(client, bound, proof), "typ 'dpop+jwt'")


def test_a_proof_carrying_a_private_key_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    proof = me_proof(bound, header={"jwk": bound.key.as_dict(private=True)})
    refused_on_resource(session, read_me(client, bound, proof), "not a public key")


def test_a_bound_token_sent_as_bearer_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    response = read_me(client, bound, me_proof(bound), scheme="Bearer")
    event = refused_on_resource(session, response, "this token is DPoP-bound")
    assert 'error="invalid_dpop_proof"' in response.headers["www-authenticate"]
    assert event.participant_id == bound.fund.id


def test_a_bound_token_sent_as_bearer_without_proof_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    response = read_me(client, bound, None, scheme="Bearer")
    refused_on_resource(session, response, "this token is DPoP-bound")


def test_a_bound_token_without_proof_is_refused(
    client: TestClient, bound: Bound, session: Session
) -> None:
    response = read_me(client, bound, None)
    refused_on_resource(session, response, "this token is DPoP-bound")


def test_a_garbage_proof_is_refused(client: TestClient, bound: Bound, session: Session) -> None:
    refused_on_resource(session, read_me(client, bound, "not-a-proof"), "malformed DPoP proof")


def test_an_unbound_token_sent_with_the_dpop_scheme_is_refused(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund")
    response = token_request(client, settings, fund, None)
    assert response.json()["token_type"] == "Bearer"
    token = response.json()["access_token"]
    proof = dpop_proof(new_key(), "GET", settings.public_base_url + ME_PATH, access_token=token)
    me = client.get(ME_PATH, headers=api_headers(token, fund, scheme="DPoP", DPoP=proof))
    refused_on_resource(session, me, "not DPoP-bound", challenge="Bearer")


def test_a_request_refused_after_the_proof_does_not_use_it_up(
    client: TestClient, bound: Bound, session: Session
) -> None:
    """The proof's jti is recorded in the request's transaction, rolled back on refusal."""
    proof = me_proof(bound)
    headers = api_headers(bound.token, bound.fund, scheme="DPoP", DPoP=proof)
    del headers["Purpose"]
    response = client.get(ME_PATH, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "Purpose"
    assert one_event(session, response, "refused").participant_id == bound.fund.id
    assert read_me(client, bound, proof).status_code == 200
