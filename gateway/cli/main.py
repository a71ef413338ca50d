"""``gateway``: the operator's command line (serve, worker, seal, push, db, keys, ...)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli import audit, fund, identities, keys, participants, policy, retention, status
from gateway.cli import console as console_commands
from gateway.cli.context import settings
from gateway.cli.imports import import_command
from gateway.settings import Settings

app = typer.Typer(help="The residence decisions gateway.", no_args_is_help=True)
db = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(participants.app, name="participants")
app.add_typer(policy.app, name="policy")
app.add_typer(retention.app, name="retention")
app.add_typer(audit.app, name="audit")
app.add_typer(fund.app, name="fund")
app.add_typer(status.app, name="status")
app.add_typer(identities.app, name="identities")
app.add_typer(console_commands.app, name="console")
app.command("import")(import_command)
console = Console()


@db.command()
def upgrade(revision: str = "head") -> None:
    """Apply the migrations up to REVISION (head by default)."""
    from gateway.storage import migrate  # noqa: PLC0415 - alembic only loads for db commands

    migrate.upgrade(settings().database_url, revision)
    console.print(f"database at {migrate.head() if revision == 'head' else revision}")


@db.command()
def check() -> None:
    """Fail if the models and the migrations disagree, or if there is more than one head."""
    from gateway.storage import migrate  # noqa: PLC0415 - alembic only loads for db commands

    heads = migrate.heads()
    if len(heads) != 1:
        console.print(f"[red]expected one migration head, found {heads}")
        raise typer.Exit(1)
    url = settings().database_url
    migrate.upgrade(url)
    differences = migrate.differences(url)
    if differences:
        for difference in differences:
            console.print(f"[red]{difference}")
        raise typer.Exit(1)
    console.print(f"models and migrations agree (head {heads[0]})")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="Processes; each is stateless.")] = 1,
) -> None:
    """Run the HTTP API (refuses to start on a configuration production must not run)."""
    import uvicorn  # noqa: PLC0415 - only the server needs it

    _checked_start(needs_keys=True)
    made = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every server process writes its counts there; /metrics adds them up. Made for
        # this run, removed after it (a fresh start counts from zero, as one process does).
        made = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    try:
        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            # The production stack: libuv's event loop and the C HTTP parser (both locked).
            loop="uvloop",
            http="httptools",
            proxy_headers=True,
            server_header=False,
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run every job once and exit.")] = False,
) -> None:
    """Run the scheduled jobs (APScheduler); safe to run on several hosts.

    Refuses to start on a configuration production must not run (keys, SQLite).
    """
    from gateway import scheduler  # noqa: PLC0415

    config = _checked_start(needs_keys=False)
    scheduler.run(config, once=once)


def _checked_start(*, needs_keys: bool) -> Settings:
    """The settings of a long-running command, after the start-up checks (``gateway.startup``).

    Refused: exit status 1 and one line on stderr, after the warnings; otherwise the
    warnings (unknown ``GATEWAY_`` variables) go to the log.
    """
    import logging  # noqa: PLC0415
    import os  # noqa: PLC0415

    from pydantic import ValidationError  # noqa: PLC0415

    from gateway import logs, startup, tracing  # noqa: PLC0415

    warnings = startup.unknown_variables(os.environ)
    try:
        try:
            config = Settings()
        except ValidationError as error:
            raise startup.StartRefused(startup.invalid_settings(error)) from None
        startup.check(config, needs_keys=needs_keys)
        try:
            tracing.wanted_exporters(os.environ)
        except tracing.TracingRefused as error:
            raise startup.StartRefused(str(error)) from None
    except startup.StartRefused as error:
        for warning in warnings:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"refusing to start: {error}", err=True)
        raise typer.Exit(1) from None
    logs.configure(config.log_level)
    for warning in warnings:
        logging.getLogger("gateway.startup").warning(warning)
    return config


@app.command()
def seal(
    express: Annotated[
        bool, typer.Option(help="Only the classes the policy marks express.")
    ] = False,
    fund: Annotated[list[str] | None, typer.Option(help="Only these funds.")] = None,
) -> None:
    """Seal pending disclosures into signed batches now (the worker does it on a schedule)."""
    from gateway.batches.sealing import seal as sealing  # noqa: PLC0415 - needs the database
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415
    from gateway.keys import GatewayKeys  # noqa: PLC0415
    from gateway.storage.engine import make_engine, make_sessionmaker  # noqa: PLC0415
    from policies.loader import DEFAULT_POLICY, load_file  # noqa: PLC0415

    config = settings()
    keys = GatewayKeys.load(config.key_dir)
    engine = make_engine(config.database_url)
    try:
        sealed = sealing(
            make_sessionmaker(engine),
            keys,
            IdentityKeys.from_store(keys),
            load_file(config.policy_file or DEFAULT_POLICY),
            express_only=express,
            max_records=config.batch_max_records,
            fund_ids=fund,
        )
    finally:
        engine.dispose()
    for batch in sealed:
        typer.echo(
            f"{batch.fund_id} seq {batch.seq}: {batch.record_count} records, {batch.digest}"
            + (" (express)" if batch.express else "")
        )
    typer.echo(f"{len(sealed)} batches, {sum(b.record_count for b in sealed)} records")


@app.command()
def push() -> None:
    """Push due batches to the funds with a push endpoint now (the worker does it too)."""
    from gateway import tracing  # noqa: PLC0415
    from gateway.batches.delivery import deliver  # noqa: PLC0415 - needs the database
    from gateway.storage.engine import make_engine, make_sessionmaker  # noqa: PLC0415

    config = settings()
    engine = make_engine(config.database_url)
    provider = tracing.provider_from_environment()
    if provider is not None:
        tracing.instrument_engine(engine, provider)
    try:
        attempts = deliver(make_sessionmaker(engine), config, tracer_provider=provider)
    finally:
        engine.dispose()
    for attempt in attempts:
        typer.echo(
            f"{attempt.fund_id} seq {attempt.seq}: "
            + ("acknowledged" if attempt.accepted else f"failed: {attempt.error}")
        )
    typer.echo(f"{len(attempts)} attempts")
