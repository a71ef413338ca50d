"""Purges that overlap: one at a time, the other does nothing and says so, no error and
nothing done twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.identities.models import Identity
from gateway.keys import GatewayKeys
from gateway.retention import purge
from gateway.retention.models import PurgeRun
from gateway.settings import Environment, Settings
from gateway.storage.engine import make_engine, make_sessionmaker
from gateway.storage.locks import single_flight
from tests.gateway.retention.test_purge import IDENTITY_DAYS, POLICY, later
from tests.support.actors import BASE_URL, Client, make_prefecture, register
from tests.support.cli import invoke
from tests.support.factories import decision

DUE = 1200  # decisions whose identity data is past retention: two chunks


def test_a_purge_while_another_runs_does_nothing_and_says_so(
    database_url: str, engine: Engine, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    elsewhere = make_sessionmaker(engine)  # another worker's connection
    with single_flight(elsewhere, purge.JOB) as held:
        assert held
        if engine.dialect.name != "postgresql":
            return  # SQLite: one writer, no job lock (each chunk finds what is left)
        with single_flight(elsewhere, purge.JOB) as again:
            assert not again
        report = purge.run(elsewhere, POLICY, now=later(IDENTITY_DAYS + 1))
        assert report.skipped == purge.SKIPPED
        assert report.classes == {}
        assert report.as_dict()["skipped"] == purge.SKIPPED
        with elsewhere() as session:
            assert session.get(PurgeRun, report.id) is None
        env = {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_KEY_DIR": str(settings.key_dir)}
        output = invoke("retention", "purge", env=env)
        assert output == f"Purge not run: {purge.SKIPPED}."
        shown = json.loads(invoke("retention", "purge", "--json", env=env))
        assert shown["skipped"] == purge.SKIPPED
        # A dry run changes nothing: it runs whoever purges (in the test's transaction).
        dry = purge.run(sessions, POLICY, dry_run=True, now=later(IDENTITY_DAYS + 1))
        assert dry.skipped is None
        assert dry.classes["identity_data"]["purged"] == 0
    with single_flight(elsewhere, purge.JOB) as free:
        assert free  # released when the holder is done


@pytest.fixture
def backlog(migrated_database_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A database of the test's own with DUE decisions that no fund awaits."""
    key_dir = tmp_path / "keys"
    keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    engine = make_engine(migrated_database_url)
    sessions = make_sessionmaker(engine)

    def participant(kind: str, **options: Any) -> Client:
        with sessions.begin() as session:
            return register(session, kind, **options)

    settings = Settings(
        database_url=migrated_database_url, key_dir=key_dir, public_base_url=BASE_URL
    )
    app = create_app(settings, keys=keys, engine=engine, sessions=sessions)
    try:
        with TestClient(app, base_url=BASE_URL) as http:
            prefecture = make_prefecture(http, settings, participant, departements=["75"])
            content = "\n".join(json.dumps(decision(f"OLD-{n}")) for n in range(DUE))
            imported = prefecture.imported(content.encode(), sessions, keys)
            assert imported["accepted"] == DUE
        yield sessions
    finally:
        engine.dispose()


@pytest.mark.slow  # a thousand decisions imported, then two purges racing: seconds
def test_two_purges_at_once_finish_without_error_and_shred_each_identity_once(
    backlog: sessionmaker[Session],
) -> None:
    url = str(backlog.kw["bind"].url.render_as_string(hide_password=False))
    reports: list[purge.PurgeReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    now = later(IDENTITY_DAYS + 1)

    def purging() -> None:
        engine = make_engine(url)
        try:
            barrier.wait(timeout=30)
            reports.append(purge.run(make_sessionmaker(engine), POLICY, now=now))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=purging) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    ran = [report for report in reports if report.skipped is None]
    assert ran, "neither purge ran"
    # Together they shredded every identity due, once: no decision counted twice.
    assert sum(report.classes["identity_data"]["purged"] for report in ran) == DUE
    with backlog() as session:
        unshredded = select(func.count()).where(Identity.shredded_at.is_(None))
        assert session.scalar(unshredded) == 0
        assert session.scalar(select(func.count()).select_from(PurgeRun)) == len(ran)
    if backlog.kw["bind"].dialect.name == "postgresql":
        # Single-flight: the second found the first running (or nothing left after it).
        assert len(ran) == 1 or min(r.classes["identity_data"]["purged"] for r in ran) == 0
