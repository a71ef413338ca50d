"""``python -m demo [--keep]``: the whole gateway, end to end, on a throwaway SQLite database."""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from audit.actions import AuditAction
from demo import (
    access,
    checks,
    codaf_console,
    delivery,
    evidence,
    intake,
    operations,
    rotation,
    stewardship,
)
from demo.stage import (
    DemoParticipant,
    ImportWorker,
    Outcome,
    Server,
    client,
    console,
    free_port,
    participants,
)
from gateway.auditlog.writer import record
from gateway.keys import GatewayKeys
from gateway.participants import service
from gateway.settings import Environment, Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker

METRICS_TOKEN = secrets.token_urlsafe(24)  # made for this run, like the keys
CONSOLE_SECRET = secrets.token_urlsafe(24)  # the console's client secret at the provider


def demo_settings(workdir: Path, base_url: str, issuer: str) -> Settings:
    """A throwaway SQLite database and keys in ``workdir``, the metrics token, the console."""
    return Settings(
        database_url=f"sqlite:///{workdir / 'gateway.db'}",
        key_dir=workdir / "keys",
        public_base_url=base_url,
        environment=Environment.DEVELOPMENT,
        key_reload_seconds=0.2,
        metrics_token=SecretStr(METRICS_TOKEN),
        console_oidc_issuer=issuer,
        console_oidc_client_id=codaf_console.CLIENT_ID,
        console_oidc_client_secret=SecretStr(CONSOLE_SECRET),
        console_vendor_dir=codaf_console.ROOT / "node_modules",
    )


def set_up(
    settings: Settings, sessions: sessionmaker[Session], workdir: Path
) -> tuple[GatewayKeys, list[DemoParticipant]]:
    """The database migrated, the gateway's keys made, the participants registered."""
    migrate.upgrade(settings.database_url)
    keys = GatewayKeys.init(settings.key_dir, settings.environment)
    console.print(f"gateway keys: {', '.join(e.kid for e in keys.entries)} (development)")
    cast = participants(workdir)
    with sessions.begin() as session:
        for participant in cast:
            service.register(session, participant.spec)
            record(
                session,
                AuditAction.PARTICIPANT_CREATED,
                object_ids=[participant.id],
                detail={"via": "demo", "kind": participant.spec.kind},
            )
    console.print(f"{len(cast)} participants registered from their public JWK files")
    return keys, cast


def run(*, keep: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="gateway-demo-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    outcome = Outcome()
    opened = ExitStack()
    # The auditors' console logs people in through an OpenID provider: started first, since
    # the gateway's settings name it.
    issuer = opened.enter_context(
        codaf_console.provider(f"{base_url}/console/callback", CONSOLE_SECRET, workdir / "oidc.log")
    )
    settings = demo_settings(workdir, base_url, issuer)
    engine = make_engine(settings.database_url)
    try:
        console.rule("[bold]Set-up: a throwaway SQLite database, keys and participants")
        sessions = make_sessionmaker(engine)
        keys, cast = set_up(settings, sessions, workdir)
        with Server(settings, port), ImportWorker(sessions, keys):
            console.print(f"API listening on {base_url}")
            access.authenticated_calls(base_url, cast, outcome)
            by_id = {p.id: p for p in cast}
            access.refusals(base_url, by_id, outcome)
            ids = intake.scene(base_url, by_id["pref-75"], workdir, outcome)
            stewardship.scene(base_url, sessions, by_id, ids, workdir, outcome)
            delivery.scene(base_url, settings, keys, sessions, by_id, ids, workdir, outcome)
            rotation.scene(base_url, settings, sessions, by_id, workdir, outcome)
            console.rule("[bold]Status checks: desks, by name, a streamed sweep, misuse")
            with client(base_url, by_id["cpam-75"]) as cpam:
                checks.status_checks(cpam, outcome.expect)
            stewardship.retention_scene(base_url, sessions, by_id, ids, outcome)
            console.rule("[bold]Evidence: the signed audit log, a proof, a tampering caught")
            jwks = httpx.get(f"{base_url}/.well-known/jwks.json", timeout=10).json()
            with client(base_url, by_id["codaf-75"]) as auditor:
                evidence.audit_log_scene(sessions, settings, auditor, jwks, workdir, outcome.expect)
                evidence.reports_scene(auditor, outcome.expect)
            console.rule("[bold]The CODAF console: an auditor in a browser, in French")
            codaf_console.scene(base_url, settings, outcome.expect)
            operations.metrics_scene(base_url, METRICS_TOKEN, outcome)
        evidence.trail(sessions, outcome)
    finally:
        engine.dispose()
        opened.close()
        if keep:
            console.print(f"demo files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    console.rule()
    if outcome.failures:
        console.print(f"[red bold]{len(outcome.failures)} expectation(s) failed")
        return 1
    console.print("[green bold]The gateway behaved as expected.")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the demo directory")
    sys.exit(run(keep=parser.parse_args().keep))


if __name__ == "__main__":
    main()
