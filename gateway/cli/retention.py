"""``gateway retention purge``: apply the policy's retention now, and print the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.cli.context import operator, settings
from policies.loader import DEFAULT_POLICY, PolicyError, load_file

app = typer.Typer(help="Retention: purge what the policy says must go.", no_args_is_help=True)
console = Console()


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter("an ISO 8601 date or date-time", param_hint="--as-of") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def purge(
    dry_run: Annotated[bool, typer.Option(help="Count what is due; change nothing.")] = False,
    as_of: Annotated[
        str | None, typer.Option(help="Apply retention as of this date (default: now).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Crypto-shred identity data and purge import reports past retention; print the report."""
    from gateway.retention import purge as purging  # noqa: PLC0415 - needs the database
    from gateway.storage.engine import make_engine, make_sessionmaker  # noqa: PLC0415

    config = settings()
    when = _as_of(as_of)
    try:
        loaded = load_file(config.policy_file or DEFAULT_POLICY)
    except PolicyError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    engine = make_engine(config.database_url)
    try:
        report = purging.run(
            make_sessionmaker(engine), loaded, dry_run=dry_run, now=when, actor=operator()
        )
    finally:
        engine.dispose()
    if json_output:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    if report.skipped is not None:
        console.print(f"Purge not run: {report.skipped}.")
        return
    title = f"Purge {report.id} under {report.policy_version}" + (" (dry run)" if dry_run else "")
    table = Table(title=title)
    for column in ("class", "retention (days)", "cutoff", "due", "purged"):
        table.add_column(column)
    for name, found in report.classes.items():
        table.add_row(
            name,
            str(found["retention_days"]),
            found["cutoff"][:10],
            str(found["due"]),
            str(found["purged"]),
        )
    console.print(table)
    for name, found in report.classes.items():
        if "kept_because" in found:
            console.print(f"{name}: kept, because {found['kept_because']}.")
