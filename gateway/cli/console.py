"""``gateway console people``: who may log in to the auditors' console, and as whom.

A person is named by their OpenID provider (the issuer) and the provider's identifier for
them (``sub``), never by name or e-mail; the operator maps them to an auditor
participant (whose territory becomes theirs) with a role. Each change is an audit event.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from audit.actions import AuditAction
from gateway.auditlog.writer import record
from gateway.cli.context import operator, settings, transaction
from gateway.console import repository
from gateway.console.models import ConsolePerson
from gateway.console.service import Role, person_pseudonym
from gateway.keys import GatewayKeys, KeyStoreError
from gateway.participants import repository as participants
from gateway.participants.models import ParticipantKind
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id

app = typer.Typer(help="The auditors' web console.", no_args_is_help=True)
people = typer.Typer(
    help="The people who may log in, each mapped to an auditor with a role.",
    no_args_is_help=True,
)
app.add_typer(people, name="people")
console = Console()
SUBJECT_MAX = 255


def _pseudonym(issuer: str, subject: str) -> str:
    """The person as refused logins name them, when the keys are at hand."""
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415 - only this needs it

    try:
        keys = IdentityKeys.from_store(GatewayKeys.load(settings().key_dir))
    except (KeyStoreError, OSError, ValueError):
        return ""
    return person_pseudonym(keys, issuer, subject)


@people.command()
def add(
    subject: Annotated[str, typer.Argument(help="The provider's identifier of the person (sub).")],
    auditor: Annotated[str, typer.Option(help="The auditor participant they act as.")],
    role: Annotated[Role, typer.Option()] = Role.READER,
    issuer: Annotated[
        str | None,
        typer.Option(help="Their OpenID provider; GATEWAY_CONSOLE_OIDC_ISSUER by default."),
    ] = None,
) -> None:
    """Let a person log in to the console as an auditor."""
    config = settings()
    issuer = issuer or config.console_oidc_issuer
    if not issuer:
        console.print("[red]give --issuer, or set GATEWAY_CONSOLE_OIDC_ISSUER")
        raise typer.Exit(2)
    if not subject.strip() or len(subject) > SUBJECT_MAX or not subject.isprintable():
        console.print(f"[red]the subject is 1 to {SUBJECT_MAX} printable characters")
        raise typer.Exit(2)
    with transaction(config.database_url) as session:
        found = participants.get(session, auditor)
        if found is None or found.kind != ParticipantKind.AUDITOR:
            console.print(f"[red]{auditor!r} is not a registered auditor")
            raise typer.Exit(1)
        if repository.person_by_subject(session, issuer, subject) is not None:
            console.print("[red]this person is already mapped: remove them first")
            raise typer.Exit(1)
        person = repository.add_person(
            session,
            ConsolePerson(
                id=new_id(),
                issuer=issuer,
                subject=subject,
                auditor_id=auditor,
                role=str(role),
                created_at=utcnow(),
            ),
        )
        record(
            session,
            AuditAction.CONSOLE_PERSON_ADDED,
            participant_id=auditor,
            participant_kind=str(ParticipantKind.AUDITOR),
            acting_for=auditor,
            agent_id=person.id,
            object_ids=[person.id],
            detail={**operator(), "role": str(role)},
        )
        person_id = person.id
    console.print(f"person {person_id} logs in as {auditor} ({role})")
    pseudonym = _pseudonym(issuer, subject)
    if pseudonym:
        console.print(f"refused logins name them {pseudonym}")


@people.command("list")
def list_() -> None:
    """List the people mapped to auditors."""
    config = settings()
    with transaction(config.database_url) as session:
        table = Table("id", "auditor", "role", "issuer", "subject", "since")
        for person in repository.people(session):
            table.add_row(
                person.id,
                person.auditor_id,
                person.role,
                person.issuer,
                person.subject,
                person.created_at.isoformat(timespec="seconds"),
            )
    console.print(table)


@people.command()
def remove(person_id: Annotated[str, typer.Argument(help="The id `people list` shows.")]) -> None:
    """Stop a person logging in; their open sessions end at once."""
    config = settings()
    with transaction(config.database_url) as session:
        person = repository.person(session, person_id)
        if person is None:
            console.print(f"[red]no person {person_id!r}")
            raise typer.Exit(1)
        auditor = person.auditor_id
        repository.remove_person(session, person_id)
        record(
            session,
            AuditAction.CONSOLE_PERSON_REMOVED,
            participant_id=auditor,
            participant_kind=str(ParticipantKind.AUDITOR),
            acting_for=auditor,
            agent_id=person_id,
            object_ids=[person_id],
            detail=operator(),
        )
    console.print(f"person {person_id} removed; their sessions are ended")
