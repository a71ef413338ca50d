"""Places of birth and nationalities as COG codes: communes, countries, and the rest refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identities.errors import IdentityFieldError
from gateway.identities.places import (
    is_country,
    same_place,
    validate_nationality,
    validate_place_of_birth,
)
from gateway.territory import DEPARTEMENTS, METROPOLITAN

COUNTRIES = {"99352": "Algeria", "99350": "Morocco", "99351": "Tunisia", "99109": "Germany"}
COMMUNES = ["75056", "13055", "2A004", "2B033", "97411", "97611", "97502", "98818", "75101"]
OVERSEAS = sorted(DEPARTEMENTS - METROPOLITAN)

countries = st.integers(min_value=100, max_value=599).map(lambda code: f"99{code}")
communes = st.one_of(
    st.tuples(st.sampled_from(sorted(METROPOLITAN)), st.integers(1, 999)).map(
        lambda parts: f"{parts[0]}{parts[1]:03d}"
    ),
    st.tuples(st.sampled_from(OVERSEAS), st.integers(1, 99)).map(
        lambda parts: f"{parts[0]}{parts[1]:02d}"
    ),
)


# An independent statement of what is accepted, by enumeration (about 97,000 codes).
EVERY_PLACE = frozenset(
    [f"{d}{c:03d}" for d in METROPOLITAN for c in range(1, 1000)]
    + [f"{d}{c:02d}" for d in OVERSEAS for c in range(1, 100)]
    + [f"99{c}" for c in range(100, 600)]
)


def _is_place(text: str) -> bool:
    return text.strip().upper() in EVERY_PLACE


def _rule(code: str) -> str:
    with pytest.raises(IdentityFieldError) as caught:
        validate_place_of_birth(code)
    return caught.value.rule


def _outcome(code: str) -> str | IdentityFieldError:
    try:
        return validate_place_of_birth(code)
    except IdentityFieldError as error:
        return error


@pytest.mark.parametrize("code", COUNTRIES)
def test_the_domain_countries(code: str) -> None:
    assert validate_place_of_birth(code) == code
    assert validate_nationality(code) == code
    assert is_country(code)


@pytest.mark.parametrize("code", COMMUNES)
def test_communes(code: str) -> None:
    assert validate_place_of_birth(code) == code
    assert not is_country(code)


def test_codes_are_stored_as_given_upper_cased() -> None:
    assert validate_place_of_birth(" 2a004 ") == "2A004"
    assert validate_nationality(" 99352\n") == "99352"


@given(countries | communes)
def test_every_valid_code_is_accepted_as_is(code: str) -> None:
    assert validate_place_of_birth(code) == code
    assert validate_place_of_birth(f" {code.lower()} ") == code
    assert is_country(code) is code.startswith("99")


@given(countries)
def test_every_country_is_a_nationality(code: str) -> None:
    assert validate_nationality(code) == code


@given(communes)
def test_no_commune_is_a_nationality(code: str) -> None:
    with pytest.raises(IdentityFieldError) as caught:
        validate_nationality(code)
    assert caught.value.rule == "nationality-format"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("75000", "cog-commune"),
        ("2A000", "cog-commune"),
        ("7505X", "cog-commune"),
        ("97900", "cog-commune"),
        ("97011", "cog-commune"),
        ("98511", "cog-commune"),
        ("97400", "cog-commune"),
        ("97X11", "cog-commune"),
        ("99099", "cog-country"),
        ("99600", "cog-country"),
        ("99999", "cog-country"),
        ("9935A", "cog-country"),
        ("99\u0663\u0665\u0662", "cog-country"),
        ("", "cog-format"),
        ("7505", "cog-format"),
        ("750561", "cog-format"),
        ("75 056", "cog-format"),
        ("20004", "cog-format"),
        ("00001", "cog-format"),
        ("96001", "cog-format"),
        ("2C004", "cog-format"),
        ("ABCDE", "cog-format"),
        ("\u0667\u0665\u0660\u0665\u0666", "cog-format"),
    ],
)
def test_refusals_name_their_rule(code: str, rule: str) -> None:
    assert _rule(code) == rule
    assert not is_country(code)


@pytest.mark.parametrize("code", ["", "DZ", "DZA", "75056", "2A004", "99600", "9935", "993520"])
def test_nationality_refusals(code: str) -> None:
    with pytest.raises(IdentityFieldError) as caught:
        validate_nationality(code)
    assert caught.value.rule == "nationality-format"


@given(st.text(max_size=7) | st.text("0123456789 AB", min_size=5, max_size=6))
def test_arbitrary_text_is_accepted_exactly_when_it_is_a_code(text: str) -> None:
    outcome = _outcome(text)
    if _is_place(text):
        assert outcome == text.strip().upper()
    else:
        assert isinstance(outcome, IdentityFieldError)
        assert outcome.rule.startswith("cog-")
    assert is_country(text) is (_is_place(text) and text.strip().upper().startswith("99"))


@given(st.one_of(countries, communes), st.one_of(countries, communes))
def test_one_place_coded_two_ways_is_the_same_place_both_ways(left: str, right: str) -> None:
    assert same_place(left, left)
    assert same_place(left, right) is same_place(right, left)
    kosovo = {left, right} == {"99157", "99121"}
    mayotte = any(a.startswith("976") and b == "99397" for a, b in ((left, right), (right, left)))
    assert same_place(left, right) is (left == right or kosovo or mayotte)


def test_mayotte_is_the_comoros_and_kosovo_serbia_but_two_communes_are_two_places() -> None:
    assert same_place("97611", "99397")
    assert same_place("99121", "99157")
    assert not same_place("97611", "97610")
    assert not same_place("99397", "99121")
