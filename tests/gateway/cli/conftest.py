"""Fixtures of the command-line tests: a fresh installation on SQLite, in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.cli import Cli

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)  # no stray .env file is read
    made = Cli.installed(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")
    made.run("db", "upgrade")
    return made


@pytest.fixture
def add(cli: Cli) -> Callable[..., str]:
    """``gateway participants add`` with a fresh public key; extra arguments appended."""

    def run(participant_id: str, kind: str, *extra: str, code: int = 0) -> str:
        return cli.run(
            "participants",
            "add",
            participant_id,
            "--kind",
            kind,
            "--name",
            f"Test {participant_id}",
            "--jwk",
            cli.public_jwk(participant_id),
            *extra,
            code=code,
        )

    return run
