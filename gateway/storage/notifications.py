"""PostgreSQL notifications (``LISTEN``/``NOTIFY``): what another process has just changed.

A ``Listener`` holds one connection of its own, outside the pool, listening on one
channel. A daemon thread waits on its socket and hands each notification's payload to
``received``. A caller that must not act on news older than its own arrival (a request
about to trust a cache) asks for a round trip on that connection: whatever PostgreSQL
sent before it is handed over by the time it ends. The thread makes it (``drain``), one
for every caller waiting meanwhile: ``synced()`` awaits it on the event loop,
``synced_blocking()`` waits for it in a worker thread; the event loop never waits on the
socket, and a busy server makes one round trip for many requests. While the connection
is down (a restart, an outage) ``listening`` is false and the thread reconnects;
``reset`` is called each time it is listening again, since what was notified in between
is lost. Its losses are logged once each, as warnings without a traceback (the
database's outage is reported by the requests, ``gateway.storage.outage``).

``notify`` sends a payload on a channel inside the caller's transaction: PostgreSQL
delivers it when (and only if) the transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import threading
from typing import TYPE_CHECKING

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Connection

log = logging.getLogger("gateway.notifications")
RECONNECT_SECONDS = 1.0
WAIT_SECONDS = 1.0


def notify(connection: Connection, channel: str, payload: str) -> None:
    """Send ``payload`` on ``channel`` when the connection's transaction commits."""
    connection.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
    )


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (without the ``+psycopg`` driver name)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


APPLICATION = "gateway-listener"  # how pg_stat_activity names the listening connections


class Listener:
    """Listens on ``channel`` in a thread of its own until ``stop``."""

    def __init__(
        self,
        database_url: str,
        channel: str,
        received: Callable[[str], None],
        reset: Callable[[], None],
    ) -> None:
        self._conninfo = libpq_url(database_url)
        self._channel = channel
        self._received = received
        self._reset = reset
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        # Wakes the thread from its wait on the socket at once when stopped.
        self._wake: tuple[socket.socket, socket.socket] | None = None
        # Requests awaiting the next round trip (``synced``): how to tell each the outcome.
        self._waiters: list[Callable[[bool], None]] = []
        self._reported = False

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def start(self) -> None:
        """Listen now (so that what commits from here on is seen), then in the thread."""
        if self._thread is not None and self._thread.is_alive():
            return  # listening already: a second connection would be one too many
        self._stopped.clear()
        self._wake = socket.socketpair()
        self._connect()
        self._thread = threading.Thread(
            target=self._run, args=(self._wake[0],), name="gateway-listener", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        with self._lock:  # no request waits on a listener stopping
            self._stopped.set()
            wake, self._wake = self._wake, None
        if wake is not None:
            with contextlib.suppress(OSError):
                wake[1].send(b"\0")
        if self._thread is not None:
            self._thread.join(timeout=WAIT_SECONDS * 3)
        if wake is not None:
            for end in wake:
                end.close()
        with self._lock:
            self._close()
        self._settle(listening=False)

    async def synced(self) -> bool:
        """True once a round trip begun after this call has ended; False if not listening.

        Every notification sent before the round trip began has then been handed over.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()

        def answer(listening: bool) -> None:
            loop.call_soon_threadsafe(_answer, future, listening)

        if not self._wait(answer):
            return False
        return await future

    def synced_blocking(self, timeout: float = WAIT_SECONDS * 5) -> bool:
        """``synced`` for a worker thread: blocks until the shared round trip has ended."""
        ended = threading.Event()
        outcome: list[bool] = []

        def answer(listening: bool) -> None:
            outcome.append(listening)
            ended.set()

        if not self._wait(answer):
            return False
        return ended.wait(timeout) and outcome[0]

    def _wait(self, answer: Callable[[bool], None]) -> bool:
        """Queue ``answer`` for the next round trip, waking the thread.

        False if not listening (then nothing is queued).
        """
        with self._lock:
            if self._connection is None or self._wake is None:
                return False
            first = not self._waiters  # later ones find the thread woken already
            self._waiters.append(answer)
            wake = self._wake[1]
        if first:
            with contextlib.suppress(OSError):
                wake.send(b"\0")
        return True

    def drain(self) -> bool:
        """Hand over every notification already received; False if not listening."""
        with self._lock:
            connection = self._connection
            if connection is None:
                return False
            try:
                pgconn = connection.pgconn
                pgconn.consume_input()
                while (notification := pgconn.notifies()) is not None:
                    self._received(notification.extra.decode())
                # A round trip: what another server committed before it is delivered by the
                # time it ends (to the handler), so a change is seen at once, not a moment on.
                connection.execute("SELECT 1")
            except (psycopg.Error, OSError) as error:
                self._close()
                self._report(error)
                return False
            return True

    def _connect(self) -> None:
        try:
            connection = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=5, application_name=APPLICATION
            )
        except (psycopg.Error, OSError) as error:
            self._report(error)
            return
        try:
            connection.add_notify_handler(lambda notice: self._received(notice.payload))
            connection.execute(f'LISTEN "{self._channel}"')
        except (psycopg.Error, OSError) as error:
            connection.close()  # connected, but not listening: not kept
            self._report(error)
            return
        with self._lock:
            if self._stopped.is_set():  # stopped while connecting: this one is not kept
                connection.close()
                return
            self._connection = connection
            # Whatever changed while nobody listened is unknown: forget it all.
            self._reset()
        if self._reported:
            self._reported = False
            log.info("listening again", extra={"channel": self._channel})

    def _report(self, error: BaseException) -> None:
        """One line when the notifications stop (the database's outage is logged apart)."""
        if not self._reported:
            self._reported = True
            log.warning(
                "not listening: %s, retrying every %s s",
                type(error).__name__,
                RECONNECT_SECONDS,
                extra={"channel": self._channel},
            )

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._reset()

    def _settle(self, *, listening: bool, waiting: int | None = None) -> None:
        """Answer the first ``waiting`` waiters (all if None): ``listening`` or not."""
        with self._lock:
            count = len(self._waiters) if waiting is None else waiting
            settled, self._waiters = self._waiters[:count], self._waiters[count:]
        for answer in settled:
            with contextlib.suppress(RuntimeError):  # its loop closed: nobody waits
                answer(listening)

    def _run(self, wake: socket.socket) -> None:
        wake.setblocking(False)  # noqa: FBT003 - the socket's API
        while not self._stopped.is_set():
            connection = self._connection
            if connection is None:
                self._settle(listening=False)
                self._stopped.wait(RECONNECT_SECONDS)
                if not self._stopped.is_set():
                    self._connect()
                continue
            with self._lock:  # requests came during the last round trip: no waiting
                timeout = 0 if self._waiters else WAIT_SECONDS
            with contextlib.suppress(OSError, ValueError):  # closed under us: drain() says so
                select.select([connection.fileno(), wake.fileno()], [], [], timeout)
            with contextlib.suppress(OSError):
                wake.recv(4096)
            if self._stopped.is_set():
                break
            with self._lock:
                waiting = len(self._waiters)  # those who came before the round trip
            self._settle(listening=self.drain(), waiting=waiting)


def _answer(future: asyncio.Future[bool], listening: bool) -> None:
    if not future.done():  # its request may have been cancelled
        future.set_result(listening)
