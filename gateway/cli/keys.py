"""``gateway keys``: create and rotate the gateway's own keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from audit.actions import AuditAction
from gateway.auditlog.writer import record
from gateway.cli.context import operator, settings, transaction
from gateway.keys import GatewayKeys, KeyStoreError, KeyUse

app = typer.Typer(help="The gateway's signing keys and secrets.", no_args_is_help=True)
console = Console()


def _audit(action: AuditAction, kids: list[str]) -> None:
    config = settings()
    try:
        with transaction(config.database_url) as session:
            record(session, action, object_ids=kids, detail=operator())
    except Exception as error:  # noqa: BLE001 - keys may be made before the database exists
        console.print(f"[yellow]not audited: the database is not ready ({type(error).__name__})")


@app.command()
def init() -> None:
    """Create the key directory (GATEWAY_KEY_DIR) for GATEWAY_ENVIRONMENT."""
    config = settings()
    try:
        keys = GatewayKeys.init(config.key_dir, config.environment)
    except KeyStoreError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    console.print(f"created {config.environment} keys in {config.key_dir}")
    _audit(AuditAction.KEYS_INITIALISED, [e.kid for e in keys.entries])
    show()


@app.command()
def rotate(
    use: Annotated[list[KeyUse] | None, typer.Option(help="Which keys; all by default.")] = None,
) -> None:
    """Add a new active key; the old one stays published for verification."""
    config = settings()
    try:
        added = GatewayKeys.rotate(config.key_dir, use)
    except KeyStoreError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    console.print("new keys: " + ", ".join(e.kid for e in added))
    _audit(AuditAction.KEYS_ROTATED, [e.kid for e in added])


@app.command()
def rotate_identity_kek() -> None:
    """Add a new active identity key-encryption key; the old ones stay for decryption.

    Nothing is re-wrapped by this command: data keys stay wrapped under the old key until
    the re-wrapping job moves them. Keep every old key until no record refers to it.
    """
    config = settings()
    try:
        kek_id = GatewayKeys.rotate_identity_kek(config.key_dir)
    except KeyStoreError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    console.print(f"new identity key-encryption key: {kek_id}")
    _audit(AuditAction.KEYS_ROTATED, [kek_id])


@app.command()
def show() -> None:
    """List the keys (never their private parts nor secret values)."""
    config = settings()
    try:
        keys = GatewayKeys.load(config.key_dir)
    except KeyStoreError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    table = Table("kid", "use", "alg", "created", "active", title=f"{keys.environment} keys")
    for entry in keys.entries:
        table.add_row(
            entry.kid, entry.use, entry.alg, entry.created_at, "yes" if entry.active else ""
        )
    console.print(table)
    keks = Table("id", "created", "active", title="identity key-encryption keys")
    for kek in keys.identity_keks:
        keks.add_row(kek.id, kek.created_at, "yes" if kek.active else "")
    console.print(keks)
