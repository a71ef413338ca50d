"""Matching a fund's identity against a decision's when no identifier matched.

Pure logic, no I/O. Two steps, as record-linkage systems do them:

1. **Blocking.** ``blocking_keys`` turns an identity into a few short keys (surname sound
   and birth year, first-name sound and full birth date, both sounds and the day of
   birth). A stored identity keeps their keyed blind indexes; a check looks up the keys
   of what the fund sent, its names also swapped, so only a handful of candidates are
   ever opened.
2. **Scoring.** ``compare`` grades a candidate. ``strong`` needs the surname (birth or
   usage name, with or without particles, transliterated, or with one typo), the first
   names (one side's all found in the other's, in any order, transliterated), a birth
   date that agrees (equal, or compatible when partial, or a 1 January / 31 December
   written for an unknown date, or day and month swapped), the sex and the place of
   birth (equal or unknown) to agree. ``weak`` is the same person's names with a date,
   place or sex that disagrees, a first name that only agrees up to a typo (twins are
   told apart by their first names alone), or a surname and a birth date with other
   first names. ``none`` is anything less.

``assess`` is both steps: what the gateway answers about one pair of identities. An
identifier match is ``exact`` unless the two identities contradict each other
(``identity_conflict``): then it is a ``conflict`` the fund resolves, never ``exact``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rapidfuzz.distance import OSA, JaroWinkler

from gateway.identities.agdref import parse_agdref
from gateway.identities.dates import PartialDate
from gateway.identities.errors import IdentityFieldError
from gateway.identities.names import PARTICLES, name_words

if TYPE_CHECKING:
    from gateway.identities.schemas import IdentityIn


class Level(StrEnum):
    EXACT = "exact"  # the NIR/NIA or the AGDREF number
    STRONG = "strong"
    WEAK = "weak"
    NONE = "none"
    CONFLICT = "conflict"  # an identifier matched, but the two identities contradict


RANK = {Level.EXACT: 3, Level.STRONG: 2, Level.WEAK: 1, Level.CONFLICT: 1, Level.NONE: 0}

# Transliteration: spellings of one sound (French, English and Maghrebi conventions) are
# written alike, then O/U and E/A, which transliterations of Arabic swap freely, merge.
_SOUNDS = (
    ("TCH", "CH"),
    ("ZH", "CH"),  # pinyin: ZHANG is TCHANG
    ("X", "KS"),  # ALEXANDR, ALEKSANDR
    ("SCH", "CH"),
    ("SH", "CH"),
    ("PH", "F"),
    ("DJ", "J"),
    ("KH", "K"),
    ("GH", "G"),
    ("TH", "T"),
    ("DH", "D"),
    ("CK", "K"),
    ("OU", "U"),
    ("OO", "U"),
    ("EE", "I"),
    ("Q", "K"),
    ("W", "U"),
    ("Y", "I"),
)
_SOFT_C = re.compile(r"C(?=[EI])")
_DOUBLES = re.compile(r"(.)\1+")
_VOWELS = re.compile(r"[AEIOU]")
_MIN_SOUND = 2  # a final E or H of a longer word is mute
_MIN_TYPO_LENGTH = 4  # of the longer name: shorter ones differ by a letter too often
_PLAIN_TYPO_LENGTH = 5  # of the shorter name, for a typo to be taken for one
_LONG_NAME = 8
_CLOSE_SPELLING = 0.9
_MIN_CLOSE_SPELLING = 5  # SAID and SAAD share consonants and most letters, not a name
_MAX_WORDS = 4  # of a name, for blocking; beyond that the words add nothing but keys
_SUBSTITUTED = ((1, 1), (12, 31))  # written when only the year is known


@lru_cache(maxsize=65_536)
def sound(word: str) -> str:
    """A canonical word as it sounds: MOHAMED, MOHAMMAD and MUHAMMAD are all MUHAMAD."""
    if not word.isascii():
        return word
    text = word
    if text.endswith(("OFF", "EFF")):  # Russian -ov written the French way: SMIRNOFF
        text = text[:-2] + "V"
    for spelling, written in _SOUNDS:
        text = text.replace(spelling, written)
    text = _SOFT_C.sub("S", text).replace("C", "K")
    if len(text) > _MIN_SOUND and text.endswith(("E", "H")):  # a mute final E or H: SARAH, AMINE
        text = text[:-1]
    if len(text) > _MIN_SOUND and text.endswith("D"):  # AHMED, AHMET; MAGOMED, MAGOMET
        text = text[:-1] + "T"
    text = text.replace("O", "U").replace("E", "A")
    return _DOUBLES.sub(r"\1", text)


@lru_cache(maxsize=65_536)
def skeleton(word: str) -> str:
    """The consonants of a word's sound, after its first letter (any vowel is A): a key."""
    spoken = sound(word)
    if not spoken:
        return spoken
    head = "A" if spoken[0] in "AEIOU" else spoken[0]
    return _DOUBLES.sub(r"\1", head + _VOWELS.sub("", spoken[1:]))


class Agreement(IntEnum):
    """How two names agree, from the weakest to the strongest."""

    NO = 0
    SLIP = 1  # a short name one letter off, or a letter added at the end: SAMIR, SAMIRA
    TYPO = 2  # one letter off in a longer name (two in a long one): a typing error
    SPELLING = 3  # a transliteration of the same name
    SAME = 4


@lru_cache(maxsize=262_144)
def words_agree(left: str, right: str) -> Agreement:
    """How two canonical words agree."""
    if left == right:
        return Agreement.SAME
    a, b = sound(left), sound(right)
    if a == b:
        return Agreement.SPELLING
    if (
        min(len(a), len(b)) >= _MIN_CLOSE_SPELLING
        and skeleton(left) == skeleton(right)
        and JaroWinkler.similarity(a, b) >= _CLOSE_SPELLING
    ):
        return Agreement.SPELLING  # FATIMA and FATMA, ABDELKADER and ABDELKADIR
    if len(a) != len(b) and (a[1:] == b or b[1:] == a) and (a[0] in "AEIOU" or b[0] in "AEIOU"):
        return Agreement.SPELLING  # IBRAHIM and BRAHIM: a leading vowel dropped
    shortest, longest = sorted((len(left), len(right)))
    allowed = 2 if shortest >= _LONG_NAME else 1 if longest >= _MIN_TYPO_LENGTH else 0
    if allowed and OSA.distance(left, right, score_cutoff=allowed) <= allowed:
        # Short names are often one letter apart (LINA, LENA), a letter added at the end
        # often makes another name (LOUIS, LOUISE), and so does a letter changed for one
        # far from it on a keyboard (FATIMA, FATIHA): those are only slips.
        plain = shortest >= _PLAIN_TYPO_LENGTH and (allowed > 1 or _typing_error(left, right))
        return Agreement.TYPO if plain else Agreement.SLIP
    return Agreement.NO


_KEYBOARDS = (
    ("AZERTYUIOP", "QSDFGHJKLM", "WXCVBN"),  # French
    ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"),
)


def _neighbours() -> dict[str, frozenset[str]]:
    near: dict[str, set[str]] = {}
    for rows in _KEYBOARDS:
        for r, row in enumerate(rows):
            above = rows[r - 1] if r > 0 else ""
            below = rows[r + 1] if r + 1 < len(rows) else ""
            for i, key in enumerate(row):
                # Rows are staggered: a key sits below the keys i and i+1 of the row above.
                around = near.setdefault(key, set())
                around.update(
                    row[max(0, i - 1) : i + 2], above[i : i + 2], below[max(0, i - 1) : i + 1]
                )
    return {key: frozenset(around - {key}) for key, around in near.items()}


_NEAR_KEYS = _neighbours()


def _typing_error(left: str, right: str) -> bool:
    """Whether one edit turns one word into the other as a typist would.

    A key next to the right one, two letters swapped, a letter doubled, or one dropped
    or added inside the word (not at its end, where it makes another name).
    """
    if len(left) == len(right):
        diff = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        if len(diff) == 1:
            a, b = left[diff[0]], right[diff[0]]
            return b in _NEAR_KEYS.get(a, frozenset())
        return len(diff) == 2 and diff[1] == diff[0] + 1  # noqa: PLR2004 - a transposition
    short, long = sorted((left, right), key=len)
    if long.startswith(short) or long.endswith(short):
        return False
    for i in range(len(long)):
        if long[:i] + long[i + 1 :] == short:
            return (i > 0 and long[i] == long[i - 1]) or 0 < i < len(long) - 1
    return False


def _without_particles(words: list[str]) -> list[str]:
    rest = list(words)
    while len(rest) > 1 and rest[0] in PARTICLES:
        rest.pop(0)
    return rest


def surname_forms(name: str) -> tuple[str, ...]:
    """The forms a surname is compared in: joined, without particles, and its long words.

    BEN ALI is BENALI and ALI; GARCIA LOPEZ is also GARCIA and LOPEZ.
    """
    words = name_words(name)[:_MAX_WORDS]
    if not words:
        return ()
    forms = ["".join(words), "".join(_without_particles(words))]
    if len(words) > 1:
        forms += [word for word in words if len(word) >= _MIN_TYPO_LENGTH and word not in PARTICLES]
    return tuple(dict.fromkeys(forms))


def first_name_words(names: Iterable[str]) -> tuple[str, ...]:
    """Every first name's words, in order: JEAN-PIERRE is JEAN and PIERRE."""
    return tuple(dict.fromkeys(word for name in names for word in name_words(name) if word))[
        :_MAX_WORDS
    ]


@dataclass(frozen=True)
class Profile:
    """What matching compares of one identity, in canonical forms."""

    surnames: tuple[str, ...]
    first_names: tuple[str, ...]
    birth: PartialDate
    sex: str | None
    place: str | None
    agdref: str | None = None
    ssn: str | None = None
    ssn_certified: bool = False  # a NIR, not a NIA or NNP awaiting certification

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Profile:
        """From an identity document (``IdentityIn.document()`` or a stored one)."""
        surnames: list[str] = []
        for field in ("birth_name", "usage_name"):
            if value := document.get(field):
                surnames += surname_forms(value)
        try:
            birth = PartialDate.parse(document.get("birth_date"))
        except IdentityFieldError:
            birth = PartialDate()
        agdref = document.get("agdref_number")
        ssn = document.get("social_security_number")
        return cls(
            surnames=tuple(dict.fromkeys(surnames)),
            first_names=first_name_words(document.get("first_names") or ()),
            birth=birth,
            sex=document.get("sex"),
            place=document.get("place_of_birth"),
            agdref=parse_agdref(agdref).canonical if agdref else None,
            ssn=ssn["number"] if ssn else None,
            ssn_certified=ssn is not None and ssn.get("type") == "nir",
        )

    @classmethod
    def of_identity(cls, identity: IdentityIn) -> Profile:
        """From a validated identity, without serialising it first (the checks' hot path)."""
        ssn = identity.social_security_number
        return cls.of(
            {
                "agdref_number": identity.agdref_number,
                "social_security_number": {"number": ssn.number, "type": str(ssn.type)}
                if ssn
                else None,
                "birth_name": identity.birth_name,
                "usage_name": identity.usage_name,
                "first_names": identity.first_names,
                "sex": str(identity.sex) if identity.sex else None,
                "birth_date": identity.birth_date,
                "place_of_birth": identity.place_of_birth,
            }
        )

    def swapped(self) -> Profile:
        """The same identity with surname and first names exchanged (NGUYEN VAN AN)."""
        firsts = tuple(dict.fromkeys(form for name in self.surnames for form in name_words(name)))
        return Profile(
            surnames=self.first_names,
            first_names=firsts[:_MAX_WORDS],
            birth=self.birth,
            sex=self.sex,
            place=self.place,
        )


def _best(lefts: Iterable[str], rights: Iterable[str]) -> Agreement:
    rights = tuple(rights)
    best = Agreement.NO
    for left in lefts:
        for right in rights:
            best = max(best, words_agree(left, right))
            if best is Agreement.SAME:
                return best
    return best


def _first_names_agree(lefts: tuple[str, ...], rights: tuple[str, ...]) -> tuple[Agreement, bool]:
    """(how the weakest of the shorter list's names agrees, whether any name agrees).

    One side's first names must all be found in the other's, in any order: a dropped
    middle name still agrees, MOHAMED AMINE and MOHAMED ALI do not.
    """
    if not lefts or not rights:
        return Agreement.NO, False
    best = _all_found(lefts, rights)
    if best[0] < Agreement.SPELLING and (len(lefts) > 1 or len(rights) > 1):
        # Names written apart or together: ABDEL KADER, ABDELKADER; ROSE MARIE, ROSEMARIE.
        joined = ("".join(lefts),), ("".join(rights),)
        for pair in ((joined[0], rights), (lefts, joined[1]), joined):
            grade, _ = _all_found(*pair)
            if grade >= Agreement.SPELLING:  # no typo on top: MARIECLAIRE, MARIECLAUDE
                best = (max(best[0], grade), best[1])
    return best


def _all_found(lefts: tuple[str, ...], rights: tuple[str, ...]) -> tuple[Agreement, bool]:
    shorter, longer = (lefts, rights) if len(lefts) <= len(rights) else (rights, lefts)
    grades = [_best((name,), longer) for name in shorter]
    return min(grades), max(grades) > Agreement.NO


class DateAgreement(IntEnum):
    NO = 0
    SAME_YEAR = 1  # the same year, another day: a homonym as often as a typo
    NEAR = 2  # one digit of the year off (or two swapped): a typo, or a cousin
    SWAPPED = 3  # day and month swapped (a date written month first)
    PARTIAL = 4  # compatible, one side partial or a 1 January / 31 December substitute
    SAME = 5


def dates_agree(left: PartialDate, right: PartialDate) -> DateAgreement | None:  # noqa: PLR0911
    """How two birth dates agree; None when either is wholly unknown."""
    if left.year is None or right.year is None:
        return None
    if left == right and left.day is not None:
        return DateAgreement.SAME
    if left.year == right.year:
        compatible = (left.month is None or right.month is None or left.month == right.month) and (
            left.day is None or right.day is None or left.day == right.day
        )
        if compatible or _substituted(left) or _substituted(right):
            return DateAgreement.PARTIAL
        if (left.month, left.day) == (right.day, right.month):
            return DateAgreement.SWAPPED
        return DateAgreement.SAME_YEAR
    same_day = (left.month, left.day) == (right.month, right.day) and left.day is not None
    if same_day and OSA.distance(str(left.year), str(right.year)) <= 1:
        return DateAgreement.NEAR  # one digit of the year mistyped
    return DateAgreement.NO


def _substituted(date: PartialDate) -> bool:
    return (date.month, date.day) in _SUBSTITUTED


def _equal_or_unknown(left: str | None, right: str | None) -> bool | None:
    if left is None or right is None:
        return None
    return left == right


@dataclass(frozen=True)
class _Facts:
    """What two identities agree on besides their names."""

    date: DateAgreement | None
    sex: bool | None
    place: bool | None


def compare(query: Profile, stored: Profile) -> Level:
    """How well two identities agree on names, birth date, sex and place of birth."""
    facts = _Facts(
        dates_agree(query.birth, stored.birth),
        _equal_or_unknown(query.sex, stored.sex),
        _equal_or_unknown(query.place, stored.place),
    )
    if facts.date is DateAgreement.NO:
        return Level.NONE  # born in other years: no name makes them one person
    level = _by_names(query, stored, facts)
    if level is Level.STRONG and _other_identifiers(query, stored):
        return Level.WEAK  # namesakes: each has an identifier of their own
    return level


def _other_identifiers(query: Profile, stored: Profile) -> bool:
    """Whether both sides hold different AGDREF numbers, or different certified NIRs.

    A NIA becomes a NIR with other digits once certified, so only two NIRs disagree.
    """
    if query.agdref and stored.agdref and query.agdref != stored.agdref:
        return True
    return bool(query.ssn_certified and stored.ssn_certified and query.ssn != stored.ssn)


def _by_names(query: Profile, stored: Profile, facts: _Facts) -> Level:
    surname = _best(query.surnames, stored.surnames)
    first, any_first = _first_names_agree(query.first_names, stored.first_names)
    best = _grade(surname, first, any_first, facts)
    if best is Level.STRONG or not query.surnames or first >= Agreement.SPELLING:
        return best  # exchanging names cannot do better with the same date, sex and place
    # One side took a first name for the surname (NGUYEN VAN AN read left to right, or
    # the fields exchanged): that first name against the surname, the surname with the
    # other first names against the first names, all of the shorter list found.
    surname_form = max(query.surnames, key=lambda form: _best((form,), stored.first_names))
    names = query.first_names
    swaps = [(name, (*names[:i], *names[i + 1 :])) for i, name in enumerate(names)]
    if len(names) > 1:
        swaps.append(("".join(names), ()))  # BEN ALI given as first names
    for name, others in swaps:
        exchanged = _best((name,), stored.surnames)
        if exchanged is Agreement.NO:
            continue
        level = _grade(
            exchanged, *_first_names_agree((surname_form, *others), stored.first_names), facts
        )
        best = max(best, level, key=RANK.__getitem__)
    return best


def _grade(  # noqa: PLR0911 - one return per case of the rules above
    surname: Agreement, first: Agreement, any_first: bool, facts: _Facts
) -> Level:
    date, sex, place = facts.date, facts.sex, facts.place
    if surname is Agreement.NO:
        return Level.NONE
    if first >= Agreement.SPELLING:
        if (
            date is not None
            and date >= DateAgreement.PARTIAL
            and sex is not False
            and place is not False
            and (date is DateAgreement.SAME or sex or place)  # a partial date needs more
        ):
            return Level.STRONG
        if date is DateAgreement.SWAPPED and sex and place and surname >= Agreement.SPELLING:
            return Level.STRONG  # day and month swapped, and all else agrees
        if date is None or date >= DateAgreement.SAME_YEAR:
            return Level.WEAK
        return Level.NONE
    if first is Agreement.TYPO and date is DateAgreement.SAME and sex and place:
        return Level.STRONG  # a typing error in a first name, everything else the same
    # Other first names: a slip, a first name the other side lacks, or a twin.
    agree = date is not None and date >= DateAgreement.PARTIAL and sex is not False
    if first >= Agreement.SLIP or any_first:
        return Level.WEAK if agree else Level.NONE
    return Level.WEAK if agree and date is DateAgreement.SAME and place else Level.NONE


def blocking_keys(profile: Profile, *, swaps: bool = False) -> set[str]:
    """The blocking keys of an identity (before keying); with ``swaps``, also names swapped.

    A stored identity keeps its keys; a check looks up its own with ``swaps``, so a pair
    with surname and first name exchanged on one side still meets.
    """
    keys = _keys(profile)
    if swaps:
        keys |= _keys(profile.swapped())
    return keys


def _keys(profile: Profile) -> set[str]:
    birth = profile.birth
    surnames = {skeleton(name) for name in profile.surnames} - {""}
    firsts = {skeleton(name) for name in profile.first_names} - {""}
    keys: set[str] = set()
    if birth.year is not None:
        keys |= {f"s|{name}|{birth.year}" for name in surnames}
    if birth.day is not None:
        day = f"{birth.year}-{birth.month:02d}-{birth.day:02d}"
        keys |= {f"f|{name}|{day}" for name in firsts}
        if not _substituted(birth):
            keys |= {
                f"sf|{s}|{f}|{birth.month:02d}{birth.day:02d}" for s in surnames for f in firsts
            }
    return keys


def identity_conflict(asked: Profile, known: Profile) -> bool:
    """Whether two identities one identifier joins cannot be one person.

    Beyond what matching tolerates: another sex; birth dates of other years (one digit of
    the year mistyped on the same day and month aside) or of the same year but another
    day or month, not swapped, neither side partial nor a 1 January / 31 December written
    for an unknown date; first names of which none agrees with any other, even by a slip,
    with surname and first names taken either way round. Unknown on a side never conflicts.
    """
    if asked.sex and known.sex and asked.sex != known.sex:
        return True
    if dates_agree(asked.birth, known.birth) in {DateAgreement.NO, DateAgreement.SAME_YEAR}:
        return True
    if not asked.first_names or not known.first_names:
        return False
    return not any(
        _first_names_agree(side.first_names, known.first_names)[1]
        for side in (asked, asked.swapped())
    )


def assess(query: IdentityIn, stored: IdentityIn) -> Level:
    """How the gateway would match ``query`` (from a fund) to ``stored`` (a decision's)."""
    asked, known = Profile.of_identity(query), Profile.of_identity(stored)
    if (asked.agdref and asked.agdref == known.agdref) or (asked.ssn and asked.ssn == known.ssn):
        return Level.CONFLICT if identity_conflict(asked, known) else Level.EXACT
    if not blocking_keys(asked, swaps=True) & blocking_keys(known):
        return Level.NONE
    return compare(asked, known)
