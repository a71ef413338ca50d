"""The counters and histograms the request path updates; labels are templates and codes.

No label ever holds a value a caller chose: a route is its template (``/v1/batches/{batch_id}``,
or ``unmatched``), an action and a problem are the gateway's own codes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "gateway_http_requests", "HTTP requests answered.", ["route", "method", "status"]
)
LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request, from the first byte received to the answer sent.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ACTIONS = Counter(
    "gateway_audited_actions",
    "Audited actions by outcome (token:issued is the tokens issued, and refused).",
    ["action", "outcome"],
)
REFUSALS = Counter(
    "gateway_refusals",
    "Refused or failed requests by action and problem type (invalid-client: a token "
    "refused for its client assertion, and so on).",
    ["action", "problem"],
)


def answered(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)


def audited(action: str, outcome: str, problem: str | None = None) -> None:
    ACTIONS.labels(action, outcome).inc()
    if problem is not None:
        REFUSALS.labels(action, problem).inc()
