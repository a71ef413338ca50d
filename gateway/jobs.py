"""Scheduled work, as plain functions that are safe to run twice and on two hosts at once.

The scheduler (``gateway worker``) only triggers them; each owns its transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.auth import replay
from gateway.retention import purge
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.settings import Settings

log = logging.getLogger("gateway.jobs")


def purge_replay_cache(sessions: sessionmaker[Session]) -> int:
    """Forget the one-time identifiers of assertions and proofs that have expired anyway."""
    with sessions.begin() as session:
        removed = replay.purge_expired(session)
    log.info("replay cache purged", extra={"removed": removed})
    return removed


def apply_retention(sessions: sessionmaker[Session], settings: Settings) -> purge.PurgeReport:
    """The retention purge under the configured policy (read afresh: it may have changed)."""
    report = purge.run(
        sessions, load_file(settings.policy_file or DEFAULT_POLICY), actor={"via": "worker"}
    )
    log.info(
        "retention applied",
        extra={name: c["purged"] for name, c in report.classes.items()},
    )
    return report


JOBS: dict[str, tuple[Callable[[sessionmaker[Session], Settings], object], int]] = {
    "purge-replay-cache": (lambda sessions, _settings: purge_replay_cache(sessions), 600),
    "apply-retention": (apply_retention, 6 * 3600),
}
