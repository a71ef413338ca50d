"""Why a decision goes to these funds with these fields, in words (``gateway policy explain``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.decisions import repository
from gateway.decisions.models import CorrectionKind
from gateway.participants import repository as participants
from policies.evaluate import DecisionFacts, Evaluation, evaluate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.decisions.models import Decision
    from policies.loader import LoadedPolicy


@dataclass(frozen=True)
class Explanation:
    decision: Decision
    evaluation: Evaluation
    funds: list[tuple[str, str, list[str]]]  # (fund id, regime, fields it receives)


def explain(session: Session, loaded: LoadedPolicy, decision: Decision) -> Explanation:
    """Evaluate the policy for the decision's current version; name the funds it reaches."""
    rows = repository.versions(session, decision.id)
    current, identity = rows[-1]
    correction = current.correction_kind is not None and current.correction_kind != str(
        CorrectionKind.DATA_CORRECTION
    )
    facts = DecisionFacts(
        kind=current.kind,
        public_order=current.public_order,
        correction=correction,
        prefecture_departement=decision.departement,
        residence_departement=identity.residence_departement,
    )
    evaluation = evaluate(loaded.policy, facts)
    funds: list[tuple[str, str, list[str]]] = []
    if evaluation.disclosed and evaluation.departement is not None:
        for fund in participants.funds_covering(
            session, evaluation.departement, evaluation.profiles
        ):
            profile = evaluation.profiles[fund.regime or ""]
            fields: list[str] = list(loaded.policy.profiles[profile])
            funds.append((fund.id, fund.regime or "", fields))
    return Explanation(decision, evaluation, funds)
