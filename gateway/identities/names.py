"""Names: what is accepted as sent, and the canonical forms names are matched on.

Names are stored exactly as sent: apostrophes, quotes, hyphens and non-Latin scripts are
all legitimate, and a name is not ours to correct. Matching works on canonical forms in
which case, diacritics and separators no longer count ("Ben Ali", "BEN-ALI" and "benali"
are one name), and on a second form without leading particles ("El Amrani" and "Amrani").
Transliteration variants (Mohamed / Muhammad) are left to the matcher.
"""

from __future__ import annotations

import re
import unicodedata

from gateway.identities.errors import IdentityFieldError

MAX_LENGTH = 100
# Joiners shape letters in Arabic and Indic scripts: part of the name, not control.
_JOINERS = frozenset("\u200c\u200d")
# Control, format, surrogate, private-use and unassigned; line and paragraph separators.
_REFUSED_CATEGORIES = frozenset(["Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"])
# Letters that NFKD does not decompose but that are written without their stroke or
# ligature when a system cannot store them.
_LETTERS = str.maketrans({"ß": "SS", "Œ": "OE", "Æ": "AE", "Ø": "O", "Ł": "L", "Đ": "D"})
# Words of a name: spaces, hyphens (and their typographic forms), apostrophes.
_WORD_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014'\u2019\u02bc\u2018`]+")
# First names sent in one string: spaces and commas separate, hyphens join.
_FIRST_NAME_SEPARATORS = re.compile(r"[\s,]+")

PARTICLES = frozenset(
    {
        *("DE", "DU", "DES", "DA", "DOS", "DAS", "DI", "DEL", "DELLA"),
        *("LE", "LA", "LES", "VAN", "VON", "DER", "DEN", "TEN", "TER"),
        *("AL", "EL", "BEN", "BENT", "BOU", "BIN", "IBN", "ABOU", "ABU", "AIT", "OULD"),
        *("MAC", "MC", "O", "Y", "E", "ST", "SAINT"),
        # Elided forms: d'Artagnan, L'Hôpital.
        *("D", "L"),
    }
)


_NOT_ASCII_LETTER = re.compile(r"[^A-Z]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def validate_name(value: str) -> str:
    """The name as sent, without surrounding whitespace; raise IdentityFieldError."""
    name = value.strip()
    if not name:
        raise IdentityFieldError("name-empty", "a name cannot be empty")
    if len(name) > MAX_LENGTH:
        raise IdentityFieldError("name-too-long", f"a name has at most {MAX_LENGTH} characters")
    if name.isascii():
        # The common case, checked in C: printable ASCII has no control character.
        if not name.isprintable():
            raise IdentityFieldError(
                "name-control-characters", "a name cannot contain control or invisible characters"
            )
        if not _ASCII_LETTER.search(name):
            raise IdentityFieldError("name-no-letter", "a name must contain at least one letter")
        return name
    if any(
        unicodedata.category(char) in _REFUSED_CATEGORIES and char not in _JOINERS for char in name
    ):
        raise IdentityFieldError(
            "name-control-characters", "a name cannot contain control or invisible characters"
        )
    if not any(unicodedata.category(char).startswith("L") for char in name):
        raise IdentityFieldError("name-no-letter", "a name must contain at least one letter")
    return name


def canonical_name(value: str) -> str:
    """The matching form: upper-case letters only, without diacritics or separators."""
    if value.isascii():
        # The common case: no diacritics to strip, and ASCII letters upper-case to themselves.
        return _NOT_ASCII_LETTER.sub("", value.upper())
    decomposed = unicodedata.normalize("NFKD", value)
    # Marks go before case mapping: casefold turns one (Greek ypogegrammeni) into a letter.
    bare = "".join(char for char in decomposed if not unicodedata.category(char).startswith("M"))
    # Casefold before upper-casing: it knows more equivalences (final sigma, ẞ).
    upper = bare.casefold().upper().translate(_LETTERS)
    # Upper-casing can bring combining marks back (ǰ, ΐ), so marks, digits and separators
    # are dropped after it, from a decomposed form. Every character left is then a letter
    # this function maps to itself, which makes it idempotent (a test checks all of Unicode).
    return "".join(
        char
        for char in unicodedata.normalize("NFKD", upper)
        if unicodedata.category(char).startswith("L")
    )


def name_words(value: str) -> list[str]:
    """The canonical words of a name: "Ben-Ali el Amrani" is BEN, ALI, EL, AMRANI."""
    return [word for word in map(canonical_name, _WORD_SEPARATORS.split(value)) if word]


def name_without_particles(value: str) -> str:
    """The canonical name without its leading particles, keeping at least one word."""
    words = name_words(value)
    while len(words) > 1 and words[0] in PARTICLES:
        words.pop(0)
    return "".join(words)


def canonical_first_names(values: list[str]) -> str:
    """Every first name canonical, sorted and space-separated, so that order does not count."""
    names = (
        canonical_name(name) for value in values for name in _FIRST_NAME_SEPARATORS.split(value)
    )
    return " ".join(sorted(name for name in names if name))
