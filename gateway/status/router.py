"""``POST /v1/status-checks``: a fund checks one person or a list of up to 10,000."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from audit.actions import AuditAction
from gateway import tenancy
from gateway.auth.dependencies import StatusChecker
from gateway.errors import InvalidField
from gateway.metrics import instruments
from gateway.routing import (
    Audit,
    DbSession,
    State,
    TransactionRoute,
    checks_items_one_by_one,
    end_authentication,
)
from gateway.status import limits, service, stream
from gateway.status.schemas import NOTE, ChecksIn, ChecksOut
from gateway.streaming import CONTENT_TYPES, UploadFormat, blocking_chunks

NDJSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}

router = APIRouter(prefix="/v1/status-checks", route_class=TransactionRoute, tags=["status"])


@router.post("", name=AuditAction.STATUS_REQUESTED, response_model=ChecksOut)
@checks_items_one_by_one
def post_checks(
    body: ChecksIn, caller: StatusChecker, session: DbSession, state: State, audit: Audit
) -> Response:
    """Whether each person is subject to a residence decision the gateway knows of.

    Each check states the regularity-of-residence purpose (the ``Purpose`` header), the
    agent (``Agent-Id``, or per check) and may give a case reference. A malformed check
    is answered with its errors by position; the others are answered all the same.
    ``none_known`` does not prove regular residence.
    """
    tenancy.fund_data_rights(caller)
    settings = state.settings
    end_authentication(session)  # the limits take a short transaction of their own
    limits.take_checks(
        state.sessions,
        fund_id=caller.acting_for,
        agent_id=caller.agent_id or "",
        amount=len(body.checks),
        per_fund=settings.status_checks_per_fund,
        per_agent=settings.status_checks_per_agent,
        window=timedelta(seconds=settings.status_check_window_seconds),
    )
    answers = service.check(
        session,
        caller,
        state.identity_keys,
        state.policy.policy,
        list(enumerate(body.checks)),
        audit.request_id,
    )
    instruments.status_checked(answers)
    audit.detail = {
        "checks": len(answers),
        "results": dict(Counter(str(a.result) for a in answers if a.result)),
        "malformed": sum(1 for a in answers if a.errors),
    }
    # Answers are built from trusted values: serialised as they are, not validated again.
    answered = ChecksOut.model_construct(answers=answers, note=NOTE).model_dump_json()
    return Response(answered, media_type="application/json")


@router.post(
    "/stream",
    name=AuditAction.STATUS_STREAMED,
    response_class=StreamingResponse,
    openapi_extra=NDJSON_BODY,
)
async def post_check_stream(
    request: Request, caller: StatusChecker, session: DbSession, state: State, audit: Audit
) -> StreamingResponse:
    """A sweep of any size: one check per NDJSON line, one answer per line back.

    Each line is an item as in ``POST /v1/status-checks``; its answer's ``position`` is
    its line number minus one. A last line sums the stream up: checks, results, match
    levels, and where and why it stopped if a rate limit was reached. Checks are
    answered and audited in blocks as the body arrives; answers go back once it is read.
    """
    tenancy.fund_data_rights(caller)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if CONTENT_TYPES.get(content_type) != UploadFormat.NDJSON:
        raise InvalidField(
            "Content-Type", "ndjson-required", "send the checks as application/x-ndjson"
        )
    end_authentication(session)  # each block takes a transaction of its own
    out, summary = await anyio.to_thread.run_sync(
        stream.check_stream,
        state.sessions,
        caller,
        state.identity_keys,
        state.policy.policy,
        state.settings,
        blocking_chunks(request.stream()),
        audit.request_id,
    )
    audit.detail = summary.as_dict()
    return StreamingResponse(stream.read_back(out), media_type="application/x-ndjson")
