"""The worker: APScheduler triggers the jobs of ``gateway.jobs``; it holds no state."""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING

from apscheduler.schedulers.blocking import BlockingScheduler
from opentelemetry import trace

from gateway.jobs import JOBS, PushJob, interval_of
from gateway.storage.engine import make_engine, make_sessionmaker
from gateway.storage.outage import OutageReporter, unavailable_cause
from gateway.tracing import instrument_engine, provider_from_environment, span

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

    from gateway.settings import Settings

log = logging.getLogger("gateway.worker")


def run(settings: Settings, *, once: bool = False) -> None:
    engine = make_engine(settings.database_url)
    provider = provider_from_environment()  # None unless the OTEL_ variables ask for traces
    tracer: trace.Tracer = trace.NoOpTracer()
    if provider is not None:
        instrument_engine(engine, provider)
        tracer = provider.get_tracer("gateway.worker")
    sessions = make_sessionmaker(engine)
    pushing = PushJob()  # funds served across runs, none waiting for another
    try:
        if once:
            for name, (job, _) in JOBS.items():
                with span(tracer, f"job {name}"):
                    log.info("running job", extra={"job": name})
                    job(sessions, settings)
            return
        scheduler = BlockingScheduler(timezone="UTC")
        outages = OutageReporter()
        for name, (job, _) in JOBS.items():
            scheduler.add_job(
                _reporting(name, pushing if name == "push-batches" else job, outages, tracer),
                "interval",
                seconds=interval_of(name, settings),
                args=[sessions, settings],
                id=name,
                max_instances=1,
                coalesce=True,
            )
        _stop_on(scheduler, signal.SIGTERM, signal.SIGINT)
        log.info("worker started", extra={"jobs": sorted(JOBS)})
        scheduler.start()
        log.info("worker stopped")
    finally:
        pushing.close()
        engine.dispose()


def _stop_on(scheduler: BlockingScheduler, *signals: signal.Signals) -> None:
    """Stop taking jobs on these signals; a running job finishes before the process exits.

    Its transaction commits or rolls back whole. Explicit, since a process running as pid 1
    in a container is not stopped by a signal it does not handle.
    """

    def stop(signum: int, _frame: object) -> None:
        log.info("worker stopping", extra={"signal": signal.Signals(signum).name})
        scheduler.shutdown(wait=False)

    for each in signals:
        signal.signal(each, stop)


def _reporting(
    name: str,
    job: Callable[[sessionmaker[Session], Settings], object],
    outages: OutageReporter,
    tracer: trace.Tracer,
) -> Callable[[sessionmaker[Session], Settings], object]:
    """``job``, logging a database outage as one line per cause, not a traceback per run.

    The next run after the outage does the work. Each run is a span (``job <name>``), the
    parent of its SQL spans, when the worker traces.
    """

    def run(sessions: sessionmaker[Session], settings: Settings) -> object:
        try:
            with span(tracer, f"job {name}"):
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
