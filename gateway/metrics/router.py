"""``GET /metrics``: the Prometheus text format, for the holder of the scrape token.

The token (``GATEWAY_METRICS_TOKEN``) is sent as ``Authorization: Bearer <token>``; without
a token configured no scrape is accepted (401, saying so). It is not an OAuth2 route: a
scraper is not a participant, and the metrics name no person. Each scrape is audited
(``metrics:scraped``), refused ones too, like any request.
"""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from audit.actions import AuditAction
from gateway.errors import Unauthenticated
from gateway.metrics.collector import DatabaseCollector
from gateway.routing import State, TransactionRoute, answers_during_outages

router = APIRouter(tags=["operations"], route_class=TransactionRoute)
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


def _registry() -> CollectorRegistry:
    """The instruments of this process, or of every server process sharing the directory."""
    if not os.environ.get(MULTIPROCESS):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


@router.get("/metrics", name=AuditAction.METRICS_SCRAPED, include_in_schema=False)
@answers_during_outages  # gateway_database_up 0 is served while the database is down
def metrics(request: Request, state: State) -> Response:
    token = state.settings.metrics_token
    challenge = {"WWW-Authenticate": 'Bearer realm="metrics"'}
    if token is None:
        raise Unauthenticated(
            "metrics are off: set GATEWAY_METRICS_TOKEN to turn them on", headers=challenge
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthenticated(
            "the scrape token is required: Authorization: Bearer <GATEWAY_METRICS_TOKEN>",
            headers=challenge,
        )
    database = CollectorRegistry()
    database.register(DatabaseCollector(state))
    body = generate_latest(_registry()) + generate_latest(database)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
