"""Partially known dates, as birth dates often are.

Year, month and day are each known or not, and unknown parts are never filled in: civil
status writes 31 December (formerly 1 January) when only the year is known, so a filled
date would be indistinguishable from a real one. Matching uses ``earliest``/``latest``.
Accepted forms: ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` and ``DD/MM/YYYY``, where ``00`` or
``XX`` (``0000``/``XXXX`` for the year) marks an unknown part. A date in the future is the
caller's rule (``date-in-future``), as only the caller knows what today is.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import MAXYEAR, date
from functools import lru_cache
from typing import Literal

from gateway.identities.errors import IdentityFieldError

Precision = Literal["day", "month", "year", "unknown"]

OLDEST_YEAR = 1880  # before any living person was born: earlier years are typing errors
MONTHS_IN_YEAR = 12
_ISO = re.compile(r"([0-9]{4}|XXXX)(?:-([0-9]{2}|XX)(?:-([0-9]{2}|XX))?)?", re.IGNORECASE)
_FRENCH = re.compile(r"([0-9]{2}|XX)/([0-9]{2}|XX)/([0-9]{4}|XXXX)", re.IGNORECASE)


def _part(text: str | None) -> int | None:
    """A known part as an integer; None when absent, all zeros or all X."""
    # The patterns let through only all-digit or all-X parts.
    if text is None or text.upper().startswith("X"):
        return None
    return int(text) or None


@dataclass(frozen=True)
class PartialDate:
    """A date of which the day, the month and the year may each be unknown (None).

    Construction validates: a known day needs a known month, a known month a known year,
    and the known parts must be a possible date from 1880 on.
    """

    year: int | None = None
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.day is not None and self.month is None:
            raise IdentityFieldError("date-day-without-month", "a day is known but not its month")
        if self.month is not None and self.year is None:
            raise IdentityFieldError("date-month-without-year", "a month is known but not its year")
        if self.year is None:
            return
        if self.year < OLDEST_YEAR:
            raise IdentityFieldError("date-too-old", f"a year before {OLDEST_YEAR} is refused")
        if self.year > MAXYEAR:
            raise IdentityFieldError("date-impossible", "the year is out of range")
        if self.month is not None and not 1 <= self.month <= MONTHS_IN_YEAR:
            raise IdentityFieldError("date-impossible", "the month must be 1 to 12")
        if self.month is not None and self.day is not None:
            last = calendar.monthrange(self.year, self.month)[1]
            if not 1 <= self.day <= last:
                raise IdentityFieldError("date-impossible", "that day does not exist in that month")

    @classmethod
    def from_parts(cls, year: int | None, month: int | None, day: int | None) -> PartialDate:
        """From separate parts, where 0 means unknown as ``00`` does in text."""
        return cls(year or None, month or None, day or None)

    @classmethod
    def parse(cls, raw: str | None) -> PartialDate:
        """From one of the accepted forms; None or blank is a wholly unknown date."""
        return _parse(raw) if cls is PartialDate else cls._parse(raw)

    @classmethod
    def _parse(cls, raw: str | None) -> PartialDate:
        text = (raw or "").strip()
        if not text:
            return cls()
        if iso := _ISO.fullmatch(text):
            year, month, day = iso.groups()
        elif french := _FRENCH.fullmatch(text):
            day, month, year = french.groups()
        else:
            raise IdentityFieldError(
                "date-format", "a date is YYYY-MM-DD, YYYY-MM, YYYY or DD/MM/YYYY"
            )
        return cls(_part(year), _part(month), _part(day))

    @property
    def precision(self) -> Precision:
        if self.day is not None:
            return "day"
        if self.month is not None:
            return "month"
        if self.year is not None:
            return "year"
        return "unknown"

    def iso(self) -> str | None:
        """``1990-05-17``, ``1990-05``, ``1990``, or None when nothing is known."""
        if self.year is None:
            return None
        parts = [f"{self.year:04d}"]
        parts += [f"{part:02d}" for part in (self.month, self.day) if part is not None]
        return "-".join(parts)

    def earliest(self) -> date | None:
        """The first day the known parts allow; None when the year is unknown."""
        if self.year is None:
            return None
        return date(self.year, self.month or 1, self.day or 1)

    def latest(self) -> date | None:
        """The last day the known parts allow; None when the year is unknown."""
        if self.year is None:
            return None
        month = self.month or MONTHS_IN_YEAR
        return date(self.year, month, self.day or calendar.monthrange(self.year, month)[1])

    def is_after(self, today: date) -> bool:
        """True only if even the earliest date this can denote is after ``today``."""
        earliest = self.earliest()
        return earliest is not None and earliest > today


@lru_cache(maxsize=65_536)
def _parse(raw: str | None) -> PartialDate:
    """``PartialDate.parse``, remembered (the same dates come back across a sweep).

    A check parses its birth date several times: validation, identifiers, matching.
    """
    return PartialDate._parse(raw)  # noqa: SLF001 - the class's own parser
