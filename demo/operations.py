"""What the operator watches: ``/metrics`` behind its scrape token, naming no one.

A few lines read back from one scrape show what the scenes before moved: requests,
tokens, status checks, records owed, batches, pushes, the audit log, imports and keys.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from prometheus_client.parser import text_string_to_metric_families

from demo.stage import console

if TYPE_CHECKING:
    from demo.stage import Outcome

# A label value that looks like a date or a social-security number would be a leak.
PERSONAL = re.compile(r"\d{4}-\d{2}-\d{2}|\d{13,15}")


def _by(samples: list[tuple[str, dict[str, str], float]], name: str, *labels: str) -> Counter[str]:
    """The samples of ``name`` added up by the values of ``labels``, joined by a space."""
    counted: Counter[str] = Counter()
    for sample, found, value in samples:
        if sample == name:
            counted[" ".join(found[label] for label in labels)] += int(value)
    return counted


def _only(counted: Counter[str], first: str) -> Counter[str]:
    """The entries of ``counted`` whose key starts with ``first``, without it."""
    return Counter(
        {key.split(" ", 1)[1]: value for key, value in counted.items() if key.startswith(first)}
    )


def _line(counted: Counter[str]) -> str:
    return ", ".join(f"{key} {value:.0f}" for key, value in counted.most_common()) or "none"


def metrics_scene(base_url: str, token: str, outcome: Outcome) -> None:
    console.rule("[bold]Operations: /metrics, for the operator's Prometheus")
    refused = httpx.get(f"{base_url}/metrics", timeout=10)
    outcome.expect(
        f"a scrape without the token is refused: {refused.status_code}",
        refused.status_code == httpx.codes.UNAUTHORIZED,
    )
    response = httpx.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    samples = [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]
    requests = sum(_by(samples, "gateway_http_requests_total").values())
    tokens = _by(samples, "gateway_tokens_total", "outcome", "reason")
    checks = _by(samples, "gateway_status_checks_total", "result")
    matches = _by(samples, "gateway_status_checks_total", "match")
    owed = _by(samples, "gateway_records_owed", "state")
    pushes = _by(samples, "gateway_push_attempts_total", "outcome")
    parked = sum(_by(samples, "gateway_push_fund_parked").values())
    batches = _by(samples, "gateway_batches_unacknowledged", "state")
    queued = sum(_by(samples, "gateway_audit_events_queued").values())
    checkpoint = _by(samples, "gateway_audit_checkpoint_age_seconds")
    imports = _by(samples, "gateway_imports", "state")
    expiries = _by(samples, "gateway_key_expiry_timestamp_seconds", "kid", "status")
    active = [value for key, value in expiries.items() if key.endswith(" active")]
    soonest = datetime.fromtimestamp(min(active), UTC) if active else None
    for line in (
        f"requests answered: {requests:.0f}",
        f"tokens issued: {_line(_only(tokens, 'issued'))}",
        f"tokens refused: {_line(_only(tokens, 'refused'))}",
        f"status checks: {_line(checks)}",
        f"status checks matched: {_line(matches)}",
        f"records owed, by state: {_line(owed)}",
        f"batches not acknowledged: {_line(batches)}",
        f"push attempts: {_line(pushes)}; funds parked: {parked:.0f}",
        f"audit events waiting for the log: {queued:.0f}; last checkpoint "
        + (f"{sum(checkpoint.values()):.0f} s old" if checkpoint else "not signed yet"),
        f"imports: {_line(Counter({k: v for k, v in imports.items() if v}))}",
        f"signing keys: {len(expiries)}; the first active one expires "
        + (f"{soonest:%Y-%m-%d}" if soonest else "never"),
    ):
        console.print(f"  {line}", markup=False)
    leaks = [value for _, found, _ in samples for value in found.values() if PERSONAL.search(value)]
    outcome.expect(
        "the operator's scrape counts what the scenes did (requests, tokens issued and "
        "refused, status checks, records owed, pushes), with no person in any label",
        response.status_code == httpx.codes.OK
        and requests > 0
        and any(key.startswith("issued") for key in tokens)
        and any(key.startswith("refused") for key in tokens)
        and sum(checks.values()) > 0
        and bool(owed)
        and sum(pushes.values()) > 0
        and not leaks,
    )
