"""Import routes: post a backlog file (stored, processed by the worker), read its report."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response, status

from audit.actions import AuditAction
from gateway.auth.dependencies import PrefectureCaller, PrefectureWriter
from gateway.errors import NotFound
from gateway.imports import repository, upload
from gateway.imports.models import LineOutcome
from gateway.imports.schemas import ImportFormat, ImportLineOut, ImportOut, ImportReport
from gateway.params import MAX_INT32
from gateway.routing import Audit, DbSession, State, TransactionRoute, end_authentication
from gateway.streaming import OPENAPI_BODY, blocking_chunks, upload_charset, upload_format

router = APIRouter(prefix="/v1/decision-imports", route_class=TransactionRoute, tags=["imports"])
IMPORT_ID = r"^[0-9a-f-]{36}$"


@router.post(
    "",
    name=AuditAction.IMPORT_CREATED,
    response_model=ImportOut,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=OPENAPI_BODY,
)
async def post_import(
    request: Request,
    response: Response,
    caller: PrefectureWriter,
    session: DbSession,
    state: State,
    audit: Audit,
    file_format: Annotated[ImportFormat | None, Query(alias="format")] = None,
    dry_run: bool = False,
) -> ImportOut:
    """Import a backlog file (NDJSON, or CSV with the documented columns, `docs/imports.md`).

    The file is stored (sealed) as it streams in, and the answer is 202 with the import
    `queued`: a worker then processes it in batches. `GET` the `Location` for its
    progress (`lines_done` of `lines_total`, the counts, `status` `running`, then `done`)
    and its line-by-line report: accepted, duplicate, or rejected with the field and the
    rule. With `dry_run` nothing is stored but the report. A CSV file whose header line
    is missing or names the wrong columns is refused as a whole at once (400, naming the
    header and what is wrong with it), and nothing is stored. A CSV file in another
    encoding than UTF-8 says so in its Content-Type (`text/csv; charset=windows-1252`).
    """
    chosen = upload_format(request, file_format)
    encoding = upload_charset(request)
    audit.detail = {"format": str(chosen), "dry_run": dry_run, "encoding": encoding}
    await anyio.to_thread.run_sync(end_authentication, session)
    stored = await anyio.to_thread.run_sync(
        lambda: upload.receive(
            session,
            state.identity_keys,
            caller,
            audit,
            blocking_chunks(request.stream()),
            file_format=str(chosen),
            encoding=encoding,
            dry_run=dry_run,
        )
    )
    audit.object_ids = [stored.id]
    audit.detail = {
        "format": str(chosen),
        "dry_run": dry_run,
        "encoding": encoding,
        "bytes": stored.size_bytes,
        "lines_total": stored.lines_total,
        "status": stored.status,
    }
    response.headers["Location"] = f"{router.prefix}/{stored.id}"
    return ImportOut.model_validate(stored)


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
    """The import's progress and summary, and one page of its line-by-line report.

    While the worker processes the file, `status` is `queued`, then `running`, and
    `lines_done` of `lines_total` says how far it is; the report grows batch by batch.
    """
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
