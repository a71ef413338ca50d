"""The gateway in a process of its own, as production runs it: for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path


class GatewayNotReady(RuntimeError):
    """``gateway serve`` exited or did not answer /readyz in time."""


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
