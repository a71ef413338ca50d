"""The match-quality report, measured with stand-in matchers on labelled identity pairs; the
pair file format; and ``gateway status match-quality``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.identities import matching
from gateway.identities.matching import Level
from gateway.identities.quality import (
    LabelledPair,
    Matcher,
    PairFileError,
    evaluate,
    read_pairs,
    to_jsonl,
)
from gateway.identities.schemas import IdentityIn
from tools.identity_pairs.generator import generate

if TYPE_CHECKING:
    from collections.abc import Iterable


# The evaluator.


def _oracle(labelled: Iterable[LabelledPair], match: Level = Level.STRONG) -> Matcher:
    """Knows the answer: ``match`` for one person, none for two."""

    def key(query: IdentityIn, stored: IdentityIn) -> tuple[str, str]:
        return query.model_dump_json(), stored.model_dump_json()

    labels = {
        key(IdentityIn.model_validate(p.query), IdentityIn.model_validate(p.stored)): p.same
        for p in labelled
    }

    def matcher(query: IdentityIn, stored: IdentityIn) -> Level:
        return match if labels[key(query, stored)] else Level.NONE

    return matcher


def _always(level: Level) -> Matcher:
    return lambda _query, _stored: level


def _scripted(levels: list[Level]) -> Matcher:
    remaining = iter(levels)
    return lambda _query, _stored: next(remaining)


def test_a_perfect_matcher_has_precision_and_recall_one(pairs: list[LabelledPair]) -> None:
    report = evaluate(pairs, _oracle(pairs))
    for threshold in (report.strong_or_better, report.weak_or_better):
        assert threshold.precision == 1
        assert threshold.recall == 1
        assert threshold.false_match_rate == 0
    assert report.weak_catches is None  # no positive below strong
    assert report.error_count == 0
    assert report.worst_errors == []


def test_a_matcher_that_never_matches_has_recall_zero_and_no_precision(
    pairs: list[LabelledPair],
) -> None:
    report = evaluate(pairs, _always(Level.NONE))
    assert report.strong_or_better.recall == 0
    assert report.strong_or_better.predicted == 0
    assert report.strong_or_better.precision is None
    assert report.weak_or_better.precision is None
    assert report.weak_catches == 0
    assert report.error_count == report.positives == 1000
    assert all(error.same and error.level == "none" for error in report.worst_errors)
    assert len(report.worst_errors) == 100


def test_a_matcher_that_always_matches_has_recall_one_and_every_negative_wrong() -> None:
    few = generate(10, 3)
    report = evaluate(few, _always(Level.STRONG), max_errors=3)
    assert report.strong_or_better.recall == 1
    assert report.strong_or_better.precision == 0.5
    assert report.strong_or_better.false_match_rate == 1
    assert report.error_count == 5
    assert len(report.worst_errors) == 3


def _pair(same: bool, variation: str, seed: int) -> LabelledPair:
    base = generate(1, seed)[0]
    return LabelledPair(base.query, base.stored, same=same, variation=variation)


def test_the_figures_are_counted_as_defined() -> None:
    labelled = [
        _pair(same=True, variation="typo", seed=1),
        _pair(same=True, variation="typo", seed=2),
        _pair(same=True, variation="particle", seed=3),
        _pair(same=True, variation="particle", seed=4),
        _pair(same=False, variation="twin", seed=5),
        _pair(same=False, variation="twin", seed=6),
        _pair(same=False, variation="sibling", seed=7),
    ]
    levels = [Level.EXACT, Level.STRONG, Level.WEAK, Level.NONE]
    levels += [Level.STRONG, Level.EXACT, Level.WEAK]
    report = evaluate(labelled, _scripted(levels))
    assert report.levels == {
        "positives": {"exact": 1, "strong": 1, "weak": 1, "none": 1},
        "negatives": {"exact": 1, "strong": 1, "weak": 1, "none": 0},
    }
    strong = report.strong_or_better
    assert (strong.predicted, strong.true_positives, strong.false_positives) == (4, 2, 2)
    assert (strong.precision, strong.recall, strong.false_match_rate) == (0.5, 0.5, 2 / 3)
    weak = report.weak_or_better
    assert (weak.predicted, weak.precision, weak.recall, weak.false_match_rate) == (6, 0.5, 0.75, 1)
    assert report.weak_catches == 0.5
    rows = {(row.same, row.variation): row for row in report.variations}
    assert list(rows) == [(True, "particle"), (True, "typo"), (False, "sibling"), (False, "twin")]
    assert (rows[True, "typo"].strong_or_better, rows[True, "typo"].weak_or_better) == (1, 1)
    assert (rows[True, "particle"].strong_or_better, rows[True, "particle"].weak_or_better) == (
        0,
        0.5,
    )
    assert rows[False, "twin"].strong_or_better == 1
    # Worst first: a negative graded exact, then strong, then a positive graded none.
    assert [(e.position, e.level) for e in report.worst_errors] == [
        (6, "exact"),
        (5, "strong"),
        (4, "none"),
    ]


def test_families_have_their_own_precision_and_recall() -> None:
    """Positives and negatives of one family are counted together, each family apart."""
    pairs = [
        LabelledPair(p.query, p.stored, p.same, p.variation, family=family)
        for p, family in zip(generate(8, 5), ["a", "a", "a", "a", "b", "b", "b", "b"], strict=True)
    ]
    levels = [Level.STRONG, Level.WEAK, Level.NONE, Level.STRONG] * 2
    report = evaluate(pairs, _scripted(levels))
    assert [family.family for family in report.families] == ["a", "b"]
    for family, chunk in zip(report.families, (pairs[:4], pairs[4:]), strict=True):
        graded = list(zip(chunk, levels[:4], strict=True))
        positives = [level for pair, level in graded if pair.same]
        assert (family.positives, family.negatives) == (len(positives), 4 - len(positives))
        strong_true = sum(level is Level.STRONG for level in positives)
        strong_all = sum(level is Level.STRONG for _, level in graded)
        assert family.strong_or_better.true_positives == strong_true
        assert family.strong_or_better.predicted == strong_all
        assert family.strong_or_better.precision == (strong_true / strong_all)
        expected_recall = strong_true / len(positives) if positives else None
        assert family.strong_or_better.recall == expected_recall
    # A set without families has no family rows.
    plain = [LabelledPair(p.query, p.stored, p.same, p.variation) for p in generate(4, 5)]
    assert evaluate(plain, _always(Level.NONE)).families == []


def test_the_family_survives_the_file_format() -> None:
    pairs = generate(6, 8)
    assert all(pair.family for pair in pairs)
    assert [pair.family for pair in read_pairs(to_jsonl(pairs).encode())] == [
        pair.family for pair in pairs
    ]


def test_no_pairs_give_no_figures_rather_than_a_crash() -> None:
    report = evaluate([], _always(Level.STRONG))
    assert report.pairs == 0
    assert report.strong_or_better.precision is None
    assert report.strong_or_better.recall is None
    assert report.strong_or_better.false_match_rate is None
    assert report.weak_catches is None


def test_the_report_is_json() -> None:
    few = generate(20, 5)
    report = evaluate(few, _always(Level.WEAK))
    found = json.loads(json.dumps(report.as_dict()))
    assert found["pairs"] == 20
    assert found["weak_or_better"]["recall"] == 1
    assert found["strong_or_better"]["precision"] is None
    assert {row["variation"] for row in found["variations"]} == {p.variation for p in few}


# The file format.

_VALID = to_jsonl(generate(1, 1)).encode()


@pytest.mark.parametrize(
    ("line", "field", "rule"),
    [
        (b"{not json", "", "json"),
        (b"[1, 2]", "", "not-object"),
        (b"", "", "line-empty"),
        (b"\xff\xfe", "", "encoding"),
        (b'{"query": {}, "same": true, "variation": "x"}', "stored", "key-missing"),
        (_VALID.rstrip(b"}\n") + b', "note": 1}', "note", "key-unknown"),
    ],
)
def test_a_malformed_line_names_its_line_and_rule(line: bytes, field: str, rule: str) -> None:
    with pytest.raises(PairFileError) as raised:
        read_pairs(_VALID + line + b"\n")
    problem = raised.value.problems[0]
    assert (problem.line, problem.field, problem.rule) == (2, field, rule)


def _line(**changes: Any) -> bytes:
    found = json.loads(_VALID)
    for key, value in changes.items():
        side, _, field = key.partition("__")
        if field:
            found[side][field] = value
        else:
            found[side] = value
    return json.dumps(found).encode()


@pytest.mark.parametrize(
    ("line", "field", "rule"),
    [
        (_line(same="yes"), "same", "same-not-boolean"),
        (_line(variation=""), "variation", "variation-not-text"),
        (_line(detail=3), "detail", "detail-not-text"),
        (_line(family=["albania"]), "family", "family-not-text"),
        (_line(query="Jean"), "query", "not-object"),
        (_line(query__birth_date="1990-13-01"), "query.birth_date", "date-impossible"),
        (_line(query__sex="X"), "query.sex", "enum"),
        (
            _line(stored={"birth_name": "Diallo", "first_names": ["Awa"], "sex": "F"}),
            "stored",
            "identity-insufficient",
        ),
    ],
)
def test_a_line_that_is_not_a_labelled_pair_is_refused(line: bytes, field: str, rule: str) -> None:
    with pytest.raises(PairFileError) as raised:
        read_pairs(line + b"\n")
    problem = raised.value.problems[0]
    assert (problem.line, problem.field, problem.rule) == (1, field, rule)
    assert f"[{rule}]" in str(problem)


def test_line_ends_and_the_final_newline_are_accepted() -> None:
    two = to_jsonl(generate(2, 9)).replace("\n", "\r\n").encode()
    assert len(read_pairs(two)) == 2
    assert len(read_pairs(two.rstrip(b"\r\n"))) == 2


# The command.


@pytest.fixture
def weak_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "assess", _always(Level.WEAK))


def _write(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


@pytest.mark.usefixtures("weak_matcher")
def test_the_command_prints_the_figures(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["status", "match-quality", _write(tmp_path, to_jsonl(generate(40, 3)))]
    )
    assert result.exit_code == 0, result.output
    assert "40 pairs: 20 of one person, 20 of two people" in result.output
    assert "By variation" in result.output
    assert "By family: precision and recall" in result.output
    assert "weak catches 100.0%" in " ".join(result.output.split())


@pytest.mark.usefixtures("weak_matcher")
def test_the_command_prints_json(tmp_path: Path) -> None:
    file = _write(tmp_path, to_jsonl(generate(40, 3)))
    result = CliRunner().invoke(app, ["status", "match-quality", file, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["pairs"] == 40
    assert found["levels"]["positives"]["weak"] == 20
    family = found["families"][0]
    assert set(family) == {"family", "positives", "negatives", "strong_or_better", "weak_or_better"}
    assert {"precision", "recall"} <= set(family["weak_or_better"])


@pytest.mark.usefixtures("weak_matcher")
def test_the_command_refuses_a_malformed_file_with_its_line_and_rule(tmp_path: Path) -> None:
    file = _write(tmp_path, _VALID + b'{"query": {}}\n')
    result = CliRunner().invoke(app, ["status", "match-quality", file])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert f"{file}:2: stored: this key is required [key-missing]" in result.output
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("weak_matcher")
def test_the_command_refuses_an_empty_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["status", "match-quality", _write(tmp_path, b"")])
    assert result.exit_code == 2
    assert "[file-empty]" in result.output
