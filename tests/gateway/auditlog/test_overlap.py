"""Checkpoint signers that overlap: two workers (or a worker and an operator) signing at
once both finish, one checkpoint per size, no error; the second says it was signed.

On a database of the test's own with committed data: the signers are threads with
connections of their own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from gateway import jobs
from gateway.auditlog.models import AuditCheckpoint
from gateway.keys import GatewayKeys
from gateway.settings import Environment, Settings
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.gateway.auditlog.test_log import write_events
from tests.support.actors import BASE_URL
from tests.support.cli import invoke

ROUNDS = 12


@pytest.fixture
def installation(migrated_database_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Settings]]:
    key_dir = tmp_path / "keys"
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    settings = Settings(
        database_url=migrated_database_url, key_dir=key_dir, public_base_url=BASE_URL
    )
    engine = make_engine(migrated_database_url)
    try:
        yield engine, settings
    finally:
        engine.dispose()


@pytest.mark.slow  # a dozen rounds of two threads racing: a few seconds
def test_two_checkpoint_signers_at_once_sign_each_size_once_without_error(
    installation: tuple[Engine, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    engine, settings = installation
    sessions = make_sessionmaker(engine)
    caplog.set_level(logging.WARNING)
    errors: list[BaseException] = []
    signed: list[int] = []

    def signer(barrier: threading.Barrier) -> None:
        own = make_engine(settings.database_url)
        try:
            barrier.wait(timeout=30)
            signed.append(jobs.sign_audit_checkpoint(make_sessionmaker(own), settings))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            own.dispose()

    for round_number in range(ROUNDS):
        write_events(sessions, 5, tag=f"r{round_number}")
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=signer, args=(barrier,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    with sessions() as session:
        sizes = list(session.scalars(select(AuditCheckpoint.tree_size)))
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == ROUNDS
    # Each round, one signer signed the grown log; the other found it signed.
    assert sorted(size for size in signed if size) == sorted(sizes)
    assert signed.count(0) == ROUNDS


def test_a_second_checkpoint_command_says_the_checkpoint_is_signed(
    installation: tuple[Engine, Settings],
) -> None:
    engine, settings = installation
    env = {"GATEWAY_DATABASE_URL": settings.database_url, "GATEWAY_KEY_DIR": str(settings.key_dir)}
    assert invoke("audit", "checkpoint", env=env) == "the log is empty: no checkpoint"
    write_events(make_sessionmaker(engine), 3)
    first = invoke("audit", "checkpoint", env=env)
    assert first.startswith("checkpoint of size ")
    size = first.removeprefix("checkpoint of size ")
    second = invoke("audit", "checkpoint", env=env)
    assert second == f"the checkpoint of size {size} is already signed: the log has not grown"
