"""The generator of labelled identity pairs (``tools/identity_pairs``): reproducible, valid,
balanced, varied as documented, the committed set the documented one, and its command.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gateway.identities.agdref import parse_agdref
from gateway.identities.quality import LabelledPair, read_pairs, to_jsonl
from gateway.identities.schemas import IdentityIn
from tests.support.factories import LABELLED_PAIRS
from tools.identity_pairs.__main__ import app as make_pairs_app
from tools.identity_pairs.generator import NEGATIVE_SHARES, POSITIVES, generate

DATA_COUNT, DATA_SEED = 4000, 20250  # as documented in docs/matching.md


def _identifiers(document: dict[str, Any]) -> set[tuple[str, str]]:
    identity = IdentityIn.model_validate(document)
    found = set()
    if identity.agdref_number:
        found.add(("agdref", parse_agdref(identity.agdref_number).canonical))
    if identity.social_security_number:
        found.add(("number", identity.social_security_number.number))
    return found


def _shares_identifier(pair: LabelledPair) -> bool:
    return bool(_identifiers(pair.query) & _identifiers(pair.stored))


def _without_identifiers(document: dict[str, Any]) -> dict[str, Any]:
    ignored = {"agdref_number", "social_security_number", "nationality", "residence_departement"}
    return {key: value for key, value in document.items() if key not in ignored}


def test_the_same_seed_gives_the_same_pairs() -> None:
    assert generate(300, 11) == generate(300, 11)
    assert generate(300, 11) != generate(300, 12)


def test_no_pairs_or_a_negative_count() -> None:
    assert generate(0, 1) == []
    with pytest.raises(ValueError, match="negative"):
        generate(-1, 1)


def test_every_document_validates(pairs: list[LabelledPair]) -> None:
    for pair in pairs:
        IdentityIn.model_validate(pair.query)
        IdentityIn.model_validate(pair.stored)


def test_labels_are_balanced_and_every_variation_appears(pairs: list[LabelledPair]) -> None:
    assert Counter(pair.same for pair in pairs) == {True: 1000, False: 1000}
    assert {pair.variation for pair in pairs if pair.same} == set(POSITIVES)
    assert {pair.variation for pair in pairs if not pair.same} == set(NEGATIVE_SHARES)


def test_negatives_never_share_an_identifier(pairs: list[LabelledPair]) -> None:
    assert not [pair for pair in pairs if not pair.same and _shares_identifier(pair)]


def test_only_a_few_positives_share_an_identifier(pairs: list[LabelledPair]) -> None:
    sharing = [pair for pair in pairs if pair.same and _shares_identifier(pair)]
    assert {pair.variation for pair in sharing} == {"shared-identifier"}
    assert 0 < len(sharing) <= 0.06 * 1000


def test_the_prefecture_always_sends_an_agdref_number(pairs: list[LabelledPair]) -> None:
    assert all("agdref_number" in pair.stored for pair in pairs)


def test_most_funds_send_a_number_and_some_send_no_identifier(pairs: list[LabelledPair]) -> None:
    with_number = sum("social_security_number" in pair.query for pair in pairs)
    without_any = sum(not _identifiers(pair.query) for pair in pairs)
    assert with_number > 0.75 * len(pairs)
    assert 0.05 * len(pairs) < without_any < 0.25 * len(pairs)


@pytest.mark.parametrize("variation", sorted(set(POSITIVES) - {"exact-copy", "shared-identifier"}))
def test_a_variation_changes_what_the_matcher_reads(
    pairs: list[LabelledPair], variation: str
) -> None:
    chosen = [pair for pair in pairs if pair.variation == variation]
    if variation == "nia-certified":
        # Names alike, identifiers differ: the names must carry the match.
        assert all(not _shares_identifier(pair) for pair in chosen)
        assert all("social_security_number" in pair.stored for pair in chosen)
        return
    for pair in chosen:
        assert _without_identifiers(pair.query) != _without_identifiers(pair.stored), pair


def test_an_exact_copy_differs_only_in_identifiers(pairs: list[LabelledPair]) -> None:
    for pair in pairs:
        if pair.variation == "exact-copy":
            query, stored = pair.query, pair.stored
            for key in ("birth_name", "first_names", "sex", "birth_date", "place_of_birth"):
                assert query[key] == stored[key]


def test_substituted_dates_are_the_ones_civil_status_writes(pairs: list[LabelledPair]) -> None:
    for pair in pairs:
        if pair.variation == "substituted-date":
            dates = {pair.query["birth_date"], pair.stored["birth_date"]}
            assert any(date.endswith(("-12-31", "-01-01")) for date in dates)
            assert len({date[:4] for date in dates}) == 1


def test_common_names_are_common(pairs: list[LabelledPair]) -> None:
    first_names = Counter(
        name.upper() for pair in pairs for name in " ".join(pair.stored["first_names"]).split()
    )
    surnames = Counter(pair.stored["birth_name"].upper() for pair in pairs)
    assert first_names.most_common(1)[0][0] in {"MOHAMED", "MOHAMMED", "MOHAMMAD", "MARIA"}
    assert surnames["DIALLO"] + surnames["NGUYEN"] + surnames["YILMAZ"] >= 10


@settings(max_examples=25, deadline=None)
@given(count=st.integers(min_value=0, max_value=40), seed=st.integers(0, 2**32))
def test_any_seed_gives_valid_balanced_pairs(count: int, seed: int) -> None:
    found = generate(count, seed)
    assert len(found) == count
    labels = Counter(pair.same for pair in found)
    assert labels[True] - labels[False] in {0, 1}
    for pair in found:
        IdentityIn.model_validate(pair.query)
        IdentityIn.model_validate(pair.stored)
        assert pair.same or not _shares_identifier(pair)


@pytest.mark.slow  # generates all 4000 pairs
def test_the_committed_set_is_the_documented_one() -> None:
    committed = LABELLED_PAIRS.read_text(encoding="utf-8")
    assert committed == to_jsonl(generate(DATA_COUNT, DATA_SEED)), (
        "regenerate it: python -m tools.identity_pairs --count 4000 --seed 20250 "
        "--output tests/data/identity_pairs.jsonl"
    )
    assert len(read_pairs(LABELLED_PAIRS.read_bytes())) == DATA_COUNT


# The command.


def test_the_command_writes_a_set_it_can_read(tmp_path: Path) -> None:
    result = CliRunner().invoke(make_pairs_app, ["--count", "12", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert read_pairs(result.output.encode()) == generate(12, 4)
    output = tmp_path / "set.jsonl"
    result = CliRunner().invoke(make_pairs_app, ["--count", "3", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert len(read_pairs(output.read_bytes())) == 3
