"""The console's test site: a gateway served in its own process on a database of its own,
a real OpenID provider (``oidc/provider.mjs``, run with Node), participants of two
territories with decisions owed, and people mapped to the territories' auditors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
from gateway.console.models import ConsolePerson
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Environment
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from tests.support.actors import Client, register, seal
from tests.support.database import sessions_on
from tests.support.factories import decision, identity
from tests.support.processes import Served, free_port

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
ACCOUNTS = (PARIS, MARSEILLE, UNMAPPED)
ARTIFACTS = ROOT / "test-artifacts" / "console"


class SiteNotReady(RuntimeError):
    """The gateway or the OpenID provider exited, or did not answer in time."""


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


def mapped_person(
    issuer: str, subject: str, auditor_id: str, role: str = "reader"
) -> ConsolePerson:
    """A person of the provider ``issuer`` mapped to an auditor, as the operator maps them."""
    return ConsolePerson(
        id=new_id(),
        issuer=issuer,
        subject=subject,
        auditor_id=auditor_id,
        role=role,
        created_at=utcnow(),
    )


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


def _wait_for(url: str, process: subprocess.Popen[bytes], log_path: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == httpx.codes.OK:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SiteNotReady(f"{what} did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _map_people(
    database_url: str, key_dir: Path, issuer: str, clients: dict[str, Client]
) -> dict[str, str]:
    """What the operator does: ``gateway console people add``, for each territory's auditor."""
    from typer.testing import CliRunner  # noqa: PLC0415 - the operator's commands

    from gateway.cli.main import app  # noqa: PLC0415

    people = {}
    env = {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_KEY_DIR": str(key_dir)}
    for login, auditor in ((PARIS, clients["codaf_75"].id), (MARSEILLE, clients["codaf_13"].id)):
        added = CliRunner().invoke(
            app,
            ["console", "people", "add", login, "--auditor", auditor, "--issuer", issuer],
            env=env,
        )
        assert added.exit_code == 0, added.output
        people[login] = added.output.split()[1]
    return people


@contextmanager
def console_site(
    database_url: str, directory: Path, backend: str, *, decisions: int = 3, **extra_env: str
) -> Iterator[Site]:
    """``gateway serve`` with its console on ``database_url`` (migrated), and its provider.

    Both ports are chosen first, so the gateway's settings name its provider and the
    provider's client names the gateway's callback: both processes start at once.
    """
    key_dir = directory / "keys"
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    with sessions_on(database_url) as sessions, sessions.begin() as session:
        clients = {name: register(session, **options) for name, options in participants().items()}
    gateway_port, provider_port = free_port(), free_port()
    base_url, issuer = f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{provider_port}"
    people = _map_people(database_url, key_dir, issuer, clients)
    node = shutil.which("node")
    assert node is not None, "Node is needed for the console's OpenID provider"
    provider_env = {
        **os.environ,
        "OIDC_PORT": str(provider_port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": f"{base_url}/console/callback",
        "OIDC_ACCOUNTS": " ".join(ACCOUNTS),
    }
    gateway_env = {
        **os.environ,
        **console_settings(issuer, **extra_env),
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_KEY_DIR": str(key_dir),
        "GATEWAY_PUBLIC_BASE_URL": base_url,
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    provider_log, server_log = directory / "provider.log", directory / "server.log"
    with provider_log.open("wb") as provider_out, server_log.open("wb") as server_out:
        provider = subprocess.Popen(
            [node, str(PROVIDER_SCRIPT)],
            cwd=ROOT,
            env=provider_env,
            stdout=provider_out,
            stderr=subprocess.STDOUT,
        )
        try:
            server = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(gateway_port)],
                env=gateway_env,
                stdout=server_out,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_for(f"{base_url}/readyz", server, server_log, "the gateway")
                discovery = f"{issuer}/.well-known/openid-configuration"
                _wait_for(discovery, provider, provider_log, "the OpenID provider")
                served = Served(base_url, database_url, GatewayKeys.load(key_dir), clients)
                if decisions:
                    post_decisions(served, decisions)
                    with sessions_on(database_url) as sessions:
                        seal(sessions, served.keys, max_records=2)
                yield Site(
                    served=served,
                    issuer=issuer,
                    backend=backend,
                    paris_funds=[clients["cpam_75"].id, clients["caf_75"].id],
                    marseille_funds=[clients["cpam_13"].id],
                    people=people,
                )
            finally:
                _stop(server)
        finally:
            _stop(provider)
