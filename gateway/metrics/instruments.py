"""The counters and histograms the request path updates; labels are templates and codes.

No label ever holds a value a caller chose: a route is its template (``/v1/batches/{batch_id}``,
or ``unmatched``), an action and a problem are the gateway's own codes.
"""

from __future__ import annotations

from collections import Counter as Counter_
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from audit.actions import AuditAction
from gateway import tenancy

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gateway.status.schemas import CheckOut

TOKEN_ISSUED = str(AuditAction.TOKEN_ISSUED)
# A check the fund may not make (elsewhere, or unsaid), as opposed to a malformed one.
REFUSED_CHECKS = frozenset({tenancy.OUTSIDE_TERRITORY, tenancy.RESIDENCE_REQUIRED})

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
TOKENS = Counter(
    "gateway_tokens",
    "Access tokens issued (reason: the token type, bearer or dpop) and refused (reason: "
    "the problem type, invalid-client, invalid-dpop-proof and so on).",
    ["outcome", "reason"],
)
STATUS_CHECKS = Counter(
    "gateway_status_checks",
    "Status checks answered, single, bulk and streamed, by match level (exact, conflict, "
    "strong, weak, none) and result (adverse_decision, corrected, none_known; malformed "
    "and refused for the checks not answered).",
    ["match", "result"],
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


def audited(
    action: str,
    outcome: str,
    problem: str | None = None,
    detail: Mapping[str, object] | None = None,
) -> None:
    """Count an audited request: ``problem`` for a refusal, ``detail`` its audit detail."""
    ACTIONS.labels(action, outcome).inc()
    if problem is not None:
        REFUSALS.labels(action, problem).inc()
    if action == TOKEN_ISSUED:
        if problem is None:
            TOKENS.labels("issued", "dpop" if (detail or {}).get("dpop") else "bearer").inc()
        else:
            TOKENS.labels("refused", problem).inc()


def status_checked(answers: Iterable[CheckOut]) -> None:
    """Count answered status checks by match level and result; malformed and refused too."""
    counts: Counter_[tuple[str, str]] = Counter_()
    for answer in answers:
        if not answer.errors:
            counts[str(answer.match), str(answer.result)] += 1
        elif answer.errors[0].rule in REFUSED_CHECKS:
            counts["none", "refused"] += 1
        else:
            counts["none", "malformed"] += 1
    for (match, result), count in counts.items():
        STATUS_CHECKS.labels(match, result).inc(count)
