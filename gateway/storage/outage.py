"""Telling a database outage from a bug, and reporting it without flooding the logs.

An outage is the database being out of reach, not a statement being wrong: the server
refuses connections or is shutting down, the connection was lost in the middle of a
request, the pool has no connection to give, or SQLite cannot open or lock its file. The
gateway answers those with a 503 and ``Retry-After``, logs one line per cause (no
traceback: nothing in the code is wrong), and recovers by itself once the database is back
(the pool drops the connections the outage broke).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

import psycopg
from sqlalchemy import exc

# The ``Retry-After`` of a 503 while the database is unavailable, in seconds.
RETRY_AFTER_SECONDS = 5
# After its first line, a cause is logged at most once per this many seconds, with a count.
REPORT_EVERY_SECONDS = 60.0

_SQLITE_UNAVAILABLE = {
    "database is locked": "database locked",
    "unable to open database file": "cannot open the database file",
    "disk i/o error": "disk I/O error",
}
# SQLSTATE classes and codes of a server that is out of reach or cannot serve right now.
_SQLSTATES = {
    "08": "connection failure",
    "53": "server out of resources",
    "57P01": "server shutting down",
    "57P02": "server crashed",
    "57P03": "server starting up or shutting down",
}


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _cause(error: BaseException) -> str | None:  # noqa: PLR0911 - one answer per kind
    """The reason ``error`` (one link of a chain) is an outage, or None if it is not one."""
    if isinstance(error, exc.DisconnectionError):
        return "connection lost"
    if isinstance(error, exc.TimeoutError):
        return "connection pool exhausted"
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return "connection lost"
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return next((why for key, why in _SQLITE_UNAVAILABLE.items() if key in text), None)
    if isinstance(error, psycopg.InterfaceError):
        return "connection closed"
    if isinstance(error, psycopg.OperationalError):
        state = error.sqlstate
        if state is None:
            return "cannot connect"
        return _SQLSTATES.get(state) or _SQLSTATES.get(state[:2])
    return None


def unavailable_cause(error: BaseException) -> str | None:
    """Why the database is unavailable, if ``error`` (or one of its causes) says it is."""
    for link in _chain(error):
        cause = _cause(link)
        if cause is not None:
            return cause
        if isinstance(link, exc.DBAPIError) and link.orig is not None:
            cause = _cause(link.orig)
            if cause is not None:
                return cause
    return None


class OutageReporter:
    """One log line per cause of unavailability: the first, then one per period with a count.

    ``recovered`` logs once that the database answers again. Thread-safe; one per process.
    """

    def __init__(
        self, logger: logging.Logger | None = None, every_seconds: float = REPORT_EVERY_SECONDS
    ) -> None:
        self.log = logger or logging.getLogger("gateway.database")
        self.every_seconds = every_seconds
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # cause -> when it was last logged
        self._unlogged: dict[str, int] = {}  # cause -> occurrences since
        self._failures = 0
        self.down = False

    def failed(self, cause: str, **extra: Any) -> None:
        now = time.monotonic()
        with self._lock:
            self.down = True
            self._failures += 1
            last = self._last.get(cause)
            if last is not None and now - last < self.every_seconds:
                self._unlogged[cause] = self._unlogged.get(cause, 0) + 1
                return
            self._last[cause] = now
            since = self._unlogged.pop(cause, 0)
        self.log.warning(
            "database unavailable: %s",
            cause,
            extra={"cause": cause, "occurrences_since_last_line": since, **extra},
        )

    def recovered(self) -> None:
        """The database answered: say so once if an outage was being reported."""
        if not self.down:  # the common case, without the lock
            return
        with self._lock:
            failures, was_down = self._failures, self.down
            self._failures, self.down = 0, False
            self._last.clear()
            self._unlogged.clear()
        if was_down:
            self.log.warning("database available again", extra={"failures_during_outage": failures})
