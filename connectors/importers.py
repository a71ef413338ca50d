"""Reading prefecture backlog files, streamed: NDJSON and CSV into decision documents.

Both readers take an iterable of byte chunks (an upload, a file) and yield one
``RawRecord`` per line or CSV record, lazily, so memory stays flat whatever the file's
size. A record either carries the document to validate or the errors that stopped it:
a bad line never stops the others. Only a broken CSV header stops the whole file
(``ImportFileError``), since then no line can be read.

The CSV format (columns, separators, encodings, examples) is documented in
``docs/imports.md``. An NDJSON line is one JSON object shaped like the body of
``POST /v1/decisions``.
"""

from __future__ import annotations

import codecs
import csv
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pydantic import ValidationError

CSV_COLUMNS = (
    "reference", "departement", "kind", "withdrawn_document", "removal_measures",
    "public_order", "decision_date", "notification_date", "effect_date", "permit_category",
    "permit_number", "permit_expiry_date", "legal_basis", "agdref_number", "ssn_number",
    "ssn_type", "birth_name", "usage_name", "first_names", "sex", "birth_date",
    "place_of_birth", "nationality", "residence_departement",
)  # fmt: skip
REQUIRED_COLUMNS = ("reference", "kind", "decision_date")
MAX_LINE_BYTES = 64 * 1024
TRUE_WORDS = frozenset({"true", "1", "oui", "yes", "o", "y"})
FALSE_WORDS = frozenset({"false", "0", "non", "no", "n", ""})
UTF8_BOM = b"\xef\xbb\xbf"
# The encodings a file may be read in, by the names (and aliases) a charset may give.
ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "windows-1252": "windows-1252",
    "cp1252": "windows-1252",
    "iso-8859-1": "iso-8859-1",
    "latin-1": "iso-8859-1",
    "latin1": "iso-8859-1",
    "iso-8859-15": "iso-8859-15",
    "latin-9": "iso-8859-15",
}
# Stands for an over-long line in the CSV reader's text: a lone high surrogate, which
# decoding (even with surrogateescape, \udc80-\udcff) never produces.
_TOO_LONG = "\ud800"


class ImportFileError(ValueError):
    """The file as a whole cannot be read (a CSV header that is missing or wrong).

    ``rule`` names the fault: ``header-missing``, ``header-too-long``,
    ``header-encoding``, ``header-malformed``, ``missing-columns``, ``unknown-columns``
    or ``duplicate-columns``.
    """

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class LineError:
    field: str
    rule: str
    message: str


def validation_errors(error: ValidationError, whole: str) -> list[LineError]:
    """Field path, rule and message of each broken rule; never the offending value.

    ``whole`` names the field of a rule that concerns the whole document.
    """
    return [
        LineError(
            ".".join(str(part) for part in item["loc"]) or whole,
            str(item["type"]),
            str(item["msg"]),
        )
        for item in error.errors(include_url=False, include_input=False)
    ]


@dataclass
class RawRecord:
    """One line (NDJSON) or record (CSV): its document, or why it has none."""

    line: int
    document: dict[str, Any] | None
    errors: list[LineError] = field(default_factory=list)
    reference: str | None = None


def detect_encoding(chunks: Iterable[bytes]) -> str:
    """The encoding of a file: UTF-8 (its BOM, or valid throughout), else Windows-1252.

    Windows-1252 is what Excel saves a CSV file in on a French Windows.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = True
    try:
        for chunk in chunks:
            if first and chunk.startswith(UTF8_BOM):
                return "utf-8"
            first = first and not chunk
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "windows-1252"
    return "utf-8"


def physical_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Split a byte stream into numbered lines (without their end of line)."""
    chunks = iter(chunks)  # one iterator for both loops below, even over a list
    number = 0
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            number += 1
            yield number, line.removesuffix(b"\r")
        # Not counting a carriage return that may be the start of the coming CRLF.
        if len(pending.removesuffix(b"\r")) > MAX_LINE_BYTES:
            # A line this long is not a decision: report it and resynchronise on the next
            # end of line without holding the rest in memory.
            number += 1
            yield number, pending
            pending = b""
            for rest in chunks:
                _, newline, tail = rest.partition(b"\n")
                if newline:
                    pending = tail
                    break
            *complete, pending = pending.split(b"\n")
            for line in complete:
                number += 1
                yield number, line.removesuffix(b"\r")
    if pending.strip():
        number += 1
        yield number, pending.removesuffix(b"\r")


def _too_long() -> LineError:
    return LineError("line", "too-long", f"a line may not exceed {MAX_LINE_BYTES} bytes")


def _named(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8" else encoding


def _decode(raw: bytes, line: int, encoding: str) -> tuple[str | None, RawRecord | None]:
    if len(raw) > MAX_LINE_BYTES:
        return None, RawRecord(line, None, [_too_long()])
    try:
        return raw.decode(encoding), None
    except UnicodeDecodeError as error:
        return None, RawRecord(
            line,
            None,
            [
                LineError(
                    "line",
                    "encoding",
                    f"not {_named(encoding)} (byte {error.start + 1} of the line)",
                )
            ],
        )


def _first_line(line: int, given: bytes, encoding: str) -> tuple[bytes, str]:
    """The line without a UTF-8 BOM, and the encoding: a BOM says UTF-8 whatever declared."""
    if line == 1 and given.startswith(UTF8_BOM):
        return given.removeprefix(UTF8_BOM), "utf-8"
    return given, encoding


def read_ndjson(chunks: Iterable[bytes], *, encoding: str = "utf-8") -> Iterator[RawRecord]:
    for line, given in physical_lines(chunks):
        raw, encoding = _first_line(line, given, encoding)
        if not raw.strip():
            continue
        text, refused = _decode(raw, line, encoding)
        if refused is not None:
            yield refused
            continue
        assert text is not None  # noqa: S101 - _decode returns one or the other
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            yield RawRecord(
                line,
                None,
                [
                    LineError(
                        "line", "json", f"not a JSON object: {error.msg} at column {error.colno}"
                    )
                ],
            )
            continue
        except RecursionError:
            yield RawRecord(line, None, [LineError("line", "json", "JSON nested too deeply")])
            continue
        if not isinstance(document, dict):
            yield RawRecord(line, None, [LineError("line", "json", "not a JSON object")])
            continue
        reference = document.get("reference")
        yield RawRecord(line, document, reference=reference if isinstance(reference, str) else None)


def _flag(value: str) -> bool | str:
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    return value  # left for validation to refuse, naming the field


def csv_document(row: dict[str, str]) -> dict[str, Any]:
    """Map the flat CSV columns onto the nested shape of a decision."""

    def cell(name: str) -> str | None:
        value = row.get(name)
        return value.strip() or None if value is not None else None

    def listed(name: str) -> list[str]:
        value = cell(name)
        return [part.strip() for part in value.split("|") if part.strip()] if value else []

    document: dict[str, Any] = {
        "reference": cell("reference"),
        "kind": cell("kind"),
        "decision_date": cell("decision_date"),
        "public_order": _flag(row.get("public_order") or ""),
        "removal_measures": listed("removal_measures"),
    }
    for name in (
        "departement",
        "withdrawn_document",
        "notification_date",
        "effect_date",
        "legal_basis",
    ):
        if cell(name) is not None:
            document[name] = cell(name)
    permit = {
        key: cell(column)
        for key, column in (
            ("category", "permit_category"),
            ("number", "permit_number"),
            ("expiry_date", "permit_expiry_date"),
        )
        if cell(column) is not None
    }
    if permit:
        document["permit"] = permit
    document["identity"] = csv_identity(row)
    return document


def _cell(row: dict[str, str], name: str) -> str | None:
    value = row.get(name)
    return value.strip() or None if value is not None else None


def csv_identity(row: dict[str, str]) -> dict[str, Any]:
    """The identity columns of a CSV record (decisions, status checks) as an identity."""
    names = _cell(row, "first_names")
    identity: dict[str, Any] = {
        "first_names": [p.strip() for p in names.split("|") if p.strip()] if names else []
    }
    for name in (
        "agdref_number",
        "birth_name",
        "usage_name",
        "sex",
        "birth_date",
        "place_of_birth",
        "nationality",
        "residence_departement",
    ):
        if _cell(row, name) is not None:
            identity[name] = _cell(row, name)
    if _cell(row, "ssn_number") is not None or _cell(row, "ssn_type") is not None:
        identity["social_security_number"] = {
            "number": _cell(row, "ssn_number"),
            "type": _cell(row, "ssn_type"),
        }
    return identity


def _text_lines(chunks: Iterable[bytes], starts: list[int], encoding: list[str]) -> Iterator[str]:
    # Undecodable bytes become lone surrogates, so one bad line does not stop the csv
    # reader; the record holding them is refused afterwards. ``encoding`` holds the one
    # in use: a BOM on the first line makes it UTF-8.
    for line, given in physical_lines(chunks):
        raw, encoding[0] = _first_line(line, given, encoding[0])
        starts.append(line)
        if len(raw) > MAX_LINE_BYTES:
            # Only its start may have been read: the record holding it is refused.
            yield _TOO_LONG + "\n"
            continue
        yield raw.decode(encoding[0], errors="surrogateescape") + "\n"


def _undecodable(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def _header(
    header_line: str | None, columns: tuple[str, ...], required: tuple[str, ...], encoding: str
) -> tuple[str, list[str]]:
    """The delimiter and the column names; raise ImportFileError if they cannot be used."""
    if header_line is None:
        raise ImportFileError(
            "the file is empty: a CSV import starts with its header line", "header-missing"
        )
    if _TOO_LONG in header_line:
        raise ImportFileError(
            f"the header line is longer than {MAX_LINE_BYTES} bytes", "header-too-long"
        )
    if _undecodable(header_line):
        raise ImportFileError(
            f"the header line is not {_named(encoding)}: save the file as UTF-8, or declare "
            "its encoding (Content-Type: text/csv; charset=windows-1252 for Excel's)",
            "header-encoding",
        )
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    try:
        names = next(csv.reader([header_line], delimiter=delimiter, strict=True))
    except csv.Error as error:
        raise ImportFileError(f"malformed CSV header line: {error}", "header-malformed") from error
    header = [name.strip().lower() for name in names]
    unknown = [name for name in header if name not in columns]
    missing = [name for name in required if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        problems = []
        if unknown:
            # Escaped when not printable: the message is stored, and PostgreSQL takes no NUL.
            shown = [name if name.isprintable() else ascii(name) for name in unknown]
            problems.append(f"unknown column(s) {', '.join(shown)}")
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if len(set(header)) != len(header):
            problems.append("a column appears twice")
        faults = (("missing-columns", missing), ("unknown-columns", unknown))
        rule = next((name for name, found in faults if found), "duplicate-columns")
        raise ImportFileError(
            "wrong CSV header: " + "; ".join(problems) + f". Columns: {', '.join(columns)}",
            rule,
        )
    return delimiter, header


def read_csv(
    chunks: Iterable[bytes],
    *,
    columns: tuple[str, ...] = CSV_COLUMNS,
    required: tuple[str, ...] = REQUIRED_COLUMNS,
    to_document: Callable[[dict[str, str]], dict[str, Any]] = csv_document,
    encoding: str = "utf-8",
) -> Iterator[RawRecord]:
    """CSV records as documents: decisions, unless other ``columns`` and ``to_document``.

    ``encoding`` is the file's (``ENCODINGS``); a UTF-8 BOM makes it UTF-8.
    """
    starts: list[int] = []
    in_use = [encoding]
    lines = _text_lines(chunks, starts, in_use)
    delimiter, header = _header(next(lines, None), columns, required, in_use[0])
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        consumed = len(starts)
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RawRecord(
                starts[consumed] if consumed < len(starts) else len(starts),
                None,
                [LineError("line", "csv", f"malformed CSV: {error}")],
            )
            continue
        line = starts[consumed] if consumed < len(starts) else len(starts)
        if not any(value.strip() for value in values):
            continue
        if any(_TOO_LONG in value for value in values):
            yield RawRecord(line, None, [_too_long()])
            continue
        if any(_undecodable(value) for value in values):
            yield RawRecord(line, None, [LineError("line", "encoding", f"not {_named(in_use[0])}")])
            continue
        if len(values) != len(header):
            yield RawRecord(
                line,
                None,
                [
                    LineError(
                        "line", "columns", f"expected {len(header)} fields, found {len(values)}"
                    )
                ],
            )
            continue
        row = dict(zip(header, values, strict=True))
        yield RawRecord(line, to_document(row), reference=row.get("reference") or None)
