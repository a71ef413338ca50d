"""The audit log for auditors: the latest signed checkpoint, inclusion and consistency proofs.

Every answer can be checked offline against the gateway's checkpoint key
(``gateway_use: checkpoint`` in ``/.well-known/jwks.json``) and ``audit.merkle``.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import select

from audit import log as audit_log
from audit.actions import AuditAction
from audit.models import AuditCheckpoint, AuditLogLeaf
from gateway.auth.caller import AuditorCaller
from gateway.errors import InvalidField, NotFound
from gateway.routing import Audit, DbSession, TransactionRoute

router = APIRouter(prefix="/v1/audit", route_class=TransactionRoute, tags=["audit"])
NOTE = "text/plain; charset=utf-8"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    event_id: str
    leaf_hash: str
    root_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


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
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> PlainTextResponse:
    """The latest signed checkpoint (or the one of ``tree_size``), as a C2SP signed note."""
    del caller
    statement = select(AuditCheckpoint)
    if tree_size is not None:
        statement = statement.where(AuditCheckpoint.tree_size == tree_size)
    found = session.scalars(statement.order_by(AuditCheckpoint.tree_size.desc()).limit(1)).first()
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
    tree_size: Annotated[int, Query(ge=1)],
    index: Annotated[int | None, Query(ge=0)] = None,
    event_id: Annotated[str | None, Query(max_length=36)] = None,
) -> InclusionProof:
    """Proof that an event (by log ``index`` or ``event_id``) is in the tree of ``tree_size``."""
    del caller
    if (index is None) == (event_id is None):
        raise InvalidField("index", "one-of", "give either index or event_id")
    statement = select(AuditLogLeaf)
    statement = (
        statement.where(AuditLogLeaf.index == index)
        if index is not None
        else statement.where(AuditLogLeaf.event_id == event_id)
    )
    leaf = session.scalars(statement).first()
    if leaf is None:
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
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
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
