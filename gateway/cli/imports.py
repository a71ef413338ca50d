"""``gateway import``: a prefecture sends a backlog file, follows its processing, gets a summary.

It runs on the prefecture's side, as its own client of the API: its client id and
private key, a token by ``private_key_jwt``, the file streamed over HTTP. The gateway
stores the file and answers at once (202); the command then polls the import and shows
the worker's real progress, line by line, until it is done.

Exit codes: 0 every line accepted or a duplicate; 3 some lines rejected (the summary
and ``--report`` say which); 1 the import could not be sent or failed; 2 a usage error.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from joserfc.jwk import ECKey, OKPKey, RSAKey
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from connectors.client import GatewayClient, TokenRequestFailed
from connectors.importers import ENCODINGS, detect_encoding

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

console = Console()
PURPOSE = "decision-transmission"
EXIT_REJECTED = 3  # the import ran, and some lines were rejected
ENCODING_CHOICES = "utf-8, windows-1252 (cp1252), iso-8859-1, iso-8859-15 or auto"


def _file_chunks(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _encoding(given: str, path: Path) -> str:
    if given.lower() == "auto":
        return detect_encoding(_file_chunks(path))
    if given.lower() not in ENCODINGS:
        console.print(f"[red]--encoding may be {ENCODING_CHOICES}")
        raise typer.Exit(2)
    return ENCODINGS[given.lower()]


def _private_key(path: Path) -> ECKey | OKPKey | RSAKey:
    raw = json.loads(path.read_text())
    key_types: dict[str, type[ECKey | OKPKey | RSAKey]] = {
        "EC": ECKey,
        "OKP": OKPKey,
        "RSA": RSAKey,
    }
    if raw.get("kty") not in key_types or "d" not in raw:
        console.print(f"[red]{path} is not a private EC, OKP or RSA JWK")
        raise typer.Exit(2)
    return key_types[raw["kty"]].import_key(raw)


def _algorithm(key: ECKey | OKPKey | RSAKey) -> str:
    if isinstance(key, OKPKey):
        return "Ed25519"
    if isinstance(key, RSAKey):
        return "PS256"
    return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[key.curve_name]


def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    client_id: Annotated[str, typer.Option(envvar="GATEWAY_CLIENT_ID", help="Your client id.")],
    key: Annotated[Path, typer.Option(envvar="GATEWAY_CLIENT_KEY", help="Your private JWK.")],
    url: Annotated[str, typer.Option(envvar="GATEWAY_URL")] = "http://127.0.0.1:8000",
    file_format: Annotated[
        str | None, typer.Option("--format", help="ndjson or csv; from the extension if left out.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate and report, store nothing.")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write the line-by-line report to this CSV file.")
    ] = None,
    encoding: Annotated[
        str,
        typer.Option(
            help="The file's encoding: utf-8, cp1252 (Excel on Windows), iso-8859-1, "
            "iso-8859-15, or auto (UTF-8 if it has a BOM or is valid UTF-8, else cp1252).",
        ),
    ] = "auto",
    poll: Annotated[float, typer.Option(help="Seconds between two progress checks.")] = 0.5,
) -> None:
    """Send a backlog file of decisions (NDJSON or CSV), follow it, report every line.

    Exit codes: 0 every line accepted or a duplicate, 3 some lines rejected, 1 the import
    could not be sent or failed.
    """
    chosen = file_format or {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}.get(
        file.suffix.lower()
    )
    if chosen not in {"csv", "ndjson"}:
        console.print("[red]say --format ndjson or --format csv")
        raise typer.Exit(2)
    charset = _encoding(encoding, file)
    private = _private_key(key)
    with GatewayClient(url, client_id, private, alg=_algorithm(private)) as client:
        body = _send(client, file, chosen, charset, dry_run=dry_run)
        body = _follow(client, body, poll)
        lines = list(client.import_report(body["id"], purpose=PURPOSE)) if report else []
    summary = Table(
        "import",
        "status",
        "lines",
        "accepted",
        "duplicate",
        "rejected",
        title="dry run: nothing stored" if dry_run else None,
    )
    summary.add_row(
        body["id"],
        body["status"],
        *(str(body[k]) for k in ("lines", "accepted", "duplicate", "rejected")),
    )
    console.print(summary)
    if body.get("error"):
        console.print(f"[red]{body['error']}")
    if report:
        with report.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["line", "outcome", "reference", "decision_id", "field", "rule", "message"]
            )
            for line in lines:
                base = [
                    line["line"],
                    line["outcome"],
                    line["reference"] or "",
                    line["decision_id"] or "",
                ]
                for problem in line["errors"] or [None]:
                    extra = (
                        [problem["field"], problem["rule"], problem["message"]] if problem else []
                    )
                    writer.writerow(base + extra)
        console.print(f"report written to {report}")
    if body["status"] != "done":
        raise typer.Exit(1)
    if body["rejected"]:
        console.print(f"[yellow]{body['rejected']} line(s) rejected")
        raise typer.Exit(EXIT_REJECTED)


def _send(
    client: GatewayClient, file: Path, file_format: str, encoding: str, *, dry_run: bool
) -> dict[str, Any]:
    """Upload the file with a bar of the bytes sent; the 202's body."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"sending {file.name}", total=file.stat().st_size)
        try:
            response = client.import_file(
                file,
                file_format=file_format,
                purpose=PURPOSE,
                dry_run=dry_run,
                encoding=encoding,
                on_bytes=lambda sent: progress.advance(task, sent),
            )
        except TokenRequestFailed as error:
            console.print(f"[red]{error}")
            raise typer.Exit(1) from error
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:  # noqa: PLR2004
        console.print(f"[red]{response.status_code} {body.get('detail', body)}")
        for problem in body.get("errors", []):
            console.print(f"[red]  {problem.get('field')}: {problem.get('rule')}")
        raise typer.Exit(1)
    console.print(f"{file.name} stored ({encoding}): import {body['id']} {body['status']}")
    return body


def _follow(client: GatewayClient, body: dict[str, Any], poll: float) -> dict[str, Any]:
    """Poll the import until it is done, with a bar of the lines the worker processed."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("queued", total=body.get("lines_total") or None)

        def show(current: dict[str, Any]) -> None:
            progress.update(
                task,
                completed=current["lines_done"],
                total=current.get("lines_total") or None,
                description=f"{current['status']}: {current['accepted']} accepted, "
                f"{current['duplicate']} duplicate, {current['rejected']} rejected",
            )

        return client.wait_for_import(
            body["id"], purpose=PURPOSE, on_progress=show, poll_seconds=poll
        )
