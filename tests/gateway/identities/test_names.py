"""Names: accepted as sent; canonical forms blind to case, diacritics, separators, order."""

from __future__ import annotations

import string
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.identities.errors import IdentityFieldError
from gateway.identities.names import (
    PARTICLES,
    canonical_first_names,
    canonical_name,
    name_without_particles,
    validate_name,
)

NON_LATIN = ["محمد", "Мухаммед", "王", "Νικόλαος", "עברית", "グエン", "응우옌"]
# Combining diacritics (U+0300-U+036F are all non-spacing marks).
ACCENTS = [chr(code) for code in range(0x300, 0x370)]
SEPARATORS = [" ", "-", "'", "\u2019", ".", "  ", " - "]

ascii_words = st.text(string.ascii_letters, min_size=1, max_size=12)


@st.composite
def decorated(draw: st.DrawFn, word: str) -> str:
    """The word with each letter in a random case and followed by random accents."""
    return "".join(
        draw(st.sampled_from([letter.lower(), letter.upper()]))
        + "".join(draw(st.lists(st.sampled_from(ACCENTS), max_size=2)))
        for letter in word
    )


def _rule(value: str) -> str:
    with pytest.raises(IdentityFieldError) as caught:
        validate_name(value)
    return caught.value.rule


def _outcome(value: str) -> str | IdentityFieldError:
    try:
        return validate_name(value)
    except IdentityFieldError as error:
        return error


@pytest.mark.parametrize(
    "name",
    [
        "O\u2019Brien",
        "O'Brien",
        'Dupont "dit" Martin',
        "Dupont; Martin",
        "Jean-Pierre",
        "St. John",
        "Le  Gall",
        "Nguyễn",
        "Lætitia",
        "Mehr\u200cnaz",  # ZWNJ, as Persian writes it
        "\u0915\u094d\u200d\u0937",  # ZWJ in Devanagari
        "A" * 100,
        *NON_LATIN,
    ],
)
def test_valid_names_are_returned_exactly(name: str) -> None:
    assert validate_name(name) == name
    assert validate_name(f"  {name}\t\n") == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "name-empty"),
        ("  \t\n ", "name-empty"),
        ("A" * 101, "name-too-long"),
        ("Du\x00pont", "name-control-characters"),
        ("Du\tpont", "name-control-characters"),
        ("Du\x7fpont", "name-control-characters"),
        ("Du\u200bpont", "name-control-characters"),  # zero-width space, Cf
        ("Dupont\u202e", "name-control-characters"),  # right-to-left override, Cf
        ("Du\ue000pont", "name-control-characters"),  # private use
        ("Du\u0378pont", "name-control-characters"),  # unassigned
        ("Du\u2028pont", "name-control-characters"),  # line separator
        ("---", "name-no-letter"),
        ("123", "name-no-letter"),
        ("'", "name-no-letter"),
        ("\u0301", "name-no-letter"),
    ],
)
def test_invalid_names_name_their_rule(name: str, rule: str) -> None:
    assert _rule(name) == rule


@given(st.text(max_size=120))
def test_arbitrary_text_is_returned_stripped_or_refused(value: str) -> None:
    outcome = _outcome(value)
    if isinstance(outcome, str):
        assert outcome == value.strip()
        assert 1 <= len(outcome) <= 100
    else:
        assert outcome.rule.startswith("name-")


@pytest.mark.parametrize("name", ["Ben Ali", "BEN-ALI", "Benali", "ben'ali", "Ben\u2019 Ali."])
def test_separators_and_case_do_not_count(name: str) -> None:
    assert canonical_name(name) == "BENALI"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Müller", "MULLER"),
        ("Straße", "STRASSE"),
        ("Œuvrard", "OEUVRARD"),
        ("Lætitia", "LAETITIA"),
        ("Søren", "SOREN"),
        ("Łukasz", "LUKASZ"),
        ("Đoković", "DOKOVIC"),
        ("Nguyễn", "NGUYEN"),
        ("Ǿlaf", "OLAF"),
        ("\ufb01ne", "FINE"),  # the fi ligature
        ("Louis XIV 2", "LOUISXIV"),
        ("мухаммед", "МУХАММЕД"),
        ("محمد", "محمد"),
        ("مُحَمَّد", "محمد"),  # vowel marks dropped
    ],
)
def test_canonical_names(name: str, expected: str) -> None:
    assert canonical_name(name) == expected


@pytest.mark.parametrize("name", NON_LATIN)
def test_non_latin_names_are_valid_and_canonicalise_to_something(name: str) -> None:
    assert validate_name(name) == name
    assert canonical_name(name)
    assert canonical_name(name) == canonical_name(name.lower()) == canonical_name(name.upper())


@given(st.text())
def test_canonical_name_is_idempotent(value: str) -> None:
    canonical = canonical_name(value)
    assert canonical_name(canonical) == canonical
    assert all(unicodedata.category(char).startswith("L") for char in canonical)


def test_canonical_name_is_idempotent_over_all_of_unicode() -> None:
    # The pipeline works character by character on what it keeps, so one string of
    # every code point checks every letter it can output.
    everything = "".join(
        chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF
    )
    canonical = canonical_name(everything)
    assert canonical_name(canonical) == canonical


@given(ascii_words.flatmap(lambda word: st.tuples(st.just(word), decorated(word))))
def test_case_and_diacritics_do_not_count(pair: tuple[str, str]) -> None:
    word, variant = pair
    assert canonical_name(variant) == word.upper()


@given(st.lists(ascii_words, min_size=1, max_size=4), st.data())
def test_separators_do_not_count(words: list[str], data: st.DataObject) -> None:
    joined = words[0] + "".join(data.draw(st.sampled_from(SEPARATORS)) + w for w in words[1:])
    assert canonical_name(joined) == canonical_name("".join(words)) == "".join(words).upper()


def test_particles_are_canonical() -> None:
    assert all(canonical_name(particle) == particle for particle in PARTICLES)
    assert {"DE", "LA", "EL", "BEN", "VAN", "O", "SAINT", "D"} <= PARTICLES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("El Amrani", "AMRANI"),
        ("Ben Ali", "ALI"),
        ("de la Fontaine", "FONTAINE"),
        ("Le", "LE"),
        ("De La", "LA"),
        ("Van der Berg", "BERG"),
        ("O'Brien", "BRIEN"),
        ("d\u2019Artagnan", "ARTAGNAN"),
        ("Saint-Exupéry", "EXUPERY"),
        ("Aït Ben Haddou", "HADDOU"),
        ("Fontaine de la", "FONTAINEDELA"),  # particles count only in front
        ("Dupont", "DUPONT"),
        ("-", ""),
        ("", ""),
    ],
)
def test_names_without_particles(name: str, expected: str) -> None:
    assert name_without_particles(name) == expected


@given(st.text(max_size=40))
def test_without_particles_is_an_end_of_the_canonical_name(value: str) -> None:
    shorter = name_without_particles(value)
    assert canonical_name(value).endswith(shorter)
    assert bool(shorter) == bool(canonical_name(value))


@given(st.lists(st.sampled_from(sorted(PARTICLES)), max_size=3), ascii_words)
def test_leading_particles_are_dropped(particles: list[str], word: str) -> None:
    if word.upper() in PARTICLES:
        return
    name = " ".join([*(p.lower() for p in particles), word])
    assert name_without_particles(name) == word.upper()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Marie Claire"], "CLAIRE MARIE"),
        (["Claire", "Marie"], "CLAIRE MARIE"),
        (["Marie,Claire"], "CLAIRE MARIE"),
        (["marie , claire"], "CLAIRE MARIE"),
        (["Jean-Pierre"], "JEANPIERRE"),
        (["Jean-Pierre", "Éric"], "ERIC JEANPIERRE"),
        (["", " ", "-", "Anne"], "ANNE"),
        ([], ""),
    ],
)
def test_canonical_first_names(names: list[str], expected: str) -> None:
    assert canonical_first_names(names) == expected


@given(
    st.lists(st.text(max_size=20), max_size=5).flatmap(
        lambda names: st.tuples(st.just(names), st.permutations(names))
    )
)
def test_first_names_order_does_not_count(pair: tuple[list[str], list[str]]) -> None:
    names, shuffled = pair
    assert canonical_first_names(shuffled) == canonical_first_names(names)


@given(st.lists(st.text(max_size=20), max_size=5))
def test_first_names_in_one_string_or_a_list_are_the_same(names: list[str]) -> None:
    assert canonical_first_names([" ".join(names)]) == canonical_first_names(names)
    assert canonical_first_names([", ".join(names)]) == canonical_first_names(names)


@given(st.lists(st.text(max_size=20), max_size=5))
def test_canonical_first_names_is_idempotent(names: list[str]) -> None:
    canonical = canonical_first_names(names)
    assert canonical_first_names([canonical]) == canonical
    assert canonical_first_names(canonical.split(" ")) == canonical
