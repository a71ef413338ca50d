"""``POST /v1/status-checks``: a fund checks one person or a list of up to 10,000."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from fastapi import APIRouter

from audit.actions import AuditAction
from gateway.auth.caller import StatusChecker
from gateway.routing import Audit, DbSession, State, TransactionRoute, end_authentication
from gateway.status import limits, service
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
        body.checks,
        audit.request_id,
    )
    audit.detail = {
        "checks": len(answers),
        "results": dict(Counter(str(a.result) for a in answers if a.result)),
        "malformed": sum(1 for a in answers if a.errors),
    }
    return ChecksOut(answers=answers)
