"""Liveness and readiness: the only routes, with discovery, that need no token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.state import app_state
from gateway.storage import migrate
from gateway.storage.engine import READ_ONLY, ping
from gateway.storage.outage import RETRY_AFTER_SECONDS, unavailable_cause

router = APIRouter(tags=["operations"])


@router.get("/healthz", name="health:live")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", name="health:ready")
def readyz(request: Request) -> JSONResponse:
    """Database reachable, migrations applied, keys loaded; 503 with the failing checks.

    A database migrated ahead of this code (a newer release's migrations ran first, as an
    upgrade does) leaves it ready, with a note: the old replicas keep serving until the
    new ones replace them.
    """
    state = app_state(request)
    checks: dict[str, str] = {}
    notes: dict[str, str] = {}
    try:
        with state.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            ping(connection)
            checks["database"] = "ok"
            current, head = migrate.revisions(connection)
            schema = migrate.schema_state(current, head)
            checks["migrations"] = "ok" if schema != "behind" else f"at {current}, head is {head}"
            if schema == "ahead":
                notes["migrations"] = (
                    f"the database is at {current}, newer than this release's head {head}: "
                    "an upgrade is rolling out"
                )
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        checks.setdefault("database", f"unreachable ({type(error).__name__})")
        checks.setdefault("migrations", "unknown")
        cause = unavailable_cause(error)
        if cause is not None:
            state.outages.failed(cause)
    if checks["database"] == "ok":
        state.outages.recovered()
        # Audit events spooled during an outage go in once the database answers again.
        state.spool.replay_soon(state.sessions, state.outages)
    checks["keys"] = "ok" if state.keys.entries else "missing"
    # A refused policy change does not make the instance unready: the last valid policy
    # stays in force, and every replica would otherwise leave the load balancer at once.
    source = state.policy_source
    policy: dict[str, object] = {"version": source.current().version}
    if source.last_error is not None:
        policy["refused_change"] = [str(problem) for problem in source.last_error.problems]
    ready = all(value == "ok" for value in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "policy": policy,
        **({"notes": notes} if notes else {}),
    }
    if ready:
        return JSONResponse(body)
    problem = {
        "type": "/problems/not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"),
        "checks": checks,
    }
    return JSONResponse(
        problem,
        status_code=503,
        media_type="application/problem+json",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
