"""Matching a fund's identity against a decision's when no identifier matched.

Pure logic, no I/O. Two steps, as record-linkage systems do them:

1. **Blocking.** ``blocking_keys`` turns an identity into a few dozen short keys (surname
   sound with birth year, sex and month, first-name sound and full birth date, both
   sounds and the day of birth, and the first first name with the surname's sound short
   of any one letter and the year, for a surname one letter off with a date written
   otherwise). A stored
   identity keeps their keyed blind indexes; a check looks up the keys of what the fund
   sent, its names also swapped, so only a handful of candidates are ever opened.
2. **Scoring.** ``compare`` grades a candidate. Two people who each hold a certified
   identifier of their own (two NIRs, or two AGDREF numbers) are ``none``. ``strong``
   needs the surname (birth or usage name, with or without particles, transliterated,
   or with one typo), the first names (one side's all found in the other's, in any
   order, transliterated), a birth date that agrees (equal, or compatible when partial,
   or a 1 January / 31 December written for an unknown date, or day and month swapped),
   the sex and the place of birth (equal, coded otherwise, or unknown) to agree, and not
   both a first name more on one side and a date one side knows in part. ``weak`` is
   what rests on one link of those: the same names born elsewhere on the same date, or
   with a date a digit off, or first names sharing a name, a slip apart or alike (twins
   are told apart by their first names alone) with all else agreeing. ``none`` is
   anything less, such as namesakes born the same year on another day.

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
from typing import TYPE_CHECKING, Any, NamedTuple

from rapidfuzz.distance import OSA, JaroWinkler

from gateway.identities.agdref import parse_agdref
from gateway.identities.dates import PartialDate
from gateway.identities.errors import IdentityFieldError
from gateway.identities.names import PARTICLES, name_words
from gateway.identities.places import same_place

if TYPE_CHECKING:
    from gateway.identities.schemas import IdentityIn


class Level(StrEnum):
    EXACT = "exact"  # the NIR/NIA or the AGDREF number
    STRONG = "strong"
    WEAK = "weak"
    NONE = "none"
    CONFLICT = "conflict"  # an identifier matched, but the two identities contradict


# How ``blocking_keys`` makes its keys, sounds included: raised by any change to what it
# makes for some identity (a test holds each scheme's keys of sample identities). The worker
# then gives every stored identity its keys of the new scheme (``reindex``).
BLOCKING_SCHEME = 3
RANK = {Level.EXACT: 3, Level.STRONG: 2, Level.WEAK: 1, Level.CONFLICT: 1, Level.NONE: 0}

# Transliteration: spellings of one sound (French, English and Maghrebi conventions) are
# written alike, then O/U and E/A, which transliterations of Arabic swap freely, merge.
_SOUNDS = (
    ("TCH", "CH"),
    ("ZH", "CH"),  # pinyin: ZHANG is TCHANG
    ("XH", "J"),  # Albanian: HOXHA is HODJA (or HODZA), XHAFERI is DJAFERI
    ("DZ", "J"),
    ("X", "KS"),  # ALEXANDR, ALEKSANDR
    ("TZ", "Z"),  # FRANTZ, FRANZ
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
_HARD_G = re.compile(r"GU(?=[EIY])")  # GUEYE is GAYE, GUIRASSY is GIRASSY
_PRENASAL = re.compile(r"^(?:N(?=[DGJKTZC])|M(?=[BP]))")  # NDIAYE is DIAYE, MBAYE is BAYE
_WADE_GILES = (re.compile(r"^HS"), re.compile(r"^TS"))  # HSU is XU, TSAI is CAI
_SILENT_H = re.compile(r"(?<=[AEIOU])H(?=[^AEIOU])")  # MEHDI, MEDHI, MAHDI
_LEADING_J = re.compile(r"^J(?=[AEOU])")  # JULIA is YULIA (IULIA), JENNY is YENNY
# Russian and Ukrainian soft vowels: SEMIONOV is SEMENOV, LIOUDMILA is LUDMILA.
_SOFT_O = re.compile(r"(?<=[^AEIOU])IO(?=[^AEIOU])")
_SOFT_U = re.compile(r"(?<=[^AEIOU])IU")
_DOUBLES = re.compile(r"(.)\1+")
_VOWELS = re.compile(r"[AEIOU]")
_MIN_SOUND = 2  # a final E or H of a longer word is mute
_MIN_TYPO_LENGTH = 4  # of the longer name: shorter ones differ by a letter too often
_PLAIN_TYPO_LENGTH = 3  # of the shorter name, for a typing error to be taken for one
_LONG_NAME = 8
_CLOSE_SPELLING = 0.9
_ALIKE = 0.8
_MIN_CLOSE_SPELLING = 5  # SAID and SAAD share consonants and most letters, not a name
_MAX_WORDS = 4  # of a name, for blocking; beyond that the words add nothing but keys
_SUBSTITUTED = ((1, 1), (12, 31))  # written when only the year is known
# An Arabic article glued to the name on one side, dropped on the other: ELAMRANI and
# AMRANI, ALHASSANE and HASSANE (EL and AL both sound AL).
_GLUED_ARTICLE = "AL"
_MIN_UNGLUED = 3  # sounds left after the article: ALI is a name, not AL and I


@lru_cache(maxsize=65_536)
def sound(word: str) -> str:
    """A canonical word as it sounds: MOHAMED, MOHAMMAD and MUHAMMAD are all MUHAMAD."""
    if not word.isascii():
        return word
    text = word
    if text.endswith(("OFF", "EFF")):  # Russian -ov written the French way: SMIRNOFF
        text = text[:-2] + "V"
    text = _PRENASAL.sub("", _HARD_G.sub("G", text))
    text = _WADE_GILES[1].sub("C", _WADE_GILES[0].sub("X", text))
    for spelling, written in _SOUNDS:
        text = text.replace(spelling, written)
    text = _SOFT_U.sub("U", _SOFT_O.sub("E", _LEADING_J.sub("I", _SILENT_H.sub("", text))))
    text = _SOFT_C.sub("S", text).replace("C", "K")
    if len(text) > _MIN_SOUND and text.endswith(("E", "H")):  # a mute final E or H: SARAH, AMINE
        text = text[:-1]
    if len(text) > _MIN_SOUND and text.endswith("D"):  # AHMED, AHMET; MAGOMED, MAGOMET
        text = text[:-1] + "T"
    text = text.replace("O", "U").replace("E", "A")
    return _DOUBLES.sub(r"\1", text)


def unglued(spoken: str) -> str | None:
    """A sound without a glued Arabic article (ALAMRANI is AMRANI), or None if it has none."""
    rest = spoken.removeprefix(_GLUED_ARTICLE)
    return rest if len(rest) >= _MIN_UNGLUED and rest != spoken else None


@lru_cache(maxsize=65_536)
def skeleton(word: str) -> str:
    """The consonants of a word's sound, after its first letter (any vowel is A): a key.

    An H after the first letter is left out: written or not (NGONO, NHONO; MOHAMED,
    MOAMED), it is mute more often than not.
    """
    spoken = sound(word)
    if not spoken:
        return spoken
    head = "A" if spoken[0] in "AEIOU" else spoken[0]
    return _DOUBLES.sub(r"\1", head + _VOWELS.sub("", spoken[1:]).replace("H", ""))


class Agreement(IntEnum):
    """How two names agree, from the weakest to the strongest."""

    NO = 0
    # Names that sound alike without being one: ROKIA and ROKIATOU, BRAHIMA and IBRAHIM.
    # First names alike do not make a surname, but keep a pair otherwise the same weak.
    ALIKE = 1
    SLIP = 2  # a short name one letter off, or a letter added at the end: SAMIR, SAMIRA
    TYPO = 3  # one letter off in a longer name (two in a long one): a typing error
    SPELLING = 4  # a transliteration of the same name
    SAME = 5


@lru_cache(maxsize=262_144)
def words_agree(left: str, right: str) -> Agreement:
    """How two canonical words agree."""
    if left == right:
        return Agreement.SAME
    a, b = sound(left), sound(right)
    if _spellings(left, right, a, b):
        return Agreement.SPELLING
    shortest, longest = sorted((len(left), len(right)))
    allowed = 2 if shortest >= _LONG_NAME else 1 if longest >= _MIN_TYPO_LENGTH else 0
    if allowed and OSA.distance(left, right, score_cutoff=allowed) <= allowed:
        # Short names are often one letter apart (LINA, LENA), a letter added at the end
        # often makes another name (LOUIS, LOUISE), and so does a letter changed for one
        # far from it on a keyboard (FATIMA, FATIHA): those are only slips.
        plain = shortest >= _PLAIN_TYPO_LENGTH and (allowed > 1 or _typing_error(left, right))
        return Agreement.TYPO if plain else Agreement.SLIP
    return Agreement.ALIKE if JaroWinkler.similarity(a, b) >= _ALIKE else Agreement.NO


def _spellings(left: str, right: str, a: str, b: str) -> bool:
    """Whether two words, sounding ``a`` and ``b``, are spellings of one name."""
    if a == b or unglued(a) == b or unglued(b) == a:
        return True  # the same sound, or an article glued on one side: ELAMRANI, AMRANI
    if min(len(left), len(right)) >= _MIN_CLOSE_SPELLING and _vowels_apart(a, b):
        return True  # a vowel transliterated otherwise: ZAHRA, ZOHRA; YUSUF, YOUSEF
    if (
        min(len(a), len(b)) >= _MIN_CLOSE_SPELLING
        and skeleton(left) == skeleton(right)
        and JaroWinkler.similarity(a, b) >= _CLOSE_SPELLING
    ):
        return True  # FATIMA and FATMA, ABDELKADER and ABDELKADIR
    # IBRAHIM and BRAHIM: a leading vowel dropped.
    return len(a) != len(b) and (a[1:] == b or b[1:] == a) and (a[0] in "AEIOU" or b[0] in "AEIOU")


def _vowels_apart(a: str, b: str) -> bool:
    """Whether two sounds differ only in vowels, letter for letter: one, or any in a long name.

    HOCINE and HACENE differ in two: twins are named so. ABDULKADIR and ABDELKADER are long.
    """
    if len(a) != len(b):
        return False
    diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    allowed = len(a) if len(a) >= _LONG_NAME else 1
    return 0 < len(diff) <= allowed and all(x in "AEIOU" and y in "AEIOU" for x, y in diff)


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
    if long.startswith(short):
        return long[-1] == long[-2]  # a final letter doubled: MOURADD
    if long.endswith(short):
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


@lru_cache(maxsize=65_536)
def _words(name: str) -> tuple[str, ...]:
    """``name_words``, remembered: every check and every candidate reads its names."""
    return tuple(name_words(name))


@lru_cache(maxsize=65_536)
def surname_forms(name: str) -> tuple[str, ...]:
    """The forms a surname is compared in: joined, without particles, and its long words.

    BEN ALI is BENALI and ALI; GARCIA LOPEZ is also GARCIA and LOPEZ.
    """
    words = list(_words(name)[:_MAX_WORDS])
    if not words:
        return ()
    forms = ["".join(words), "".join(_without_particles(words))]
    if len(words) > 1:
        forms += [word for word in words if len(word) >= _MIN_TYPO_LENGTH and word not in PARTICLES]
    return tuple(dict.fromkeys(forms))


_MIDDLE_NAMES = frozenset(["VAN", "THI"])
# Words that join the words of one first name: MARIA DE FATIMA, MARIA DO CARMO.
_FIRST_NAME_LINKS = frozenset(["DE", "DA", "DO", "DOS", "DAS", "DEL", "DI", "DU"])


def first_name_words(names: Iterable[str]) -> tuple[str, ...]:
    """Every first name's words, in order: JEAN-PIERRE is JEAN and PIERRE."""
    words = (word for name in names for word in _words(name))
    return tuple(dict.fromkeys(word for word in words if word not in _FIRST_NAME_LINKS))[
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
        firsts = tuple(dict.fromkeys(form for name in self.surnames for form in _words(name)))
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


class FirstNames(NamedTuple):
    """How two lists of first names agree."""

    grade: Agreement  # how the weakest of the shorter list's names agrees
    any: bool  # whether any name agrees
    extra: bool  # one side has a first name the other lacks


def _first_names_agree(lefts: tuple[str, ...], rights: tuple[str, ...]) -> FirstNames:
    """How two lists agree: one side's first names must all be found in the other's.

    In any order: a dropped middle name still agrees, MOHAMED AMINE and MOHAMED ALI do not.
    """
    if not lefts or not rights:
        return FirstNames(Agreement.NO, any=False, extra=False)
    best = _all_found(lefts, rights)
    if best.grade < Agreement.SPELLING and (len(lefts) > 1 or len(rights) > 1):
        # Names written apart or together: ABDEL KADER, ABDELKADER; ROSE MARIE, ROSEMARIE.
        joined = ("".join(lefts),), ("".join(rights),)
        for pair in ((joined[0], rights), (lefts, joined[1]), joined):
            found = _all_found(*pair)
            if found.grade >= Agreement.SPELLING:  # no typo on top: MARIECLAIRE, MARIECLAUDE
                best = max(best, found)
    return best


def _all_found(lefts: tuple[str, ...], rights: tuple[str, ...]) -> FirstNames:
    shorter, longer = (lefts, rights) if len(lefts) <= len(rights) else (rights, lefts)
    grades = [_best((name,), longer) for name in shorter]
    # A Vietnamese middle name (VAN, THI) says the sex, not who: it makes no extra name.
    named = [name for name in longer if name not in _MIDDLE_NAMES]
    return FirstNames(min(grades), max(grades) >= Agreement.SLIP, len(shorter) < len(named))


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


def _places_agree(left: str | None, right: str | None) -> bool | None:
    if left is None or right is None:
        return None
    return same_place(left, right)


@dataclass(frozen=True)
class _Facts:
    """What two identities agree on besides their names."""

    date: DateAgreement | None
    sex: bool | None
    place: bool | None
    # The same date as far as known (a year-only date against the same year alone):
    # neither side fills in what the other lacks.
    dates_equal: bool = False
    # Two digits at most of day and month differ: a date mistyped rather than another.
    date_typo: bool = False


def compare(query: Profile, stored: Profile) -> Level:
    """How well two identities agree on names, birth date, sex and place of birth."""
    if _other_identifiers(query, stored):
        return Level.NONE  # each holds a certified identifier of their own: two people
    facts = _Facts(
        dates_agree(query.birth, stored.birth),
        _equal_or_unknown(query.sex, stored.sex),
        _places_agree(query.place, stored.place),
        dates_equal=query.birth == stored.birth,
        date_typo=_mistyped(query.birth, stored.birth),
    )
    if facts.date is DateAgreement.NO:
        return Level.NONE  # born in other years: no name makes them one person
    return _by_names(query, stored, facts)


def _mistyped(left: PartialDate, right: PartialDate) -> bool:
    """Whether two full dates of one year differ by one digit of day or month, or two swapped."""
    if left.day is None or right.day is None or left.year != right.year:
        return False
    return OSA.distance(f"{left.month:02d}{left.day:02d}", f"{right.month:02d}{right.day:02d}") <= 1


def _other_identifiers(query: Profile, stored: Profile) -> bool:
    """Whether both sides hold different AGDREF numbers, or different certified NIRs.

    A NIA becomes a NIR with other digits once certified, so only two NIRs disagree.
    """
    if query.agdref and stored.agdref and query.agdref != stored.agdref:
        return True
    return bool(query.ssn_certified and stored.ssn_certified and query.ssn != stored.ssn)


def _by_names(query: Profile, stored: Profile, facts: _Facts) -> Level:
    surname = _best(query.surnames, stored.surnames)
    first = _first_names_agree(query.first_names, stored.first_names)
    best = _grade(surname, first, facts)
    if best is Level.STRONG or not query.surnames or first.grade >= Agreement.SPELLING:
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
        if exchanged <= Agreement.ALIKE:
            continue
        level = _grade(
            exchanged, _first_names_agree((surname_form, *others), stored.first_names), facts
        )
        best = max(best, level, key=RANK.__getitem__)
    return best


def _grade(surname: Agreement, first: FirstNames, facts: _Facts) -> Level:  # noqa: PLR0911
    """The level of one reading of the names; one return per rule of the module's doc."""
    date, sex, place = facts.date, facts.sex, facts.place
    if surname <= Agreement.ALIKE or (date is None and first.grade < Agreement.SPELLING):
        return Level.NONE
    if first.grade >= Agreement.SPELLING:
        if (
            date is not None
            and date >= DateAgreement.PARTIAL
            and sex is not False
            and place is not False
            and (date is DateAgreement.SAME or sex or place)  # a partial date needs more
        ):
            # A first name one side lacks and a date one side lacks: nothing else links them.
            return Level.WEAK if first.extra and not facts.dates_equal else Level.STRONG
        if (
            date is DateAgreement.SWAPPED
            and sex
            and place is not False
            and surname >= Agreement.SPELLING
            and first.grade >= Agreement.SPELLING
        ):
            return Level.STRONG  # day and month swapped, and all else agrees
        if place is False:  # born in another country: only the same date keeps them close
            return Level.WEAK if date is not None and date >= DateAgreement.PARTIAL else Level.NONE
        if date is None or date >= DateAgreement.NEAR or facts.date_typo:
            return Level.WEAK
        return Level.NONE  # namesakes born the same year on another day
    equal_date = date is DateAgreement.SAME or facts.dates_equal
    if (
        first.grade is Agreement.TYPO
        and not first.extra
        and equal_date
        and sex
        and place is not False
    ):
        return Level.STRONG  # a typing error in a first name, everything else the same
    # A slip in a short first name, a first name in common and another one the other side
    # lacks, or first names alike: weak with a date, sex and place that agree. Twins with
    # first names not alike (surname, date and place the same) are two people.
    agree = (
        date is not None
        and date >= DateAgreement.SWAPPED
        and sex is not False
        and place is not False
    )
    return Level.WEAK if agree and (first.grade >= Agreement.ALIKE or first.any) else Level.NONE


def blocking_keys(profile: Profile, *, swaps: bool = False) -> set[str]:
    """The blocking keys of an identity (before keying); with ``swaps``, a check's keys.

    A stored identity keeps its keys; a check looks up its own with ``swaps``: also its
    names swapped, so a pair with surname and first name exchanged on one side still
    meets, and its day as a month (``_surname_year_tails``).
    """
    keys = _keys(profile, lookup=swaps)
    if swaps:
        # Names swapped and a surname one letter off with a date changed is three
        # changes at once: the swapped reading looks up no one-letter-off key.
        keys |= _keys(profile.swapped(), near=False, lookup=True)
    return keys


def _keys(profile: Profile, *, near: bool = True, lookup: bool = False) -> set[str]:
    birth = profile.birth
    surnames = {key for name in profile.surnames for key in _surname_keys(name)}
    firsts = {skeleton(name) for name in profile.first_names} - {""}
    keys: set[str] = set()
    if birth.year is not None:
        keys |= {
            f"s|{name}|{birth.year}|{tail}"
            for name in surnames
            for tail in _surname_year_tails(profile, lookup=lookup)
        }
        # A surname one letter off together with a date written otherwise: the first
        # first name with the surname's skeleton short of any one letter, and the year.
        if near and profile.first_names and (first := skeleton(profile.first_names[0])):
            keys |= {
                f"t|{first}|{near}|{birth.year}" for name in surnames for near in _one_deleted(name)
            }
    if birth.day is not None:
        day = f"{birth.year}-{birth.month:02d}-{birth.day:02d}"
        keys |= {f"f|{name}|{day}" for name in firsts}
        if not _substituted(birth):
            keys |= {
                f"sf|{s}|{f}|{birth.month:02d}{birth.day:02d}" for s in surnames for f in firsts
            }
    return keys


_SEXES = ("M", "F")
_MONTHS = tuple(range(1, 13))


def _surname_year_tails(profile: Profile, *, lookup: bool) -> set[str]:
    """The sex and month a surname-and-year key carries.

    The surname and birth year alone, the only key without a first name, is shared by
    every namesake born that year: the key also carries the sex and the month of birth.
    Where one is unknown (a 1 January or 31 December written for an unknown date knows
    no month), the key is made for every value it could be, so that each side meets the
    other whatever it knows: rare on either side, more keys there rather than on every
    check. A check also looks up its day where it could be a month (day and month
    swapped).
    """
    birth = profile.birth
    sexes = (profile.sex,) if profile.sex else _SEXES
    if birth.month is None or _substituted(birth):
        months: tuple[int, ...] = _MONTHS
    elif lookup and birth.day is not None and birth.day <= len(_MONTHS):
        months = (birth.month, birth.day)
    else:
        months = (birth.month,)
    return {f"{sex}|{month:02d}" for sex in sexes for month in months}


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
        _first_names_agree(side.first_names, known.first_names).any
        for side in (asked, asked.swapped())
    )


@lru_cache(maxsize=65_536)
def _surname_keys(name: str) -> frozenset[str]:
    """A surname's skeleton, and its skeleton without a glued article (ELAMRANI, AMRANI)."""
    keys = {skeleton(name)}
    if (rest := unglued(sound(name))) is not None:
        keys.add(skeleton(rest))
    return frozenset(keys - {""})


@lru_cache(maxsize=65_536)
def _one_deleted(key: str) -> frozenset[str]:
    """A skeleton and each of its forms with one letter left out (none left empty).

    Two skeletons one substitution, insertion, deletion or swap apart share one of these.
    """
    if len(key) < 2:  # noqa: PLR2004
        return frozenset([key])
    return frozenset([key, *(_DOUBLES.sub(r"\1", key[:i] + key[i + 1 :]) for i in range(len(key)))])


def assess(query: IdentityIn, stored: IdentityIn) -> Level:
    """How the gateway would match ``query`` (from a fund) to ``stored`` (a decision's)."""
    asked, known = Profile.of_identity(query), Profile.of_identity(stored)
    if (asked.agdref and asked.agdref == known.agdref) or (asked.ssn and asked.ssn == known.ssn):
        return Level.CONFLICT if identity_conflict(asked, known) else Level.EXACT
    if not blocking_keys(asked, swaps=True) & blocking_keys(known):
        return Level.NONE
    return compare(asked, known)
