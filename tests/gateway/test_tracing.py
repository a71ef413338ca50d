"""Traces: server, SQL and push spans with nothing personal in them, and a W3C
``traceparent`` carried on every push and kept in the audit trail.

Spans go to an in-memory exporter through a tracer provider the test passes to
``create_app`` and to the push path; each test that traces runs on a database and an
engine of its own (instrumenting an engine is for its lifetime), on both backends. The
funds' push endpoints are real HTTP servers on loopback.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from connectors.push import outgoing_traceparent
from gateway import tracing
from gateway.app import create_app
from gateway.auditlog.models import AuditEvent
from gateway.batches import delivery
from gateway.cli.main import app as command_line
from gateway.keys import GatewayKeys
from gateway.logs import JSONFormatter
from gateway.participants.models import Participant, Regime
from gateway.settings import Environment, Settings
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.support.actors import BASE_URL, Client, Prefecture, make_prefecture, register, seal
from tests.support.endpoints import Endpoints
from tests.support.factories import decision, identity
from tests.support.processes import gateway_command, serve

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Stage:
    """A committed database of the test's own, its app (traced or not) and endpoints."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: GatewayKeys
    http: TestClient
    endpoints: Endpoints
    prefecture: Prefecture
    exporter: InMemorySpanExporter
    provider: TracerProvider | None

    def fund(self, kind: str) -> Client:
        """A CAF of 93 pushed to at the endpoint of ``kind`` (ok, fail)."""
        with self.sessions.begin() as session:
            fund = register(
                session, "fund", prefix=f"caf-{kind}", regime=Regime.CAF, departements=["93"]
            )
            session.execute(
                update(Participant)
                .where(Participant.id == fund.id)
                .values(push_endpoint=self.endpoints.url(kind, fund.id))
            )
        self.endpoints.funds[fund.id] = fund
        return fund

    def sealed(self, reference: str) -> None:
        self.prefecture.created(decision(reference, identity=identity(residence_departement="93")))
        seal(self.sessions, self.keys)

    def pushed_events(self, fund: Client) -> list[AuditEvent]:
        with self.sessions() as session:
            statement = select(AuditEvent).where(
                AuditEvent.action == "batch:pushed", AuditEvent.acting_for == fund.id
            )
            return list(session.scalars(statement.order_by(AuditEvent.occurred_at)))

    def events(self, action: str) -> list[AuditEvent]:
        with self.sessions() as session:
            statement = select(AuditEvent).where(AuditEvent.action == action)
            return list(session.scalars(statement.order_by(AuditEvent.occurred_at)))


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def stage_factory(
    migrated_database_url: str,
    tmp_path: Path,
    exporter: InMemorySpanExporter,
) -> Iterator[Callable[..., Stage]]:
    """``make(traced=True)``: the stage, its app and engine traced into ``exporter``."""
    with ExitStack() as stack:

        def make(*, traced: bool = True, routers: tuple[APIRouter, ...] = ()) -> Stage:
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            key_dir = tmp_path / "keys"
            keys = GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
            engine = make_engine(migrated_database_url)
            stack.callback(engine.dispose)
            sessions = make_sessionmaker(engine)
            settings = Settings(
                database_url=migrated_database_url, key_dir=key_dir, public_base_url=BASE_URL
            )
            endpoints = stack.enter_context(Endpoints(keys))
            app = create_app(
                settings,
                keys=keys,
                engine=engine,
                sessions=sessions,
                tracer_provider=provider if traced else None,
            )
            for router in routers:
                app.include_router(router)
            http = stack.enter_context(
                TestClient(app, base_url=BASE_URL, raise_server_exceptions=not routers)
            )

            def participant(kind: str, **options: Any) -> Client:
                with sessions.begin() as session:
                    return register(session, kind, **options)

            prefecture = make_prefecture(http, settings, participant, departements=["93"])
            return Stage(
                settings,
                engine,
                sessions,
                keys,
                http,
                endpoints,
                prefecture,
                exporter,
                provider if traced else None,
            )

        yield make


def parsed(traceparent: str | None) -> tuple[str, str, str]:
    assert traceparent is not None
    match = TRACEPARENT.fullmatch(traceparent)
    assert match is not None, traceparent
    trace_id, span_id, flags = match.groups()
    assert trace_id != "0" * 32
    assert span_id != "0" * 16
    return trace_id, span_id, flags


def spans_named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def everything_in(span: ReadableSpan) -> str:
    """Every text a span exports: name, attributes, status, events, links."""
    parts = [span.name, str(span.status.description)]
    parts += [f"{key}={value!r}" for key, value in (span.attributes or {}).items()]
    for event in span.events:
        parts.append(event.name)
        parts += [f"{key}={value!r}" for key, value in (event.attributes or {}).items()]
    for link in span.links:
        parts += [f"{key}={value!r}" for key, value in (link.attributes or {}).items()]
    return "\n".join(parts)


# -- pushes -------------------------------------------------------------------------------


def test_a_traced_push_carries_its_spans_traceparent_to_the_fund_and_into_the_audit(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory()
    fund = stage.fund("ok")
    stage.sealed("TRACE-1")
    stage.exporter.clear()

    attempts = delivery.deliver(stage.sessions, stage.settings, tracer_provider=stage.provider)

    assert [(a.seq, a.accepted) for a in attempts] == [(1, True)]
    [received] = stage.endpoints.received
    trace_id, parent_id, flags = parsed(received.traceparent)
    [push_span] = spans_named(stage.exporter, "push batch")
    assert push_span.context is not None
    assert f"{push_span.context.trace_id:032x}" == trace_id
    assert int(flags, 16) & 1  # sampled: the gateway recorded it
    # The header names the HTTP client's span, a child of the push span.
    [client_span] = [
        s
        for s in stage.exporter.get_finished_spans()
        if s.kind == SpanKind.CLIENT and s.name == "POST"
    ]
    assert client_span.context is not None
    assert f"{client_span.context.span_id:016x}" == parent_id
    assert client_span.parent is not None
    assert client_span.parent.span_id == push_span.context.span_id
    assert push_span.attributes is not None
    assert push_span.attributes["gateway.fund"] == fund.id
    assert push_span.attributes["gateway.batch.seq"] == 1
    assert push_span.attributes["gateway.push.accepted"] is True
    # The attempt's audit event records the very header the fund received.
    [event] = stage.pushed_events(fund)
    assert event.detail["traceparent"] == received.traceparent
    assert event.outcome == "success"


def test_an_untraced_push_still_sends_and_audits_a_valid_traceparent_of_its_own(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory(traced=False)
    healthy = stage.fund("ok")
    failing = stage.fund("fail")
    stage.sealed("UNTRACED-1")

    attempts = delivery.deliver(stage.sessions, stage.settings)

    assert sorted(a.accepted for a in attempts) == [False, True]
    sent = {r.fund_id: r.traceparent for r in stage.endpoints.received}
    assert set(sent) == {healthy.id, failing.id}
    for fund in (healthy, failing):
        _, _, flags = parsed(sent[fund.id])
        assert flags == "00"  # not sampled: nothing was recorded on the gateway's side
        [event] = stage.pushed_events(fund)
        assert event.detail["traceparent"] == sent[fund.id]  # the failed attempt's too
    [failed] = stage.pushed_events(failing)
    assert failed.outcome == "error"
    assert parsed(sent[healthy.id])[0] != parsed(sent[failing.id])[0]  # one trace a push
    assert stage.exporter.get_finished_spans() == ()


def test_a_fresh_traceparent_is_random_and_valid_for_the_w3c_propagator() -> None:
    made = {outgoing_traceparent() for _ in range(200)}
    assert len(made) == 200
    for value in made:
        assert tracing.caller_traceparent([value]) == value


# -- a caller's traceparent ------------------------------------------------------------------


def test_a_callers_traceparent_is_continued_by_the_server_span_and_audited(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory()
    stage.exporter.clear()
    response = stage.http.get("/v1/decisions", headers=stage.prefecture.headers(traceparent=CALLER))
    assert response.status_code == 200, response.text
    [server] = spans_named(stage.exporter, "GET /v1/decisions")
    assert server.kind == SpanKind.SERVER
    assert server.context is not None
    assert server.parent is not None
    assert f"{server.context.trace_id:032x}" == CALLER.split("-")[1]
    assert f"{server.parent.span_id:016x}" == CALLER.split("-")[2]
    [event] = stage.events("decision:listed")
    assert event.detail["traceparent"] == CALLER
    # Refused requests keep it too.
    refused = stage.http.get("/v1/decisions", headers={"traceparent": CALLER})
    assert refused.status_code == 401
    [refusal] = [e for e in stage.events("decision:listed") if e.outcome == "refused"]
    assert refusal.detail["traceparent"] == CALLER


def test_an_untraced_gateway_still_audits_a_callers_traceparent(
    client: TestClient, prefecture: Prefecture, session: Session
) -> None:
    response = client.get("/v1/decisions", headers=prefecture.headers(traceparent=f"  {CALLER}\t"))
    assert response.status_code == 200, response.text
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "decision:listed",
            AuditEvent.request_id == response.headers["x-request-id"],
        )
    ).one()
    assert event.detail["traceparent"] == CALLER  # its canonical form


INVALID = [
    CALLER.upper(),  # upper-case hex
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # more on version 00
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    "Dupont Jean 1985-04-17",
    "x" * 600,
]


@pytest.mark.parametrize("value", INVALID)
def test_an_invalid_traceparent_is_ignored_never_refused_nor_stored(
    client: TestClient, prefecture: Prefecture, session: Session, value: str
) -> None:
    response = client.get("/v1/decisions", headers=prefecture.headers(traceparent=value))
    assert response.status_code == 200, response.text
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.request_id == response.headers["x-request-id"])
    ).one()
    assert "traceparent" not in event.detail
    assert value not in json.dumps(event.detail)


def test_an_invalid_traceparent_starts_a_trace_of_the_gateways_own(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory()
    stage.exporter.clear()
    headers = stage.prefecture.headers(traceparent=INVALID[0])
    assert stage.http.get("/v1/decisions", headers=headers).status_code == 200
    # Two traceparent headers are as good as none.
    doubled = [
        *stage.prefecture.headers().items(),
        ("traceparent", CALLER),
        ("traceparent", CALLER),
    ]
    assert stage.http.get("/v1/decisions", headers=doubled).status_code == 200
    servers = spans_named(stage.exporter, "GET /v1/decisions")
    assert len(servers) == 2
    assert all(span.parent is None for span in servers)
    assert all(
        span.context is not None and f"{span.context.trace_id:032x}" != CALLER.split("-")[1]
        for span in servers
    )
    for event in stage.events("decision:listed"):
        assert "traceparent" not in event.detail


_hex = st.text(alphabet="0123456789abcdef", min_size=1, max_size=40)


@given(
    trace_id=st.integers(min_value=0, max_value=2**128 - 1),
    span_id=st.integers(min_value=0, max_value=2**64 - 1),
    flags=st.integers(min_value=0, max_value=255),
    version=st.integers(min_value=0, max_value=255),
    suffix=st.sampled_from(["", "-", "-0a", "-anything at all"]),
)
def test_a_traceparent_is_taken_exactly_when_w3c_allows_it(
    trace_id: int, span_id: int, flags: int, version: int, suffix: str
) -> None:
    header = f"{version:02x}-{trace_id:032x}-{span_id:016x}-{flags:02x}{suffix}"
    valid = trace_id != 0 and span_id != 0 and version != 0xFF and not (version == 0 and suffix)
    taken = tracing.caller_traceparent([header])
    if not valid:
        assert taken is None
        return
    # Kept in its canonical form (version 00, nothing after the flags), ids untouched.
    assert taken == f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"


@given(st.text(max_size=120))
def test_any_text_is_taken_only_as_a_canonical_traceparent(text: str) -> None:
    taken = tracing.caller_traceparent([text])
    if taken is not None:
        assert TRACEPARENT.fullmatch(taken)
        assert taken.split("-")[1] in text
        context = TraceContextTextMapPropagator().extract({"traceparent": taken})
        assert context  # the propagator takes our canonical form as well


@given(st.lists(st.just(CALLER), min_size=2, max_size=4))
def test_several_traceparent_headers_are_none(values: list[str]) -> None:
    assert tracing.caller_traceparent(values) is None


# -- what spans hold ----------------------------------------------------------------------


def test_sql_spans_carry_statements_never_their_values(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory()
    stage.exporter.clear()
    name, reference, agdref = "Quenneville-Zephyrin", "REF-KNOWN-7781", "9399887766"
    body = decision(
        reference,
        identity=identity(birth_name=name, agdref_number=agdref, residence_departement="93"),
    )
    created = stage.prefecture.created(body)
    spans = stage.exporter.get_finished_spans()
    statements = [
        str((s.attributes or {}).get("db.statement") or (s.attributes or {}).get("db.query.text"))
        for s in spans
        if s.kind == SpanKind.CLIENT and s.name != "POST"
    ]
    assert any("INSERT INTO decisions" in statement for statement in statements), statements
    for span in spans:
        text = everything_in(span).lower()
        for value in (name, reference, agdref, created["id"]):
            assert value.lower() not in text, (span.name, value)


def test_a_failed_statement_span_records_the_exception_class_only(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory()
    known = "known-value-4471"
    insert = sa.text(
        "INSERT INTO used_jtis (namespace, issuer, jti, expires_at) VALUES ('test', :i, :j, :e)"
    )
    values = {"i": known, "j": known, "e": datetime.now(UTC)}
    with stage.engine.begin() as connection:
        connection.execute(insert, values)
    stage.exporter.clear()
    with pytest.raises(sa.exc.IntegrityError) as raised, stage.engine.begin() as connection:
        connection.execute(insert, values)  # the same key again
    if stage.engine.dialect.name == "postgresql":
        assert known in str(raised.value.orig)  # the driver's message quotes the value
    failed = [s for s in stage.exporter.get_finished_spans() if not s.status.is_ok]
    assert len(failed) == 1, [s.name for s in stage.exporter.get_finished_spans()]
    [span] = failed
    kind = type(raised.value.orig).__name__
    assert span.status.description == kind
    assert (span.attributes or {})["error.type"] == kind
    assert known not in everything_in(span)
    assert "INSERT INTO used_jtis" in str((span.attributes or {}).get("db.statement"))


def test_server_spans_are_named_by_route_template_without_path_values_or_query(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory()
    created = stage.prefecture.created(
        decision("ROUTE-1", identity=identity(residence_departement="93"))
    )
    stage.exporter.clear()
    secret = "Dupont-Jean-1985"
    read = stage.http.get(
        f"/v1/decisions/{created['id']}", params={"q": secret}, headers=stage.prefecture.headers()
    )
    assert read.status_code == 200, read.text
    unmatched = stage.http.get(f"/v1/people/{secret}", params={"name": secret})
    assert unmatched.status_code == 404
    servers = [s for s in stage.exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET /v1/decisions/{decision_id}", "GET"]
    assert servers[0].attributes is not None
    assert servers[0].attributes["http.route"] == "/v1/decisions/{decision_id}"
    for span in servers:
        text = everything_in(span)
        assert secret not in text
        assert created["id"] not in text
        assert "?" not in text
    # The request itself saw its query string and path.
    assert read.json()["id"] == created["id"]


def test_an_error_after_the_answer_began_is_recorded_by_its_class_only(
    stage_factory: Callable[..., Stage],
) -> None:
    secret = "Dupont-Jean-1985"
    broken = APIRouter()

    @broken.get("/test/broken-stream")
    def stream() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield b"["
            raise ValueError(f"no such person: {secret}")

        return StreamingResponse(chunks(), media_type="application/json")

    stage = stage_factory(routers=(broken,))
    stage.exporter.clear()
    with contextlib.suppress(Exception):  # the answer ends short, as the client sees
        stage.http.get("/test/broken-stream")
    [server] = [s for s in stage.exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert server.name == "GET /test/broken-stream"
    assert not server.status.is_ok
    text = everything_in(server)
    assert "RequestFailed" in text
    assert "ValueError" in text
    assert secret not in text


# -- logs and configuration -----------------------------------------------------------------


def test_log_lines_carry_the_trace_id_of_the_span_being_traced() -> None:
    provider = TracerProvider()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("gateway.test-tracing")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("untraced")
        with provider.get_tracer("test").start_as_current_span("work") as span:
            logger.warning("traced")
    finally:
        logger.removeHandler(handler)
    untraced, traced = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in untraced
    assert traced["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert traced["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    assert tracing.build_provider({}) is None
    assert tracing.build_provider({"OTEL_TRACES_EXPORTER": "none"}) is None
    provider = tracing.build_provider({"OTEL_TRACES_EXPORTER": "console"})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "residence-gateway"
    named = tracing.build_provider(
        {"OTEL_TRACES_EXPORTER": "otlp,console", "OTEL_SERVICE_NAME": "gateway-paris"}
    )
    assert named is not None
    assert named.resource.attributes["service.name"] == "gateway-paris"
    provider.shutdown()
    named.shutdown()


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "zipkin"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            "grpc",
        ),
    ],
)
def test_an_exporter_that_is_not_installed_is_refused_by_name(
    environ: dict[str, str], says: str
) -> None:
    with pytest.raises(tracing.TracingRefused, match=says):
        tracing.build_provider(environ)


@pytest.mark.usefixtures("restore_logging")
def test_a_server_asked_for_an_exporter_it_lacks_refuses_to_start(
    tmp_path: Path, key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn  # noqa: PLC0415

    started: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: started.append("serve"))
    result = CliRunner().invoke(
        command_line,
        ["serve"],
        env={
            "COLUMNS": "300",
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
            "GATEWAY_KEY_DIR": str(key_dir),
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        },
    )
    assert result.exit_code == 1, result.output
    assert started == []
    [line] = [line for line in result.output.splitlines() if line.startswith("refusing")]
    assert "grpc" in line
    assert "http/protobuf" in line


# -- a served gateway exporting to a collector ------------------------------------------------


class Collector:
    """An OTLP/HTTP trace collector on loopback: the spans it is sent, decoded."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with collector.lock:
                    collector.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def spans(self) -> list[tuple[str, str, str]]:
        """(service name, span name, trace id) of every span received."""
        found = []
        with self.lock:
            for request in self.requests:
                for resource_spans in request.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope_spans in resource_spans.scope_spans:
                        found += [
                            (service, span.name, span.trace_id.hex()) for span in scope_spans.spans
                        ]
        return found

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_a_served_gateway_traced_by_its_otel_variables_exports_continued_traces(
    migrated_database_url: str, tmp_path: Path
) -> None:
    trace_id = CALLER.split("-")[1]
    with Collector() as collector:
        env = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.url,
            "OTEL_SERVICE_NAME": "gateway-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        with serve(migrated_database_url, tmp_path, env=env) as served:
            answer = httpx.get(f"{served.base_url}/readyz", headers={"traceparent": CALLER})
            assert answer.status_code == 200
            deadline = time.monotonic() + 20
            while ("gateway-under-test", "GET /readyz", trace_id) not in collector.spans():
                assert time.monotonic() < deadline, collector.spans()
                time.sleep(0.1)
    # The SQL of the readiness probe is in the caller's trace too.
    assert any(
        service == "gateway-under-test" and span_trace == trace_id and name != "GET /readyz"
        for service, name, span_trace in collector.spans()
    )
    # The server's access line of that request carries the trace id.
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()]
    access = [
        line
        for line in lines
        if line.get("logger") == "gateway.access" and line.get("route") == "/readyz"
    ]
    assert any(line.get("trace_id") == trace_id for line in access), access


@pytest.mark.slow
def test_a_traced_worker_exports_the_push_whose_traceparent_the_fund_received(
    stage_factory: Callable[..., Stage],
) -> None:
    stage = stage_factory(traced=False)
    fund = stage.fund("ok")
    stage.sealed("WORKER-1")
    with Collector() as collector:
        worker = gateway_command(
            stage.settings.database_url,
            stage.settings.key_dir,
            "worker",
            "--once",
            capture=True,
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector.url,
        )
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors.decode()
        spans = collector.spans()  # the worker flushed its spans as it exited
    [received] = stage.endpoints.received
    trace_id, _, _ = parsed(received.traceparent)
    assert ("residence-gateway", "push batch", trace_id) in spans
    assert ("residence-gateway", "POST", trace_id) in spans
    assert any(name == "job seal-regular" for _, name, _ in spans)  # each job run a span
    [event] = stage.pushed_events(fund)
    assert event.detail["traceparent"] == received.traceparent


def test_an_error_in_the_gateways_own_span_is_recorded_by_its_class_only() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with (
        pytest.raises(LookupError),
        tracing.span(provider.get_tracer("test"), "job test", {"gateway.fund": "caf-93"}),
    ):
        raise LookupError("no person named Dupont-Jean-1985")
    [recorded] = exporter.get_finished_spans()
    assert recorded.status.description == "LookupError"
    assert (recorded.attributes or {})["error.type"] == "LookupError"
    assert "Dupont" not in everything_in(recorded)


def test_a_request_refused_before_any_route_keeps_the_callers_traceparent(
    client: TestClient, session: Session
) -> None:
    response = client.post(
        "/v1/decisions",
        content=b"{}",
        headers={"Content-Length": str(10**9), "traceparent": CALLER},
    )
    assert response.status_code == 413
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.request_id == response.headers["x-request-id"])
    ).one()
    assert event.action == "request:refused"
    assert event.detail["traceparent"] == CALLER
