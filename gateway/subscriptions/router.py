"""Subscription routes: a fund replaces its set (streamed upload) or reads its counts."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request

from audit.actions import AuditAction
from gateway.auth.dependencies import SubscriptionWriter
from gateway.errors import InvalidField
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
    # The upload's malformed lines (``invalid-lines``) come back as a problem document.
    responses={422: {"content": {"application/problem+json": {"schema": {"type": "object"}}}}},
)
async def put_subscriptions(
    request: Request,
    caller: SubscriptionWriter,
    session: DbSession,
    state: State,
    audit: Audit,
    file_format: Annotated[SubscriptionFormat | None, Query(alias="format")] = None,
    allow_empty: Annotated[
        bool, Query(description="Say true to end every subscription with an empty upload.")
    ] = False,
) -> SubscriptionSetOut:
    """Replace the fund's whole set of subscriptions with the uploaded one (streamed).

    One line per person: an AGDREF number and/or a NIR/NIA, and the period the fund holds
    a file on them (``valid_from``, optional ``valid_until``, both inclusive). Only keyed
    blind indexes are stored. Any malformed line refuses the upload as a whole (422, each
    bad line named with its field and rule) and the previous set stays in force. A body
    is required; an upload without a line is refused (400) unless ``allow_empty=true``
    says that the fund holds no file any more.
    """
    if "content-length" not in request.headers and "transfer-encoding" not in request.headers:
        raise InvalidField("body", "required", "the body is the fund's whole set of people")
    chosen = upload_format(request, file_format)
    audit.detail = {"format": str(chosen)}
    try:
        upload = await anyio.to_thread.run_sync(
            functools.partial(
                service.replace_set,
                session,
                state.identity_keys,
                caller,
                chosen,
                blocking_chunks(request.stream()),
                audit.request_id,
                allow_empty=allow_empty,
            )
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
