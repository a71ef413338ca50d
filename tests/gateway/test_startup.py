"""Fail fast: ``gateway serve`` and ``gateway worker`` refuse to start on a configuration
production must not run, with one line saying what to change and no traceback, and name
the ``GATEWAY_`` variables no setting reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from typer.testing import CliRunner

from gateway import scheduler
from gateway.cli.main import app
from gateway.keys import GatewayKeys
from gateway.settings import Environment
from gateway.startup import unknown_variables

if TYPE_CHECKING:
    from pathlib import Path

POSTGRES = "postgresql+psycopg://gateway@db.example/gateway"
COMMANDS = [["serve", "--port", "8999"], ["worker"]]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What would have started: uvicorn or the scheduler, never for real here."""
    calls: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: calls.append("serve"))
    monkeypatch.setattr(scheduler, "run", lambda *_a, **_k: calls.append("worker"))
    return calls


@pytest.fixture
def production_keys(tmp_path: Path) -> Path:
    directory = tmp_path / "prod-keys"
    GatewayKeys.init(directory, Environment.PRODUCTION)
    return directory


def _run(command: list[str], **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, command, env={"COLUMNS": "300", **env})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _refused(output: str) -> str:
    assert "Traceback" not in output
    (line,) = [line for line in output.splitlines() if line.startswith("refusing to start")]
    return line


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("command", COMMANDS, ids=["serve", "worker"])
def test_production_without_keys_is_refused(
    command: list[str], tmp_path: Path, started: list[str]
) -> None:
    code, output = _run(
        command,
        GATEWAY_ENVIRONMENT="production",
        GATEWAY_DATABASE_URL=POSTGRES,
        GATEWAY_KEY_DIR=str(tmp_path / "nowhere"),
    )
    assert code == 1
    assert "gateway keys init" in _refused(output)
    assert started == []


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("command", COMMANDS, ids=["serve", "worker"])
def test_production_on_sqlite_is_refused_unless_allowed(
    command: list[str], tmp_path: Path, production_keys: Path, started: list[str]
) -> None:
    env = {
        "GATEWAY_ENVIRONMENT": "production",
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        "GATEWAY_KEY_DIR": str(production_keys),
    }
    code, output = _run(command, **env)
    assert code == 1
    line = _refused(output)
    assert "SQLite" in line
    assert "GATEWAY_ALLOW_SQLITE=true" in line
    assert started == []
    code, output = _run(command, **env, GATEWAY_ALLOW_SQLITE="true")
    assert code == 0, output
    assert started == [command[0]]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("command", COMMANDS, ids=["serve", "worker"])
@pytest.mark.parametrize("environment", ["development", "production"])
@pytest.mark.parametrize("url", ["not a url", "mysql://gateway@db/gateway"])
def test_an_unusable_database_url_is_refused_in_any_environment(
    command: list[str], environment: str, url: str, tmp_path: Path, started: list[str]
) -> None:
    key_dir = tmp_path / "keys"
    GatewayKeys.init(key_dir, Environment(environment))
    code, output = _run(
        command,
        GATEWAY_ENVIRONMENT=environment,
        GATEWAY_DATABASE_URL=url,
        GATEWAY_KEY_DIR=str(key_dir),
    )
    assert code == 1
    line = _refused(output)
    assert "GATEWAY_DATABASE_URL" in line
    assert url not in line  # a URL may hold a password: never echoed
    assert started == []


@pytest.mark.usefixtures("restore_logging")
def test_a_misspelled_database_url_in_production_is_named_with_the_refusal(
    tmp_path: Path, production_keys: Path, monkeypatch: pytest.MonkeyPatch, started: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the SQLite default it falls back to is relative
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    code, output = _run(
        ["worker"],
        GATEWAY_ENVIRONMENT="production",
        GATEWAY_DATABSE_URL=POSTGRES,
        GATEWAY_KEY_DIR=str(production_keys),
    )
    assert code == 1
    assert "SQLite" in _refused(output)
    assert (
        "warning: GATEWAY_DATABSE_URL is set but no setting reads it: "
        "did you mean GATEWAY_DATABASE_URL?"
    ) in output
    assert started == []


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("command", COMMANDS, ids=["serve", "worker"])
def test_an_unknown_variable_is_warned_about_in_the_log_and_the_command_starts(
    command: list[str], tmp_path: Path, key_dir: Path, started: list[str]
) -> None:
    code, output = _run(
        command,
        GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.db'}",
        GATEWAY_KEY_DIR=str(key_dir),
        GATEWAY_PUSH_INTERVAL_SECOND="5",
    )
    assert code == 0, output
    assert started == [command[0]]
    assert "GATEWAY_PUSH_INTERVAL_SECOND is set but no setting reads it" in output
    assert "did you mean GATEWAY_PUSH_INTERVAL_SECONDS?" in output
    assert '"logger": "gateway.startup"' in output  # a JSON log line


@pytest.mark.usefixtures("restore_logging")
def test_the_worker_outside_production_starts_without_keys(
    tmp_path: Path, started: list[str]
) -> None:
    code, output = _run(
        ["worker"],
        GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.db'}",
        GATEWAY_KEY_DIR=str(tmp_path / "nowhere"),
    )
    assert code == 0, output
    assert started == ["worker"]


@pytest.mark.usefixtures("restore_logging")
def test_a_malformed_setting_is_one_line_naming_the_variable(
    tmp_path: Path, key_dir: Path, started: list[str]
) -> None:
    code, output = _run(
        ["serve"],
        GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'gateway.db'}",
        GATEWAY_KEY_DIR=str(key_dir),
        GATEWAY_ACCESS_TOKEN_LIFETIME_S="3600",
    )
    assert code == 1
    assert "GATEWAY_ACCESS_TOKEN_LIFETIME_S" in _refused(output)
    assert started == []


def test_unknown_variables() -> None:
    environ: dict[str, Any] = {
        "GATEWAY_DATABASE_URL": "x",
        "GATEWAY_KEYDIR": "x",
        "GATEWAY_CLIENT_ID": "x",  # read by the participants' commands
        "GATEWAY_SOMETHING_ELSE": "x",
        "PATH": "x",
    }
    assert unknown_variables(environ) == [
        "GATEWAY_KEYDIR is set but no setting reads it: did you mean GATEWAY_KEY_DIR?",
        "GATEWAY_SOMETHING_ELSE is set but no setting reads it",
    ]
