"""Benchmark: authenticated requests per second against the floor, and p99 at a fixed rate.

Runs ``gateway serve`` in its own process against a PostgreSQL database it creates and
drops, and beside it the floor (``tests.benchmarks.bare``: a bare ASGI app keeping the
same promises: verify the ES256 token, read the participant, insert the audit event,
commit durably), each with the same number of processes under uvloop and httptools.
wrk drives ``GET /v1/participants/me`` on each with the same connections, saturating,
then paced at ``--rate`` requests/s (the promise: p99 under 20 ms at 500 requests/s;
``tests.benchmarks.load`` says what the pacing measures). The last line printed is one
JSON object with the figures and the gateway's ratio to the floor.

    python -m tests.benchmarks.requests [--seconds 5] [--connections 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json

from joserfc.jwk import ECKey

from tests.benchmarks.common import benchmark_gateway, fund_spec, issue_token
from tests.benchmarks.load import bare_server, require_wrk, wrk
from tests.support.processes import free_port

CLIENT_ID = "bench-fund"
PROMISED_P99_MS = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args()
    require_wrk()

    key = ECKey.generate_key("P-256", private=True)
    with benchmark_gateway("postgresql", fund_spec(CLIENT_ID, key), workers=args.workers) as served:
        base_url = served.base_url
        headers = {
            "Authorization": f"Bearer {issue_token(base_url, CLIENT_ID, key)}",
            "Purpose": "residence-regularity-check",
            "Agent-Id": "bench-agent",
        }
        with bare_server(
            served.database_url, served.key_dir, base_url, free_port(), workers=args.workers
        ) as floor_url:
            figures: dict[str, dict[str, float]] = {}
            for name, url in (("gateway", base_url), ("floor", floor_url)):
                target = f"{url}/v1/participants/me"
                wrk(target, headers, seconds=1, connections=args.connections)  # warm-up
                figures[name] = wrk(
                    target, headers, seconds=args.seconds, connections=args.connections
                )
                figures[f"{name}_at_rate"] = wrk(
                    target,
                    headers,
                    seconds=args.seconds,
                    connections=args.connections,
                    rate=args.rate,
                )
    gateway, floor = figures["gateway"], figures["floor"]
    paced = figures["gateway_at_rate"]
    print(
        json.dumps(
            {
                "database": "postgresql",
                "server_workers": args.workers,
                "connections": args.connections,
                "seconds_per_run": args.seconds,
                "saturating": {"gateway": gateway, "floor": floor},
                "gateway_over_floor": round(gateway["ok_per_s"] / floor["ok_per_s"], 3),
                "at_rate": {
                    "target_per_s": args.rate,
                    "gateway": paced,
                    "floor": figures["floor_at_rate"],
                    "p99_under_20_ms": paced["p99_ms"] < PROMISED_P99_MS
                    and paced["ok_per_s"] >= 0.95 * args.rate,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
