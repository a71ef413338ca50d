"""Several gateway processes on one PostgreSQL, as a scaled-out installation runs them.

``Installation`` starts ``gateway serve`` processes (each on its own loopback port) and
``gateway worker`` processes on one database and one key directory, all configured with
the same public URL, as replicas behind a load balancer are: a token issued by one is
accepted by the others. ``System`` is a participant's system talking to those
replicas round-robin over HTTP: it takes its tokens from each replica in turn and, when
a replica does not answer (refused, reset, cut mid-answer), sends the request again to
the next one, as a client behind a load balancer retrying an idempotent request does.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Self

import httpx

from gateway.settings import Settings
from tests.support.actors import Client, api_headers
from tests.support.jose import assertion, token_form
from tests.support.processes import GatewayNotReady, free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

# What clients call the gateway: the load balancer's address, never one replica's.
PUBLIC_URL = "http://gateway.replicas.test"
# The worker's jobs as often as the settings allow, so that sealing (every 10 s at least),
# pushing, sequencing and checkpoints all run, and overlap, within a test.
FAST_JOBS = {
    "GATEWAY_SEAL_EXPRESS_SECONDS": "10",
    "GATEWAY_SEAL_REGULAR_SECONDS": "10",
    "GATEWAY_PUSH_INTERVAL_SECONDS": "1",
    "GATEWAY_PUSH_BACKOFF_BASE_SECONDS": "0.5",
    "GATEWAY_PUSH_BACKOFF_CAP_SECONDS": "2",
    "GATEWAY_AUDIT_SEQUENCE_SECONDS": "1",
    "GATEWAY_AUDIT_CHECKPOINT_SECONDS": "1",
    "GATEWAY_IMPORT_POLL_SECONDS": "1",
}


@dataclass
class Process:
    """One gateway process: its name, its URL if it serves, its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None
    killed_at: float | None = None  # time.monotonic() of its SIGKILL

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None and self.killed_at is None

    def log_tail(self, size: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-size:]


@dataclass
class Installation:
    """``apis`` servers and ``workers`` workers on ``database_url`` and ``key_dir``."""

    database_url: str
    key_dir: Path
    directory: Path
    env: Mapping[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def apis(self) -> list[Process]:
        return [p for p in self.processes if p.url is not None]

    @property
    def workers(self) -> list[Process]:
        return [p for p in self.processes if p.url is None]

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.apis if p.url is not None]

    def settings(self) -> Settings:
        """The settings every process shares, as a participant's assertions need them."""
        return Settings(
            database_url=self.database_url, key_dir=self.key_dir, public_base_url=PUBLIC_URL
        )

    def _start(self, name: str, args: list[str], url: str | None) -> Process:
        log_path = self.directory / f"{name}.log"
        log: IO[bytes] = self._stack.enter_context(log_path.open("wb"))
        settings = {
            **os.environ,
            **FAST_JOBS,
            **self.env,
            "GATEWAY_DATABASE_URL": self.database_url,
            "GATEWAY_KEY_DIR": str(self.key_dir),
            "GATEWAY_PUBLIC_BASE_URL": PUBLIC_URL,
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        popen = subprocess.Popen(
            [sys.executable, "-m", "gateway", *args],
            env=settings,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        process = Process(name, popen, log_path, url)
        self.processes.append(process)
        return process

    def start(self, *, apis: int, workers: int, timeout_s: float = 60) -> None:
        """Start every process at once, then wait for each server's ``/readyz``."""
        for n in range(apis):
            port = free_port()
            args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
            self._start(f"api-{n + 1}", args, f"http://127.0.0.1:{port}")
        for n in range(workers):
            self._start(f"worker-{n + 1}", ["worker"], None)
        deadline = time.monotonic() + timeout_s
        for api in self.apis:
            while True:
                try:
                    if httpx.get(f"{api.url}/readyz", timeout=1).status_code == httpx.codes.OK:
                        break
                except httpx.TransportError:
                    pass
                if not api.alive or time.monotonic() > deadline:
                    raise GatewayNotReady(f"{api.name} did not become ready: {api.log_tail()}")
                time.sleep(0.1)
        for worker in self.workers:
            if not worker.alive:
                raise GatewayNotReady(f"{worker.name} exited: {worker.log_tail()}")

    def kill(self, process: Process) -> None:
        """SIGKILL: no shutdown, no goodbye, its connections dropped mid-transaction."""
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(timeout=10)
        process.killed_at = time.monotonic()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in self.processes:
            try:
                process.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)
        self._stack.close()


class NoReplicaAnswered(RuntimeError):
    """Every replica was tried, several times, and none answered."""


@dataclass
class Traffic:
    """What every participant's requests met, shared by the threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)  # (url, status)
    answered_at: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, url)
    tokens: Counter[str] = field(default_factory=Counter)  # issuing replica's URL
    unreachable: Counter[str] = field(default_factory=Counter)  # transport errors per URL
    failures: list[str] = field(default_factory=list)  # what a thread did not expect

    def answer(self, url: str, status: int) -> None:
        with self.lock:
            self.answered[(url, status)] += 1
            self.answered_at.append((time.monotonic(), url))

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


class System:
    """A participant's system: round-robin over the replicas, a token from each in turn."""

    def __init__(
        self,
        installation: Installation,
        caller: Client,
        traffic: Traffic,
        *,
        agent_id: str | None = "agent-1",
    ) -> None:
        self.caller = caller
        self.traffic = traffic
        self.agent_id = agent_id
        self.settings = installation.settings()
        urls = installation.urls
        self._next_url: Callable[[], str] = itertools.cycle(urls).__next__
        self._next_issuer: Callable[[], str] = itertools.cycle(urls).__next__  # tokens' own turn
        self._tries = 3 * len(urls)
        self.http = httpx.Client(timeout=httpx.Timeout(20.0, connect=2.0))
        self._token: str | None = None
        self._uses = 0
        self.token_every = 12  # requests per token, then the next from the next replica

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        """``method path`` to the next replica that answers."""
        for _ in range(self._tries):
            url = self._next_url()
            try:
                response = self.http.request(method, url + path, **options)
            except httpx.TransportError:
                with self.traffic.lock:
                    self.traffic.unreachable[url] += 1
                time.sleep(0.05)
                continue
            self.traffic.answer(url, response.status_code)
            return response
        raise NoReplicaAnswered(f"{method} {path}: no replica answered")

    def token(self) -> str:
        """A fresh token from the next replica, every ``token_every`` requests."""
        if self._token is None or self._uses >= self.token_every:
            for _ in range(self._tries):
                url = self._next_issuer()
                form = token_form(assertion(self.settings, self.caller))
                try:
                    response = self.http.post(f"{url}/oauth2/token", data=form)
                except httpx.TransportError:
                    with self.traffic.lock:
                        self.traffic.unreachable[url] += 1
                    continue
                self.traffic.answer(url, response.status_code)
                if response.status_code != httpx.codes.OK:
                    raise AssertionError(f"token refused by {url}: {response.text}")
                with self.traffic.lock:
                    self.traffic.tokens[url] += 1
                self._token = str(response.json()["access_token"])
                self._uses = 0
                break
            else:
                raise NoReplicaAnswered("no replica issued a token")
        self._uses += 1
        assert self._token is not None
        return self._token

    def headers(self, agent_id: str | None = None, **extra: str) -> dict[str, str]:
        return api_headers(self.token(), self.caller, agent_id=agent_id or self.agent_id, **extra)

    def request(
        self, method: str, path: str, *, agent_id: str | None = None, **options: Any
    ) -> httpx.Response:
        extra = options.pop("headers", {})
        headers = self.headers(agent_id, **extra)
        return self._send(method, path, headers=headers, **options)


class Loop(threading.Thread):
    """A participant's work: ``step`` again and again until ``stop`` is set, ``pause_s``
    apart; an exception ends it and is kept in ``traffic`` for the test."""

    def __init__(
        self,
        name: str,
        step: Callable[[], None],
        stop: threading.Event,
        traffic: Traffic,
        pause_s: float = 0.0,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.stop = stop
        self.traffic = traffic
        self.pause_s = pause_s

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
                if self.pause_s:
                    self.stop.wait(self.pause_s)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.traffic.fail(f"{self.name}: {error!r}")


def wait_until(
    condition: Callable[[], bool],
    within_s: float,
    what: str,
    explain: Callable[[], str] = lambda: "",
) -> float:
    """Poll ``condition`` until it holds; the seconds it took. ``explain`` says what was
    found instead, when it never held."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within_s:
            raise AssertionError(f"not within {within_s} s: {what}; {explain()}")
        time.sleep(0.25)
    return time.monotonic() - started


def answered_after(traffic: Traffic, moment: float) -> Counter[str]:
    """Answers per replica URL received after ``moment`` (time.monotonic())."""
    with traffic.lock:
        return Counter(url for at, url in traffic.answered_at if at > moment)
