"""Synthetic people and the identity documents two systems would hold about them.

A ``Person`` is drawn from the pools of ``tools.identity_pairs.pools``: names with their
spellings, a true birth date and what civil status knows of it, a place of birth that
fits the names, identifiers. A ``Side`` is one system's copy of that person (the
prefecture's or the fund's) before it is written out: the variations of
``tools.identity_pairs.generator`` edit a side, and ``Side.document`` writes it as JSON valid for
``IdentityIn``. Pure: every random choice comes from the ``random.Random`` passed in.
"""

from __future__ import annotations

import calendar
import copy
import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from gateway.identities.nir import MONTHS, nir_key
from tools.identity_pairs.pools import FRENCH_SURNAMES, ORIGINS, Family, Origin

if TYPE_CHECKING:
    import random
    from collections.abc import Sequence

Sex = Literal["M", "F"]
SEXES: tuple[Sex, Sex] = ("M", "F")
Style = Literal["upper-ascii", "upper", "as-written"]
STYLES: tuple[Style, ...] = ("upper-ascii", "upper", "as-written")
# Most systems of record write names upper-case, many without diacritics.
STYLE_WEIGHTS = (50, 20, 30)
FIRST_YEAR, LAST_YEAR = 1950, 2006
# Births per year, by decade from the 1950s: residents are mostly 20 to 45.
_DECADE_WEIGHTS = (1, 2, 4, 6, 7, 5)
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
YEAR_WEIGHTS = tuple(_DECADE_WEIGHTS[(year - FIRST_YEAR) // 10] for year in YEARS)
MARRIED_BY = 1998  # born by then, a woman may use a married name
# Month codes a NIR carries when the month of birth is unknown.
UNKNOWN_MONTHS = tuple(sorted(month for month in MONTHS if int(month) > 12))  # noqa: PLR2004
_NOT_DECOMPOSED = str.maketrans(
    {"\u0131": "i", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss"}
)

# Leading words written joined, hyphenated or dropped: Ben Ali, Benali, Ben-Ali.
PARTICLE_WORDS = frozenset(
    ["BEN", "EL", "AL", "AIT", "OULD", "DA", "DOS", "DAS", "DE", "DO", "DEL", "LA", "ABOU"]
)
# Particles that records also leave out: El Amrani and Amrani, Da Silva and Silva.
DROPPABLE = frozenset(["EL", "AL", "DA", "DOS", "DAS", "DE", "DO", "DEL", "LA"])
_SEPARATORS = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class Token:
    """One name as written, and the family of spellings it comes from (if any)."""

    text: str
    family: Family | None = None

    def respelled(self, rng: random.Random) -> Token | None:
        """The same name in another of its spellings, or None if it has no other."""
        others = [s for s in self.family.spellings if s != self.text] if self.family else []
        return Token(rng.choice(others), self.family) if others else None


@dataclass
class Person:
    """A synthetic person: what is true, not what a system wrote down."""

    origin: Origin
    sex: Sex
    surname: list[Token]
    first_names: list[Token]
    year: int
    month: int
    day: int
    year_only: bool  # civil status knows the birth year only
    place: str
    nationality: str
    residence: str
    usage_name: Token | None = None
    joined_first_names: bool = False  # written as one string: "Van Minh"
    order: int = 0  # the order number of the NIR
    nia_order: int = 0  # the order number of the NIA given before the NIR
    unknown_month: str = "20"  # the month code of the NIR when the month is unknown
    agdref: str = ""

    def date(self) -> str:
        """The birth date as civil status knows it."""
        if self.year_only:
            return f"{self.year:04d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def number(self, *, nia: bool = False) -> str:
        """The NIR (or the NIA given before it): sex, year, month, place, order, key."""
        month = self.unknown_month if self.year_only else f"{self.month:02d}"
        sex = "1" if self.sex == "M" else "2"
        order = self.nia_order if nia else self.order
        body = f"{sex}{self.year % 100:02d}{month}{self.place}{order:03d}"
        return f"{body}{nir_key(body):02d}"

    def copy(self) -> Person:
        return copy.copy(self)


def weighted(rng: random.Random, families: Sequence[Family]) -> Family:
    return rng.choices(families, weights=[family.weight for family in families])[0]


def spelled(rng: random.Random, family: Family) -> Token:
    """A name as one person writes it: mostly the usual spelling, else another one."""
    if len(family.spellings) == 1 or rng.random() < 0.65:  # noqa: PLR2004
        return Token(family.spellings[0], family)
    return Token(rng.choice(family.spellings[1:]), family)


def pick(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([code for code, _ in pairs], weights=[w for _, w in pairs])[0]


def draw_origin(rng: random.Random) -> Origin:
    return rng.choices(ORIGINS, weights=[origin.weight for origin in ORIGINS])[0]


def particle_forms(text: str) -> dict[str, str]:
    """The ways a surname with leading particles is written, by kind."""
    words = [word for word in _SEPARATORS.split(text) if word]
    count = 0
    while count < len(words) - 1 and words[count].upper() in PARTICLE_WORDS:
        count += 1
    if not count:
        return {}
    head, rest = words[:count], words[count:]
    joined = ("".join(head) + rest[0]).capitalize()
    forms = {
        "spaced": " ".join(words),
        "hyphenated": "-".join(words),
        "joined": " ".join([joined, *rest[1:]]),
    }
    if all(word.upper() in DROPPABLE for word in head):
        forms["dropped"] = " ".join(rest)
    if head[0].upper() == "AIT":
        forms["accented"] = " ".join(["Aït", *words[1:]])
    return forms


def draw_surname(rng: random.Random, origin: Origin, sex: str) -> list[Token]:
    pool = origin.female_surnames if sex == "F" and origin.female_surnames else origin.surnames
    first = weighted(rng, pool)
    if rng.random() >= origin.two_surnames:
        return [_registered(rng, spelled(rng, first))]
    second = weighted(rng, [family for family in pool if family != first])
    return [_registered(rng, spelled(rng, first)), spelled(rng, second)]


def _registered(rng: random.Random, token: Token) -> Token:
    """A name with a particle as a person's papers write it: Ben Ali, or Benali, Ben-Ali."""
    forms = particle_forms(token.text)
    if not forms or rng.random() >= 0.3:  # noqa: PLR2004
        return token
    kind = rng.choice(("joined", "joined", "hyphenated"))
    return Token(forms[kind], token.family)


def draw_first_names(
    rng: random.Random, origin: Origin, sex: str, *, avoid: Sequence[Family] = ()
) -> list[Token]:
    """First names for one person, none of them from the families in ``avoid``."""
    pool = origin.male if sex == "M" else origin.female
    middles = origin.middle_male if sex == "M" else origin.middle_female
    names: list[Token] = []
    if middles and rng.random() < 0.9:  # noqa: PLR2004
        names.append(spelled(rng, weighted(rng, middles)))
    count = rng.choices((1, 2, 3), weights=origin.first_name_counts)[0]
    taken = set(avoid)
    given: list[Token] = []
    while len(given) < count:
        family = weighted(rng, pool)
        if family not in taken:
            taken.add(family)
            given.append(spelled(rng, family))
    return names + given


def draw_date(rng: random.Random, year: int | None = None) -> tuple[int, int, int]:
    year = year if year is not None else rng.choices(YEARS, weights=YEAR_WEIGHTS)[0]
    month = rng.randint(1, 12)
    return year, month, rng.randint(1, calendar.monthrange(year, month)[1])


def draw_place(rng: random.Random, origin: Origin) -> str:
    if rng.random() < origin.born_in_france:
        return rng.choice(origin.french_places)
    return pick(rng, origin.countries)


def new_identifiers(rng: random.Random, person: Person) -> None:
    """A NIR order number, a different NIA one, and an AGDREF number."""
    person.order = rng.randint(1, 999)
    person.nia_order = rng.choice([n for n in range(1, 1000) if n != person.order])
    person.unknown_month = rng.choice(UNKNOWN_MONTHS)
    # An AGDREF number: 10 digits that start, in practice, with the département's code.
    departement = person.residence[:2] if person.residence[:2].isdigit() else "20"
    person.agdref = departement + f"{rng.randrange(10**8):08d}"


def draw_person(rng: random.Random, origin: Origin | None = None, sex: Sex | None = None) -> Person:
    origin = origin or draw_origin(rng)
    chosen: Sex = rng.choice(SEXES) if sex is None else sex
    year, month, day = draw_date(rng)
    year_only = rng.random() < origin.year_only
    if not year_only and rng.random() < origin.january_first:
        month, day = 1, 1
    place = draw_place(rng, origin)
    country = place if place.startswith("99") else pick(rng, origin.countries)
    person = Person(
        origin=origin,
        sex=chosen,
        surname=draw_surname(rng, origin, chosen),
        first_names=draw_first_names(rng, origin, chosen),
        year=year,
        month=month,
        day=day,
        year_only=year_only,
        place=place,
        nationality=country,
        residence=pick(rng, origin.residence),
        joined_first_names=bool(origin.middle_male) and rng.random() < 0.7,  # noqa: PLR2004
    )
    if chosen == "F" and year <= MARRIED_BY and rng.random() < 0.12:  # noqa: PLR2004
        person.usage_name = married_name(rng, person)
    new_identifiers(rng, person)
    return person


def married_name(rng: random.Random, person: Person) -> Token:
    """A husband's surname: French, or of the same origin, never the birth name."""
    birth = {token.family for token in person.surname}
    pool = FRENCH_SURNAMES if rng.random() < 0.5 else person.origin.surnames  # noqa: PLR2004
    family = weighted(rng, [family for family in pool if family not in birth])
    return spelled(rng, family)


def plain(text: str) -> str:
    """Without diacritics, as systems limited to ASCII write names."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_NOT_DECOMPOSED))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def styled(text: str, style: Style, hyphens: str = "keep") -> str:
    if hyphens == "spaces":
        text = text.replace("-", " ")
    elif hyphens == "hyphens":
        text = text.replace(" ", "-")
    if style == "upper-ascii":
        return plain(text).upper()
    if style == "upper":
        return text.upper()
    return text


@dataclass
class Side:
    """One system's copy of a person, as it will be written out."""

    surname: list[Token]
    first_names: list[Token]
    joined_first_names: bool
    sex: str
    birth_date: str
    place: str | None
    nationality: str | None
    residence: str | None
    usage_name: Token | None = None
    agdref: str | None = None
    number: tuple[str, str] | None = None  # (number, "nir" | "nia")
    style: Style = "upper-ascii"
    hyphens: str = "keep"  # "spaces" or "hyphens" to rewrite the separators inside names

    @classmethod
    def of(cls, person: Person, style: Style) -> Side:
        return cls(
            surname=list(person.surname),
            first_names=list(person.first_names),
            joined_first_names=person.joined_first_names,
            sex=person.sex,
            birth_date=person.date(),
            place=person.place,
            nationality=person.nationality,
            residence=person.residence,
            usage_name=person.usage_name,
            style=style,
        )

    def _name(self, text: str) -> str:
        return styled(text, self.style, self.hyphens)

    def document(self) -> dict[str, Any]:
        """The identity as JSON for ``IdentityIn``, without the fields left out."""
        first_names = [self._name(token.text) for token in self.first_names]
        if self.joined_first_names and len(first_names) > 1:
            first_names = [" ".join(first_names)]
        document: dict[str, Any] = {
            "agdref_number": self.agdref,
            "social_security_number": (
                {"number": self.number[0], "type": self.number[1]} if self.number else None
            ),
            "birth_name": self._name(" ".join(token.text for token in self.surname)),
            "usage_name": self._name(self.usage_name.text) if self.usage_name else None,
            "first_names": first_names,
            "sex": self.sex,
            "birth_date": self.birth_date,
            "place_of_birth": self.place,
            "nationality": self.nationality,
            "residence_departement": self.residence,
        }
        return {key: value for key, value in document.items() if value is not None}


def draw_style(rng: random.Random) -> Style:
    return rng.choices(STYLES, weights=STYLE_WEIGHTS)[0]


def spaced(number: str) -> str:
    """A NIR as often printed: 1 85 03 99 352 123 45."""
    cuts = (0, 1, 3, 5, 7, 10, 13, 15)
    return " ".join(number[start:end] for start, end in itertools.pairwise(cuts))
