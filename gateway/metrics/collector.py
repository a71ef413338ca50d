"""What the database owes, read at each scrape: records per fund, state and priority class.

One grouped query per family, on the indexes sealing uses; a failing database makes the
scrape say so (``gateway_database_up`` 0) rather than fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.metrics import repository
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric
    from sqlalchemy.orm import Session, sessionmaker


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        owed = GaugeMetricFamily(
            "gateway_records_owed",
            "Records owed to a fund and not yet acknowledged, by state and priority class.",
            labels=["fund", "state", "priority_class"],
        )
        oldest = GaugeMetricFamily(
            "gateway_oldest_pending_record_age_seconds",
            "Age of the oldest record of a fund still waiting to be sealed.",
            labels=["fund"],
        )
        up = GaugeMetricFamily("gateway_database_up", "1 if the scrape could read the database.")
        try:
            with self.sessions() as session:
                counts = repository.records_owed(session)
                ages = repository.oldest_pending(session)
        except Exception:  # noqa: BLE001 - the scrape reports the outage instead
            up.add_metric([], 0)
            yield up
            return
        now = utcnow()
        for fund, state, priority_class, count in counts:
            owed.add_metric([fund, state, priority_class], count)
        for fund, created_at in ages:
            created = created_at if created_at.tzinfo else created_at.replace(tzinfo=now.tzinfo)
            oldest.add_metric([fund], max(0.0, (now - created).total_seconds()))
        up.add_metric([], 1)
        yield from (owed, oldest, up)
