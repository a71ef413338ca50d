"""Why a decision goes to these funds with these fields, in words (``gateway policy explain``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.decisions import repository
from gateway.decisions.models import CorrectionKind
from gateway.decisions.service import subject_indexes
from gateway.disclosures import repository as disclosures
from gateway.disclosures import service as planning
from policies.evaluate import DecisionFacts, Evaluation, evaluate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.decisions.models import Decision
    from gateway.disclosures.models import Disclosure
    from policies.loader import LoadedPolicy


@dataclass(frozen=True)
class Explanation:
    decision: Decision
    evaluation: Evaluation
    funds: list[tuple[str, str, list[str]]]  # (fund id, regime, fields it receives)
    recorded: list[Disclosure]  # what was actually planned, under the policy of its day

    def lines(self, version: str) -> list[str]:
        """The explanation in words, as ``gateway policy explain`` prints it."""
        decision = self.decision
        found = [
            (
                f"Decision {decision.id} ({decision.reference}, {decision.kind}, "
                f"version {decision.current_version}) under policy {version}:"
            ),
            *(f"- {reason}" for reason in self.evaluation.reasons),
        ]
        if self.evaluation.disclosed and not self.funds:
            if self.evaluation.to_previous_recipients:
                found.append(
                    "- No fund has received the decision yet: records not yet sealed are "
                    "cancelled instead of rectified."
                )
            elif self.evaluation.subscribed_on is not None:
                found.append("- No fund holds a file on the person on that day.")
            else:
                found.append("- No registered fund covers that département yet.")
        found += [
            f"- {fund_id} ({regime}) receives: {', '.join(fields)}."
            for fund_id, regime, fields in self.funds
        ]
        if self.recorded:
            found.append("Recorded disclosures:")
            found += [
                f"- version {d.version} to {d.fund_id}: {d.state}, priority {d.priority_class}, "
                f"profile {d.profile}, decided by policy {d.policy_version}"
                for d in self.recorded
            ]
        return found


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
        subject_indexes=subject_indexes(identity),
        effect_date=current.effect_date or current.notification_date or current.decision_date,
    )
    evaluation = evaluate(loaded.policy, facts)
    targets: list[tuple[str, str]] = []
    if evaluation.disclosed and evaluation.to_previous_recipients:
        targets = [
            (fund_id, regime)
            for fund_id, regime in disclosures.received(
                session, decision.id, before_version=current.version
            )
            if regime in evaluation.profiles
        ]
    elif evaluation.disclosed:
        targets = planning.routed(session, evaluation, facts)
    funds: list[tuple[str, str, list[str]]] = [
        (fund_id, regime, list[str](loaded.policy.profiles[evaluation.profiles[regime]]))
        for fund_id, regime in targets
    ]
    return Explanation(decision, evaluation, funds, disclosures.of_decision(session, decision.id))
