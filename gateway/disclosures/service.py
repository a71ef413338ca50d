"""Planning disclosures: the policy's decision for one decision version, as outbox rows.

A new decision goes to the funds covering the département the policy routes by (or,
when the policy routes by subscription only, to the funds holding a file on the person
on the day it takes effect); a correction goes, at the policy's top priority, to every
fund that was owed the decision.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gateway.decisions.models import CorrectionKind
from gateway.disclosures import repository
from gateway.disclosures.models import DisclosureState
from gateway.participants import repository as participants
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from gateway.subscriptions import repository as subscriptions
from policies.evaluate import DecisionFacts, Evaluation, evaluate

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
        return _correction(session, loaded, decision_id, version, facts, evaluation.profiles)
    targets = routed(session, evaluation, facts, funds_by_departement)
    return _rows(loaded, decision_id, version, targets, evaluation, correction=False)


def routed(
    session: Session,
    evaluation: Evaluation,
    facts: DecisionFacts,
    funds_by_departement: FundCache | None = None,
) -> list[tuple[str, str]]:
    """(fund id, regime) of the funds a new decision goes to: subscribed, or covering."""
    if evaluation.subscribed_on is not None:
        return subscriptions.funds_holding(
            session, facts.subject_indexes, evaluation.subscribed_on, evaluation.profiles
        )
    departement = evaluation.departement or facts.prefecture_departement
    cache = funds_by_departement if funds_by_departement is not None else {}
    if departement not in cache:
        cache[departement] = [
            (fund.id, fund.regime or "")
            for fund in participants.funds_covering(session, departement, evaluation.profiles)
        ]
    return cache[departement]


def _rows(
    loaded: LoadedPolicy,
    decision_id: str,
    version: int,
    targets: list[tuple[str, str]],
    evaluation: Evaluation,
    *,
    correction: bool,
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": new_id(),
            "decision_id": decision_id,
            "version": version,
            "fund_id": fund_id,
            "state": str(DisclosureState.PENDING),
            "correction": correction,
            "priority_rank": evaluation.priority_rank or 0,
            "priority_class": evaluation.priority_class or "",
            "profile": evaluation.profiles[regime],
            "policy_version": loaded.version,
            "created_at": now,
            "updated_at": now,
            "batch_id": None,
        }
        for fund_id, regime in targets
        if regime in evaluation.profiles
    ]


def _correction(
    session: Session,
    loaded: LoadedPolicy,
    decision_id: str,
    version: int,
    facts: DecisionFacts,
    profiles: dict[str, str],
) -> list[dict[str, Any]]:
    """A correction: a rectification for every fund that received the decision.

    A fund still waiting for an earlier version (not yet sealed) never gets it: that
    record is cancelled instead. After a data correction, such a fund gets the corrected
    version as a plain record, at the decision's own priority; after an annulment, a
    withdrawal or a new permit, nothing at all (there is nothing left to act on).
    """
    cancelled = set(repository.cancel_unsealed(session, decision_id, before_version=version))
    received = repository.received(session, decision_id, before_version=version)
    rectified = evaluate(loaded.policy, facts)
    rows = _rows(loaded, decision_id, version, received, rectified, correction=True)
    if facts.correction_kind == CorrectionKind.DATA_CORRECTION:
        got = {fund_id for fund_id, _ in received}
        waiting = [
            (fund_id, regime)
            for fund_id, regime in repository.regimes_of(session, cancelled - got)
            if regime in profiles
        ]
        plain = evaluate(loaded.policy, replace(facts, correction=False))
        if plain.disclosed:
            rows += _rows(loaded, decision_id, version, waiting, plain, correction=False)
    return rows
