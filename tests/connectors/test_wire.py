"""The wire format ties the two sides: what the gateway seals and what a fund signs say
exactly what ``connectors.wire`` defines, and the spec's own values are checked here too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import wire
from connectors.fund import sign_receipt
from gateway.keys import KeyUse
from tests.support.actors import World
from tests.support.jose import segments
from tests.support.merkle import reference_mth


def test_a_sealed_batch_has_exactly_the_members_and_header_of_the_format(world: World) -> None:
    sealed, content = world.batch(records=3)
    header, payload, _ = segments(content)
    assert header["typ"] == wire.BATCH_TYPE == "gateway-batch+json"
    assert header["alg"] == wire.BATCH_SIGNING_ALG == "EdDSA"
    document = json.loads(payload)
    assert tuple(sorted(document)) == tuple(sorted(wire.BATCH_MEMBERS))
    assert payload == wire.canonical(document)
    for record in document["records"]:
        assert set(record) <= set(wire.RECORD_MEMBERS)
        assert record["type"] in {wire.DECISION_RECORD, wire.RECTIFICATION_RECORD}
    leaves = [wire.canonical(record) for record in document["records"]]
    assert document["merkle_root"] == wire.merkle_root_hex(leaves) == reference_mth(leaves).hex()
    assert sealed.digest == wire.digest_of(content)
    batch_keys = [
        key
        for key in world.jwks()["keys"]
        if key[wire.KEY_USE_MEMBER] == wire.BATCH_KEY_USE == str(KeyUse.BATCH)
    ]
    assert header["kid"] in {key["kid"] for key in batch_keys}


def test_a_funds_receipt_has_exactly_the_members_of_the_format_and_the_gateway_takes_it(
    world: World,
) -> None:
    _, content = world.batch(records=2)
    batch = world.verify(content, expected_seq=1)
    receipt = sign_receipt(batch, wire.Outcome.RIGHTS_ENDED, key=world.fund.key, kid=world.fund.kid)
    header, payload, _ = segments(receipt)
    assert header["alg"] in wire.RECEIPT_ALGORITHMS
    claims = json.loads(payload)
    assert tuple(sorted(claims)) == tuple(sorted(wire.RECEIPT_MEMBERS))
    assert payload == wire.canonical(claims)
    assert {item["outcome"] for item in claims["outcomes"]} == {"rights-ended"}
    accepted = world.post_receipt(batch.batch_id, receipt)
    assert accepted.status_code == 201, accepted.text


def test_the_outcomes_are_the_specs() -> None:
    assert {
        "rights-ended", "not-an-affiliate", "identity-ambiguous", "already-closed",
        "rights-restored", "noted", "rejected",
    } == wire.OUTCOMES  # fmt: skip
    assert wire.DEFAULT_OUTCOME == "noted"


@given(st.binary(max_size=2048))
def test_a_digest_is_sha256_of_the_exact_bytes(content: bytes) -> None:
    digest = wire.digest_of(content)
    assert digest == "sha256:" + hashlib.sha256(content).hexdigest()
    assert wire.digest_of(content + b" ") != digest


def test_instants_are_utc_to_the_second_and_must_carry_a_zone() -> None:
    paris = timezone(timedelta(hours=2))
    assert wire.timestamp(datetime(2026, 6, 1, 14, 30, 5, 999, tzinfo=paris)) == (
        "2026-06-01T12:30:05Z"
    )
    assert wire.timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
    with pytest.raises(ValueError, match="time zone"):
        wire.timestamp(datetime(2026, 1, 1))  # noqa: DTZ001 - the naive instant refused


@given(st.lists(st.binary(max_size=64), max_size=40))
def test_the_merkle_root_is_rfc_6962s(leaves: list[bytes]) -> None:
    assert wire.merkle_root_hex(leaves) == reference_mth(leaves).hex()
