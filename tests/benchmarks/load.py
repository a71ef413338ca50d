"""Load from ``wrk``: saturating or paced to a fixed rate, with its figures as a dict.

``wrk`` (Debian package ``wrk``; ``make bench`` installs it when it can) opens a fixed
number of connections and sends the next request on each as soon as the previous one
was answered. ``paced`` adds a Lua schedule: each wrk thread sends its share of the
rate at fixed times (a clock read through LuaJIT's ffi), so the load is open as long as
the answers come within connections / rate seconds; beyond that a connection falls
behind its schedule, and the achieved rate printed says so. wrk times each request from
its sending, not from its scheduled time (no coordinated-omission correction, unlike
wrk2, which Debian does not ship).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

INSTALL_HINT = "wrk is not installed: apt-get install wrk (or run make bench as root)"

_HEADERS = """
wrk.method = "{method}"
{headers}
"""

# Each wrk thread sends its share of the bodies, one per request, in turn.
_BODIES = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local bodies = {{}}
local index = 0
function init(args)
  local line_number = 0
  for line in io.lines("{path}") do
    if line_number % {threads} == id then table.insert(bodies, line) end
    line_number = line_number + 1
  end
end
function request()
  index = index % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[index])
end
"""

_PACING = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_usec; }} bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end
local interval = {interval_ms}
local next_at = nil
function delay()
  local now = now_ms()
  if next_at == nil then next_at = now + math.random() * interval end
  next_at = next_at + interval
  local wait = next_at - now
  if wait < 0 then return 0 end
  return wait
end
"""

_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d,'
    .. ' "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(INSTALL_HINT)
    return found


def wrk(
    url: str,
    headers: Mapping[str, str],
    *,
    seconds: float,
    connections: int = 16,
    threads: int = 2,
    rate: float | None = None,
    bodies: list[str] | None = None,
) -> dict[str, Any]:
    """Drive ``url`` with wrk; ``rate`` (requests/s) paces it, otherwise it saturates.

    ``GET``, or with ``bodies`` a ``POST`` of each in turn (form-encoded), never one twice
    while there are more bodies than requests.
    """
    lines = "\n".join(f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items())
    script = _HEADERS.format(method="POST" if bodies else "GET", headers=lines)
    with (
        tempfile.NamedTemporaryFile("w", suffix=".lua") as file,
        tempfile.NamedTemporaryFile("w", suffix=".txt") as given,
    ):
        if bodies:
            given.write("\n".join(bodies) + "\n")
            given.flush()
            script += _BODIES.format(path=given.name, threads=threads)
        if rate is not None:
            script += _PACING.format(interval_ms=1000 * threads / rate)
        file.write(script + _DONE)
        file.flush()
        run = subprocess.run(
            [
                require_wrk(),
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                file.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = [line for line in run.stdout.splitlines() if line.startswith("WRK_JSON ")]
    figures = json.loads(found[-1].removeprefix("WRK_JSON "))
    duration = figures["duration_us"] / 1e6
    failures = figures["socket_errors"] + figures["non_2xx"]
    return {
        "requests_per_s": round(figures["requests"] / duration, 1),
        # Answered with a 2xx: a refusal is cheap, and would flatter a rate.
        "ok_per_s": round((figures["requests"] - failures) / duration, 1),
        "p50_ms": round(figures["p50_us"] / 1000, 2),
        "p90_ms": round(figures["p90_us"] / 1000, 2),
        "p99_ms": round(figures["p99_us"] / 1000, 2),
        "max_ms": round(figures["max_us"] / 1000, 2),
        "failures": failures,
    }


@contextmanager
def bare_server(
    database_url: str, key_dir: Path, public_base_url: str, port: int, *, workers: int
) -> Iterator[str]:
    """The floor (``tests.benchmarks.bare``) under uvicorn with uvloop and httptools."""
    env = {
        "BARE_DATABASE_URL": database_url,
        "BARE_KEY_DIR": str(key_dir),
        "BARE_PUBLIC_BASE_URL": public_base_url,
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.benchmarks.bare:app",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/ready", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the bare server did not start") from None
                time.sleep(0.1)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)
