"""``gateway policy``: check a policy file, show the one in force, render its register."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli.context import settings, transaction
from policies.loader import DEFAULT_POLICY, PolicyError, load_file
from policies.register import render_html, render_markdown

app = typer.Typer(
    help="Policies: eligibility, priority, routing, fields, purposes.", no_args_is_help=True
)
console = Console()


class RegisterFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="A policy file (YAML).")],
    registry: Annotated[
        bool,
        typer.Option(help="Also require an active fund in every enabled regime (database)."),
    ] = False,
) -> None:
    """Validate a policy file; name the line and the rule of every problem."""
    try:
        loaded = load_file(file)
    except PolicyError as error:
        _print_problems(file, error)
        raise typer.Exit(1) from error
    if registry:
        from gateway.participants import repository  # noqa: PLC0415 - needs the database

        with transaction(settings().database_url) as session:
            missing = repository.regimes_without_fund(
                session,
                [r for r, route in loaded.policy.routing.regimes.items() if route.enabled],
            )
        for regime in missing:
            typer.echo(
                f"{file}: routing.regimes.{regime}: no active fund of this regime is "
                "registered: its share of every decision would go nowhere [regime-without-fund]"
            )
        if missing:
            raise typer.Exit(1)
    typer.echo(f"{file}: valid, version {loaded.version}")


def _print_problems(file: Path, error: PolicyError, *, err: bool = False) -> None:
    # One plain line per problem, file:line first, as compilers and linters print them.
    for problem in error.problems:
        typer.echo(
            f"{file}:{problem.line or '-'}: {problem.path or '(top)'}: "
            f"{problem.message} [{problem.rule}]",
            err=err,
        )


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
        for line in found.lines(loaded.version):
            typer.echo(line)


@app.command()
def register(
    file: Annotated[
        Path | None,
        typer.Argument(help="A policy file (YAML); the policy in force when left out."),
    ] = None,
    output_format: Annotated[
        RegisterFormat, typer.Option("--format", help="The output format.")
    ] = RegisterFormat.MARKDOWN,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file rather than to standard output.")
    ] = None,
) -> None:
    """The record of processing activities (GDPR article 30) the policy describes."""
    path = file or settings().policy_file or DEFAULT_POLICY
    try:
        loaded = load_file(path)
    except PolicyError as error:
        _print_problems(path, error, err=True)
        raise typer.Exit(1) from error
    render = render_html if output_format is RegisterFormat.HTML else render_markdown
    text = render(loaded)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        typer.echo(f"cannot write {output}: {error.strerror}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{output}: register of policy {loaded.version}")
