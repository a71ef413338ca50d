"""``gateway import``: a prefecture sends a backlog file, with a progress bar and a summary.

It runs on the prefecture's side, as its own client of the API: its client id and
private key, a token by ``private_key_jwt``, the file streamed over HTTP.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from joserfc.jwk import ECKey, OKPKey, RSAKey
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from connectors.client import GatewayClient, TokenRequestFailed

console = Console()
PURPOSE = "decision-transmission"


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
) -> None:
    """Send a backlog file of decisions (NDJSON or CSV) and report every line."""
    chosen = file_format or {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}.get(
        file.suffix.lower()
    )
    if chosen not in {"csv", "ndjson"}:
        console.print("[red]say --format ndjson or --format csv")
        raise typer.Exit(2)
    private = _private_key(key)
    with (
        GatewayClient(url, client_id, private, alg=_algorithm(private)) as client,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(f"sending {file.name}", total=file.stat().st_size)
        try:
            response = client.import_file(
                file,
                file_format=chosen,
                purpose=PURPOSE,
                dry_run=dry_run,
                on_bytes=lambda sent: progress.advance(task, sent),
            )
        except TokenRequestFailed as error:
            console.print(f"[red]{error}")
            raise typer.Exit(1) from error
        progress.update(task, description="stored, fetching the report")
        body = response.json()
        if response.status_code >= 400:  # noqa: PLR2004
            console.print(f"[red]{response.status_code} {body.get('detail', body)}")
            raise typer.Exit(1)
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
    if body["status"] != "completed":
        raise typer.Exit(1)
