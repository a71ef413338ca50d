"""Benchmark: tokens issued per second, and authenticated requests per second.

Runs ``gateway serve`` in its own process on a loopback port against a PostgreSQL
database it creates and drops (``--database sqlite`` for a SQLite file instead), then
drives it from a pool of client threads for a bounded time. The last line printed is
one JSON object with the figures.

    python -m tests.benchmarks.tokens [--seconds 5] [--clients 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import ECKey

from gateway.auth.assertions import ASSERTION_TYPE
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from tests.benchmarks.common import benchmark_gateway

if TYPE_CHECKING:
    from collections.abc import Callable

CLIENT_ID = "bench-fund"
OK = 200


def run_for(
    base_url: str, seconds: float, clients: int, work: Callable[[httpx.Client], bool]
) -> tuple[int, int, list[float]]:
    """Call ``work(http)`` from ``clients`` threads until the time is up."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    ok, failed, latencies = 0, 0, []

    def loop() -> None:
        nonlocal ok, failed
        with httpx.Client(base_url=base_url, timeout=10) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                success = work(http)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if success:
                        ok += 1
                    else:
                        failed += 1

    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(loop)
    return ok, failed, latencies


def p95_ms(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=20)[18] * 1000, 2) if len(values) > 20 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()

    key = ECKey.generate_key("P-256", private=True)
    fund = ParticipantSpec(
        id=CLIENT_ID,
        kind=ParticipantKind.FUND,
        name="Benchmark fund",
        regime=Regime.CPAM,
        departements=["75"],
        jwks=key.as_dict(private=False),
    )
    with benchmark_gateway(args.database, fund, workers=args.workers) as (base_url, _):
        token_endpoint = f"{base_url}/oauth2/token"

        def token_request(http: httpx.Client) -> httpx.Response:
            assertion = private_key_jwt_sign(
                key, client_id=CLIENT_ID, token_endpoint=token_endpoint, alg="ES256", expires_in=60
            )
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            }
            return http.post("/oauth2/token", data=form)

        tokens = run_for(
            base_url, args.seconds, args.clients, lambda http: token_request(http).status_code == OK
        )
        with httpx.Client(base_url=base_url, timeout=10) as http:
            access_token = token_request(http).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Purpose": "residence-regularity-check",
            "Agent-Id": "bench-agent",
        }
        calls = run_for(
            base_url,
            args.seconds,
            args.clients,
            lambda http: http.get("/v1/participants/me", headers=headers).status_code == OK,
        )

    print(
        json.dumps(
            {
                "database": args.database,
                "server_workers": args.workers,
                "client_threads": args.clients,
                "seconds_per_phase": args.seconds,
                "tokens_per_s": round(tokens[0] / args.seconds, 1),
                "token_p95_ms": p95_ms(tokens[2]),
                "token_failures": tokens[1],
                "authenticated_requests_per_s": round(calls[0] / args.seconds, 1),
                "authenticated_p95_ms": p95_ms(calls[2]),
                "authenticated_failures": calls[1],
            }
        )
    )


if __name__ == "__main__":
    main()
