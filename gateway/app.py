"""The application factory: settings, keys, engine and routers, built on call."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from gateway import health
from gateway.auditing.router import router as auditing_router
from gateway.auditlog.group import GroupCommit
from gateway.auditlog.spool import AuditSpool
from gateway.auth.router import discovery
from gateway.auth.router import router as token_router
from gateway.batches.router import outbox_router
from gateway.batches.router import router as batches_router
from gateway.console import install as install_console
from gateway.contract import openapi
from gateway.contract.router import router as contract_router
from gateway.decisions.router import router as decisions_router
from gateway.imports.router import router as imports_router
from gateway.key_source import KeySource
from gateway.keys import GatewayKeys
from gateway.metrics.router import router as metrics_router
from gateway.participants.cache import RegistryCache
from gateway.participants.router import router as participants_router
from gateway.policy_source import PolicySource
from gateway.settings import Environment, Settings
from gateway.state import AppState
from gateway.status.router import router as status_router
from gateway.storage.engine import make_engine, make_sessionmaker
from gateway.subscriptions.router import router as subscriptions_router
from gateway.tracing import instrument_app, instrument_engine, provider_from_environment
from gateway.web import BodySizeLimit, RequestContext, install_error_handlers
from policies.loader import DEFAULT_POLICY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

DESCRIPTION = """
Prefectures post the decisions that end a foreigner's right of residence; the gateway
passes the identities concerned to the social-security funds whose territory covers the
person, in signed batches, and answers the funds' status checks. Every request needs an
access token from `/oauth2/token` (client credentials, `private_key_jwt`, optional DPoP)
and states its purpose in the `Purpose` header; funds also name the agent (`Agent-Id`)
and may name a case (`Case-Reference`); a delegate names the participant it acts for
(`On-Behalf-Of`). Errors are RFC 9457 problem documents; each `type` is a page of its
own (`/problems/<slug>`). The JSON Schemas of the signed batch payload and of the
receipt are at `/schemas/batch-payload.json` and `/schemas/receipt.json`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    keys: GatewayKeys | None = None,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the app. Tests may pass their own engine, session factory or tracer provider.

    Traced with ``tracer_provider``, by default the one the ``OTEL_`` variables describe
    (``gateway.tracing``; none: not traced).
    """
    settings = settings or Settings()
    key_source = (
        KeySource.fixed(keys, settings.key_dir)
        if keys is not None
        else KeySource(settings.key_dir, settings.key_reload_seconds)
    )
    if settings.environment == Environment.PRODUCTION:
        key_source.current().check_production(settings.key_dir)
    engine = engine or make_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessions = sessions or make_sessionmaker(engine)
    state = AppState(
        settings=settings,
        key_source=key_source,
        engine=engine,
        sessions=sessions,
        policy_source=PolicySource(
            settings.policy_file or DEFAULT_POLICY, settings.policy_reload_seconds
        ),
        spool=AuditSpool(settings.audit_spool_dir),
        participants=RegistryCache(engine, sessions),
        audit_writer=GroupCommit(sessions),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The registry is cached while the server listens for its changes (PostgreSQL).
        await run_in_threadpool(state.participants.start)
        try:
            yield
        finally:
            await run_in_threadpool(state.participants.stop)

    app = FastAPI(
        title="Residence decisions gateway",
        version="1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.gateway = state
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics_router)
    app.include_router(discovery)
    app.include_router(token_router)
    app.include_router(participants_router)
    app.include_router(decisions_router)
    app.include_router(imports_router)
    app.include_router(subscriptions_router)
    app.include_router(batches_router)
    app.include_router(outbox_router)
    app.include_router(auditing_router)
    app.include_router(status_router)
    app.include_router(contract_router)
    openapi.install(app, lambda: (state.policy.version, state.policy.policy))
    install_console(app, settings)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={
            "/v1/decision-imports": settings.max_import_bytes,
            "/v1/subscriptions": settings.max_import_bytes,
            "/v1/status-checks": 32 * 1024 * 1024,  # 10,000 checks
            "/v1/status-checks/stream": settings.max_stream_bytes,  # up to 10 million checks
        },
    )
    app.add_middleware(RequestContext)
    provider = tracer_provider or provider_from_environment()
    if provider is not None:
        instrument_engine(engine, provider)
        instrument_app(app, provider)
    return app
