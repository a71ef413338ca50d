"""Audit events that could not be written while the database was unavailable.

A request refused during an outage must still leave its trace. When its audit event
cannot be written, it is appended to a spool file on local disk (one JSON object a line,
flushed and ``fsync``'d before the 503 leaves) and appended to the audit table once the
database answers again (``replay``): by the server after its next successful request or
readiness probe, and by the worker's ``replay-audit-spool`` job on the same host.

Each event keeps the id and time it was given when it happened, so a replay is
idempotent: an event already in the table is skipped (a crash between the commit and the
removal of the file, two processes replaying at once). Each process appends to its own
file under an exclusive lock; a replay first renames the file, then takes the lock, so no
line is written into a file it has read. A line that does not parse (a crash in the middle
of a write, a hand edit) is skipped with a warning and kept in ``rejected.jsonl``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import threading
import uuid
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from audit.events import EVENT_FIELDS
from gateway.auditlog import repository
from gateway.auditlog.writer import as_row
from gateway.logs import log_error
from gateway.storage.outage import unavailable_cause

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auditlog.writer import AuditDraft
    from gateway.storage.outage import OutageReporter

log = logging.getLogger("gateway.audit.spool")
PENDING = "audit-*.jsonl"
REPLAYING = "audit-*.replaying"
REJECTED = "rejected.jsonl"
BATCH = 500
_FIELDS = frozenset(EVENT_FIELDS)  # a spooled line is one event row, every field


class AuditSpool:
    """The spool directory of one process: ``write`` during an outage, ``replay`` after."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._replaying = threading.Lock()
        self._pending: bool | None = None  # unknown until the directory is first looked at

    @property
    def pending(self) -> bool:
        """Whether there may be events to replay (written here, or found at start-up)."""
        if self._pending is None:
            self._pending = self.directory.is_dir() and any(self._files())
        return self._pending

    def write(self, draft: AuditDraft) -> str:
        """Append the event ``draft`` describes, durably; return its event id."""
        row = as_row(draft)
        row["detail"] = {**row["detail"], "spooled": True}
        line = json.dumps(row, default=_iso, separators=(",", ":"), sort_keys=True) + "\n"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"audit-{_writer()}.jsonl"
            _append(path, line.encode())
            self._pending = True
        return str(row["event_id"])

    def replay(self, sessions: sessionmaker[Session]) -> int:
        """Append every spooled event not yet in the table; return how many were added.

        Raises if the database fails; the files stay (renamed) for the next replay.
        """
        if not self._replaying.acquire(blocking=False):
            return 0  # another thread of this process is at it
        try:
            self._pending = False
            if not self.directory.is_dir():
                return 0
            added = 0
            for path in self._files():
                try:
                    added += self._replay_file(sessions, path)
                except BaseException:
                    self._pending = True
                    raise
            if added:
                log.info("spooled audit events appended", extra={"events": added})
            return added
        finally:
            self._replaying.release()

    def replay_soon(self, sessions: sessionmaker[Session], outages: OutageReporter) -> None:
        """Replay in a thread of its own if there may be events to, and none is at it."""
        if not self.pending or self._replaying.locked():
            return
        threading.Thread(
            target=self._replay_quietly,
            args=(sessions, outages),
            name="audit-spool-replay",
            daemon=True,
        ).start()

    def _replay_quietly(self, sessions: sessionmaker[Session], outages: OutageReporter) -> None:
        try:
            self.replay(sessions)
        except Exception as error:  # noqa: BLE001 - a thread of its own: logged, retried later
            cause = unavailable_cause(error)
            if cause is None:
                log_error(log, "could not replay the audit spool", error)
            else:
                outages.failed(cause)

    def spooled(self) -> int:
        """Events waiting on this host's disk to be appended (lines of the spool files).

        Read at each scrape of ``/metrics``: an empty or absent directory costs one listing.
        """
        if not self.directory.is_dir():
            return 0
        events = 0
        for path in self._files():
            try:
                with path.open("rb") as spooled:
                    while piece := spooled.read(1024 * 1024):
                        events += piece.count(b"\n")
            except FileNotFoundError:
                continue  # replayed and removed since the listing
        return events

    def _files(self) -> list[Path]:
        return sorted([*self.directory.glob(REPLAYING), *self.directory.glob(PENDING)])

    def _replay_file(self, sessions: sessionmaker[Session], path: Path) -> int:
        if not path.name.endswith(".replaying"):
            claimed = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.replaying")
            try:
                path.rename(claimed)
            except FileNotFoundError:
                return 0  # another process claimed it
            path = claimed
        try:
            with path.open("rb") as frozen:
                # A writer that opened the file before the rename finishes its line first.
                fcntl.flock(frozen, fcntl.LOCK_EX)
                fcntl.flock(frozen, fcntl.LOCK_UN)
                lines = frozen.read().splitlines()
        except FileNotFoundError:
            return 0  # another process replayed it
        parsed = (self._parse(path, number, raw) for number, raw in enumerate(lines, 1))
        rows = [row for row in parsed if row is not None]
        added = 0
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            with sessions.begin() as session:
                known = repository.known_event_ids(session, [row["event_id"] for row in chunk])
                for row in chunk:
                    if row["event_id"] not in known:
                        repository.add_event(session, row)
                        added += 1
        with suppress(FileNotFoundError):
            path.unlink()
        return added

    def _parse(self, path: Path, number: int, raw: bytes) -> dict[str, Any] | None:
        if not raw.strip():
            return None
        try:
            row = json.loads(raw)
            if not isinstance(row, dict) or set(row) != _FIELDS:
                raise ValueError("not an audit event")  # noqa: TRY301 - one refusal path
            row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
            if row["occurred_at"].tzinfo is None:
                raise ValueError("a time without its zone")  # noqa: TRY301
        except (ValueError, TypeError, KeyError) as error:
            log.warning(
                "unreadable line in the audit spool skipped, kept in %s",
                REJECTED,
                extra={"file": path.name, "line": number, "error": type(error).__name__},
            )
            _append(self.directory / REJECTED, raw.rstrip(b"\n") + b"\n")
            return None
        return row


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` in one write, under an exclusive lock, and fsync it.

    If a replay renamed the file between the open and the lock, append to a new one.
    """
    while True:
        created = not path.exists()
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                current = path.stat()
            except FileNotFoundError:
                continue
            if current.st_ino != os.fstat(descriptor).st_ino:
                continue
            written = 0
            while written < len(data):
                written += os.write(descriptor, data[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # releases the lock
        if created:
            _fsync_directory(path.parent)
        return


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _writer() -> str:
    """The name of this process's spool file: host and pid.

    Replicas sharing a spool volume never share a file, though each may run as pid 1.
    """
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:64]
    return f"{host}-{os.getpid()}"
