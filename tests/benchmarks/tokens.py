"""Benchmark: tokens issued per second, against the floor.

Runs ``gateway serve`` in its own process on a loopback port against a PostgreSQL
database it creates and drops (``--database sqlite`` for a SQLite file instead, without
the floor), then drives ``POST /oauth2/token`` with wrk for a bounded time, each
request with a client assertion of its own. In the same run, the same load drives the
floor (``tests.benchmarks.bare``: verify the client assertion, record
its jti, sign the token, audit, in one transaction) under uvicorn with as many
processes. The last line printed is one JSON object with the figures and the ratio.

    python -m tests.benchmarks.tokens [--seconds 5] [--connections 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import urlencode

from joserfc.jwk import ECKey

from tests.benchmarks.common import benchmark_gateway, fund_spec, token_form
from tests.benchmarks.load import bare_server, require_wrk, wrk
from tests.support.processes import free_port

CLIENT_ID = "bench-fund"
ASSERTIONS_PER_S = 3000  # more than either server answers: none sent twice


def tokens_from(
    base_url: str, issuer: str, key: ECKey, seconds: float, connections: int
) -> dict[str, Any]:
    """Tokens per second from ``base_url`` under wrk, for assertions addressed to ``issuer``.

    The assertions are signed before the clock starts (``ASSERTIONS_PER_S`` a second of the
    run, each used once), so that signing them does not take the servers' cores.
    """
    forms = [
        urlencode(token_form(issuer, CLIENT_ID, key))
        for _ in range(int(seconds * ASSERTIONS_PER_S))
    ]
    return wrk(
        f"{base_url}/oauth2/token",
        {"Content-Type": "application/x-www-form-urlencoded"},
        seconds=seconds,
        connections=connections,
        bodies=forms,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    require_wrk()

    key = ECKey.generate_key("P-256", private=True)
    fund = fund_spec(CLIENT_ID, key)
    with benchmark_gateway(args.database, fund, workers=args.workers) as served:
        issuer = served.base_url
        gateway = tokens_from(issuer, issuer, key, args.seconds, args.connections)
        floor = None
        if args.database == "postgresql":
            with bare_server(
                served.database_url, served.key_dir, issuer, free_port(), workers=args.workers
            ) as floor_url:
                floor = tokens_from(floor_url, issuer, key, args.seconds, args.connections)
    print(
        json.dumps(
            {
                "database": args.database,
                "server_workers": args.workers,
                "connections": args.connections,
                "seconds_per_phase": args.seconds,
                "gateway": gateway,
                "floor": floor,
                "gateway_over_floor": round(gateway["ok_per_s"] / floor["ok_per_s"], 3)
                if floor
                else None,
            }
        )
    )


if __name__ == "__main__":
    main()
