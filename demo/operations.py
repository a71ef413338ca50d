"""What the operator watches: ``/metrics`` behind its scrape token, naming no one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from prometheus_client.parser import text_string_to_metric_families

from demo.stage import console

if TYPE_CHECKING:
    from demo.stage import Outcome


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
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = sum(
        s.value for s in families["gateway_http_requests"].samples if s.name.endswith("_total")
    )
    owed = {
        (s.labels["fund"], s.labels["state"]): s.value
        for s in families["gateway_records_owed"].samples
    }
    for (fund, state), count in sorted(owed.items()):
        console.print(f"  records owed to {fund}, {state}: {count:.0f}", markup=False)
    outcome.expect(
        f"the operator's scrape counts {requests:.0f} requests answered and the records owed "
        "per fund and state, with no person in it",
        response.status_code == httpx.codes.OK and requests > 0 and bool(owed),
    )
