"""Social-security numbers: the NIR, the NIA that waits to become one, and the older NNP.

A NIR and a NIA have the same shape (13 characters and a 2-digit key) and the string
alone does not say which it is, so the type travels with the number. Layout of the 13:
sex (1), year (2), month (2), département of birth (2, or 3 for ``97x``/``98x``),
commune or, for ``99`` (born abroad), the INSEE country code (3, or 2 after a 3-character
département), order number (3). The key is 97 - (the 13 as an integer mod 97), with
Corsica's ``2A`` and ``2B`` counted as ``19`` and ``18``. An NNP (old provisional number)
starts with 7 or 8 and carries no key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from gateway.identities.errors import IdentityFieldError
from gateway.territory import METROPOLITAN

BODY_LENGTH = 13
KEY_LENGTH = 2
NIR_LENGTH = BODY_LENGTH + KEY_LENGTH
MODULUS = 97
# Only for the key: the département position of a Corsican NIR counts as a number.
CORSICA_FOR_KEY = {"2A": "19", "2B": "18"}
# 01-12; 20-42 and 50 are written for incomplete civil records.
MONTHS = frozenset([f"{n:02d}" for n in (*range(1, 13), *range(20, 43), 50)])
OVERSEAS = frozenset(["97", "98"])  # a 3-character département: the commune has 2 digits
ABROAD = "99"  # then the "commune" is the INSEE country code
# Corsica was département 20 until 1976, and a NIR keeps the place as coded at birth: people
# born there before then carry 20, the others 2A or 2B. Both readings are accepted.
CORSICA_BEFORE_1976 = "20"
# Tunisia was coded 96 until its independence in 1956 (Algeria 91-94 and Morocco 95 share
# their numbers with today's départements): people born there then keep 96.
TUNISIA_BEFORE_1956 = "96"
NNP_FIRST = frozenset("78")
# French typography writes numbers with (narrow) no-break spaces; sources add dots, hyphens.
_SEPARATORS = re.compile(r"[\s.\-\u2010\u2011]+")


class NumberType(StrEnum):
    NIR = "nir"
    NIA = "nia"
    NNP = "nnp"


def _digits(text: str) -> bool:
    # str.isdigit alone accepts Arabic-Indic digits and superscripts, and int() reads them.
    return text.isascii() and text.isdigit()


def nir_key(first13: str) -> int:
    """The 2-digit key of the first 13 characters of a NIR or NIA (1 to 97)."""
    body = first13.upper()
    if len(body) != BODY_LENGTH:
        raise IdentityFieldError("nir-format", "a NIR key is computed on 13 characters")
    body = body[:5] + CORSICA_FOR_KEY.get(body[5:7], body[5:7]) + body[7:]
    if not _digits(body):
        raise IdentityFieldError("nir-format", "a NIR has only digits, except 2A or 2B")
    return MODULUS - int(body) % MODULUS


def _check_nir(number: str) -> None:
    """Refuse a normalised NIR or NIA that breaks a rule, naming the rule."""
    if len(number) != NIR_LENGTH:
        raise IdentityFieldError("nir-length", "a NIR or NIA has 15 characters (13 and a key)")
    if number[0] not in "12":
        raise IdentityFieldError("nir-sex", "a NIR or NIA starts with 1 or 2")
    if number[3:5] not in MONTHS:
        raise IdentityFieldError("nir-month", "the month of birth must be 01-12, 20-42 or 50")
    departement = number[5:7]
    if departement not in METROPOLITAN | OVERSEAS | {
        ABROAD,
        CORSICA_BEFORE_1976,
        TUNISIA_BEFORE_1956,
    }:
        raise IdentityFieldError(
            "nir-departement",
            "the département of birth must be 01-96, 2A, 2B, 97x, 98x or 99 (abroad)",
        )
    # Everything else is digits. The third digit of a 97x/98x département is not checked
    # against today's list: a NIR keeps the place as coded at birth, and codes change.
    if not _digits(number[1:5] + number[7:]):
        raise IdentityFieldError("nir-format", "a NIR or NIA has only digits, except 2A or 2B")
    if int(number[BODY_LENGTH:]) != nir_key(number[:BODY_LENGTH]):
        raise IdentityFieldError("nir-key", "the key does not match the first 13 characters")


def _check_nnp(number: str) -> None:
    if len(number) == NIR_LENGTH:
        raise IdentityFieldError("nnp-has-no-key", "an NNP has 13 digits and no key")
    if len(number) != BODY_LENGTH or not _digits(number) or number[0] not in NNP_FIRST:
        raise IdentityFieldError("nnp-format", "an NNP is 13 digits starting with 7 or 8")


@dataclass(frozen=True)
class SocialSecurityNumber:
    """A valid, normalised number and what kind of number it is; refuses anything else."""

    number: str
    type: NumberType

    def __post_init__(self) -> None:
        if self.type is NumberType.NNP:
            _check_nnp(self.number)
        else:
            _check_nir(self.number)


def normalise(raw: str) -> str:
    """Without spaces, dots and hyphens, upper-cased (2a is 2A)."""
    return _SEPARATORS.sub("", raw).upper()


def parse_social_security_number(raw: str, number_type: NumberType) -> SocialSecurityNumber:
    """Normalise and validate a number of the given type; raise IdentityFieldError."""
    return SocialSecurityNumber(normalise(raw), NumberType(number_type))
