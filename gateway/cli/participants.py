"""``gateway participants``: the registry of prefectures, funds, auditors and operators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from audit.actions import AuditAction
from gateway.auditlog.writer import record
from gateway.cli.context import operator, settings, transaction
from gateway.errors import GatewayError
from gateway.participants import repository, service
from gateway.participants.models import ParticipantKind, ParticipantStatus, Regime
from gateway.participants.schemas import ParticipantKeyIn, ParticipantSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from gateway.participants.models import Participant

app = typer.Typer(help="Register and manage participants.", no_args_is_help=True)
keys_app = typer.Typer(
    help="A participant's registered signing keys: add the next one, retire the old one.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
console = Console()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        console.print(f"[red]cannot read {path}: {error}")
        raise typer.Exit(2) from error


@app.command()
def add(
    participant_id: Annotated[str, typer.Argument(help="The OAuth client id, e.g. cpam-75.")],
    kind: Annotated[ParticipantKind, typer.Option()],
    name: Annotated[str, typer.Option()],
    jwk: Annotated[Path, typer.Option(help="File with the public JWK or JWKS.")],
    departement: Annotated[
        list[str] | None, typer.Option("--departement", "-d", help="Repeat for each.")
    ] = None,
    regime: Annotated[Regime | None, typer.Option()] = None,
    national: Annotated[
        bool,
        typer.Option(
            help="National, with no départements: an auditor, or a fund of a national regime."
        ),
    ] = False,
    acts_for: Annotated[list[str] | None, typer.Option(help="Repeat for each.")] = None,
    push_endpoint: Annotated[str | None, typer.Option()] = None,
    encryption_key: Annotated[Path | None, typer.Option(help="Public JWK for JWE.")] = None,
    require_dpop: Annotated[bool, typer.Option()] = False,
) -> None:
    """Register a participant with its public key."""
    try:
        spec = ParticipantSpec(
            id=participant_id,
            kind=kind,
            name=name,
            jwks=_read_json(jwk),
            departements=departement or [],
            regime=regime,
            national=national,
            acts_for=acts_for or [],
            push_endpoint=push_endpoint,  # type: ignore[arg-type]
            encryption_jwk=_read_json(encryption_key) if encryption_key else None,
            require_dpop=require_dpop,
        )
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(p) for p in item["loc"]) or "participant"
            console.print(f"[red]{where}: {item['msg']}")
        raise typer.Exit(2) from error
    config = settings()
    try:
        with transaction(config.database_url) as session:
            participant = service.register(session, spec)
            record(
                session,
                AuditAction.PARTICIPANT_CREATED,
                object_ids=[participant.id],
                detail={**operator(), "kind": participant.kind},
            )
    except GatewayError as error:
        console.print(f"[red]{error.detail}")
        raise typer.Exit(1) from error
    console.print(f"registered {kind} {participant_id}")


@app.command("list")
def list_(kind: Annotated[ParticipantKind | None, typer.Option()] = None) -> None:
    """List participants."""
    config = settings()
    with transaction(config.database_url) as session:
        participants = repository.list_all(session, kind)
        table = Table("id", "kind", "name", "status", "regime", "territory", "acts for")
        for p in participants:
            territory = "national" if p.national else " ".join(p.departements)
            table.add_row(
                p.id, p.kind, p.name, p.status, p.regime or "", territory, " ".join(p.acts_for)
            )
    console.print(table)


@app.command()
def show(participant_id: str) -> None:
    """Show one participant as JSON, with its key ids."""
    config = settings()
    with transaction(config.database_url) as session:
        participant = repository.get(session, participant_id)
        if participant is None:
            console.print(f"[red]no participant {participant_id!r}")
            raise typer.Exit(1)
        described = service.describe(participant).model_dump(mode="json")
    typer.echo(json.dumps(described, indent=2))


def _set_status(participant_id: str, status: ParticipantStatus, action: AuditAction) -> None:
    config = settings()
    try:
        with transaction(config.database_url) as session:
            service.set_status(session, participant_id, status)
            record(session, action, object_ids=[participant_id], detail=operator())
    except GatewayError as error:
        console.print(f"[red]{error.detail}")
        raise typer.Exit(1) from error
    console.print(f"{participant_id} is {status}")


@app.command()
def suspend(participant_id: str) -> None:
    """Suspend a participant: its tokens stop working at once."""
    _set_status(participant_id, ParticipantStatus.SUSPENDED, AuditAction.PARTICIPANT_SUSPENDED)


@app.command()
def reactivate(participant_id: str) -> None:
    """Lift a suspension."""
    _set_status(participant_id, ParticipantStatus.ACTIVE, AuditAction.PARTICIPANT_REACTIVATED)


@keys_app.command("add")
def add_key(
    participant_id: str,
    jwk: Annotated[Path, typer.Option(help="File with the next public JWK.")],
) -> None:
    """Register a participant's next key; its current keys keep working until retired."""
    try:
        key = ParticipantKeyIn(jwk=_read_json(jwk)).jwk
    except ValidationError as error:
        for item in error.errors():
            console.print(f"[red]jwk: {item['msg']}")
        raise typer.Exit(2) from error
    kids = _change_keys(
        participant_id, AuditAction.PARTICIPANT_KEY_ADDED, key["kid"],
        lambda session: service.add_key(session, participant_id, key),
    )  # fmt: skip
    console.print(f"added key {key['kid']} to {participant_id}; its keys: {', '.join(kids)}")


@keys_app.command("retire")
def retire_key(participant_id: str, kid: str) -> None:
    """Retire one of a participant's keys: what it signs is refused from now on."""
    kids = _change_keys(
        participant_id, AuditAction.PARTICIPANT_KEY_RETIRED, kid,
        lambda session: service.retire_key(session, participant_id, kid),
    )  # fmt: skip
    console.print(f"retired key {kid} of {participant_id}; its keys: {', '.join(kids)}")


def _change_keys(
    participant_id: str,
    action: AuditAction,
    kid: str,
    change: Callable[[Session], Participant],
) -> list[str]:
    """Apply ``change`` and audit it in one transaction; the participant's keys after it."""
    try:
        with transaction(settings().database_url) as session:
            participant = change(session)
            record(session, action, object_ids=[participant_id], detail={**operator(), "kid": kid})
            return service.describe(participant).key_ids
    except GatewayError as error:
        console.print(f"[red]{error.detail}")
        raise typer.Exit(1) from error


@keys_app.command("list")
def list_keys(participant_id: str) -> None:
    """A participant's registered public keys (kid, type, algorithm)."""
    config = settings()
    with transaction(config.database_url) as session:
        participant = repository.get(session, participant_id)
        if participant is None:
            console.print(f"[red]no participant {participant_id!r}")
            raise typer.Exit(1)
        table = Table("kid", "kty", "crv", "alg", title=f"keys of {participant_id}")
        for key in participant.jwks.get("keys", []):
            table.add_row(key["kid"], key["kty"], key.get("crv", ""), key.get("alg", ""))
    console.print(table)
