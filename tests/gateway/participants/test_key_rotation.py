"""A participant rotates its own key: the next key registered, both valid during the
overlap, the old one retired and refused from then on; each step audited."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tests.support.actors import api_headers, new_key, token_for
from tests.support.audit import event_of
from tests.support.jose import assertion, possession_proof, token_form

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from gateway.settings import Settings
    from tests.support.actors import Register


def test_a_participant_adds_its_next_key_and_retires_the_old_one(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    old = participant("prefecture", departements=["75"])
    headers = api_headers(token_for(client, settings, old), old)
    key = new_key()
    jwk = {**key.as_dict(private=False), "kid": "next-2025"}
    proof = possession_proof(settings.issuer, old.id, key)
    body = {"jwk": jwk, "proof": proof}
    added = client.post(f"/v1/participants/{old.id}/keys", json=body, headers=headers)
    assert added.status_code == 201, added.text
    assert added.json()["key_ids"] == [old.kid, "next-2025"]
    event = event_of(session, added)
    assert (event.action, event.outcome, event.object_ids) == (
        "credential:added",
        "success",
        [old.id],
    )
    assert event.detail["kid"] == "next-2025"

    # The overlap: either key gets a token.
    new = replace(old, key=key, kid="next-2025")
    new_headers = api_headers(token_for(client, settings, new), new)
    assert client.get("/v1/participants/me", headers=headers).status_code == 200
    assert client.get("/v1/participants/me", headers=new_headers).status_code == 200
    again = {"jwk": jwk, "proof": possession_proof(settings.issuer, old.id, key)}
    twice = client.post(f"/v1/participants/{old.id}/keys", json=again, headers=headers)
    assert twice.status_code == 409
    assert twice.json()["type"].endswith("/key-exists")

    retired = client.delete(f"/v1/participants/{old.id}/keys/{old.kid}", headers=new_headers)
    assert retired.status_code == 200, retired.text
    assert retired.json()["key_ids"] == ["next-2025"]
    event = event_of(session, retired)
    assert (event.action, event.outcome, event.detail["kid"]) == (
        "credential:retired",
        "success",
        old.kid,
    )
    refused = client.post("/oauth2/token", data=token_form(assertion(settings, old)))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert token_for(client, settings, new)

    last = client.delete(f"/v1/participants/{old.id}/keys/next-2025", headers=new_headers)
    assert last.status_code == 409
    assert last.json()["type"].endswith("/last-key")
    assert event_of(session, last).outcome == "refused"
    unknown = client.delete(f"/v1/participants/{old.id}/keys/{old.kid}", headers=new_headers)
    assert unknown.status_code == 404


def test_an_operator_manages_anyones_keys_and_no_one_else_does(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    fund = participant("fund", departements=["75"])
    other = participant("fund", departements=["75"])
    operator = participant("operator", departements=[])
    jwk = new_key().as_dict(private=False)
    outsider = api_headers(token_for(client, settings, other), other)
    refused = client.post(f"/v1/participants/{fund.id}/keys", json={"jwk": jwk}, headers=outsider)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/not-key-holder")
    assert event_of(session, refused).outcome == "refused"
    by_operator = api_headers(token_for(client, settings, operator), operator)
    added = client.post(f"/v1/participants/{fund.id}/keys", json={"jwk": jwk}, headers=by_operator)
    assert added.status_code == 201, added.text
    private = {**jwk, "d": "AAAA"}
    bad = client.post(
        f"/v1/participants/{fund.id}/keys", json={"jwk": private}, headers=by_operator
    )
    assert bad.status_code == 400
    retired = client.delete(f"/v1/participants/{fund.id}/keys/{fund.kid}", headers=by_operator)
    assert retired.status_code == 200
    assert fund.kid not in retired.json()["key_ids"]


def test_a_participant_adding_its_own_key_proves_it_holds_it(
    client: TestClient, settings: Settings, participant: Register, session: Session
) -> None:
    holder = participant("fund", departements=["75"])
    headers = api_headers(token_for(client, settings, holder), holder)
    key, stranger = new_key(), new_key()
    jwk = {**key.as_dict(private=False), "kid": "next"}
    path = f"/v1/participants/{holder.id}/keys"
    cases = [
        (None, "required"),
        (possession_proof(settings.issuer, holder.id, stranger), "signature"),  # not the new key
        (possession_proof(settings.issuer, "someone-else", key), "claims"),
        (possession_proof(settings.issuer, holder.id, key, aud="https://elsewhere"), "claims"),
        (possession_proof(settings.issuer, holder.id, key, typ="JWT"), "typ"),
        (possession_proof(settings.issuer, holder.id, key, lifetime=3600), "lifetime"),
    ]
    for proof, rule in cases:
        body = {"jwk": jwk} | ({"proof": proof} if proof else {})
        refused = client.post(path, json=body, headers=headers)
        assert refused.status_code == 400, (rule, refused.text)
        assert refused.json()["errors"][0]["field"] == "proof"
        assert refused.json()["errors"][0]["rule"] == rule, refused.text
        assert event_of(session, refused).outcome == "refused"
    body = {"jwk": jwk, "proof": possession_proof(settings.issuer, holder.id, key)}
    assert client.post(path, json=body, headers=headers).status_code == 201
    # A proof is used once: sent again, it is refused before anything else is looked at.
    replayed = client.post(path, json=body, headers=headers)
    assert replayed.status_code == 400
    assert replayed.json()["errors"][0]["rule"] == "replayed"
    assert client.get(f"/v1/participants/{holder.id}", headers=headers).json()["key_ids"] == [
        holder.kid,
        "next",
    ]
