"""The audit log for auditors: the latest signed checkpoint, inclusion and consistency proofs.

Every answer can be checked offline against the gateway's checkpoint key
(``gateway_use: checkpoint`` in ``/.well-known/jwks.json``) and ``audit.merkle``.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from audit.actions import AuditAction
from gateway.auditing import repository, service, spreadsheet
from gateway.auditing.schemas import (
    CSV_COLUMNS,
    ConsistencyProof,
    EventOut,
    EventPage,
    EventSearch,
    InclusionProof,
    SubjectIn,
)
from gateway.auditing.spreadsheet import Output
from gateway.auditlog import repository as audit_log_repository
from gateway.auditlog import service as audit_log
from gateway.auth.dependencies import AuditorCaller
from gateway.errors import Forbidden, InvalidField, NotFound
from gateway.params import MAX_INT64, SAFE_TEXT_PATTERN, Instant, SafeText
from gateway.participants.models import ParticipantKind
from gateway.routing import Audit, DbSession, State, TransactionRoute
from gateway.storage.base import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.auditlog.writer import AuditDraft
    from gateway.auth.caller import Caller
    from gateway.state import AppState

router = APIRouter(prefix="/v1/audit", route_class=TransactionRoute, tags=["audit"])
NOTE = "text/plain; charset=utf-8"
SAFE = SAFE_TEXT_PATTERN
EVENT_ID = r"^[0-9a-f-]{1,36}$"
# ``format=csv`` (or ``csv-fr``, for a French Excel) answers a spreadsheet: declared beside
# the JSON answer.
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@router.get(
    "/checkpoint",
    name=AuditAction.AUDIT_CHECKPOINT_READ,
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def get_checkpoint(
    caller: AuditorCaller,
    session: DbSession,
    audit: Audit,
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_INT64)] = None,
) -> PlainTextResponse:
    """The latest signed checkpoint (or the one of ``tree_size``), as a C2SP signed note."""
    del caller
    found = audit_log_repository.checkpoint(session, tree_size)
    if found is None:
        raise NotFound("no checkpoint" + (f" of size {tree_size}" if tree_size else " yet"))
    audit.detail = {"tree_size": found.tree_size}
    return PlainTextResponse(found.note, media_type=NOTE)


def _size(session: DbSession, value: int, field: str) -> int:
    try:
        audit_log.size_and_root(session, value)
    except ValueError as error:
        raise InvalidField(field, "beyond-tree", str(error)) from error
    return value


@router.get(
    "/proofs/inclusion", name=AuditAction.INCLUSION_PROOF_READ, response_model=InclusionProof
)
def get_inclusion_proof(
    caller: AuditorCaller,
    session: DbSession,
    audit: Audit,
    tree_size: Annotated[int, Query(ge=1, le=MAX_INT64)],
    index: Annotated[int | None, Query(ge=0, le=MAX_INT64)] = None,
    event_id: Annotated[SafeText | None, Query(max_length=36, pattern=EVENT_ID)] = None,
) -> InclusionProof:
    """Proof that an event (by log ``index`` or ``event_id``) is in the tree of ``tree_size``.

    Only for the events the auditor may see: another territory's is answered as unknown.
    """
    if (index is None) == (event_id is None):
        raise InvalidField("index", "one-of", "give either index or event_id")
    leaf = audit_log_repository.leaf(session, index=index, event_id=event_id)
    if leaf is None or not repository.event_visible(session, caller, leaf.event_id):
        raise NotFound("no such event in the log (it may not be sequenced yet)")
    _size(session, tree_size, "tree_size")
    if leaf.index >= tree_size:
        raise InvalidField(
            "index", "beyond-tree", f"entry {leaf.index} is not in a tree of {tree_size}"
        )
    leaf_hash, proof = audit_log.inclusion_proof(session, leaf.index, tree_size)
    _, root = audit_log.size_and_root(session, tree_size)
    audit.object_ids = [leaf.event_id]
    audit.detail = {"index": leaf.index, "tree_size": tree_size}
    return InclusionProof(
        leaf_index=leaf.index,
        tree_size=tree_size,
        event_id=leaf.event_id,
        leaf_hash=_b64(leaf_hash),
        root_hash=_b64(root),
        proof=[_b64(h) for h in proof],
    )


@router.get(
    "/proofs/consistency",
    name=AuditAction.CONSISTENCY_PROOF_READ,
    response_model=ConsistencyProof,
)
def get_consistency_proof(
    caller: AuditorCaller,
    session: DbSession,
    audit: Audit,
    first: Annotated[int, Query(ge=1, le=MAX_INT64)],
    second: Annotated[int, Query(ge=1, le=MAX_INT64)],
) -> ConsistencyProof:
    """Proof that the tree of size ``first`` is a prefix of the tree of size ``second``."""
    del caller
    if first > second:
        raise InvalidField("first", "after-second", "first must not be larger than second")
    _size(session, second, "second")
    proof = audit_log.consistency_proof(session, first, second)
    audit.detail = {"first": first, "second": second}
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=_b64(audit_log.size_and_root(session, first)[1]),
        second_root=_b64(audit_log.size_and_root(session, second)[1]),
        proof=[_b64(h) for h in proof],
    )


@router.get(
    "/events",
    name=AuditAction.AUDIT_EVENTS_LISTED,
    response_model=EventPage,
    responses=CSV_TOO,
)
def list_events(
    caller: AuditorCaller,
    session: DbSession,
    state: State,
    audit: Audit,
    response: Response,
    participant: Annotated[SafeText | None, Query(max_length=64, pattern=SAFE)] = None,
    agent: Annotated[SafeText | None, Query(max_length=64, pattern=SAFE)] = None,
    action: Annotated[SafeText | None, Query(max_length=64, pattern=SAFE)] = None,
    purpose: Annotated[SafeText | None, Query(max_length=64, pattern=SAFE)] = None,
    outcome: Annotated[SafeText | None, Query(max_length=16, pattern=SAFE)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    agdref_number: Annotated[
        SafeText | None, Query(max_length=16, pattern=SAFE, deprecated=True)
    ] = None,
    nir: Annotated[SafeText | None, Query(max_length=32, pattern=SAFE, deprecated=True)] = None,
    departement: Annotated[SafeText | None, Query(max_length=3, pattern=SAFE)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    after_index: Annotated[int | None, Query(ge=-1, le=MAX_INT64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    output: Annotated[Output, Query(alias="format")] = "json",
) -> Any:
    """Events the auditor's territory covers, filtered; ``format=csv`` for a spreadsheet.

    Paged by ``after_id`` (row ids: immediate, but an event committed late with a lower
    id can be passed over) or by ``after_index`` (-1 to start: the events in the Merkle
    log, in log order, each read exactly once; an event appears there within seconds of
    its commit). ``agent`` follows one agent (the ``Agent-Id`` a fund's calls named, as
    the fishing flags name it): with ``participant``, that fund's agent. A person's
    events: ``POST /v1/audit/events/search``, the number in the body (here, in the query
    string, deprecated: every proxy on the way may log a URL).
    """
    query = EventSearch(
        participant=participant,
        agent=agent,
        action=action,
        purpose=purpose,
        outcome=outcome,
        since=since,
        until=until,
        agdref_number=agdref_number,
        nir=nir,
        departement=departement,
        after_id=after_id,
        after_index=after_index,
        limit=limit,
        format=output,
    )
    answer = _events(caller, session, state, audit, query)
    if agdref_number is not None or nir is not None:
        deprecated(answer if isinstance(answer, Response) else response, "/v1/audit/events/search")
    return answer


@router.post(
    "/events/search",
    name=AuditAction.AUDIT_EVENTS_SEARCHED,
    response_model=EventPage,
    responses=CSV_TOO,
)
def search_events(
    caller: AuditorCaller, session: DbSession, state: State, audit: Audit, query: EventSearch
) -> Any:
    """``GET /v1/audit/events``, its filters in a JSON body.

    A person (``agdref_number`` or ``nir``) is searched by its pseudonym, the number never
    in a URL; the query itself is audited, with that pseudonym. The next page: the same
    body with ``after_id`` (or ``after_index``) from the answer.
    """
    return _events(caller, session, state, audit, query)


# When the query-string forms of a person's number were deprecated (RFC 9745).
DEPRECATED_SINCE = "@1796601600"  # 2026-12-07T00:00:00Z


def deprecated(response: Response, successor: str) -> None:
    """Say that the answer came from a deprecated form, and which one replaces it."""
    response.headers["Deprecation"] = DEPRECATED_SINCE
    response.headers["Link"] = f'<{successor}>; rel="successor-version"'


def _events(
    caller: Caller, session: Session, state: AppState, audit: AuditDraft, query: EventSearch
) -> Any:
    subject = None
    if query.agdref_number is not None or query.nir is not None:
        subject = service.subject_of(state.identity_keys, query.agdref_number, query.nir)
        audit.subject_pseudonyms = subject.pseudonyms
    filters = repository.EventFilters(
        participant=query.participant,
        agent=query.agent,
        action=query.action,
        purpose=query.purpose,
        outcome=query.outcome,
        since=query.since,
        until=query.until,
        pseudonyms=subject.pseudonyms if subject is not None else None,
        departement=query.departement,
    )
    if query.after_index is not None and query.after_id:
        raise InvalidField(
            "after_index", "one-cursor", "page by after_id or by after_index, not both"
        )
    limit = query.limit
    found = repository.events(
        session,
        caller,
        filters,
        after_id=query.after_id,
        limit=limit + 1,
        after_index=query.after_index,
    )
    logged = audit_log_repository.leaf_indexes(session, [e.event_id for e in found[:limit]])
    page = [EventOut.of(e, logged.get(e.event_id)) for e in found[:limit]]
    given = {
        "participant": query.participant,
        "agent": query.agent,
        "action": query.action,
        "purpose": query.purpose,
        "outcome": query.outcome,
        "since": query.since,
        "until": query.until,
        "subject": subject,
        "departement": query.departement,
    }
    audit.detail = {
        "filters": sorted(name for name, value in given.items() if value is not None),
        "returned": len(page),
    }
    more = len(found) > limit
    next_after = page[-1].id if more and query.after_index is None else None
    next_index = page[-1].leaf_index if more and query.after_index is not None else None
    if query.format != "json":
        # ``leaf``: the bytes the log hashes, where a cell cannot tell null from "".
        rows = (event.csv_row() for event in page)
        headers = {"Next-After-Id": str(next_after)} if next_after is not None else {}
        if next_index is not None:
            headers = {"Next-After-Index": str(next_index)}
        return spreadsheet.table(
            CSV_COLUMNS, rows, query.format, filename="audit-events", headers=headers
        )
    return EventPage(events=page, next_after_id=next_after, next_after_index=next_index)


@router.get("/subject-report", name=AuditAction.SUBJECT_REPORT_READ)
def get_subject_report(
    caller: AuditorCaller,
    session: DbSession,
    state: State,
    audit: Audit,
    response: Response,
    agdref_number: Annotated[
        SafeText | None, Query(max_length=16, pattern=SAFE, deprecated=True)
    ] = None,
    nir: Annotated[SafeText | None, Query(max_length=32, pattern=SAFE, deprecated=True)] = None,
) -> dict[str, Any]:
    """One person's access report (GDPR art. 15): decisions, recipients, fields, accesses.

    Needs the purpose ``data-subject-request``. Deprecated: ``POST
    /v1/audit/subject-report`` takes the number in its body (every proxy on the way may
    log a URL).
    """
    deprecated(response, "/v1/audit/subject-report")
    return _subject_report(
        caller, session, state, audit, SubjectIn(agdref_number=agdref_number, nir=nir)
    )


@router.post("/subject-report", name=AuditAction.SUBJECT_REPORT_ASKED)
def post_subject_report(
    caller: AuditorCaller, session: DbSession, state: State, audit: Audit, subject: SubjectIn
) -> dict[str, Any]:
    """One person's access report (GDPR art. 15): decisions, recipients, fields, accesses.

    The person (``agdref_number`` or ``nir``) in the body. Needs the purpose
    ``data-subject-request``.
    """
    return _subject_report(caller, session, state, audit, subject)


def _subject_report(
    caller: Caller, session: Session, state: AppState, audit: AuditDraft, given: SubjectIn
) -> dict[str, Any]:
    if caller.purpose != "data-subject-request":
        raise Forbidden(
            "the person's report is for the purpose data-subject-request",
            slug="purpose-not-allowed",
        )
    subject = service.subject_of(state.identity_keys, given.agdref_number, given.nir)
    audit.subject_pseudonyms = subject.pseudonyms
    report = service.subject_report(session, caller, state.policy.policy, subject)
    audit.detail = {"decisions": len(report["decisions"]), "accesses": len(report["accesses"])}
    return report


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = until or utcnow()
    start = since or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidField("since", "time-zone", "since and until carry a time zone (Z or +01:00)")
    if start >= end:
        raise InvalidField("since", "after-until", "since must be before until")
    return start, end


def _table(
    rows: list[dict[str, Any]], output: Output, payload: dict[str, Any], filename: str
) -> Any:
    if output == "json":
        return payload
    flat_rows = [service.flat(row) for row in rows]
    columns = list(dict.fromkeys(column for row in flat_rows for column in row))
    cells = ([row.get(column, 0) for column in columns] for row in flat_rows)
    return spreadsheet.table(columns, cells, output, filename=filename)


@router.get("/reports/funds", name=AuditAction.FUND_REPORT_READ, responses=CSV_TOO)
def fund_reports(
    caller: AuditorCaller,
    session: DbSession,
    audit: Audit,
    since: Instant | None = None,
    until: Instant | None = None,
    fund_id: Annotated[SafeText | None, Query(max_length=64, pattern=SAFE)] = None,
    unacknowledged_after_days: Annotated[int, Query(ge=0, le=3650)] = (
        service.EXPECTED_RECEIPT_DAYS
    ),
    output: Annotated[Output, Query(alias="format")] = "json",
) -> Any:
    """Per fund of the auditor's territory: what it was owed, received, acknowledged, checked."""
    start, end = _period(since, until)
    funds = repository.participants_in_scope(session, caller, ParticipantKind.FUND)
    if fund_id is not None:
        funds = [f for f in funds if f == fund_id]
    json_only = output == "json"  # series by day or week: not a spreadsheet's row
    rows = [
        service.fund_report(session, fund, start, end, unacknowledged_after_days, trends=json_only)
        for fund in funds
    ]
    if json_only:
        for row in rows:
            row["trends"] = row["trends"].as_dict()
    audit.detail = {"funds": len(rows), "since": start.isoformat(), "until": end.isoformat()}
    return _table(rows, output, {"since": start, "until": end, "funds": rows}, "fund-reports")


@router.get("/reports/prefectures", name=AuditAction.PREFECTURE_REPORT_READ, responses=CSV_TOO)
def prefecture_reports(
    caller: AuditorCaller,
    session: DbSession,
    audit: Audit,
    since: Instant | None = None,
    until: Instant | None = None,
    output: Annotated[Output, Query(alias="format")] = "json",
) -> Any:
    """Per prefecture of the auditor's territory: decisions, corrections, imports."""
    start, end = _period(since, until)
    rows = [
        service.prefecture_report(session, prefecture, start, end)
        for prefecture in repository.participants_in_scope(
            session, caller, ParticipantKind.PREFECTURE
        )
    ]
    audit.detail = {"prefectures": len(rows)}
    return _table(
        rows, output, {"since": start, "until": end, "prefectures": rows}, "prefecture-reports"
    )
