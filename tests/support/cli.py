"""The ``gateway`` command line, run in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc.jwk import ECKey
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.auditlog.models import AuditEvent
from gateway.cli.main import app
from tests.support.database import sessions_on

if TYPE_CHECKING:
    from pathlib import Path


def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    """Run a command, check its exit code, and return its output on one line."""
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


@dataclass
class Cli:
    """The environment of one fresh gateway installation, and a way to run commands in it."""

    env: dict[str, str]
    database_url: str
    key_dir: Path
    files: Path

    @classmethod
    def installed(cls, directory: Path, database_url: str) -> Cli:
        """An installation on ``database_url``, its keys and files in ``directory``."""
        files = directory / "files"
        files.mkdir()
        key_dir = directory / "keys"
        env = {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_KEY_DIR": str(key_dir),
            "GATEWAY_ENVIRONMENT": "development",
            "COLUMNS": "200",
        }
        return cls(env=env, database_url=database_url, key_dir=key_dir, files=files)

    def run(self, *args: str, code: int = 0) -> str:
        """Run a command, check its exit code, and return its output on one line."""
        return invoke(*args, code=code, env=self.env)

    def raw(self, *args: str) -> str:
        result = CliRunner().invoke(app, list(args), env=self.env)
        assert result.exit_code == 0, result.output
        return result.output

    def jwk_file(self, name: str, document: Any) -> str:
        path = self.files / f"{name}.json"
        path.write_text(json.dumps(document))
        return str(path)

    def public_jwk(self, name: str) -> str:
        key = ECKey.generate_key("P-256", private=True)
        return self.jwk_file(name, key.as_dict(private=False))

    def events(self, action: str) -> list[AuditEvent]:
        with sessions_on(self.database_url) as sessions, sessions() as session:
            statement = select(AuditEvent).where(AuditEvent.action == action)
            return list(session.scalars(statement.order_by(AuditEvent.id)))

    def show(self, participant_id: str) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(self.raw("participants", "show", participant_id))
        return shown
