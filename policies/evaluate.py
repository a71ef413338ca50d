"""Evaluating a policy for one decision: is it disclosed, at which priority, routed how.

Pure: the facts of the decision in, the evaluation out, with the reasons in words (what
``gateway policy explain`` prints). Which funds cover the département is the database's
to answer; this says which département and which regimes, with which profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

    from policies.model import Policy

BROAD_KINDS = {
    "permit-withdrawal": "withdrawal",
    "renewal-refusal": "refusal",
    "first-permit-refusal": "refusal",
}


@dataclass(frozen=True)
class DecisionFacts:
    kind: str
    public_order: bool
    correction: bool
    prefecture_departement: str
    residence_departement: str | None
    # The keyed blind indexes of the person's identifiers and the date the decision
    # takes effect: what routing by subscription looks up.
    subject_indexes: tuple[str, ...] = ()
    effect_date: date | None = None
    correction_kind: str | None = None  # annulment, withdrawal, superseded, data-correction


@dataclass(frozen=True)
class Evaluation:
    disclosed: bool
    priority_class: str | None = None
    priority_rank: int | None = None  # 0 is the most urgent
    departement: str | None = None
    to_previous_recipients: bool = False  # a correction goes where the decision went
    subscribed_on: date | None = None  # only to funds holding a file on the person that day
    profiles: dict[str, str] = field(default_factory=dict)  # regime -> profile name
    reasons: tuple[str, ...] = ()


def _a(word: str) -> str:
    return "An" if word[0] in "aeiou" else "A"


def _priority(policy: Policy, facts: DecisionFacts) -> tuple[int, str, str]:
    for rank, klass in enumerate(policy.priority.classes):
        if klass.corrections and facts.correction:
            return rank, klass.name, "it is a correction"
        if facts.kind in klass.kinds:
            return rank, klass.name, f"its kind is {facts.kind}"
        if klass.public_order and facts.public_order:
            return rank, klass.name, "it rests on a public-order ground"
        if klass.otherwise:
            return rank, klass.name, "no earlier class matches it"
    message = "the policy's last priority class matches everything"  # checked at load
    raise AssertionError(message)


def evaluate(policy: Policy, facts: DecisionFacts) -> Evaluation:
    rank, klass, why = _priority(policy, facts)
    profiles: dict[str, str] = {
        regime: route.profile for regime, route in policy.routing.regimes.items() if route.enabled
    }
    if facts.correction:
        return Evaluation(
            disclosed=True,
            priority_class=klass,
            priority_rank=rank,
            to_previous_recipients=True,
            profiles=profiles,
            reasons=(
                "A correction goes to every fund that received the decision, whatever its kind.",
                f"Priority {klass} (rank {rank + 1}) because {why}.",
            ),
        )
    if facts.kind not in policy.eligibility.disclosed:
        return Evaluation(
            disclosed=False,
            reasons=(
                (
                    f"{_a(facts.kind)} {facts.kind} without a residence decision is recorded "
                    f"and not disclosed (policy {policy.name}, eligibility.recorded_only)."
                ),
            ),
        )
    disclosed = f"{_a(facts.kind)} {facts.kind} is disclosed (eligibility.disclosed)."
    priority = f"Priority {klass} (rank {rank + 1}) because {why}."
    regimes = ", ".join(sorted(profiles))
    if policy.routing.subscriptions_only:
        if facts.effect_date is None or not facts.subject_indexes:
            return Evaluation(
                disclosed=False,
                reasons=(
                    disclosed,
                    (
                        "Routing is by subscription only (routing.subscriptions_only) and the "
                        "decision names no AGDREF number or NIR/NIA (or no date) to look up: "
                        "no fund can be found to receive it."
                    ),
                ),
            )
        return Evaluation(
            disclosed=True,
            priority_class=klass,
            priority_rank=rank,
            subscribed_on=facts.effect_date,
            profiles=profiles,
            reasons=(
                disclosed,
                priority,
                (
                    f"It goes only to the funds of regimes {regimes} holding a file on the "
                    f"person on {facts.effect_date.isoformat()}, the day it takes effect "
                    "(routing.subscriptions_only); the others receive nothing."
                ),
            ),
        )
    if policy.routing.residence_first and facts.residence_departement:
        departement = facts.residence_departement
        where = f"the person lives in département {departement}"
    else:
        departement = facts.prefecture_departement
        where = f"the prefecture's département is {departement}"
    return Evaluation(
        disclosed=True,
        priority_class=klass,
        priority_rank=rank,
        departement=departement,
        profiles=profiles,
        reasons=(
            disclosed,
            priority,
            (
                f"It goes to the funds of regimes {regimes} covering "
                f"département {departement}, because {where}."
            ),
        ),
    )
