"""``gateway audit``: sequence the log, sign a checkpoint, export it, verify an export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.context import settings

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command()
def checkpoint() -> None:
    """Append queued events to the log and sign a checkpoint now (the worker does it too)."""
    from gateway import jobs  # noqa: PLC0415 - needs the database
    from gateway.storage.engine import make_engine, make_sessionmaker  # noqa: PLC0415

    config = settings()
    engine = make_engine(config.database_url)
    try:
        size = jobs.sign_audit_checkpoint(make_sessionmaker(engine), config)
    finally:
        engine.dispose()
    typer.echo(f"checkpoint of size {size}" if size else "the log has not grown: no checkpoint")


@app.command()
def export(output: Annotated[Path, typer.Argument(help="The NDJSON file to write.")]) -> None:
    """Write the log (events with their proofs, and every checkpoint) for offline checking."""
    from gateway.auditlog import service as audit_log  # noqa: PLC0415
    from gateway.cli.context import transaction  # noqa: PLC0415

    count = 0
    with transaction(settings().database_url) as session, output.open("w") as handle:
        for line in audit_log.export(session):
            handle.write(line + "\n")
            count += 1
    typer.echo(f"{output}: {count} lines")


@app.command()
def verify(
    export_file: Annotated[Path, typer.Argument(help="An export (gateway audit export).")],
    jwks: Annotated[
        Path, typer.Option(help="The gateway's public JWKS (/.well-known/jwks.json), saved.")
    ],
) -> None:
    """Check an export offline: signatures, every event's place, roots, consistency."""
    from audit.verify import verify as verifying  # noqa: PLC0415

    try:
        keys = json.loads(jwks.read_text())
        with export_file.open(encoding="utf-8") as handle:
            report = verifying(handle, keys)
    except (OSError, ValueError) as error:
        typer.echo(f"cannot read the export or the JWKS: {error}", err=True)
        raise typer.Exit(2) from error
    if report.ok:
        typer.echo(
            f"verified: {report.events} events, {report.checkpoints} signed checkpoints, "
            "every event in its place"
        )
        return
    for problem in report.problems:
        typer.echo(f"FAILED: {problem}")
    raise typer.Exit(1)
