"""Partial dates: every form of every valid date, bounds, and every impossible date refused."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identities.dates import PartialDate
from gateway.identities.errors import IdentityFieldError

years = st.integers(min_value=1880, max_value=9999)


@st.composite
def partial_dates(draw: st.DrawFn) -> PartialDate:
    """Any valid partial date, unknown parts from the day upwards."""
    year = draw(st.none() | years)
    if year is None:
        return PartialDate()
    month = draw(st.none() | st.integers(min_value=1, max_value=12))
    if month is None:
        return PartialDate(year)
    last = calendar.monthrange(year, month)[1]
    return PartialDate(year, month, draw(st.none() | st.integers(min_value=1, max_value=last)))


known_years = partial_dates().filter(lambda partial: partial.year is not None)


def _rule(raw: str) -> str:
    with pytest.raises(IdentityFieldError) as caught:
        PartialDate.parse(raw)
    return caught.value.rule


def _outcome(raw: str) -> PartialDate | IdentityFieldError:
    try:
        return PartialDate.parse(raw)
    except IdentityFieldError as error:
        return error


@pytest.mark.parametrize(
    ("raw", "expected", "precision"),
    [
        ("1990-05-17", PartialDate(1990, 5, 17), "day"),
        ("1990-05", PartialDate(1990, 5), "month"),
        ("1990", PartialDate(1990), "year"),
        ("1990-00-00", PartialDate(1990), "year"),
        ("1990-05-XX", PartialDate(1990, 5), "month"),
        ("1990-XX-XX", PartialDate(1990), "year"),
        ("1990-xx-xx", PartialDate(1990), "year"),
        ("1990-05-00", PartialDate(1990, 5), "month"),
        ("17/05/1990", PartialDate(1990, 5, 17), "day"),
        ("00/05/1990", PartialDate(1990, 5), "month"),
        ("XX/XX/1990", PartialDate(1990), "year"),
        (" 1990-05-17 ", PartialDate(1990, 5, 17), "day"),
        ("XXXX-XX-XX", PartialDate(), "unknown"),
        ("00/00/0000", PartialDate(), "unknown"),
        ("", PartialDate(), "unknown"),
        ("  ", PartialDate(), "unknown"),
    ],
)
def test_accepted_forms(raw: str, expected: PartialDate, precision: str) -> None:
    parsed = PartialDate.parse(raw)
    assert parsed == expected
    assert parsed.precision == precision


def test_nothing_known() -> None:
    unknown = PartialDate.parse(None)
    assert unknown == PartialDate(None, None, None)
    assert unknown.precision == "unknown"
    assert unknown.iso() is None
    assert unknown.earliest() is None
    assert unknown.latest() is None
    assert not unknown.is_after(date(1900, 1, 1))


@pytest.mark.parametrize(
    ("partial", "iso"),
    [
        (PartialDate(1990, 5, 17), "1990-05-17"),
        (PartialDate(1990, 5), "1990-05"),
        (PartialDate(1990), "1990"),
        (PartialDate(), None),
    ],
)
def test_iso(partial: PartialDate, iso: str | None) -> None:
    assert partial.iso() == iso


@pytest.mark.parametrize(
    ("raw", "earliest", "latest"),
    [
        ("1990", date(1990, 1, 1), date(1990, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("1990-05-17", date(1990, 5, 17), date(1990, 5, 17)),
    ],
)
def test_bounds(raw: str, earliest: date, latest: date) -> None:
    parsed = PartialDate.parse(raw)
    assert (parsed.earliest(), parsed.latest()) == (earliest, latest)


@pytest.mark.parametrize(
    ("raw", "after"),
    [("2030", True), ("2025", False), ("2025-07", True), ("2025-06", False), ("2025-06-02", True)],
)
def test_is_after_means_even_the_earliest_date_is_later(raw: str, after: bool) -> None:
    assert PartialDate.parse(raw).is_after(date(2025, 6, 1)) is after


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("1990-00-17", "date-day-without-month"),
        ("1990-XX-17", "date-day-without-month"),
        ("17/00/1990", "date-day-without-month"),
        ("XXXX-05", "date-month-without-year"),
        ("17/05/0000", "date-month-without-year"),
        ("2023-02-29", "date-impossible"),
        ("1900-02-29", "date-impossible"),
        ("1990-04-31", "date-impossible"),
        ("1990-13", "date-impossible"),
        ("1990-05-32", "date-impossible"),
        ("32/05/1990", "date-impossible"),
        ("1879", "date-too-old"),
        ("1879-12-31", "date-too-old"),
        ("0001-01-01", "date-too-old"),
        ("1990/05/17", "date-format"),
        ("90-05-17", "date-format"),
        ("1990-5-17", "date-format"),
        ("17-05-1990", "date-format"),
        ("1990-05-17T00:00", "date-format"),
        ("1990-0X", "date-format"),
        ("1990-05-", "date-format"),
        ("19900517", "date-format"),
        ("\u0661\u0669\u0669\u0660", "date-format"),
        ("unknown", "date-format"),
    ],
)
def test_refusals_name_their_rule(raw: str, rule: str) -> None:
    assert _rule(raw) == rule


def test_leap_days_that_exist_are_accepted() -> None:
    assert PartialDate.parse("2024-02-29") == PartialDate(2024, 2, 29)
    assert PartialDate.parse("2000-02-29") == PartialDate(2000, 2, 29)
    assert PartialDate.parse("1880").iso() == "1880"


@given(partial_dates())
def test_parse_of_iso_round_trips(partial: PartialDate) -> None:
    assert PartialDate.parse(partial.iso()) == partial


@given(known_years)
def test_bounds_are_ordered_and_known_parts_are_kept(partial: PartialDate) -> None:
    earliest, latest = partial.earliest(), partial.latest()
    assert earliest is not None
    assert latest is not None
    assert earliest <= latest
    for bound in (earliest, latest):
        assert bound.year == partial.year
        assert partial.month in {None, bound.month}
        assert partial.day in {None, bound.day}
    assert (earliest == latest) is (partial.precision == "day")


@given(known_years, st.dates())
def test_is_after_compares_the_earliest_date(partial: PartialDate, today: date) -> None:
    earliest = partial.earliest()
    assert earliest is not None
    assert partial.is_after(today) is (earliest > today)
    assert not partial.is_after(earliest)
    if earliest > date.min:
        assert partial.is_after(earliest - timedelta(days=1))


@given(known_years)
def test_zero_and_x_forms_equal_the_short_forms(partial: PartialDate) -> None:
    year = f"{partial.year:04d}"
    month = f"{partial.month:02d}" if partial.month else None
    day = f"{partial.day:02d}" if partial.day else None
    variants = []
    for unknown in ("00", "XX", "xx"):
        full_month, full_day = month or unknown, day or unknown
        variants += [f"{year}-{full_month}-{full_day}", f"{full_day}/{full_month}/{year}"]
        if day is None:
            variants.append(f"{year}-{full_month}")
    assert all(PartialDate.parse(variant) == partial for variant in variants)


@given(years, st.integers(min_value=1, max_value=12), st.integers(min_value=29, max_value=99))
def test_days_past_the_end_of_the_month_are_refused(year: int, month: int, day: int) -> None:
    if day <= calendar.monthrange(year, month)[1]:
        return
    with pytest.raises(IdentityFieldError) as caught:
        PartialDate.from_parts(year, month, day)
    assert caught.value.rule == "date-impossible"
    assert _rule(f"{year:04d}-{month:02d}-{day:02d}") == "date-impossible"


@given(years, st.integers(min_value=13, max_value=99))
def test_months_past_12_are_refused(year: int, month: int) -> None:
    assert _rule(f"{year:04d}-{month:02d}") == "date-impossible"
    assert _rule(f"01/{month:02d}/{year:04d}") == "date-impossible"


@given(partial_dates())
def test_from_parts_equals_parse(partial: PartialDate) -> None:
    assert PartialDate.from_parts(partial.year, partial.month, partial.day) == partial


def test_from_parts_reads_zero_as_unknown_and_validates() -> None:
    assert PartialDate.from_parts(1990, 0, 0) == PartialDate(1990)
    assert PartialDate.from_parts(0, 0, 0) == PartialDate()
    for parts, rule in [
        ((1990, None, 17), "date-day-without-month"),
        ((None, 5, None), "date-month-without-year"),
        ((1990, 2, 30), "date-impossible"),
        ((1990, -1, None), "date-impossible"),
        ((10000, None, None), "date-impossible"),
        ((1850, None, None), "date-too-old"),
    ]:
        with pytest.raises(IdentityFieldError) as caught:
            PartialDate.from_parts(*parts)
        assert caught.value.rule == rule


def test_a_partial_date_cannot_be_built_invalid() -> None:
    with pytest.raises(IdentityFieldError, match="month"):
        PartialDate(1990, 0)


@given(st.text(max_size=12) | st.text("0123456789-/Xx", max_size=12))
def test_arbitrary_text_parses_or_names_a_rule(raw: str) -> None:
    outcome = _outcome(raw)
    if isinstance(outcome, PartialDate):
        assert PartialDate.parse(outcome.iso()) == outcome
    else:
        assert outcome.rule.startswith("date-")
