"""What is owed and waiting, read at each scrape: from the database, the keyring, the spool.

From the database, one grouped query per family on an index (``repository``): records
owed per fund, state and priority class and the oldest pending (all classes, and the
policy's express classes), batches not acknowledged and the oldest, push attempts and
each push fund's failures and parking, audit events waiting for the Merkle log and the
last checkpoint's age, imports by state. A failing database makes the scrape say so
(``gateway_database_up`` 0) rather than fail; what does not come from the database is
still served: the audit events spooled on this host's disk, each signing key's expiry
as the server reads the keyring, and the scheduled jobs' intervals (this host's
settings), which alert rules compare ages with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.batches.sealing import express_ranks
from gateway.imports.models import ImportStatus
from gateway.jobs import JOBS, interval_of
from gateway.keys import KeyStatus
from gateway.metrics import repository
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from prometheus_client.metrics_core import Metric
    from sqlalchemy.orm import Session

    from gateway.state import AppState


def _age(now: datetime, then: datetime) -> float:
    """Seconds from ``then`` (naive from SQLite: UTC) to ``now``, never negative."""
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


class DatabaseCollector(Collector):
    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        up = GaugeMetricFamily("gateway_database_up", "1 if the scrape could read the database.")
        try:
            with self.state.sessions() as session:
                families = list(self._database(session, now))
        except Exception:  # noqa: BLE001 - the scrape reports the outage instead
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            yield from families
        yield up
        yield from self._host(now)

    def _database(self, session: Session, now: datetime) -> Iterable[Metric]:
        owed = GaugeMetricFamily(
            "gateway_records_owed",
            "Records owed to a fund and not yet acknowledged, by state and priority class.",
            labels=["fund", "state", "priority_class"],
        )
        for fund, state, priority_class, count in repository.records_owed(session):
            owed.add_metric([fund, state, priority_class], count)
        oldest = GaugeMetricFamily(
            "gateway_oldest_pending_record_age_seconds",
            "Age of the oldest record of a fund still waiting to be sealed.",
            labels=["fund"],
        )
        for fund, created_at in repository.oldest_pending(session):
            oldest.add_metric([fund], _age(now, created_at))
        express = GaugeMetricFamily(
            "gateway_oldest_pending_express_record_age_seconds",
            "Age of the oldest record of a fund waiting to be sealed in one of the policy's "
            "express classes (corrections, the most urgent).",
            labels=["fund"],
        )
        ranks = express_ranks(self.state.policy)
        for fund, created_at in repository.oldest_pending(session, ranks) if ranks else ():
            express.add_metric([fund], _age(now, created_at))
        yield from (owed, oldest, express)
        yield from self._batches(session, now)
        yield from self._push(session)
        yield from self._audit_and_imports(session, now)

    def _batches(self, session: Session, now: datetime) -> Iterable[Metric]:
        batches = GaugeMetricFamily(
            "gateway_batches_unacknowledged",
            "Batches sealed for a fund and not acknowledged, by state (sealed: not yet "
            "downloaded or pushed; delivered: the fund has them, no receipt yet).",
            labels=["fund", "state"],
        )
        oldest = GaugeMetricFamily(
            "gateway_oldest_unacknowledged_batch_age_seconds",
            "Age of a fund's oldest batch not acknowledged, since it was sealed.",
            labels=["fund"],
        )
        first: dict[str, datetime] = {}
        for fund, state, count, created_at in repository.batches_unacknowledged(session):
            batches.add_metric([fund, state], count)
            first[fund] = min(created_at, first.get(fund, created_at))
        for fund, created_at in sorted(first.items()):
            oldest.add_metric([fund], _age(now, created_at))
        yield from (batches, oldest)

    def _push(self, session: Session) -> Iterable[Metric]:
        attempts = CounterMetricFamily(
            "gateway_push_attempts",
            "Push attempts to a fund's endpoint, by outcome (accepted: a valid signed "
            "receipt came back; failed: anything else), whichever worker made them.",
            labels=["fund", "outcome"],
        )
        for fund, accepted, count in repository.push_attempts(session):
            attempts.add_metric([fund, "accepted" if accepted else "failed"], count)
        failures = GaugeMetricFamily(
            "gateway_push_consecutive_failures",
            "Consecutive failed push attempts to a fund (0 after a success).",
            labels=["fund"],
        )
        parked = GaugeMetricFamily(
            "gateway_push_fund_parked",
            "1 if pushing to the fund is parked after too many failures (probed at the "
            "backoff cap until it answers).",
            labels=["fund"],
        )
        for fund, failed, parked_at in repository.push_states(session):
            failures.add_metric([fund], failed)
            parked.add_metric([fund], 0 if parked_at is None else 1)
        yield from (attempts, failures, parked)

    def _audit_and_imports(self, session: Session, now: datetime) -> Iterable[Metric]:
        queued = GaugeMetricFamily(
            "gateway_audit_events_queued",
            "Audit events committed and not yet appended to the Merkle log.",
        )
        queued.add_metric([], repository.audit_events_queued(session))
        yield queued
        checkpoint = GaugeMetricFamily(
            "gateway_audit_checkpoint_age_seconds",
            "Age of the latest signed checkpoint of the audit log (none before the first).",
        )
        signed = repository.last_checkpoint_signed(session)
        if signed is not None:
            checkpoint.add_metric([], _age(now, signed))
        yield checkpoint
        imports = GaugeMetricFamily(
            "gateway_imports", "Imports of prefecture files by state.", labels=["state"]
        )
        counts = {str(status): 0 for status in ImportStatus}
        counts.update(dict(repository.imports_by_status(session)))
        for status, count in counts.items():
            imports.add_metric([status], count)
        yield imports

    def _host(self, now: datetime) -> Iterable[Metric]:
        state = self.state
        spool = GaugeMetricFamily(
            "gateway_audit_spool_events",
            "Audit events spooled on this host's disk while the database was unavailable, "
            "waiting to be appended.",
        )
        spool.add_metric([], state.spool.spooled())
        expiry = GaugeMetricFamily(
            "gateway_key_expiry_timestamp_seconds",
            "When each signing key expires (GATEWAY_KEY_MAX_AGE_DAYS after it starts "
            "signing), or stopped signing for a retired key; Unix time.",
            labels=["kid", "use", "status"],
        )
        max_age = timedelta(days=state.settings.key_max_age_days)
        for entry in state.keys.entries_at(now):
            if entry.status == KeyStatus.RETIRED and entry.retires_at is not None:
                end = datetime.fromisoformat(entry.retires_at)
            else:
                end = datetime.fromisoformat(entry.activates_at) + max_age
            expiry.add_metric([entry.kid, str(entry.use), str(entry.status)], end.timestamp())
        intervals = GaugeMetricFamily(
            "gateway_job_interval_seconds",
            "The interval between two runs of each scheduled job, as configured here.",
            labels=["scheduled_job"],
        )
        for name in JOBS:
            intervals.add_metric([name], interval_of(name, state.settings))
        yield from (spool, expiry, intervals)
