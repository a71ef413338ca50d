"""The worker: APScheduler triggers the jobs of ``gateway.jobs``; it holds no state."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.blocking import BlockingScheduler

from gateway.jobs import JOBS, PushJob, interval_of
from gateway.storage.engine import make_engine, make_sessionmaker
from gateway.storage.outage import OutageReporter, unavailable_cause
from gateway.tracing import instrument_engine, provider_from_environment

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.settings import Settings

log = logging.getLogger("gateway.worker")


def run(settings: Settings, *, once: bool = False) -> None:
    engine = make_engine(settings.database_url)
    provider = provider_from_environment()  # None unless the OTEL_ variables ask for traces
    if provider is not None:
        instrument_engine(engine, provider)
    sessions = make_sessionmaker(engine)
    pushing = PushJob()  # funds served across runs, none waiting for another
    try:
        if once:
            for name, (job, _) in JOBS.items():
                log.info("running job", extra={"job": name})
                job(sessions, settings)
            return
        scheduler = BlockingScheduler(timezone="UTC")
        outages = OutageReporter()
        for name, (job, _) in JOBS.items():
            scheduler.add_job(
                _reporting(name, pushing if name == "push-batches" else job, outages),
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


def _reporting(
    name: str, job: Callable[[sessionmaker[Session], Settings], object], outages: OutageReporter
) -> Callable[[sessionmaker[Session], Settings], object]:
    """``job``, logging a database outage as one line per cause, not a traceback per run.

    The next run after the outage does the work.
    """

    def run(sessions: sessionmaker[Session], settings: Settings) -> object:
        try:
            done = job(sessions, settings)
        except Exception as error:
            cause = unavailable_cause(error)
            if cause is None:
                raise
            outages.failed(cause, job=name)
            return None
        outages.recovered()
        return done

    return run
