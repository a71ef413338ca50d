"""How two systems' copies of one person come to differ: the positive variations.

Each change edits the prefecture's copy (``stored``) or the fund's (``query``) of the same
person and returns a short detail of what it did, or None when it does not apply to
that person (a one-first-name person has no first name to drop): the caller then draws
another person. Changes only ever do what real files show: another spelling of a name,
a particle written another way, fields swapped, a married name, a partly known or
substituted date, a typing error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.identity_pairs.people import (
    MARRIED_BY,
    STYLES,
    Person,
    Side,
    Token,
    married_name,
    particle_forms,
    styled,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

# Typing errors on a French (AZERTY) keyboard hit a neighbouring key.
_AZERTY_ROWS = ("azertyuiop", "qsdfghjklm", "wxcvbn")
_NEIGHBOURS = {
    char: "".join(
        row[j]
        for row_index, row in enumerate(_AZERTY_ROWS)
        for j in range(len(row))
        if abs(row_index - r) + abs(j - i) == 1
    )
    for r, keys in enumerate(_AZERTY_ROWS)
    for i, char in enumerate(keys)
}
# Recorded under another code: Mayotte as part of the Comoros, Kosovo as Serbia.
RECODED_PLACES = {"97611": "99397", "97610": "99397", "99157": "99121"}


def typo(rng: random.Random, text: str) -> str | None:
    """One typing error in an ASCII letter, mostly not the first: None if too short."""
    positions = [i for i, char in enumerate(text) if char.isascii() and char.isalpha()]
    if len(positions) < 4:  # noqa: PLR2004
        return None
    i = rng.choice(positions if rng.random() < 0.15 else positions[1:])  # noqa: PLR2004
    char = text[i]
    kind = rng.choices(("key", "deletion", "doubling", "transposition"), (45, 20, 15, 20))[0]
    if kind == "key":
        key = rng.choice(_NEIGHBOURS[char.lower()])
        changed = text[:i] + (key.upper() if char.isupper() else key) + text[i + 1 :]
    elif kind == "deletion":
        changed = text[:i] + text[i + 1 :]
    elif kind == "doubling":
        changed = text[:i] + char + text[i:]
    else:
        j = i + 1 if i + 1 < len(text) and text[i + 1].isalpha() else i - 1
        first, second = sorted((i, j))
        changed = text[:first] + text[second] + text[first] + text[second + 1 :]
    return changed if changed.lower() != text.lower() else None


@dataclass
class Change:
    """The person, both copies, and what the identifiers will be."""

    rng: random.Random
    person: Person
    query: Side
    stored: Side
    query_identified: bool  # the fund's copy will carry a NIR (or an AGDREF number)
    nia_on: str = ""  # which copy carries a NIA while the other has the certified NIR

    def side(self) -> Side:
        """The copy to change: the fund's more often, as the prefecture's is the reference."""
        return self.query if self.rng.random() < 0.65 else self.stored  # noqa: PLR2004

    def set_dates(self, value: str) -> None:
        self.query.birth_date = self.stored.birth_date = value


def _visible(side: Side, old: str, new: str) -> bool:
    return styled(old, side.style, side.hyphens) != styled(new, side.style, side.hyphens)


def transliteration(c: Change) -> str | None:
    side = c.side()
    slots = [
        (kind, names, i, other)
        for kind, names in (("surname", side.surname), ("first-name", side.first_names))
        for i, token in enumerate(names)
        if token.family
        for other in token.family.spellings
        if _visible(side, token.text, other)
    ]
    if not slots:
        return None
    kind, names, i, other = c.rng.choice(slots)
    names[i] = Token(other, names[i].family)
    return kind


def particle(c: Change) -> str | None:
    side = c.side()
    for i, token in enumerate(side.surname):
        forms = particle_forms(token.text)
        choices = [kind for kind, form in forms.items() if _visible(side, token.text, form)]
        if choices:
            kind = c.rng.choice(choices)
            side.surname[i] = Token(forms[kind], token.family)
            return kind
    return None


def swapped_names(c: Change) -> str | None:
    """Family name and first name in each other's field, as when names are written FAMILY Given."""
    if not c.person.origin.swap_prone and c.rng.random() >= 0.25:  # noqa: PLR2004
        return None
    side = c.query if c.rng.random() < 0.8 else c.stored  # noqa: PLR2004
    if len(side.surname) != 1:
        return None
    if c.person.origin.middle_male:
        # Nguyen Van Minh read as given names first: MINH, Nguyen Van.
        side.surname, side.first_names = side.first_names[-1:], side.surname + side.first_names[:-1]
        return "read-left-to-right"
    side.surname, side.first_names = side.first_names[:1], side.surname + side.first_names[1:]
    return "swapped"


def dropped_first_name(c: Change) -> str | None:
    side = c.side()
    names = side.first_names
    if len(names) < 2:  # noqa: PLR2004
        return None
    if c.person.origin.middle_male and c.rng.random() < 0.7:  # noqa: PLR2004
        index, detail = 0, "middle-name"
    elif c.rng.random() < 0.85:  # noqa: PLR2004
        index, detail = c.rng.randrange(1, len(names)), "later-name"
    else:
        index, detail = 0, "first-name"
    side.first_names = names[:index] + names[index + 1 :]
    return detail


def reordered_first_names(c: Change) -> str | None:
    side = c.side()
    if len(side.first_names) < 2:  # noqa: PLR2004
        return None
    if c.rng.random() < 0.7:  # noqa: PLR2004
        shift = c.rng.randrange(1, len(side.first_names))
        side.first_names = side.first_names[shift:] + side.first_names[:shift]
        return "order"
    side.joined_first_names = not side.joined_first_names
    return "one-string" if side.joined_first_names else "separate"


def usage_name(c: Change) -> str | None:
    person = c.person
    if person.sex != "F" or person.year > MARRIED_BY:
        return None
    married = person.usage_name or married_name(c.rng, person)
    # The fund took the married name for the birth name; one copy lacks the married
    # name; the prefecture took it for the birth name.
    kinds = ("as-birth-name", "stored-only", "query-only", "stored-as-birth-name")
    kind = c.rng.choices(kinds, (50, 20, 15, 15))[0]
    c.stored.usage_name = married if kind in {"as-birth-name", "stored-only"} else None
    c.query.usage_name = married if kind in {"query-only", "stored-as-birth-name"} else None
    if kind == "as-birth-name":
        c.query.surname = [married]
    elif kind == "stored-as-birth-name":
        c.stored.surname = [married]
    return kind


def partial_date(c: Change) -> str | None:
    person = c.person
    if person.year_only:
        return None
    side = c.side()
    if c.rng.random() < 0.6:  # noqa: PLR2004
        side.birth_date = f"{person.year:04d}"
        return "year"
    side.birth_date = f"{person.year:04d}-{person.month:02d}"
    return "year-month"


def substituted_date(c: Change) -> str | None:
    """A date filled in where only the year is known: 31 December, formerly 1 January."""
    person, rng = c.person, c.rng
    kind = rng.choices(("year-filled", "date-filled", "both-filled"), (40, 40, 20))[0]
    filled = rng.choice(("12-31", "12-31", "01-01"))
    if kind == "date-filled":
        if person.year_only or (person.month, person.day) in {(1, 1), (12, 31)}:
            return None
    else:
        person.year_only = True
        c.set_dates(person.date())
    side = c.side()
    side.birth_date = f"{person.year:04d}-{filled}"
    if kind == "both-filled":
        other = c.stored if side is c.query else c.query
        other.birth_date = f"{person.year:04d}-{'01-01' if filled == '12-31' else '12-31'}"
    return f"{kind}:{filled}" if kind != "both-filled" else kind


def day_month_swapped(c: Change) -> str | None:
    person = c.person
    if person.year_only:
        return None
    if person.day > 12 or person.day == person.month:  # noqa: PLR2004
        person.day = c.rng.choice([day for day in range(1, 13) if day != person.month])
        c.set_dates(person.date())
    c.side().birth_date = f"{person.year:04d}-{person.day:02d}-{person.month:02d}"
    return ""


def nia_certified(c: Change) -> str | None:
    c.nia_on = "stored" if c.rng.random() < 0.7 else "query"  # noqa: PLR2004
    return f"nia-on-{c.nia_on}"


def typing_error(c: Change) -> str | None:
    side = c.side()
    kind, names = (
        ("surname", side.surname) if c.rng.random() < 0.55 else ("first-name", side.first_names)  # noqa: PLR2004
    )
    index = c.rng.randrange(len(names))
    changed = typo(c.rng, names[index].text)
    if changed is None:
        return None
    names[index] = Token(changed, names[index].family)
    return kind


def missing_place(c: Change) -> str | None:
    # A fund's copy without a place of birth must carry an identifier to be valid.
    on_stored = not c.query_identified or c.rng.random() < 0.6  # noqa: PLR2004
    (c.stored if on_stored else c.query).place = None
    return "stored" if on_stored else "query"


def place_recoded(c: Change) -> str | None:
    recoded = RECODED_PLACES.get(c.person.place)
    if recoded is None:
        return None
    c.side().place = recoded
    return f"{c.person.place}:{recoded}"


def accents_case(c: Change) -> str | None:
    side = c.side()
    before = side.document()
    old = side.style
    side.style = c.rng.choice([style for style in STYLES if style != old])
    names = [token.text for token in (*side.surname, *side.first_names)]
    if any("-" in name for name in names) and c.rng.random() < 0.6:  # noqa: PLR2004
        side.hyphens = "spaces"
    elif any(" " in name for name in names) and c.rng.random() < 0.4:  # noqa: PLR2004
        side.hyphens = "hyphens"
    if side.document() == before:
        return None
    return f"{old}:{side.style}" + ("" if side.hyphens == "keep" else f"+{side.hyphens}")


def compound_surname(c: Change) -> str | None:
    if len(c.person.surname) != 2:  # noqa: PLR2004
        return None
    side = c.side()
    if len(side.surname) != 2:  # noqa: PLR2004
        return None
    if c.rng.random() < 0.75:  # noqa: PLR2004
        side.surname = [side.surname[c.person.origin.kept_surname]]
        return "one-surname"
    first, second = side.surname
    side.surname = [Token(f"{first.text}-{second.text}")]
    return "hyphenated"


def exact_copy(_: Change) -> str | None:
    return ""


def article(c: Change) -> str | None:
    """An Arabic article glued to the surname on one copy, left out on the other."""
    for i, token in enumerate(c.person.surname):
        forms = particle_forms(token.text)
        if token.text.split()[0].upper() in {"EL", "AL"} and "dropped" in forms:
            glued, dropped = c.rng.sample((c.query, c.stored), 2)
            glued.surname[i] = Token(forms["joined"], token.family)
            dropped.surname[i] = Token(forms["dropped"], token.family)
            return "glued-on-query" if glued is c.query else "glued-on-stored"
    return None


def first_name_spelling(c: Change) -> str | None:
    """A first name written in two other spellings, one on each copy: MOHAMAD, MUHAMMAD."""
    slots = [
        i
        for i, token in enumerate(c.person.first_names)
        if token.family and len(token.family.spellings) > 2  # noqa: PLR2004
    ]
    if not slots:
        return None
    i = c.rng.choice(slots)
    token = c.person.first_names[i]
    left, right = c.rng.sample([s for s in token.family.spellings if s != token.text], 2)  # type: ignore[union-attr]
    if not _visible(c.query, left, right):
        return None
    c.query.first_names[i] = Token(left, token.family)
    c.stored.first_names[i] = Token(right, token.family)
    return f"{left}:{right}"


# Origins whose names the sound rules had to learn: Albanian, West and Central African,
# Slavic, Chinese spellings.
SPELLING_FAMILIES = frozenset(
    ["albania", "west-africa", "ivory-coast", "central-africa", "russia", "ukraine", "china"]
)


def family_spelling(c: Change) -> str | None:
    """A name in another spelling, for a person of one of the origins above."""
    if c.person.origin.name not in SPELLING_FAMILIES:
        return None
    kind = transliteration(c)
    return None if kind is None else f"{c.person.origin.name}:{kind}"


def surname_typo_date(c: Change) -> str | None:
    """A typing error in the surname, and a birth date partly known or filled in."""
    side = c.side()
    index = c.rng.randrange(len(side.surname))
    changed = typo(c.rng, side.surname[index].text)
    if changed is None:
        return None
    side.surname[index] = Token(changed, side.surname[index].family)
    date = partial_date(c) if c.rng.random() < 0.5 else substituted_date(c)  # noqa: PLR2004
    return None if date is None else f"typo+{date or 'date'}"


CHANGES: dict[str, Callable[[Change], str | None]] = {
    "exact-copy": exact_copy,
    "transliteration": transliteration,
    "particle": particle,
    "swapped-names": swapped_names,
    "dropped-first-name": dropped_first_name,
    "reordered-first-names": reordered_first_names,
    "usage-name": usage_name,
    "partial-date": partial_date,
    "substituted-date": substituted_date,
    "day-month-swapped": day_month_swapped,
    "nia-certified": nia_certified,
    "typo": typing_error,
    "missing-place": missing_place,
    "place-recoded": place_recoded,
    "accents-case": accents_case,
    "compound-surname": compound_surname,
    "article": article,
    "first-name-spelling": first_name_spelling,
    "family-spelling": family_spelling,
    "surname-typo-date": surname_typo_date,
}
# Two changes that can be combined: not two on the birth date, not a swap of fields
# with a married name or a shortened surname.
COMBINABLE = tuple(
    sorted(
        set(CHANGES)
        - {"exact-copy", "place-recoded"}
        - {"article", "first-name-spelling", "family-spelling", "surname-typo-date"}
    )
)
_DATES = frozenset(["partial-date", "substituted-date", "day-month-swapped"])
_CONFLICTS = frozenset(
    [
        *(frozenset([a, b]) for a in _DATES for b in _DATES if a != b),
        frozenset(["swapped-names", "usage-name"]),
        frozenset(["swapped-names", "compound-surname"]),
        frozenset(["usage-name", "compound-surname"]),
        frozenset(["missing-place", "place-recoded"]),
    ]
)


def combinable(first: str, second: str) -> bool:
    return first != second and frozenset([first, second]) not in _CONFLICTS
