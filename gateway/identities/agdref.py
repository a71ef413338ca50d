"""AGDREF numbers (numéro étranger), the identifier of the Interior's foreigners' file.

Ten digits, and never an integer: leading zeros are part of the number. Some sources say
9 or 10 digits, so a 9-digit number may be a 10-digit one that lost its leading zero
(typically through a spreadsheet or an integer column). Both readings are accepted and
the record says which one was seen. No check digit is documented, so none is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.identities.errors import IdentityFieldError

LENGTH = 10


@dataclass(frozen=True)
class AgdrefNumber:
    """The number as sent, its 10-digit canonical form, and whether a zero was restored."""

    given: str
    canonical: str
    possible_lost_leading_zero: bool


def parse_agdref(raw: str) -> AgdrefNumber:
    """Accept 10 digits, or 9 read as a lost leading zero; raise IdentityFieldError."""
    given = raw.strip()
    # isdigit alone would take Arabic-Indic or superscript digits.
    if not (given.isascii() and given.isdigit()) or len(given) not in {LENGTH - 1, LENGTH}:
        raise IdentityFieldError("agdref-format", "an AGDREF number has 10 digits (or 9)")
    if len(given) == LENGTH:
        return AgdrefNumber(given, given, possible_lost_leading_zero=False)
    return AgdrefNumber(given, "0" + given, possible_lost_leading_zero=True)
