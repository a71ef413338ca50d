"""The worker: APScheduler triggers the jobs of ``gateway.jobs``; it holds no state."""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
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

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}  # what systemd, a container runtime, Ctrl-C send


def run(settings: Settings, *, once: bool = False) -> None:
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
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
        scheduler = BackgroundScheduler(timezone="UTC")
        outages = OutageReporter()
        for name, (job, _) in JOBS.items():
            scheduler.add_job(
                _reporting(name, pushing if name == "push-batches" else job, outages, tracer),
                "interval",
                seconds=interval_of(name, settings),
                args=[sessions, settings],
                id=name,
                name=name,  # the scheduler's log lines name the job
                max_instances=1,
                coalesce=True,
            )
        # The job threads start with these signals blocked, so that they reach this thread
        # alone, which waits for one, then stops taking jobs and lets a running one finish
        # (its transaction commits or rolls back whole). Explicit, since a process running
        # as pid 1 in a container is not stopped by a signal it does not handle.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        scheduler.start()
        log.info("worker started", extra={"jobs": sorted(JOBS)})
        received = signal.sigwait(STOP_SIGNALS)
        log.info("worker stopping", extra={"signal": signal.Signals(received).name})
        scheduler.shutdown(wait=True)
        log.info("worker stopped")
    finally:
        pushing.close()
        engine.dispose()


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
