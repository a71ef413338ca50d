"""``gateway identities contradictions``: the stored decisions whose NIR contradicts its person."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.cli.context import operator, settings, transaction

app = typer.Typer(help="Identities as stored with the decisions.", no_args_is_help=True)
console = Console()
FOUND_EXIT = 3  # as ``gateway import``: the command ran and found something to act on


@app.command()
def contradictions(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List the decision versions whose NIR or NIA contradicts the person.

    What is listed: decision, version, prefecture, rules and the number's pseudonym.

    Exit code 0: none; 3: some (listed); 1: the keys or the database could not be used.
    Audited (``identities:checked``) with the count and the pseudonyms found.
    """
    from audit.actions import AuditAction  # noqa: PLC0415 - only this command needs them
    from gateway.auditlog.writer import record  # noqa: PLC0415
    from gateway.decisions.contradictions import stored  # noqa: PLC0415
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415
    from gateway.keys import GatewayKeys, KeyStoreError  # noqa: PLC0415

    config = settings()
    try:
        keys = IdentityKeys.from_store(GatewayKeys.load(config.key_dir))
    except (KeyStoreError, OSError, ValueError) as error:
        console.print(f"[red]the identity keys cannot be used: {error}")
        raise typer.Exit(1) from error
    with transaction(config.database_url) as session:
        found = list(stored(session, keys))
        record(
            session,
            AuditAction.IDENTITIES_CHECKED,
            object_ids=sorted({item.decision_id for item in found})[:1000],
            subject_pseudonyms=sorted({item.pseudonym for item in found})[:1000],
            detail={"contradicting": len(found), **operator()},
        )
    if json_output:
        for item in found:
            typer.echo(json.dumps(item.as_dict()))
    elif found:
        table = Table(title=f"{len(found)} decision versions whose NIR contradicts the person")
        for column in ("decision", "version", "prefecture", "rules", "flagged", "pseudonym"):
            table.add_column(column)
        for item in found:
            table.add_row(
                item.decision_id,
                str(item.version),
                item.prefecture_id,
                " ".join(item.rules),
                "yes" if item.flagged else "no",
                item.pseudonym,
            )
        console.print(table)
    else:
        console.print("No stored NIR contradicts its person.")
    if found:
        raise typer.Exit(FOUND_EXIT)
