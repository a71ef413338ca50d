"""Two different people who look alike: the hard negatives.

Each builder draws the person the prefecture holds (``stored``) and a different person
a fund asks about (``query``) who shares what real look-alikes share: siblings and
twins their family name and place of birth, cousins and parents their whole name,
namesakes their names and year of birth. Their identifiers always differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.identities.places import same_place
from tools.identity_pairs.people import (
    FIRST_YEAR,
    LAST_YEAR,
    SEXES,
    Person,
    Sex,
    Token,
    draw_date,
    draw_first_names,
    draw_origin,
    draw_person,
    pick,
    spelled,
)
from tools.identity_pairs.pools import TWIN_NAMES

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from tools.identity_pairs.pools import Family

# Dates civil status writes when only the year is known: two namesakes born the same
# year are told apart by a real day, never by one of these.
_FILLED = frozenset([(1, 1), (12, 31)])


def _other_than(rng: random.Random, value: int, low: int, high: int) -> int:
    return rng.choice([n for n in range(low, high + 1) if n != value])


def distinct(rng: random.Random, stored: Person, query: Person) -> None:
    """Make sure the two people's identifiers differ, as two people's always do."""
    taken = {stored.order, stored.nia_order}
    if query.order in taken:
        query.order = rng.choice([n for n in range(1, 1000) if n not in taken])
    taken.add(query.order)
    if query.nia_order in taken:
        query.nia_order = rng.choice([n for n in range(1, 1000) if n not in taken])
    while query.agdref == stored.agdref:
        query.agdref = query.agdref[:2] + f"{rng.randrange(10**8):08d}"


def _relative(rng: random.Random, person: Person) -> Person:
    """Someone else of the same family: a copy to change, with new identifiers."""
    other = person.copy()
    other.usage_name = None
    other.order = rng.randint(1, 999)
    other.nia_order = rng.randint(1, 999)
    other.agdref = person.agdref[:2] + f"{rng.randrange(10**8):08d}"
    if rng.random() < 0.5:  # noqa: PLR2004
        other.residence = pick(rng, person.origin.residence)
    return other


def _born(rng: random.Random, person: Person, year: int) -> None:
    person.year, person.month, person.day = draw_date(rng, year)


def _year_apart(rng: random.Random, year: int, low: int, high: int) -> int | None:
    years = [
        y for y in range(FIRST_YEAR, LAST_YEAR + 1) if low <= abs(y - year) <= high and y != year
    ]
    return rng.choice(years) if years else None


def _families(person: Person) -> list[Family]:
    return [token.family for token in person.first_names if token.family]


def sibling(rng: random.Random) -> tuple[Person, Person, str] | None:
    stored = draw_person(rng)
    query = _relative(rng, stored)
    # Where women's surnames differ (Ivanova), a brother and sister do not share one.
    if not stored.origin.female_surnames and rng.random() < 0.5:  # noqa: PLR2004
        query.sex = "M" if stored.sex == "F" else "F"
    query.first_names = draw_first_names(rng, stored.origin, query.sex, avoid=_families(stored))
    detail = "same-sex" if query.sex == stored.sex else "other-sex"
    if query.sex == stored.sex and len(stored.first_names) > 1 and rng.random() < 0.3:  # noqa: PLR2004
        # Mohamed Amine and Mohamed Yacine.
        query.first_names = [stored.first_names[0], *query.first_names[-1:]]
        detail += "+shared-first-name"
    year = _year_apart(rng, stored.year, 1, 12)
    if year is None:
        return None
    _born(rng, query, year)
    if (stored.month, stored.day) == (1, 1):
        query.month, query.day = 1, 1
    return stored, query, detail


def _sex(code: str) -> Sex:
    return "M" if code == "M" else "F"


def _words(person: Person) -> set[str]:
    return {
        word.upper()
        for token in person.first_names
        for spelling in (token.family.spellings if token.family else (token.text,))
        for word in spelling.replace("-", " ").split()
    }


def twin(rng: random.Random) -> tuple[Person, Person, str] | None:
    stored = draw_person(rng)
    query = _relative(rng, stored)
    paired = TWIN_NAMES.get(stored.origin.name, ())
    # Where women's surnames differ (Ivanova), twins of both sexes do not share one.
    if paired and not stored.origin.female_surnames and rng.random() < 0.35:  # noqa: PLR2004
        first, first_sex, second, second_sex = rng.choice(paired)
        if rng.random() < 0.5:  # noqa: PLR2004
            first, first_sex, second, second_sex = second, second_sex, first, first_sex
        stored.sex, stored.first_names = _sex(first_sex), [Token(first)]
        query.sex, query.first_names = _sex(second_sex), [Token(second)]
        if stored.sex == "M":
            stored.usage_name = None
        query.order = stored.order % 999 + 1
        return stored, query, "paired-names"
    if not stored.origin.female_surnames and rng.random() < 0.55:  # noqa: PLR2004
        query.sex = "M" if stored.sex == "F" else "F"
    query.first_names = draw_first_names(rng, stored.origin, query.sex, avoid=_families(stored))
    # Twins named Mohamed and Mohamed Lemine could as well be one person whose second
    # name was left out: such a pair tells nothing, so twins share no first-name word.
    if _words(query) & _words(stored):
        return None
    query.order = stored.order % 999 + 1  # registered one after the other
    return stored, query, "same-sex" if query.sex == stored.sex else "other-sex"


def homonym_elsewhere(rng: random.Random) -> tuple[Person, Person, str] | None:
    stored = draw_person(rng)
    query = _relative(rng, stored)
    # Mayotte coded as the Comoros is one place, not elsewhere.
    places = [place for place in stored.origin.neighbours if not same_place(place, stored.place)]
    if not places:
        return None
    query.place = rng.choice(places)
    if query.place.startswith("99") and rng.random() < 0.4:  # noqa: PLR2004
        query.nationality = query.place
    detail = "same-date"
    if stored.year_only:
        detail = "same-year"
    elif (roll := rng.random()) < 0.4:  # noqa: PLR2004
        query.month = _other_than(rng, stored.month, 1, 12)
        query.day = min(stored.day, 28)
        detail = "other-month"
    elif roll < 0.7:  # noqa: PLR2004
        _born(rng, query, stored.year)
        detail = "same-year"
    if rng.random() < 0.25:  # noqa: PLR2004
        respelled = query.first_names[-1].respelled(rng)
        if respelled:
            query.first_names = [*query.first_names[:-1], respelled]
            detail += "+other-spelling"
    return stored, query, detail


def _common(rng: random.Random, families: tuple[Family, ...]) -> Family:
    # The most common names, far more often than their share: homonyms are found there.
    return rng.choices(families, weights=[family.weight**2 for family in families])[0]


def common_name_same_year(rng: random.Random) -> tuple[Person, Person, str] | None:
    origin = draw_origin(rng)
    sex = rng.choice(SEXES)
    stored = draw_person(rng, origin, sex)
    surnames = origin.female_surnames if sex == "F" and origin.female_surnames else origin.surnames
    stored.surname = [spelled(rng, _common(rng, surnames))]
    given = _common(rng, origin.male if sex == "M" else origin.female)
    middle_names = origin.middle_male + origin.middle_female
    middles = [token for token in stored.first_names if token.family in middle_names]
    stored.first_names = [*middles, spelled(rng, given)]
    stored.year_only = False
    while (stored.month, stored.day) in _FILLED:
        _born(rng, stored, stored.year)
    query = _relative(rng, stored)
    while (query.month, query.day) in _FILLED | {(stored.month, stored.day)}:
        _born(rng, query, stored.year)
    detail = "same-spelling"
    if rng.random() < 0.3:  # noqa: PLR2004
        respelled = query.first_names[-1].respelled(rng)
        if respelled:
            query.first_names = [*query.first_names[:-1], respelled]
            detail = "other-spelling"
    if rng.random() < 0.2:  # noqa: PLR2004
        extra = draw_first_names(rng, origin, sex, avoid=[given])[-1]
        query.first_names = [*query.first_names, extra]
        detail += "+extra-first-name"
    return stored, query, detail


def cousin(rng: random.Random) -> tuple[Person, Person, str] | None:
    """Named after the same grandparent: the whole name and place, another year."""
    stored = draw_person(rng)
    query = _relative(rng, stored)
    year = _year_apart(rng, stored.year, 1, 6)
    if year is None:
        return None
    _born(rng, query, year)
    return stored, query, f"{abs(year - stored.year)}-years"


def parent_child(rng: random.Random) -> tuple[Person, Person, str] | None:
    stored = draw_person(rng)
    query = _relative(rng, stored)
    year = _year_apart(rng, stored.year, 18, 40)
    if year is None:
        return None
    _born(rng, query, year)
    return stored, query, "parent-asked" if year < stored.year else "child-asked"


def other_identifiers(rng: random.Random) -> tuple[Person, Person, str] | None:
    """Two people alike in every name, date and place; each holds a certified identifier."""
    stored = draw_person(rng)
    return stored, _relative(rng, stored), ""


def pooled_extra_first_name(rng: random.Random) -> tuple[Person, Person, str] | None:
    """One more first name and a birth year only, against another person fully dated.

    Two files pooled in one database: the same surname, first name, sex, place and year.
    """
    stored = draw_person(rng)
    query = _relative(rng, stored)
    extra = draw_first_names(rng, stored.origin, stored.sex, avoid=_families(stored))[-1]
    stored.first_names = [*stored.first_names[:1], extra]
    query.first_names = query.first_names[:1]
    stored.year_only, query.year_only = True, False
    while (query.month, query.day) in _FILLED:
        _born(rng, query, stored.year)
    return stored, query, ""


def random_pair(rng: random.Random) -> tuple[Person, Person, str] | None:
    return draw_person(rng), draw_person(rng), ""


NEGATIVES: dict[str, Callable[[random.Random], tuple[Person, Person, str] | None]] = {
    "sibling": sibling,
    "twin": twin,
    "homonym-elsewhere": homonym_elsewhere,
    "common-name-same-year": common_name_same_year,
    "cousin": cousin,
    "parent-child": parent_child,
    "random": random_pair,
    "other-identifiers": other_identifiers,
    "pooled-extra-first-name": pooled_extra_first_name,
}
