"""Tables for spreadsheets: standard CSV, and CSV as a French Excel opens it.

``csv`` is RFC 4180 (UTF-8, ``,``, CRLF), every value as the API gives it: what a script
reads. ``csv-fr`` is for people: UTF-8 with a byte-order mark (without it Excel reads
accents as Windows-1252), ``;`` between cells (the French list separator; ``,`` is the
decimal mark), decimals with a comma, booleans as VRAI and FAUX, and any text a
spreadsheet would take for a formula or a number (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) led by an apostrophe, so that it stays text and nothing
in an export runs when it is opened (the usual guard against CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Response

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Output = Literal["json", "csv", "csv-fr"]
MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Text already led by an apostrophe gets one more, so that every guard can be taken off.
GUARDED_STARTS = (*FORMULA_STARTS, "'")


def plain_cell(value: Any) -> Any:
    """A value as the API gives it; lists and objects as JSON."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def french_cell(value: Any) -> str:
    """A value as a French Excel reads it, never as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    text = str(plain_cell(value))
    return "'" + text if text.startswith(GUARDED_STARTS) else text


def unguarded(cell: str) -> str:
    """A French cell's text as the API gave it: the guarding apostrophe taken off."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(GUARDED_STARTS) else cell


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    output: Output,
    *,
    filename: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """The rows as a CSV download: French (``csv-fr``) or standard (any other)."""
    buffer = io.StringIO()
    if output == "csv-fr":
        buffer.write(BOM)
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(french_cell(column) for column in columns)
        writer.writerows([french_cell(value) for value in row] for row in rows)
    else:
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows([plain_cell(value) for value in row] for row in rows)
    suffix = "-fr" if output == "csv-fr" else ""
    disposition = f'attachment; filename="{filename}{suffix}.csv"'
    return Response(
        buffer.getvalue(),
        media_type=MEDIA_TYPE,
        headers={**(headers or {}), "Content-Disposition": disposition},
    )
