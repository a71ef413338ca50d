"""Import routes: post a backlog file (streamed), read its report."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, status

from audit.actions import AuditAction
from gateway.auth.dependencies import PrefectureCaller, PrefectureWriter
from gateway.errors import NotFound
from gateway.imports import repository
from gateway.imports.models import LineOutcome
from gateway.imports.runner import ImportRunner
from gateway.imports.schemas import ImportFormat, ImportLineOut, ImportOut, ImportReport
from gateway.params import MAX_INT32
from gateway.routing import Audit, DbSession, State, TransactionRoute, end_authentication
from gateway.streaming import OPENAPI_BODY, blocking_chunks, upload_format

router = APIRouter(prefix="/v1/decision-imports", route_class=TransactionRoute, tags=["imports"])
IMPORT_ID = r"^[0-9a-f-]{36}$"


@router.post(
    "",
    name=AuditAction.IMPORT_CREATED,
    response_model=ImportOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=OPENAPI_BODY,
)
async def post_import(
    request: Request,
    caller: PrefectureWriter,
    session: DbSession,
    state: State,
    audit: Audit,
    file_format: Annotated[ImportFormat | None, Query(alias="format")] = None,
    dry_run: bool = False,
) -> ImportOut:
    """Import a backlog file (NDJSON, or CSV with the documented columns), streamed.

    Every line gets a result: accepted, duplicate, or rejected with the field and the
    rule. With ``dry_run`` nothing is stored but the report. A CSV file whose header line
    is missing or names the wrong columns is refused as a whole (400, naming the header
    and what is wrong with it), and nothing is stored.
    """
    chosen = upload_format(request, file_format)
    audit.detail = {"format": str(chosen), "dry_run": dry_run}
    await anyio.to_thread.run_sync(end_authentication, session)
    runner = ImportRunner(
        state.sessions, caller, state.identity_keys, state.policy, str(chosen), dry_run, audit
    )
    import_id = await anyio.to_thread.run_sync(runner.run, blocking_chunks(request.stream()))
    found = await anyio.to_thread.run_sync(repository.get_for, session, caller, import_id)
    assert found is not None  # noqa: S101 - just written
    audit.object_ids = [import_id]
    audit.detail = {
        "format": str(chosen),
        "dry_run": dry_run,
        "lines": found.lines,
        "accepted": found.accepted,
        "duplicate": found.duplicate,
        "rejected": found.rejected,
        "status": found.status,
    }
    return ImportOut.model_validate(found)


@router.get("/{import_id}", name=AuditAction.IMPORT_READ, response_model=ImportReport)
def get_import(
    import_id: Annotated[str, Path(pattern=IMPORT_ID)],
    caller: PrefectureCaller,
    session: DbSession,
    audit: Audit,
    outcome: LineOutcome | None = None,
    after_line: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> ImportReport:
    """The import's summary and one page of its line-by-line report."""
    audit.object_ids = [import_id]
    found = repository.get_for(session, caller, import_id)
    if found is None:
        raise NotFound(f"no import {import_id} for {caller.acting_for}")
    page = repository.lines(
        session, import_id, outcome=outcome, after_line=after_line, limit=limit + 1
    )
    return ImportReport(
        **ImportOut.model_validate(found).model_dump(),
        report=[ImportLineOut.model_validate(line) for line in page[:limit]],
        next_line=page[limit - 1].line if len(page) > limit else None,
    )
