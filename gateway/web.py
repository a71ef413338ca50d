"""HTTP plumbing: request ids and access logs, body size limits, problem documents."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from audit.actions import AuditAction, AuditOutcome
from gateway.auditlog.writer import AuditDraft
from gateway.errors import DatabaseUnavailable, FieldError, GatewayError, PayloadTooLarge
from gateway.logs import log_error
from gateway.metrics import instruments
from gateway.routing import record_durably, with_caller_trace
from gateway.storage.outage import RETRY_AFTER_SECONDS, unavailable_cause
from gateway.tracing import TRACEPARENT, caller_traceparent

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = logging.getLogger("gateway.access")


def instance_of(path: str) -> str:
    """The problem's ``instance``: the request path as a URI reference (percent-encoded)."""
    return quote(path, safe="/!$&'()*+,;=:@-._~")


def problem_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class RequestContext:
    """Give each request an id, echo it back, and write one access log line.

    The id is kept from ``X-Request-Id`` if well-formed. The log line has the method,
    the route template, the status and the time; never the query string, which may
    carry an identifier.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            # Answered here rather than by Starlette's outermost error middleware, so that
            # the 500 carries the request id like every other response.
            cause = unavailable_cause(error)
            if cause is not None:
                await self._unavailable(scope, receive, send_with_id, cause, responded=responded)
                return
            log_error(
                logging.getLogger("gateway.error"), "unhandled error", error, request_id=request_id
            )
            if responded:
                raise
            body = {
                "type": "/problems/internal-error",
                "title": "Internal error",
                "status": 500,
                "detail": "the gateway could not complete the request; it has been logged",
                "instance": instance_of(scope.get("path", "")),
            }
            await problem_response(body, 500)(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            instruments.answered(route, scope["method"], status, elapsed)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )

    @staticmethod
    async def _unavailable(
        scope: Scope, receive: Receive, send: Send, cause: str, *, responded: bool
    ) -> None:
        """The database failed outside a route's own handling (a streamed answer, say)."""
        state = getattr(getattr(scope.get("app"), "state", None), "gateway", None)
        request_id = scope.get("state", {}).get("request_id")
        if state is not None:
            state.outages.failed(cause, request_id=request_id)
        if responded:
            return  # the answer has begun: it ends short, as the client will see
        error = DatabaseUnavailable(RETRY_AFTER_SECONDS)
        body = error.problem(instance_of(scope.get("path", "")))
        await problem_response(body, error.status, error.headers)(scope, receive, send)


class BodySizeLimit:
    """Refuses bodies over the limit, declared or streamed, with a 413 problem."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope["path"], self.default_max_bytes)
        await self._limited(scope, receive, send, max_bytes)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await self._refuse(scope, receive, send, max_bytes)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLarge(f"the body exceeds {max_bytes} bytes")
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        error = PayloadTooLarge(f"the body exceeds {max_bytes} bytes")
        await run_in_threadpool(_record_refusal, scope, error, {"limit": max_bytes})
        response = problem_response(error.problem(instance_of(scope.get("path", ""))), error.status)
        await response(scope, receive, send)


def _record_refusal(scope: Scope, error: GatewayError, detail: dict[str, Any]) -> None:
    """Audit a request refused before any route took it (``request:refused``).

    Nothing is known of the caller yet: the event holds the method, the status, the problem
    and ``detail``, never the path (it may carry an identifier).
    """
    state = getattr(getattr(scope.get("app"), "state", None), "gateway", None)
    if state is None:  # a bare ASGI app in tests, without the gateway's state
        return
    draft = AuditDraft(
        action=AuditAction.REQUEST_REFUSED,
        request_id=scope.get("state", {}).get("request_id"),
        outcome=AuditOutcome.REFUSED,
        detail={"method": scope["method"], "status": error.status, "problem": error.slug, **detail},
    )
    given = [
        value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name.decode("latin-1").lower() == TRACEPARENT
    ]
    with_caller_trace(draft, caller_traceparent(given))
    try:
        record_durably(state, draft)
    except Exception as failure:  # noqa: BLE001 - the refusal is answered all the same
        log_error(
            logging.getLogger("gateway.error"),
            "could not record the audit event of a refused request",
            failure,
        )


def _validation_errors(error: RequestValidationError) -> list[FieldError]:
    found = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        if location and location[0] in {"body", "query", "path", "header", "cookie"}:
            location = location[1:] or location
        found.append(
            FieldError(
                ".".join(location) or "body",
                str(item.get("type", "invalid")),
                str(item.get("msg", "invalid value")),
            )
        )
    return found


def install_error_handlers(app: FastAPI) -> None:
    async def gateway_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, GatewayError)  # noqa: S101 - registered for this type
        return problem_response(
            error.problem(instance_of(request.url.path)), error.status, error.headers
        )

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)  # noqa: S101 - registered for this type
        errors = _validation_errors(error)
        body = {
            "type": "/problems/invalid-request",
            "title": "The request breaks a rule",
            "status": 400,
            "detail": "; ".join(f"{e.field}: {e.message}" for e in errors),
            "instance": instance_of(request.url.path),
            "errors": [e.as_dict() for e in errors],
        }
        return problem_response(body, 400)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)  # noqa: S101 - registered for this type
        if isinstance(error.__cause__, GatewayError):
            # FastAPI wraps errors raised while reading the body (BodySizeLimit's 413) in a 400.
            return await gateway_error(request, error.__cause__)
        body = {
            "type": f"/problems/http-{error.status_code}",
            "title": str(error.detail) if error.status_code < 500 else "Error",  # noqa: PLR2004
            "status": error.status_code,
            "detail": str(error.detail),
            "instance": instance_of(request.url.path),
        }
        return problem_response(body, error.status_code, dict(error.headers or {}))

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
