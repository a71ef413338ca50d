"""Whether a NIR or NIA agrees with the person it is given for.

The first ten characters of a NIR or NIA repeat what the civil record said at
registration (service-public.fr, "Que signifie le numéro de sécurité sociale ?", F33078;
INSEE, RNIPP): sex (``1`` man, ``2`` woman), the last two digits of the birth year, the
birth month, the département of birth (``97x``/``98x`` overseas) and commune, or ``99``
and the INSEE country code for a person born abroad. An identity whose sex, birth date or
place of birth says otherwise names two people at once, and a fund that matches on the
number alone finds whoever holds it. ``contradictions`` lists what disagrees, each with
a rule and the two fields; it is pure and has no tolerance beyond the exceptions below.

What is never a contradiction:

- anything unknown on either side: no sex, no birth date or no year, no month, no place;
- an NNP (an old provisional number, ``7`` man or ``8`` woman) is checked on its sex only:
  the rest of its layout is not documented;
- the century: the NIR keeps two digits of the year, so 1905 and 2005 both write ``05``;
- a month code of an incomplete civil record (``20``-``42``, ``50``; INSEE/CNAV practice,
  see ``gateway.identities.nir``), and a birth date of 1 January or 31 December, which
  civil status writes when only the year is known (``gateway.identities.dates``);
- a place coded as it was at birth where the identity gives today's code:
  Corsica, ``20`` in a NIR for a birth before 1976 and ``2A``/``2B`` now; Seine (``75``)
  and Seine-et-Oise (``78``) before 1968, now also ``91``-``95``; Saint-Barthélemy and
  Saint-Martin (``977``, ``978``), communes of Guadeloupe (``971``) before 2008; Mayotte
  (``976``), coded ``985`` before 2012 and part of the Comoros (``99397``) before 1976;
- the codes INSEE gave to births in Algeria (``91``-``94``, until 1962), Morocco (``95``)
  and Tunisia (``96``, both until 1956) before independence, against today's country code.

Where the identity's birth year is unknown, every exception that depends on it holds. The
commune is not compared: communes merge and are renumbered, and the NIR keeps the old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.identities.dates import PartialDate
from gateway.identities.errors import IdentityFieldError

NUMBER_FIELD = "social_security_number.number"
SEX_FIELD = "sex"
DATE_FIELD = "birth_date"
PLACE_FIELD = "place_of_birth"

SEX_MISMATCH = "nir-sex-mismatch"
YEAR_MISMATCH = "nir-birth-year-mismatch"
MONTH_MISMATCH = "nir-birth-month-mismatch"
PLACE_MISMATCH = "nir-birth-place-mismatch"
RULES = (SEX_MISMATCH, YEAR_MISMATCH, MONTH_MISMATCH, PLACE_MISMATCH)

# The first digit: odd a man, even a woman (1/2 a NIR or NIA, 3/4 a registration in
# progress, 7/8 an NNP).
_SEX_OF_DIGIT = {"1": "M", "3": "M", "7": "M", "2": "F", "4": "F", "8": "F"}
_NNP_FIRST = frozenset("78")
_MONTHS = 12
_SUBSTITUTED = ((1, 1), (12, 31))  # written for a year-only birth date
_ABROAD = "99"
_OVERSEAS = frozenset(["97", "98"])
_CORSICA = frozenset(["2A", "2B"])
_CORSICA_BEFORE = ("20", 1976)
_SEINE_BEFORE = (frozenset(["75", "78"]), frozenset(["75", "78", "91", "92", "93", "94", "95"]))
_SEINE_SPLIT = 1968
# (code in the NIR, code in the identity, first birth year the exception no longer covers)
_RECODED = (
    ("971", "977", 2008),
    ("971", "978", 2008),
    ("985", "976", 2012),
)
_COMOROS = "397"
_MAYOTTE = frozenset(["976", "985"])
_COMOROS_UNTIL = 1976
# NIR département of a birth before independence -> (country code, last year it covers)
_BEFORE_INDEPENDENCE = {
    "91": ("352", 1962),
    "92": ("352", 1962),
    "93": ("352", 1962),
    "94": ("352", 1962),
    "95": ("350", 1956),
    "96": ("351", 1956),
}


@dataclass(frozen=True)
class Contradiction:
    """A rule the pair breaks, and the two fields that disagree (the number's first)."""

    rule: str
    fields: tuple[str, str]
    message: str


def _before(year: int | None, limit: int) -> bool:
    """Whether a birth in ``year`` may predate ``limit``: true when the year is unknown."""
    return year is None or year < limit


@dataclass(frozen=True)
class _Place:
    """A place of birth as a NIR codes it: a département, or abroad and a country."""

    departement: str | None
    country: str | None


def _nir_place(number: str) -> _Place:
    head = number[5:7]
    if head == _ABROAD:
        return _Place(None, number[7:10])
    if head in _OVERSEAS:
        return _Place(number[5:8], None)
    return _Place(head, None)


def _cog_place(code: str) -> _Place:
    if code.startswith(_ABROAD):
        return _Place(None, code[2:5])
    if code[:2] in _OVERSEAS:
        return _Place(code[:3], None)
    return _Place(code[:2], None)


def _places_agree(nir: _Place, given: _Place, year: int | None) -> bool:  # noqa: PLR0911
    """Whether a NIR's place of birth may be the identity's, exceptions included."""
    if nir == given:
        return True
    if nir.country is not None and given.departement is not None:
        return (
            nir.country == _COMOROS
            and given.departement in _MAYOTTE
            and _before(year, _COMOROS_UNTIL)
        )
    if nir.departement is None or given.departement is None:  # a département and a country
        assert given.country is not None  # noqa: S101 - the other cases returned above
        if nir.departement in _MAYOTTE and given.country == _COMOROS:
            return _before(year, _COMOROS_UNTIL)
        country, last = _BEFORE_INDEPENDENCE.get(nir.departement or "", ("", 0))
        return given.country == country and (year is None or year <= last)
    if nir.departement == _CORSICA_BEFORE[0] and given.departement in _CORSICA:
        return _before(year, _CORSICA_BEFORE[1])
    if nir.departement in _SEINE_BEFORE[0] and given.departement in _SEINE_BEFORE[1]:
        return _before(year, _SEINE_SPLIT)
    return any(
        (nir.departement, given.departement) == (old, new) and _before(year, until)
        for old, new, until in _RECODED
    )


def contradictions(
    number: str,
    number_type: str,
    *,
    sex: str | None = None,
    birth_date: str | None = None,
    place_of_birth: str | None = None,
    prefix: str = "",
) -> list[Contradiction]:
    """What a valid, normalised number contradicts; ``prefix`` goes before field names."""
    number_field = prefix + NUMBER_FIELD
    found: list[Contradiction] = []

    def add(rule: str, field: str, message: str) -> None:
        found.append(Contradiction(rule, (number_field, prefix + field), message))

    expected_sex = _SEX_OF_DIGIT.get(number[:1])
    if sex is not None and expected_sex is not None and sex != expected_sex:
        add(SEX_MISMATCH, SEX_FIELD, "the first digit of the number says the other sex")
    if number_type == "nnp" or number[:1] in _NNP_FIRST:
        return found
    try:
        birth = PartialDate.parse(birth_date)
    except IdentityFieldError:
        birth = PartialDate()
    if birth.year is not None and birth.year % 100 != int(number[1:3]):
        add(YEAR_MISMATCH, DATE_FIELD, "the number says another birth year")
    month = int(number[3:5])
    if (
        birth.month is not None
        and 1 <= month <= _MONTHS
        and birth.month != month
        and (birth.month, birth.day) not in _SUBSTITUTED
    ):
        add(MONTH_MISMATCH, DATE_FIELD, "the number says another birth month")
    if place_of_birth and not _places_agree(
        _nir_place(number), _cog_place(place_of_birth.upper()), birth.year
    ):
        add(PLACE_MISMATCH, PLACE_FIELD, "the number says another place of birth")
    return found


def of_document(document: Mapping[str, Any], prefix: str = "") -> list[Contradiction]:
    """The contradictions of an identity document (``IdentityIn.document()`` or stored)."""
    ssn = document.get("social_security_number")
    if not ssn:
        return []
    return contradictions(
        str(ssn["number"]),
        str(ssn["type"]),
        sex=document.get("sex"),
        birth_date=document.get("birth_date"),
        place_of_birth=document.get("place_of_birth"),
        prefix=prefix,
    )
