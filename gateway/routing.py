"""The request owns the transaction, and every routed request leaves an audit event.

``TransactionRoute`` opens one session per request, runs the endpoint (dependencies
included), then appends the request's audit event and commits, all before the response
leaves. A request that used no transaction (its caller and data came from memory) hands
its event to the group commit (``gateway.auditlog.group``): durable before the answer
all the same, in one transaction with those of concurrent requests. On any error it
rolls back and records the refusal in a transaction of its own, so a refused request
leaves its trace and nothing else. Routes and services never commit.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import uuid
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from audit.actions import AuditOutcome
from gateway.auditlog.writer import AuditDraft, append, append_few
from gateway.errors import DatabaseUnavailable, GatewayError
from gateway.logs import log_error
from gateway.metrics import instruments
from gateway.params import CONTROL, HEADER_CONTROL, json_problem, printable
from gateway.state import AppState, app_state
from gateway.storage.outage import RETRY_AFTER_SECONDS, unavailable_cause
from gateway.tracing import TRACEPARENT, caller_traceparent

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from starlette.responses import Response

log = logging.getLogger("gateway.request")
# What the request's JSON body holds that no column can (a NUL, an integer past 64 bits),
# found before the route runs and refused after the body's own rules have spoken.
_unstorable: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar(
    "unstorable", default=None
)
JSON_TYPES = ("application/json",)


def request_id(request: Request) -> str:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else uuid.uuid4().hex


def _failure(error: BaseException) -> tuple[AuditOutcome, dict[str, Any]]:
    if isinstance(error, HTTPException) and isinstance(error.__cause__, GatewayError):
        error = error.__cause__  # raised while FastAPI read the body, e.g. by BodySizeLimit
    if isinstance(error, GatewayError):
        outcome = AuditOutcome.REFUSED if error.status < 500 else AuditOutcome.ERROR  # noqa: PLR2004
        detail: dict[str, Any] = {"status": error.status, "problem": error.slug}
        if error.errors:
            detail["fields"] = sorted({printable(e.field) for e in error.errors})[:50]
            detail["rules"] = sorted({printable(e.rule) for e in error.errors})[:50]
        return outcome, detail
    if isinstance(error, RequestValidationError):
        # Field names may come from the caller (a member of its JSON): kept printable.
        fields = sorted(
            {printable(".".join(str(part) for part in e.get("loc", ()))) for e in error.errors()}
        )
        rules = sorted({printable(str(e.get("type", "invalid"))) for e in error.errors()})
        detail = {"status": 400, "problem": "invalid-request", "fields": fields[:50]}
        return AuditOutcome.REFUSED, {**detail, "rules": rules[:50]}
    if isinstance(error, HTTPException):
        outcome = AuditOutcome.REFUSED if error.status_code < 500 else AuditOutcome.ERROR  # noqa: PLR2004
        return outcome, {"status": error.status_code, "problem": "http-error"}
    return AuditOutcome.ERROR, {"status": 500, "problem": "internal-error"}


def record_durably(state: AppState, draft: AuditDraft, *, database_down: bool = False) -> None:
    """Append ``draft`` in a transaction of its own, or spool it if the database is down.

    A refusal leaves its trace either way (``gateway.auditlog.spool``).
    """
    if not database_down:
        try:
            with state.sessions.begin() as session:
                append(session, draft)
        except Exception as error:
            cause = unavailable_cause(error)
            if cause is None:
                raise
            state.outages.failed(cause)
        else:
            return
    state.spool.write(draft)


def _record_failure(state: AppState, draft: AuditDraft, error: BaseException) -> None:
    draft.outcome, detail = _failure(error)
    draft.detail = {**draft.detail, **detail}
    instruments.audited(str(draft.action), str(draft.outcome), str(detail.get("problem")))
    record_durably(state, draft, database_down=isinstance(error, DatabaseUnavailable))


def with_caller_trace(draft: AuditDraft, traceparent: str | None) -> None:
    """Record the caller's valid ``traceparent`` in the event's detail (none: nothing)."""
    if traceparent is not None:
        draft.detail = {**draft.detail, "traceparent": traceparent}


async def _commit(state: AppState, session: Session, draft: AuditDraft) -> None:
    """Commit the request's event with what the route wrote, durably, before it answers.

    A route that used no transaction and left nothing to flush owes its events alone (the
    request's, and those of the items it answered, ``draft.joined``): they go to the group
    commit, as one unit. Otherwise they join the route's transaction, committed (and the
    connection let go) in one worker-thread hop.
    """
    if not (session.in_transaction() or session.new or session.dirty or session.deleted):
        await state.audit_writer.write(*draft.joined, draft)
        return

    def commit() -> None:
        append_few(session, [*draft.joined, draft])
        session.commit()
        session.close()

    await run_in_threadpool(commit)


async def _release(session: Session, *, failing: bool) -> None:
    """Close the session; in a worker thread only if it holds a connection to give back."""
    if session.in_transaction():
        await run_in_threadpool(_quietly, session.close, failing)
    else:
        session.close()


def _quietly(action: Callable[[], object], failing: bool) -> None:
    """Run ``action`` (a rollback, a close), ignoring its failure if the database failed.

    The connection is then gone, and the pool drops it.
    """
    try:
        action()
    except Exception:
        if not failing:
            raise


def _control_character(location: str, name: str, what: str) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "control-character",
                "loc": (location, printable(name)),
                "msg": f"control characters (such as NUL) are not allowed in {what}",
            }
        ]
    )


def refuse_control_characters(request: Request) -> None:
    """Refuse a control character in a query string name or value, or in a header.

    The safety net under every route's own parameter rules: the refusal names the
    parameter even where the route declares no such parameter.
    """
    for name, value in request.query_params.multi_items():
        if CONTROL.search(name) or CONTROL.search(value):
            raise _control_character("query", name, "a query parameter")
    for raw_name, raw_value in request.scope["headers"]:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if HEADER_CONTROL.search(name) or HEADER_CONTROL.search(value):
            raise _control_character("header", name, "a header")


async def _json_problem(request: Request) -> tuple[str, str, str] | None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES and not content_type.endswith("+json"):
        return None
    try:
        # Parsed once: FastAPI reads the same cached document to validate it.
        document = await request.json()
    except (ValueError, RecursionError):
        return None  # FastAPI refuses it as it reads it
    return json_problem(document)


def _refuse_unstorable_body() -> None:
    found = _unstorable.get()
    if found is not None:
        where, rule, message = found
        raise RequestValidationError(
            [{"type": rule, "loc": ("body", *where.split(".")), "msg": message}]
        )


ITEMS_CHECKED = "_gateway_items_checked_one_by_one"
Endpoint = TypeVar("Endpoint", bound="Callable[..., Any]")


def checks_items_one_by_one(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint whose body is a list of items it validates and answers one by one.

    The JSON safety net then leaves the body to it: a malformed item gets its own errors
    by position, and the others their answers, as the endpoint documents.
    """
    setattr(endpoint, ITEMS_CHECKED, True)
    return endpoint


def _guarded(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, first refusing a JSON body its model accepted but no column can store.

    FastAPI still reads the endpoint's own signature (through ``__wrapped__``).
    """
    if getattr(endpoint, ITEMS_CHECKED, False):
        return endpoint
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            _refuse_unstorable_body()
            return await endpoint(*args, **kwargs)

        return guarded_async

    @functools.wraps(endpoint)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _refuse_unstorable_body()
        return endpoint(*args, **kwargs)

    return guarded


ANSWERS_DURING_OUTAGES = "_gateway_answers_during_outages"


def answers_during_outages(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a route whose answer needs nothing of the database to be true.

    While the database is down it still answers, and its audit event goes to the spool
    (replayed once the database is back). ``/metrics`` is one: an outage is what it must
    report.
    """
    setattr(endpoint, ANSWERS_DURING_OUTAGES, True)
    return endpoint


class TransactionRoute(APIRoute):
    """An ``APIRoute`` whose name is the audit action of its requests.

    Before the route runs, control characters in the query string and headers are
    refused (``refuse_control_characters``); a JSON body is refused if it holds a text
    with a control character, an integer past 64 bits or a number that is not finite,
    once the body's own rules have passed (so a rule of the model, more precise, speaks
    first). Both refusals are 400 problems naming the field and the rule, and audited.

    A caller's valid W3C ``traceparent`` header is recorded in the event's detail, in its
    canonical form; an invalid one is ignored.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.answers_during_outages = bool(getattr(endpoint, ANSWERS_DURING_OUTAGES, False))
        super().__init__(path, _guarded(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        action = self.name
        reads_body = self.body_field is not None
        answers_during_outages = self.answers_during_outages

        async def run(request: Request) -> Response:
            state = app_state(request)
            draft = AuditDraft(action=action, request_id=request_id(request))
            caller_trace = caller_traceparent(request.headers.getlist(TRACEPARENT))
            request.state.audit = draft
            session = state.sessions()
            request.state.db = session
            down = False
            response: Response | None = None
            try:
                refuse_control_characters(request)
                _unstorable.set(await _json_problem(request) if reads_body else None)
                response = await handler(request)
                with_caller_trace(draft, caller_trace)
                await _commit(state, session, draft)
            except BaseException as error:
                cause = unavailable_cause(error)
                down = cause is not None
                await run_in_threadpool(_quietly, session.rollback, down)
                if cause is not None and response is not None and answers_during_outages:
                    state.outages.failed(cause, request_id=draft.request_id)
                    await run_in_threadpool(state.spool.write, draft)
                    instruments.audited(str(draft.action), str(draft.outcome), detail=draft.detail)
                    return response
                failure: BaseException = error
                if cause is not None:
                    # Not a bug: one line per cause (rate-limited), a 503 with Retry-After.
                    state.outages.failed(cause, request_id=draft.request_id)
                    failure = DatabaseUnavailable(RETRY_AFTER_SECONDS)
                with_caller_trace(draft, caller_trace)
                try:
                    await run_in_threadpool(_record_failure, state, draft, failure)
                except Exception as failed:  # noqa: BLE001 - logged, and the request's error goes on
                    log_error(log, "could not record the audit event of a failed request", failed)
                if failure is error:
                    raise
                raise failure from None
            finally:
                await _release(session, failing=down)
            instruments.audited(str(draft.action), str(draft.outcome), detail=draft.detail)
            state.outages.recovered()
            state.spool.replay_soon(state.sessions, state.outages)
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
