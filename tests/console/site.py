"""The console's test site: a gateway served in its own process on a database of its own,
a real OpenID provider (``oidc/provider.mjs``, run with Node), participants of two
territories with decisions owed, and people mapped to the territories' auditors."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from audit.actions import AuditAction
from connectors.client import GatewayClient
from gateway.auditlog.models import AuditEvent
from gateway.participants.models import Regime
from tests.support.actors import seal
from tests.support.database import sessions_on
from tests.support.factories import decision, identity
from tests.support.processes import Served, free_port, serve

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SCRIPT = Path(__file__).parent / "oidc" / "provider.mjs"
NODE_MODULES = ROOT / "node_modules"
CLIENT_ID = "console-codaf"
# A secret made for each run of the tests (never a deployed one).
CLIENT_SECRET = os.urandom(24).hex()
# The provider's accounts (their logins are their subs): one auditor per territory, and
# one person the operator has not mapped.
PARIS = "auditrice-paris"
MARSEILLE = "auditeur-marseille"
UNMAPPED = "personne-inconnue"
ARTIFACTS = ROOT / "test-artifacts" / "console"


class ProviderNotReady(RuntimeError):
    """The OpenID provider exited or did not publish its discovery document in time."""


@dataclass
class Site:
    """The served gateway, its provider, and who is who."""

    served: Served
    issuer: str
    backend: str
    paris_funds: list[str]
    marseille_funds: list[str]
    people: dict[str, str]  # the provider's login -> the console's mapping id

    @property
    def base_url(self) -> str:
        return self.served.base_url

    def events(self, action: AuditAction, *, since_id: int = 0) -> list[AuditEvent]:
        with sessions_on(self.served.database_url) as sessions, sessions() as session:
            statement = (
                select(AuditEvent)
                .where(AuditEvent.action == str(action), AuditEvent.id > since_id)
                .order_by(AuditEvent.id)
            )
            found = list(session.scalars(statement))
            session.expunge_all()
            return found

    def last_event_id(self) -> int:
        with sessions_on(self.served.database_url) as sessions, sessions() as session:
            found = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())).first()
            return found or 0


def console_settings(issuer: str, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_CONSOLE_OIDC_ISSUER": issuer,
        "GATEWAY_CONSOLE_OIDC_CLIENT_ID": CLIENT_ID,
        "GATEWAY_CONSOLE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "GATEWAY_CONSOLE_VENDOR_DIR": str(NODE_MODULES),
        **extra,
    }


def participants() -> dict[str, dict[str, Any]]:
    return {
        "prefecture": {"kind": "prefecture", "departements": ["75"], "prefix": "pref-75"},
        "cpam_75": {
            "kind": "fund", "departements": ["75"], "regime": Regime.CPAM, "prefix": "cpam-75"
        },
        "caf_75": {
            "kind": "fund", "departements": ["75"], "regime": Regime.CAF, "prefix": "caf-75"
        },
        "cpam_13": {
            "kind": "fund", "departements": ["13"], "regime": Regime.CPAM, "prefix": "cpam-13"
        },
        "codaf_75": {"kind": "auditor", "departements": ["75"], "prefix": "codaf-75"},
        "codaf_13": {"kind": "auditor", "departements": ["13"], "prefix": "codaf-13"},
    }  # fmt: skip


def post_decisions(served: Served, count: int) -> None:
    """The prefecture of Paris posts ``count`` decisions, owed to the funds of Paris."""
    prefecture = served.clients["prefecture"]
    with GatewayClient(served.base_url, prefecture.id, prefecture.key) as client:
        for number in range(count):
            body = decision(f"CONSOLE-{number}", identity=identity(agdref_number=f"75{number:08d}"))
            response = client.request(
                "POST", "/v1/decisions", purpose=prefecture.purpose, json=body
            )
            assert response.status_code == 201, response.text


@contextmanager
def console_site(
    database_url: str, directory: Path, backend: str, **extra_env: str
) -> Iterator[Site]:
    """The gateway with its console on ``database_url`` (migrated), and its provider.

    The provider's port is chosen first (the gateway's settings name it); the provider
    starts once the gateway's own port, its redirect URI, is known.
    """
    from typer.testing import CliRunner  # noqa: PLC0415 - the operator's commands

    from gateway.cli.main import app  # noqa: PLC0415

    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    with serve(
        database_url, directory, env=console_settings(issuer, **extra_env), **participants()
    ) as served:
        post_decisions(served, 3)
        with sessions_on(database_url) as sessions:
            seal(sessions, served.keys, max_records=2)
        people = {}
        env = {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_KEY_DIR": str(directory / "keys")}
        for login, auditor in (
            (PARIS, served.clients["codaf_75"].id),
            (MARSEILLE, served.clients["codaf_13"].id),
        ):
            added = CliRunner().invoke(
                app,
                ["console", "people", "add", login, "--auditor", auditor, "--issuer", issuer],
                env=env,
            )
            assert added.exit_code == 0, added.output
            people[login] = added.output.split()[1]
        with oidc_provider(
            port,
            [f"{served.base_url}/console/callback"],
            [PARIS, MARSEILLE, UNMAPPED],
            directory / "provider.log",
        ):
            yield Site(
                served=served,
                issuer=issuer,
                backend=backend,
                paris_funds=[served.clients["cpam_75"].id, served.clients["caf_75"].id],
                marseille_funds=[served.clients["cpam_13"].id],
                people=people,
            )


@contextmanager
def oidc_provider(
    port: int, redirect_uris: list[str], accounts: list[str], log_path: Path
) -> Iterator[str]:
    """``oidc-provider`` on loopback ``port`` until the block ends; yields its issuer once
    its discovery document answers."""
    node = shutil.which("node")
    assert node is not None, "Node is needed for the console's OpenID provider"
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": " ".join(redirect_uris),
        "OIDC_ACCOUNTS": " ".join(accounts),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, str(PROVIDER_SCRIPT)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    found = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
                    if found.status_code == httpx.codes.OK:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ProviderNotReady(log_path.read_text()[-2000:])
                time.sleep(0.1)
            yield issuer
        finally:
            process.terminate()
            process.wait(timeout=10)
