from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.evaluate import DecisionFacts, evaluate
from policies.loader import DEFAULT_POLICY, load_file, load_text
from policies.model import DECISION_KINDS

POLICY = load_file(DEFAULT_POLICY).policy


def facts(kind: str, **changes: object) -> DecisionFacts:
    values: dict[str, object] = {
        "kind": kind,
        "public_order": False,
        "correction": False,
        "prefecture_departement": "75",
        "residence_departement": "93",
    }
    values.update(changes)
    return DecisionFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["oqtf", "irtf", "expulsion"])
def test_removal_measures_alone_are_recorded_not_disclosed(kind: str) -> None:
    result = evaluate(POLICY, facts(kind))
    assert not result.disclosed
    assert result.profiles == {}
    assert "recorded and not disclosed" in result.reasons[0]


@pytest.mark.parametrize(
    ("kind", "public_order", "expected"),
    [
        ("permit-withdrawal", False, "high"),
        ("renewal-refusal", False, "high"),
        ("first-permit-refusal", True, "high"),
        ("first-permit-refusal", False, "normal"),
    ],
)
def test_withdrawals_refused_renewals_and_public_order_cases_come_first(
    kind: str, public_order: bool, expected: str
) -> None:
    result = evaluate(POLICY, facts(kind, public_order=public_order))
    assert result.disclosed
    assert result.priority_class == expected


@given(st.sampled_from(DECISION_KINDS), st.booleans())
def test_corrections_come_first_and_go_where_the_decision_went(
    kind: str, public_order: bool
) -> None:
    result = evaluate(POLICY, facts(kind, public_order=public_order, correction=True))
    assert result.disclosed
    assert result.priority_rank == 0
    assert result.to_previous_recipients
    ordinary = evaluate(POLICY, facts(kind, public_order=public_order))
    assert not ordinary.disclosed or (ordinary.priority_rank or 0) > 0


def test_routing_follows_residence_then_the_prefecture() -> None:
    assert evaluate(POLICY, facts("renewal-refusal")).departement == "93"
    unknown = facts("renewal-refusal", residence_departement=None)
    assert evaluate(POLICY, unknown).departement == "75"


def test_a_policy_change_changes_routing_without_code() -> None:
    text = DEFAULT_POLICY.read_text()
    by_prefecture = load_text(text.replace("residence_first: true", "residence_first: false"))
    assert evaluate(by_prefecture.policy, facts("renewal-refusal")).departement == "75"
    without_caf = load_text(
        text.replace("    caf: {profile: default}", "    caf: {profile: default, enabled: false}")
    )
    assert "caf" not in evaluate(without_caf.policy, facts("renewal-refusal")).profiles
    assert "caf" in evaluate(POLICY, facts("renewal-refusal")).profiles


def test_purposes_come_from_the_policy() -> None:
    assert POLICY.purposes_for("fund") == frozenset({"residence-regularity-check"})
    assert POLICY.purposes_for("auditor") == frozenset(
        {"anti-fraud-control", "data-subject-request"}
    )
    assert POLICY.purposes_for("nobody") == frozenset()
