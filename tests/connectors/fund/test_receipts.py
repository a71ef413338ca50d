"""The fund's signed receipts: what the specification says, one outcome per record, and
accepted by the gateway; a receipt the gateway would refuse is never signed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc.jwk import ECKey

from connectors.fund import BatchRef, sign_receipt
from tests.support.actors import World
from tests.support.jose import segments


def test_a_receipt_says_what_the_spec_says_with_one_outcome_per_record(world: World) -> None:
    _, content = world.batch(3)
    batch = world.verify(content)
    first, *others = batch.record_ids
    when = datetime(2026, 11, 27, 22, 45, tzinfo=UTC)
    receipt = sign_receipt(
        batch,
        {first: "rights-ended"},
        default="not-an-affiliate",
        key=world.fund.key,
        kid=world.fund.kid,
        received_at=when,
    )
    header, payload, _ = segments(receipt)
    assert header == {"alg": "ES256", "kid": world.fund.kid}
    assert json.loads(payload) == {
        "batch_id": batch.batch_id,
        "fund_id": world.fund.id,
        "seq": 1,
        "batch_digest": batch.digest,
        "received_at": "2026-11-27T22:45:00Z",
        "outcomes": [
            {"record_id": first, "outcome": "rights-ended"},
            *({"record_id": other, "outcome": "not-an-affiliate"} for other in others),
        ],
    }
    response = world.post_receipt(batch.batch_id, receipt)
    assert response.status_code == 201, response.text
    assert response.json()["outcomes"] == {"rights-ended": 1, "not-an-affiliate": 2}


@pytest.mark.parametrize(
    ("outcomes", "options", "message"),
    [
        ("done", {}, "unknown outcomes"),
        ({"not-a-record": "noted"}, {"default": "noted"}, "not in the batch"),
        ({}, {}, "have no outcome"),
        ("noted", {"alg": "none"}, "not accepted"),
        ("noted", {"alg": "HS256"}, "not accepted"),
        ("noted", {"received_at": datetime(2026, 1, 1)}, "time zone"),  # noqa: DTZ001
    ],
)
def test_a_receipt_that_the_gateway_would_refuse_is_not_signed(
    outcomes: Any, options: dict[str, Any], message: str
) -> None:
    ref = BatchRef("b", "caf-13", 1, "sha256:00", ["r1", "r2"])
    key = ECKey.generate_key("P-256", private=True)
    with pytest.raises(ValueError, match=message):
        sign_receipt(ref, outcomes, key=key, **options)
