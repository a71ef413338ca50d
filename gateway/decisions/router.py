"""Decision routes for prefectures: post, read, list, correct."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from audit.actions import AuditAction
from gateway.auth.dependencies import PrefectureCaller, PrefectureWriter
from gateway.decisions import repository, service
from gateway.decisions.models import DecisionKind, DecisionStatus
from gateway.decisions.schemas import (
    CorrectionIn,
    DecisionIn,
    DecisionOut,
    DecisionPage,
    DecisionSummary,
)
from gateway.errors import InvalidField, NotFound
from gateway.params import SAFE_TEXT_PATTERN, Instant, SafeText
from gateway.routing import Audit, DbSession, State, TransactionRoute

router = APIRouter(prefix="/v1/decisions", route_class=TransactionRoute, tags=["decisions"])
DECISION_ID = r"^[0-9a-f-]{36}$"
SAFE = SAFE_TEXT_PATTERN


@router.post(
    "",
    name=AuditAction.DECISION_CREATED,
    response_model=DecisionOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The same body was posted before: the same decision."}},
)
def post_decision(
    payload: DecisionIn,
    caller: PrefectureWriter,
    session: DbSession,
    state: State,
    audit: Audit,
    response: Response,
) -> DecisionOut:
    """Post one decision; idempotent on the prefecture's own reference."""
    posted = service.post(
        session, caller, state.identity_keys, state.policy, payload, audit.request_id
    )
    audit.subject_pseudonyms = posted.subjects
    audit.object_ids = [posted.decision.id]
    audit.detail = {"kind": str(payload.kind), "replayed": not posted.created}
    if not posted.created:
        response.status_code = status.HTTP_200_OK
    described, _ = service.describe(session, state.identity_keys, posted.decision)
    return described


@router.get("/{decision_id}", name=AuditAction.DECISION_READ, response_model=DecisionOut)
def get_decision(
    decision_id: Annotated[str, Path(pattern=DECISION_ID)],
    caller: PrefectureCaller,
    session: DbSession,
    state: State,
    audit: Audit,
) -> DecisionOut:
    """One of the caller's decisions, with every version and where it was disclosed."""
    audit.object_ids = [decision_id[:64]]
    decision = repository.get_for(session, caller, decision_id)
    if decision is None:
        raise NotFound(f"no decision {decision_id} for {caller.acting_for}")
    described, subjects = service.describe(session, state.identity_keys, decision)
    audit.subject_pseudonyms = subjects
    return described


@router.get("", name=AuditAction.DECISION_LISTED, response_model=DecisionPage)
def list_decisions(
    caller: PrefectureCaller,
    session: DbSession,
    audit: Audit,
    kind: DecisionKind | None = None,
    decision_status: Annotated[DecisionStatus | None, Query(alias="status")] = None,
    departement: Annotated[SafeText | None, Query(max_length=3, pattern=SAFE)] = None,
    reference: Annotated[SafeText | None, Query(max_length=64, pattern=SAFE)] = None,
    # Aware: a naive time would be a guess, and the database stores UTC instants.
    created_from: Instant | None = None,
    created_before: Instant | None = None,
    after: Annotated[SafeText | None, Query(max_length=200, pattern=SAFE)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DecisionPage:
    """The caller's decisions, oldest first, without identities; filter and page."""
    filters = repository.DecisionFilters(
        kind=kind,
        status=decision_status,
        departement=departement,
        reference=reference,
        created_from=created_from,
        created_before=created_before,
    )
    try:
        found = repository.list_for(session, caller, filters, after=after, limit=limit + 1)
    except repository.InvalidCursor as error:
        raise InvalidField("after", "cursor", "this cursor was not given by the gateway") from error
    page = found[:limit]
    audit.detail = {"count": len(page)}
    return DecisionPage(
        items=[DecisionSummary.model_validate(d, from_attributes=True) for d in page],
        next_cursor=repository.encode_cursor(page[-1]) if len(found) > limit else None,
    )


@router.post(
    "/{decision_id}/corrections",
    name=AuditAction.DECISION_CORRECTED,
    response_model=DecisionOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The same correction was posted before."}},
)
def correct_decision(
    decision_id: Annotated[str, Path(pattern=DECISION_ID)],
    payload: CorrectionIn,
    caller: PrefectureWriter,
    session: DbSession,
    state: State,
    audit: Audit,
    response: Response,
) -> DecisionOut:
    """Annulment, withdrawal or abrogation, supersession by a new permit, or a data fix."""
    audit.object_ids = [decision_id[:64]]
    decision = repository.get_for(session, caller, decision_id, lock=True)
    if decision is None:
        raise NotFound(f"no decision {decision_id} for {caller.acting_for}")
    created, subjects = service.correct(
        session, state.identity_keys, state.policy, decision, payload, audit.request_id
    )
    audit.subject_pseudonyms = subjects
    audit.detail = {"correction": str(payload.kind), "replayed": not created}
    if not created:
        response.status_code = status.HTTP_200_OK
    described, _ = service.describe(session, state.identity_keys, decision)
    return described
