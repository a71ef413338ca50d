"""OpenTelemetry traces: off by default, configured by the standard ``OTEL_`` variables.

Tracing is on when ``OTEL_TRACES_EXPORTER`` names an exporter other than ``none``:
``otlp`` (OTLP over HTTP/protobuf, the ``OTEL_EXPORTER_OTLP_*`` variables) or
``console`` (spans on stdout, for a look on a workstation); several may be listed,
comma-separated. The service is named by ``OTEL_SERVICE_NAME`` (default
``residence-gateway``), further described by ``OTEL_RESOURCE_ATTRIBUTES``, sampled as
``OTEL_TRACES_SAMPLER`` says, and propagated as ``OTEL_PROPAGATORS`` says (W3C trace
context by default).

What is traced, and what never enters a span:

- the API's requests, one server span each named by its route template
  (``POST /v1/decisions``); the path's and the query string's values are never recorded,
  the URL attributes carrying the route template instead (``unmatched`` for no route);
- SQL statements, with their text (placeholders) and never their bound values; a
  failed statement's span records the exception's class only, never its message (a
  driver's message may quote a value);
- pushes to funds: a ``push batch`` span around each attempt, and the HTTP client's span;
  each run of a worker job, a ``job <name>`` span (``span``, which records an escaping
  error by its class only, as the server span does for an error that leaves the app).

Tests (and embedders) pass a tracer provider of their own to ``create_app`` and to the
push path instead of the environment's.

Every push carries a W3C ``traceparent``, traced or not (``connectors.push``), and a
caller's valid ``traceparent`` is kept in its request's audit event: ``caller_traceparent``
validates it with OpenTelemetry's own propagator, and gives it in its canonical form.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.status import Status, StatusCode

from connectors.push import format_traceparent

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy import Engine
    from sqlalchemy.engine import ExceptionContext

SERVICE_NAME = "residence-gateway"
EXPORTERS = ("otlp", "console")
TRACEPARENT = "traceparent"

log = logging.getLogger("gateway.tracing")
_propagator = TraceContextTextMapPropagator()
_configured: list[TracerProvider | None] = []
_configure_lock = threading.Lock()
_instrumented: weakref.WeakKeyDictionary[Engine, TracerProvider] = weakref.WeakKeyDictionary()


class TracingRefused(ValueError):
    """The ``OTEL_`` variables ask for what this installation cannot do."""


def wanted_exporters(environ: Mapping[str, str]) -> list[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names; empty when tracing is off."""
    names = [
        name.strip().lower()
        for name in environ.get("OTEL_TRACES_EXPORTER", "none").split(",")
        if name.strip()
    ]
    names = [name for name in names if name != "none"]
    unknown = sorted(set(names) - set(EXPORTERS))
    if unknown:
        raise TracingRefused(
            f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}: the gateway exports traces to "
            f"{' or '.join(EXPORTERS)} (or none)"
        )
    if "otlp" in names:
        protocol = environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ).strip()
        if protocol != "http/protobuf":
            raise TracingRefused(
                f"the OTLP protocol {protocol!r} is not installed: the gateway exports "
                "OTLP over http/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)"
            )
    return names


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter  # noqa: PLC0415

        return ConsoleSpanExporter(service_name=None)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return OTLPSpanExporter()


def provider_from_environment(environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """The tracer provider the ``OTEL_`` variables describe, or None when tracing is off.

    Made once per process (each server process and each worker makes its own), with a
    batching processor per exporter, and installed as the process's global provider.
    """
    environ = os.environ if environ is None else environ
    with _configure_lock:
        if _configured:
            return _configured[0]
        provider = build_provider(environ)
        if provider is not None:
            trace.set_tracer_provider(provider)
            log.info("tracing on", extra={"exporters": wanted_exporters(environ)})
        _configured.append(provider)
        return provider


def build_provider(environ: Mapping[str, str]) -> TracerProvider | None:
    """A new tracer provider as ``environ``'s ``OTEL_`` variables describe it (None: off)."""
    names = wanted_exporters(environ)
    if not names:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME as SERVICE  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME names the service.
    resource = Resource.create({SERVICE: environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME})
    provider = TracerProvider(resource=resource)  # the sampler from OTEL_TRACES_SAMPLER
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


def caller_traceparent(values: Iterable[str]) -> str | None:
    """A caller's ``traceparent`` in its canonical form, if there is exactly one and valid.

    Validated by OpenTelemetry's W3C propagator (version, lengths, lower-case hex,
    non-zero ids, version ``ff`` refused); given back as version ``00``, so that nothing
    a caller appends to a later version's header is ever stored. None otherwise.
    """
    given = list(values)
    if len(given) != 1:
        return None
    context = _propagator.extract({TRACEPARENT: given[0]})
    span_context = trace.get_current_span(context).get_span_context()
    if not span_context.is_valid:
        return None
    return format_traceparent(span_context.trace_id, span_context.span_id, span_context.trace_flags)


def current_trace_id() -> str | None:
    """The trace id of the active span (32 hex digits), if a span is being traced."""
    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.trace_id:032x}" if span_context.is_valid else None


@contextmanager
def span(
    tracer: trace.Tracer, name: str, attributes: Mapping[str, str | int | bool] | None = None
) -> Iterator[trace.Span]:
    """A span of the gateway's own work; an error escaping it is recorded by its class only.

    Never its message, which may quote a value (a driver's error, an identifier).
    """
    with tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as error:
            kind = type(error).__name__
            current.set_attribute("error.type", kind)
            current.set_status(Status(StatusCode.ERROR, kind))
            raise


# -- instrumentation ----------------------------------------------------------------------

_URL_ATTRIBUTES = ("http.target", "url.path")
_FULL_URL_ATTRIBUTES = ("http.url", "url.full")


def _server_request_hook(span: trace.Span, scope: dict[str, Any]) -> None:
    """Put the route template where the instrumentation put the request's path.

    The query string never reaches the instrumentation (``_HideQuery``); the path's
    values (an id, or anything a caller sends to no route) are replaced by the template.
    """
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    route = attributes.get("http.route") or "unmatched"
    for name in _URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, str(route))
    for name in _FULL_URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, f"{scope.get('scheme', 'http')}://{_host(scope)}{route}")


def _host(scope: Mapping[str, Any]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server") or ("", None)
    return f"{server[0]}:{server[1]}" if server[1] else str(server[0])


_QUERY = "gateway.query_string"


class _HideQuery:
    """Outside the instrumentation: what it must not see is set aside before it starts.

    The query string is kept in the scope for ``_RestoreQuery``, inside the
    instrumentation, to put back before anything else reads the request. A caller's
    ``traceparent`` that ``caller_traceparent`` refuses (malformed, or sent more than
    once) is dropped with its ``tracestate``, so that the server span starts a trace of
    its own exactly when the audit event records none.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            if scope.get("query_string"):
                scope[_QUERY] = scope["query_string"]
                scope["query_string"] = b""
            given = [v.decode("latin-1") for k, v in scope["headers"] if k == b"traceparent"]
            if given and caller_traceparent(given) is None:
                scope["headers"] = [
                    (k, v) for k, v in scope["headers"] if k not in {b"traceparent", b"tracestate"}
                ]
        await self.app(scope, receive, send)


class RequestFailed(Exception):
    """An error that left the application, as the server span records it: its class only."""


class _RestoreQuery:
    """Inside the instrumentation, outside the app's own middleware: the query string back.

    An exception the app lets out (``RequestContext`` answers every other one, and logs
    this one) reaches the instrumentation, which records its message and stack in the
    server span, as ``RequestFailed`` naming its class: its message may quote a value.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if _QUERY in scope:
            scope["query_string"] = scope.pop(_QUERY)
        try:
            await self.app(scope, receive, send)
        except Exception as error:  # noqa: BLE001 - let out again, by its class
            raise RequestFailed(type(error).__name__) from None


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Server spans for every request, named by route template; no header is captured."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

    app.add_middleware(_RestoreQuery)  # the outermost of the app's own middleware
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=_server_request_hook,
        exclude_spans=["receive", "send"],
        # Should OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* name headers to capture, their
        # values are redacted: the callers' headers (tokens, Agent-Id, Case-Reference)
        # never enter a span.
        http_capture_headers_sanitize_fields=[".*"],
    )
    instrumented_build = app.build_middleware_stack

    def build_middleware_stack() -> Any:
        return _HideQuery(instrumented_build())

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def instrument_engine(engine: Engine, provider: TracerProvider) -> None:
    """SQL spans for ``engine``'s statements: their text, never their values.

    Once per engine: an engine already instrumented keeps its first provider.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer  # noqa: PLC0415
    from opentelemetry.instrumentation.sqlalchemy.version import (  # noqa: PLC0415
        __version__ as version,
    )
    from opentelemetry.metrics import NoOpMeter  # noqa: PLC0415
    from sqlalchemy import event  # noqa: PLC0415

    if engine in _instrumented:
        return
    _instrumented[engine] = provider
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", version)
    connections = NoOpMeter("gateway").create_up_down_counter("db.client.connections.usage")
    # Ahead of the instrumentation's own listener, which would record the driver's message:
    # listeners run in the order they were added (engine events ignore ``insert``).
    event.listen(engine, "handle_error", _sql_error)
    EngineTracer(tracer, engine, connections)  # type: ignore[no-untyped-call]


def _sql_error(context: ExceptionContext) -> None:
    """End a failed statement's span with the exception's class, never its message."""
    execution = context.execution_context
    span = getattr(execution, "_otel_span", None) if execution is not None else None
    if span is None:
        return
    kind = type(context.original_exception).__name__
    if span.is_recording():
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, kind))
    span.end()
    execution._otel_span = None  # type: ignore[union-attr]  # noqa: SLF001 - so the instrumentation skips it


def traced_transport(
    transport: httpx.AsyncBaseTransport, provider: TracerProvider
) -> httpx.AsyncBaseTransport:
    """``transport`` with a client span per request and its ``traceparent`` injected.

    No request or response header is captured, whatever the environment says.
    """
    from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport  # noqa: PLC0415

    traced = AsyncOpenTelemetryTransport(transport, tracer_provider=provider)
    traced._captured_request_headers = []  # noqa: SLF001
    traced._captured_response_headers = []  # noqa: SLF001
    return traced
