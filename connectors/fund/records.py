"""A batch's records on the fund's disk: NDJSON (one record per line) or CSV, written atomically.

CSV columns: ``record_id, type, decision_id, version, status, correction_kind,
correction_date``, then the data fields: ``ssn_number, ssn_type`` (the two members of
``social_security_number``, named as in the backlog import files), ``agdref_number,
birth_name, usage_name, first_names`` (joined with ``|``), ``sex, birth_date,
place_of_birth, nationality, residence_departement, kind_class, reference,
decision_date, notification_date, effect_date, permit_expiry, priority_class``, and any
other data field found, in name order.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

RecordFormat = Literal["ndjson", "csv"]
FORMATS: tuple[RecordFormat, ...] = ("ndjson", "csv")
RECORD_COLUMNS = (
    "record_id", "type", "decision_id", "version", "status", "correction_kind",
    "correction_date",
)  # fmt: skip
DATA_COLUMNS = (
    "ssn_number", "ssn_type", "agdref_number", "birth_name", "usage_name", "first_names",
    "sex", "birth_date", "place_of_birth", "nationality", "residence_departement",
    "kind_class", "reference", "decision_date", "notification_date", "effect_date",
    "permit_expiry", "priority_class",
)  # fmt: skip
_SSN = "social_security_number"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it, then rename it over.

    A crash leaves the old file or the new one, never half of one. The file is readable
    by its owner only.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
            output.flush()
            os.fsync(output.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten_record(record: Mapping[str, Any]) -> dict[str, str]:
    """One CSV row: the record's own columns, then its data's (see the module docstring)."""
    correction = record.get("correction") or {}
    row = {name: _cell(record.get(name)) for name in RECORD_COLUMNS[:5]}
    row["correction_kind"] = _cell(correction.get("kind"))
    row["correction_date"] = _cell(correction.get("date"))
    data = dict(record.get("data") or {})
    number = data.pop(_SSN, None) or {}
    row["ssn_number"] = _cell(number.get("number") if isinstance(number, dict) else number)
    row["ssn_type"] = _cell(number.get("type") if isinstance(number, dict) else None)
    row.update({name: _cell(value) for name, value in data.items()})
    return row


def records_bytes(records: Sequence[Mapping[str, Any]], fmt: RecordFormat) -> bytes:
    if fmt == "ndjson":
        lines = (
            json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
            for record in records
        )
        return "".join(lines).encode("utf-8")
    if fmt != "csv":
        raise ValueError(f"unknown records format {fmt!r}: ndjson or csv")
    rows = [flatten_record(record) for record in records]
    known = set(RECORD_COLUMNS) | set(DATA_COLUMNS)
    extra = sorted({name for row in rows for name in row} - known)
    text = io.StringIO()
    writer = csv.DictWriter(text, [*RECORD_COLUMNS, *DATA_COLUMNS, *extra], restval="")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def write_records(path: Path, records: Sequence[Mapping[str, Any]], fmt: RecordFormat) -> None:
    """Write a batch's records to ``path`` (NDJSON or CSV), atomically."""
    write_atomically(path, records_bytes(records, fmt))


def read_record_ids(path: Path, fmt: RecordFormat) -> list[str]:
    """The record ids of a records file written by ``write_records``, in order."""
    with path.open(encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            return [row["record_id"] for row in csv.DictReader(handle)]
        return [str(json.loads(line)["record_id"]) for line in handle if line.strip()]
