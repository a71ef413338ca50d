"""``gateway keys``: create and rotate the gateway's own keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from audit.actions import AuditAction
from gateway.auditlog.writer import record
from gateway.cli.context import operator, settings, transaction
from gateway.keys import GatewayKeys, KeyStatus, KeyStoreError, KeyUse
from gateway.storage.base import utcnow

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
    publish_ahead: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Seconds the new key is published before it signs; "
            "GATEWAY_KEY_PUBLISH_AHEAD_SECONDS by default. 0 signs at once: verifiers "
            "caching the JWKS refuse what it signs until they fetch it again.",
        ),
    ] = None,
) -> None:
    """Add the next key: published at once, signing once the publish-ahead time is over.

    The key it replaces retires then, and stays published for verification.
    """
    config = settings()
    ahead = config.key_publish_ahead_seconds if publish_ahead is None else publish_ahead
    try:
        added = GatewayKeys.rotate(config.key_dir, use, publish_ahead=timedelta(seconds=ahead))
    except KeyStoreError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    console.print("new keys: " + ", ".join(e.kid for e in added))
    console.print(f"published now; signing from {added[0].activates_at}")
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


def _load() -> GatewayKeys:
    config = settings()
    try:
        return GatewayKeys.load(config.key_dir)
    except KeyStoreError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error


@app.command()
def show() -> None:
    """List the keys (never their private parts nor secret values)."""
    keys = _load()
    table = Table(
        "kid", "use", "alg", "created", "status", "signs from", "retires",
        title=f"{keys.environment} keys",
    )  # fmt: skip
    for entry in keys.entries:
        table.add_row(
            entry.kid,
            entry.use,
            entry.alg,
            entry.created_at,
            str(entry.status),
            entry.activates_at,
            entry.retires_at or "",
        )
    console.print(table)
    keks = Table("id", "created", "active", title="identity key-encryption keys")
    for kek in keys.identity_keks:
        keks.add_row(kek.id, kek.created_at, "yes" if kek.active else "")
    console.print(keks)


@app.command()
def check(
    within_days: Annotated[
        int, typer.Option(min=0, help="Fail when a signing key expires within this many days.")
    ] = 30,
) -> None:
    """List the signing keys with their age and expiry; exit 1 when one needs replacing.

    A signing key expires GATEWAY_KEY_MAX_AGE_DAYS after it started signing. A use whose
    signing key expires within --within-days, with no next key published, needs
    'gateway keys rotate' now (the next key signs only after the publish-ahead time).
    """
    config = settings()
    keys = _load()
    now = utcnow()
    max_age = timedelta(days=config.key_max_age_days)
    table = Table("kid", "use", "status", "age (days)", "expires", "days left")
    due: list[str] = []
    for use in KeyUse:
        signing, _ = keys.active(use, now)
        waiting = [e for e in keys.entries if e.use == use and e.status == KeyStatus.PENDING]
        for entry in [e for e in keys.entries if e.use == use]:
            age = (now - datetime.fromisoformat(entry.created_at)).days
            expires, left = "", ""
            if entry.status != KeyStatus.RETIRED:
                end = datetime.fromisoformat(entry.activates_at) + max_age
                expires, left = end.isoformat(timespec="seconds"), str((end - now).days)
            table.add_row(entry.kid, str(use), str(entry.status), str(age), expires, left)
        end = datetime.fromisoformat(signing.activates_at) + max_age
        if end - now <= timedelta(days=within_days) and not waiting:
            due.append(f"{use} key {signing.kid} expires {end:%Y-%m-%d}")
    console.print(table)
    if due:
        for line in due:
            console.print(f"[red]{line}: rotate it (gateway keys rotate --use {line.split()[0]})")
        raise typer.Exit(1)
    console.print(f"no signing key expires within {within_days} days")
