"""``gateway fund``: a fund pulls, verifies and acknowledges its batches.

It runs on the fund's side, as its own client of the API: its client id and private
key, a token by ``private_key_jwt``. Batches are checked against the gateway's public
JWKS (a file, or fetched from the gateway), records are written to the state directory
(``connectors/fund/``), and nothing but ids, seqs and digests is printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from joserfc.jwk import ECKey, OKPKey, RSAKey
from rich.console import Console
from rich.table import Table

from connectors import fund, wire
from connectors.client import GatewayClient, TokenRequestFailed

app = typer.Typer(help="A fund's batches: pull, verify, acknowledge.", no_args_is_help=True)
console = Console()

ClientId = Annotated[str, typer.Option(envvar="GATEWAY_CLIENT_ID", help="Your client id.")]
KeyFile = Annotated[
    Path,
    typer.Option(
        envvar="GATEWAY_CLIENT_KEY", exists=True, dir_okay=False, help="Your private JWK."
    ),
]
Url = Annotated[str, typer.Option(envvar="GATEWAY_URL")]
StateDir = Annotated[
    Path,
    typer.Option(
        envvar="GATEWAY_FUND_STATE_DIR",
        file_okay=False,
        help="Where the state, the records and the receipts are kept.",
    ),
]
AgentId = Annotated[
    str, typer.Option(envvar="GATEWAY_AGENT_ID", help="The agent the requests are made for.")
]
JwksFile = Annotated[
    Path | None,
    typer.Option(
        exists=True,
        dir_okay=False,
        help="The gateway's JWKS; fetched from <url>/.well-known/jwks.json if left out.",
    ),
]
DecryptionKey = Annotated[
    Path | None,
    typer.Option(
        exists=True, dir_okay=False, help="Your private encryption JWK, for encrypted batches."
    ),
]
Kid = Annotated[
    str | None,
    typer.Option(
        help="The kid of your key as registered; the JWK's kid or thumbprint if left out."
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        console.print(f"[red]{path} is not a JSON file: {error}")
        raise typer.Exit(2) from error


def _private_key(path: Path) -> ECKey | OKPKey | RSAKey:
    raw = _read_json(path)
    key_types: dict[str, type[ECKey | OKPKey | RSAKey]] = {
        "EC": ECKey,
        "OKP": OKPKey,
        "RSA": RSAKey,
    }
    if not isinstance(raw, dict) or raw.get("kty") not in key_types or "d" not in raw:
        console.print(f"[red]{path} is not a private EC, OKP or RSA JWK")
        raise typer.Exit(2)
    return key_types[raw["kty"]].import_key(raw)


def _decryption_key(path: Path | None) -> ECKey | OKPKey | None:
    if path is None:
        return None
    raw = _read_json(path)
    if not isinstance(raw, dict) or "d" not in raw or raw.get("kty") not in {"EC", "OKP"}:
        console.print(f"[red]{path} is not a private EC or X25519 JWK")
        raise typer.Exit(2)
    return ECKey.import_key(raw) if raw["kty"] == "EC" else OKPKey.import_key(raw)


def _jwks(path: Path | None, url: str) -> dict[str, Any]:
    if path is not None:
        document = _read_json(path)
    else:
        try:
            response = httpx.get(f"{url.rstrip('/')}/.well-known/jwks.json", timeout=10.0)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            console.print(f"[red]could not fetch the gateway's JWKS: {error}")
            raise typer.Exit(1) from error
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        console.print("[red]the gateway's JWKS is not a JSON object with a list of keys")
        raise typer.Exit(2)
    return document


def _report(summary: fund.PullSummary, title: str) -> None:
    acknowledged = {entry.seq for entry in summary.acknowledged}
    table = Table("seq", "batch", "records", "file", "acknowledged", title=title)
    for entry in summary.pulled:
        table.add_row(
            str(entry.seq),
            entry.batch_id,
            str(entry.record_count),
            entry.records_file,
            "yes" if entry.seq in acknowledged else "",
        )
    for entry in summary.acknowledged:
        if entry.seq not in {pulled.seq for pulled in summary.pulled}:
            table.add_row(str(entry.seq), entry.batch_id, str(entry.record_count), "", "yes")
    console.print(table if table.rows else title)
    console.print(f"last verified seq: {summary.last_seq}")
    failure = summary.failure
    if failure is not None:
        where = f"batch {failure.seq} ({failure.batch_id})" if failure.seq is not None else "run"
        console.print(f"[red]stopped at {where}: {failure.rule}: {failure.message}")
        raise typer.Exit(1)


@app.command()
def pull(
    client_id: ClientId,
    key: KeyFile,
    state_dir: StateDir,
    agent_id: AgentId,
    url: Url = DEFAULT_URL,
    jwks: JwksFile = None,
    file_format: Annotated[
        str, typer.Option("--format", help="Records files: ndjson or csv.")
    ] = "ndjson",
    decryption_key: DecryptionKey = None,
    ack: Annotated[
        bool, typer.Option(help="Sign and post a receipt ('noted') for each batch.")
    ] = False,
    kid: Kid = None,
) -> None:
    """Download every new batch in seq order, verify it and write its records."""
    if file_format not in fund.FORMATS:
        console.print("[red]say --format ndjson or --format csv")
        raise typer.Exit(2)
    private = _private_key(key)
    keys = _jwks(jwks, url)
    decrypting = _decryption_key(decryption_key)
    try:
        with GatewayClient(url, client_id, private, alg=fund.algorithm_for(private)) as client:
            summary = fund.pull(
                client,
                state_dir,
                jwks=keys,
                fund_id=client_id,
                agent_id=agent_id,
                fmt="csv" if file_format == "csv" else "ndjson",
                decryption_key=decrypting,
                ack=ack,
                signing_key=private,
                kid=kid,
            )
    except (TokenRequestFailed, httpx.HTTPError, fund.FundStateError) as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    _report(summary, f"{len(summary.pulled)} batches pulled")


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fund_id: Annotated[str, typer.Option(help="Your fund id: the batch must be addressed to it.")],
    jwks: JwksFile = None,
    url: Url = DEFAULT_URL,
    seq: Annotated[
        int | None, typer.Option(min=1, help="The seq expected (the last verified plus one).")
    ] = None,
    previous_digest: Annotated[
        str | None, typer.Option(help="The digest of the last verified batch.")
    ] = None,
    decryption_key: DecryptionKey = None,
) -> None:
    """Verify one downloaded batch file (offline with --jwks) and print what it holds."""
    if seq is not None and seq > 1 and previous_digest is None:
        console.print("[red]after seq 1, give --previous-digest to check the chain")
        raise typer.Exit(2)
    keys = _jwks(jwks, url)
    try:
        batch = fund.verify_batch(
            file.read_bytes(),
            jwks=keys,
            fund_id=fund_id,
            expected_seq=seq,
            previous_digest=previous_digest,
            decryption_key=_decryption_key(decryption_key),
        )
    except fund.BatchVerificationError as error:
        console.print(f"[red]refused: {error.rule}: {error.message}")
        raise typer.Exit(1) from error
    for label, value in (
        ("batch", batch.batch_id),
        ("fund", batch.fund_id),
        ("seq", str(batch.seq)),
        ("records", str(len(batch.records))),
        ("digest", batch.digest),
        ("previous digest", batch.previous_digest or "none"),
        ("signed with", batch.kid),
        ("encrypted", "yes" if batch.encrypted else "no"),
    ):
        typer.echo(f"{label:<16} {value}")
    checked = ["signature", "fund id", "record count", "Merkle root"]
    if seq is not None:
        checked.append("seq")
    if previous_digest is not None or seq == 1:
        checked.append("chain")
    console.print(f"verified: {', '.join(checked)}")


@app.command()
def ack(
    client_id: ClientId,
    key: KeyFile,
    state_dir: StateDir,
    agent_id: AgentId,
    url: Url = DEFAULT_URL,
    outcome: Annotated[
        str, typer.Option(help="The outcome given to every record of each batch.")
    ] = wire.DEFAULT_OUTCOME,
    kid: Kid = None,
) -> None:
    """Sign and post the receipts of the verified batches not yet acknowledged."""
    if outcome not in wire.OUTCOMES:
        console.print(f"[red]--outcome is one of {', '.join(sorted(wire.OUTCOMES))}")
        raise typer.Exit(2)
    private = _private_key(key)
    try:
        with GatewayClient(url, client_id, private, alg=fund.algorithm_for(private)) as client:
            summary = fund.acknowledge(
                client,
                state_dir,
                fund_id=client_id,
                agent_id=agent_id,
                signing_key=private,
                kid=kid,
                outcome=outcome,
            )
    except (TokenRequestFailed, httpx.HTTPError, fund.FundStateError) as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    _report(summary, f"{len(summary.acknowledged)} batches acknowledged")


@app.command()
def check(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Affiliates.")],
    client_id: ClientId,
    key: KeyFile,
    agent_id: AgentId,
    output: Annotated[Path, typer.Option(help="Where the answers are written.")],
    url: Url = DEFAULT_URL,
    file_format: Annotated[
        str, typer.Option("--format", help="The affiliates file: csv or ndjson.")
    ] = "csv",
    case_reference: Annotated[str | None, typer.Option(help="The case checked for.")] = None,
) -> None:
    """Check a file of affiliates (status checks in bulk); write the answers beside them."""
    from rich.progress import Progress  # noqa: PLC0415

    from connectors.fund import checks  # noqa: PLC0415

    if file_format not in {"csv", "ndjson"}:
        console.print("[red]say --format csv or --format ndjson")
        raise typer.Exit(2)
    private = _private_key(key)
    try:
        with (
            GatewayClient(url, client_id, private, alg=fund.algorithm_for(private)) as client,
            Progress(console=console, transient=True) as progress,
        ):
            task = progress.add_task("checking", total=None)
            summary = checks.check_file(
                client,
                source,
                output,
                fmt=file_format,
                agent_id=agent_id,
                case_reference=case_reference,
                on_progress=lambda done: progress.advance(task, done),
            )
    except (TokenRequestFailed, httpx.HTTPError, checks.CheckFileError, OSError) as error:
        console.print(f"[red]{error}")
        raise typer.Exit(1) from error
    console.print(
        f"{summary.checked} checked: {summary.results}"
        + (f", {summary.malformed} malformed" if summary.malformed else "")
        + f"; answers in {output}"
    )
