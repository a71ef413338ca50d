"""``gateway policy``: check a policy file, and show the one in force."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli.context import settings, transaction
from policies.loader import DEFAULT_POLICY, PolicyError, load_file

app = typer.Typer(
    help="Policies: eligibility, priority, routing, fields, purposes.", no_args_is_help=True
)
console = Console()


@app.command()
def check(file: Annotated[Path, typer.Argument(help="A policy file (YAML).")]) -> None:
    """Validate a policy file; name the line and the rule of every problem."""
    try:
        loaded = load_file(file)
    except PolicyError as error:
        # One plain line per problem, file:line first, as compilers and linters print them.
        for problem in error.problems:
            typer.echo(
                f"{file}:{problem.line or '-'}: {problem.path or '(top)'}: "
                f"{problem.message} [{problem.rule}]"
            )
        raise typer.Exit(1) from error
    typer.echo(f"{file}: valid, version {loaded.version}")


@app.command()
def show() -> None:
    """The policy in force (GATEWAY_POLICY_FILE, or the shipped default) and its version."""
    path = settings().policy_file or DEFAULT_POLICY
    try:
        loaded = load_file(path)
    except PolicyError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    policy = loaded.policy
    console.print(f"[bold]{loaded.version}[/] from {path}")
    console.print(policy.description)
    console.print(
        f"disclosed: {', '.join(policy.eligibility.disclosed)}; recorded only: "
        f"{', '.join(policy.eligibility.recorded_only) or '-'}"
    )
    for rank, klass in enumerate(policy.priority.classes, start=1):
        console.print(f"priority {rank}: {klass.name}")


@app.command()
def explain(decision_id: str) -> None:
    """Why this decision goes to these funds with these fields, in words."""
    from gateway.decisions import explain as explaining  # noqa: PLC0415 - needs the database
    from gateway.decisions import repository  # noqa: PLC0415

    config = settings()
    try:
        loaded = load_file(config.policy_file or DEFAULT_POLICY)
    except PolicyError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    with transaction(config.database_url) as session:
        decision = repository.get(session, decision_id)
        if decision is None:
            console.print(f"[red]no decision {decision_id!r}")
            raise typer.Exit(1)
        found = explaining.explain(session, loaded, decision)
        typer.echo(
            f"Decision {decision.id} ({decision.reference}, {decision.kind}, "
            f"version {decision.current_version}) under policy {loaded.version}:"
        )
        for reason in found.evaluation.reasons:
            typer.echo(f"- {reason}")
        if found.evaluation.to_previous_recipients:
            typer.echo("- It goes to the funds that received the decision.")
        elif found.evaluation.disclosed and not found.funds:
            typer.echo("- No registered fund covers that département yet.")
        for fund_id, regime, fields in found.funds:
            typer.echo(f"- {fund_id} ({regime}) receives: {', '.join(fields)}.")
