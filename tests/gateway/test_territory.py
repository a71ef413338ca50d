"""Département codes: what normalises, to what, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.territory import (
    DEPARTEMENTS,
    METROPOLITAN,
    OVERSEAS_COLLECTIVITIES,
    OVERSEAS_DEPARTEMENTS,
    normalise_departement,
    normalise_territory,
)

CODES = sorted(DEPARTEMENTS)
codes = st.sampled_from(CODES)


def _is_a_code(text: str) -> bool:
    """An independent statement of what the normaliser must accept."""
    candidate = text.strip().upper()
    if candidate in {str(digit) for digit in range(1, 10)}:
        return True
    return candidate in DEPARTEMENTS


def test_the_lists() -> None:
    assert len(METROPOLITAN) == 96  # 01-95 without 20, plus 2A and 2B
    assert "20" not in METROPOLITAN
    assert {"2A", "2B", "01", "95"} <= METROPOLITAN
    assert {"971", "972", "973", "974", "976"} == OVERSEAS_DEPARTEMENTS
    assert "975" in OVERSEAS_COLLECTIVITIES
    assert DEPARTEMENTS == METROPOLITAN | OVERSEAS_DEPARTEMENTS | OVERSEAS_COLLECTIVITIES


@given(codes)
def test_every_code_normalises_to_itself(code: str) -> None:
    assert normalise_departement(code) == code


@given(codes, st.text(" \t\n", max_size=3), st.text(" \t\n", max_size=3))
def test_surrounding_whitespace_is_ignored(code: str, before: str, after: str) -> None:
    assert normalise_departement(before + code + after) == code


@given(st.integers(min_value=1, max_value=9))
def test_single_digits_are_zero_padded(digit: int) -> None:
    assert normalise_departement(str(digit)) == f"0{digit}"


@pytest.mark.parametrize(("given_code", "expected"), [("2a", "2A"), ("2b", "2B"), ("2A", "2A")])
def test_corsica_is_upper_cased(given_code: str, expected: str) -> None:
    assert normalise_departement(given_code) == expected


@pytest.mark.parametrize(
    "code",
    [
        "20",
        "00",
        "0",
        "96",
        "99",
        "970",
        "975x",
        "979",
        "2C",
        "075",
        "7 5",
        "",
        " ",
        "\u0667\u0665",
    ],
)
def test_not_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="is not a département code"):
        normalise_departement(code)


@given(st.text())
def test_arbitrary_text_is_a_code_or_refused(text: str) -> None:
    if _is_a_code(text):
        assert normalise_departement(text) in DEPARTEMENTS
    else:
        with pytest.raises(ValueError, match="is not a département code"):
            normalise_departement(text)


@given(st.text().filter(lambda text: not _is_a_code(text)))
def test_text_that_is_not_a_code_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a département code"):
        normalise_departement(text)


@given(st.lists(codes))
def test_territory_is_sorted_and_deduplicated(chosen: list[str]) -> None:
    result = normalise_territory(chosen)
    assert result == sorted(set(chosen))
    assert normalise_territory(result) == result
    assert normalise_territory(reversed(chosen)) == result


@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1))
def test_territory_merges_padded_and_unpadded_codes(digits: list[int]) -> None:
    given_codes = [str(d) for d in digits] + [f"0{d}" for d in digits]
    assert normalise_territory(given_codes) == sorted({f"0{d}" for d in digits})


def test_territory_with_one_bad_code_is_refused() -> None:
    with pytest.raises(ValueError, match="'20'"):
        normalise_territory(["75", "20", "13"])
    assert normalise_territory([]) == []
    assert normalise_territory(["2b", "2A", "13", "971", "1"]) == ["01", "13", "2A", "2B", "971"]
