"""Batch routes: a fund lists its batches, downloads their exact bytes, posts receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from audit.actions import AuditAction
from connectors import wire
from gateway.auditlog.writer import AuditDraft
from gateway.auth.caller import Caller
from gateway.auth.dependencies import AnyCaller, FundCaller, ReceiptWriter
from gateway.batches import receipts, repository
from gateway.batches.models import Batch
from gateway.batches.schemas import BatchList, BatchOut, Outbox, OutboxLine, ReceiptOut
from gateway.batches.storage import open_content
from gateway.errors import Forbidden, NotFound
from gateway.params import MAX_INT32, SAFE_TEXT_PATTERN, SafeText
from gateway.participants import repository as participants
from gateway.participants.models import ParticipantKind
from gateway.routing import Audit, DbSession, State, TransactionRoute

router = APIRouter(prefix="/v1/batches", route_class=TransactionRoute, tags=["batches"])
outbox_router = APIRouter(prefix="/v1/outbox", route_class=TransactionRoute, tags=["batches"])
BATCH_ID = r"^[0-9a-f-]{36}$"
JOSE = wire.JOSE_MEDIA_TYPE


def _batch_of(session: DbSession, caller: Caller, audit: AuditDraft, batch_id: str) -> Batch:
    """The caller's batch; another fund's is answered as unknown, and noted for the CODAF."""
    batch = repository.batch_of(session, caller, batch_id)
    if batch is not None:
        return batch
    if repository.batch_exists(session, batch_id):
        audit.detail = {"addressed_to_another_fund": True}
    raise NotFound(f"no batch {batch_id} for {caller.acting_for}")


@router.get("", name=AuditAction.BATCH_LISTED, response_model=BatchList)
def list_batches(
    caller: FundCaller,
    session: DbSession,
    audit: Audit,
    after_seq: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> BatchList:
    """The caller's batches after ``after_seq``, oldest first."""
    found = repository.batches_of(session, caller, after_seq, limit + 1)
    page = found[:limit]
    audit.detail = {"after_seq": after_seq, "returned": len(page)}
    return BatchList(
        batches=[BatchOut.model_validate(batch) for batch in page],
        next_after_seq=page[-1].seq if len(found) > limit else None,
    )


@router.get(
    "/{batch_id}",
    name=AuditAction.BATCH_DOWNLOADED,
    response_class=Response,
    responses={200: {"content": {JOSE: {"schema": {"type": "string"}}}}},
)
def get_batch(
    batch_id: Annotated[str, Path(pattern=BATCH_ID)],
    caller: FundCaller,
    session: DbSession,
    state: State,
    audit: Audit,
) -> Response:
    """The batch's exact signed (or encrypted) bytes; the first download delivers it."""
    audit.object_ids = [batch_id]
    batch = _batch_of(session, caller, audit, batch_id)
    content = open_content(state.identity_keys.cipher, batch)
    receipts.mark_delivered(session, batch)
    audit.detail = {"seq": batch.seq, "records": batch.record_count, "digest": batch.digest}
    return Response(
        content,
        media_type=JOSE,
        headers={wire.DIGEST_HEADER: batch.digest, wire.BATCH_SEQ_HEADER: str(batch.seq)},
    )


@router.post(
    "/{batch_id}/receipt",
    name=AuditAction.RECEIPT_RECORDED,
    response_model=ReceiptOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {"required": True, "content": {JOSE: {"schema": {"type": "string"}}}}
    },
)
async def post_receipt(
    batch_id: Annotated[str, Path(pattern=BATCH_ID)],
    request: Request,
    response: Response,
    caller: ReceiptWriter,
    session: DbSession,
    audit: Audit,
) -> ReceiptOut:
    """The fund's signed receipt for the batch: verified, stored, idempotent."""
    audit.object_ids = [batch_id]
    content = await request.body()
    batch = _batch_of(session, caller, audit, batch_id)
    fund = participants.get(session, caller.acting_for)
    delegate = (
        participants.get(session, caller.participant_id)
        if caller.participant_id != caller.acting_for
        else None
    )
    assert fund is not None  # noqa: S101 - the caller was just authenticated
    recorded = receipts.record_receipt(session, fund, batch, content, delegate)
    if not recorded.created:
        response.status_code = status.HTTP_200_OK
    receipt = recorded.receipt
    audit.detail = {"seq": batch.seq, "outcomes": receipt.outcomes, "again": not recorded.created}
    return ReceiptOut(
        batch_id=receipt.batch_id,
        digest=receipt.digest,
        received_at=receipt.received_at,
        recorded_at=receipt.recorded_at,
        outcomes=receipt.outcomes,
        already_recorded=not recorded.created,
    )


@outbox_router.get("", name=AuditAction.OUTBOX_READ, response_model=Outbox)
def get_outbox(
    caller: AnyCaller,
    session: DbSession,
    audit: Audit,
    fund_id: Annotated[SafeText | None, Query(max_length=64, pattern=SAFE_TEXT_PATTERN)] = None,
) -> Outbox:
    """Records owed, per fund and state: a fund sees its own; an auditor its territory's.

    A national auditor sees every fund. Counts and dates only, no person.
    """
    if caller.kind not in {ParticipantKind.FUND, ParticipantKind.AUDITOR}:
        raise Forbidden("the outbox is for funds and auditors", slug="not-a-fund-or-auditor")
    rows = repository.outbox(session, caller, fund_id)
    audit.detail = {"fund_id": fund_id, "lines": len(rows)}
    return Outbox(
        lines=[
            OutboxLine(fund_id=fund, state=state, records=count, oldest=oldest)
            for fund, state, count, oldest in rows
        ]
    )
