"""``POST /v1/status-checks``: a fund checks one person or a list of up to 10,000."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

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
from gateway.status.schemas import NOTE, CheckOut, ChecksIn, ChecksOut
from gateway.streaming import CONTENT_TYPES, UploadFormat, blocking_chunks

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auditlog.writer import AuditDraft
    from gateway.auth.caller import Caller
    from gateway.state import AppState

# Up to this many checks, a request is looked up in the transaction that counts them and
# its events go to the group commit; a larger one (a sweep, up to 10,000) counts first.
FEW_CHECKS = 20

NDJSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}

router = APIRouter(prefix="/v1/status-checks", route_class=TransactionRoute, tags=["status"])


@router.post("", name=AuditAction.STATUS_REQUESTED, response_model=ChecksOut)
@checks_items_one_by_one
async def post_checks(
    body: ChecksIn, caller: StatusChecker, session: DbSession, state: State, audit: Audit
) -> Response:
    """Whether each person is subject to a residence decision the gateway knows of.

    Each check states the regularity-of-residence purpose (the ``Purpose`` header), the
    agent (``Agent-Id``, or per check) and may give a case reference. A malformed check
    is answered with its errors by position; the others are answered all the same.
    ``none_known`` does not prove regular residence.
    """
    tenancy.fund_data_rights(caller)
    # A few checks' events are committed with the request's own (``joined``): in the group
    # commit, with those of concurrent requests, durable before the answer leaves.
    answers = await run_in_threadpool(
        _check, session, state, caller, body, audit.request_id, audit.joined
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


def _check(
    session: Session,
    state: AppState,
    caller: Caller,
    body: ChecksIn,
    request_id: str | None,
    events: list[AuditDraft],
) -> list[CheckOut]:
    """The answers, in one worker-thread hop for all the database work.

    A request of up to ``FEW_CHECKS`` checks is looked up in the transaction that counts
    its checks, its events handed back in ``events``; a larger one counts its checks
    first, in a transaction of its own, so that a refused sweep costs no lookups, and
    appends its events in the request's transaction.
    """
    end_authentication(session)  # the limits take a short transaction of their own
    checks = list(enumerate(body.checks))
    keys, policy = state.identity_keys, state.policy.policy
    if len(checks) <= FEW_CHECKS:
        with limits.checks_taken(state.sessions, caller, state.settings, len(checks)) as counting:
            return service.check(counting, caller, keys, policy, checks, request_id, events=events)
    limits.take_checks(state.sessions, caller, state.settings, len(checks))
    return service.check(session, caller, keys, policy, checks, request_id)


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
