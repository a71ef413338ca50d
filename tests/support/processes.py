"""The gateway in a process of its own, as production runs it: for tests and benchmarks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import httpx

from connectors.client import GatewayClient
from gateway.keys import GatewayKeys
from gateway.participants.models import Regime
from gateway.settings import Environment
from tests.support.actors import Client, register, seal
from tests.support.database import sessions_on
from tests.support.factories import decision

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from gateway.batches.sealing import SealedBatch


class GatewayNotReady(RuntimeError):
    """``gateway serve`` exited or did not answer /readyz in time."""


def gateway_command(
    database_url: str, key_dir: Path, *args: str, capture: bool = False, **extra: str
) -> subprocess.Popen[bytes]:
    """Start ``gateway ARGS`` on this database and keys; ``capture`` its errors when it is to
    finish rather than be killed."""
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_KEY_DIR": str(key_dir),
        "GATEWAY_LOG_LEVEL": "WARNING",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gateway_process(
    database_url: str,
    key_dir: Path,
    *,
    log_path: Path | None = None,
    workers: int = 1,
    log_level: str = "INFO",
    timeout_s: float = 60,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``gateway serve`` on a free loopback port until the block ends.

    ``env`` adds settings (``GATEWAY_*`` variables) to those the block needs. Yields the
    base URL and the process (for its pid); stops it on the way out.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = {
        **os.environ,
        **(env or {}),
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_KEY_DIR": str(key_dir),
        "GATEWAY_PUBLIC_BASE_URL": base_url,
        "GATEWAY_LOG_LEVEL": log_level,
    }
    log: IO[bytes] | None = log_path.open("wb") if log_path is not None else None
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", str(workers)],
        env=settings,
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == httpx.codes.OK:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text()[-2000:] if log_path is not None else ""
                raise GatewayNotReady(f"gateway serve did not become ready: {tail}")
            time.sleep(0.1)
        yield base_url, server
    finally:
        server.terminate()
        server.wait(timeout=30)
        if log is not None:
            log.close()


@dataclass
class Served:
    """``gateway serve`` in a process of its own: its URL, database, keys and participants."""

    base_url: str
    database_url: str
    keys: GatewayKeys
    clients: dict[str, Client]

    def execute(self, statement: Any) -> None:
        with sessions_on(self.database_url) as sessions, sessions.begin() as session:
            session.execute(statement)

    def rows(self, statement: Any) -> list[Any]:
        with sessions_on(self.database_url) as sessions, sessions() as session:
            return list(session.execute(statement).all())

    def jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = httpx.get(f"{self.base_url}/.well-known/jwks.json").json()
        return document


@contextmanager
def serve(
    database_url: str,
    directory: Path,
    *,
    env: Mapping[str, str] | None = None,
    **participants: dict[str, Any],
) -> Iterator[Served]:
    """``gateway serve`` on ``database_url`` (migrated) with development keys made in
    ``directory``, and ``participants`` registered first: each name maps to ``register``'s
    arguments, ``kind`` included. ``env`` adds settings. The server's log is
    ``directory / "server.log"``."""
    key_dir = directory / "keys"
    GatewayKeys.init(key_dir, Environment.DEVELOPMENT)
    with sessions_on(database_url) as sessions, sessions.begin() as session:
        clients = {name: register(session, **options) for name, options in participants.items()}
    log_path = directory / "server.log"
    with gateway_process(database_url, key_dir, log_path=log_path, env=env) as (url, _):
        yield Served(url, database_url, GatewayKeys.load(key_dir), clients)


@dataclass
class ServedFund:
    """A gateway in its own process, a prefecture posting to it over HTTP, and a fund in 75
    whose private key is in a file, as the ``gateway fund`` commands read it."""

    served: Served
    key_file: Path
    posted: int = 0

    @property
    def base_url(self) -> str:
        return self.served.base_url

    @property
    def keys(self) -> GatewayKeys:
        return self.served.keys

    @property
    def prefecture(self) -> Client:
        return self.served.clients["prefecture"]

    @property
    def fund(self) -> Client:
        return self.served.clients["fund"]

    def post(self, count: int) -> None:
        """Post ``count`` decisions (``H-1``, ``H-2``...) about the person of ``identity()``."""
        with GatewayClient(self.base_url, self.prefecture.id, self.prefecture.key) as client:
            for _ in range(count):
                self.posted += 1
                response = client.request(
                    "POST",
                    "/v1/decisions",
                    purpose=self.prefecture.purpose,
                    json=decision(f"H-{self.posted}"),
                )
                assert response.status_code == 201, response.text

    def seal(self, max_records: int = 5000) -> list[SealedBatch]:
        with sessions_on(self.served.database_url) as sessions:
            return seal(sessions, self.keys, max_records=max_records)

    def execute(self, statement: Any) -> None:
        self.served.execute(statement)

    def rows(self, statement: Any) -> list[Any]:
        return self.served.rows(statement)

    def client(self) -> GatewayClient:
        return GatewayClient(self.base_url, self.fund.id, self.fund.key)

    def jwks(self) -> dict[str, Any]:
        return self.served.jwks()


@contextmanager
def serve_fund(database_url: str, directory: Path) -> Iterator[ServedFund]:
    """``gateway serve`` on ``database_url`` with a prefecture and a CPAM fund in 75."""
    with serve(
        database_url,
        directory,
        prefecture={"kind": "prefecture", "departements": ["75"]},
        fund={"kind": "fund", "departements": ["75"], "regime": Regime.CPAM},
    ) as served:
        fund = served.clients["fund"]
        key_file = directory / "fund.private.jwk.json"
        key_file.write_text(json.dumps({**fund.key.as_dict(private=True), "kid": fund.kid}))
        yield ServedFund(served, key_file)
