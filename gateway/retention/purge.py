"""The retention purge: what the policy's durations say must go, gone, and a report of it.

Per class of data (``retention`` in the policy):

- **Identity data** of a decision, once no fund still owes or awaits it (every disclosure
  acknowledged, rejected or cancelled, or none at all) and nothing happened to the
  decision or its disclosures for ``identity_after_last_receipt_days``. Each identity row
  is crypto-shredded: its wrapped data key is destroyed, so the ciphertext can never be
  read again, and its blind indexes are cleared, so the person can no longer be found.
  The decision itself (reference, kind, dates) stays, as do its disclosures and the
  audit trail: the evidence outlives the data.
- **Batch bytes** (which hold the identities they disclosed), on the same terms: once
  every record of a batch is settled and retention has passed, its data key is destroyed;
  its digest and Merkle root stay, so the evidence of what was sent outlives the data.
- **Import reports**: the line-by-line report of an import finished more than
  ``import_reports_days`` ago; the import's counts stay.
- **Audit events** older than ``audit_events_days`` are counted as due. The audit table
  is append-only (database triggers refuse deletion) and will become a verifiable log;
  until that log can drop old entries while staying verifiable, they are kept, and the
  report says so rather than pretend.

Work goes in chunks, one transaction each, so a long purge never holds locks for long and
a crash loses nothing: the next run picks up where this one stopped. A purge is
single-flight: on PostgreSQL it holds an advisory lock while it runs
(``gateway.storage.locks``), and a purge started meanwhile (another worker, or
``gateway retention purge``) does nothing and says so in its report (``skipped``); the
chunks also lock their rows with ``SKIP LOCKED``. A dry run changes nothing and takes no
lock. Every run that is not skipped, dry or not, writes a ``purge_runs`` row and an
audit event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from audit.actions import AuditAction
from gateway.auditlog.writer import record
from gateway.retention import repository
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from gateway.storage.locks import single_flight

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from policies.loader import LoadedPolicy

log = logging.getLogger("gateway.retention")


@dataclass
class PurgeReport:
    id: str
    policy_version: str
    dry_run: bool
    as_of: datetime
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: str | None = None  # why nothing was done: another purge was running

    def as_dict(self) -> dict[str, Any]:
        found = {
            "id": self.id,
            "policy_version": self.policy_version,
            "dry_run": self.dry_run,
            "as_of": self.as_of.isoformat(),
            "classes": self.classes,
        }
        if self.skipped is not None:
            found["skipped"] = self.skipped
        return found


JOB = "retention-purge"
SKIPPED = "another purge is running; it does this work"


def run(
    sessions: sessionmaker[Session],
    loaded: LoadedPolicy,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    actor: dict[str, str] | None = None,
) -> PurgeReport:
    """Apply the policy's retention as of ``now``; the report of what was (or would be) done.

    While another purge runs, nothing is done: the report says so (``skipped``).
    """
    now = now or utcnow()
    report = PurgeReport(new_id(), loaded.version, dry_run, now)
    if dry_run:
        return _run(sessions, loaded, report, actor)
    with single_flight(sessions, JOB) as ours:
        if not ours:
            report.skipped = SKIPPED
            log.info("retention purge skipped: another purge is running")
            return report
        return _run(sessions, loaded, report, actor)


def _run(
    sessions: sessionmaker[Session],
    loaded: LoadedPolicy,
    report: PurgeReport,
    actor: dict[str, str] | None,
) -> PurgeReport:
    now, dry_run = report.as_of, report.dry_run
    retention = loaded.policy.retention
    with sessions.begin() as session:
        repository.start_run(
            session,
            run_id=report.id,
            policy_version=loaded.version,
            dry_run=dry_run,
            as_of=now,
            started_at=utcnow(),
        )

    identity_cutoff = now - timedelta(days=retention.identity_after_last_receipt_days)
    with sessions() as session:
        due = repository.identities_due(session, identity_cutoff)
    shredded = 0
    while not dry_run:
        with sessions.begin() as session:
            done = repository.shred_identities(session, identity_cutoff, now)
        if not done:
            break
        shredded += done
    with sessions() as session:
        batches_count = repository.batches_due(session, identity_cutoff)
    batches_shredded = 0
    if not dry_run:
        with sessions.begin() as session:
            batches_shredded = repository.shred_batches(session, identity_cutoff, now)
    report.classes["batch_contents"] = {
        "retention_days": retention.identity_after_last_receipt_days,
        "after": "every record of the batch was acknowledged, rejected or cancelled",
        "cutoff": identity_cutoff.isoformat(),
        "due": batches_count,
        "purged": batches_shredded,
        "how": "crypto-shredded: data key destroyed; digest and Merkle root kept as evidence",
    }
    report.classes["identity_data"] = {
        "retention_days": retention.identity_after_last_receipt_days,
        "after": "the last receipt, or the decision's last change when no fund awaits it",
        "cutoff": identity_cutoff.isoformat(),
        "due": due,
        "purged": shredded,
        "how": "crypto-shredded: data key destroyed, blind indexes cleared",
    }

    imports_cutoff = now - timedelta(days=retention.import_reports_days)
    with sessions.begin() as session:
        import_ids = repository.imports_due(session, imports_cutoff)
        lines = repository.report_lines(session, import_ids)
        if not dry_run and import_ids:
            repository.remove_report_lines(session, import_ids, now)
    report.classes["import_reports"] = {
        "retention_days": retention.import_reports_days,
        "after": "the import finished",
        "cutoff": imports_cutoff.isoformat(),
        "due": len(import_ids),
        "purged": 0 if dry_run else len(import_ids),
        "lines_removed": 0 if dry_run else lines,
    }

    audit_cutoff = now - timedelta(days=retention.audit_events_days)
    with sessions() as session:
        old_events = repository.events_before(session, audit_cutoff)
    report.classes["audit_events"] = {
        "retention_days": retention.audit_events_days,
        "after": "the event",
        "cutoff": audit_cutoff.isoformat(),
        "due": old_events,
        "purged": 0,
        "kept_because": "the audit table is append-only; events past retention are kept "
        "until the verifiable log can drop them and stay verifiable",
    }

    with sessions.begin() as session:
        repository.finish_run(session, report.id, utcnow(), report.classes)
        record(
            session,
            AuditAction.RETENTION_PURGED,
            object_ids=[report.id],
            detail={
                "dry_run": dry_run,
                "policy_version": loaded.version,
                **{
                    name: {"due": c["due"], "purged": c["purged"]}
                    for name, c in report.classes.items()
                },
                **(actor or {}),
            },
        )
    return report
