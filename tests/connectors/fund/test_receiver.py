"""The reference push receiver, fed the bytes the gateway sealed: batches in order, the
same receipt for a batch sent again, 409 after a gap, 422 for anything that fails a
check, and receipts the gateway's own verification records."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import OKPKey
from sqlalchemy import select

from connectors import fund, wire
from connectors.fund import FundState
from connectors.fund.receiver import PROBLEM_JSON, Receiver, create_receiver_app
from gateway.batches import delivery
from gateway.batches.models import Batch, Receipt
from gateway.batches.receipts import record_receipt
from gateway.batches.storage import open_content
from gateway.participants.models import Participant
from tests.support.actors import World
from tests.support.factories import NAMES
from tests.support.jose import JOSE, flip_signature, resign, segments

if TYPE_CHECKING:
    from pathlib import Path

    import httpx2
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Sealed:
    """A sealed batch as the gateway pushes it: its exact bytes, opened from storage."""

    id: str
    seq: int
    digest: str
    encrypted: bool
    content: bytes


def sealed(world: World, session: Session, decisions: int, per_batch: int) -> list[Sealed]:
    """What the gateway would push: the sealed batches, in seq order."""
    world.post(decisions)
    ids = [batch.id for batch in world.seal(max_records=per_batch)]
    cipher = world.keys.identity_cipher()
    return [
        Sealed(row.id, row.seq, row.digest, row.encrypted, open_content(cipher, row))
        for row in (session.get_one(Batch, batch_id) for batch_id in ids)
    ]


def push(
    receiver: TestClient,
    batch: Sealed,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    sent = {
        "Content-Type": JOSE,
        "Batch-Id": batch.id,
        "Batch-Seq": str(batch.seq),
        "Digest-SHA256": wire.digest_of(content if content is not None else batch.content),
        **(headers or {}),
    }
    body = content if content is not None else batch.content
    return receiver.post("/batches", content=body, headers=sent)


def refused(response: httpx2.Response, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert [error["rule"] for error in body["errors"]] == [rule]
    assert all(name not in response.text for name in NAMES)
    return body


def recorded(session: Session, world: World, batch: Sealed, receipt: bytes) -> dict[str, Any]:
    """The gateway's own verification of a receipt: what it recorded."""
    fund_row = session.get(Participant, world.fund.id)
    assert fund_row is not None
    result = record_receipt(session, fund_row, session.get_one(Batch, batch.id), receipt)
    assert result.created
    return dict(result.receipt.outcomes)


def test_batches_are_taken_in_order_and_a_repeat_gets_the_same_receipt(
    world: World, session: Session, tmp_path: Path
) -> None:
    one, two, three = sealed(world, session, decisions=3, per_batch=1)
    app = create_receiver_app(tmp_path, world.jwks(), world.fund.id, world.fund.key, world.fund.kid)
    with TestClient(app) as receiver:
        first = push(receiver, one)
        assert first.status_code == 200, first.text
        assert first.headers["content-type"] == JOSE
        assert recorded(session, world, one, first.content) == {"noted": 1}
        assert push(receiver, one).content == first.content

        body = refused(push(receiver, three), 409, "seq-gap")
        assert body["type"] == "/problems/out-of-order"
        refused(push(receiver, two, flip_signature(two.content)), 422, "signature")
        refused(push(receiver, two, headers={"Batch-Seq": "7"}), 422, "headers")
        refused(push(receiver, two, headers={"Digest-SHA256": one.digest}), 422, "digest")

        second = push(receiver, two)
        assert second.status_code == 200, second.text
        assert recorded(session, world, two, second.content) == {"noted": 1}
        third = push(receiver, three)
        assert third.status_code == 200, third.text

    state = FundState.load(tmp_path, world.fund.id)
    assert (state.last_seq, state.last_digest) == (3, three.digest)
    assert state.unacknowledged() == []
    for batch in (one, two, three):
        entry = state.batches[batch.seq]
        ids = fund.read_record_ids(state.path(entry.records_file), "ndjson")
        assert ids == [r["record_id"] for r in json.loads(segments(batch.content)[1])["records"]]

    # A receiver started again on the same directory answers the same receipt.
    again = create_receiver_app(tmp_path, world.jwks(), world.fund.id, world.fund.key)
    with TestClient(again) as receiver:
        assert push(receiver, one).content == first.content
        refused(push(receiver, one, flip_signature(one.content)), 422, "signature")
        replaced = resign(world.keys, one.content, lambda d: d["records"][0].update(version=9))
        refused(push(receiver, one, replaced), 422, "seq-replay")

    # Another fund's receiver refuses the batch.
    other = world.another_fund()
    elsewhere = create_receiver_app(tmp_path / "other", other.jwks(), other.fund.id, other.fund.key)
    with TestClient(elsewhere) as receiver:
        refused(push(receiver, one), 422, "fund-id")


def test_an_encrypted_push_is_decrypted_written_as_csv_and_decided(
    world: World, session: Session, tmp_path: Path
) -> None:
    private = OKPKey.generate_key("X25519", private=True)
    world = world.another_fund(encryption_jwk=private.as_dict(private=False))
    (batch,) = sealed(world, session, decisions=2, per_batch=10)
    assert batch.encrypted
    without_key = create_receiver_app(tmp_path / "a", world.jwks(), world.fund.id, world.fund.key)
    with TestClient(without_key) as receiver:
        refused(push(receiver, batch), 422, "decrypt")

    app = create_receiver_app(
        tmp_path / "b",
        world.jwks(),
        world.fund.id,
        world.fund.key,
        world.fund.kid,
        decryption_key=private,
        fmt="csv",
        decide=lambda record: "rights-ended" if record["status"] == "active" else "noted",
    )
    with TestClient(app) as receiver:
        answer = push(receiver, batch)
    assert answer.status_code == 200, answer.text
    assert recorded(session, world, batch, answer.content) == {"rights-ended": 2}
    state = FundState.load(tmp_path / "b", world.fund.id)
    entry = state.batches[1]
    assert entry.records_file.endswith(".csv")
    header = state.path(entry.records_file).read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("record_id,type,decision_id,version,status")


def test_pushes_of_one_batch_at_the_same_moment_are_taken_once(
    world: World, session: Session, tmp_path: Path
) -> None:
    (batch,) = sealed(world, session, decisions=1, per_batch=1)
    receiver = Receiver(tmp_path, world.jwks(), world.fund.id, world.fund.key, world.fund.kid)
    headers = {"batch-id": batch.id, "batch-seq": "1", "digest-sha256": batch.digest}
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: receiver.receive(batch.content, headers), range(4)))
    assert {answer.status_code for answer in answers} == {200}
    assert len({bytes(answer.body) for answer in answers}) == 1
    assert len(list((tmp_path / "records").iterdir())) == 1
    assert len(list((tmp_path / "receipts").iterdir())) == 1


def test_a_body_too_large_is_refused_before_anything_is_read_into_the_state(
    world: World, session: Session, tmp_path: Path
) -> None:
    (batch,) = sealed(world, session, decisions=1, per_batch=1)
    app = create_receiver_app(
        tmp_path, world.jwks(), world.fund.id, world.fund.key, max_bytes=len(batch.content) - 1
    )
    with TestClient(app) as receiver:
        refused(push(receiver, batch), 413, "too-large")
    assert not (tmp_path / fund.STATE_FILE).exists()
    with pytest.raises(ValueError, match="unknown records format"):
        create_receiver_app(tmp_path, {}, "f", world.fund.key, fmt="xml")  # type: ignore[arg-type]


def test_the_gateways_push_delivery_is_answered_by_the_receiver(
    world: World, session: Session, tmp_path: Path
) -> None:
    pushed = world.another_fund(push_endpoint="https://fund.example/batches")
    pushed.post(3)
    assert [b.seq for b in pushed.seal(max_records=1)] == [1, 2, 3]
    receiver = Receiver(tmp_path, pushed.jwks(), pushed.fund.id, pushed.fund.key, pushed.fund.kid)
    received: list[str] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request.headers["Batch-Seq"])
        answer = receiver.receive(request.content, request.headers)
        content_type = answer.headers["content-type"]
        return httpx.Response(
            answer.status_code, content=bytes(answer.body), headers={"content-type": content_type}
        )

    attempts = delivery.deliver(
        pushed.sessions, pushed.settings, transport=httpx.MockTransport(endpoint)
    )
    assert [(a.seq, a.accepted, a.error) for a in attempts] == [
        (1, True, None),
        (2, True, None),
        (3, True, None),
    ]
    assert received == ["1", "2", "3"]
    rows = session.scalars(
        select(Batch)
        .where(Batch.fund_id == pushed.fund.id)
        .order_by(Batch.seq)
        .execution_options(populate_existing=True)
    ).all()
    assert [row.state for row in rows] == ["acknowledged"] * 3
    stored = session.scalars(select(Receipt).where(Receipt.fund_id == pushed.fund.id)).all()
    state = FundState.load(tmp_path, pushed.fund.id)
    assert state.last_seq == 3
    assert {r.content for r in stored} == {
        state.path(entry.receipt_file or "").read_bytes() for entry in state.batches.values()
    }
