"""Places of birth and nationalities, as INSEE COG codes (Code officiel géographique).

A place of birth is a commune code (``DDCCC`` in metropolitan France, ``97XCC`` or
``98XCC`` overseas) or ``99`` and a country code (``99352`` Algeria, ``99109`` Germany).
A nationality is a country code. The COG is not one-to-one with ISO 3166 (some
territories have codes of their own, some former states keep theirs) and it changes over
time, so codes are checked for shape and stored as given, never translated.
"""

from __future__ import annotations

from gateway.identities.errors import IdentityFieldError
from gateway.territory import DEPARTEMENTS, METROPOLITAN

LENGTH = 5
ABROAD = "99"
OVERSEAS = frozenset(["97", "98"])
# INSEE country codes by continent: 1xx Europe, 2xx Asia, 3xx Africa, 4xx Americas,
# 5xx Oceania.
FIRST_COUNTRY, LAST_COUNTRY = 100, 599


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_country_code(code: str) -> bool:
    return (
        len(code) == LENGTH
        and code.startswith(ABROAD)
        and _digits(code[2:])
        and FIRST_COUNTRY <= int(code[2:]) <= LAST_COUNTRY
    )


def _is_commune_number(number: str) -> bool:
    return _digits(number) and int(number) > 0


def validate_place_of_birth(code: str) -> str:
    """A commune or country code, upper-cased; raise IdentityFieldError."""
    candidate = code.strip().upper()
    # The first characters say what kind of code this claims to be; a refusal names
    # that kind's rule, and a code that claims no kind breaks cog-format.
    if len(candidate) == LENGTH and candidate.startswith(ABROAD):
        if not _is_country_code(candidate):
            raise IdentityFieldError("cog-country", "a country code is 99 and 100 to 599")
    elif len(candidate) == LENGTH and candidate[:2] in OVERSEAS:
        # A 3-character département, then a 2-digit commune number.
        if candidate[:3] not in DEPARTEMENTS or not _is_commune_number(candidate[3:]):
            raise IdentityFieldError(
                "cog-commune", "an overseas commune is 971-978, 984 or 986-989 and 01 to 99"
            )
    elif len(candidate) == LENGTH and candidate[:2] in METROPOLITAN:
        if not _is_commune_number(candidate[2:]):
            raise IdentityFieldError("cog-commune", "a commune is a département and 001 to 999")
    else:
        raise IdentityFieldError(
            "cog-format",
            "a place of birth is a 5-character COG code: DDCCC, 97XCC, 98XCC or 99CCC (abroad)",
        )
    return candidate


def is_country(code: str) -> bool:
    """Whether a code is a COG country code (born abroad), rather than a commune."""
    return _is_country_code(code.strip().upper())


def validate_nationality(code: str) -> str:
    """A COG country code, as given; raise IdentityFieldError."""
    candidate = code.strip().upper()
    if not _is_country_code(candidate):
        raise IdentityFieldError("nationality-format", "a nationality is a COG country code 99CCC")
    return candidate


# One place of birth coded two ways in real files: a commune of Mayotte as the Comoros
# (Mayotte became a département in 2011, and older papers name the archipelago), Kosovo
# as Serbia (before 2008, and where Kosovo is not recognised).
COMOROS, SERBIA, KOSOVO = "99397", "99121", "99157"
MAYOTTE = "976"


def same_place(left: str, right: str) -> bool:
    """Whether two places of birth may be one, allowing the codings above."""
    if left == right:
        return True
    pair = sorted((left, right))
    return pair == [SERBIA, KOSOVO] or (pair[1] == COMOROS and pair[0].startswith(MAYOTTE))
