"""Planning disclosures: the policy's decision for one decision version, as outbox rows.

A new decision goes to the funds covering the département the policy routes by (or,
when the policy routes by subscription only, to the funds holding a file on the person
on the day it takes effect); a correction goes, at the policy's top priority, to every
fund that was owed the decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.disclosures import repository
from gateway.disclosures.models import DisclosureState
from gateway.participants import repository as participants
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from gateway.subscriptions import service as subscriptions
from policies.evaluate import DecisionFacts, evaluate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from policies.loader import LoadedPolicy

FundCache = dict[str, list[tuple[str, str]]]  # département -> (fund id, regime)


def plan(
    session: Session,
    loaded: LoadedPolicy,
    *,
    decision_id: str,
    version: int,
    facts: DecisionFacts,
    funds_by_departement: FundCache | None = None,
) -> list[dict[str, Any]]:
    """The disclosure rows this version of the decision creates (maybe none)."""
    evaluation = evaluate(loaded.policy, facts)
    if not evaluation.disclosed:
        return []
    if evaluation.to_previous_recipients:
        targets = repository.recipients(session, decision_id)
    elif evaluation.subscribed_on is not None:
        targets = subscriptions.funds_holding(
            session, facts.subject_indexes, evaluation.subscribed_on, evaluation.profiles
        )
    else:
        departement = evaluation.departement or facts.prefecture_departement
        cache = funds_by_departement if funds_by_departement is not None else {}
        if departement not in cache:
            cache[departement] = [
                (fund.id, fund.regime or "")
                for fund in participants.funds_covering(session, departement, evaluation.profiles)
            ]
        targets = cache[departement]
    now = utcnow()
    return [
        {
            "id": new_id(),
            "decision_id": decision_id,
            "version": version,
            "fund_id": fund_id,
            "state": str(DisclosureState.PENDING),
            "correction": facts.correction,
            "priority_rank": evaluation.priority_rank or 0,
            "priority_class": evaluation.priority_class or "",
            "profile": evaluation.profiles[regime],
            "policy_version": loaded.version,
            "created_at": now,
            "updated_at": now,
        }
        for fund_id, regime in targets
        if regime in evaluation.profiles
    ]
