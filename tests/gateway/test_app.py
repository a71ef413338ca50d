"""The app end to end, at its smallest: a fund gets a token and reads itself."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.settings import Settings
from tests.support.actors import Register, api_headers
from tests.support.jose import assertion, token_form


def test_a_fund_gets_a_token_and_reads_itself(
    client: TestClient, settings: Settings, participant: Register
) -> None:
    fund = participant("fund")
    response = client.post("/oauth2/token", data=token_form(assertion(settings, fund)))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = client.get("/v1/participants/me", headers=api_headers(token, fund))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == fund.id
