"""``gateway console people``: the operator maps people to auditors, lists and removes
them; each change is audited, and a removal ends the person's sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from typer.testing import CliRunner

from audit.actions import AuditAction
from gateway.auditlog.models import AuditEvent
from gateway.cli.main import app
from gateway.console import repository
from gateway.console.models import ConsoleSession
from gateway.console.service import person_pseudonym
from gateway.identities.service import IdentityKeys
from gateway.storage.base import utcnow
from tests.support.actors import register
from tests.support.database import sessions_on

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.keys import GatewayKeys

ISSUER = "https://idp.example/realms/agents"


def test_people_are_added_listed_and_removed_with_their_sessions(
    migrated_database_url: str, key_dir: Path, gateway_keys: GatewayKeys
) -> None:
    env = {
        "GATEWAY_DATABASE_URL": migrated_database_url,
        "GATEWAY_KEY_DIR": str(key_dir),
        "COLUMNS": "250",
    }
    with sessions_on(migrated_database_url) as sessions, sessions.begin() as session:
        auditor = register(session, "auditor", departements=["93"], prefix="codaf-93").id
        fund = register(session, "fund", departements=["93"]).id
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["console", "people", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    added = run("add", "sub-1234", "--auditor", auditor, "--role", "approver", "--issuer", ISSUER)
    person_id = added.split()[1]
    refused = runner.invoke(app, ["console", "people", "add", "sub-9", "--auditor", fund,
                                  "--issuer", ISSUER], env=env)  # fmt: skip
    twice = runner.invoke(app, ["console", "people", "add", "sub-1234", "--auditor", auditor,
                                "--issuer", ISSUER], env=env)  # fmt: skip
    listed = run("list")
    with sessions_on(migrated_database_url) as sessions, sessions.begin() as session:
        repository.add_session(
            session,
            ConsoleSession(
                id_hash="0" * 64,
                person_id=person_id,
                csrf_token="t",
                purpose=None,
                created_at=utcnow(),
                last_seen_at=utcnow(),
                expires_at=utcnow() + timedelta(hours=1),
            ),
        )
    run("remove", person_id)
    after = run("list")

    pseudonym = person_pseudonym(IdentityKeys.from_store(gateway_keys), ISSUER, "sub-1234")
    assert f"refused logins name them {pseudonym}" in added
    assert refused.exit_code == 1
    assert "not a registered auditor" in refused.output
    assert twice.exit_code == 1
    assert person_id in listed
    assert auditor in listed
    assert "approver" in listed
    assert person_id not in after
    with sessions_on(migrated_database_url) as sessions, sessions() as session:
        assert session.scalars(select(ConsoleSession)).all() == []
        found = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("console-person:%"))
        ).all()
    assert [(e.action, e.agent_id, e.participant_id) for e in found] == [
        (AuditAction.CONSOLE_PERSON_ADDED, person_id, auditor),
        (AuditAction.CONSOLE_PERSON_REMOVED, person_id, auditor),
    ]
    assert "sub-1234" not in str([e.detail for e in found])
