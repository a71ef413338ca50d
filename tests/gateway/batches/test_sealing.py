"""Sealing batches: signed, chained, carrying only the profile's fields, the most urgent
first, express and rectification batches, encrypted for a fund that asks; and the
payload spliced from records is RFC 8785's canonical JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from types import SimpleNamespace
from typing import Any

import rfc8785
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwe
from joserfc.jwk import ECKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from audit.canonical import canonical_json
from audit.merkle import root
from connectors import wire
from gateway.auditlog.models import AuditEvent
from gateway.batches import repository
from gateway.batches.models import Batch
from gateway.batches.sealing import _payload, _record
from gateway.disclosures.models import Disclosure
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from tests.support.actors import POLICY, Fund, Prefecture, Register, make_fund, post_decision, seal
from tests.support.jose import batch_payload
from tests.support.strategies import KEYS, TEXT


def test_a_sealed_batch_is_signed_chained_and_carries_only_the_profile(
    prefecture: Prefecture,
    fund: Fund,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
) -> None:
    first = post_decision(prefecture, "B-1", public_order=True)
    sealed = seal(sessions, gateway_keys)
    assert [(b.fund_id, b.seq, b.record_count) for b in sealed] == [(fund.id, 1, 1)]
    post_decision(prefecture, "B-2")
    post_decision(prefecture, "B-3")
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
    post_decision(prefecture, "P-normal-old")
    post_decision(prefecture, "P-high", kind="renewal-refusal")
    post_decision(prefecture, "P-normal-new")
    post_decision(prefecture, "P-public-order", public_order=True)
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
    post_decision(prefecture, "E-normal")
    post_decision(prefecture, "E-withdrawal", kind="permit-withdrawal")
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
    decision_id = post_decision(prefecture, "C-1")
    seal(sessions, gateway_keys)
    post_decision(prefecture, "C-2")
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
    post_decision(prefecture, "ENC-1")
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
        post_decision(prefecture, f"N-{n}")
    assert repository.pending_count(session) == 7
    seal(sessions, gateway_keys, max_records=2)
    assert repository.pending_count(session) == 0
    seqs = list(
        session.scalars(select(Batch.seq).where(Batch.fund_id == fund.id).order_by(Batch.seq))
    )
    assert seqs == [1, 2, 3, 4]
    total = session.scalar(select(func.sum(Batch.record_count)).where(Batch.fund_id == fund.id))
    assert total == 7
    assert len({_hash(b.content) for b in session.scalars(select(Batch))}) == 4


# -- the payload, spliced from canonical records --------------------------------------


@given(
    record_id=TEXT,
    decision_id=TEXT,
    status=TEXT,
    version=st.integers(1, 10_000),
    correction=st.booleans(),
    kind=TEXT,
    data=st.dictionaries(KEYS, TEXT | st.lists(TEXT, max_size=3), max_size=6),
)
def test_a_spliced_record_is_the_canonical_record(
    record_id: str,
    decision_id: str,
    status: str,
    version: int,
    correction: bool,
    kind: str,
    data: dict[str, Any],
) -> None:
    row = SimpleNamespace(
        id=record_id,
        decision_id=decision_id,
        status=status,
        version=version,
        correction=correction,
        correction_kind=kind or None,
        correction_date=date(2026, 11, 1),
    )
    written = _record(row, canonical_json(data))  # type: ignore[arg-type]
    assert written == rfc8785.dumps(json.loads(written))
    parsed = json.loads(written)
    assert parsed["data"] == data
    assert parsed["record_id"] == record_id
    assert ("correction" in parsed) == (correction and bool(kind))


@given(st.lists(st.dictionaries(KEYS, TEXT, max_size=3), max_size=5))
def test_the_batch_payload_is_the_canonical_whole(records: list[dict[str, str]]) -> None:
    header: dict[str, Any] = {
        "batch_id": "b",
        "created_at": "2026-11-27T00:00:00Z",
        "express": False,
        "fund_id": "f",
        "merkle_root": "00",
        "policy_version": "p@1",
        "previous_digest": None,
        "record_count": len(records),
        "seq": 1,
    }
    written = _payload(header, [canonical_json(r) for r in records])
    assert written == rfc8785.dumps({**header, "records": records})
