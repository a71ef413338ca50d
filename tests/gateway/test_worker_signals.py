"""The worker stops on SIGTERM and SIGINT: what a container runtime or systemd sends."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from gateway.storage import migrate
from tests.support.processes import gateway_command

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


def _wait_for(process: subprocess.Popen[bytes], text: bytes, timeout_s: float) -> bytes:
    """The worker's log up to the line holding ``text`` (it logs JSON lines on stderr)."""
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"no {text!r} in the worker's log: {seen[-2000:]!r}")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_stops_cleanly_on_a_signal(
    tmp_path: Path, key_dir: Path, stop: signal.Signals
) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate.upgrade(url)
    worker = gateway_command(url, key_dir, "worker", capture=True, GATEWAY_LOG_LEVEL="INFO")
    try:
        _wait_for(worker, b"worker started", timeout_s=60)
        worker.send_signal(stop)
        rest = _wait_for(worker, b"worker stopped", timeout_s=30)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stderr is not None:
            worker.stderr.close()
    assert b'"signal": "' + stop.name.encode() in rest
    assert b"Traceback" not in rest
