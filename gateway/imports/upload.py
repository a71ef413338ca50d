"""Receiving an import: the upload streamed into sealed chunks, its CSV header checked first.

The request stores the file and answers 202; the worker (``gateway.imports.runner``)
processes it. The file holds identities in clear, so each chunk is sealed like an
identity (``IdentityCipher``: a fresh AES-256-GCM data key, wrapped by the active KEK,
bound to the import and the chunk's place), and the chunks are deleted once processed.
Everything is written in the request's transaction: an upload that breaks off leaves
nothing behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.importers import MAX_LINE_BYTES, ImportFileError, read_csv
from gateway.auditlog.writer import AuditDraft
from gateway.auth.caller import Caller
from gateway.errors import InvalidField
from gateway.identities.crypto import Sealed
from gateway.imports import repository
from gateway.imports.models import DecisionImport, ImportStatus
from gateway.storage.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from gateway.identities.service import IdentityKeys

STORED_CHUNK_BYTES = 1024 * 1024
_HEAD_BYTES = MAX_LINE_BYTES + 2  # a header line, its end of line, and one byte more


class UnusableHeader(InvalidField):
    """The CSV header line is missing, unreadable or names the wrong columns."""

    slug = "unusable-csv-header"
    title = "The CSV header cannot be used"

    def __init__(self, error: ImportFileError) -> None:
        super().__init__("header", error.rule, str(error))


def check_header(head: bytes, encoding: str) -> None:
    """Refuse the file now if its header line cannot be used (``UnusableHeader``)."""
    end = head.find(b"\n")
    try:
        next(read_csv([head[: end + 1] if end >= 0 else head], encoding=encoding), None)
    except ImportFileError as error:
        raise UnusableHeader(error) from error


def chunk_associated_data(import_id: str, seq: int) -> bytes:
    """What a chunk's seal is bound to: its import and its place in the file."""
    return f"decision-import-chunk:{import_id}:{seq}".encode()


def context_of(caller: Caller, audit: AuditDraft) -> dict[str, Any]:
    """The caller as authenticated, and what its line events share: no personal data."""
    return {
        "caller": caller.as_document(),
        "audit": {
            "request_id": audit.request_id,
            "participant_id": audit.participant_id,
            "participant_kind": audit.participant_kind,
            "acting_for": audit.acting_for,
            "agent_id": audit.agent_id,
            "case_reference": audit.case_reference,
            "purpose": audit.purpose,
        },
    }


def caller_of(context: dict[str, Any]) -> Caller:
    return Caller.from_document(context["caller"])


def audit_of(context: dict[str, Any], action: str) -> AuditDraft:
    return AuditDraft(action=action, **context["audit"])


def receive(
    session: Session,
    keys: IdentityKeys,
    caller: Caller,
    audit: AuditDraft,
    chunks: Iterable[bytes],
    *,
    file_format: str,
    encoding: str,
    dry_run: bool,
) -> DecisionImport:
    """Store the upload, queued for the worker; refuse a CSV whose header cannot be used.

    The header is checked as soon as its line has arrived, before the rest is read.
    """
    row = DecisionImport(
        id=new_id(),
        prefecture_id=caller.acting_for,
        format=file_format,
        dry_run=dry_run,
        status=ImportStatus.QUEUED,
        encoding=encoding,
        request_id=audit.request_id,
        context=context_of(caller, audit),
    )
    repository.add_import(session, row)
    head = b""
    checked = file_format != "csv"
    pending = bytearray()
    seq = size = newlines = 0
    last = b""
    for chunk in chunks:
        size += len(chunk)
        newlines += chunk.count(b"\n")
        last = chunk[-1:]
        if not checked:
            head += chunk
            if b"\n" in head or len(head) > _HEAD_BYTES:
                check_header(head, encoding)
                checked, head = True, b""
        pending += chunk
        while len(pending) >= STORED_CHUNK_BYTES:
            _store(session, keys, row.id, seq, bytes(pending[:STORED_CHUNK_BYTES]))
            del pending[:STORED_CHUNK_BYTES]
            seq += 1
    if not checked:
        check_header(head, encoding)
    if pending:
        _store(session, keys, row.id, seq, bytes(pending))
    row.size_bytes = size
    row.lines_total = newlines + (1 if last not in {b"", b"\n"} else 0)
    session.flush()
    return row


def _store(session: Session, keys: IdentityKeys, import_id: str, seq: int, data: bytes) -> None:
    sealed = keys.cipher.encrypt(data, chunk_associated_data(import_id, seq))
    repository.add_chunk(session, import_id, seq, sealed)


def open_chunk(keys: IdentityKeys, import_id: str, seq: int, sealed: Sealed) -> bytes:
    """One stored chunk, opened (``IdentityCryptoError`` if it cannot be)."""
    return keys.cipher.decrypt(sealed, chunk_associated_data(import_id, seq))
