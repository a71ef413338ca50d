"""Answering status checks: exact matching on the identifiers' blind indexes.

Each item is validated on its own: a malformed one gets its errors by position and the
others are still answered. A person is found through the keyed blind indexes of the NIR
or NIA and of the AGDREF number sent, among decisions of the kinds the policy discloses
(an OQTF alone is recorded, never disclosed, so never answered). The answer carries the
result, how it matched, and for an adverse decision its broad kind, reference and dates:
nothing the fund did not send, no name, no identifier, no public-order ground. Each check
is an audit event naming the person by pseudonym, with the agent, case and match.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from audit.actions import AuditAction, AuditOutcome
from audit.writer import AuditDraft, append_rows, as_row
from gateway.decisions.models import Decision, DecisionStatus, DecisionVersion
from gateway.identities import service as identities
from gateway.identities.models import Identity
from gateway.status.schemas import (
    Adverse,
    CheckError,
    CheckIn,
    CheckOut,
    Match,
    Result,
)
from policies.evaluate import BROAD_KINDS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auth.caller import Caller
    from gateway.identities.service import IdentityKeys
    from policies.model import Policy


def _indexes(keys: IdentityKeys, check: CheckIn) -> tuple[list[str], list[str]]:
    """(blind indexes, audit pseudonyms) of the identifiers the fund sent."""
    matching = identities.Keys.of(check.identity)
    indexes = []
    if matching.agdref:
        indexes.append(identities.blind_index(keys, "agdref", matching.agdref))
    if matching.ssn:
        indexes.append(identities.blind_index(keys, "ssn", matching.ssn))
    return indexes, identities.subject_pseudonyms(keys, check.identity, matching)


def _decisions(session: Session, indexes: set[str], kinds: list[str]) -> dict[str, list[Any]]:
    """Blind index -> (decision, current version) of the decisions that carry it.

    Any version's identity may carry it; one query serves the whole request.
    """
    if not indexes:
        return {}
    matched = aliased(DecisionVersion)
    current = aliased(DecisionVersion)
    rows = session.execute(
        select(Identity.bi_agdref, Identity.bi_ssn, Decision, current)
        .join(matched, matched.identity_id == Identity.id)
        .join(Decision, Decision.id == matched.decision_id)
        .join(
            current,
            (current.decision_id == Decision.id) & (current.version == Decision.current_version),
        )
        .where(
            or_(Identity.bi_agdref.in_(indexes), Identity.bi_ssn.in_(indexes)),
            Decision.kind.in_(kinds),
        )
    ).all()
    found: dict[str, list[Any]] = {}
    seen: set[tuple[str, str]] = set()
    for bi_agdref, bi_ssn, decision, version in rows:
        for index in (bi_agdref, bi_ssn):
            if index in indexes and (index, decision.id) not in seen:
                seen.add((index, decision.id))
                found.setdefault(index, []).append((decision, version))
    return found


def check(
    session: Session,
    caller: Caller,
    keys: IdentityKeys,
    policy: Policy,
    items: list[dict[str, Any]],
    request_id: str | None,
) -> list[CheckOut]:
    """The answer to each item, in order; one audit event per valid check."""
    parsed: list[tuple[int, CheckIn, list[str], list[str]]] = []
    answers: dict[int, CheckOut] = {}
    for position, raw in enumerate(items):
        try:
            item = CheckIn.model_validate(raw)
        except ValidationError as error:
            answers[position] = CheckOut(
                position=position,
                errors=[
                    CheckError(
                        field=".".join(str(p) for p in e["loc"]) or "check",
                        rule=str(e["type"]),
                        message=str(e["msg"]),
                    )
                    for e in error.errors(include_url=False, include_input=False)
                ],
            )
            continue
        indexes, pseudonyms = _indexes(keys, item)
        parsed.append((position, item, indexes, pseudonyms))
    found = _decisions(
        session,
        {index for _, _, indexes, _ in parsed for index in indexes},
        list(policy.eligibility.disclosed),
    )
    events = []
    for position, item, indexes, pseudonyms in parsed:
        decisions = {d.id: (d, v) for index in indexes for d, v in found.get(index, [])}
        active = [(d, v) for d, v in decisions.values() if d.status == DecisionStatus.ACTIVE]
        if active:
            latest, version = max(active, key=lambda pair: (pair[0].created_at, pair[0].id))
            answer = CheckOut(
                position=position,
                result=Result.ADVERSE_DECISION,
                match=Match.EXACT,
                decision=Adverse(
                    kind_class=BROAD_KINDS.get(latest.kind, "refusal"),
                    reference=latest.reference,
                    notification_date=version.notification_date,
                    effect_date=version.effect_date,
                ),
            )
        elif decisions:
            answer = CheckOut(position=position, result=Result.CORRECTED, match=Match.EXACT)
        else:
            answer = CheckOut(position=position, result=Result.NONE_KNOWN, match=Match.NONE)
        answers[position] = answer
        events.append(
            as_row(
                AuditDraft(
                    action=AuditAction.STATUS_CHECKED,
                    request_id=request_id,
                    outcome=AuditOutcome.SUCCESS,
                    participant_id=caller.participant_id,
                    participant_kind=str(caller.kind),
                    acting_for=caller.acting_for,
                    agent_id=item.agent_id or caller.agent_id,
                    case_reference=item.case_reference or caller.case_reference,
                    purpose=caller.purpose,
                    object_ids=list(decisions),
                    subject_pseudonyms=pseudonyms,
                    detail={"match": str(answer.match), "result": str(answer.result)},
                )
            )
        )
    append_rows(session, events)
    return [answers[position] for position in range(len(items))]
