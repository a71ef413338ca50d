"""Crash safety of sealing and pushing: killed at random, restarted, nothing lost or doubled.

Each test runs on a database of its own with committed data (not the rolled-back test
transaction), because the workers under test are separate processes or threads.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pytest
import uvicorn
from fastapi.testclient import TestClient
from joserfc import jws
from joserfc.errors import SecurityWarning
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors import wire
from gateway.app import create_app
from gateway.batches import sealing
from gateway.batches.models import Batch, Receipt
from gateway.batches.storage import open_content
from gateway.disclosures.models import Disclosure
from gateway.identities.service import IdentityKeys
from gateway.keys import GatewayKeys, KeyUse
from gateway.participants.models import Regime
from gateway.settings import Environment, Settings
from gateway.storage.engine import READ_ONLY, make_engine, make_sessionmaker
from policies.loader import DEFAULT_POLICY, load_file
from tests.support.actors import BASE_URL, Client, make_prefecture, register
from tests.support.factories import decision, identity
from tests.support.jose import signed_receipt
from tests.support.processes import free_port, gateway_command

# Whole processes killed and restarted, on hundreds of decisions: seconds each.
pytestmark = pytest.mark.slow

DECISIONS = 240
KILLS = 6
SEED = int(os.environ.get("GATEWAY_CRASH_SEED", "20261127"))


@dataclass
class Gateway:
    """A committed database, its keys, and a way to run ``gateway`` commands on it."""

    url: str
    key_dir: Path
    engine: Engine
    sessions: sessionmaker[Session]
    keys: GatewayKeys
    funds: list[Client] = field(default_factory=list)

    def command(self, *args: str, capture: bool = False, **extra: str) -> subprocess.Popen[bytes]:
        """Start a command; ``capture`` its errors when it is to finish, not be killed."""
        return gateway_command(self.url, self.key_dir, *args, capture=capture, **extra)


@pytest.fixture
def gateway(
    migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gateway]:
    monkeypatch.chdir(tmp_path)
    key_dir = tmp_path / "keys"
    keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    engine = make_engine(migrated_database_url)
    try:
        yield Gateway(migrated_database_url, key_dir, engine, make_sessionmaker(engine), keys)
    finally:
        engine.dispose()


def load(gateway: Gateway, *, push_endpoint: str | None = None) -> None:
    """Three funds (one pushed to, if an endpoint is given) and DECISIONS decisions."""

    def participant(kind: str, **options: Any) -> Client:
        with gateway.sessions.begin() as session:
            return register(session, kind, **options)

    gateway.funds = [
        participant("fund", regime=Regime.CPAM, departements=["93"]),
        participant("fund", regime=Regime.CAF, departements=["93"]),
        participant("fund", regime=Regime.URSSAF, departements=["93"], push_endpoint=push_endpoint),
    ]
    settings = Settings(database_url=gateway.url, key_dir=gateway.key_dir, public_base_url=BASE_URL)
    app = create_app(settings, keys=gateway.keys, engine=gateway.engine, sessions=gateway.sessions)
    with TestClient(app, base_url=BASE_URL) as http:
        prefecture = make_prefecture(http, settings, participant, departements=["93"])
        kinds = ["first-permit-refusal", "renewal-refusal", "permit-withdrawal"]
        lines = [
            decision(
                f"CRASH-{n}",
                kind=kinds[n % 3],
                identity=identity(residence_departement="93", agdref_number=f"93{n:08d}"),
            )
            for n in range(DECISIONS)
        ]
        content = "\n".join(json.dumps(line) for line in lines).encode()
        imported = prefecture.imported(content, gateway.sessions, gateway.keys)
        assert imported["accepted"] == DECISIONS


def kill_once_working(
    worker: subprocess.Popen[bytes],
    progress: Callable[[], int],
    rng: random.Random,
    within_s: float,
) -> None:
    """SIGKILL the worker at a random point after it has started working."""
    before = progress()
    deadline = time.monotonic() + 60
    while progress() == before and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, within_s))
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)


def batch_count(gateway: Gateway) -> int:
    # A read-only transaction: on SQLite a writing one (BEGIN IMMEDIATE) would queue behind
    # the sealer's write lock and only see its progress in large, random jumps.
    with gateway.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        return int(connection.scalar(select(func.count()).select_from(Batch)) or 0)


def check_invariants(gateway: Gateway, *, complete: bool) -> dict[str, int]:
    """Every fund's seqs are 1..n and chained; every sealed record is in exactly one batch."""
    verification = gateway.keys.verification_keys(KeyUse.BATCH)
    cipher = gateway.keys.identity_cipher()
    seen: Counter[str] = Counter()
    batches_per_fund: dict[str, int] = {}
    with gateway.sessions() as session:
        for fund in gateway.funds:
            batches = list(
                session.scalars(select(Batch).where(Batch.fund_id == fund.id).order_by(Batch.seq))
            )
            assert [b.seq for b in batches] == list(range(1, len(batches) + 1)), fund.id
            previous = None
            for batch in batches:
                content = open_content(cipher, batch)
                assert batch.digest == wire.digest_of(content)
                assert batch.previous_digest == previous
                previous = batch.digest
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SecurityWarning)
                    token = jws.deserialize_compact(
                        content.decode(), verification, algorithms=["EdDSA"]
                    )
                payload = json.loads(token.payload)
                assert (payload["seq"], payload["fund_id"]) == (batch.seq, fund.id)
                assert payload["record_count"] == len(payload["records"]) == batch.record_count
                seen.update(record["record_id"] for record in payload["records"])
            batches_per_fund[fund.id] = len(batches)
        sealed = dict(
            session.execute(
                select(Disclosure.id, Disclosure.batch_id).where(Disclosure.batch_id.is_not(None))
            ).all()
        )
        pending = session.scalars(select(Disclosure.id).where(Disclosure.state == "pending")).all()
        total = session.scalars(select(Disclosure.id)).all()
    assert all(count == 1 for count in seen.values()), "a record was sealed twice"
    assert set(seen) == set(sealed), "the batches and the outbox disagree"
    assert len(sealed) + len(pending) == len(total), "a record is neither pending nor sealed"
    if complete:
        assert pending == []
        assert len(total) == DECISIONS * len(gateway.funds)
    return batches_per_fund


def test_sealing_killed_at_random_points_never_loses_or_repeats_a_record(gateway: Gateway) -> None:
    load(gateway)
    rng = random.Random(SEED)  # noqa: S311 - reproducible kill times
    sealed_after_each_kill = []
    for _ in range(KILLS):
        worker = gateway.command("seal", GATEWAY_BATCH_MAX_RECORDS="1")
        kill_once_working(worker, lambda: batch_count(gateway), rng, within_s=0.2)
        sealed_after_each_kill.append(sum(check_invariants(gateway, complete=False).values()))
    # The kills landed while there was work: progress between them, some left at the end.
    total_batches = DECISIONS * len(gateway.funds)
    # At least one kill landed mid-work (on a fast machine later workers may find less).
    assert any(0 < n < total_batches for n in sealed_after_each_kill), sealed_after_each_kill
    finishing = gateway.command("seal", capture=True, GATEWAY_BATCH_MAX_RECORDS="1")
    _, errors = finishing.communicate(timeout=300)
    assert finishing.returncode == 0, errors.decode()[-2000:]
    per_fund = check_invariants(gateway, complete=True)
    assert all(count == DECISIONS for count in per_fund.values())


def test_two_sealers_racing_never_repeat_or_skip_a_seq(gateway: Gateway) -> None:
    load(gateway)
    loaded = load_file(DEFAULT_POLICY)
    errors: list[BaseException] = []

    def work() -> None:
        engine = make_engine(gateway.url)
        try:
            sealing.seal(
                make_sessionmaker(engine),
                gateway.keys,
                IdentityKeys.from_store(gateway.keys),
                loaded,
                max_records=3,
            )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    check_invariants(gateway, complete=True)


class Receiver:
    """A fund's push endpoint in a thread: verifies order, answers signed receipts."""

    def __init__(self, fund: Callable[[], Client], keys: GatewayKeys) -> None:
        self.fund = fund
        self.keys = keys
        self.accepted: dict[int, bytes] = {}  # seq -> receipt, kept to answer repeats alike
        self.deliveries: list[int] = []
        self.out_of_order = 0
        self.lock = threading.Lock()
        self.port = free_port()
        app = Starlette(routes=[Route("/batches", self.receive, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/batches"

    async def receive(self, request: Request) -> Response:
        content = await request.body()
        await asyncio.sleep(0.05)  # a fund's back office takes its time: kills land mid-run
        seq = int(request.headers["Batch-Seq"])
        with self.lock:
            self.deliveries.append(seq)
            if seq in self.accepted:
                return Response(self.accepted[seq], media_type=wire.JOSE_MEDIA_TYPE)
            if seq != len(self.accepted) + 1:
                self.out_of_order += 1
                return Response(status_code=409)
            receipt = self.receipt(content)
            self.accepted[seq] = receipt
            return Response(receipt, media_type=wire.JOSE_MEDIA_TYPE)

    def receipt(self, content: bytes) -> bytes:
        return signed_receipt(self.fund(), content, self.keys)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_pushing_killed_at_random_points_delivers_every_batch_once_in_order(
    gateway: Gateway,
) -> None:
    receiver = Receiver(lambda: gateway.funds[2], gateway.keys)
    with receiver:
        load(gateway, push_endpoint=receiver.url)
        sealer = gateway.command("seal", capture=True, GATEWAY_BATCH_MAX_RECORDS="3")
        _, errors = sealer.communicate(timeout=300)
        assert sealer.returncode == 0, errors.decode()[-2000:]
        pushed = gateway.funds[2].id
        with gateway.sessions() as session:
            expected = len(session.scalars(select(Batch.id).where(Batch.fund_id == pushed)).all())
        assert expected >= DECISIONS // 3
        rng = random.Random(SEED + 1)  # noqa: S311 - reproducible kill times
        accepted_after_each_kill = []
        for _ in range(KILLS):
            worker = gateway.command("push")
            kill_once_working(worker, lambda: len(receiver.accepted), rng, within_s=0.4)
            assert receiver.out_of_order == 0
            assert sorted(receiver.accepted) == list(range(1, len(receiver.accepted) + 1))
            accepted_after_each_kill.append(len(receiver.accepted))
        # At least one kill landed mid-delivery.
        assert any(0 < n < expected for n in accepted_after_each_kill), accepted_after_each_kill
        for _ in range(5):  # until everything is acknowledged; each run is bounded
            finishing = gateway.command("push", capture=True)
            _, errors = finishing.communicate(timeout=300)
            assert finishing.returncode == 0, errors.decode()[-2000:]
            if len(receiver.accepted) == expected:
                break
    assert sorted(receiver.accepted) == list(range(1, expected + 1))
    assert receiver.out_of_order == 0
    with gateway.sessions() as session:
        states = set(session.scalars(select(Batch.state).where(Batch.fund_id == pushed)))
        receipts = session.scalars(select(Receipt.batch_id).where(Receipt.fund_id == pushed)).all()
    assert states == {"acknowledged"}
    assert len(receipts) == len(set(receipts)) == expected
    check_invariants(gateway, complete=True)
