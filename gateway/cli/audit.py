"""``gateway audit``: sequence the log, sign a checkpoint, export it, verify an export."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from audit.merkle import HASH_SIZE
from gateway.cli.context import settings

if TYPE_CHECKING:
    from audit.verify import Trusted

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command()
def checkpoint() -> None:
    """Append queued events to the log and sign a checkpoint now (the worker does it too)."""
    from gateway import jobs  # noqa: PLC0415 - needs the database
    from gateway.auditlog import service as audit_log  # noqa: PLC0415
    from gateway.storage.engine import make_engine, make_sessionmaker  # noqa: PLC0415

    config = settings()
    engine = make_engine(config.database_url)
    try:
        sessions = make_sessionmaker(engine)
        size = jobs.sign_audit_checkpoint(sessions, config)
        if not size:
            with sessions() as session:
                latest = audit_log.latest_checkpoint_size(session)
    finally:
        engine.dispose()
    if size:
        typer.echo(f"checkpoint of size {size}")
    elif latest:
        typer.echo(f"the checkpoint of size {latest} is already signed: the log has not grown")
    else:
        typer.echo("the log is empty: no checkpoint")


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


# The exit status of ``gateway audit verify`` for each reason an export fails (0: it
# verifies; 2: the export, the JWKS or a trusted checkpoint cannot be read or used).
VERIFY_EXIT = {
    "unreadable": 1,
    "no-checkpoint": 1,
    "event": 1,
    "truncated": 1,
    "malformed": 3,
    "bad-signature": 3,
    "unknown-key": 4,
    "root-mismatch": 5,
    "inconsistent": 6,
    "rolled-back": 7,
}
CANNOT_READ = 2


def _unusable(message: str) -> typer.Exit:
    """Say why an input cannot be used; the exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(CANNOT_READ)


def _trusted(
    keys: dict[str, Any],
    checkpoint_files: list[Path],
    size: int | None,
    root: str | None,
) -> list[Trusted]:
    """What the auditor trusts already: checkpoints it kept, and a size and root it noted."""
    from audit.checkpoints import checkpoint_keys, open_note  # noqa: PLC0415
    from audit.verify import Trusted  # noqa: PLC0415

    trusted: list[Trusted] = []
    for path in checkpoint_files:
        try:
            note = open_note(path.read_text(encoding="utf-8"), checkpoint_keys(keys))
        except (OSError, ValueError) as error:
            raise _unusable(f"cannot use the trusted checkpoint {path}: {error}") from error
        trusted.append(Trusted(note.tree_size, note.root_hash, f"the trusted checkpoint in {path}"))
    if (size is None) != (root is None):
        raise _unusable("give --trusted-size and --trusted-root together")
    if size is not None and root is not None:
        try:
            root_hash = base64.b64decode(root, validate=True)
        except binascii.Error as error:
            raise _unusable(f"--trusted-root is not base64: {error}") from error
        if len(root_hash) != HASH_SIZE:
            raise _unusable(f"--trusted-root is {len(root_hash)} bytes, not {HASH_SIZE}")
        trusted.append(Trusted(size, root_hash))
    return trusted


@app.command()
def verify(
    export_file: Annotated[Path, typer.Argument(help="An export (gateway audit export).")],
    jwks: Annotated[
        Path, typer.Option(help="The gateway's public JWKS (/.well-known/jwks.json), saved.")
    ],
    trusted_checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            help="A checkpoint (signed note) kept earlier, e.g. from GET /v1/audit/checkpoint: "
            "the export must extend it. Repeatable."
        ),
    ] = None,
    trusted_size: Annotated[
        int | None,
        typer.Option(min=1, help="The size of a log you trust (with --trusted-root)."),
    ] = None,
    trusted_root: Annotated[
        str | None, typer.Option(help="The base64 root hash of that log (with --trusted-size).")
    ] = None,
) -> None:
    """Check an export offline: signatures, every event's place, roots, consistency.

    With a trusted checkpoint, also that the export is not rolled back or truncated to an
    older state, nor a rewrite of the log the auditor saw: its signed log is at least as
    large, and its tree of the trusted size has the trusted root.

    Exit status: 0 verified; 1 an event modified, removed, inserted or moved, or a
    truncated or unreadable export; 2 a file cannot be read or used; 3 a checkpoint's
    signature does not verify; 4 a checkpoint is signed by no key of the JWKS; 5 a
    checkpoint's root is not the events'; 6 a checkpoint is not consistent with an
    earlier or the trusted one; 7 the export is older than the trusted checkpoint.
    """
    from audit.verify import verify as verifying  # noqa: PLC0415

    try:
        keys = json.loads(jwks.read_text())
    except (OSError, ValueError) as error:
        raise _unusable(f"cannot read the JWKS: {error}") from error
    trusted = _trusted(keys, trusted_checkpoint or [], trusted_size, trusted_root)
    try:
        with export_file.open(encoding="utf-8") as handle:
            report = verifying(handle, keys, trusted)
    except (OSError, ValueError) as error:
        raise _unusable(f"cannot read the export: {error}") from error
    if report.ok:
        extends = "".join(
            f"; it extends the trusted checkpoint of size {kept.tree_size}" for kept in trusted
        )
        typer.echo(
            f"verified: {report.events} events, {report.checkpoints} signed checkpoints, "
            f"every event in its place{extends}"
        )
        return
    for issue in report.issues:
        typer.echo(f"FAILED ({issue.failure}): {issue.message}")
    raise typer.Exit(VERIFY_EXIT[report.issues[0].failure])
