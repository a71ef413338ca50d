"""A sealing run leaves nothing behind because another sealer was busy with a fund.

An express run holds a fund's sealing lock while it builds that fund's batch; a regular
run reaching the same fund then waits for that batch to commit and seals everything
still pending, rather than skipping the fund until its next run (an hour later by
default). A lock held past the wait bound (a stuck sealer) leaves the fund for the next
run with a warning, never an error.

PostgreSQL only: the lock is a PostgreSQL advisory lock (SQLite has one writer, so
sealers never overlap there). Each test has a database of its own with committed data,
since the sealers are threads with connections of their own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.batches import repository, sealing
from gateway.batches.models import Batch
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Environment, Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import BASE_URL, Client, make_prefecture, register, seal
from tests.support.factories import decision, identity

EXPRESS = 2  # renewal refusals: the policy's high class, sealed express
REGULAR = 3  # first-permit refusals: the normal class, sealed by regular runs only


@dataclass
class Outbox:
    engine: Engine
    sessions: sessionmaker[Session]
    keys: GatewayKeys
    fund: Client

    def pending(self) -> int:
        with self.sessions() as session:
            statement = select(func.count()).where(
                Disclosure.fund_id == self.fund.id, Disclosure.state == DisclosureState.PENDING
            )
            return int(session.scalar(statement) or 0)

    def seqs(self) -> list[int]:
        with self.sessions() as session:
            statement = select(Batch.seq).where(Batch.fund_id == self.fund.id)
            return list(session.scalars(statement.order_by(Batch.seq)))


@pytest.fixture
def outbox(postgres_database: Callable[[], Generator[str]], tmp_path: Path) -> Iterator[Outbox]:
    """A CPAM of 93 owed ``EXPRESS`` express and ``REGULAR`` regular records, committed."""
    databases = postgres_database()
    url = next(databases)
    migrate.upgrade(url)
    key_dir = tmp_path / "keys"
    keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)

    def participant(kind: str, **options: Any) -> Client:
        with sessions.begin() as session:
            return register(session, kind, **options)

    try:
        fund = participant("fund", regime=Regime.CPAM, departements=["93"])
        settings = Settings(database_url=url, key_dir=key_dir, public_base_url=BASE_URL)
        app = create_app(settings, keys=keys, engine=engine, sessions=sessions)
        with TestClient(app, base_url=BASE_URL) as http:
            prefecture = make_prefecture(http, settings, participant, departements=["93"])
            person = identity(residence_departement="93")
            for n in range(EXPRESS):
                prefecture.created(decision(f"EX-{n}", identity=person))
            for n in range(REGULAR):
                body = decision(f"RG-{n}", kind="first-permit-refusal", identity=person)
                prefecture.created(body)
        yield Outbox(engine, sessions, keys, fund)
    finally:
        engine.dispose()
        databases.close()


def test_a_regular_run_waits_for_an_express_batch_and_seals_what_it_left(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = threading.Event()
    release = threading.Event()
    original = sealing.seal_one

    def express_holding_its_lock(*args: Any, **kwargs: Any) -> sealing.SealedBatch | None:
        """The express run's batch, built and then held open, its lock with it."""
        batch = original(*args, **kwargs)
        if kwargs["ranks"] is not None and batch is not None:
            built.set()
            assert release.wait(timeout=30)
        return batch

    monkeypatch.setattr(sealing, "seal_one", express_holding_its_lock)
    results: dict[str, list[sealing.SealedBatch]] = {}
    errors: list[BaseException] = []

    def run(name: str, **options: Any) -> None:
        try:
            results[name] = seal(outbox.sessions, outbox.keys, **options)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    express = threading.Thread(target=run, args=("express",), kwargs={"express_only": True})
    express.start()
    assert built.wait(timeout=30), "the express run built no batch"
    regular = threading.Thread(target=run, args=("regular",))
    try:
        regular.start()
        regular.join(timeout=1.0)
        # The regular run reached the fund while the express batch held its lock: it waits.
        assert regular.is_alive(), "the regular run returned without waiting for the fund"
    finally:
        release.set()
    express.join(timeout=30)
    regular.join(timeout=30)
    assert errors == []
    assert [(b.seq, b.record_count, b.express) for b in results["express"]] == [(1, EXPRESS, True)]
    assert [(b.seq, b.record_count, b.express) for b in results["regular"]] == [(2, REGULAR, False)]
    assert outbox.pending() == 0
    assert outbox.seqs() == [1, 2]


def test_a_lock_held_past_the_wait_leaves_the_fund_for_the_next_run(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.sealing")
    with outbox.sessions.begin() as holder:  # a stuck sealer's transaction
        assert repository.lock_for_sealing(holder, outbox.fund.id, wait_s=0)
        assert seal(outbox.sessions, outbox.keys, lock_wait_s=0.3) == []
        assert outbox.pending() == EXPRESS + REGULAR
    warnings = [r for r in caplog.records if r.name == "gateway.sealing"]
    assert [(r.getMessage(), getattr(r, "fund_id", None)) for r in warnings] == [
        ("sealing left for the next run: the fund's lock stayed held", outbox.fund.id)
    ]
    assert all(r.levelno == logging.WARNING for r in warnings)
    # Freed, the next run seals everything, in one batch with no gap.
    (batch,) = seal(outbox.sessions, outbox.keys)
    assert (batch.seq, batch.record_count) == (1, EXPRESS + REGULAR)
    assert outbox.pending() == 0
