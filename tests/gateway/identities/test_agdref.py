"""AGDREF numbers: 10 digits as given, 9 read as a lost leading zero, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identities.agdref import AgdrefNumber, parse_agdref
from gateway.identities.errors import IdentityFieldError

ASCII_DIGITS = "0123456789"
whitespace = st.text(" \t\n", max_size=3)


def _is_agdref(text: str) -> bool:
    """An independent statement of what is accepted."""
    candidate = text.strip()
    return len(candidate) in {9, 10} and all(char in ASCII_DIGITS for char in candidate)


def _outcome(raw: str) -> AgdrefNumber | IdentityFieldError:
    try:
        return parse_agdref(raw)
    except IdentityFieldError as error:
        return error


@given(st.text(ASCII_DIGITS, min_size=10, max_size=10), whitespace, whitespace)
def test_ten_digits_are_kept_as_given(digits: str, before: str, after: str) -> None:
    assert parse_agdref(before + digits + after) == AgdrefNumber(
        digits, digits, possible_lost_leading_zero=False
    )


@given(st.text(ASCII_DIGITS, min_size=9, max_size=9))
def test_nine_digits_get_their_leading_zero_back_and_say_so(digits: str) -> None:
    parsed = parse_agdref(digits)
    assert parsed.given == digits
    assert parsed.canonical == "0" + digits
    assert parsed.possible_lost_leading_zero


@given(st.text(ASCII_DIGITS, min_size=9, max_size=9))
def test_both_readings_meet_on_the_canonical_form(digits: str) -> None:
    assert parse_agdref(digits).canonical == parse_agdref("0" + digits).canonical


def test_leading_zeros_are_never_lost() -> None:
    parsed = parse_agdref("0012345678")
    assert parsed.canonical == "0012345678"
    assert isinstance(parsed.canonical, str)
    assert not parsed.possible_lost_leading_zero
    assert parse_agdref("000000000").canonical == "0000000000"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "12345678",
        "12345678901",
        "12345 6789",
        "123-456-789",
        "12345678X",
        "+123456789",
        "1_23456789",
        "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
        "\u00b9\u00b2\u00b3456789",
    ],
)
def test_anything_else_is_refused(raw: str) -> None:
    with pytest.raises(IdentityFieldError) as caught:
        parse_agdref(raw)
    assert caught.value.rule == "agdref-format"


@given(st.text(max_size=12) | st.text(ASCII_DIGITS + " x", max_size=12))
def test_arbitrary_text_is_accepted_exactly_when_it_is_9_or_10_digits(raw: str) -> None:
    outcome = _outcome(raw)
    if _is_agdref(raw):
        assert isinstance(outcome, AgdrefNumber)
        assert len(outcome.canonical) == 10
        assert outcome.canonical.endswith(outcome.given)
    else:
        assert isinstance(outcome, IdentityFieldError)
        assert outcome.rule == "agdref-format"
