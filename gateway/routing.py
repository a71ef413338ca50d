"""The request owns the transaction, and every routed request leaves an audit event.

``TransactionRoute`` opens one session per request, runs the endpoint (dependencies
included), then appends the request's audit event and commits, all before the response
leaves. On any error it rolls back and records the refusal in a transaction of its
own, so a refused request leaves its trace and nothing else. Routes and services never
commit.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from audit.actions import AuditOutcome
from gateway.auditlog.writer import AuditDraft, append
from gateway.errors import GatewayError
from gateway.state import AppState, app_state

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from starlette.responses import Response

log = logging.getLogger("gateway.request")


def request_id(request: Request) -> str:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else uuid.uuid4().hex


def _failure(error: BaseException) -> tuple[AuditOutcome, dict[str, Any]]:
    if isinstance(error, HTTPException) and isinstance(error.__cause__, GatewayError):
        error = error.__cause__  # raised while FastAPI read the body, e.g. by BodySizeLimit
    if isinstance(error, GatewayError):
        outcome = AuditOutcome.REFUSED if error.status < 500 else AuditOutcome.ERROR  # noqa: PLR2004
        return outcome, {"status": error.status, "problem": error.slug}
    if isinstance(error, RequestValidationError):
        fields = sorted({".".join(str(part) for part in e.get("loc", ())) for e in error.errors()})
        return AuditOutcome.REFUSED, {"status": 400, "problem": "invalid-request", "fields": fields}
    if isinstance(error, HTTPException):
        outcome = AuditOutcome.REFUSED if error.status_code < 500 else AuditOutcome.ERROR  # noqa: PLR2004
        return outcome, {"status": error.status_code, "problem": "http-error"}
    return AuditOutcome.ERROR, {"status": 500, "problem": "internal-error"}


def _record_failure(state: AppState, draft: AuditDraft, error: BaseException) -> None:
    draft.outcome, detail = _failure(error)
    draft.detail = {**draft.detail, **detail}
    with state.sessions.begin() as session:
        append(session, draft)


class TransactionRoute(APIRoute):
    """An ``APIRoute`` whose name is the audit action of its requests."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        action = self.name

        async def run(request: Request) -> Response:
            state = app_state(request)
            draft = AuditDraft(action=action, request_id=request_id(request))
            request.state.audit = draft
            session = state.sessions()
            request.state.db = session
            try:
                response = await handler(request)
                append(session, draft)
                await run_in_threadpool(session.commit)
            except BaseException as error:
                await run_in_threadpool(session.rollback)
                try:
                    await run_in_threadpool(_record_failure, state, draft, error)
                except Exception:
                    log.exception("could not record the audit event of a failed request")
                    raise error from None
                raise
            finally:
                await run_in_threadpool(session.close)
            return response

        return run


def end_authentication(session: Session) -> None:
    """Commit what authenticating the request wrote, before a long job of its own.

    Authentication may have recorded one-time proof ids; a job that owns transactions of
    its own (the import) must not wait behind the request's (on SQLite it would wait for
    the write lock). The request's audit event still lands at the end, in a fresh
    transaction of the same session.
    """
    session.commit()


# Plain accessors are coroutines so FastAPI runs them on the event loop instead of
# paying a worker-thread hop for each.
async def _session(request: Request) -> Session:
    session: Session = request.state.db
    return session


async def _audit(request: Request) -> AuditDraft:
    draft: AuditDraft = request.state.audit
    return draft


DbSession = Annotated[Session, Depends(_session)]
Audit = Annotated[AuditDraft, Depends(_audit)]


async def _state(request: Request) -> AppState:
    return app_state(request)


State = Annotated[AppState, Depends(_state)]
