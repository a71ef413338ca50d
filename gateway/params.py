"""The shapes of query, path and header values, checked before any query runs.

Every parameter a route takes has a type, a range and a character class: a cursor or a
size is an integer the database can hold, a text is free of control characters, a time
carries its zone and lies within the years the gateway can store. A value breaking one
is refused with a 400 problem naming the parameter and the rule (see ``gateway.web``),
never passed on to the database, where it would fail as a 500 (an integer past 64 bits,
a NUL byte on PostgreSQL, a time that overflows once moved to UTC).

The rules (``errors[].rule``) are stable codes: pydantic's own (``less_than_equal``,
``int_parsing``, ``string_too_long``, ``timezone_aware``, ``datetime_from_date_parsing``,
...) and those named here (``control-character``, ``out-of-range``).

``unsafe_text`` is also the safety net of ``gateway.routing``: a control character in any
query string value, form field, header or JSON body text is refused the same way, even
for a parameter a route forgot to declare.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

# The largest integers the columns hold: a BIGINT (SQLite's INTEGER), and on PostgreSQL
# an INTEGER (batch sequences, line numbers). A cursor is bounded by its column's type.
MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
MAX_INT32 = 2**31 - 1
# C0 controls (NUL included) and DEL; tab, line feed and carriage return too: no
# parameter of the API is a multi-line text.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# As a JSON Schema pattern, so that clients and generated tests know the rule.
SAFE_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# Times the gateway reads and stores: wide enough for any record, narrow enough that
# moving one to UTC or a period of days back never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
# Text allowed in a header value: visible ASCII, space and tab, and obs-text (RFC 9110).
HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def unsafe_text(value: str) -> bool:
    """Whether ``value`` holds a control character or a lone surrogate (never stored)."""
    return CONTROL.search(value) is not None or any("\ud800" <= char <= "\udfff" for char in value)


def printable(value: str, limit: int = 64) -> str:
    """``value`` as it may be logged, stored or named back: escaped if not printable, cut."""
    shown = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return shown[:limit]


def _safe_text(value: Any) -> Any:
    if isinstance(value, str) and unsafe_text(value):
        raise PydanticCustomError(
            "control-character", "control characters (such as NUL) are not allowed"
        )
    return value


def _bounded_time(value: datetime) -> datetime:
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:  # pragma: no cover - aware comparisons do not overflow
        inside = False
    if not inside:
        raise PydanticCustomError(
            "out-of-range", "a time between 1900-01-01 and 9999-01-01 (UTC) is expected"
        )
    return value.astimezone(UTC)


SafeText = Annotated[str, BeforeValidator(_safe_text)]
"""A text without control characters; give its length and pattern with ``Query``/``Path``."""

Instant = Annotated[AwareDatetime, AfterValidator(_bounded_time)]
"""An ISO 8601 time with its zone (``Z`` or ``+01:00``), within the storable years, in UTC."""


def _scalar_problem(item: Any) -> tuple[str, str] | None:
    """The rule a JSON scalar breaks, and how, if it breaks one."""
    if isinstance(item, str) and unsafe_text(item):
        return "control-character", "control characters (such as NUL) are not allowed"
    if isinstance(item, int) and not isinstance(item, bool) and not MIN_INT64 <= item <= MAX_INT64:
        return "int-range", "an integer beyond the signed 64-bit range"
    if isinstance(item, float) and not math.isfinite(item):
        return "finite-number", "NaN and infinite numbers are not allowed"
    return None


def json_problem(value: Any) -> tuple[str, str, str] | None:
    """A value of a parsed JSON document that no column can hold, if there is one.

    Returns (field path, rule, message): a text (or member name) with a control
    character or a lone surrogate, an integer past 64 bits, a number that is not finite.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if unsafe_text(str(key)):
                    return (
                        _place(where),
                        "control-character",
                        "a member name holds a control character",
                    )
                stack.append(((*where, key), inner))
        elif isinstance(item, list):
            stack.extend(((*where, index), inner) for index, inner in enumerate(item))
        elif (broken := _scalar_problem(item)) is not None:
            return _place(where), *broken
    return None


def _place(where: tuple[str | int, ...]) -> str:
    return printable(".".join(str(part) for part in where), 200) or "body"
