"""Push delivery: in order, through failures, parked and resumed, never twice."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors import wire
from gateway.auditlog.models import AuditEvent
from gateway.batches import delivery
from gateway.batches.models import Batch, DeliveryAttempt, PushState, Receipt
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Settings
from gateway.storage.base import utcnow
from tests.support.actors import Client, Prefecture, Register, seal
from tests.support.factories import decision, identity
from tests.support.jose import signed_receipt

ENDPOINT = "https://fund.example/batches"


class FundEndpoint:
    """A fund's push endpoint: verifies what it gets and signs receipts, or fails on cue."""

    def __init__(self, fund: Client, keys: GatewayKeys) -> None:
        self.fund = fund
        self.keys = keys
        self.failures: list[Callable[[httpx.Request], httpx.Response]] = []
        self.received: list[int] = []

    def receipt(self, content: bytes, **over: Any) -> bytes:
        return signed_receipt(self.fund, content, self.keys, **over)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(int(request.headers["Batch-Seq"]))
        assert request.headers["Digest-SHA256"] == wire.digest_of(request.content)
        if self.failures:
            return self.failures.pop(0)(request)
        return httpx.Response(200, content=self.receipt(request.content))


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


def server_error(_: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="oops")


def garbage(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"<html>maintenance</html>")


@pytest.fixture
def push_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "push_max_attempts": 3,
            "push_backoff_base_seconds": 10,
            "push_backoff_cap_seconds": 600,
        }
    )


@pytest.fixture
def fund(participant: Register) -> Client:
    """An URSSAF in 93 that takes its batches by push, at ``ENDPOINT``."""
    return participant("fund", regime=Regime.URSSAF, departements=["93"], push_endpoint=ENDPOINT)


def sealed_batches(
    prefecture: Prefecture,
    sessions: sessionmaker[Session],
    keys: GatewayKeys,
    count: int,
) -> None:
    for n in range(count):
        prefecture.created(decision(f"PUSH-{n}", identity=identity(residence_departement="93")))
        seal(sessions, keys)


def run(
    sessions: sessionmaker[Session],
    settings: Settings,
    endpoint: FundEndpoint,
    now: datetime,
) -> list[delivery.Attempted]:
    return delivery.deliver(
        sessions,
        settings,
        transport=httpx.MockTransport(endpoint),
        now=now,
        rng=random.Random(7),  # noqa: S311 - jitter, reproducibly
    )


def states(session: Session, fund: Client) -> list[tuple[int, str]]:
    statement = select(Batch.seq, Batch.state).where(Batch.fund_id == fund.id).order_by(Batch.seq)
    return [
        (seq, state)
        for seq, state in session.execute(statement.execution_options(populate_existing=True))
    ]


def test_batches_go_in_order_and_come_back_acknowledged(
    prefecture: Prefecture,
    fund: Client,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
    push_settings: Settings,
) -> None:
    sealed_batches(prefecture, sessions, gateway_keys, 3)
    endpoint = FundEndpoint(fund, gateway_keys)
    attempts = run(sessions, push_settings, endpoint, utcnow())
    assert [(a.seq, a.accepted) for a in attempts] == [(1, True), (2, True), (3, True)]
    assert endpoint.received == [1, 2, 3]
    assert states(session, fund) == [(1, "acknowledged"), (2, "acknowledged"), (3, "acknowledged")]
    assert len(session.scalars(select(Receipt).where(Receipt.fund_id == fund.id)).all()) == 3
    assert run(sessions, push_settings, endpoint, utcnow()) == []  # nothing twice
    assert endpoint.received == [1, 2, 3]
    pushed = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "batch:pushed", AuditEvent.acting_for == fund.id
        )
    ).all()
    assert [e.detail["seq"] for e in pushed] == [1, 2, 3]


def test_failures_back_off_and_delivery_resumes_in_order(
    prefecture: Prefecture,
    fund: Client,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
    push_settings: Settings,
) -> None:
    sealed_batches(prefecture, sessions, gateway_keys, 2)
    endpoint = FundEndpoint(fund, gateway_keys)
    endpoint.failures = [server_error, timeout]
    start = utcnow()
    first = run(sessions, push_settings, endpoint, start)
    assert [(a.seq, a.accepted) for a in first] == [(1, False)]
    assert first[0].error == "answered HTTP 500"
    state = session.get_one(PushState, fund.id, populate_existing=True)
    assert state.failures == 1
    assert state.next_attempt_at is not None
    wait = state.next_attempt_at - start
    assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)  # base 10 s, jittered
    assert run(sessions, push_settings, endpoint, start + timedelta(seconds=1)) == []  # not due

    second = run(sessions, push_settings, endpoint, start + timedelta(seconds=11))
    assert [(a.seq, a.accepted, a.error) for a in second] == [(1, False, "timed out")]
    state = session.get_one(PushState, fund.id, populate_existing=True)
    assert state.failures == 2
    assert state.next_attempt_at is not None
    assert (
        timedelta(seconds=10)
        <= state.next_attempt_at - (start + timedelta(seconds=11))
        <= timedelta(seconds=20)
    )

    third = run(sessions, push_settings, endpoint, start + timedelta(seconds=60))
    assert [(a.seq, a.accepted) for a in third] == [(1, True), (2, True)]
    assert endpoint.received == [1, 1, 1, 2]
    assert states(session, fund) == [(1, "acknowledged"), (2, "acknowledged")]
    attempts = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.fund_id == fund.id)
        .order_by(DeliveryAttempt.id)
    ).all()
    assert [(a.attempt, a.accepted, a.status_code) for a in attempts] == [
        (1, False, 500),
        (2, False, None),
        (3, True, 200),
        (1, True, 200),
    ]
    assert session.get_one(PushState, fund.id, populate_existing=True).failures == 0


@pytest.mark.parametrize("answer", ["garbage", "another batch's receipt", "a wrong digest"])
def test_an_answer_that_is_not_this_batchs_receipt_is_a_failure(
    prefecture: Prefecture,
    fund: Client,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
    push_settings: Settings,
    answer: str,
) -> None:
    sealed_batches(prefecture, sessions, gateway_keys, 1)
    endpoint = FundEndpoint(fund, gateway_keys)
    wrong: dict[str, Callable[[httpx.Request], httpx.Response]] = {
        "garbage": garbage,
        "another batch's receipt": lambda r: httpx.Response(
            200,
            content=endpoint.receipt(r.content, batch_id="00000000-0000-7000-8000-000000000000"),
        ),
        "a wrong digest": lambda r: httpx.Response(
            200, content=endpoint.receipt(r.content, batch_digest="sha256:" + "0" * 64)
        ),
    }
    endpoint.failures = [wrong[answer]]
    attempts = run(sessions, push_settings, endpoint, utcnow())
    assert [a.accepted for a in attempts] == [False]
    assert attempts[0].error is not None
    assert "not a valid receipt" in attempts[0].error
    assert states(session, fund) == [(1, "sealed")]
    assert session.scalars(select(Receipt).where(Receipt.fund_id == fund.id)).all() == []


def test_a_fund_that_keeps_failing_is_parked_then_probed_and_resumes(
    prefecture: Prefecture,
    fund: Client,
    sessions: sessionmaker[Session],
    session: Session,
    gateway_keys: GatewayKeys,
    push_settings: Settings,
) -> None:
    sealed_batches(prefecture, sessions, gateway_keys, 2)
    endpoint = FundEndpoint(fund, gateway_keys)
    endpoint.failures = [server_error] * 4
    when = utcnow()
    for _ in range(3):
        run(sessions, push_settings, endpoint, when)
        when += timedelta(seconds=700)
    state = session.get_one(PushState, fund.id, populate_existing=True)
    assert state.parked_at is not None
    assert state.failures == 3
    parked = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "fund:parked", AuditEvent.acting_for == fund.id
        )
    ).all()
    assert len(parked) == 1
    assert state.next_attempt_at is not None
    probe_at = state.next_attempt_at
    assert run(sessions, push_settings, endpoint, probe_at - timedelta(seconds=1)) == []
    probe = run(sessions, push_settings, endpoint, probe_at)
    assert [a.accepted for a in probe] == [False]  # the fourth failure: still parked
    state = session.get_one(PushState, fund.id, populate_existing=True)
    assert state.next_attempt_at is not None
    recovered = run(sessions, push_settings, endpoint, state.next_attempt_at)
    assert [(a.seq, a.accepted) for a in recovered] == [(1, True), (2, True)]
    state = session.get_one(PushState, fund.id, populate_existing=True)
    assert (state.parked_at, state.failures) == (None, 0)
    unparked = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "fund:unparked", AuditEvent.acting_for == fund.id
        )
    ).all()
    assert len(unparked) == 1
    assert endpoint.received == [1, 1, 1, 1, 1, 2]
