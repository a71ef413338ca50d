"""``POST /v1/status-checks``: a fund checks one person or a list of up to 10,000."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from audit.actions import AuditAction
from gateway.auth.caller import StatusChecker
from gateway.routing import Audit, DbSession, State, TransactionRoute
from gateway.status import service
from gateway.status.schemas import ChecksIn, ChecksOut

router = APIRouter(prefix="/v1/status-checks", route_class=TransactionRoute, tags=["status"])


@router.post("", name=AuditAction.STATUS_REQUESTED, response_model=ChecksOut)
def post_checks(
    body: ChecksIn, caller: StatusChecker, session: DbSession, state: State, audit: Audit
) -> ChecksOut:
    """Whether each person is subject to a residence decision the gateway knows of.

    Each check states the regularity-of-residence purpose (the ``Purpose`` header), the
    agent (``Agent-Id``, or per check) and may give a case reference. A malformed check
    is answered with its errors by position; the others are answered all the same.
    ``none_known`` does not prove regular residence.
    """
    answers = service.check(
        session,
        caller,
        state.identity_keys,
        state.policy.policy,
        body.checks,
        audit.request_id,
    )
    audit.detail = {
        "checks": len(answers),
        "results": dict(Counter(str(a.result) for a in answers if a.result)),
        "malformed": sum(1 for a in answers if a.errors),
    }
    return ChecksOut(answers=answers)
