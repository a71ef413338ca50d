"""Scheduled work, as plain functions that are safe to run twice and on two hosts at once.

The scheduler (``gateway worker``) only triggers them; each owns its transaction.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from gateway.auth import repository as replay
from gateway.retention import purge
from policies.loader import DEFAULT_POLICY, load_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.batches.delivery import Pusher
    from gateway.settings import Settings

log = logging.getLogger("gateway.jobs")


def purge_replay_cache(sessions: sessionmaker[Session]) -> int:
    """Forget one-time identifiers that expired, and status-check windows a day old."""
    from gateway.status.repository import purge_windows  # noqa: PLC0415
    from gateway.storage.base import utcnow  # noqa: PLC0415

    with sessions.begin() as session:
        removed = replay.purge_expired(session)
        purge_windows(session, utcnow() - timedelta(days=1))
    log.info("replay cache purged", extra={"removed": removed})
    return removed


def _seal(sessions: sessionmaker[Session], settings: Settings, *, express: bool) -> int:
    # Imported here: the batches package builds on the key store and the policies.
    from gateway.batches.repository import pending_count  # noqa: PLC0415
    from gateway.batches.sealing import seal  # noqa: PLC0415
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415
    from gateway.keys import GatewayKeys  # noqa: PLC0415

    with sessions() as session:
        if not pending_count(session):
            return 0
    keys = GatewayKeys.load(settings.key_dir)
    sealed = seal(
        sessions,
        keys,
        IdentityKeys.from_store(keys),
        load_file(settings.policy_file or DEFAULT_POLICY),
        express_only=express,
        max_records=settings.batch_max_records,
    )
    log.info(
        "batches sealed",
        extra={
            "express": express,
            "batches": len(sealed),
            "records": sum(batch.record_count for batch in sealed),
        },
    )
    return len(sealed)


def seal_express(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Seal the policy's express classes (corrections and the most urgent) for every fund."""
    return _seal(sessions, settings, express=True)


def seal_regular(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Seal everything pending for every fund."""
    return _seal(sessions, settings, express=False)


def push_batches(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Push each push fund's due batches, in order, and wait (``gateway.batches.delivery``)."""
    from gateway.batches.delivery import deliver  # noqa: PLC0415

    return len(deliver(sessions, settings))


class PushJob:
    """The worker's push job: one ``Pusher`` kept across runs.

    A run starts serving the funds not already being served and returns at once: a fund
    still being served never holds back the next run for the others.
    """

    def __init__(self) -> None:
        self._pusher: Pusher | None = None

    def __call__(self, sessions: sessionmaker[Session], settings: Settings) -> int:
        from gateway.batches.delivery import Pusher  # noqa: PLC0415

        if self._pusher is None:
            self._pusher = Pusher(sessions, settings)
        return len(self._pusher.start())

    def close(self) -> None:
        """Wait for the attempts under way (each is bounded), then stop the pool."""
        if self._pusher is not None:
            self._pusher.close()


def sequence_audit_log(sessions: sessionmaker[Session], _settings: Settings) -> int:
    """Append queued audit events to the Merkle log, batch after batch."""
    from gateway.auditlog import service as audit_log  # noqa: PLC0415

    total = 0
    while True:
        with sessions.begin() as session:
            appended = audit_log.sequence(session)
        total += appended
        if not appended:
            return total


def sign_audit_checkpoint(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Sign a checkpoint of the log if it grew: the C2SP signed note auditors verify."""
    from gateway.auditlog import service as audit_log  # noqa: PLC0415
    from gateway.keys import GatewayKeys, KeyUse  # noqa: PLC0415

    sequence_audit_log(sessions, settings)
    with sessions() as session:
        if not audit_log.needs_checkpoint(session):
            return 0
    keys = GatewayKeys.load(settings.key_dir)
    entry, key = keys.active(KeyUse.CHECKPOINT)
    with sessions.begin() as session:
        signed = audit_log.sign_checkpoint(
            session,
            origin=settings.audit_log_origin,
            key_name=settings.audit_log_origin,
            kid=entry.kid,
            key=key,  # type: ignore[arg-type]  # checkpoint keys are Ed25519
        )
    if signed is not None:
        log.info("audit checkpoint signed", extra={"tree_size": signed.tree_size})
    return signed.tree_size if signed is not None else 0


def replay_audit_spool(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Append the audit events this host spooled while the database was unavailable."""
    from gateway.auditlog.spool import AuditSpool  # noqa: PLC0415

    return AuditSpool(settings.audit_spool_dir).replay(sessions)


def process_imports(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Process the imports posted (and resume those whose worker stopped), one at a time.

    Each import has one worker at a time (a lease in its row, renewed every batch), so
    every worker may run this job.
    """
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415
    from gateway.imports.repository import claimable  # noqa: PLC0415
    from gateway.imports.runner import run_pending_imports  # noqa: PLC0415
    from gateway.keys import GatewayKeys  # noqa: PLC0415
    from gateway.storage.base import utcnow  # noqa: PLC0415

    with sessions() as session:
        if not claimable(session, utcnow(), limit=1):
            return 0
    finished = run_pending_imports(
        sessions,
        IdentityKeys.from_store(GatewayKeys.load(settings.key_dir)),
        load_file(settings.policy_file or DEFAULT_POLICY),
        lease_seconds=settings.import_lease_seconds,
    )
    log.info("imports processed", extra={"imports": finished})
    return finished


def apply_retention(sessions: sessionmaker[Session], settings: Settings) -> purge.PurgeReport:
    """The retention purge under the configured policy (read afresh: it may have changed)."""
    report = purge.run(
        sessions, load_file(settings.policy_file or DEFAULT_POLICY), actor={"via": "worker"}
    )
    if report.skipped is not None:
        log.info("retention not applied", extra={"reason": report.skipped})
        return report
    log.info(
        "retention applied",
        extra={name: c["purged"] for name, c in report.classes.items()},
    )
    return report


def expire_console_access(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Expire the console's access requests whose time is over, their keyed values cleared.

    Pending ones that waited too long for their approval, approved ones past their window.

    One audit event per auditor names its requests expired (no person in it), in that
    auditor's name, so its territory's auditors find it; none when none did.
    """
    from audit.actions import AuditAction  # noqa: PLC0415
    from gateway.auditlog.writer import record  # noqa: PLC0415
    from gateway.console.repository import (  # noqa: PLC0415
        expire_access_requests,
        expired_counts,
    )
    from gateway.participants.models import ParticipantKind  # noqa: PLC0415
    from gateway.storage.base import utcnow  # noqa: PLC0415

    now = utcnow()
    pending_since = now - timedelta(hours=settings.console_access_pending_hours)
    with sessions.begin() as session:
        expired = expire_access_requests(session, now, pending_since)
        for auditor in sorted({auditor for _, auditor, _ in expired}):
            theirs = [entry for entry in expired if entry[1] == auditor]
            record(
                session,
                AuditAction.CONSOLE_ACCESS_EXPIRED,
                participant_id=auditor,
                participant_kind=str(ParticipantKind.AUDITOR),
                acting_for=auditor,
                object_ids=[request_id for request_id, _, _ in theirs],
                detail={**expired_counts(theirs), "via": "worker"},
            )
        if expired:
            log.info("console access requests expired", extra=expired_counts(expired))
    return len(expired)


def reindex_identities(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Bring the stored blocking keys to the running release's scheme, after an upgrade.

    Nothing to do (one read, no key loaded) unless the stored keys were made otherwise; then
    up to ``REINDEX_CHUNKS`` chunks a run, resumed where the last run stopped. Two workers
    take turns on the scheme's row.
    """
    from gateway.identities.matching import BLOCKING_SCHEME  # noqa: PLC0415
    from gateway.identities.reindex import stored_scheme, to_current_scheme  # noqa: PLC0415
    from gateway.identities.service import IdentityKeys  # noqa: PLC0415
    from gateway.keys import GatewayKeys  # noqa: PLC0415

    with sessions() as session:
        if stored_scheme(session) == BLOCKING_SCHEME:
            return 0
    keys = IdentityKeys.from_store(GatewayKeys.load(settings.key_dir))
    indexed = to_current_scheme(sessions, keys, chunks=REINDEX_CHUNKS)
    log.info("identities reindexed", extra={"identities": indexed, "scheme": BLOCKING_SCHEME})
    return indexed


REINDEX_CHUNKS = 25  # 50,000 identities a run: a million in twenty minutes of runs


JOBS: dict[str, tuple[Callable[[sessionmaker[Session], Settings], object], int]] = {
    "purge-replay-cache": (lambda sessions, _settings: purge_replay_cache(sessions), 600),
    "apply-retention": (apply_retention, 6 * 3600),
    "seal-express": (seal_express, 0),  # interval from the settings
    "seal-regular": (seal_regular, 0),
    "push-batches": (push_batches, 0),
    "replay-audit-spool": (replay_audit_spool, 60),
    "sequence-audit-log": (sequence_audit_log, 0),
    "sign-audit-checkpoint": (sign_audit_checkpoint, 0),
    "process-imports": (process_imports, 0),
    "expire-console-access": (expire_console_access, 300),
    "reindex-identities": (reindex_identities, 60),
}


def interval_of(name: str, settings: Settings) -> int:
    """Seconds between two runs of a job: fixed, or from the settings."""
    configured = {
        "seal-express": settings.seal_express_seconds,
        "seal-regular": settings.seal_regular_seconds,
        "push-batches": settings.push_interval_seconds,
        "sequence-audit-log": settings.audit_sequence_seconds,
        "sign-audit-checkpoint": settings.audit_checkpoint_seconds,
        "process-imports": settings.import_poll_seconds,
    }
    return configured.get(name) or JOBS[name][1]
