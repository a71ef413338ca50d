"""The registry in memory: each request's participant without a query, kept true.

Every request needs its participant (and the one it acts for): kind, status, territory,
delegations. ``RegistryCache`` keeps what it read, per server process, and forgets a
participant the moment a change to it commits:

- in this process, at once (``after_commit``, whatever the database);
- on PostgreSQL, in every process: the transaction that changes a participant sends its
  id on the ``gateway_participants`` channel (``gateway.participants.changes``), and
  each server listens (``gateway.storage.notifications``). Before trusting what it
  holds, a request waits for a round trip on the listening connection begun after it
  arrived (shared by every request arriving meanwhile): every change committed before
  the request arrived has been notified by then, so a suspension is in force on every
  replica for every request that arrives after it committed.
  While a server is not listening (connecting, or its connection lost), it reads
  every participant from the database, as if there were no cache.

On SQLite there is one server process, and the in-process forgetting is all there is:
a change made by another process (``gateway participants suspend`` beside ``gateway
serve``) is seen by the server after ``SQLITE_TTL_SECONDS`` at most.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.participants import changes, repository
from gateway.participants.models import ParticipantKind, ParticipantStatus
from gateway.participants.service import describe
from gateway.storage.notifications import Listener

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.participants.models import Participant
    from gateway.participants.schemas import ParticipantOut

SQLITE_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class Registered:
    """What a request needs of a participant, as it was when read."""

    id: str
    kind: ParticipantKind
    active: bool
    national: bool
    departements: tuple[str, ...]
    acts_for: tuple[str, ...]
    jwks: dict[str, Any]  # its public keys, to verify what it signs (read-only)
    described: ParticipantOut

    @property
    def require_dpop(self) -> bool:
        return self.described.require_dpop

    @classmethod
    def of(cls, participant: Participant) -> Registered:
        return cls(
            id=participant.id,
            kind=ParticipantKind(participant.kind),
            active=participant.status == ParticipantStatus.ACTIVE,
            national=participant.national,
            departements=tuple(participant.departements),
            acts_for=tuple(participant.acts_for),
            jwks=participant.jwks,
            described=describe(participant),
        )


class RegistryCache:
    """Participants read once, forgotten when they change (see the module's docstring)."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._entries: dict[str, tuple[Registered, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._postgresql = engine.dialect.name == "postgresql"
        self._listener: Listener | None = None
        self._starts = 0  # lifespans running: the listener runs while one does
        if self._postgresql:
            self._listener = Listener(
                engine.url.render_as_string(hide_password=False),
                changes.CHANNEL,
                self.forget,
                self.clear,
            )
        changes.subscribe(self.forget)

    def start(self) -> None:
        """Begin listening (PostgreSQL): until then, every lookup reads the database.

        An app's lifespan may run more than once at a time (a test client inside another):
        one listener serves them all, stopped when the last of them stops.
        """
        with self._lock:
            self._starts += 1
            first = self._starts == 1
        if first and self._listener is not None:
            self._listener.start()

    def stop(self) -> None:
        with self._lock:
            self._starts = max(0, self._starts - 1)
            last = self._starts == 0
        if last:
            if self._listener is not None:
                self._listener.stop()
            self.clear()

    def cached(self, participant_id: str) -> Registered | None:
        """The participant if held and still true; None: read it (``load``).

        For a worker thread (blocking): the shared round trip is waited for, as ``fresh``
        awaits it.
        """
        if self._listener is not None and not self._listener.synced_blocking():
            return None
        return self._held(participant_id)

    async def fresh(self, participant_id: str) -> Registered | None:
        """``cached``, for a request on the event loop.

        The round trip that proves the cache up to date is awaited (and shared), never
        waited on in the loop's thread.
        """
        if self._listener is not None and not await self._listener.synced():
            return None
        return self._held(participant_id)

    def _held(self, participant_id: str) -> Registered | None:
        found = self._entries.get(participant_id)
        if found is None:
            return None
        registered, read_at = found
        if self._listener is None and time.monotonic() - read_at > SQLITE_TTL_SECONDS:
            return None
        return registered

    def current(self, participant_id: str) -> Registered | None:
        """The participant as it stands, for a worker thread: held, or else read."""
        return self.cached(participant_id) or self.load(participant_id)

    def load(self, participant_id: str) -> Registered | None:
        """Read the participant from the database (blocking) and keep it."""
        with self._lock:
            generation = self._generation
        with self._sessions() as session:
            participant = repository.get(session, participant_id)
            registered = Registered.of(participant) if participant is not None else None
        keep = registered is not None and (self._listener is None or self._listener.listening)
        with self._lock:
            # Kept only if nothing was forgotten meanwhile: the read may predate the change.
            if keep and generation == self._generation and registered is not None:
                self._entries[participant_id] = (registered, time.monotonic())
        return registered

    def forget(self, participant_id: str) -> None:
        with self._lock:
            self._generation += 1
            if participant_id == changes.EVERYONE:
                self._entries.clear()
            else:
                self._entries.pop(participant_id, None)

    def clear(self) -> None:
        self.forget(changes.EVERYONE)
