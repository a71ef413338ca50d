"""The worker: APScheduler triggers the jobs of ``gateway.jobs``; it holds no state."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.blocking import BlockingScheduler

from gateway.jobs import JOBS, PushJob, interval_of
from gateway.storage.engine import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from gateway.settings import Settings

log = logging.getLogger("gateway.worker")


def run(settings: Settings, *, once: bool = False) -> None:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    pushing = PushJob()  # funds served across runs, none waiting for another
    try:
        if once:
            for name, (job, _) in JOBS.items():
                log.info("running job", extra={"job": name})
                job(sessions, settings)
            return
        scheduler = BlockingScheduler(timezone="UTC")
        for name, (job, _) in JOBS.items():
            scheduler.add_job(
                pushing if name == "push-batches" else job,
                "interval",
                seconds=interval_of(name, settings),
                args=[sessions, settings],
                id=name,
                max_instances=1,
                coalesce=True,
            )
        log.info("worker started", extra={"jobs": sorted(JOBS)})
        scheduler.start()
    finally:
        pushing.close()
        engine.dispose()
