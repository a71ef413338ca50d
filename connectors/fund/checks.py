"""The fund's side of status checks: a file of affiliates in, the answers written beside them.

Reads a CSV (the identity columns of a backlog import: ``agdref_number``, ``ssn_number``
with ``ssn_type``, ``birth_name``, ``usage_name``, ``first_names`` separated by ``|``,
``sex``, ``birth_date``, ``place_of_birth``, and ``residence_departement``, which a fund
with a territory gives for every person; other columns are kept as they are) or
NDJSON (one identity object per line), sends the people in chunks of at most 10,000 to
``POST /v1/status-checks``, and writes each input row followed by ``result``, ``match``,
``decision_reference``, ``decision_kind_class``, ``notification_date``, ``effect_date``
and ``errors``.
The gateway sends back nothing the fund did not send; the output holds only what the
input held plus the answer.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.fund.pull import PURPOSE
from connectors.importers import csv_identity

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from connectors.client import GatewayClient

CHUNK = 10_000
ANSWER_COLUMNS = (
    "result", "match", "decision_reference", "decision_kind_class", "notification_date",
    "effect_date", "errors",
)  # fmt: skip


class CheckFileError(ValueError):
    """The input cannot be read, or the gateway refused a whole chunk."""


@dataclass
class Summary:
    checked: int = 0
    results: dict[str, int] = field(default_factory=dict)
    malformed: int = 0


def _rows(path: Path, fmt: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(the row as read, its identity), lazily."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if fmt == "csv":
            sample = handle.readline()
            handle.seek(0)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            for row in csv.DictReader(handle, delimiter=delimiter):
                yield dict(row), csv_identity(row)
            return
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except json.JSONDecodeError as error:
                raise CheckFileError(f"line {number} is not JSON: {error.msg}") from error
            if not isinstance(document, dict):
                raise CheckFileError(f"line {number} is not a JSON object")
            yield document, document


def _answer_cells(answer: dict[str, Any]) -> dict[str, Any]:
    decision = answer.get("decision") or {}
    return {
        "result": answer.get("result") or "",
        "match": answer.get("match") or "",
        "decision_reference": decision.get("reference", ""),
        "decision_kind_class": decision.get("kind_class", ""),
        "notification_date": decision.get("notification_date") or "",
        "effect_date": decision.get("effect_date") or "",
        "errors": "; ".join(f"{e['field']}: {e['rule']}" for e in answer.get("errors", [])),
    }


class _Output:
    """The answers file: each input row and its answer, as CSV or NDJSON."""

    def __init__(self, handle: Any, fmt: str) -> None:
        self.handle = handle
        self.fmt = fmt
        self.writer: csv.DictWriter[str] | None = None
        self.summary = Summary()

    def write(self, row: dict[str, Any], answer: dict[str, Any]) -> None:
        cells = _answer_cells(answer)
        self.summary.checked += 1
        if answer.get("errors"):
            self.summary.malformed += 1
        else:
            results = self.summary.results
            results[cells["result"]] = results.get(cells["result"], 0) + 1
        if self.fmt != "csv":
            self.handle.write(json.dumps({**row, "answer": answer}, ensure_ascii=False) + "\n")
            return
        if self.writer is None:
            self.writer = csv.DictWriter(self.handle, fieldnames=[*row, *ANSWER_COLUMNS])
            self.writer.writeheader()
        self.writer.writerow({**row, **cells})


def check_file(
    client: GatewayClient,
    source: Path,
    output: Path,
    *,
    fmt: str,
    agent_id: str,
    case_reference: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Summary:
    """Check every person of ``source``; write input and answers to ``output``."""
    with output.open("w", encoding="utf-8", newline="") as handle:
        out = _Output(handle, fmt)
        chunk: list[tuple[dict[str, Any], dict[str, Any]]] = []

        def flush() -> None:
            if not chunk:
                return
            response = client.request(
                "POST",
                "/v1/status-checks",
                purpose=PURPOSE,
                agent_id=agent_id,
                case_reference=case_reference,
                json={"checks": [{"identity": identity} for _, identity in chunk]},
                timeout=300,
            )
            if response.status_code != 200:  # noqa: PLR2004
                raise CheckFileError(
                    f"the gateway refused a chunk: {response.status_code} {response.text[:300]}"
                )
            for (row, _), answer in zip(chunk, response.json()["answers"], strict=True):
                out.write(row, answer)
            if on_progress is not None:
                on_progress(len(chunk))
            chunk.clear()

        for item in _rows(source, fmt):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                flush()
        flush()
    return out.summary
