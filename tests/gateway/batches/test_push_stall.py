"""Push that cannot stall: attempts bounded in total, funds served side by side, and the
per-fund lock taken, kept and released on one connection, across workers and crashes.

Each test runs on a database of its own with committed data, because the pushers under
test are threads and processes with connections of their own; the funds' endpoints are
real HTTP servers on loopback.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.batches import delivery, repository
from gateway.batches.models import Batch, DeliveryAttempt
from gateway.jobs import PushJob
from gateway.keys import GatewayKeys
from gateway.participants.models import Participant, Regime
from gateway.settings import Environment, Settings
from gateway.storage.base import utcnow
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import BASE_URL, Client, Prefecture, make_prefecture, register, seal
from tests.support.endpoints import Endpoints
from tests.support.factories import decision, identity
from tests.support.processes import gateway_command


@dataclass
class Stage:
    """A committed database, its keys, a prefecture in 93 and the funds' endpoints."""

    url: str
    key_dir: Path
    engine: Engine
    sessions: sessionmaker[Session]
    keys: GatewayKeys
    endpoints: Endpoints
    prefecture: Prefecture
    decisions: int = 0
    funds: list[Client] = field(default_factory=list)

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def settings(self, **over: Any) -> Settings:
        base = Settings(database_url=self.url, key_dir=self.key_dir, public_base_url=BASE_URL)
        return base.model_copy(update=over)

    def fund(self, prefix: str, regime: Regime, kind: str) -> Client:
        """A fund of 93 pushed to at the endpoint of ``kind`` (ok, fail, slow)."""
        with self.sessions.begin() as session:
            fund = register(session, "fund", prefix=prefix, regime=regime, departements=["93"])
        self.endpoints.funds[fund.id] = fund
        self.point(fund, kind)
        self.funds.append(fund)
        return fund

    def point(self, fund: Client, kind: str) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(Participant)
                .where(Participant.id == fund.id)
                .values(push_endpoint=self.endpoints.url(kind, fund.id))
            )

    def batches(self, count: int) -> None:
        """``count`` more batches for every fund: a decision, sealed, ``count`` times."""
        for _ in range(count):
            self.decisions += 1
            self.prefecture.created(
                decision(
                    f"STALL-{self.decisions}",
                    identity=identity(
                        residence_departement="93", agdref_number=f"93{self.decisions:08d}"
                    ),
                )
            )
            seal(self.sessions, self.keys)

    def states(self, fund: Client) -> list[str]:
        with self.sessions() as session:
            statement = select(Batch.state).where(Batch.fund_id == fund.id).order_by(Batch.seq)
            return list(session.scalars(statement))

    def attempts(self, fund: Client) -> list[DeliveryAttempt]:
        with self.sessions() as session:
            statement = select(DeliveryAttempt).where(DeliveryAttempt.fund_id == fund.id)
            return list(session.scalars(statement.order_by(DeliveryAttempt.id)))

    def held_locks(self) -> int:
        with self.sessions() as session:
            return repository.held_push_locks(session)

    def gateway(self, *args: str, capture: bool = False, **extra: str) -> subprocess.Popen[bytes]:
        """Start a command; ``capture`` its errors when it is to finish, not be killed."""
        return gateway_command(self.url, self.key_dir, *args, capture=capture, **extra)


@pytest.fixture
def stage(
    migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stage]:
    monkeypatch.chdir(tmp_path)
    key_dir = tmp_path / "keys"
    keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    engine = make_engine(migrated_database_url)
    sessions = make_sessionmaker(engine)
    settings = Settings(
        database_url=migrated_database_url, key_dir=key_dir, public_base_url=BASE_URL
    )

    def participant(kind: str, **options: Any) -> Client:
        with sessions.begin() as session:
            return register(session, kind, **options)

    with ExitStack() as stack:
        stack.callback(engine.dispose)
        endpoints = stack.enter_context(Endpoints(keys, delay_s=0.02))
        app = create_app(settings, keys=keys, engine=engine, sessions=sessions)
        http = stack.enter_context(TestClient(app, base_url=BASE_URL))
        prefecture = make_prefecture(http, settings, participant, departements=["93"])
        yield Stage(migrated_database_url, key_dir, engine, sessions, keys, endpoints, prefecture)


def wait_for(condition: Callable[[], bool], within_s: float, what: str) -> float:
    """Poll until ``condition``; the seconds it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within_s, f"{what}: not within {within_s} s"
        time.sleep(0.02)
    return time.monotonic() - started


# -- (a) one slow fund stalls nobody ----------------------------------------------------


@pytest.mark.slow
def test_a_fund_trickling_its_answers_is_cut_at_the_bound_and_delays_no_other(
    stage: Stage,
) -> None:
    settings = stage.settings(
        push_attempt_seconds=1.0,
        push_timeout_seconds=5,  # each read is far quicker: only the whole attempt is cut
        push_backoff_base_seconds=0.2,
        push_backoff_cap_seconds=0.4,
        push_max_attempts=100,
    )
    # Served first when funds are taken one after the other: by their ids.
    slow = stage.fund("a-slow", Regime.CAF, "slow")
    healthy = stage.fund("b-healthy", Regime.URSSAF, "ok")
    stage.batches(1)
    sealed_at: dict[int, float] = {1: time.monotonic()}
    with delivery.Pusher(stage.sessions, settings) as pusher:
        started = time.monotonic()
        while time.monotonic() - started < 3.5:
            pusher.start()  # what the worker's job does, every push interval
            if len(sealed_at) < 4 and time.monotonic() - sealed_at[len(sealed_at)] > 0.7:
                stage.batches(1)  # another batch for each fund, while the slow one stalls
                sealed_at[len(sealed_at) + 1] = time.monotonic()
            time.sleep(0.1)
    delivered_at = stage.endpoints.times(healthy.id)
    waits = {seq: round(delivered_at[seq] - sealed_at[seq], 2) for seq in sealed_at}
    # Each of the healthy fund's batches arrived within a second of its sealing, all while
    # the slow fund's attempts were being cut, one after the other.
    assert all(wait < 1.0 for wait in waits.values()), waits
    assert stage.states(healthy) == ["acknowledged"] * 4
    slow_attempts = stage.attempts(slow)
    assert len(slow_attempts) >= 2
    for attempt in slow_attempts:
        assert not attempt.accepted
        assert attempt.error == "timed out: no whole answer in 1 s"
        assert 1000 <= attempt.duration_ms < 1600, attempt.duration_ms
    assert set(stage.endpoints.seqs(slow.id)) == {1}  # in order: the first, again and again
    assert stage.states(slow) == ["sealed"] * 4


def test_a_run_waits_for_no_fund_beyond_one_bounded_attempt(stage: Stage) -> None:
    settings = stage.settings(push_attempt_seconds=1.5, push_timeout_seconds=5)
    slow = stage.fund("a-slow", Regime.CAF, "slow")
    healthy = stage.fund("b-healthy", Regime.URSSAF, "ok")
    stage.batches(2)
    started = time.monotonic()
    attempts = delivery.deliver(stage.sessions, settings)
    took = time.monotonic() - started
    assert [(a.fund_id, a.seq, a.accepted) for a in attempts] == [
        (slow.id, 1, False),
        (healthy.id, 1, True),
        (healthy.id, 2, True),
    ]
    assert took < 2.5, took
    # The healthy fund did not wait for the slow one: both were served at once, and the
    # healthy one was done before the slow one's attempt was cut.
    assert max(stage.endpoints.times(healthy.id).values()) - started < 1.0
    assert stage.states(slow) == ["sealed", "sealed"]


@pytest.mark.slow
def test_the_workers_push_job_returns_at_once_and_leaves_a_fund_under_way_to_its_task(
    stage: Stage,
) -> None:
    # The slow fund's attempt lasts 4 s: every bound below is well inside it, with room
    # for a loaded machine, and would be missed by a run that waited for it.
    settings = stage.settings(push_attempt_seconds=4.0, push_timeout_seconds=10)
    slow = stage.fund("a-slow", Regime.CAF, "slow")
    healthy = stage.fund("b-healthy", Regime.URSSAF, "ok")
    stage.batches(1)
    job = PushJob()
    try:
        started = time.monotonic()
        assert job(stage.sessions, settings) == 2  # both funds' tasks started
        assert time.monotonic() - started < 1.0  # and the run did not wait for them
        wait_for(lambda: stage.states(healthy) == ["acknowledged"], 1.5, "the healthy fund")
        stage.batches(1)
        # The next run: the healthy fund is served again, the slow one is left to its task.
        assert job(stage.sessions, settings) == 1
        wait_for(lambda: stage.states(healthy) == ["acknowledged"] * 2, 1.5, "its next batch")
        assert time.monotonic() - started < 3.5  # all while the slow attempt was under way
    finally:
        job.close()
    assert stage.endpoints.seqs(slow.id) == [1]
    assert [a.accepted for a in stage.attempts(slow)] == [False]


# -- (b) the lock: one connection, released, taken over ----------------------------------


@pytest.fixture
def notices(stage: Stage) -> list[str]:
    """What the PostgreSQL server says to the stage's connections (warnings included)."""
    said: list[str] = []

    @event.listens_for(stage.engine, "connect")
    def _listen(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.add_notice_handler(lambda notice: said.append(notice.message_primary))

    stage.engine.dispose()  # connections from now on are listened to
    return said


ON_POSTGRESQL = pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)


@pytest.mark.slow
@ON_POSTGRESQL
def test_the_push_lock_is_released_on_the_connection_that_took_it(
    stage: Stage, notices: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    settings = stage.settings(push_max_attempts=100)
    regimes = [Regime.CAF, Regime.CPAM, Regime.URSSAF]
    failing = [stage.fund(f"f{n}-failing", regime, "fail") for n, regime in enumerate(regimes)]
    stage.batches(1)
    # A pool of several connections, as a worker's is after its other jobs have run.
    warm = [stage.engine.connect() for _ in range(4)]
    for pooled in warm:
        pooled.close()
    now = utcnow()
    for _ in range(8):
        now += timedelta(hours=2)  # past any backoff: every fund is due again
        attempts = delivery.deliver(stage.sessions, settings, now=now)
        assert len(attempts) == len(failing)
        assert not any(a.accepted for a in attempts)
        assert stage.held_locks() == 0
    assert "you don't own a lock" not in " ".join(notices)
    assert not [r for r in caplog.records if "push lock" in r.getMessage()]
    for fund in failing:
        assert len(stage.attempts(fund)) == 8
    # Another worker, on an engine of its own, takes each fund at once.
    other = make_engine(stage.url)
    try:
        for fund in failing:
            with repository.push_lock(other, fund.id) as (taken, connection):
                assert taken
                assert connection is not None
    finally:
        other.dispose()
    assert stage.held_locks() == 0


@pytest.mark.slow
@ON_POSTGRESQL
def test_a_worker_killed_mid_attempt_leaves_the_fund_to_the_next_at_once(
    stage: Stage, notices: list[str]
) -> None:
    fund = stage.fund("a-pushed", Regime.CAF, "slow")
    stage.batches(2)
    # A worker stuck in a long attempt, holding the fund's lock.
    stuck = stage.gateway(
        "push", GATEWAY_PUSH_ATTEMPT_SECONDS="30", GATEWAY_PUSH_TIMEOUT_SECONDS="30"
    )
    try:
        wait_for(lambda: stage.endpoints.seqs(fund.id) == [1], 30, "the worker's attempt")
        assert stage.held_locks() == 1
        stage.point(fund, "ok")  # the fund's endpoint is well again
        # While the worker holds the fund, nobody else pushes to it.
        assert delivery.deliver(stage.sessions, stage.settings()) == []
        stuck.send_signal(signal.SIGKILL)
        stuck.wait(timeout=10)
    finally:
        if stuck.poll() is None:
            stuck.kill()
            stuck.wait()
    released = wait_for(lambda: stage.held_locks() == 0, 5, "the lock's release")
    assert released < 1.0, released
    attempts = delivery.deliver(stage.sessions, stage.settings())
    assert [(a.seq, a.accepted) for a in attempts] == [(1, True), (2, True)]
    assert stage.endpoints.seqs(fund.id) == [1, 1, 2]  # the cut attempt, sent again, once
    assert stage.states(fund) == ["acknowledged", "acknowledged"]
    assert stage.held_locks() == 0
    assert "you don't own a lock" not in " ".join(notices)


# -- (c) two workers at once: nothing twice, nothing out of order -------------------------


@pytest.mark.slow
def test_two_workers_pushing_at_once_send_each_batch_once_and_in_order(stage: Stage) -> None:
    funds = [
        stage.fund("a-pushed", Regime.CAF, "ok"),
        stage.fund("b-pushed", Regime.URSSAF, "ok"),
    ]
    stage.batches(8)
    if stage.postgresql:
        # Two worker processes, each with its own engine and pool.
        workers = [stage.gateway("push", capture=True) for _ in range(2)]
        for worker in workers:
            _, errors = worker.communicate(timeout=120)
            assert worker.returncode == 0, errors.decode()[-2000:]
    else:
        # SQLite: one process, two pushers on engines of their own, at once.
        errors_seen: list[BaseException] = []

        def work() -> None:
            engine = make_engine(stage.url)
            try:
                delivery.deliver(make_sessionmaker(engine), stage.settings())
            except BaseException as error:  # noqa: BLE001 - reported below
                errors_seen.append(error)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors_seen == []
    for fund in funds:
        assert stage.endpoints.seqs(fund.id) == list(range(1, 9))
        assert stage.endpoints.most_in_flight[fund.id] == 1
        assert stage.states(fund) == ["acknowledged"] * 8
        assert [a.accepted for a in stage.attempts(fund)] == [True] * 8
    if stage.postgresql:
        assert stage.held_locks() == 0
