"""Scheduled jobs: the replay cache purge, and ``gateway worker --once``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway import jobs
from gateway.auditlog.models import AuditCheckpoint, AuditEvent, AuditLogLeaf
from gateway.auth.models import UsedJti
from gateway.auth.repository import claim_once
from gateway.cli.main import app
from gateway.storage import migrate
from gateway.storage.base import utcnow
from gateway.storage.engine import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker


def _remaining(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(UsedJti.jti)))


def _claim(sessions: sessionmaker[Session], offsets: dict[str, timedelta]) -> None:
    now = utcnow()
    with sessions.begin() as session:
        for jti, offset in offsets.items():
            assert claim_once(session, "assertion", "cpam-13", jti, now + offset)


def test_purge_removes_only_expired_identifiers(sessions: sessionmaker[Session]) -> None:
    assert _remaining(sessions) == set()
    _claim(
        sessions,
        {
            "expired-long-ago": timedelta(days=-2),
            "expired-just-now": timedelta(seconds=-1),
            "valid-for-a-minute": timedelta(minutes=1),
            "valid-for-a-day": timedelta(days=1),
        },
    )
    assert jobs.purge_replay_cache(sessions) == 2
    assert _remaining(sessions) == {"valid-for-a-minute", "valid-for-a-day"}


def test_purge_twice_is_safe(sessions: sessionmaker[Session]) -> None:
    _claim(sessions, {"old": timedelta(hours=-1), "new": timedelta(hours=1)})
    assert jobs.purge_replay_cache(sessions) == 1
    assert jobs.purge_replay_cache(sessions) == 0
    assert _remaining(sessions) == {"new"}


def test_purge_of_an_empty_cache(sessions: sessionmaker[Session]) -> None:
    assert jobs.purge_replay_cache(sessions) == 0


def test_a_purged_identifier_could_be_claimed_again(sessions: sessionmaker[Session]) -> None:
    _claim(sessions, {"jti-1": timedelta(minutes=-5)})
    with sessions.begin() as session:
        assert not claim_once(session, "assertion", "cpam-13", "jti-1", utcnow())
    jobs.purge_replay_cache(sessions)
    with sessions.begin() as session:
        assert claim_once(session, "assertion", "cpam-13", "jti-1", utcnow() + timedelta(minutes=1))
        count = session.scalar(select(func.count()).select_from(UsedJti))
    assert count == 1


def test_purge_logs_the_count(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.jobs")
    _claim(sessions, {"old": timedelta(hours=-1)})
    jobs.purge_replay_cache(sessions)
    records = [r for r in caplog.records if r.name == "gateway.jobs"]
    assert [(r.getMessage(), getattr(r, "removed", None)) for r in records] == [
        ("replay cache purged", 1)
    ]


@pytest.mark.usefixtures("restore_logging")
def test_worker_once_runs_the_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        _claim(sessions, {"old": timedelta(hours=-1), "new": timedelta(hours=1)})
        env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_KEY_DIR": str(tmp_path / "keys")}
        # A worker signs batches and audit checkpoints: it has the gateway's keys.
        assert CliRunner().invoke(app, ["keys", "init"], env=env).exit_code == 0
        result = CliRunner().invoke(app, ["worker", "--once"], env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        assert _remaining(sessions) == {"new"}
        # The worker writes JSON log lines, one per job run and one per purge.
        assert '"message": "replay cache purged"' in result.output
        assert '"removed": 1' in result.output
    finally:
        engine.dispose()


@pytest.mark.usefixtures("restore_logging")
def test_worker_once_on_a_fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_KEY_DIR": str(tmp_path / "keys")}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(app, ["keys", "init"], env=env).exit_code == 0
    result = runner.invoke(app, ["worker", "--once"], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output


@pytest.mark.usefixtures("restore_logging")
def test_worker_once_logs_the_audit_events_and_signs_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_KEY_DIR": str(tmp_path / "keys")}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(app, ["keys", "init"], env=env).exit_code == 0  # an audited action
    result = runner.invoke(app, ["worker", "--once"], env=env)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            events = session.scalar(select(func.count()).select_from(AuditEvent))
            leaves = session.scalar(select(func.count()).select_from(AuditLogLeaf))
            signed = session.scalars(select(AuditCheckpoint.tree_size)).all()
    finally:
        engine.dispose()
    assert events
    assert leaves == events  # every event is in the log
    assert signed == [leaves]  # and a checkpoint signs all of it
