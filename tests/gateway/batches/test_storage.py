"""Batch contents at rest: encrypted, and purged with the identities they name."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from gateway.batches.models import Batch
from gateway.keys import GatewayKeys
from tests.support.actors import POLICY, Fund, Prefecture, post_decision, seal


def test_batch_bytes_are_encrypted_at_rest_and_purged_with_the_identities(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    from datetime import timedelta  # noqa: PLC0415

    from gateway.retention import purge  # noqa: PLC0415
    from gateway.storage.base import utcnow  # noqa: PLC0415

    post_decision(prefecture, "REST-1")
    seal(sessions, gateway_keys)
    listed = fund.batches()[0]
    content = fund.download(listed["id"])
    stored = session.get_one(Batch, listed["id"], populate_existing=True)
    assert content.startswith(b"eyJ")  # a compact JWS
    assert not stored.content.startswith(b"eyJ")  # what the database holds is ciphertext
    assert content not in stored.content
    assert fund.receipt(listed["id"], fund.receipt_for(gateway_keys, content)).status_code == 201

    days = POLICY.policy.retention.identity_after_last_receipt_days
    report = purge.run(sessions, POLICY, now=utcnow() + timedelta(days=days + 1))
    assert report.classes["batch_contents"]["purged"] == 1
    gone = fund.http.get(f"/v1/batches/{listed['id']}", headers=fund.headers())
    assert gone.status_code == 410, gone.text
    assert gone.json()["type"].endswith("/batch-purged")
    assert listed["digest"] in gone.json()["detail"]
    assert fund.batches()[0]["digest"] == listed["digest"]  # the evidence stays
