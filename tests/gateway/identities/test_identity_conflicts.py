"""An identifier match between identities that contradict each other is a conflict, not exact."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identities.matching import Level, assess
from gateway.identities.schemas import IdentityIn
from tests.gateway.identities.test_matching import person as matching_person

NIR = {"number": "1 85 03 99 352 123 34", "type": "nir"}


def person(**overrides: Any) -> IdentityIn:
    """The man of the matching tests, with both his identifiers."""
    return matching_person(
        **{"agdref_number": "7500000001", "social_security_number": NIR, **overrides}
    )


@pytest.mark.parametrize(
    "asked",
    [
        {"sex": "F"},
        {"birth_date": "1991-03-12"},  # another year
        {"birth_date": "1985-07-12"},  # the same year, another month
        {"birth_date": "1985-03-20"},  # the same month, another day
        {"first_names": ["Karim"]},  # no first name in common
    ],
)
@pytest.mark.parametrize("identifier", ["agdref_number", "social_security_number"])
def test_an_identifier_shared_by_contradicting_identities_is_a_conflict(
    asked: dict[str, Any], identifier: str
) -> None:
    other = "social_security_number" if identifier == "agdref_number" else "agdref_number"
    assert assess(person(**asked, **{other: None}), person()) is Level.CONFLICT


@pytest.mark.parametrize(
    "asked",
    [
        {},
        {"sex": None, "birth_date": None, "first_names": None},  # only the identifier
        {"birth_date": "1985"},  # partial
        {"birth_date": "1985-03"},
        {"birth_date": "1985-12-03"},  # day and month swapped
        {"birth_date": "1986-03-12"},  # one digit of the year mistyped
        {"birth_date": "1985-01-01"},  # written for an unknown date
        {"first_names": ["Mohammed"]},  # a transliteration, a middle name dropped
        {"first_names": ["Amine", "Mohamed"]},
        {"first_names": ["Mohamd"]},  # a slip
        {"birth_name": "Mohamed", "first_names": ["Ben Ali"]},  # surname and first names swapped
        {"place_of_birth": "99350"},  # the place alone: another town of birth is no conflict
        {"birth_name": "Durand"},  # a married name: names alone are no conflict
    ],
)
def test_what_matching_tolerates_keeps_an_identifier_match_exact(asked: dict[str, Any]) -> None:
    assert assess(person(**asked), person()) is Level.EXACT


@given(
    st.sampled_from(["M", "F"]),
    st.integers(1900, 2020),
    st.integers(1, 12),
    st.integers(1, 28),
    st.sampled_from(["Mohamed", "Fatima", "Jean", "Aïssatou"]),
)
def test_an_identity_never_conflicts_with_itself_and_another_sex_always_does(
    sex: str, year: int, month: int, day: int, first_name: str
) -> None:
    me = person(
        social_security_number=None,
        sex=sex,
        birth_date=f"{year}-{month:02d}-{day:02d}",
        first_names=[first_name],
    )
    assert assess(me, me) is Level.EXACT
    other_sex = me.model_copy(update={"sex": "F" if sex == "M" else "M"})
    assert assess(other_sex, me) is Level.CONFLICT
    assert assess(me, other_sex) is Level.CONFLICT
