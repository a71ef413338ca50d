"""Participant routes: who am I, and the registry for operators and auditors."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from audit.actions import AuditAction
from gateway import tenancy
from gateway.auth import possession
from gateway.auth.caller import Caller
from gateway.auth.dependencies import AnyCaller, KeyHolder, OperatorCaller, registered
from gateway.auth.scopes import Scope
from gateway.errors import Forbidden, InvalidField, NotFound
from gateway.participants import repository, service
from gateway.participants.models import ParticipantKind, ParticipantStatus
from gateway.participants.schemas import (
    PARTICIPANT_ID,
    ParticipantKeyIn,
    ParticipantOut,
    ParticipantPage,
)
from gateway.routing import Audit, DbSession, State, TransactionRoute

router = APIRouter(prefix="/v1/participants", route_class=TransactionRoute, tags=["participants"])
# Checked before any lookup: a NUL in an id would make PostgreSQL fail, and the audit too.
ParticipantId = Annotated[str, Path(pattern=PARTICIPANT_ID)]
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


@router.get("/me", name=AuditAction.PARTICIPANT_READ, response_model=ParticipantOut)
async def me(caller: AnyCaller, state: State, session: DbSession, audit: Audit) -> ParticipantOut:
    """The authenticated participant (or the one it acts for), as the registry knows it.

    From the registry's cache, which authenticating the caller has just filled, when the
    caller sees that participant by its kind alone; otherwise read through the caller's
    scope.
    """
    found = await registered(state, caller.acting_for)
    if found is not None and tenancy.sees_by_kind(caller, found.id):
        described = found.described
    else:
        participant = await run_in_threadpool(
            repository.get_visible, session, caller, caller.acting_for
        )
        if participant is None:  # pragma: no cover - the caller was just loaded
            raise NotFound("participant not found")
        described = service.describe(participant)
    audit.object_ids = [described.id]
    return described


@router.get("", name=AuditAction.PARTICIPANT_LISTED, response_model=ParticipantPage)
def list_participants(
    caller: AnyCaller,
    session: DbSession,
    audit: Audit,
    kind: ParticipantKind | None = None,
    after: Annotated[str | None, Query(pattern=PARTICIPANT_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ParticipantPage:
    """The participants the caller may see, by id, one page at a time."""
    found = repository.list_visible(session, caller, kind=kind, after=after, limit=limit + 1)
    page = found[:limit]
    audit.detail = {"count": len(page)}
    return ParticipantPage(
        items=[service.describe(p) for p in page],
        next_cursor=page[-1].id if len(found) > limit else None,
    )


@router.get("/{participant_id}", name=AuditAction.PARTICIPANT_SHOWN, response_model=ParticipantOut)
def show(
    participant_id: ParticipantId, caller: AnyCaller, session: DbSession, audit: Audit
) -> ParticipantOut:
    """One participant, if the caller may see it; otherwise 404, as if it did not exist."""
    audit.object_ids = [participant_id[:64]]
    participant = repository.get_visible(session, caller, participant_id)
    if participant is None:
        raise NotFound(f"no participant {participant_id!r} visible to {caller.participant_id}")
    return service.describe(participant)


@router.post(
    "/{participant_id}/suspend",
    name=AuditAction.PARTICIPANT_SUSPENDED,
    response_model=ParticipantOut,
)
def suspend(
    participant_id: ParticipantId, caller: OperatorCaller, session: DbSession, audit: Audit
) -> ParticipantOut:
    """Suspend a participant: its tokens stop working at once.

    An operator cannot suspend itself, nor the last active operator (409).
    """
    audit.object_ids = [participant_id[:64]]
    return service.describe(
        service.set_status(
            session, participant_id, ParticipantStatus.SUSPENDED, by=caller.participant_id
        )
    )


@router.post(
    "/{participant_id}/reactivate",
    name=AuditAction.PARTICIPANT_REACTIVATED,
    response_model=ParticipantOut,
)
def reactivate(
    participant_id: ParticipantId, _caller: OperatorCaller, session: DbSession, audit: Audit
) -> ParticipantOut:
    audit.object_ids = [participant_id[:64]]
    return service.describe(service.set_status(session, participant_id, ParticipantStatus.ACTIVE))


def _key_holder(caller: Caller, participant_id: str) -> None:
    """A participant manages its own keys, in its own name; an operator, anyone's."""
    if caller.kind == ParticipantKind.OPERATOR and Scope.ADMIN in caller.scopes:
        return
    if caller.participant_id == participant_id == caller.acting_for:
        return
    raise Forbidden(
        f"only {participant_id[:64]} itself or an operator manages its keys",
        slug="not-key-holder",
    )


@router.post(
    "/{participant_id}/keys",
    name=AuditAction.PARTICIPANT_KEY_ADDED,
    response_model=ParticipantOut,
    status_code=201,
)
def add_key(
    participant_id: ParticipantId,
    body: ParticipantKeyIn,
    caller: KeyHolder,
    session: DbSession,
    state: State,
    audit: Audit,
) -> ParticipantOut:
    """Register the participant's next signing key.

    Both keys authenticate until the old one is retired. By the participant itself (with
    a token got with its current key, and a proof signed with the new key that it holds
    it: `docs/operations.md`, Key lifecycle) or an operator.
    """
    audit.object_ids = [participant_id[:64]]
    _key_holder(caller, participant_id)
    if body.proof is None and caller.kind != ParticipantKind.OPERATOR:
        raise InvalidField(
            "proof", "required", "a participant proves it holds the key it adds: send proof"
        )
    if body.proof is not None:
        possession.verify_possession(
            session,
            state.settings,
            participant_id=participant_id,
            jwk=body.jwk,
            proof=body.proof,
            now=int(time.time()),
        )
    participant = service.add_key(session, participant_id, body.jwk)
    audit.detail = {"kid": body.jwk["kid"][:128]}
    return service.describe(participant)


@router.delete(
    "/{participant_id}/keys/{kid}",
    name=AuditAction.PARTICIPANT_KEY_RETIRED,
    response_model=ParticipantOut,
)
def retire_key(
    participant_id: ParticipantId,
    kid: KeyId,
    caller: KeyHolder,
    session: DbSession,
    audit: Audit,
) -> ParticipantOut:
    """Retire one of the participant's keys: its client assertions are refused from now on.

    Tokens already issued live out their few minutes. Never the last key.
    """
    audit.object_ids = [participant_id[:64]]
    audit.detail = {"kid": kid}
    _key_holder(caller, participant_id)
    return service.describe(service.retire_key(session, participant_id, kid))
