"""Demo scene of status checks: an affiliation desk, a periodic sweep, a wrong purpose."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

import httpx
from rich.console import Console

if TYPE_CHECKING:
    from collections.abc import Callable

    from connectors.client import GatewayClient

console = Console()
PURPOSE = "residence-regularity-check"
SWEEP = 3000


def status_checks(fund: GatewayClient, expect: Callable[[str, bool], None]) -> None:
    desk = fund.request(
        "POST",
        "/v1/status-checks",
        purpose=PURPOSE,
        agent_id="desk-07",
        case_reference="affiliation-2026-1188",
        json={"checks": [{"identity": {"agdref_number": "7500000001"}}]},
    )
    answer = desk.json()["answers"][0]
    expect(
        f"an affiliation desk checks one person: {answer['result']} ({answer['match']} match, "
        f"decision {answer['decision']['reference'] if answer['decision'] else '-'})",
        desk.status_code == httpx.codes.OK and answer["result"] == "adverse_decision",
    )
    affiliates = [
        {"identity": {"agdref_number": f"75{n:08d}"}} for n in range(SWEEP)
    ]  # the demo's decisions concern some of these numbers
    started = time.perf_counter()
    sweep = fund.request(
        "POST",
        "/v1/status-checks",
        purpose=PURPOSE,
        agent_id="sweep-batch",
        json={"checks": affiliates},
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    results = Counter(a["result"] for a in sweep.json().get("answers", []))
    console.print(
        f"  sweep of {SWEEP} affiliates in {elapsed:.2f} s: {dict(results)}", markup=False
    )
    expect(
        f"a periodic sweep of {SWEEP} affiliates finds those with an adverse or corrected "
        "decision; the rest are none_known (which does not prove regular residence)",
        sweep.status_code == httpx.codes.OK
        and results["adverse_decision"] > 0
        and results["none_known"] > SWEEP // 2,
    )
    wrong = fund.request(
        "POST",
        "/v1/status-checks",
        purpose="marketing",
        agent_id="desk-07",
        json={"checks": [{"identity": {"agdref_number": "7500000001"}}]},
    )
    expect(
        f"a check for another purpose is refused: {wrong.status_code}",
        wrong.status_code == httpx.codes.FORBIDDEN,
    )
