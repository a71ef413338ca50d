"""The CODAF reports: per fund and per prefecture, over a period, within a territory.

Per fund: records owed and their states, batches delivered and acknowledged, the delay
from decision to receipt (median, 95th percentile), the outcome of each record, records
still unacknowledged after N days, and the status checks made (how many, by how many
agents, on how many days): the effectiveness and periodicity CODAF checks. Per
prefecture: decisions by kind, corrections by kind, imports and their rejected lines.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from audit.actions import AuditAction, AuditOutcome
from gateway.auditing import fishing
from gateway.auditlog.models import AuditEvent
from gateway.batches.models import Batch, Receipt, RecordOutcome
from gateway.decisions.models import Decision, DecisionVersion
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.imports.models import DecisionImport
from gateway.participants.models import Participant, ParticipantKind, ParticipantTerritory
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller

SETTLED = (DisclosureState.ACKNOWLEDGED, DisclosureState.REJECTED, DisclosureState.CANCELLED)


def participants_in_scope(session: Session, caller: Caller, kind: ParticipantKind) -> list[str]:
    statement = select(Participant.id).where(Participant.kind == kind)
    if not caller.national:
        covered = select(ParticipantTerritory.participant_id).where(
            ParticipantTerritory.departement.in_(list(caller.territory))
        )
        statement = statement.where(Participant.id.in_(covered))
    return sorted(session.scalars(statement.order_by(Participant.id)).unique())


def _quantiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=20, method="inclusive")[18]


def fund_report(
    session: Session, fund_id: str, since: datetime, until: datetime, stale_days: int
) -> dict[str, Any]:
    in_period = (Disclosure.fund_id == fund_id) & Disclosure.created_at.between(since, until)
    states = dict(
        session.execute(
            select(Disclosure.state, func.count()).where(in_period).group_by(Disclosure.state)
        ).all()
    )
    batches = session.execute(
        select(
            func.count(Batch.delivered_at), func.count(Batch.acknowledged_at), func.count()
        ).where(Batch.fund_id == fund_id, Batch.created_at.between(since, until))
    ).one()
    delays = [
        (
            received - datetime.combine(decided, datetime.min.time(), tzinfo=received.tzinfo)
        ).total_seconds()
        / 86400
        for decided, received in session.execute(
            select(DecisionVersion.decision_date, Receipt.recorded_at)
            .join(Disclosure, Disclosure.batch_id == Receipt.batch_id)
            .join(
                DecisionVersion,
                (DecisionVersion.decision_id == Disclosure.decision_id)
                & (DecisionVersion.version == Disclosure.version),
            )
            .where(in_period)
        )
    ]
    median, p95 = _quantiles(delays)
    outcomes = dict(
        session.execute(
            select(RecordOutcome.outcome, func.count())
            .join(Disclosure, Disclosure.id == RecordOutcome.disclosure_id)
            .where(in_period)
            .group_by(RecordOutcome.outcome)
        ).all()
    )
    stale = session.scalar(
        select(func.count()).where(
            Disclosure.fund_id == fund_id,
            Disclosure.state.not_in(SETTLED),
            Disclosure.created_at < utcnow() - timedelta(days=stale_days),
        )
    )
    checks = dict(
        zip(
            ("count", "agents", "days"),
            session.execute(
                select(
                    func.count(),
                    func.count(AuditEvent.agent_id.distinct()),
                    func.count(func.date(AuditEvent.occurred_at).distinct()),
                ).where(
                    AuditEvent.acting_for == fund_id,
                    AuditEvent.action == AuditAction.STATUS_CHECKED,
                    AuditEvent.outcome == AuditOutcome.SUCCESS,
                    AuditEvent.occurred_at.between(since, until),
                )
            ).one(),
            strict=True,
        )
    )
    agents = fishing.agent_checks(session, fund_id, since, until)
    return {
        "fund_id": fund_id,
        "records_owed": sum(states.values()),
        "records_by_state": states,
        "batches": batches[2],
        "batches_delivered": batches[0],
        "batches_acknowledged": batches[1],
        "delay_to_receipt_days_median": round(median, 2) if median is not None else None,
        "delay_to_receipt_days_p95": round(p95, 2) if p95 is not None else None,
        "outcomes": outcomes,
        "unacknowledged_after_days": stale_days,
        "unacknowledged": stale or 0,
        "status_checks": checks["count"],
        "status_check_agents": checks["agents"],
        "status_check_days": checks["days"],
        "status_checks_weak": sum(agent.weak for agent in agents),
        "status_checks_by_name": sum(agent.by_name for agent in agents),
        "status_checks_outside_territory": sum(agent.outside_territory for agent in agents),
        "fishing_flags": [agent.as_dict() for agent in agents if agent.reasons],
    }


def prefecture_report(
    session: Session, prefecture_id: str, since: datetime, until: datetime
) -> dict[str, Any]:
    decided = (Decision.prefecture_id == prefecture_id) & Decision.created_at.between(since, until)
    kinds = dict(
        session.execute(
            select(Decision.kind, func.count()).where(decided).group_by(Decision.kind)
        ).all()
    )
    corrections = dict(
        session.execute(
            select(DecisionVersion.correction_kind, func.count())
            .join(Decision, Decision.id == DecisionVersion.decision_id)
            .where(
                Decision.prefecture_id == prefecture_id,
                DecisionVersion.correction_kind.is_not(None),
                DecisionVersion.created_at.between(since, until),
            )
            .group_by(DecisionVersion.correction_kind)
        ).all()
    )
    imports = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(DecisionImport.accepted), 0),
            func.coalesce(func.sum(DecisionImport.rejected), 0),
        ).where(
            DecisionImport.prefecture_id == prefecture_id,
            DecisionImport.dry_run.is_(False),
            DecisionImport.created_at.between(since, until),
        )
    ).one()
    return {
        "prefecture_id": prefecture_id,
        "decisions": sum(kinds.values()),
        "decisions_by_kind": kinds,
        "corrections_by_kind": corrections,
        "imports": imports[0],
        "imported_lines_accepted": int(imports[1]),
        "imported_lines_rejected": int(imports[2]),
    }


def flat(report: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: nested counts become ``name.key`` columns."""
    row: dict[str, Any] = {}
    for name, value in report.items():
        if isinstance(value, list):  # flagged agents: their ids, details in JSON
            row[name] = " ".join(str(item.get("agent_id")) for item in value)
        elif isinstance(value, dict):
            row.update({f"{name}.{key}": count for key, count in sorted(value.items())})
        else:
            row[name] = value
    return row
