"""Sealing, pulling and acknowledging batches: the gateway's side."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwe
from joserfc.jwk import ECKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from audit.canonical import canonical_json
from audit.merkle import root
from connectors import wire
from gateway.auditlog.models import AuditEvent
from gateway.batches import sealing
from gateway.batches.models import Batch
from gateway.disclosures.models import Disclosure
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import (
    POLICY,
    Fund,
    Prefecture,
    Register,
    api_headers,
    make_fund,
    make_prefecture,
    seal,
    token_for,
)
from tests.support.factories import decision, identity
from tests.support.jose import batch_payload, signed_receipt


def receipt_for(
    fund: Fund,
    keys: GatewayKeys,
    content: bytes,
    outcome: str = "rights-ended",
    **over: Any,
) -> bytes:
    return signed_receipt(fund.caller, content, keys, outcome, **over)


@pytest.fixture
def prefecture(client: TestClient, settings: Settings, participant: Register) -> Prefecture:
    """A prefecture in 93, where ``fund`` is: its decisions are sealed for that fund."""
    return make_prefecture(client, settings, participant, departements=["93"])


def post(
    prefecture: Prefecture, reference: str, kind: str = "first-permit-refusal", **fields: Any
) -> str:
    created = prefecture.created(
        decision(reference, kind=kind, identity=identity(residence_departement="93"), **fields)
    )
    decision_id: str = created["id"]
    return decision_id


def test_a_sealed_batch_is_signed_chained_and_carries_only_the_profile(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    first = post(prefecture, "B-1", public_order=True)
    sealed = seal(sessions, gateway_keys)
    assert [(b.fund_id, b.seq, b.record_count) for b in sealed] == [(fund.id, 1, 1)]
    post(prefecture, "B-2")
    post(prefecture, "B-3")
    again = seal(sessions, gateway_keys)
    assert [(b.seq, b.record_count) for b in again] == [(2, 2)]

    listed = fund.batches()
    assert [b["seq"] for b in listed] == [1, 2]
    one, two = (fund.download(b["id"]) for b in listed)
    p1, p2 = batch_payload(one, gateway_keys), batch_payload(two, gateway_keys)
    assert p1["previous_digest"] is None
    assert p2["previous_digest"] == wire.digest_of(one) == listed[0]["digest"]
    assert (p1["fund_id"], p1["seq"], p1["record_count"]) == (fund.id, 1, 1)
    assert p1["policy_version"] == POLICY.version
    leaves = [canonical_json(record) for record in p2["records"]]
    assert p2["merkle_root"] == root(leaves).hex()

    record = p1["records"][0]
    assert (
        record["record_id"]
        == session.scalars(select(Disclosure.id).where(Disclosure.decision_id == first)).one()
    )
    assert record["type"] == "decision"
    assert set(record["data"]) <= set(POLICY.policy.profiles["default"])
    assert record["data"]["agdref_number"] == "7512345678"
    assert record["data"]["kind_class"] == "refusal"
    text = one.decode() + json.dumps(p1)
    assert "public_order" not in text
    assert "legal_basis" not in text
    header = json.loads(base64.urlsafe_b64decode(one.split(b".")[0] + b"=="))
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "gateway-batch+json"
    assert header["kid"] in {k["kid"] for k in gateway_keys.public_jwks()["keys"]}

    states = set(session.scalars(select(Disclosure.state).where(Disclosure.fund_id == fund.id)))
    assert states == {"delivered"}  # downloaded
    sealed_events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "batch:sealed", AuditEvent.acting_for == fund.id
        )
    ).all()
    assert len(sealed_events) == 2


def test_the_most_urgent_go_first_and_big_backlogs_split(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    post(prefecture, "P-normal-old")
    post(prefecture, "P-high", kind="renewal-refusal")
    post(prefecture, "P-normal-new")
    post(prefecture, "P-public-order", public_order=True)
    sealed = seal(sessions, gateway_keys, max_records=3)
    assert [(b.seq, b.record_count) for b in sealed] == [(1, 3), (2, 1)]
    contents = [batch_payload(fund.download(b["id"]), gateway_keys) for b in fund.batches()]
    order = [r["data"]["reference"] for p in contents for r in p["records"]]
    assert order == ["P-high", "P-public-order", "P-normal-old", "P-normal-new"]


def test_express_sealing_takes_only_the_express_classes(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    post(prefecture, "E-normal")
    post(prefecture, "E-withdrawal", kind="permit-withdrawal")
    express = seal(sessions, gateway_keys, express_only=True)
    assert [(b.record_count, b.express) for b in express] == [(1, True)]
    payload = batch_payload(fund.download(fund.batches()[0]["id"]), gateway_keys)
    assert payload["express"] is True
    assert [r["data"]["reference"] for r in payload["records"]] == ["E-withdrawal"]
    regular = seal(sessions, gateway_keys)
    assert [(b.seq, b.record_count, b.express) for b in regular] == [(2, 1, False)]


def test_a_correction_after_sealing_is_a_rectification_sealed_first(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    decision_id = post(prefecture, "C-1")
    seal(sessions, gateway_keys)
    post(prefecture, "C-2")
    response = prefecture.correct(
        decision_id,
        {"kind": "annulment", "reference": "TA-C-1", "correction_date": "2026-11-01"},
    )
    assert response.status_code == 201, response.text
    seal(sessions, gateway_keys)
    payload = batch_payload(fund.download(fund.batches(after_seq=1)[0]["id"]), gateway_keys)
    first, second = payload["records"]
    assert first["type"] == "rectification"
    assert first["decision_id"] == decision_id
    assert first["status"] == "annulled"
    assert first["correction"] == {"kind": "annulment", "date": "2026-11-01"}
    assert first["data"]["priority_class"] == "correction"
    assert second["data"]["reference"] == "C-2"


def test_an_encrypted_batch_is_a_jwe_only_the_fund_opens(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    private = ECKey.generate_key("P-256", private=True)
    public = {**private.as_dict(private=False), "kid": "enc-1"}
    fund = make_fund(
        client,
        settings,
        participant,
        regime=Regime.MSA,
        departements=["93"],
        encryption_jwk=public,
    )
    post(prefecture, "ENC-1")
    seal(sessions, gateway_keys)
    listed = fund.batches()
    assert listed[0]["encrypted"] is True
    content = fund.download(listed[0]["id"])
    assert content.count(b".") == 4  # compact JWE
    opened = jwe.decrypt_compact(
        content.decode(), private, algorithms=["ECDH-ES+A256KW", "A256GCM"]
    )
    assert opened.headers()["kid"] == "enc-1"
    payload = batch_payload(opened.plaintext or b"", gateway_keys)
    assert payload["records"][0]["data"]["reference"] == "ENC-1"
    assert b"ENC-1" not in content


def test_another_funds_batch_is_refused_and_audited(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    post(prefecture, "X-1")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    other = make_fund(client, settings, participant, regime=Regime.CPAM, departements=["75"])
    assert other.batches() == []
    response = other.http.get(f"/v1/batches/{batch_id}", headers=other.headers())
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("/not-your-batch")
    refused = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "batch:downloaded", AuditEvent.participant_id == other.id
        )
    ).one()
    assert refused.outcome == "refused"
    assert refused.object_ids == [batch_id]
    missing = fund.http.get(
        "/v1/batches/00000000-0000-7000-8000-000000000000", headers=fund.headers()
    )
    assert missing.status_code == 404


def test_a_receipt_is_verified_stored_once_and_applied(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    post(prefecture, "R-1")
    post(prefecture, "R-2")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    content = fund.download(batch_id)
    receipt = receipt_for(fund, gateway_keys, content)

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

    different = receipt_for(fund, gateway_keys, content, outcome="not-an-affiliate")
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
    post(prefecture, "W-1")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    content = fund.download(batch_id)
    payload = batch_payload(content, gateway_keys)
    response = fund.receipt(batch_id, receipt_for(fund, gateway_keys, content, **tamper(payload)))
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
    post(prefecture, "F-1")
    seal(sessions, gateway_keys)
    post(prefecture, "F-2")
    seal(sessions, gateway_keys)
    one, two = fund.batches()
    content = fund.download(one["id"])
    other = make_fund(client, settings, participant, regime=Regime.CAF, departements=["93"])
    forged = receipt_for(Fund(fund.http, other.caller, other.token), gateway_keys, content)
    response = fund.receipt(one["id"], forged)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "signature"
    misdirected = fund.receipt(two["id"], receipt_for(fund, gateway_keys, content))
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
    post(prefecture, "J-1")
    seal(sessions, gateway_keys)
    batch_id = fund.batches()[0]["id"]
    content = fund.download(batch_id)
    response = fund.receipt(batch_id, receipt_for(fund, gateway_keys, content, outcome="rejected"))
    assert response.status_code == 201, response.text
    assert set(
        session.scalars(select(Disclosure.state).where(Disclosure.batch_id == batch_id))
    ) == {"rejected"}


def _hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_pending_count_and_batches_agree(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    for n in range(7):
        post(prefecture, f"N-{n}")
    assert sealing.pending_count(session) == 7
    seal(sessions, gateway_keys, max_records=2)
    assert sealing.pending_count(session) == 0
    seqs = list(
        session.scalars(select(Batch.seq).where(Batch.fund_id == fund.id).order_by(Batch.seq))
    )
    assert seqs == [1, 2, 3, 4]
    total = session.scalar(select(func.sum(Batch.record_count)).where(Batch.fund_id == fund.id))
    assert total == 7
    assert len({_hash(b.content) for b in session.scalars(select(Batch))}) == 4


def test_the_outbox_shows_a_fund_its_own_and_an_auditor_its_territory(
    client: TestClient,
    settings: Settings,
    participant: Register,
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    gateway_keys: GatewayKeys,
) -> None:
    other = make_fund(client, settings, participant, regime=Regime.CPAM, departements=["75"])
    post(prefecture, "O-1")
    post(prefecture, "O-2")
    seal(sessions, gateway_keys, max_records=1, fund_ids=[fund.id])
    post(prefecture, "O-3")

    mine = client.get("/v1/outbox", headers=fund.headers())
    assert mine.status_code == 200, mine.text
    lines = {(line["fund_id"], line["state"]): line["records"] for line in mine.json()["lines"]}
    assert lines == {(fund.id, "sealed"): 2, (fund.id, "pending"): 1}
    sneaky = client.get("/v1/outbox", params={"fund_id": other.id}, headers=fund.headers())
    assert sneaky.json()["lines"] == []

    def auditor_view(**options: Any) -> set[str]:
        auditor = participant("auditor", **options)
        token = token_for(client, settings, auditor)
        response = client.get("/v1/outbox", headers=api_headers(token, auditor))
        assert response.status_code == 200, response.text
        return {line["fund_id"] for line in response.json()["lines"]}

    assert fund.id in auditor_view(departements=["93"])
    assert auditor_view(departements=["13"]) & {fund.id, other.id} == set()
    assert fund.id in auditor_view(national=True)
    refused = client.get("/v1/outbox", headers=prefecture.headers())
    assert refused.status_code == 403, refused.text


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

    post(prefecture, "REST-1")
    seal(sessions, gateway_keys)
    listed = fund.batches()[0]
    content = fund.download(listed["id"])
    stored = session.get_one(Batch, listed["id"], populate_existing=True)
    assert content.startswith(b"eyJ")  # a compact JWS
    assert not stored.content.startswith(b"eyJ")  # what the database holds is ciphertext
    assert content not in stored.content
    assert fund.receipt(listed["id"], receipt_for(fund, gateway_keys, content)).status_code == 201

    days = POLICY.policy.retention.identity_after_last_receipt_days
    report = purge.run(sessions, POLICY, now=utcnow() + timedelta(days=days + 1))
    assert report.classes["batch_contents"]["purged"] == 1
    gone = fund.http.get(f"/v1/batches/{listed['id']}", headers=fund.headers())
    assert gone.status_code == 410, gone.text
    assert gone.json()["type"].endswith("/batch-purged")
    assert listed["digest"] in gone.json()["detail"]
    assert fund.batches()[0]["digest"] == listed["digest"]  # the evidence stays
