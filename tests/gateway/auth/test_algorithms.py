"""The names other stacks give algorithms: an Ed25519 key signs ``EdDSA`` (RFC 8037, what
Java and .NET libraries write) or ``Ed25519`` (RFC 9864), and the gateway accepts both
wherever it verifies a participant's JWS: client assertions, DPoP proofs, receipts. The
``EdDSA`` objects here are signed with jwcrypto, not the gateway's JOSE library.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest
from joserfc.jwk import OctKey, OKPKey

from gateway.auth.jwks import SIGNING_ALGORITHMS
from tests.support.actors import (
    Fund,
    Prefecture,
    api_headers,
    make_prefecture,
    post_decision,
    seal,
    token_for,
)
from tests.support.jose import assertion, compact, dpop_proof, segments, token_form

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.keys import GatewayKeys
    from gateway.settings import Settings
    from tests.support.actors import Client, Register

TOKEN_PATH = "/oauth2/token"
ME = "/v1/participants/me"


def ed25519_participant(
    participant: Register, kind: str, alg: str, registered_alg: str | None = None, **options: Any
) -> Client:
    key = OKPKey.generate_key("Ed25519", private=True)
    return participant(kind, key=key, alg=alg, registered_alg=registered_alg, **options)


@pytest.mark.parametrize("registered_alg", [None, "Ed25519", "EdDSA"])
@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_an_ed25519_key_signs_its_assertion_under_either_name(
    *,
    client: TestClient,
    settings: Settings,
    participant: Register,
    alg: str,
    registered_alg: str | None,
) -> None:
    caller = ed25519_participant(participant, "prefecture", alg, registered_alg)
    signed = assertion(settings, caller)
    header, _, _ = segments(signed.encode())
    assert header["alg"] == alg

    response = client.post(TOKEN_PATH, data=token_form(signed))

    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = client.get(ME, headers=api_headers(token, caller))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == caller.id


def test_an_eddsa_assertion_signed_by_another_ed25519_key_is_refused(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    caller = ed25519_participant(participant, "fund", "EdDSA")
    stranger = OKPKey.generate_key("Ed25519", private=True)
    forged = assertion(settings, caller, key=stranger)

    response = client.post(TOKEN_PATH, data=token_form(forged))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "signature does not verify" in response.json()["detail"]


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_an_ed25519_participant_still_cannot_send_unsigned_or_symmetric_assertions(
    client: TestClient, settings: Settings, participant: Register, alg: str
) -> None:
    caller = ed25519_participant(participant, "fund", "EdDSA")
    if alg == "none":
        _, claims, _ = segments(assertion(settings, caller).encode())
        token = compact({"alg": "none", "kid": caller.kid}, claims)
    else:
        public = OctKey.import_key(str(caller.key.as_dict(private=False)["x"]).encode())
        token = assertion(settings, caller, key=public, header={"alg": alg})

    response = client.post(TOKEN_PATH, data=token_form(token))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def test_a_dpop_proof_signed_eddsa_binds_the_token_and_proves_each_request(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    caller = participant("auditor")
    key = OKPKey.generate_key("Ed25519", private=True)
    proof = dpop_proof(key, "POST", settings.token_endpoint, header={"alg": "EdDSA"})
    assert segments(proof.encode())[0]["alg"] == "EdDSA"

    issued = client.post(
        TOKEN_PATH, data=token_form(assertion(settings, caller)), headers={"DPoP": proof}
    )

    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "DPoP"
    token = issued.json()["access_token"]
    url = settings.public_base_url + ME
    for alg in ("EdDSA", "Ed25519"):
        fresh = dpop_proof(key, "GET", url, access_token=token, header={"alg": alg})
        headers = api_headers(token, caller, scheme="DPoP", DPoP=fresh)
        response = client.get(ME, headers=headers)
        assert response.status_code == 200, response.text
    stranger = OKPKey.generate_key("Ed25519", private=True)
    other = dpop_proof(stranger, "GET", url, access_token=token, header={"alg": "EdDSA"})
    refused = client.get(ME, headers=api_headers(token, caller, scheme="DPoP", DPoP=other))
    assert refused.status_code == 401, refused.text


def test_the_discovery_metadata_and_the_challenge_name_both(client: TestClient) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    for member in (
        "token_endpoint_auth_signing_alg_values_supported",
        "dpop_signing_alg_values_supported",
    ):
        assert {"EdDSA", "Ed25519"} <= set(metadata[member])
        assert not {"none", "HS256"} & set(metadata[member])
    challenge = client.get(ME).headers["www-authenticate"]
    assert challenge == f'Bearer, DPoP algs="{" ".join(SIGNING_ALGORITHMS)}"'
    assert "EdDSA" in challenge.split('"')[1].split()


@pytest.fixture
def prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """A prefecture in 93, where ``ed25519_fund`` is."""
    return make_prefecture(client, settings, participant, departements=["93"])


@pytest.fixture
def ed25519_fund(client: TestClient, settings: Settings, participant: Register) -> Fund:
    """A CAF in 93 whose key is Ed25519 and whose stack signs ``EdDSA``."""
    caller = ed25519_participant(participant, "fund", "EdDSA", departements=["93"])
    return Fund(client, caller, token_for(client, settings, caller))


def test_a_receipt_signed_eddsa_with_an_upper_case_digest_is_accepted(
    prefecture: Prefecture,
    ed25519_fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "ALG-1")
    seal(sessions, gateway_keys)
    batch_id = ed25519_fund.batches()[0]["id"]
    content = ed25519_fund.download(batch_id)
    upper = "sha256:" + hashlib.sha256(content).hexdigest().upper()
    receipt = ed25519_fund.receipt_for(gateway_keys, content, batch_digest=upper)
    assert segments(receipt)[0]["alg"] == "EdDSA"

    response = ed25519_fund.receipt(batch_id, receipt)

    assert response.status_code == 201, response.text
    assert response.json()["outcomes"] == {"rights-ended": 1}


def test_a_receipt_naming_another_digest_in_upper_case_is_still_refused(
    prefecture: Prefecture,
    ed25519_fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "ALG-2")
    seal(sessions, gateway_keys)
    batch_id = ed25519_fund.batches()[0]["id"]
    content = ed25519_fund.download(batch_id)
    wrong = "sha256:" + hashlib.sha256(content + b" ").hexdigest().upper()
    receipt = ed25519_fund.receipt_for(gateway_keys, content, batch_digest=wrong)

    response = ed25519_fund.receipt(batch_id, receipt)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "batch-digest-mismatch"
