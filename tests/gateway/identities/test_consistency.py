"""A NIR against its identity: generated pairs agree, any change contradicts, exceptions hold."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.identities.consistency import (
    MONTH_MISMATCH,
    PLACE_MISMATCH,
    SEX_MISMATCH,
    YEAR_MISMATCH,
    contradictions,
    of_document,
)
from gateway.identities.nir import NumberType, nir_key, parse_social_security_number
from gateway.territory import DEPARTEMENTS, METROPOLITAN

OVERSEAS = sorted(code for code in DEPARTEMENTS if len(code) == 3)
UNKNOWN_MONTHS = [*range(20, 43), 50]
# Every exception is for births before 2012: from then on a place is coded as it is now.
RECENT = 2012


@dataclass(frozen=True)
class Person:
    sex: str
    year: int
    month: int | None
    day: int | None
    place: str

    @property
    def birth_date(self) -> str:
        parts = [f"{self.year:04d}"]
        parts += [f"{part:02d}" for part in (self.month, self.day) if part is not None]
        return "-".join(parts)


def _code(width: int, low: int = 0) -> st.SearchStrategy[str]:
    return st.integers(min_value=low, max_value=10**width - 1).map(lambda n: f"{n:0{width}d}")


places = st.one_of(
    st.tuples(st.sampled_from(sorted(METROPOLITAN)), _code(3, low=1)).map("".join),
    st.tuples(st.sampled_from(OVERSEAS), _code(2, low=1)).map("".join),
    st.integers(min_value=100, max_value=599).map(lambda country: f"99{country}"),
)


@st.composite
def people(draw: st.DrawFn, years: tuple[int, int] = (1900, 2025)) -> Person:
    month = draw(st.none() | st.integers(1, 12))
    day = draw(st.none() | st.integers(1, 28)) if month else None
    return Person(
        sex=draw(st.sampled_from("MF")),
        year=draw(st.integers(*years)),
        month=month,
        day=day,
        place=draw(places),
    )


def _nir(person: Person, month_code: int | None = None, order: int = 1) -> str:
    month = month_code if month_code is not None else person.month or 20
    body = f"{'1' if person.sex == 'M' else '2'}{person.year % 100:02d}{month:02d}"
    body += f"{person.place}{order:03d}"
    number = f"{body}{nir_key(body):02d}"
    assert parse_social_security_number(number, NumberType.NIR).number == number
    return number


def _rules(number: str, person: Person, number_type: str = "nir") -> set[str]:
    found = contradictions(
        number,
        number_type,
        sex=person.sex,
        birth_date=person.birth_date,
        place_of_birth=person.place,
    )
    return {c.rule for c in found}


@given(people(), st.integers(1, 999), st.sampled_from(["nir", "nia"]))
def test_a_number_made_from_an_identity_never_contradicts_it(
    person: Person, order: int, number_type: str
) -> None:
    assert _rules(_nir(person, order=order), person, number_type) == set()


@given(people(), st.sampled_from(UNKNOWN_MONTHS))
def test_a_month_code_for_an_incomplete_record_never_contradicts(person: Person, code: int) -> None:
    assert _rules(_nir(person, month_code=code), person) == set()


@given(people())
def test_what_the_identity_does_not_know_never_contradicts(person: Person) -> None:
    number = _nir(replace(person, sex="F" if person.sex == "M" else "M", year=person.year + 1))
    assert contradictions(number, "nir") == []
    assert of_document({"sex": person.sex}) == []  # no number, nothing to contradict


@given(people(), st.booleans())
def test_another_sex_on_either_side_contradicts(person: Person, on_number: bool) -> None:
    other = replace(person, sex="F" if person.sex == "M" else "M")
    number, identity = (_nir(other), person) if on_number else (_nir(person), other)
    found = contradictions(number, "nir", sex=identity.sex, birth_date=identity.birth_date)
    assert [(c.rule, c.fields) for c in found] == [
        (SEX_MISMATCH, ("social_security_number.number", "sex"))
    ]


@given(people(), st.integers(1, 99), st.booleans())
def test_another_birth_year_on_either_side_contradicts(
    person: Person, shift: int, on_number: bool
) -> None:
    other = replace(person, year=person.year + shift)
    assume(other.year <= 2099)
    number, identity = (_nir(other), person) if on_number else (_nir(person), other)
    assert YEAR_MISMATCH in _rules(number, identity)


@given(people(), st.integers(0, 3))
def test_another_century_is_the_same_birth_year(person: Person, centuries: int) -> None:
    earlier = replace(person, year=max(1880, person.year - 100 * centuries))
    assume((person.year - earlier.year) % 100 == 0)
    assert YEAR_MISMATCH not in _rules(_nir(person), earlier)


@given(people(), st.integers(1, 12), st.integers(1, 12), st.booleans())
def test_another_birth_month_on_either_side_contradicts(
    person: Person, month: int, other_month: int, on_number: bool
) -> None:
    assume(month != other_month)
    person = replace(person, month=month, day=15)
    other = replace(person, month=other_month)
    number, identity = (_nir(other), person) if on_number else (_nir(person), other)
    found = contradictions(number, "nir", birth_date=identity.birth_date)
    assert [(c.rule, c.fields) for c in found] == [
        (MONTH_MISMATCH, ("social_security_number.number", "birth_date"))
    ]


@given(people(), st.integers(1, 12), st.sampled_from([(1, 1), (12, 31)]))
def test_1_january_and_31_december_stand_for_an_unknown_month(
    person: Person, month: int, written: tuple[int, int]
) -> None:
    number = _nir(replace(person, month=month))
    identity = replace(person, month=written[0], day=written[1])
    assert MONTH_MISMATCH not in _rules(number, identity)


def _departement(place: str) -> str:
    if place.startswith("99"):
        return place
    return place[:3] if place[:2] in {"97", "98"} else place[:2]


@given(people(years=(RECENT, 2025)), places, st.booleans())
def test_another_place_on_either_side_contradicts(
    person: Person, place: str, on_number: bool
) -> None:
    assume(_departement(place) != _departement(person.place))
    other = replace(person, place=place)
    number, identity = (_nir(other), person) if on_number else (_nir(person), other)
    found = contradictions(
        number, "nir", birth_date=identity.birth_date, place_of_birth=identity.place
    )
    assert [(c.rule, c.fields) for c in found] == [
        (PLACE_MISMATCH, ("social_security_number.number", "place_of_birth"))
    ]


def test_an_nnp_is_checked_on_its_sex_only() -> None:
    assert contradictions("7900599123456", "nnp", sex="M", birth_date="1975-01") == []
    found = contradictions("8900599123456", "nnp", sex="M", place_of_birth="75056")
    assert [c.rule for c in found] == [SEX_MISMATCH]


def test_the_prefix_goes_before_both_fields() -> None:
    person = Person("F", 1995, 10, None, "99126")
    (found,) = contradictions(_nir(person), "nir", sex="M", prefix="identity.")
    assert found.fields == ("identity.social_security_number.number", "identity.sex")


# (place in the NIR, place in the identity, last birth year the exception covers)
EXCEPTIONS = [
    ("20004", "2A004", 1975),
    ("20096", "2B096", 1975),
    ("75056", "93066", 1967),
    ("78646", "92012", 1967),
    ("78646", "91228", 1967),
    ("75056", "94028", 1967),
    ("97101", "97701", 2007),
    ("97127", "97801", 2007),
    ("98501", "97601", 2011),
    ("97601", "99397", 1975),
    ("98501", "99397", 1975),
    ("99397", "97608", 1975),
    ("91352", "99352", 1962),
    ("94001", "99352", 1962),
    ("95123", "99350", 1956),
]


@pytest.mark.parametrize(("in_number", "in_identity", "last"), EXCEPTIONS)
def test_a_place_coded_as_it_was_at_birth_agrees_until_the_change(
    in_number: str, in_identity: str, last: int
) -> None:
    for year in (last - 30, last, None):
        person = Person("M", year or 1950, None, None, in_identity)
        number = _nir(replace(person, place=in_number))
        found = contradictions(
            number,
            "nir",
            birth_date=None if year is None else str(year),
            place_of_birth=in_identity,
        )
        assert found == [], (year, in_number, in_identity)
    after = Person("M", last + 1, None, None, in_identity)
    assert _rules(_nir(replace(after, place=in_number)), after) == {PLACE_MISMATCH}


@given(people(years=(1900, 1975)), st.sampled_from(["2A", "2B"]))
def test_corsica_written_20_agrees_with_2a_and_2b_before_1976(person: Person, now: str) -> None:
    commune = person.place[-3:]
    identity = replace(person, place=f"{now}{commune}")
    assert _rules(_nir(replace(person, place=f"20{commune}")), identity) == set()


def test_2a_and_2b_are_not_each_other() -> None:
    person = Person("F", 1990, 3, None, "2A004")
    assert _rules(_nir(replace(person, place="2B004")), person) == {PLACE_MISMATCH}


def test_several_contradictions_are_all_listed() -> None:
    nir = _nir(Person("M", 1980, 5, None, "99352"))
    found = of_document(
        {
            "social_security_number": {"number": nir, "type": "nir"},
            "sex": "F",
            "birth_date": "1981-06-02",
            "place_of_birth": "75056",
        },
        prefix="identity.",
    )
    assert [c.rule for c in found] == [SEX_MISMATCH, YEAR_MISMATCH, MONTH_MISMATCH, PLACE_MISMATCH]
    assert all(c.fields[0] == "identity.social_security_number.number" for c in found)
