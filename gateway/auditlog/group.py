"""Group commit: the audit events of concurrent requests, appended and committed together.

A request that wrote nothing else still owes its audit event, durable before its answer
leaves. ``GroupCommit.write`` queues the request's events (its own, and those of the
items it answered: one unit, committed together or not at all) and waits: one task per
event loop takes every queued unit, appends them in one transaction and commits (one
round of the write-ahead log for all), then releases their requests; units queued
meanwhile go in the next transaction. No event is lost to another's failure: if the
shared transaction fails, each unit is retried in a transaction of its own, and only the
requests whose own unit failed see the error (and answer as the request path says: 503
when the database is down, the event spooled).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from gateway.auditlog.writer import append_rows, as_row

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.auditlog.writer import AuditDraft

MAX_UNITS = 500  # a transaction's units (requests), at most

_Unit = tuple[tuple["AuditDraft", ...], asyncio.Future[None]]


@dataclass
class _Queue:
    waiting: list[_Unit] = field(default_factory=list)
    writing: asyncio.Task[None] | None = None


class GroupCommit:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )

    async def write(self, *drafts: AuditDraft) -> None:
        """Return once ``drafts``' events are committed, together; raise what failed them."""
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _Queue())
        done: asyncio.Future[None] = loop.create_future()
        queue.waiting.append((drafts, done))
        if queue.writing is None:
            queue.writing = loop.create_task(self._drain(queue))
        await done

    async def _drain(self, queue: _Queue) -> None:
        batch: list[_Unit] = []
        try:
            while queue.waiting:
                batch = queue.waiting[:MAX_UNITS]
                del queue.waiting[:MAX_UNITS]
                outcomes = await run_in_threadpool(self._commit, [drafts for drafts, _ in batch])
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():  # the request was cancelled (its client left)
                        continue
                    if outcome is None:
                        done.set_result(None)
                    else:
                        done.set_exception(outcome)
        except BaseException as stopped:  # the loop is closing: no request waits forever
            for _, done in [*batch, *queue.waiting]:
                if not done.done():
                    done.set_exception(RuntimeError("the audit writer stopped"))
            queue.waiting.clear()
            raise stopped from None
        finally:
            queue.writing = None

    def _commit(self, units: list[tuple[AuditDraft, ...]]) -> list[BaseException | None]:
        """Commit the units together, or else each alone: each one's error, or None."""
        try:
            self._transaction([draft for unit in units for draft in unit])
        except Exception as shared:  # noqa: BLE001 - handed to the requests concerned
            if len(units) == 1:
                return [shared]
        else:
            return [None] * len(units)
        outcomes: list[BaseException | None] = []
        for unit in units:
            try:
                self._transaction(list(unit))
            except Exception as alone:  # noqa: BLE001 - handed to its request
                outcomes.append(alone)
            else:
                outcomes.append(None)
        return outcomes

    def _transaction(self, drafts: list[AuditDraft]) -> None:
        with self._sessions.begin() as session:
            append_rows(session, [as_row(draft) for draft in drafts])
