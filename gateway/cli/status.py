"""``gateway status``: the name matcher of status checks, measured and fed.

``match-quality FILE`` grades every pair of a labelled set (the JSON-lines format of
``gateway.identities.quality``) and prints the figures, without the database.
``reindex`` gives identities stored without blocking keys their keys. The synthetic
labelled set is made by a lab tool outside the product (``python -m tools.identity_pairs``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from gateway.identities.quality import QualityReport

app = typer.Typer(help="Status checks: how well identities are matched.", no_args_is_help=True)
console = Console()
BAD_INPUT = 2  # exit code of a file that is not a labelled set, as for usage errors


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _identity(document: dict[str, Any]) -> str:
    names = document.get("birth_name", "-")
    if "usage_name" in document:
        names += f" ({document['usage_name']})"
    first = " ".join(document.get("first_names", []))
    facts = [document.get(key, "-") for key in ("sex", "birth_date", "place_of_birth")]
    return f"{names} / {first}, {', '.join(facts)}"


@app.command("match-quality")
def match_quality(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="Labelled pairs, one JSON object a line."),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    errors: Annotated[int, typer.Option(min=0, help="How many of the worst errors to list.")] = 20,
) -> None:
    """Precision and recall of the name matcher on a labelled set, by variation."""
    from gateway.identities import matching, quality  # noqa: PLC0415 - only this command needs them

    try:
        pairs = quality.read_pairs(file.read_bytes())
    except OSError as error:
        typer.echo(f"{file}: cannot read: {error.strerror}", err=True)
        raise typer.Exit(BAD_INPUT) from error
    except quality.PairFileError as error:
        for problem in error.problems:
            typer.echo(f"{file}:{problem}", err=True)
        raise typer.Exit(BAD_INPUT) from error
    if not pairs:
        typer.echo(f"{file}: no pairs [file-empty]", err=True)
        raise typer.Exit(BAD_INPUT)
    # Looked up now, not at import: the matcher in force is the one measured.
    report = quality.evaluate(pairs, matching.assess, max_errors=errors)
    if json_output:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    _print(report)


def _print(report: QualityReport) -> None:
    console.print(
        f"[bold]{report.pairs}[/] pairs: {report.positives} of one person, "
        f"{report.negatives} of two people"
    )
    levels = Table(title="Levels given")
    for column in ("pairs", "exact", "strong", "weak", "none"):
        levels.add_column(column, justify="left" if column == "pairs" else "right")
    for label, counts in report.levels.items():
        levels.add_row(label, *(str(count) for count in counts.values()))
    console.print(levels)
    thresholds = Table(title="Counted as a match")
    for column in ("levels", "predicted", "precision", "recall", "false matches"):
        thresholds.add_column(column, justify="left" if column == "levels" else "right")
    for threshold in (report.strong_or_better, report.weak_or_better):
        thresholds.add_row(
            " or ".join(threshold.counted_as_match),
            str(threshold.predicted),
            _percent(threshold.precision),
            _percent(threshold.recall),
            _percent(threshold.false_match_rate),
        )
    console.print(thresholds)
    console.print(f"Of the positives below strong, weak catches {_percent(report.weak_catches)}.")
    _print_variations(report)
    if report.families:
        _print_families(report)
    if not report.worst_errors:
        console.print("No negative graded strong or exact, no positive graded none.")
        return
    worst = Table(title=f"Worst errors ({len(report.worst_errors)} of {report.error_count})")
    for column in ("line", "same person", "variation", "level", "query", "stored"):
        worst.add_column(column)
    for error in report.worst_errors:
        worst.add_row(
            str(error.position),
            "yes" if error.same else "no",
            error.variation + (f" ({error.detail})" if error.detail else ""),
            error.level,
            _identity(error.query),
            _identity(error.stored),
        )
    console.print(worst)


def _print_variations(report: QualityReport) -> None:
    variations = Table(title="By variation")
    for column in ("variation", "same person", "pairs", "strong or exact", "weak or better"):
        variations.add_column(column, justify="right" if column != "variation" else "left")
    for row in report.variations:
        variations.add_row(
            row.variation,
            "yes" if row.same else "no",
            str(row.count),
            _percent(row.strong_or_better),
            _percent(row.weak_or_better),
        )
    console.print(variations)


def _print_families(report: QualityReport) -> None:
    families = Table(title="By family: precision and recall")
    columns = ("family", "one person", "two people", "strong: precision", "recall")
    for column in (*columns, "weak: precision", "recall"):
        families.add_column(column, justify="right" if column != "family" else "left")
    for row in report.families:
        strong, weak = row.strong_or_better, row.weak_or_better
        families.add_row(
            row.family,
            str(row.positives),
            str(row.negatives),
            _percent(strong.precision),
            _percent(strong.recall),
            _percent(weak.precision),
            _percent(weak.recall),
        )
    console.print(families)


@app.command()
def reindex(
    chunk: Annotated[
        int, typer.Option(min=1, max=50_000, help="Identities per transaction.")
    ] = 2_000,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Compute every identity's keys again (after an upgrade that changes them).",
        ),
    ] = False,
) -> None:
    """Give identities stored without blocking keys their keys, so names find them.

    Needed once after upgrading a database whose identities predate name matching, or
    after restoring one. With --all, every identity is given new keys at once and the
    running scheme recorded: what the worker does by itself, a chunk a minute, after an
    upgrade that changes how keys are made. Safe to run again.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn  # noqa: PLC0415

    from gateway.cli.context import settings  # noqa: PLC0415 - needs the database and keys
    from gateway.identities.reindex import reindex as run  # noqa: PLC0415
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415
    from gateway.keys import GatewayKeys, KeyStoreError  # noqa: PLC0415
    from gateway.storage.engine import make_engine, make_sessionmaker  # noqa: PLC0415

    config = settings()
    try:
        keys = IdentityKeys.from_store(GatewayKeys.load(config.key_dir))
    except KeyStoreError as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    engine = make_engine(config.database_url)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.completed} identities")) as progress:
            task = progress.add_task("reindex", total=None)
            indexed = run(
                make_sessionmaker(engine),
                keys,
                chunk=chunk,
                progress=lambda done: progress.advance(task, done),
                every=every,
            )
    finally:
        engine.dispose()
    console.print(f"{indexed} identities given their blocking keys")
