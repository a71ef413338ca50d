"""Subscription routes: a fund replaces its set (streamed upload) or reads its counts."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request

from audit.actions import AuditAction
from gateway.auth.dependencies import SubscriptionWriter
from gateway.routing import Audit, DbSession, State, TransactionRoute
from gateway.streaming import OPENAPI_BODY, blocking_chunks, upload_format
from gateway.subscriptions import service
from gateway.subscriptions.schemas import SubscriptionFormat, SubscriptionSetOut

router = APIRouter(prefix="/v1/subscriptions", route_class=TransactionRoute, tags=["subscriptions"])


@router.put(
    "",
    name=AuditAction.SUBSCRIPTIONS_REPLACED,
    response_model=SubscriptionSetOut,
    openapi_extra=OPENAPI_BODY,
)
async def put_subscriptions(
    request: Request,
    caller: SubscriptionWriter,
    session: DbSession,
    state: State,
    audit: Audit,
    file_format: Annotated[SubscriptionFormat | None, Query(alias="format")] = None,
) -> SubscriptionSetOut:
    """Replace the fund's whole set of subscriptions with the uploaded one (streamed).

    One line per person: an AGDREF number and/or a NIR/NIA, and the period the fund holds
    a file on them (``valid_from``, optional ``valid_until``, both inclusive). Only keyed
    blind indexes are stored. Any malformed line refuses the upload as a whole (422, each
    bad line named with its field and rule) and the previous set stays in force.
    """
    chosen = upload_format(request, file_format)
    audit.detail = {"format": str(chosen)}
    try:
        upload = await anyio.to_thread.run_sync(
            service.replace_set,
            session,
            state.identity_keys,
            caller,
            chosen,
            blocking_chunks(request.stream()),
            audit.request_id,
        )
    except service.InvalidLines as error:
        audit.detail["lines_reported"] = len(error.errors)
        raise
    audit.object_ids = [upload.id]
    audit.detail = {
        "format": str(chosen),
        "lines": upload.lines,
        "people": upload.people,
        "identifiers": upload.identifiers,
    }
    return await anyio.to_thread.run_sync(service.current_set, session, caller)


@router.get("", name=AuditAction.SUBSCRIPTIONS_READ, response_model=SubscriptionSetOut)
def get_subscriptions(caller: SubscriptionWriter, session: DbSession) -> SubscriptionSetOut:
    """The fund's current set, as counts: the gateway keeps no identifier in clear."""
    return service.current_set(session, caller)
