"""``/openapi.json`` as a contract: every route described with its security, headers,
statuses (as problem documents), examples and links; and what it says holds against the
gateway itself."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import pytest

from audit.actions import AuditAction, AuditOutcome
from connectors import wire
from gateway.auth.dependencies import AGENT_ID, CASE_REFERENCE
from gateway.auth.scopes import SCOPES_BY_KIND, Scope
from gateway.contract import examples
from gateway.contract.openapi import OPERATIONS, api_routes, route_scopes
from gateway.contract.router import SchemaName
from tests.support.actors import POLICY, ask, make_fund
from tests.support.factories import identity

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from gateway.settings import Settings
    from tests.support.actors import Prefecture, Register

PUBLIC = {
    "/healthz", "/readyz", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json",
    "/oauth2/token", "/schemas/{name}", "/problems/{slug}",
}  # fmt: skip
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A validator of ``schema``, its ``#/components/...`` references resolved."""
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


def test_every_route_has_an_entry_in_the_table_and_no_entry_is_stale(client: TestClient) -> None:
    names = {route.name for route in api_routes(client.app)}  # type: ignore[arg-type]
    assert names - OPERATIONS.keys() == set()
    assert OPERATIONS.keys() - names == set()
    ids = [operation.operation_id for operation in OPERATIONS.values()]
    assert len(ids) == len(set(ids))


def test_operation_ids_are_the_tables(document: dict[str, Any]) -> None:
    ids = {operation["operationId"] for _, _, operation in operations(document)}
    assert ids == {operation.operation_id for operation in OPERATIONS.values()}


def test_security_follows_each_routes_scopes(client: TestClient, document: dict[str, Any]) -> None:
    routes = {(r.path, m.lower()): r for r in api_routes(client.app) for m in r.methods}  # type: ignore[arg-type]
    for path, method, operation in operations(document):
        scopes = route_scopes(routes[path, method])
        if path in PUBLIC:
            assert scopes is None, path
            assert operation["security"] == [], path
        else:
            assert scopes, path
            assert operation["security"] == [{"oauth2": scopes}, {"dpop": scopes}], path
    assert route_scopes(routes["/v1/batches", "get"]) == [Scope.BATCHES_READ]


def test_the_security_schemes_say_how_to_get_a_token(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    oauth = schemes["oauth2"]
    flow = oauth["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth2/token"
    assert set(flow["scopes"]) == {str(scope) for scope in Scope}
    assert all(flow["scopes"].values())
    for words in ("private_key_jwt", "RFC 7523", "DPoP", "RFC 9449", "EdDSA"):
        assert words in oauth["description"], words
    assert schemes["dpop"] == {**schemes["dpop"], "type": "http", "scheme": "DPoP"}


def _parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {parameter["name"]: parameter for parameter in operation.get("parameters", [])}


def test_authenticated_operations_declare_the_headers_authenticate_reads(
    document: dict[str, Any],
) -> None:
    for path, _, operation in operations(document):
        parameters = _parameters(operation)
        assert "X-Request-Id" in parameters, path
        if path in PUBLIC:
            assert "Purpose" not in parameters, path
            continue
        scopes = operation["security"][0]["oauth2"]
        kinds = [kind for kind, held in SCOPES_BY_KIND.items() if set(scopes) <= held]
        purpose = parameters["Purpose"]
        assert purpose["in"] == "header"
        assert purpose["required"] is True
        expected = sorted({p for kind in kinds for p in POLICY.policy.purposes_for(kind)})
        if path == "/v1/audit/subject-report":
            expected = ["data-subject-request"]
        assert purpose["schema"]["enum"] == expected, path
        agent = parameters["Agent-Id"]
        assert agent["required"] is (kinds == ["fund"]), path
        assert "Required for funds" in agent["description"]
        assert agent["schema"]["pattern"] == AGENT_ID.pattern
        assert parameters["Case-Reference"]["schema"]["pattern"] == CASE_REFERENCE.pattern
        assert parameters["On-Behalf-Of"]["required"] is False
        assert parameters["DPoP"]["required"] is False
    assert _parameters(document["paths"]["/v1/batches"]["get"])["Agent-Id"]["required"] is True
    assert _parameters(document["paths"]["/v1/decisions"]["get"])["Agent-Id"]["required"] is False


def test_errors_are_problem_documents_and_never_422_unless_the_route_says(
    document: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, operation in operations(document):
        responses = operation["responses"]
        declared = {int(code) for code in responses}
        assert 500 in declared, path
        if path not in PUBLIC:
            assert {400, 401, 403} <= declared, path
        if "{" in path:
            assert 404 in declared, path
        if "requestBody" in operation:
            assert 413 in declared, path
        particular = OPERATIONS[_name(document, path, method)].statuses
        assert (422 in declared) == (422 in particular), path
        for code, response in responses.items():
            if int(code) >= 400:
                (media,) = response["content"]
                assert media == PROBLEM_JSON, (path, code)
                schema = response["content"][media]["schema"]["$ref"]
                oauth = path == "/oauth2/token" and code in {"400", "401"}
                assert schema.endswith("/OAuthProblem" if oauth else "/Problem"), (path, code)
            assert "X-Request-Id" in response["headers"]


def _name(document: dict[str, Any], path: str, method: str) -> str:
    wanted = document["paths"][path][method]["operationId"]
    return next(name for name, spec in OPERATIONS.items() if spec.operation_id == wanted)


def test_the_particular_statuses_are_declared(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "409" in paths["/v1/decisions"]["post"]["responses"]
    assert "429" in paths["/v1/status-checks"]["post"]["responses"]
    assert "Retry-After" in paths["/v1/status-checks"]["post"]["responses"]["429"]["headers"]
    assert {"200", "201", "409", "422"} <= set(
        paths["/v1/batches/{batch_id}/receipt"]["post"]["responses"]
    )
    assert "410" in paths["/v1/batches/{batch_id}"]["get"]["responses"]
    assert "503" in paths["/readyz"]["get"]["responses"]
    token = paths["/oauth2/token"]["post"]["responses"]
    assert set(token) == {"200", "400", "401", "413", "500", "503"}
    assert "WWW-Authenticate" in token["401"]["headers"]
    # Every route that uses the database may answer 503 while it is unavailable.
    assert "Retry-After" in token["503"]["headers"]
    assert "Retry-After" in paths["/v1/decisions"]["post"]["responses"]["503"]["headers"]
    assert "503" not in paths["/healthz"]["get"]["responses"]


def test_the_problem_schema_is_rfc_9457_with_field_errors(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "instance", "errors"}
    assert set(schemas["ProblemFieldError"]["properties"]) == {"field", "rule", "line", "message"}
    oauth = schemas["OAuthProblem"]
    assert {"error", "error_description"} <= set(oauth["required"])


def test_the_vocabularies_are_enums(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["AuditAction"]["enum"] == [str(a) for a in AuditAction]
    assert schemas["AuditOutcome"]["enum"] == [str(o) for o in AuditOutcome]
    assert schemas["ReceiptOutcome"]["enum"] == [str(o) for o in wire.Outcome]
    event = schemas["EventOut"]["properties"]
    assert event["action"] == {"$ref": "#/components/schemas/AuditAction"}
    assert event["outcome"] == {"$ref": "#/components/schemas/AuditOutcome"}


def test_the_batch_and_receipt_operations_link_to_their_json_schemas(
    client: TestClient, document: dict[str, Any]
) -> None:
    download = document["paths"]["/v1/batches/{batch_id}"]["get"]["responses"]["200"]
    receipt = document["paths"]["/v1/batches/{batch_id}/receipt"]["post"]["responses"]["201"]
    linked = {
        link["parameters"]["name"]
        for response in (download, receipt)
        for link in response["links"].values()
    }
    assert linked == {str(name) for name in SchemaName}
    for response in (download, receipt):
        for link in response["links"].values():
            assert link["operationId"] == "getSchema"
            assert client.get(f"/schemas/{link['parameters']['name']}").status_code == 200
    assert set(download["headers"]) >= {wire.DIGEST_HEADER, wire.BATCH_SEQ_HEADER}


def _examples(document: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    found = []
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += list(operation["responses"].items())
        found += [
            (f"{where} {name}", media["example"], media["schema"])
            for name, body in bodies
            for media in body.get("content", {}).values()
            if "example" in media
        ]
    return found


def test_the_main_operations_have_examples_true_to_their_schemas(
    document: dict[str, Any],
) -> None:
    found = _examples(document)
    where = {name.rsplit(" ", 1)[0] for name, _, _ in found}
    for operation in (
        "POST /oauth2/token", "POST /v1/decisions", "GET /v1/batches",
        "GET /v1/batches/{batch_id}", "POST /v1/batches/{batch_id}/receipt",
        "POST /v1/status-checks", "GET /v1/audit/events",
    ):  # fmt: skip
        assert any(name.startswith(operation) for name in where), operation
    for name, example, schema in found:
        errors = [str(e) for e in resolve(document, schema).iter_errors(example)]
        assert not errors, (name, errors)


def test_the_request_examples_are_accepted_by_the_gateway(
    client: TestClient, settings: Settings, participant: Register, prefecture: Prefecture
) -> None:
    posted = prefecture.post(examples.DECISION)
    assert posted.status_code == 201, posted.text
    assert set(posted.json()) == set(examples.DECISION_CREATED)
    fund = make_fund(client, settings, participant, departements=["75"])
    answers = client.post("/v1/status-checks", json=examples.STATUS_CHECKS, headers=fund.headers())
    assert answers.status_code == 200, answers.text
    assert [a["result"] for a in answers.json()["answers"]] == ["adverse_decision", "none_known"], (
        answers.json()
    )
    assert ask(client, fund.headers(), examples.IDENTITY)[0]["match"] == "exact"
    # Another person under her AGDREF number: an identity conflict, not her.
    assert ask(client, fund.headers(), identity(agdref_number="7512345678"))[0]["match"] == (
        "conflict"
    )


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [("Purpose", None, 400), ("Purpose", "marketing", 403), ("Agent-Id", "no spaces", 400)],
)
def test_the_header_rules_the_document_states_are_the_gateways(
    client: TestClient,
    settings: Settings,
    participant: Register,
    document: dict[str, Any],
    header: str,
    value: str | None,
    status: int,
) -> None:
    fund = make_fund(client, settings, participant)
    headers = fund.headers()
    if value is None:
        headers.pop(header)
    else:
        headers[header] = value
    declared = _parameters(document["paths"]["/v1/batches"]["get"])[header]
    if value is not None and "pattern" in declared["schema"]:
        assert not re.fullmatch(declared["schema"]["pattern"], value)
    if value is not None and "enum" in declared["schema"]:
        assert value not in declared["schema"]["enum"]
    response = client.get("/v1/batches", headers=headers)
    assert response.status_code == status, response.text
    assert str(status) in document["paths"]["/v1/batches"]["get"]["responses"]


def test_every_operation_answers_a_declared_status_without_a_token(
    client: TestClient, document: dict[str, Any]
) -> None:
    filled = {"batch_id": examples.BATCH_ID, "decision_id": examples.DECISION_ID}
    for path, method, operation in operations(document):
        url = re.sub(r"\{(\w+)\}", lambda m: filled.get(m.group(1), "cpam-75"), path)
        if path == "/schemas/{name}":
            url = "/schemas/receipt.json"
        elif path == "/problems/{slug}":
            url = "/problems/not-found"
        response = client.request(method, url)
        assert str(response.status_code) in operation["responses"], (path, response.text)
        if path not in PUBLIC:
            assert response.status_code == 401


def test_the_document_follows_the_policy_in_force(client: TestClient) -> None:
    first = client.get("/openapi.json").json()
    again = client.get("/openapi.json").json()
    assert first == again
    purposes = _parameters(first["paths"]["/v1/audit/events"]["get"])["Purpose"]["schema"]
    assert purposes["enum"] == sorted(POLICY.policy.purposes_for("auditor"))
