"""The registry's cache: a change forgotten the moment it commits, here (both databases)
and, on PostgreSQL, as its notification arrives from another process; a read older
than a change never kept; nothing trusted while no notification can arrive."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import text, update

from gateway.participants import cache, repository
from gateway.participants.cache import RegistryCache
from gateway.participants.changes import CHANNEL
from gateway.participants.models import Participant, ParticipantStatus
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker
from gateway.storage.notifications import WAIT_SECONDS, Listener, libpq_url
from tests.support.actors import register, set_status

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tests.support.actors import Client, Register

RECONNECT_WAIT_S = 10.0
NOTIFICATION_WAIT_S = 2.0


@pytest.fixture
def registry(engine: Engine, sessions: sessionmaker[Session]) -> Iterator[RegistryCache]:
    held = RegistryCache(engine, sessions)
    held.start()
    yield held
    held.stop()


def test_a_participant_is_read_once_then_held(
    registry: RegistryCache, participant: Register
) -> None:
    fund = participant("fund")
    assert registry.cached(fund.id) is None
    loaded = registry.load(fund.id)
    assert loaded is not None
    assert loaded.active
    assert registry.cached(fund.id) == loaded


def test_a_suspension_committed_in_this_process_is_forgotten_at_once(
    registry: RegistryCache, participant: Register, sessions: sessionmaker[Session]
) -> None:
    fund, other = participant("fund"), participant("fund")
    registry.load(fund.id)
    registry.load(other.id)
    set_status(sessions, fund.id, ParticipantStatus.SUSPENDED)
    assert registry.cached(fund.id) is None
    assert registry.cached(other.id) is not None  # only the participant changed
    reloaded = registry.load(fund.id)
    assert reloaded is not None
    assert not reloaded.active


def test_a_statement_on_the_participants_forgets_everyone(
    registry: RegistryCache, participant: Register, sessions: sessionmaker[Session]
) -> None:
    fund = participant("fund")
    registry.load(fund.id)
    with sessions.begin() as session:
        session.execute(
            update(Participant).where(Participant.id == fund.id).values(require_dpop=True)
        )
    assert registry.cached(fund.id) is None


def test_a_read_older_than_a_change_is_not_kept(
    registry: RegistryCache, participant: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    fund = participant("fund")
    read = repository.get

    def read_then_changed(session: Session, participant_id: str) -> object:
        found = read(session, participant_id)
        registry.forget(participant_id)  # a change committed while the read was on its way
        return found

    monkeypatch.setattr(repository, "get", read_then_changed)
    assert registry.load(fund.id) is not None
    assert registry.cached(fund.id) is None


@pytest.fixture
def committed(postgresql_url: str) -> Iterator[tuple[RegistryCache, Client, Engine]]:
    """A listening cache on a database committed to for real, holding a fund."""
    engine = make_engine(postgresql_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        fund = register(session, "fund")
    registry = RegistryCache(engine, sessions)
    registry.start()
    assert registry.load(fund.id) is not None
    assert registry.cached(fund.id) is not None
    yield registry, fund, engine
    registry.stop()
    engine.dispose()


@pytest.mark.postgresql
def test_a_change_notified_by_another_process_is_forgotten_before_the_next_lookup(
    committed: tuple[RegistryCache, Client, Engine],
) -> None:
    registry, fund, engine = committed
    # Another process: no session of this one, the update and its notification alone.
    with psycopg.connect(
        libpq_url(engine.url.render_as_string(hide_password=False)), autocommit=True
    ) as other:
        other.execute("UPDATE participants SET status = 'suspended' WHERE id = %s", (fund.id,))
        other.execute("SELECT pg_notify(%s, %s)", (CHANNEL, fund.id))
    # Delivered as PostgreSQL hands it to the listening connection: within
    # microseconds on an idle host, later under load; never missed.
    deadline = time.monotonic() + NOTIFICATION_WAIT_S
    while registry.cached(fund.id) is not None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert registry.cached(fund.id) is None
    reloaded = registry.load(fund.id)
    assert reloaded is not None
    assert not reloaded.active


@pytest.mark.postgresql
def test_requests_share_a_round_trip_and_each_sees_every_change_committed_before_it(
    committed: tuple[RegistryCache, Client, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fresh`` on the event loop: a change committed (and notified) by another process
    just before the requests arrive is seen by every one of them, and the round trips
    that prove it are shared, not one per request."""
    registry, fund, engine = committed
    listener = registry._listener  # noqa: SLF001
    assert listener is not None
    round_trips: list[bool] = []
    drain = listener.drain

    def counted() -> bool:
        round_trips.append(True)
        return drain()

    monkeypatch.setattr(listener, "drain", counted)

    async def requests(count: int) -> list[object]:
        return await asyncio.gather(*(registry.fresh(fund.id) for _ in range(count)))

    assert all(found is not None for found in asyncio.run(requests(50)))
    assert 1 <= len(round_trips) < 50
    with psycopg.connect(
        libpq_url(engine.url.render_as_string(hide_password=False)), autocommit=True
    ) as other:
        other.execute("UPDATE participants SET status = 'suspended' WHERE id = %s", (fund.id,))
        other.execute("SELECT pg_notify(%s, %s)", (CHANNEL, fund.id))
    # No waiting here: the requests' round trip itself brings the notification in.
    assert asyncio.run(requests(20)) == [None] * 20
    # A worker thread (the token endpoint) waits for a shared round trip the same way,
    # then reads the participant afresh: suspended.
    current = registry.current(fund.id)
    assert current is not None
    assert not current.active


@pytest.mark.postgresql
def test_nothing_is_trusted_while_the_notifications_cannot_arrive(
    committed: tuple[RegistryCache, Client, Engine],
) -> None:
    registry, fund, engine = committed
    with engine.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'gateway-listener'"
            )
        )
    deadline = time.monotonic() + RECONNECT_WAIT_S
    while registry.cached(fund.id) is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # the backend's exit reaches the socket
    assert registry.cached(fund.id) is None, "the lost connection went unnoticed"
    assert registry.load(fund.id) is not None
    deadline = time.monotonic() + RECONNECT_WAIT_S
    while registry.cached(fund.id) is None and time.monotonic() < deadline:
        registry.load(fund.id)  # kept again once the listener is back
        time.sleep(0.1)
    assert registry.cached(fund.id) is not None


def test_a_listener_stops_at_once_and_lets_its_connection_go(postgresql_url: str) -> None:
    """Stopping does not wait out the thread's wait on the socket (every shutdown would)."""
    listener = Listener(postgresql_url, "gateway_test_stop", lambda _: None, lambda: None)
    listener.start()
    assert listener.listening
    time.sleep(0.05)  # the thread is waiting on the socket
    started = time.monotonic()
    listener.stop()
    assert time.monotonic() - started < WAIT_SECONDS / 2
    listening = [listener.listening]
    listener.start()  # and starts again, listening
    listening.append(listener.listening)
    listener.stop()
    assert listening == [False, True]


def test_on_sqlite_a_change_from_another_process_is_seen_within_the_lifetime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        fund = register(session, "fund")
    monkeypatch.setattr(cache, "SQLITE_TTL_SECONDS", 0.2)
    registry = RegistryCache(engine, sessions)
    registry.start()
    try:
        registry.load(fund.id)
        # Another process: its own connection, no session of this one.
        with sqlite3.connect(tmp_path / "registry.db") as other:
            other.execute("UPDATE participants SET status = 'suspended' WHERE id = ?", (fund.id,))
        assert registry.cached(fund.id) is not None  # not told: held for its lifetime
        time.sleep(0.3)
        assert registry.cached(fund.id) is None
        reloaded = registry.load(fund.id)
        assert reloaded is not None
        assert not reloaded.active
    finally:
        registry.stop()
        engine.dispose()
