"""What changed in the participants' tables, told when it commits, here and elsewhere.

Every session of the process is watched: objects of the participants' tables flushed
(by id), and ``UPDATE``/``DELETE`` statements on those tables (everyone, ``EVERYONE``).
When the transaction commits, each function given to ``subscribe`` is called with each
id, in this process. On PostgreSQL the ids are also sent on the ``gateway_participants``
channel inside the transaction (``NOTIFY``: delivered to every listening process if,
and only if, it commits). A change made by hand in SQL is not seen: ``NOTIFY
gateway_participants`` after it (an empty payload stands for everyone).

Imported by ``gateway.participants.models``, so every process that can change a
participant (server, worker, command line) tells of it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.orm import Session

from gateway.storage.notifications import notify

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import ORMExecuteState, UOWTransaction

CHANNEL = "gateway_participants"
EVERYONE = ""
# The id column of each watched table (a delegation changes both of its participants).
_WATCHED = {
    "participants": ("id",),
    "participant_territories": ("participant_id",),
    "participant_delegations": ("delegate_id", "principal_id"),
}
_CHANGED = "gateway_participants_changed"
_subscribers: list[weakref.WeakMethod[Callable[[str], None]]] = []


def subscribe(forget: Callable[[str], None]) -> None:
    """Call the method ``forget(id)`` after each commit that changed participant ``id``.

    In this process, while the method's object lives.
    """
    _subscribers[:] = [s for s in _subscribers if s() is not None]
    _subscribers.append(weakref.WeakMethod(forget))


def _changed(session: Session) -> set[str]:
    found: set[str] = session.info.setdefault(_CHANGED, set())
    return found


def _announce(session: Session, ids: set[str]) -> None:
    """Remember ``ids`` until the commit; on PostgreSQL, notify the other processes."""
    new = ids - _changed(session)
    if not new:
        return
    _changed(session).update(new)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        for participant_id in sorted(new):
            notify(connection, CHANNEL, participant_id)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _flush: UOWTransaction) -> None:
    ids = set()
    for instance in [*session.new, *session.dirty, *session.deleted]:
        for column in _WATCHED.get(getattr(type(instance), "__tablename__", ""), ()):
            ids.add(str(getattr(instance, column)))
    if ids:
        _announce(session, ids)


@event.listens_for(Session, "do_orm_execute")
def _statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    if getattr(state.bind_mapper.class_, "__tablename__", None) in _WATCHED:
        _announce(state.session, {EVERYONE})


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    ids = session.info.pop(_CHANGED, set())
    for subscriber in _subscribers.copy():
        forget = subscriber()
        if forget is None:
            continue
        for participant_id in ids:
            forget(participant_id)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
