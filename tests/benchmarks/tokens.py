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
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import ECKey

from gateway.auth.assertions import ASSERTION_TYPE
from gateway.keys import GatewayKeys
from gateway.participants import service
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from gateway.settings import Environment
from gateway.storage import migrate
from gateway.storage.engine import make_engine, make_sessionmaker

ADMIN_URL = os.environ.get(
    "GATEWAY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CLIENT_ID = "bench-fund"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def create_database(backend: str, workdir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    name = f"gateway_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False), name


def drop_database(name: str) -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run_for(
    seconds: float, clients: int, work: Callable[[httpx.Client], bool]
) -> tuple[int, int, list[float]]:
    """Call ``work(http)`` from ``clients`` threads until the time is up."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    ok, failed, latencies = 0, 0, []

    def loop(base: str) -> None:
        nonlocal ok, failed
        with httpx.Client(base_url=base, timeout=10) as http:
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
            pool.submit(loop, BASE_URL)
    return ok, failed, latencies


BASE_URL = ""


def main() -> None:  # noqa: PLR0915 - a script read top to bottom
    global BASE_URL  # noqa: PLW0603 - the script's one server address
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    database_url, database_name = create_database(args.database, workdir)
    port = free_port()
    BASE_URL = f"http://127.0.0.1:{port}"
    server = None
    try:
        migrate.upgrade(database_url)
        GatewayKeys.init(workdir / "keys", Environment.DEVELOPMENT)
        key = ECKey.generate_key("P-256", private=True)
        engine = make_engine(database_url)
        with make_sessionmaker(engine).begin() as session:
            service.register(
                session,
                ParticipantSpec(
                    id=CLIENT_ID,
                    kind=ParticipantKind.FUND,
                    name="Benchmark fund",
                    regime=Regime.CPAM,
                    departements=["75"],
                    jwks=key.as_dict(private=False),
                ),
            )
        engine.dispose()
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_KEY_DIR": str(workdir / "keys"),
            "GATEWAY_PUBLIC_BASE_URL": BASE_URL,
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{BASE_URL}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the gateway did not start")
            time.sleep(0.2)

        token_endpoint = f"{BASE_URL}/oauth2/token"

        def get_token(http: httpx.Client) -> bool:
            assertion = private_key_jwt_sign(
                key, client_id=CLIENT_ID, token_endpoint=token_endpoint, alg="ES256", expires_in=60
            )
            response = http.post(
                "/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": assertion,
                },
            )
            return response.status_code == 200

        tokens_ok, tokens_failed, token_latencies = run_for(args.seconds, args.clients, get_token)

        with httpx.Client(base_url=BASE_URL, timeout=10) as http:
            assertion = private_key_jwt_sign(
                key, client_id=CLIENT_ID, token_endpoint=token_endpoint, alg="ES256", expires_in=60
            )
            access_token = http.post(
                "/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": assertion,
                },
            ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Purpose": "residence-regularity-check",
            "Agent-Id": "bench-agent",
        }

        def call(http: httpx.Client) -> bool:
            return http.get("/v1/participants/me", headers=headers).status_code == 200

        calls_ok, calls_failed, call_latencies = run_for(args.seconds, args.clients, call)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if database_name is not None:
            drop_database(database_name)

    def p95(values: list[float]) -> float:
        return round(statistics.quantiles(values, n=20)[18] * 1000, 2) if len(values) > 20 else 0.0

    print(
        json.dumps(
            {
                "database": args.database,
                "server_workers": args.workers,
                "client_threads": args.clients,
                "seconds_per_phase": args.seconds,
                "tokens_per_s": round(tokens_ok / args.seconds, 1),
                "token_p95_ms": p95(token_latencies),
                "token_failures": tokens_failed,
                "authenticated_requests_per_s": round(calls_ok / args.seconds, 1),
                "authenticated_p95_ms": p95(call_latencies),
                "authenticated_failures": calls_failed,
            }
        )
    )


if __name__ == "__main__":
    main()
