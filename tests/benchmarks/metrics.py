"""Benchmark: one scrape of ``/metrics`` with a large outbox.

Creates a PostgreSQL database (``--database sqlite`` for a SQLite file) with ``--funds``
funds and a prefecture, then writes rows straight into it: ``--decisions`` decisions,
each owed to every fund, of which ``--owed`` disclosures are not yet acknowledged
(pending, sealed, delivered, across priority classes) and the rest acknowledged, the
history a scrape must not pay for; push attempts and states for every fund, and queued
audit events; then vacuums and analyses, as autovacuum would. Then times full scrapes
(``GET /metrics`` with the scrape token, through the application, its audit event
committed), the median of ``--scrapes``. The last line printed is one JSON object.

    python -m tests.benchmarks.metrics [--owed 100000] [--decisions 25000] [--funds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from pydantic import SecretStr
from sqlalchemy import insert, text

from gateway.app import create_app
from gateway.auditlog.models import AuditLogQueue
from gateway.batches.models import PushState
from gateway.decisions.models import Decision
from gateway.disclosures.models import Disclosure, DisclosureState
from gateway.keys import GatewayKeys
from gateway.metrics import repository
from gateway.participants.models import ParticipantKind, Regime
from gateway.participants.schemas import ParticipantSpec
from gateway.settings import Settings
from gateway.storage.base import utcnow
from gateway.storage.engine import make_engine, make_sessionmaker
from tests.benchmarks.common import benchmark_database, prefecture_spec

TOKEN = "benchmark-scrape-token"
PREFECTURE = "bench-prefecture"
CLASSES = ("correction", "high", "normal")
OWED_STATES = (DisclosureState.PENDING, DisclosureState.SEALED, DisclosureState.DELIVERED)
CHUNK = 10_000


def fill(url: str, funds: list[str], decisions: int, owed: int) -> None:
    """Decisions owed to every fund: ``owed`` disclosures not acknowledged, the rest done."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    decision_ids = [str(uuid.uuid4()) for _ in range(decisions)]
    with sessions.begin() as session:
        for start in range(0, decisions, CHUNK):
            session.execute(
                insert(Decision),
                [
                    {
                        "id": decision_id,
                        "prefecture_id": PREFECTURE,
                        "reference": f"M-{start + n:08d}",
                        "departement": "75",
                        "kind": "renewal-refusal",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, decision_id in enumerate(decision_ids[start : start + CHUNK])
                ],
            )
    rows = []
    number = 0
    for decision_id in decision_ids:
        for fund in funds:
            state = OWED_STATES[number % 3] if number < owed else DisclosureState.ACKNOWLEDGED
            rank = number % len(CLASSES)
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "decision_id": decision_id,
                    "version": 1,
                    "fund_id": fund,
                    "state": str(state),
                    "correction": False,
                    "priority_rank": rank,
                    "priority_class": CLASSES[rank],
                    "profile": "default",
                    "policy_version": "bench",
                    "created_at": now - timedelta(seconds=number),
                    "updated_at": now,
                }
            )
            number += 1
            if len(rows) == CHUNK:
                with sessions.begin() as session:
                    session.execute(insert(Disclosure), rows)
                rows.clear()
    with sessions.begin() as session:
        if rows:
            session.execute(insert(Disclosure), rows)
        session.execute(
            insert(PushState),
            [{"fund_id": fund, "failures": 0, "updated_at": now} for fund in funds],
        )
        session.execute(
            insert(AuditLogQueue),
            [{"event_id": str(uuid.uuid4()), "queued_at": now} for _ in range(1000)],
        )
    if engine.dialect.name == "postgresql":  # as autovacuum leaves it: statistics, visibility
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def queries_alone(url: str, scrapes: int) -> list[float]:
    """The floor: the database reads a scrape needs, run bare in one session (no HTTP, no
    text format, no audit event), timed as many times as the scrapes."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    times = []
    try:
        for _ in range(scrapes):
            started = time.perf_counter()
            with sessions() as session:
                repository.records_owed(session)
                repository.oldest_pending(session)
                repository.oldest_pending(session, ranks=[0, 1])
                repository.batches_unacknowledged(session)
                repository.push_attempts(session)
                repository.push_states(session)
                repository.audit_events_queued(session)
                repository.last_checkpoint_signed(session)
                repository.imports_by_status(session)
            times.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--owed", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=25_000)
    parser.add_argument("--funds", type=int, default=20)
    parser.add_argument("--scrapes", type=int, default=11)
    args = parser.parse_args()
    funds = [
        ParticipantSpec(
            id=f"bench-fund-{number:02d}",
            kind=ParticipantKind.FUND,
            name=f"Benchmark fund {number}",
            regime=Regime.CPAM,
            departements=["75"],
            jwks=ECKey.generate_key("P-256", private=True).as_dict(private=False),
        )
        for number in range(args.funds)
    ]
    prefecture = prefecture_spec(PREFECTURE, ECKey.generate_key("P-256", private=True))
    with benchmark_database(args.database, prefecture, *funds) as (url, key_dir):
        fill(url, [fund.id for fund in funds], args.decisions, args.owed)
        settings = Settings(database_url=url, key_dir=key_dir, metrics_token=SecretStr(TOKEN))
        app = create_app(settings, keys=GatewayKeys.load(key_dir))
        times = []
        with TestClient(app) as http:
            for _ in range(args.scrapes):
                started = time.perf_counter()
                response = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        floor = queries_alone(url, args.scrapes)
        print(
            json.dumps(
                {
                    "database": args.database,
                    "records_owed": args.owed,
                    "disclosures": args.decisions * args.funds,
                    "funds": args.funds,
                    "scrape_median_ms": round(statistics.median(times) * 1000, 1),
                    "scrape_max_ms": round(max(times) * 1000, 1),
                    "scrape_first_ms": round(times[0] * 1000, 1),
                    "floor_queries_alone_median_ms": round(statistics.median(floor) * 1000, 1),
                    "scrape_over_floor": round(
                        statistics.median(times) / statistics.median(floor), 2
                    ),
                }
            )
        )


if __name__ == "__main__":
    main()
