"""How well the status-check matcher tells one person from two look-alikes.

``evaluate(pairs, matcher)`` grades every labelled pair with the matcher
(``gateway.identities.matching.assess`` by default) and reports: how many pairs of one
person (positives) and of two people (negatives) got each level; precision, recall and
false-match rate when ``strong`` or better counts as a match, and when ``weak`` or better
does; the share of positives missed at ``strong`` that ``weak`` catches; the same
figures by variation; and the worst errors, negatives graded ``exact`` or ``strong`` first,
then positives graded ``none``. A share with nothing to divide by (precision when
nothing was predicted a match) is None, never a crash.

Labelled pairs, as ``gateway status match-quality FILE`` reads them, are JSON lines
(UTF-8), one object a line, no blank line::

    {"query": {...}, "stored": {...}, "same": true, "variation": "transliteration"}

- ``query``: the identity a fund asks about, an ``IdentityIn`` document;
- ``stored``: the identity a prefecture sent, an ``IdentityIn`` document;
- ``same``: true when both describe one person, false when two;
- ``variation``: a short name for what differs or what makes them look alike
  (``typo``, ``sibling``...), used to group the figures;
- ``detail`` (optional): a string refining the variation, shown with errors;
- ``family`` (optional): a group of pairs measured together, positives and negatives
  alike (the generator names the origin of the people's names: ``albania``,
  ``west-africa``...); the report gives precision and recall for each family.

No other key is accepted. A line that breaks a rule is refused with its number, the
field and the rule (``json``, ``not-object``, ``key-missing``, ``key-unknown``,
``same-not-boolean``, ``variation-not-text``, ``detail-not-text``, ``family-not-text``,
``line-empty``, ``encoding``, or the rule ``IdentityIn`` names, such as ``nir-key``).
``tools.identity_pairs.generator`` generates such sets; ``tests/data/identity_pairs.jsonl`` is one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from gateway.identities.matching import Level, assess
from gateway.identities.schemas import IdentityIn

Matcher = Callable[[IdentityIn, IdentityIn], Level]
LEVELS = (Level.EXACT, Level.STRONG, Level.WEAK, Level.NONE)
STRONG_OR_BETTER = frozenset([Level.EXACT, Level.STRONG])
WEAK_OR_BETTER = frozenset([Level.EXACT, Level.STRONG, Level.WEAK])
REQUIRED = ("query", "stored", "same", "variation")
OPTIONAL = ("detail", "family")
MAX_PROBLEMS = 50  # a file broken throughout is reported by its first problems


@dataclass(frozen=True)
class LabelledPair:
    query: dict[str, Any]
    stored: dict[str, Any]
    same: bool
    variation: str
    detail: str = ""
    family: str = ""

    def as_json(self) -> dict[str, Any]:
        """One line of the JSONL format; ``detail`` and ``family`` only when there is one."""
        line: dict[str, Any] = {
            "query": self.query,
            "stored": self.stored,
            "same": self.same,
            "variation": self.variation,
        }
        if self.detail:
            line["detail"] = self.detail
        if self.family:
            line["family"] = self.family
        return line


def to_jsonl(pairs: Iterable[LabelledPair]) -> str:
    """Pairs as JSON lines, names kept as written (UTF-8, not escaped)."""
    return "".join(
        json.dumps(pair.as_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
        for pair in pairs
    )


class PairLike(Protocol):
    """A labelled pair: ``LabelledPair`` or anything with the same attributes."""

    @property
    def query(self) -> Mapping[str, Any]: ...
    @property
    def stored(self) -> Mapping[str, Any]: ...
    @property
    def same(self) -> bool: ...
    @property
    def variation(self) -> str: ...


@dataclass(frozen=True)
class Problem:
    """One rule a line breaks."""

    line: int
    field: str
    message: str
    rule: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.line}: {where}{self.message} [{self.rule}]"


class PairFileError(ValueError):
    """Lines that are not labelled pairs; ``problems`` names each line and rule."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {problem}" for problem in problems))


def _identity_problems(line: int, side: str, document: Any) -> list[Problem]:
    if not isinstance(document, dict):
        return [Problem(line, side, "an identity is a JSON object", "not-object")]
    try:
        IdentityIn.model_validate(document)
    except ValidationError as error:
        return [
            Problem(
                line,
                ".".join([side, *(str(part) for part in found["loc"])]),
                found["msg"],
                found["type"],
            )
            for found in error.errors()
        ]
    return []


def _value_problems(line: int, found: dict[str, Any]) -> list[Problem]:
    problems = []
    if "same" in found and not isinstance(found["same"], bool):
        problems.append(Problem(line, "same", "true or false", "same-not-boolean"))
    if "variation" in found and not (isinstance(found["variation"], str) and found["variation"]):
        problems.append(Problem(line, "variation", "a non-empty string", "variation-not-text"))
    problems += [
        Problem(line, key, "a string", f"{key}-not-text")
        for key in OPTIONAL
        if key in found and not isinstance(found[key], str)
    ]
    return problems


def parse_line(text: str, line: int) -> tuple[LabelledPair | None, list[Problem]]:
    """One line as a pair, or the problems that keep it from being one."""
    if not text.strip():
        return None, [Problem(line, "", "a blank line; every line is one pair", "line-empty")]
    try:
        found = json.loads(text)
    except json.JSONDecodeError as error:
        return None, [Problem(line, "", f"not JSON: {error.msg} (column {error.colno})", "json")]
    if not isinstance(found, dict):
        return None, [Problem(line, "", "a line is one JSON object", "not-object")]
    problems = [
        Problem(line, key, "this key is required", "key-missing")
        for key in REQUIRED
        if key not in found
    ]
    known = REQUIRED + OPTIONAL
    problems += [
        Problem(line, key, f"unknown key; the keys are {', '.join(known)}", "key-unknown")
        for key in found
        if key not in known
    ]
    problems += _value_problems(line, found)
    for side in ("query", "stored"):
        if side in found:
            problems += _identity_problems(line, side, found[side])
    if problems:
        return None, problems
    pair = LabelledPair(
        found["query"],
        found["stored"],
        found["same"],
        found["variation"],
        found.get("detail", ""),
        found.get("family", ""),
    )
    return pair, []


def read_pairs(data: bytes) -> list[LabelledPair]:
    """The pairs of a JSON-lines file's bytes; raise PairFileError naming every bad line."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the newline that ends the last line
    pairs: list[LabelledPair] = []
    problems: list[Problem] = []
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(number, "", "not UTF-8", "encoding"))
            continue
        pair, found = parse_line(text, number)
        problems += found
        if pair is not None:
            pairs.append(pair)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise PairFileError(problems[:MAX_PROBLEMS])
    return pairs


@dataclass(frozen=True)
class Threshold:
    """The figures when the given levels count as a match."""

    counted_as_match: list[str]
    predicted: int  # pairs graded at one of those levels
    true_positives: int
    false_positives: int
    precision: float | None  # true positives / predicted
    recall: float | None  # true positives / positives
    false_match_rate: float | None  # false positives / negatives


@dataclass(frozen=True)
class VariationRow:
    variation: str
    same: bool
    count: int
    strong_or_better: float  # share of the pairs graded strong or exact
    weak_or_better: float
    levels: dict[str, int]


@dataclass(frozen=True)
class FamilyRow:
    """Precision and recall among the pairs of one family (positives and negatives)."""

    family: str
    positives: int
    negatives: int
    strong_or_better: Threshold
    weak_or_better: Threshold


@dataclass(frozen=True)
class PairError:
    """A negative graded strong or exact, or a positive graded none."""

    position: int  # 1-based: the line of a JSON-lines file
    same: bool
    variation: str
    detail: str
    level: str
    query: dict[str, Any]
    stored: dict[str, Any]


@dataclass(frozen=True)
class QualityReport:
    pairs: int
    positives: int
    negatives: int
    levels: dict[str, dict[str, int]]  # "positives" and "negatives", by level
    strong_or_better: Threshold
    weak_or_better: Threshold
    weak_catches: float | None  # of the positives below strong, the share graded weak
    variations: list[VariationRow]
    families: list[FamilyRow]  # by the pairs' ``family``; empty when no pair names one
    error_count: int
    worst_errors: list[PairError]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        return asdict(self)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _threshold(
    counted: frozenset[Level], positives: Counter[Level], negatives: Counter[Level]
) -> Threshold:
    true_positives = sum(positives[level] for level in counted)
    false_positives = sum(negatives[level] for level in counted)
    predicted = true_positives + false_positives
    return Threshold(
        counted_as_match=[str(level) for level in LEVELS if level in counted],
        predicted=predicted,
        true_positives=true_positives,
        false_positives=false_positives,
        precision=_share(true_positives, predicted),
        recall=_share(true_positives, positives.total()),
        false_match_rate=_share(false_positives, negatives.total()),
    )


def _by_level(counts: Counter[Level]) -> dict[str, int]:
    return {str(level): counts[level] for level in LEVELS}


def _severity(error: PairError) -> tuple[int, int]:
    order = {(False, "exact"): 0, (False, "strong"): 1, (True, "none"): 2}
    return order[error.same, error.level], error.position


def evaluate(
    pairs: Iterable[PairLike], matcher: Matcher = assess, *, max_errors: int = 100
) -> QualityReport:
    """Grade every pair with ``matcher`` and report; at most ``max_errors`` errors listed."""
    graded: dict[bool, Counter[Level]] = {True: Counter(), False: Counter()}
    by_variation: dict[tuple[bool, str], Counter[Level]] = {}
    by_family: dict[str, dict[bool, Counter[Level]]] = {}
    errors: list[PairError] = []
    for position, pair in enumerate(pairs, start=1):
        query = IdentityIn.model_validate(pair.query)
        stored = IdentityIn.model_validate(pair.stored)
        level = Level(matcher(query, stored))
        graded[pair.same][level] += 1
        by_variation.setdefault((pair.same, pair.variation), Counter())[level] += 1
        if family := str(getattr(pair, "family", "")):
            counts = by_family.setdefault(family, {True: Counter(), False: Counter()})
            counts[pair.same][level] += 1
        missed = level is Level.NONE if pair.same else level in STRONG_OR_BETTER
        if missed:
            errors.append(
                PairError(
                    position=position,
                    same=pair.same,
                    variation=pair.variation,
                    detail=str(getattr(pair, "detail", "")),
                    level=str(level),
                    query=dict(pair.query),
                    stored=dict(pair.stored),
                )
            )
    positives, negatives = graded[True], graded[False]
    below_strong = positives[Level.WEAK] + positives[Level.NONE]
    rows = [
        VariationRow(
            variation=variation,
            same=same,
            count=counts.total(),
            strong_or_better=sum(counts[level] for level in STRONG_OR_BETTER) / counts.total(),
            weak_or_better=sum(counts[level] for level in WEAK_OR_BETTER) / counts.total(),
            levels=_by_level(counts),
        )
        for (same, variation), counts in sorted(
            by_variation.items(), key=lambda item: (not item[0][0], item[0][1])
        )
    ]
    families = [
        FamilyRow(
            family=family,
            positives=counts[True].total(),
            negatives=counts[False].total(),
            strong_or_better=_threshold(STRONG_OR_BETTER, counts[True], counts[False]),
            weak_or_better=_threshold(WEAK_OR_BETTER, counts[True], counts[False]),
        )
        for family, counts in sorted(by_family.items())
    ]
    return QualityReport(
        pairs=positives.total() + negatives.total(),
        positives=positives.total(),
        negatives=negatives.total(),
        levels={"positives": _by_level(positives), "negatives": _by_level(negatives)},
        strong_or_better=_threshold(STRONG_OR_BETTER, positives, negatives),
        weak_or_better=_threshold(WEAK_OR_BETTER, positives, negatives),
        weak_catches=_share(positives[Level.WEAK], below_strong),
        variations=rows,
        families=families,
        error_count=len(errors),
        worst_errors=sorted(errors, key=_severity)[:max_errors],
    )
