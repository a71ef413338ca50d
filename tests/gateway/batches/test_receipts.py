"""Receipts for batches, the gateway's side: verified, stored once and applied; a wrong
one refused naming the rule; a rejected record stays visible.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.auditlog.models import AuditEvent
from gateway.batches.models import Batch
from gateway.disclosures.models import Disclosure
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import Fund, Prefecture, Register, make_fund, post_decision, seal
from tests.support.jose import batch_payload


def test_a_receipt_is_verified_stored_once_and_applied(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "R-1")
    post_decision(prefecture, "R-2")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    content = fund.download(batch_id)
    receipt = fund.receipt_for(gateway_keys, content)

    first = fund.receipt(batch_id, receipt)
    assert first.status_code == 201, first.text
    assert first.json()["outcomes"] == {"rights-ended": 2}
    assert first.json()["already_recorded"] is False
    again = fund.receipt(batch_id, receipt)
    assert again.status_code == 200, again.text
    assert again.json()["already_recorded"] is True

    states = set(session.scalars(select(Disclosure.state).where(Disclosure.batch_id == batch_id)))
    assert states == {"acknowledged"}
    stored = session.get_one(Batch, batch_id, populate_existing=True)
    assert stored.state == "acknowledged"

    different = fund.receipt_for(gateway_keys, content, outcome="not-an-affiliate")
    conflict = fund.receipt(batch_id, different)
    assert conflict.status_code == 409, conflict.text


@pytest.mark.parametrize(
    ("tamper", "rule"),
    [
        (lambda _: {"batch_digest": "sha256:" + "0" * 64}, "batch-digest-mismatch"),
        (lambda p: {"seq": p["seq"] + 1}, "seq-mismatch"),
        (lambda _: {"outcomes": []}, "outcomes-incomplete"),
        (
            lambda p: {
                "outcomes": [{"record_id": p["records"][0]["record_id"], "outcome": "lost"}]
            },
            "outcome-unknown",
        ),
        (lambda _: {"received_at": "yesterday"}, "date"),
    ],
)
def test_a_wrong_receipt_is_refused_naming_the_rule(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
    tamper: Callable[[dict[str, Any]], dict[str, Any]],
    rule: str,
) -> None:
    post_decision(prefecture, "W-1")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    content = fund.download(batch_id)
    payload = batch_payload(content, gateway_keys)
    response = fund.receipt(batch_id, fund.receipt_for(gateway_keys, content, **tamper(payload)))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == rule
    assert set(
        session.scalars(select(Disclosure.state).where(Disclosure.batch_id == batch_id))
    ) == {"delivered"}
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "receipt:recorded")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert event.outcome == "refused"


def test_a_receipt_signed_by_another_key_or_for_another_batch_is_refused(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "F-1")
    seal(sessions, gateway_keys)
    post_decision(prefecture, "F-2")
    seal(sessions, gateway_keys)
    one, two = fund.batches()
    content = fund.download(one["id"])
    other = make_fund(client, settings, participant, regime=Regime.CAF, departements=["93"])
    forged = other.receipt_for(gateway_keys, content)
    response = fund.receipt(one["id"], forged)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "signature"
    misdirected = fund.receipt(two["id"], fund.receipt_for(gateway_keys, content))
    assert misdirected.status_code == 422, misdirected.text
    assert misdirected.json()["errors"][0]["rule"] == "batch-id-mismatch"
    garbage = fund.receipt(one["id"], b"not.a.jws")
    assert garbage.status_code == 422, garbage.text
    unsigned = fund.receipt(
        one["id"],
        b".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=")
            for part in (b'{"alg":"none"}', json.dumps({"batch_id": one["id"]}).encode())
        )
        + b".",
    )
    assert unsigned.status_code == 422, unsigned.text


def test_a_rejected_record_stays_visible_as_rejected(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    post_decision(prefecture, "J-1")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    content = fund.download(batch_id)
    response = fund.receipt(batch_id, fund.receipt_for(gateway_keys, content, outcome="rejected"))
    assert response.status_code == 201, response.text
    assert set(
        session.scalars(select(Disclosure.state).where(Disclosure.batch_id == batch_id))
    ) == {"rejected"}
