"""Replacing a fund's subscription set from an upload, and finding who holds a file.

An upload is the fund's whole current set (as the Belgian crossroads bank's reference
directory is kept): it replaces the previous one in one transaction. A file with any
malformed line is refused as a whole, with every bad line reported, and the previous
set stays in force: a fund never loses its subscriptions to a half-read file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from connectors.importers import (
    ImportFileError,
    LineError,
    read_csv,
    read_ndjson,
    validation_errors,
)
from gateway.errors import FieldError, GatewayError, InvalidField
from gateway.identities.service import identifier_indexes
from gateway.storage.base import utcnow
from gateway.storage.ids import new_id
from gateway.subscriptions import repository
from gateway.subscriptions.models import SubscriptionUpload
from gateway.subscriptions.schemas import (
    CSV_COLUMNS,
    REQUIRED_CSV_COLUMNS,
    SubscriptionFormat,
    SubscriptionIn,
    SubscriptionSetOut,
    csv_document,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlalchemy.orm import Session

    from connectors.importers import RawRecord
    from gateway.auth.caller import Caller
    from gateway.identities.service import IdentityKeys

WRITE_EVERY = 5000  # rows buffered before a bulk insert
MAX_REPORTED = 1000  # bad lines named in the refusal; the count says how many in all


class InvalidLines(GatewayError):
    status = 422
    slug = "invalid-lines"
    title = "Invalid lines"


def _records(file_format: SubscriptionFormat, chunks: Iterable[bytes]) -> Iterator[RawRecord]:
    if file_format == SubscriptionFormat.CSV:
        return read_csv(
            chunks, columns=CSV_COLUMNS, required=REQUIRED_CSV_COLUMNS, to_document=csv_document
        )
    return read_ndjson(chunks)


def _line_errors(line: int, errors: list[LineError]) -> list[FieldError]:
    return [FieldError(e.field, e.rule, e.message, line=line) for e in errors]


def _parsed(
    file_format: SubscriptionFormat, chunks: Iterable[bytes]
) -> Iterator[tuple[SubscriptionIn | None, list[FieldError]]]:
    """Each line's subscription, or the errors that refuse it."""
    try:
        for record in _records(file_format, chunks):
            if record.document is None:
                yield None, _line_errors(record.line, record.errors)
                continue
            try:
                yield SubscriptionIn.model_validate(record.document), []
            except ValidationError as error:
                yield None, _line_errors(record.line, validation_errors(error, "line"))
    except ImportFileError as error:
        raise InvalidField("body", "csv-header", str(error)) from error


def _indexes(keys: IdentityKeys, item: SubscriptionIn) -> list[str]:
    ssn = item.social_security_number
    return identifier_indexes(keys, item.agdref_number, ssn.number if ssn else None)


def replace_set(
    session: Session,
    keys: IdentityKeys,
    caller: Caller,
    file_format: SubscriptionFormat,
    chunks: Iterable[bytes],
    request_id: str | None,
    *,
    allow_empty: bool = False,
) -> SubscriptionUpload:
    """Replace the fund's set with the upload's; raise InvalidLines naming every bad line.

    An upload without a single line ends every subscription only if ``allow_empty`` says
    so; otherwise it is refused (an empty file is more often a failed export than a fund
    that holds no file any more).
    """
    fund_id = caller.acting_for
    upload = SubscriptionUpload(
        id=new_id(),
        fund_id=fund_id,
        file_format=str(file_format),
        lines=0,
        people=0,
        identifiers=0,
        request_id=request_id,
        created_at=utcnow(),
    )
    repository.clear(session, caller)
    pending: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    bad_lines = 0
    for item, refused in _parsed(file_format, chunks):
        upload.lines += 1
        if item is None:
            bad_lines += 1
            errors += refused if len(errors) < MAX_REPORTED else []
        if item is None or bad_lines:
            continue  # once the upload is refused, only look for more bad lines
        upload.people += 1
        for index in _indexes(keys, item):
            upload.identifiers += 1
            pending.append(
                {
                    "fund_id": fund_id,
                    "blind_index": index,
                    "valid_from": item.valid_from,
                    "valid_until": item.valid_until,
                    "upload_id": upload.id,
                }
            )
        if len(pending) >= WRITE_EVERY:
            repository.add(session, pending)
            pending = []
    if bad_lines:
        shown = errors[:MAX_REPORTED]
        raise InvalidLines(
            f"{bad_lines} of {upload.lines} lines are malformed; nothing was stored and the "
            "previous subscriptions stay in force"
            + (f" (the first {len(shown)} errors are listed)" if len(shown) < bad_lines else ""),
            errors=shown,
        )
    if upload.lines == 0 and not allow_empty:
        raise InvalidField(
            "body",
            "empty-upload",
            "the upload has no line; to end every subscription, say allow_empty=true. The "
            "previous subscriptions stay in force",
        )
    repository.add(session, pending)
    session.add(upload)
    session.flush()
    return upload


def current_set(session: Session, caller: Caller) -> SubscriptionSetOut:
    """Counts of the caller's current set and the upload that made it."""
    upload = repository.latest_upload(session, caller)
    open_periods = repository.open_periods(session, caller)
    return SubscriptionSetOut(
        fund_id=caller.acting_for,
        upload_id=upload.id if upload else None,
        file_format=upload.file_format if upload else None,
        lines=upload.lines if upload else 0,
        people=upload.people if upload else 0,
        identifiers=upload.identifiers if upload else 0,
        open_periods=open_periods,
        uploaded_at=upload.created_at if upload else None,
    )
