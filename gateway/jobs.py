"""Scheduled work, as plain functions that are safe to run twice and on two hosts at once.

The scheduler (``gateway worker``) only triggers them; each owns its transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.auth import replay

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("gateway.jobs")


def purge_replay_cache(sessions: sessionmaker[Session]) -> int:
    """Forget the one-time identifiers of assertions and proofs that have expired anyway."""
    with sessions.begin() as session:
        removed = replay.purge_expired(session)
    log.info("replay cache purged", extra={"removed": removed})
    return removed


JOBS = {"purge-replay-cache": (purge_replay_cache, 600)}
