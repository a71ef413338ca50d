"""NIR, NIA and NNP: the domain examples, every valid number, and every single-digit error."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identities.errors import IdentityFieldError
from gateway.identities.nir import (
    NumberType,
    SocialSecurityNumber,
    nir_key,
    parse_social_security_number,
)

EXAMPLES = {
    "2 95 10 99 126 111 93": "295109912611193",
    "2 53 07 2B 073 004 70": "253072B07300470",
    "2 53 07 2A 073 004 43": "253072A07300443",
}
KEYED = (NumberType.NIR, NumberType.NIA)
MONTHS = [f"{month:02d}" for month in [*range(1, 13), *range(20, 43), 50]]
METROPOLITAN = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]


def _key(body: str) -> int:
    """An independent statement of the key: Corsica counted as 19 and 18."""
    return 97 - int(body.replace("2A", "19").replace("2B", "18")) % 97


def _numbers(width: int, low: int = 0) -> st.SearchStrategy[str]:
    return st.integers(min_value=low, max_value=10**width - 1).map(lambda n: f"{n:0{width}d}")


# Département and commune: 2 + 3 in metropolitan France, 3 + 2 overseas, 99 + country.
places = st.one_of(
    st.tuples(st.sampled_from(METROPOLITAN), _numbers(3)).map("".join),
    st.tuples(st.sampled_from(["97", "98"]), _numbers(1), _numbers(2)).map("".join),
    st.integers(min_value=100, max_value=599).map(lambda country: f"99{country}"),
)
bodies = st.tuples(
    st.sampled_from("12"), _numbers(2), st.sampled_from(MONTHS), places, _numbers(3, low=1)
).map("".join)
nirs = bodies.map(lambda body: f"{body}{_key(body):02d}")
keyed_types = st.sampled_from(KEYED)


def _rule(raw: str, number_type: NumberType) -> str:
    with pytest.raises(IdentityFieldError) as caught:
        parse_social_security_number(raw, number_type)
    return caught.value.rule


@pytest.mark.parametrize(("raw", "number"), EXAMPLES.items())
@pytest.mark.parametrize("number_type", KEYED)
def test_the_domain_examples_parse(raw: str, number: str, number_type: NumberType) -> None:
    assert parse_social_security_number(raw, number_type) == SocialSecurityNumber(
        number, number_type
    )


def test_the_domain_example_keys() -> None:
    assert nir_key("2951099126111") == 93
    assert nir_key("253072B073004") == 70
    assert nir_key("253072A073004") == 43
    assert nir_key("253072a073004") == 43


@given(bodies)
def test_corsica_counts_as_19_and_18_for_the_key(body: str) -> None:
    assert 1 <= nir_key(body) <= 97
    as_numbers = body[:5] + {"2A": "19", "2B": "18"}.get(body[5:7], body[5:7]) + body[7:]
    assert nir_key(body) == nir_key(as_numbers) == _key(body)


@pytest.mark.parametrize("body", ["", "295109912611", "29510991261110", "29510991261X1"])
def test_the_key_needs_13_digits(body: str) -> None:
    with pytest.raises(IdentityFieldError) as caught:
        nir_key(body)
    assert caught.value.rule == "nir-format"


@given(nirs, keyed_types)
def test_every_valid_number_round_trips(number: str, number_type: NumberType) -> None:
    parsed = parse_social_security_number(number, number_type)
    assert parsed.number == number
    assert parsed.type is number_type


@given(nirs, keyed_types, st.data())
def test_separators_anywhere_are_ignored(
    number: str, number_type: NumberType, data: st.DataObject
) -> None:
    separators = st.text(st.sampled_from([" ", "\u00a0", "\u202f", "\t", ".", "-"]), max_size=2)
    spaced = "".join(data.draw(separators) + char for char in number) + data.draw(separators)
    assert parse_social_security_number(spaced, number_type).number == number
    assert parse_social_security_number(spaced.lower(), number_type).number == number


@given(nirs, keyed_types, st.data())
def test_any_single_changed_digit_is_refused(
    number: str, number_type: NumberType, data: st.DataObject
) -> None:
    position = data.draw(st.sampled_from([i for i, char in enumerate(number) if char.isdigit()]))
    digit = data.draw(st.sampled_from("0123456789").filter(lambda d: d != number[position]))
    changed = number[:position] + digit + number[position + 1 :]
    with pytest.raises(IdentityFieldError):
        parse_social_security_number(changed, number_type)


@given(nirs, keyed_types, st.integers(min_value=0, max_value=99))
def test_a_key_off_by_any_amount_is_refused(number: str, number_type: NumberType, key: int) -> None:
    if key == int(number[13:]):
        return
    assert _rule(f"{number[:13]}{key:02d}", number_type) == "nir-key"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("29510991261119", "nir-length"),
        ("2951099126111933", "nir-length"),
        ("2951099126111", "nir-length"),
        ("", "nir-length"),
        ("395109912611193", "nir-sex"),
        ("795109912611193", "nir-sex"),
        ("A95109912611193", "nir-sex"),
        ("295009912611193", "nir-month"),
        ("295139912611193", "nir-month"),
        ("295199912611193", "nir-month"),
        ("295439912611193", "nir-month"),
        ("295499912611193", "nir-month"),
        ("295519912611193", "nir-month"),
        ("2951X9912611193", "nir-month"),
        ("295100012611193", "nir-departement"),
        ("295102C12611193", "nir-departement"),
        ("2X5109912611193", "nir-format"),
        ("295109912X11193", "nir-format"),
        ("2951099126111X3", "nir-format"),
        ("2951099126\u0661\u0661\u066193", "nir-format"),
        ("295109912611194", "nir-key"),
        ("295109912611100", "nir-key"),
    ],
)
@pytest.mark.parametrize("number_type", KEYED)
def test_each_rule_is_named(raw: str, rule: str, number_type: NumberType) -> None:
    assert _rule(raw, number_type) == rule


def test_incomplete_civil_record_months_are_valid() -> None:
    for month in ["20", "30", "42", "50"]:
        body = f"180{month}75056001"
        number = f"{body}{_key(body):02d}"
        assert parse_social_security_number(number, NumberType.NIR).number == number


@given(_numbers(12).map(lambda rest: "7" + rest) | _numbers(12).map(lambda rest: "8" + rest))
def test_any_13_digits_from_7_or_8_is_an_nnp(number: str) -> None:
    parsed = parse_social_security_number(f" {number[:6]} {number[6:]} ", NumberType.NNP)
    assert parsed == SocialSecurityNumber(number, NumberType.NNP)


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("712345678901234", "nnp-has-no-key"),
        ("295109912611193", "nnp-has-no-key"),
        ("2951099126111", "nnp-format"),
        ("712345678901", "nnp-format"),
        ("71234567890123", "nnp-format"),
        ("712345678901X", "nnp-format"),
        ("", "nnp-format"),
    ],
)
def test_nnp_rules(raw: str, rule: str) -> None:
    assert _rule(raw, NumberType.NNP) == rule


def test_an_nnp_is_not_a_nir() -> None:
    assert _rule("7123456789012", NumberType.NIR) == "nir-length"


def test_the_type_travels_with_the_number() -> None:
    nir = parse_social_security_number("295109912611193", NumberType.NIR)
    nia = parse_social_security_number("295109912611193", NumberType.NIA)
    assert nir.number == nia.number
    assert nir != nia
    assert parse_social_security_number("295109912611193", "nia").type is NumberType.NIA  # type: ignore[arg-type]


def test_a_number_cannot_be_built_invalid() -> None:
    with pytest.raises(IdentityFieldError, match="key"):
        SocialSecurityNumber("295109912611194", NumberType.NIR)
    with pytest.raises(IdentityFieldError):
        SocialSecurityNumber("2 95 10 99 126 111 93", NumberType.NIR)


def _outcome(raw: str, number_type: NumberType) -> SocialSecurityNumber | IdentityFieldError:
    try:
        return parse_social_security_number(raw, number_type)
    except IdentityFieldError as error:
        return error


@given(st.text(max_size=20), st.sampled_from(NumberType))
def test_arbitrary_text_parses_or_names_a_rule(raw: str, number_type: NumberType) -> None:
    outcome = _outcome(raw, number_type)
    if isinstance(outcome, IdentityFieldError):
        assert outcome.rule.startswith(("nir-", "nnp-"))
    else:
        assert outcome.number.isascii()
        assert outcome.number.isalnum()


def test_the_error_carries_a_rule_and_a_message_without_the_value() -> None:
    with pytest.raises(IdentityFieldError) as caught:
        parse_social_security_number("295109912611194", NumberType.NIR)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.rule == "nir-key"
    assert "295109912611194" not in str(error)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.rule, str(copy)) == (error.rule, str(error))


def test_corsica_before_1976_keeps_departement_20() -> None:
    # Born in Corsica in 1955, before the split into 2A and 2B: the NIR says 20.
    parsed = parse_social_security_number("1 55 03 20 004 123 12", NumberType.NIR)
    assert parsed.number == "155032000412312"
    with pytest.raises(IdentityFieldError) as refused:
        parse_social_security_number("1 55 03 20 004 123 13", NumberType.NIR)
    assert refused.value.rule == "nir-key"


def test_tunisia_before_1956_keeps_departement_96() -> None:
    # Born in Tunisia in 1955, before its independence: the NIR says 96, not 99 351.
    parsed = parse_social_security_number("1 55 03 96 004 123 94", NumberType.NIR)
    assert parsed.number == "155039600412394"
    with pytest.raises(IdentityFieldError) as refused:
        parse_social_security_number("1 55 03 96 004 123 95", NumberType.NIR)
    assert refused.value.rule == "nir-key"
