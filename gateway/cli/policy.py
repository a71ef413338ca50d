"""``gateway policy``: check a policy file, and show the one in force."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli.context import settings
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
