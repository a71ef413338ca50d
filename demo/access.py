"""Demo scene of access: every participant gets a token and calls the API; what is refused."""

from __future__ import annotations

import httpx
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from rich.table import Table

from connectors.client import GatewayClient, TokenRequestFailed
from demo.stage import DemoParticipant, Outcome, client, console
from gateway.auth.assertions import ASSERTION_TYPE
from gateway.participants.models import ParticipantKind


def authenticated_calls(
    base_url: str, participants: list[DemoParticipant], outcome: Outcome
) -> Table:
    console.rule("[bold]Each participant gets a token over HTTP and calls the API")
    table = Table("participant", "kind", "key", "token", "GET /me", "territory")
    for participant in participants:
        with client(base_url, participant) as caller:
            token = caller.fetch_token()
            response = caller.request(
                "GET",
                "/v1/participants/me",
                purpose=participant.purpose,
                agent_id="agent-0042" if participant.spec.kind == ParticipantKind.FUND else None,
            )
        body = response.json()
        territory = " ".join(body.get("departements", [])) or (
            "acts for " + ", ".join(body.get("acts_for", [])) if body.get("acts_for") else "-"
        )
        table.add_row(
            participant.id,
            participant.spec.kind,
            participant.alg,
            str(token["token_type"]),
            str(response.status_code),
            territory,
        )
        outcome.expect(
            f"{participant.id} authenticated ({token['token_type']})",
            response.status_code == httpx.codes.OK and body.get("id") == participant.id,
        )
    console.print(table)
    return table


def refusals(base_url: str, by_id: dict[str, DemoParticipant], outcome: Outcome) -> None:
    console.rule("[bold]What the gateway refuses")
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.get("/v1/participants/me")
        outcome.expect(
            f"no token: {response.status_code} {response.json()['title']}",
            response.status_code == httpx.codes.UNAUTHORIZED,
        )

        fund = by_id["caf-13"]
        signed = private_key_jwt_sign(
            fund.key,
            client_id=fund.id,
            token_endpoint=f"{base_url}/oauth2/token",
            alg=fund.alg,
            expires_in=60,
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        }
        first = http.post("/oauth2/token", data=form)
        replay = http.post("/oauth2/token", data=form)
        outcome.expect(
            f"replayed client assertion: {replay.status_code} {replay.json()['detail']}",
            first.status_code == httpx.codes.OK and replay.status_code == httpx.codes.UNAUTHORIZED,
        )

    with client(base_url, by_id["caf-13"]) as caf:
        wrong = caf.request("GET", "/v1/participants/me", purpose="marketing", agent_id="a-1")
        outcome.expect(
            f"caf-13 states purpose 'marketing': {wrong.status_code} {wrong.json()['detail']}",
            wrong.status_code == httpx.codes.FORBIDDEN,
        )
        no_agent = caf.request("GET", "/v1/participants/me", purpose=by_id["caf-13"].purpose)
        outcome.expect(
            f"caf-13 names no agent: {no_agent.status_code} {no_agent.json()['detail']}",
            no_agent.status_code == httpx.codes.BAD_REQUEST,
        )
        other = caf.request(
            "GET", "/v1/participants/cpam-75", purpose=by_id["caf-13"].purpose, agent_id="a-1"
        )
        outcome.expect(
            f"caf-13 reads cpam-75: {other.status_code} (as if it did not exist)",
            other.status_code == httpx.codes.NOT_FOUND,
        )

    with client(base_url, by_id["cnam-it-centre"]) as centre:
        purpose = by_id["cnam-it-centre"].purpose
        allowed = centre.request(
            "GET", "/v1/participants/me", purpose=purpose, agent_id="batch", on_behalf_of="cpam-75"
        )
        outcome.expect(
            f"cnam-it-centre acts for cpam-75: {allowed.status_code} "
            f"(sees {allowed.json().get('id')})",
            allowed.status_code == httpx.codes.OK and allowed.json()["id"] == "cpam-75",
        )
        refused = centre.request(
            "GET", "/v1/participants/me", purpose=purpose, agent_id="batch", on_behalf_of="caf-13"
        )
        outcome.expect(
            f"cnam-it-centre acts for caf-13: {refused.status_code} {refused.json()['detail']}",
            refused.status_code == httpx.codes.FORBIDDEN,
        )

    cpam = by_id["cpam-75"]
    plain = GatewayClient(base_url, cpam.id, cpam.key, alg=cpam.alg)
    try:
        plain.fetch_token()
        outcome.expect("cpam-75 without DPoP is refused", condition=False)
    except TokenRequestFailed as error:
        outcome.expect(
            f"cpam-75 asks for a token without DPoP: {error.error}",
            error.error == "invalid_dpop_proof",
        )
    finally:
        plain.close()

    with client(base_url, by_id["operator"]) as ops, client(base_url, by_id["pref-13"]) as pref:
        purpose = by_id["pref-13"].purpose
        before = pref.request("GET", "/v1/participants/me", purpose=purpose)
        ops.request("POST", "/v1/participants/pref-13/suspend", purpose="administration")
        after = pref.request("GET", "/v1/participants/me", purpose=purpose)
        ops.request("POST", "/v1/participants/pref-13/reactivate", purpose="administration")
        outcome.expect(
            f"operator suspends pref-13: its valid token now gets {after.status_code}",
            before.status_code == httpx.codes.OK and after.status_code == httpx.codes.UNAUTHORIZED,
        )
