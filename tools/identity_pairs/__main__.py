"""``python -m tools.identity_pairs``: write a synthetic labelled set as JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.identities.quality import to_jsonl
from tools.identity_pairs.generator import generate

app = typer.Typer(add_completion=False)


@app.command()
def make_pairs(
    count: Annotated[int, typer.Option(min=0, help="How many pairs.")] = 4000,
    seed: Annotated[int, typer.Option(help="The same seed gives the same pairs.")] = 20250,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file rather than to standard output.")
    ] = None,
) -> None:
    """Write a synthetic labelled set, as JSON lines (the format match-quality reads)."""
    text = to_jsonl(generate(count, seed))
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        typer.echo(f"cannot write {output}: {error.strerror}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{output}: {count} pairs, seed {seed}")


if __name__ == "__main__":
    app()
