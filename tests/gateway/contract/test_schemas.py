"""The JSON Schemas of what is signed: served without a token, shipped in the package, and
true to what the gateway seals and what the fund's connector signs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import pytest

from connectors import wire
from connectors.fund import sign_receipt
from gateway.contract.router import SchemaName, json_schema
from gateway.decisions.models import CorrectionKind, DecisionStatus
from policies.model import DISCLOSABLE_FIELDS
from tests.support.factories import days_ago
from tests.support.jose import batch_payload, segments

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.support.actors import World

SCHEMA_JSON = "application/schema+json"


def validator(name: SchemaName) -> Any:
    return jsonschema_rs.validator_for(json_schema(name))


def test_each_schema_is_served_without_a_token(client: TestClient) -> None:
    for name in SchemaName:
        response = client.get(f"/schemas/{name}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == SCHEMA_JSON
        served = response.json()
        assert served["$id"] == f"http://testserver/schemas/{name}"
        assert served["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema_rs.Draft202012Validator(served)  # a valid schema


def test_an_unknown_schema_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/schemas/nothing.json")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/not-found"


def test_the_schemas_name_the_members_and_vocabularies_of_the_code() -> None:
    batch = json_schema(SchemaName.BATCH_PAYLOAD)
    assert tuple(batch["required"]) == wire.BATCH_MEMBERS
    assert set(batch["properties"]) == set(wire.BATCH_MEMBERS)
    record = batch["$defs"]["record"]
    assert set(record["properties"]) == set(wire.RECORD_MEMBERS)
    assert record["properties"]["type"]["enum"] == [wire.DECISION_RECORD, wire.RECTIFICATION_RECORD]
    assert record["properties"]["status"]["enum"] == [str(s) for s in DecisionStatus]
    correction = record["properties"]["correction"]["properties"]["kind"]["enum"]
    assert correction == [str(k) for k in CorrectionKind]
    assert tuple(batch["$defs"]["data"]["properties"]) == DISCLOSABLE_FIELDS
    receipt = json_schema(SchemaName.RECEIPT)
    assert tuple(receipt["required"]) == wire.RECEIPT_MEMBERS
    assert receipt["$defs"]["outcome"]["enum"] == [str(o) for o in wire.Outcome]


def test_sealed_batches_and_rectifications_validate(world: World) -> None:
    check = validator(SchemaName.BATCH_PAYLOAD)
    created = world.post(3)
    (batch,) = world.seal()
    content = world.download(batch.id)
    payload = batch_payload(content, world.keys)
    check.validate(payload)
    assert {r["type"] for r in payload["records"]} == {"decision"}

    annulled = world.prefecture.correct(
        created[0]["id"],
        {"kind": "annulment", "reference": "TA-1", "correction_date": days_ago(2)},
    )
    assert annulled.status_code == 201, annulled.text
    (second,) = world.seal()
    rectified = batch_payload(world.download(second.id), world.keys)
    check.validate(rectified)
    (record,) = rectified["records"]
    assert record["type"] == "rectification"
    assert record["correction"]["kind"] == "annulment"
    assert rectified["previous_digest"] == wire.digest_of(content)


def test_a_receipt_the_fund_connector_signs_validates_and_is_accepted(world: World) -> None:
    world.post(1)
    (batch,) = world.seal()
    content = world.download(batch.id)
    verified = world.verify(content, expected_seq=1)
    receipt = sign_receipt(verified, key=world.fund.key, kid=world.fund.kid)
    _, claims, _ = segments(receipt)

    validator(SchemaName.RECEIPT).validate(json.loads(claims))
    assert world.post_receipt(batch.id, receipt).status_code == 201


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda p: p.pop("merkle_root"), "merkle_root"),
        (lambda p: p.update(seq=0), "seq"),
        (lambda p: p.update(previous_digest="sha256:XYZ"), "previous_digest"),
        (lambda p: p["records"][0].update(status="cancelled"), "status"),
        (lambda p: p["records"][0]["data"].update(public_order=True), "public_order"),
        (lambda p: p["records"][0].update(correction={"kind": "annulment", "date": None}), ""),
        (lambda p: p.update(extra=1), "extra"),
    ],
)
def test_a_broken_payload_fails_validation(world: World, edit: Any, where: str) -> None:
    world.post(1)
    (batch,) = world.seal()
    payload = batch_payload(world.download(batch.id), world.keys)
    check = validator(SchemaName.BATCH_PAYLOAD)
    check.validate(payload)

    edit(payload)

    errors = list(check.iter_errors(payload))
    assert errors
    assert any(where in str(error) for error in errors), [str(e) for e in errors]


def test_a_broken_receipt_fails_validation() -> None:
    check = validator(SchemaName.RECEIPT)
    good = {
        "batch_id": "01936f2e-8a4b-7c1d-9e2f-3a4b5c6d7e8f",
        "fund_id": "cpam-75",
        "seq": 1,
        "batch_digest": "sha256:" + "AB" * 32,
        "received_at": "2026-02-20T10:05:00Z",
        "outcomes": [{"record_id": "r-1", "outcome": "rights-ended"}],
    }
    check.validate(good)
    assert not check.is_valid({**good, "outcomes": [{"record_id": "r-1", "outcome": "ok"}]})
    assert not check.is_valid({**good, "received_at": "2026-02-20 10:05"})
    assert not check.is_valid({k: v for k, v in good.items() if k != "batch_digest"})
