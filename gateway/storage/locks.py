"""Single-flight jobs: at most one run of a job at a time, across processes and hosts.

A job that spans many transactions (the retention purge) holds a PostgreSQL session
advisory lock named after it, on a connection of its own, for as long as it runs
(``pg_try_advisory_lock``, never waiting): a second worker, or an operator's command,
finds it held and skips the run, saying so, rather than doing the same work twice or
failing. The lock goes with the connection: a worker that dies frees it.

SQLite has one writer: each transaction of a job waits for the other's, and every job
is written so that a transaction finds only what is still to do; run one worker there.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session, sessionmaker

_JOBS_LOCK = 0x10B5  # the first key of the two-key advisory lock: single-flight jobs


def _key(job: str) -> int:
    return zlib.crc32(job.encode()) - 2**31  # a signed 32-bit key


@contextmanager
def single_flight(sessions: sessionmaker[Session], job: str) -> Iterator[bool]:
    """Hold ``job``'s lock while the block runs; yields False if another run holds it."""
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        yield True  # SQLite: one writer
        return
    params = {"namespace": _JOBS_LOCK, "key": _key(job)}
    # A connection of the job's own, outside any transaction, so the lock is not held by an
    # idle transaction; a session already bound to one connection (a test's) uses it.
    owned = not isinstance(bind, Connection)
    connection = bind.connect().execution_options(isolation_level="AUTOCOMMIT") if owned else bind
    try:
        taken = bool(
            connection.execute(
                text("SELECT pg_try_advisory_lock(:namespace, :key)"), params
            ).scalar_one()
        )
        try:
            yield taken
        finally:
            if taken:
                connection.execute(text("SELECT pg_advisory_unlock(:namespace, :key)"), params)
    finally:
        if owned:
            connection.close()
