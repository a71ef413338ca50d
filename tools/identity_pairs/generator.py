"""Labelled identity pairs to measure the status-check name matcher against.

``generate(n_pairs, seed)`` returns pairs of identity documents, each valid for
``IdentityIn``: ``stored`` is what a prefecture sent (it always carries an AGDREF number),
``query`` is what a fund asks about (usually a NIR, names, sex, birth date and place of
birth, rarely an AGDREF number). ``same`` says whether both describe one person, and
``variation`` names what differs: for the same person, a realistic variation of the
record or two of them (``combined``); for two people, what makes them look alike
(``sibling``, ``twin``, ``homonym-elsewhere``, ``common-name-same-year``...). ``detail``
refines it (which copy, which name, which kind of date).

About half the pairs are positives. Variations are allotted by fixed shares, so every
variation appears once the set is large enough, and the pairs are shuffled. Most
positives share no identifier (the fund's NIR is unknown to the prefecture, or the two
hold a NIA and the NIR that replaced it), so the names decide; a small share
(``shared-identifier``) share one, as exact matches do. Two people never share an
identifier. Which identifiers each copy carries is drawn the same way for positives and
negatives, so identifiers tell the label only where they really would.

Everything is synthetic (see ``tools.identity_pairs.pools``) and deterministic: the same
``n_pairs`` and ``seed`` give the same pairs. Pure: no I/O.
"""

from __future__ import annotations

import random
from typing import Any

from gateway.identities.quality import LabelledPair
from tools.identity_pairs.changes import CHANGES, COMBINABLE, Change, combinable
from tools.identity_pairs.negatives import NEGATIVES, distinct
from tools.identity_pairs.people import Person, Side, draw_person, draw_style, pick, spaced

# Shares of the variations, among positives and among negatives.
POSITIVES: dict[str, int] = {
    "exact-copy": 4,
    "transliteration": 13,
    "particle": 6,
    "swapped-names": 7,
    "dropped-first-name": 7,
    "reordered-first-names": 4,
    "usage-name": 6,
    "partial-date": 7,
    "substituted-date": 7,
    "day-month-swapped": 3,
    "nia-certified": 5,
    "typo": 8,
    "missing-place": 3,
    "place-recoded": 1,
    "accents-case": 6,
    "compound-surname": 3,
    "shared-identifier": 4,
    "combined": 10,
    "article": 3,
    "first-name-spelling": 4,
    "family-spelling": 5,
    "surname-typo-date": 4,
}
NEGATIVE_SHARES: dict[str, int] = {
    "sibling": 20,
    "twin": 10,
    "homonym-elsewhere": 15,
    "common-name-same-year": 25,
    "cousin": 12,
    "parent-child": 5,
    "random": 5,
    "other-identifiers": 5,
    "pooled-extra-first-name": 2,
}
ATTEMPTS = 1000  # people drawn before giving up on a variation (a few suffice)
# Which identifiers the fund's copy carries: a NIR (or NIA) mostly, nothing at times.
# Negatives also get the layouts positives get from nia-certified and shared-identifier.
_QUERY_NUMBER, _QUERY_NIA = 0.85, 0.15
_NEGATIVE_LAYOUTS = (("nir", 76), ("none", 14), ("both-numbers", 8), ("query-agdref", 2))
# Two people each holding a certified identifier: two NIRs, or two AGDREF numbers.
_FORCED_LAYOUTS = {"other-identifiers": (("both-nir", 60), ("query-agdref", 40))}


def _allot(total: int, shares: dict[str, int]) -> list[str]:
    """``total`` variations in proportion to their shares (largest remainders)."""
    whole = sum(shares.values())
    exact = {name: total * share / whole for name, share in shares.items()}
    counts = {name: int(value) for name, value in exact.items()}
    left = total - sum(counts.values())
    for name in sorted(shares, key=lambda name: (counts[name] - exact[name], name))[:left]:
        counts[name] += 1
    return [name for name in shares for _ in range(counts[name])]


def generate(n_pairs: int, seed: int) -> list[LabelledPair]:
    """``n_pairs`` labelled pairs, half (rounded up) of one person, deterministic by seed."""
    if n_pairs < 0:
        raise ValueError("n_pairs cannot be negative")
    positives = (n_pairs + 1) // 2
    slots = [(True, name) for name in _allot(positives, POSITIVES)]
    slots += [(False, name) for name in _allot(n_pairs - positives, NEGATIVE_SHARES)]
    # Synthetic test data, reproducible by seed: no secret is drawn here.
    random.Random(seed).shuffle(slots)  # noqa: S311
    return [
        _pair(random.Random(f"{seed}/{index}"), same, variation)  # noqa: S311
        for index, (same, variation) in enumerate(slots)
    ]


def _pair(rng: random.Random, same: bool, variation: str) -> LabelledPair:
    build = _positive if same else _negative
    for _ in range(ATTEMPTS):
        pair = build(rng, variation)
        if pair is not None:
            return pair
    raise RuntimeError(f"no person fits the variation {variation!r}")  # pragma: no cover


def _fund_copy(rng: random.Random, query: Side, person: Person) -> None:
    """What a fund's file typically lacks or holds otherwise than the prefecture's."""
    if rng.random() < 0.5:  # noqa: PLR2004
        query.usage_name = None
    if rng.random() < 0.5:  # noqa: PLR2004
        query.nationality = None
    if rng.random() < 0.15:  # noqa: PLR2004
        query.residence = pick(rng, person.origin.residence)


def _changes(rng: random.Random, variation: str) -> list[str]:
    if variation == "combined":
        first = rng.choice(COMBINABLE)
        return [first, rng.choice([c for c in COMBINABLE if combinable(first, c)])]
    if variation == "shared-identifier":
        light = rng.choices(("", "typo", "transliteration"), (40, 30, 30))[0]
        return [light] if light else []
    return [variation]


def _positive(rng: random.Random, variation: str) -> LabelledPair | None:
    person = draw_person(rng)
    style = draw_style(rng)
    stored, query = Side.of(person, style), Side.of(person, style)
    _fund_copy(rng, query, person)
    changes = _changes(rng, variation)
    if "nia-certified" in changes:
        layout = "nia-certified"
    elif variation == "shared-identifier":
        layout = rng.choice(("shared-nir", "shared-nir", "shared-agdref"))
    else:
        layout = "nir" if rng.random() < _QUERY_NUMBER else "none"
    change = Change(rng, person, query, stored, query_identified=layout != "none")
    details: list[tuple[str, str]] = []
    for name in changes:
        found = CHANGES[name](change)
        if found is None:
            return None
        details.append((name, found))
    if variation in _CHANGING and _read(query) == _read(stored):
        return None  # two changes undid each other, as a typo that makes another spelling
    _identify(rng, layout, person, person, query, stored, nia_on=change.nia_on)
    if variation == "combined":
        detail = "+".join(f"{name}:{found}" if found else name for name, found in details)
    elif variation == "shared-identifier":
        detail = "+".join([layout.removeprefix("shared-"), *changes])
    else:
        detail = details[0][1]
    return _labelled(query, stored, person, variation, detail, same=True)


def _labelled(
    query: Side, stored: Side, person: Person, variation: str, detail: str, *, same: bool
) -> LabelledPair:
    """The pair, its family the origin of the prefecture's person's names."""
    return LabelledPair(
        query.document(),
        stored.document(),
        same=same,
        variation=variation,
        detail=detail,
        family=person.origin.name,
    )


# Variations that change the names, dates or places the matcher reads.
_CHANGING = frozenset(POSITIVES) - {"exact-copy", "shared-identifier", "nia-certified"}
_NOT_READ = frozenset(
    ["agdref_number", "social_security_number", "nationality", "residence_departement"]
)


def _read(side: Side) -> dict[str, Any]:
    return {key: value for key, value in side.document().items() if key not in _NOT_READ}


def _negative(rng: random.Random, variation: str) -> LabelledPair | None:
    built = NEGATIVES[variation](rng)
    if built is None:
        return None
    stored_person, query_person, detail = built
    distinct(rng, stored_person, query_person)
    style = draw_style(rng)
    stored, query = Side.of(stored_person, style), Side.of(query_person, style)
    _fund_copy(rng, query, query_person)
    layout = pick(rng, _FORCED_LAYOUTS.get(variation, _NEGATIVE_LAYOUTS))
    _identify(rng, layout, stored_person, query_person, query, stored)
    if variation in _FORCED_LAYOUTS:
        detail = layout
    return _labelled(query, stored, stored_person, variation, detail, same=False)


def _query_number(rng: random.Random, person: Person) -> tuple[str, str]:
    nia = rng.random() < _QUERY_NIA
    number = person.number(nia=nia)
    # Funds send the number as their files print it, sometimes spaced.
    return (spaced(number) if rng.random() < 0.1 else number), "nia" if nia else "nir"  # noqa: PLR2004


def _identify(
    rng: random.Random,
    layout: str,
    stored_person: Person,
    query_person: Person,
    query: Side,
    stored: Side,
    *,
    nia_on: str = "",
) -> None:
    """Give each copy its identifiers; the layout says which."""
    stored.agdref = stored_person.agdref
    if layout in {"nir", "query-agdref", "both-numbers", "both-nir"} or (
        layout == "shared-agdref" and rng.random() < 0.7  # noqa: PLR2004
    ):
        query.number = _query_number(rng, query_person)
    if layout == "nia-certified":
        nia, nir = (stored, query) if nia_on == "stored" else (query, stored)
        nia.number = (stored_person.number(nia=True), "nia")
        nir.number = (stored_person.number(), "nir")
    elif layout == "shared-nir":
        stored.number = query.number = (stored_person.number(), "nir")
    elif layout == "shared-agdref":
        agdref = stored_person.agdref
        # A number that lost its leading zero in a spreadsheet on the way.
        lost_zero = agdref.startswith("0") and rng.random() < 0.3  # noqa: PLR2004
        query.agdref = agdref[1:] if lost_zero else agdref
    elif layout == "both-numbers":
        as_nia = rng.random() < 0.3  # noqa: PLR2004
        stored.number = (stored_person.number(nia=as_nia), "nia" if as_nia else "nir")
    elif layout == "query-agdref":
        query.agdref = query_person.agdref
    elif layout == "both-nir":
        query.number = (query_person.number(), "nir")
        stored.number = (stored_person.number(), "nir")
