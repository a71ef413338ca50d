"""What auditors ask: events by filter (within their territory), and one person's report.

A person is named by an AGDREF number or a NIR/NIA, turned server-side into the keyed
pseudonyms the audit events carry and the blind indexes the identities carry: neither the
query string's identifier nor any other reaches a log or an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, or_, select

from audit.actions import AuditAction
from audit.pseudonyms import pseudonym
from gateway.auditlog.models import AuditEvent
from gateway.batches.models import Batch, RecordOutcome
from gateway.decisions.models import Decision, DecisionVersion
from gateway.disclosures.models import Disclosure
from gateway.errors import InvalidField
from gateway.identities.agdref import parse_agdref
from gateway.identities.errors import IdentityFieldError
from gateway.identities.models import Identity
from gateway.identities.nir import NumberType, parse_social_security_number
from gateway.participants.models import ParticipantTerritory

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller
    from gateway.identities.service import IdentityKeys
    from policies.model import Policy


@dataclass(frozen=True)
class Subject:
    pseudonyms: list[str]  # as the audit events name the person
    indexes: list[str]  # as the identities are indexed


def subject_of(keys: IdentityKeys, agdref_number: str | None, nir: str | None) -> Subject:
    """The person's pseudonyms and blind indexes, from exactly one identifier."""
    if (agdref_number is None) == (nir is None):
        raise InvalidField("agdref_number", "one-of", "give an agdref_number or a nir, not both")
    if agdref_number is not None:
        try:
            canonical = parse_agdref(agdref_number).canonical
        except IdentityFieldError as error:
            raise InvalidField("agdref_number", error.rule, str(error)) from error
        return Subject(
            [pseudonym(keys.pseudonym_key, "agdref", canonical)],
            [pseudonym(keys.blind_index_key, "agdref", canonical)],
        )
    try:
        number = parse_social_security_number(nir or "", NumberType.NIR).number
    except IdentityFieldError as error:
        raise InvalidField("nir", error.rule, str(error)) from error
    return Subject(
        [pseudonym(keys.pseudonym_key, "nir", number)],
        [pseudonym(keys.blind_index_key, "ssn", number)],
    )


def _mentions(values: list[str]) -> Any:
    """Events whose subject pseudonyms include one of ``values`` (JSON array, both backends)."""
    text = cast(AuditEvent.subject_pseudonyms, String)
    return or_(*(text.contains(f'"{value}"') for value in values))


def _within_territory(
    statement: Select[AuditEvent], caller: Caller, departement: str | None
) -> Select[AuditEvent]:
    """Events of participants covering the auditor's territory (all for a national one)."""
    territory = list(caller.territory)
    if departement is not None:
        if not caller.national and departement not in territory:
            raise InvalidField(
                "departement", "outside-territory", f"département {departement} is not yours"
            )
        territory = [departement]
    elif caller.national:
        return statement
    covered = select(ParticipantTerritory.participant_id).where(
        ParticipantTerritory.departement.in_(territory)
    )
    return statement.where(AuditEvent.acting_for.in_(covered))


def events_query(
    caller: Caller,
    *,
    participant: str | None = None,
    action: str | None = None,
    purpose: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: Subject | None = None,
    departement: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Select[AuditEvent]:
    """The events the auditor may see that match, oldest first, after the cursor."""
    statement = _within_territory(
        select(AuditEvent).where(AuditEvent.id > after_id), caller, departement
    )
    if participant is not None:
        statement = statement.where(
            or_(AuditEvent.participant_id == participant, AuditEvent.acting_for == participant)
        )
    for column, value in (
        (AuditEvent.action, action),
        (AuditEvent.purpose, purpose),
        (AuditEvent.outcome, outcome),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if since is not None:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.occurred_at < until)
    if subject is not None:
        statement = statement.where(_mentions(subject.pseudonyms))
    return statement.order_by(AuditEvent.id).limit(limit)


def subject_report(session: Session, policy: Policy, subject: Subject) -> dict[str, Any]:
    """Every decision about the person, who received which fields when, every event."""
    identity_ids = select(Identity.id).where(
        or_(Identity.bi_agdref.in_(subject.indexes), Identity.bi_ssn.in_(subject.indexes))
    )
    decision_ids = sorted(
        set(
            session.scalars(
                select(DecisionVersion.decision_id).where(
                    DecisionVersion.identity_id.in_(identity_ids)
                )
            )
        )
    )
    decisions = []
    for decision in session.scalars(
        select(Decision).where(Decision.id.in_(decision_ids)).order_by(Decision.created_at)
    ):
        versions = session.scalars(
            select(DecisionVersion)
            .where(DecisionVersion.decision_id == decision.id)
            .order_by(DecisionVersion.version)
        ).all()
        rows = session.execute(
            select(Disclosure, Batch.delivered_at, Batch.acknowledged_at, RecordOutcome.outcome)
            .outerjoin(Batch, Batch.id == Disclosure.batch_id)
            .outerjoin(RecordOutcome, RecordOutcome.disclosure_id == Disclosure.id)
            .where(Disclosure.decision_id == decision.id)
            .order_by(Disclosure.version, Disclosure.fund_id)
        ).all()
        decisions.append(
            {
                "decision_id": decision.id,
                "reference": decision.reference,
                "prefecture": decision.prefecture_id,
                "kind": decision.kind,
                "status": decision.status,
                "decided_on": versions[0].decision_date.isoformat() if versions else None,
                "corrections": [
                    {
                        "version": v.version,
                        "kind": v.correction_kind,
                        "date": v.correction_date.isoformat() if v.correction_date else None,
                    }
                    for v in versions
                    if v.correction_kind
                ],
                "disclosures": [
                    {
                        "fund": d.fund_id,
                        "version": d.version,
                        "state": d.state,
                        "fields": list(policy.profiles.get(d.profile, [])),
                        "owed_since": d.created_at.isoformat(),
                        "delivered_at": delivered.isoformat() if delivered else None,
                        "acknowledged_at": acknowledged.isoformat() if acknowledged else None,
                        "outcome": outcome,
                    }
                    for d, delivered, acknowledged, outcome in rows
                ],
            }
        )
    events = session.scalars(
        select(AuditEvent).where(_mentions(subject.pseudonyms)).order_by(AuditEvent.id)
    ).all()
    return {
        "decisions": decisions,
        "accesses": [
            {
                "at": event.occurred_at.isoformat(),
                "action": event.action,
                "body": event.acting_for or event.participant_id,
                "purpose": event.purpose,
                "outcome": event.outcome,
            }
            for event in events
        ],
        # The status checks that concerned the person: which body, when, how it matched.
        "status_checks": [
            {
                "at": event.occurred_at.isoformat(),
                "body": event.acting_for or event.participant_id,
                "outcome": event.outcome,
                "match": event.detail.get("match"),
                "result": event.detail.get("result"),
            }
            for event in events
            if event.action == AuditAction.STATUS_CHECKED
        ],
    }
